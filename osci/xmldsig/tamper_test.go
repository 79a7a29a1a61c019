package xmldsig

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/osci/keystore"
)

// freshCapture loads one capture with a freshly parsed document, so tests
// may modify it.
func freshCapture(t *testing.T, name string) *capture {
	t.Helper()
	for _, c := range loadCaptures(t) {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no capture %s", name)
	return nil
}

func verifyCapture(t *testing.T, c *capture, mutate func(parts map[string][]byte)) (*Result, error) {
	t.Helper()
	parts := map[string][]byte{}
	for k, v := range c.parts {
		parts[k] = bytes.Clone(v)
	}
	if mutate != nil {
		mutate(parts)
	}
	sig := clientSignature(t, c.doc)
	req, cids := signedParts(c.doc, parts)
	return Verify(sig, VerifyOptions{Key: aliceKey(t), ResolveCID: bytesResolver(parts), Required: req, RequiredCIDs: cids})
}

func aliceKey(t testing.TB) any {
	certs, err := keystore.LoadCertificatesFile(filepath.Join(filepath.Dir(capturesDir(t)), "certs", "alice_signature_4096.cer"))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].PublicKey
}

// failedRefs returns the URIs of the references that did not verify.
func failedRefs(res *Result) []string {
	var out []string
	for _, r := range res.References {
		if !r.OK {
			out = append(out, r.URI)
		}
	}
	return out
}

func expect(t *testing.T, err error, kind error, res *Result, failed ...string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("got %v, want %v", err, kind)
	}
	if res != nil && strings.Join(failedRefs(res), " ") != strings.Join(failed, " ") {
		t.Errorf("failed references %v, want %v", failedRefs(res), failed)
	}
}

func TestUntamperedBaseline(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	if _, err := verifyCapture(t, c, nil); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedHeaderBlock(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	ch := c.doc.FindElement("//osci:ControlBlock/osci:Challenge")
	if ch.Text()[0] == 'Z' {
		ch.SetText("Y" + ch.Text()[1:])
	} else {
		ch.SetText("Z" + ch.Text()[1:])
	}
	res, err := verifyCapture(t, c, nil)
	expect(t, err, ErrDigestMismatch, res, "#controlblock")
	if !res.SignatureValueOK {
		t.Error("SignedInfo was not touched, its signature must still verify")
	}
}

func TestTamperedBody(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	b64 := c.doc.FindElement("//osci:ContentContainer//osci:Base64Content")
	b64.SetText(strings.Replace(b64.Text(), "SW50", "SW51", 1))
	res, err := verifyCapture(t, c, nil)
	expect(t, err, ErrDigestMismatch, res, "#body")
}

func TestTamperedAttachment(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	res, err := verifyCapture(t, c, func(p map[string][]byte) { p["attachment-a.txt"][3] ^= 1 })
	expect(t, err, ErrDigestMismatch, res, "cid:attachment-a.txt")
	// The encrypted attachment is signed as transmitted: one flipped
	// ciphertext bit is caught before any decryption.
	c = freshCapture(t, "storeDelivery-a.plain")
	res, err = verifyCapture(t, c, func(p map[string][]byte) { p["attachment-a-enc.txt"][20] ^= 0x80 })
	expect(t, err, ErrDigestMismatch, res, "cid:attachment-a-enc.txt")
}

func TestMissingAttachment(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	res, err := verifyCapture(t, c, func(p map[string][]byte) { delete(p, "attachment-a.txt") })
	expect(t, err, ErrUnresolved, res, "cid:attachment-a.txt")
}

func TestDuplicateIDRejected(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	cb := c.doc.FindElement("//osci:ControlBlock")
	c.doc.FindElement("//soap:Body").AddChild(cb.Copy())
	_, err := verifyCapture(t, c, nil)
	expect(t, err, ErrDuplicateID, nil)
}

// Classic wrapping: the signed Body is moved into a header and a forged Body
// takes its place. Every digest still matches (the original is intact), but
// the Body the receiver processes is not the signed one.
func TestWrappedBodyRejected(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	env := c.doc.FindElement("./soap:Envelope")
	body := env.FindElement("./soap:Body")
	header := env.FindElement("./soap:Header")
	env.RemoveChild(body)
	wrapper := header.CreateElement("osci:Wrapper")
	wrapper.AddChild(body)
	forged := env.CreateElement("soap:Body")
	forged.CreateElement("osci:ContentPackage").CreateText("forged order")
	req := []*etree.Element{forged}
	res, err := Verify(clientSignature(t, c.doc), VerifyOptions{Key: aliceKey(t), ResolveCID: bytesResolver(c.parts), Required: req})
	expect(t, err, ErrNotCovered, res)
	if !res.SignatureValueOK {
		t.Error("signature value should still verify; only coverage fails")
	}
	// Same attack keeping Id="body" on the forgery: duplicate Id.
	forged.CreateAttr("Id", "body")
	_, err = Verify(clientSignature(t, c.doc), VerifyOptions{Key: aliceKey(t), ResolveCID: bytesResolver(c.parts), Required: req})
	expect(t, err, ErrDuplicateID, nil)
}

// An attacker adds an unsigned header block (a second order); a receiver
// that requires every header to be covered refuses the message.
func TestInjectedHeaderRejected(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	header := c.doc.FindElement("./soap:Envelope/soap:Header")
	header.AddChild(c.doc.FindElement("//osci:storeDelivery").Copy())
	header.ChildElements()[len(header.ChildElements())-1].RemoveAttr("Id")
	res, err := verifyCapture(t, c, nil)
	expect(t, err, ErrNotCovered, res)
	c = freshCapture(t, "storeDelivery-a.plain")
	sig := clientSignature(t, c.doc)
	_, err = Verify(sig, VerifyOptions{Key: aliceKey(t), ResolveCID: bytesResolver(c.parts), RequiredCIDs: []string{"unsigned.bin"}})
	expect(t, err, ErrNotCovered, nil)
}

func TestTamperedSignatureValue(t *testing.T) {
	c := freshCapture(t, "storeDelivery-c.plain") // RSA-PSS
	sv := c.doc.FindElement("//osci:ClientSignature/ds:Signature/ds:SignatureValue")
	text := []byte(sv.Text())
	if text[10] == 'A' {
		text[10] = 'B'
	} else {
		text[10] = 'A'
	}
	sv.SetText(string(text))
	res, err := verifyCapture(t, c, nil)
	expect(t, err, ErrSignatureInvalid, res)
	if res.SignatureValueOK {
		t.Error("SignatureValueOK after tampering")
	}
}

func TestTamperedSignedInfo(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	// Re-point a reference's digest, as an attacker would after changing
	// the referenced element.
	dv := c.doc.FindElement("//osci:ClientSignature/ds:Signature/ds:SignedInfo/ds:Reference[@URI='#body']/ds:DigestValue")
	dv.SetText("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	res, err := verifyCapture(t, c, nil)
	expect(t, err, ErrSignatureInvalid, res, "#body")
	expect(t, err, ErrDigestMismatch, res, "#body")
}

func TestWrongKey(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	certs, err := keystore.LoadCertificatesFile(filepath.Join(filepath.Dir(capturesDir(t)), "certs", "bob_cipher_4096.cer"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(clientSignature(t, c.doc), VerifyOptions{Key: certs[0].PublicKey, ResolveCID: bytesResolver(c.parts)})
	expect(t, err, ErrSignatureInvalid, nil)
	_, err = Verify(clientSignature(t, c.doc), VerifyOptions{ResolveCID: bytesResolver(c.parts)})
	expect(t, err, ErrKey, nil)
}

func TestUnsupportedConstructs(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	ref := c.doc.FindElement("//osci:ClientSignature/ds:Signature/ds:SignedInfo/ds:Reference[@URI='#body']")
	ref.SelectAttr("URI").Value = "#xpointer(id('body'))"
	res, err := verifyCapture(t, c, nil)
	expect(t, err, ErrUnsupported, res, "#xpointer(id('body'))")

	c = freshCapture(t, "storeDelivery-a.plain")
	tr := c.doc.FindElement("//osci:ClientSignature/ds:Signature/ds:SignedInfo/ds:Reference[@URI='#body']/ds:Transforms/ds:Transform")
	tr.SelectAttr("Algorithm").Value = "http://www.w3.org/2001/10/xml-exc-c14n#"
	res, err = verifyCapture(t, c, nil)
	expect(t, err, ErrUnsupported, res, "#body")

	c = freshCapture(t, "storeDelivery-a.plain")
	sm := c.doc.FindElement("//osci:ClientSignature/ds:Signature/ds:SignedInfo/ds:SignatureMethod")
	sm.CreateElement("ds:HMACOutputLength").SetText("8")
	_, err = verifyCapture(t, c, nil)
	expect(t, err, ErrUnsupported, nil)
}

func TestDuplicateReferenceRefused(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	si := c.doc.FindElement("//osci:ClientSignature/ds:Signature/ds:SignedInfo")
	si.AddChild(si.FindElement("./ds:Reference[@URI='#body']").Copy())
	_, err := verifyCapture(t, c, nil)
	expect(t, err, ErrMalformed, nil)
}

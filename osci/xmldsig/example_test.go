package xmldsig_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/wire"
	"github.com/xagw/xagw/osci/xmldsig"
)

// Verify the ClientSignature of a received OSCI message: resolve the
// signer's certificate through KeyInfo, resolve cid: references to the MIME
// parts as transmitted, require the Body and the attachments to be covered,
// and print the per-reference result.
func ExampleVerify() {
	dir := sharedpath.MustFind("osci/captures")
	f, _ := os.Open(filepath.Join(dir, "storeDelivery-c.plain.wire"))
	defer f.Close()
	r, _ := wire.NewReader(f, wire.Limits{})
	parts := map[string][]byte{}
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		parts[p.ContentID()], _ = io.ReadAll(p)
	}
	doc, err := safexml.Parse(parts[wire.RootContentID], safexml.Limits{})
	if err != nil {
		panic(err)
	}
	sig := doc.FindElement("//osci:ClientSignature/ds:Signature")
	parsed, _ := xmldsig.ParseSignature(sig)
	idx, _ := xmldsig.NewIDIndex(doc.Root())
	cert, err := xmldsig.CertificateByID(idx, parsed.KeyInfo.RetrievalMethods[0].URI)
	if err != nil {
		panic(err)
	}
	// (check cert with keystore.Policy before trusting it)
	res, err := xmldsig.Verify(sig, xmldsig.VerifyOptions{
		Key: cert.PublicKey,
		ResolveCID: func(id string) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(parts[id])), nil
		},
		Required:     doc.FindElements("//soap:Body"),
		RequiredCIDs: []string{"attachment-c.txt"},
	})
	fmt.Println("signature:", parsed.SignatureMethod, res.SignatureValueOK, err)
	for _, ref := range res.References {
		fmt.Println(ref.URI, ref.OK)
	}
	// Output:
	// signature: http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1 true <nil>
	// #qualityoftimestamp_creation true
	// #storedelivery true
	// #controlblock true
	// #nonintermediarycertificates true
	// #qualityoftimestamp_reception true
	// cid:attachment-c.txt true
	// #featuredescription true
	// #desiredlanguages true
	// #body true
}

// Sign header blocks, the Body and an attachment in one ds:Signature.
func ExampleSigner_Sign() {
	doc, _ := safexml.Parse([]byte(`<soap:Envelope xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:osci="http://www.osci.de/2002/04/osci" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">`+
		`<soap:Header><osci:ControlBlock Id="controlblock"/><osci:ClientSignature Id="clientsignature"/></soap:Header>`+
		`<soap:Body Id="body">content</soap:Body></soap:Envelope>`), safexml.Limits{})
	idx, _ := xmldsig.NewIDIndex(doc.Root())
	d := sha256.Sum256([]byte("example key"))
	key, _ := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:]) // an HSM's crypto.Signer fits here
	attachment := []byte("attachment bytes as transmitted")

	signer := &xmldsig.Signer{Key: key} // default method for EC keys: ecdsa-sha256
	sig, err := signer.Sign(idx.Lookup("clientsignature"), []xmldsig.Reference{
		{Element: idx.Lookup("controlblock")},
		{Element: idx.Lookup("body")},
		{URI: "cid:att.bin", Data: bytes.NewReader(attachment)},
	}, xmldsig.RetrievalMethodKeyInfo("#originator_signature_1"))
	if err != nil {
		panic(err)
	}
	_, err = xmldsig.Verify(sig, xmldsig.VerifyOptions{
		Key:          key.Public(),
		ResolveCID:   func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(attachment)), nil },
		Required:     []*etree.Element{idx.Lookup("controlblock"), idx.Lookup("body")},
		RequiredCIDs: []string{"att.bin"},
	})
	fmt.Println(err)
	// Output: <nil>
}

// Sign as bytes for a message written by hand (a composer that writes each
// block itself), and verify with the signer resolved from KeyInfo while
// Verify parses the signature (KeyFrom).
func ExampleSigner_SignXML() {
	const envelope = `<soap:Envelope xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:osci="http://www.osci.de/2002/04/osci" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Header><osci:ControlBlock Id="controlblock"></osci:ControlBlock><osci:ClientSignature Id="clientsignature">%s</osci:ClientSignature></soap:Header>` +
		`<soap:Body Id="body">content</soap:Body></soap:Envelope>`
	doc, _ := safexml.Parse([]byte(fmt.Sprintf(envelope, "")), safexml.Limits{})
	idx, _ := xmldsig.NewIDIndex(doc.Root())
	d := sha256.Sum256([]byte("example key"))
	key, _ := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])

	sigXML, err := (&xmldsig.Signer{Key: key}).SignXML(idx.Lookup("clientsignature"), []xmldsig.Reference{
		{Element: idx.Lookup("controlblock")},
		{Element: idx.Lookup("body")},
	}, "#originator_signature_1")
	if err != nil {
		panic(err)
	}
	// The receiver's side: the message with the signature written in.
	received, _ := safexml.Parse([]byte(fmt.Sprintf(envelope, sigXML)), safexml.Limits{})
	ridx, _ := xmldsig.NewIDIndex(received.Root())
	res, err := xmldsig.Verify(received.FindElement("//osci:ClientSignature/ds:Signature"), xmldsig.VerifyOptions{
		KeyFrom: func(s *xmldsig.Signature) (crypto.PublicKey, error) {
			if len(s.KeyInfo.RetrievalMethods) != 1 || s.KeyInfo.RetrievalMethods[0].URI != "#originator_signature_1" {
				return nil, fmt.Errorf("unknown signer")
			}
			return key.Public(), nil // (the certificate element it names, checked by a Policy)
		},
		Required: []*etree.Element{ridx.Lookup("controlblock"), ridx.Lookup("body")},
	})
	fmt.Println(res.SignatureValueOK, len(res.References), err)
	// Output: true 2 <nil>
}

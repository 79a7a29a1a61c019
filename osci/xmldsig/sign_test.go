package xmldsig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
)

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKeys   map[string]*ecdsa.PrivateKey
)

// testKeys are generated once per test binary.
func testKeys(t testing.TB) (*rsa.PrivateKey, map[string]*ecdsa.PrivateKey) {
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		ecKeys = map[string]*ecdsa.PrivateKey{}
		for name, c := range map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()} {
			if ecKeys[name], err = ecdsa.GenerateKey(c, rand.Reader); err != nil {
				panic(err)
			}
		}
	})
	return rsaKey, ecKeys
}

// envelope is a synthetic OSCI-like message in the reference namespace
// layout (header blocks and Body re-declare the envelope namespaces).
const envelope = `<?xml version="1.0" encoding="UTF-8"?>

<soap:Envelope xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:osci="http://www.osci.de/2002/04/osci" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Header><osci:ControlBlock xmlns:osci="http://www.osci.de/2002/04/osci" Id="controlblock" SequenceNumber="0" soap:actor="http://schemas.xmlsoap.org/soap/actor/next"><osci:Challenge>X1sCKupbT05waw==</osci:Challenge></osci:ControlBlock><osci:ClientSignature Id="clientsignature"></osci:ClientSignature><osci:storeDelivery Id="storedelivery" xml:lang="de"><osci:Subject>Tür &amp; Tor &lt;ok&gt; "q"</osci:Subject></osci:storeDelivery></soap:Header><soap:Body Id="body"><osci:ContentPackage><osci:ContentContainer Id="contentcontainer0"><osci:Content><osci:Base64Content Id="content0">SW50ZXJvcCAoYSk6IHNpZ25lZCBpbmxpbmUg
Y29udGVudC4=</osci:Base64Content></osci:Content><osci:Content Id="content1" href="cid:attachment-a.txt"></osci:Content></osci:ContentContainer></osci:ContentPackage></soap:Body></soap:Envelope>`

var attachment = []byte("Interop (a): unencrypted attachment bytes.")

func parseString(t testing.TB, s string) *etree.Document {
	t.Helper()
	doc, err := safexml.Parse([]byte(s), safexml.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// signEnvelope signs the synthetic envelope's header blocks, Body and
// attachment as a ClientSignature, and the container's contents as a
// content signature inside the container.
func signEnvelope(t testing.TB, key crypto.Signer, method string) *etree.Document {
	t.Helper()
	doc := parseString(t, envelope)
	idx, err := NewIDIndex(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	container := idx.Lookup("contentcontainer0")
	cs := &Signer{Key: key, SignatureMethod: method}
	// The content signature goes first in the container, as the reference
	// places it.
	sig, err := cs.Sign(container, []Reference{
		{Element: idx.Lookup("content0"), Transforms: []string{TransformBase64}},
		{Element: idx.Lookup("content1")},
		{URI: "cid:attachment-a.txt", Data: bytes.NewReader(attachment)},
	}, RetrievalMethodKeyInfo("#originator_signature_x"))
	if err != nil {
		t.Fatal(err)
	}
	container.RemoveChild(sig)
	container.InsertChildAt(0, sig)

	client := &Signer{Key: key, SignatureMethod: method}
	if _, err := client.Sign(idx.Lookup("clientsignature"), []Reference{
		{Element: idx.Lookup("storedelivery")},
		{URI: "cid:attachment-a.txt", Data: bytes.NewReader(attachment)},
		{Element: idx.Lookup("controlblock")},
		{Element: idx.Lookup("body")},
	}, RetrievalMethodKeyInfo("#originator_signature_x")); err != nil {
		t.Fatal(err)
	}
	return doc
}

func serialize(t testing.TB, doc *etree.Document) []byte {
	t.Helper()
	doc.WriteSettings.CanonicalEndTags = true
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func verifyEnvelope(t testing.TB, doc *etree.Document, pub crypto.PublicKey, legacy bool) error {
	t.Helper()
	parts := map[string][]byte{"attachment-a.txt": attachment}
	client := clientSignature(t, doc)
	req, _ := signedParts(doc, nil)
	if _, err := Verify(client, VerifyOptions{Key: pub, ResolveCID: bytesResolver(parts), Required: req, RequiredCIDs: []string{"attachment-a.txt"}, AllowLegacy: legacy}); err != nil {
		return err
	}
	content := doc.FindElement("//osci:ContentContainer/ds:Signature")
	_, err := Verify(content, VerifyOptions{Key: pub, ResolveCID: bytesResolver(parts), AllowLegacy: legacy,
		Required: []*etree.Element{doc.FindElement("//osci:Base64Content"), doc.FindElement("//osci:Content[@href]")}})
	return err
}

func TestSignVerifyRoundTrip(t *testing.T) {
	rk, eks := testKeys(t)
	cases := []struct {
		method string
		key    crypto.Signer
	}{
		{"", rk}, // default rsa-sha256
		{RSASHA256, rk}, {RSASHA384, rk}, {RSASHA512, rk},
		{RSAPSSSHA256, rk}, {RSAPSSSHA384, rk}, {RSAPSSSHA512, rk}, {RSAPSSSHA3_256, rk},
		{"", eks["P-256"]}, {ECDSASHA256, eks["P-256"]}, {ECDSASHA384, eks["P-384"]}, {ECDSASHA512, eks["P-521"]},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			doc := signEnvelope(t, c.key, c.method)
			if err := verifyEnvelope(t, doc, c.key.Public(), false); err != nil {
				t.Fatalf("in memory: %v", err)
			}
			wire := serialize(t, doc)
			if err := verifyEnvelope(t, parseString(t, string(wire)), c.key.Public(), false); err != nil {
				t.Fatalf("after serialisation: %v", err)
			}
			// Self-closing empty elements canonicalise the same way.
			doc.WriteSettings.CanonicalEndTags = false
			short, _ := doc.WriteToBytes()
			if err := verifyEnvelope(t, parseString(t, string(short)), c.key.Public(), false); err != nil {
				t.Fatalf("self-closing form: %v", err)
			}
			want := c.method
			if want == "" {
				want = RSASHA256
				if _, ok := c.key.(*ecdsa.PrivateKey); ok {
					want = ECDSASHA256
				}
			}
			if sm := doc.FindElement("//ds:SignatureMethod").SelectAttrValue("Algorithm", ""); sm != want {
				t.Errorf("SignatureMethod %s, want %s", sm, want)
			}
		})
	}
}

// The output has the reference layout: one line per SignedInfo element, no
// Transforms for cid: references, SignatureValue in 76-column lines.
func TestSignedInfoLayout(t *testing.T) {
	rk, _ := testKeys(t)
	doc := signEnvelope(t, rk, "")
	out := string(serialize(t, doc))
	start := strings.Index(out, `<osci:ClientSignature Id="clientsignature"><ds:Signature><ds:SignedInfo>`)
	if start < 0 {
		t.Fatal("no ClientSignature/ds:Signature/ds:SignedInfo")
	}
	want := "<ds:SignedInfo>\n" +
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></ds:CanonicalizationMethod>` + "\n" +
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"></ds:SignatureMethod>` + "\n" +
		`<ds:Reference URI="#storedelivery">` + "\n<ds:Transforms>\n" +
		`<ds:Transform Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"></ds:Transform>` + "\n</ds:Transforms>\n" +
		`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"></ds:DigestMethod>` + "\n<ds:DigestValue>"
	if got := out[start+len(`<osci:ClientSignature Id="clientsignature"><ds:Signature>`):]; !strings.HasPrefix(got, want) {
		t.Errorf("layout:\n%s", got[:min(len(got), len(want)+40)])
	}
	if !strings.Contains(out, "<ds:Reference URI=\"cid:attachment-a.txt\">\n<ds:DigestMethod") {
		t.Error("cid: reference should have no Transforms")
	}
	// 256 bytes → 344 characters: four full lines and a last one of 40.
	sv := doc.FindElement("//osci:ClientSignature//ds:SignatureValue").Text()
	lines := strings.Split(sv, "\n")
	if len(lines) != 5 || len(lines[0]) != 76 || len(lines[4]) != 40 {
		t.Errorf("SignatureValue lines %q", lines)
	}
}

// Signing goes through crypto.Signer only, as an HSM would provide it.
type hsmSigner struct{ inner crypto.Signer }

func (h hsmSigner) Public() crypto.PublicKey { return h.inner.Public() }
func (h hsmSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return h.inner.Sign(r, d, o)
}

func TestSignThroughOpaqueSigner(t *testing.T) {
	rk, eks := testKeys(t)
	for _, key := range []crypto.Signer{hsmSigner{rk}, hsmSigner{eks["P-384"]}} {
		doc := signEnvelope(t, key, "")
		if err := verifyEnvelope(t, doc, key.Public(), false); err != nil {
			t.Fatal(err)
		}
	}
	doc := signEnvelope(t, hsmSigner{rk}, RSAPSSSHA256)
	if err := verifyEnvelope(t, doc, rk.Public(), false); err != nil {
		t.Fatal(err)
	}
}

func TestSignRefusals(t *testing.T) {
	rk, eks := testKeys(t)
	doc := parseString(t, envelope)
	idx, _ := NewIDIndex(doc.Root())
	parent := idx.Lookup("clientsignature")
	refs := []Reference{{Element: idx.Lookup("body")}}
	for _, m := range []string{RSASHA1, RSAMD5} {
		if _, err := (&Signer{Key: rk, SignatureMethod: m}).Sign(parent, refs, nil); !errors.Is(err, ErrLegacyAlgorithm) {
			t.Errorf("%s: %v", m, err)
		}
	}
	if _, err := (&Signer{Key: rk, DigestMethod: DigestSHA1}).Sign(parent, refs, nil); !errors.Is(err, ErrLegacyAlgorithm) {
		t.Errorf("sha1 digest: %v", err)
	}
	if _, err := (&Signer{Key: eks["P-256"], SignatureMethod: RSASHA256}).Sign(parent, refs, nil); !errors.Is(err, ErrKey) {
		t.Errorf("EC key, RSA method: %v", err)
	}
	if _, err := (&Signer{Key: rk}).Sign(parent, []Reference{{Element: idx.Lookup("body"), URI: "#other"}}, nil); !errors.Is(err, ErrUnresolved) {
		t.Errorf("URI/element mismatch: %v", err)
	}
	// A reference covering the signature's own place would break on
	// verification; it needs the enveloped-signature transform.
	if _, err := (&Signer{Key: rk}).Sign(parent, []Reference{{Element: idx.Lookup("clientsignature")}}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("self-covering reference: %v", err)
	}
	if _, err := (&Signer{Key: rk}).Sign(parent, []Reference{{Element: idx.Lookup("body")}, {Element: idx.Lookup("body")}}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("same reference twice: %v", err)
	}
	if len(parent.ChildElements()) != 0 {
		t.Error("failed Sign left elements behind")
	}
	other := parseString(t, envelope)
	otherIdx, _ := NewIDIndex(other.Root())
	if _, err := (&Signer{Key: rk}).Sign(parent, []Reference{{Element: otherIdx.Lookup("body")}}, nil); !errors.Is(err, ErrUnresolved) {
		t.Errorf("element of another document: %v", err)
	}
}

func TestEnvelopedSignature(t *testing.T) {
	rk, _ := testKeys(t)
	doc := parseString(t, envelope)
	idx, _ := NewIDIndex(doc.Root())
	container := idx.Lookup("contentcontainer0")
	sig, err := (&Signer{Key: rk}).Sign(container, []Reference{{Element: container, Transforms: []string{TransformEnveloped, C14N10}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc = parseString(t, string(serialize(t, doc)))
	sig = doc.FindElement("//osci:ContentContainer/ds:Signature")
	if _, err := Verify(sig, VerifyOptions{Key: rk.Public(), Required: []*etree.Element{doc.FindElement("//osci:ContentContainer")}}); err != nil {
		t.Fatal(err)
	}
	doc.FindElement("//osci:Base64Content").SetText("AAAA")
	if _, err := Verify(sig, VerifyOptions{Key: rk.Public()}); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("tampered: %v", err)
	}
}

// legacySign rewrites a signed envelope's ClientSignature to SHA-1 digests
// and rsa-sha1, as an old sender would have produced it.
func legacySign(t *testing.T, key *rsa.PrivateKey, doc *etree.Document) {
	sig := clientSignature(t, doc)
	idx, _ := NewIDIndex(doc.Root())
	for _, ref := range sig.FindElements("./ds:SignedInfo/ds:Reference") {
		ref.FindElement("./ds:DigestMethod").SelectAttr("Algorithm").Value = DigestSHA1
		uri := ref.SelectAttrValue("URI", "")
		h := sha1.New()
		if strings.HasPrefix(uri, "#") {
			h.Write(Canonicalize(idx.Lookup(uri[1:])))
		} else {
			h.Write(attachment)
		}
		ref.FindElement("./ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(h.Sum(nil)))
	}
	sig.FindElement("./ds:SignedInfo/ds:SignatureMethod").SelectAttr("Algorithm").Value = RSASHA1
	d := sha1.Sum(Canonicalize(sig.FindElement("./ds:SignedInfo")))
	v, err := rsa.SignPKCS1v15(nil, key, crypto.SHA1, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig.FindElement("./ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(v))
}

func TestLegacyAlgorithmsOnlyWhenAllowed(t *testing.T) {
	rk, _ := testKeys(t)
	doc := signEnvelope(t, rk, "")
	legacySign(t, rk, doc)
	parts := map[string][]byte{"attachment-a.txt": attachment}
	sig := clientSignature(t, doc)
	res, err := Verify(sig, VerifyOptions{Key: rk.Public(), ResolveCID: bytesResolver(parts)})
	if !errors.Is(err, ErrLegacyAlgorithm) || res.SignatureValueOK {
		t.Fatalf("SHA-1 accepted by default: %v", err)
	}
	if len(failedRefs(res)) != 4 {
		t.Errorf("every SHA-1 reference must fail, failed %v", failedRefs(res))
	}
	if _, err := Verify(sig, VerifyOptions{Key: rk.Public(), ResolveCID: bytesResolver(parts), AllowLegacy: true}); err != nil {
		t.Fatalf("with AllowLegacy: %v", err)
	}
}

func TestECDSASignatureEncoding(t *testing.T) {
	_, eks := testKeys(t)
	doc := signEnvelope(t, eks["P-521"], ECDSASHA512)
	s, err := ParseSignature(clientSignature(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.SignatureValue) != 132 { // 2 × 66 bytes for P-521
		t.Errorf("P-521 r‖s is %d bytes", len(s.SignatureValue))
	}
	// A DER signature (what some libraries wrongly emit) is refused.
	der, _ := ecdsa.SignASN1(rand.Reader, eks["P-521"], make([]byte, 64))
	clientSignature(t, doc).FindElement("./ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(der))
	if err := verifyEnvelope(t, doc, eks["P-521"].Public(), false); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("DER ECDSA value: %v", err)
	}
}

// The line rule reproduces the captures: 512-byte signature values (684
// characters) end with LF, 1218-byte cipher values (1624 characters) and
// certificates do not.
func TestEncodeBase64LinesMatchesCaptures(t *testing.T) {
	c := freshCapture(t, "storeDelivery-a.plain")
	for _, path := range []string{"//ds:SignatureValue", "//ds:X509Certificate", "//xenc:CipherValue", "//osci:Base64Content"} {
		for _, el := range c.doc.FindElements(path) {
			raw, err := decodeBase64(el.Text())
			if err != nil {
				t.Fatal(err)
			}
			if got := EncodeBase64Lines(raw); got != el.Text() {
				t.Errorf("%s: re-encoded text differs", path)
			}
		}
	}
}

func TestCertificateByID(t *testing.T) {
	c := freshCapture(t, "getMessageId.plain")
	idx, err := NewIDIndex(c.doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	s, _ := ParseSignature(clientSignature(t, c.doc))
	cert, err := CertificateByID(idx, s.KeyInfo.RetrievalMethods[0].URI)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cert.PublicKey.(*rsa.PublicKey); !ok || cert.Subject.CommonName != "Alice Signature 4096" {
		t.Errorf("%v", cert.Subject)
	}
	if _, err := CertificateByID(idx, "#controlblock"); !errors.Is(err, ErrUnresolved) {
		t.Errorf("element without certificate: %v", err)
	}
	if _, err := CertificateByID(idx, "#nope"); !errors.Is(err, ErrUnresolved) {
		t.Errorf("unknown Id: %v", err)
	}
	var _ *x509.Certificate = cert
}

package xmlenc

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/wire"
	"github.com/xagw/xagw/osci/xmldsig"
)

func oscDir(t testing.TB) string {
	t.Helper()
	dir, err := sharedpath.Find("osci")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	idsOnce sync.Once
	ids     map[string]*keystore.Identity
)

// identities loads the shared PKCS#12 files once per test binary.
func identities(t testing.TB) map[string]*keystore.Identity {
	idsOnce.Do(func() {
		dir := filepath.Join(oscDir(t), "certs")
		pin, err := keystore.PINFromFile(filepath.Join(dir, "PIN.txt"))
		if err != nil {
			panic(err)
		}
		ids = map[string]*keystore.Identity{}
		for _, n := range []string{"osci_manager_cipher_4096", "bob_cipher_4096", "dave_cipher_4096", "alice_signature_4096"} {
			id, err := keystore.LoadPKCS12File(filepath.Join(dir, n+".p12"), pin)
			if err != nil {
				panic(err)
			}
			ids[n] = id
		}
	})
	return ids
}

func decrypter(t testing.TB, name string) crypto.Decrypter {
	d, err := identities(t)[name].Decrypter()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func parse(t testing.TB, data []byte) *etree.Document {
	t.Helper()
	doc, err := safexml.Parse(data, safexml.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func parseFile(t testing.TB, path string) *etree.Document {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, data)
}

// transportDecrypt does what an intermediary does with a
// transport-encrypted request: stream the MIME parts, spool the ciphertext
// part, unwrap the session key, authenticate and decrypt.
func transportDecrypt(t testing.TB, wirePath string) []byte {
	t.Helper()
	f, err := os.Open(wirePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := wire.NewReader(f, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	xml, err := safexml.ReadAll(root, safexml.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, xml)
	ed, err := ParseEncryptedData(doc.FindElement("./soap:Envelope/soap:Body/xenc:EncryptedData"))
	if err != nil {
		t.Fatal(err)
	}
	if ed.MimeType != "Multipart/Related" || ed.CipherReference != "cid:osci_enc" || ed.Method != DefaultMethod {
		t.Fatalf("transport EncryptedData %+v", ed)
	}
	if len(ed.CipherTransforms) != 1 || ed.CipherTransforms[0] != TransformBase64 {
		t.Errorf("declared transforms %v", ed.CipherTransforms)
	}
	mgr := identities(t)["osci_manager_cipher_4096"]
	if len(ed.Keys) != 1 || !ed.Keys[0].Certificate.Equal(mgr.Certificate) {
		t.Fatal("EncryptedKey is not for the intermediary certificate")
	}
	key, err := ed.Keys[0].Unwrap(decrypter(t, "osci_manager_cipher_4096"), ed.Method.Algorithm, DecryptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	cid, _ := wire.ContentIDFromURL(ed.CipherReference)
	if enc.ContentID() != cid || enc.TransferEncoding() != wire.EncodingBinary {
		t.Fatalf("cipher part %q %q", enc.ContentID(), enc.TransferEncoding())
	}
	// The declared base64 transform does not apply: the part is binary.
	pr, err := OpenStream(ed.Method, key, enc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	out, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTransportDecryptionOfEveryCapture(t *testing.T) {
	dir := filepath.Join(oscDir(t), "captures")
	wires, _ := filepath.Glob(filepath.Join(dir, "*.transport-encrypted.wire"))
	if len(wires) != 13 {
		t.Fatalf("%d transport captures", len(wires))
	}
	for _, w := range wires {
		got := transportDecrypt(t, w)
		want, err := os.ReadFile(strings.TrimSuffix(w, ".wire") + ".inner.mime")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: inner message differs at byte %d", filepath.Base(w), firstDiff(got, want))
		}
	}
}

// readerFor finds the recipient of a content EncryptedKey: the
// RetrievalMethod points to a certificate element in
// NonIntermediaryCertificates; the matching local identity decrypts.
func readerFor(t testing.TB, doc *etree.Document, ek *EncryptedKey) (string, crypto.Decrypter) {
	idx, err := xmldsig.NewIDIndex(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	if ek.RetrievalType != RetrievalTypeX509Data {
		t.Fatalf("RetrievalMethod Type %q", ek.RetrievalType)
	}
	cert, err := xmldsig.CertificateByID(idx, ek.RetrievalURI)
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range identities(t) {
		if id.Certificate.Equal(cert) {
			d, _ := id.Decrypter()
			return name, d
		}
	}
	t.Fatalf("no identity for %s", cert.Subject)
	return "", nil
}

type message struct {
	name  string // e.g. storeDelivery-a.plain or storeDelivery-a.transport-encrypted.inner
	doc   *etree.Document
	parts map[string][]byte
}

var (
	msgsOnce sync.Once
	msgs     []message
)

// messages returns every signed OSCI message of the pack: 13 plain, 13
// inner ones (decrypted from the transport captures by this package).
func messages(t testing.TB) []message {
	msgsOnce.Do(func() { msgs = loadMessages(t) })
	return msgs
}

func loadMessages(t testing.TB) []message {
	dir := filepath.Join(oscDir(t), "captures")
	var out []message
	plain, _ := filepath.Glob(filepath.Join(dir, "*.plain.wire"))
	for _, p := range plain {
		data, _ := os.ReadFile(p)
		out = append(out, mimeMessage(t, strings.TrimSuffix(filepath.Base(p), ".wire"), data))
	}
	trans, _ := filepath.Glob(filepath.Join(dir, "*.transport-encrypted.wire"))
	for _, p := range trans {
		out = append(out, mimeMessage(t, strings.TrimSuffix(filepath.Base(p), ".wire")+".inner", transportDecrypt(t, p)))
	}
	return out
}

func mimeMessage(t testing.TB, name string, data []byte) message {
	r, err := wire.NewReader(bytes.NewReader(data), wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m := message{name: name, parts: map[string][]byte{}}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m.parts[p.ContentID()], _ = io.ReadAll(p)
	}
	m.doc = parse(t, m.parts[wire.RootContentID])
	return m
}

// Content decryption and encrypted attachments, end to end from the wire.
func TestContentDecryptionOfEveryCapture(t *testing.T) {
	dir := filepath.Join(oscDir(t), "captures")
	large, err := os.ReadFile(filepath.Join(oscDir(t), "payloads", "large-1MiB.bin"))
	if err != nil {
		t.Fatal(err)
	}
	containers, attachments, largeSeen := 0, 0, 0
	for _, m := range messages(t) {
		for _, el := range m.doc.FindElements("//osci:ContentPackage/xenc:EncryptedData") {
			ed, err := ParseEncryptedData(el)
			if err != nil {
				t.Fatalf("%s: %v", m.name, err)
			}
			if len(ed.Keys) != 1 || ed.Method != DefaultMethod || ed.MimeType != "text/xml" {
				t.Fatalf("%s %s: %+v", m.name, ed.Id, ed)
			}
			reader, d := readerFor(t, m.doc, ed.Keys[0])
			key, err := ed.Keys[0].Unwrap(d, ed.Method.Algorithm, DecryptOptions{})
			if err != nil {
				t.Fatal(err)
			}
			plain, err := ed.Decrypt(key, DecryptOptions{})
			if err != nil {
				t.Fatal(err)
			}
			short := strings.Split(reader, "_")[0]
			want, err := os.ReadFile(filepath.Join(dir, m.name+"."+ed.Id+"."+short+".ContentContainer.xml"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain, want) {
				t.Errorf("%s %s: container differs at %d", m.name, ed.Id, firstDiff(plain, want))
			}
			containers++

			// Attachments encrypted inside the container: raw key in
			// MgmtData, ciphertext in the MIME part (raw binary despite
			// the declared base64 transform).
			cc := parse(t, plain)
			for _, ael := range cc.FindElements("//xenc:EncryptedData") {
				aed, err := ParseEncryptedData(ael)
				if err != nil {
					t.Fatal(err)
				}
				cid, err := wire.ContentIDFromURL(aed.CipherReference)
				if err != nil || aed.MgmtKey == nil {
					t.Fatalf("attachment EncryptedData %+v", aed)
				}
				part := m.parts[cid]
				r, err := Open(aed.Method, aed.MgmtKey, bytes.NewReader(part), int64(len(part)))
				if err != nil {
					t.Fatalf("%s %s: %v", m.name, cid, err)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatal(err)
				}
				var exp []byte
				if len(got) == len(large) {
					exp = large
					largeSeen++
				} else if exp, err = os.ReadFile(filepath.Join(dir, m.name+"."+ed.Id+"."+short+".attachment."+cid)); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, exp) {
					t.Errorf("%s attachment %s differs", m.name, cid)
				}
				attachments++
			}
		}
	}
	// storeDelivery-a/b/e/f, forwardDelivery, mediateDelivery, each plain
	// and inner; encrypted attachments in a, e (1 MiB) and f.
	if containers != 12 || attachments != 6 || largeSeen != 2 {
		t.Errorf("decrypted %d containers, %d attachments (%d of 1 MiB)", containers, attachments, largeSeen)
	}
}

// Build reproduces the reference elements: parse → Build → serialise gives
// the same bytes as the capture.
func TestBuildReproducesReferenceElements(t *testing.T) {
	dir := filepath.Join(oscDir(t), "captures")
	check := func(name string, orig *etree.Element, ed *EncryptedData) {
		t.Helper()
		built, err := ed.Build()
		if err != nil {
			t.Fatal(err)
		}
		if a, b := serializeEl(orig), serializeEl(built); a != b {
			t.Errorf("%s: built element differs at %d\norig  %.300s\nbuilt %.300s", name, firstDiff([]byte(a), []byte(b)), a[firstDiff([]byte(a), []byte(b)):], b[firstDiff([]byte(a), []byte(b)):])
		}
	}
	outer := parseFile(t, filepath.Join(dir, "storeDelivery-a.transport-encrypted.outer.soap.xml"))
	el := outer.FindElement("//xenc:EncryptedData")
	ed, err := ParseEncryptedData(el)
	if err != nil {
		t.Fatal(err)
	}
	check("transport", el, ed)

	soap := parseFile(t, filepath.Join(dir, "storeDelivery-a.plain.soap.xml"))
	el = soap.FindElement("//osci:ContentPackage/xenc:EncryptedData")
	ed, err = ParseEncryptedData(el)
	if err != nil {
		t.Fatal(err)
	}
	ed.Declare = EnvelopeNamespaces
	check("content", el, ed)

	cc := parseFile(t, filepath.Join(dir, "storeDelivery-a.plain.encdata_0.dave.ContentContainer.xml"))
	el = cc.FindElement("//xenc:EncryptedData")
	ed, err = ParseEncryptedData(el)
	if err != nil {
		t.Fatal(err)
	}
	check("attachment", el, ed)
}

func serializeEl(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.WriteSettings.CanonicalEndTags = true
	doc.WriteSettings.CanonicalText = true
	doc.WriteSettings.CanonicalAttrVal = true
	doc.SetRoot(el.Copy())
	s, _ := doc.WriteToString()
	return s
}

func findMessage(t testing.TB, name string) message {
	for _, m := range messages(t) {
		if m.name == name {
			return m
		}
	}
	t.Fatalf("no message %s", name)
	return message{}
}

// Sign-then-encrypt (storeDelivery-f): decrypt the container and its
// attachment with this package, then verify the container signature over
// the decrypted fragment and the attachment plaintext; the signer's
// certificate comes from the outer message.
func TestSignedContainerInsideEncryptedData(t *testing.T) {
	for _, name := range []string{"storeDelivery-f.plain", "storeDelivery-f.transport-encrypted.inner"} {
		m := findMessage(t, name)
		ed, err := ParseEncryptedData(m.doc.FindElement("//osci:ContentPackage/xenc:EncryptedData"))
		if err != nil {
			t.Fatal(err)
		}
		_, d := readerFor(t, m.doc, ed.Keys[0])
		key, err := ed.Keys[0].Unwrap(d, ed.Method.Algorithm, DecryptOptions{})
		if err != nil {
			t.Fatal(err)
		}
		plain, err := ed.Decrypt(key, DecryptOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cc := parse(t, plain)
		aed, err := ParseEncryptedData(cc.FindElement("//xenc:EncryptedData"))
		if err != nil {
			t.Fatal(err)
		}
		cid, _ := wire.ContentIDFromURL(aed.CipherReference)
		sig := cc.FindElement("//ds:Signature")
		s, _ := xmldsig.ParseSignature(sig)
		outerIdx, _ := xmldsig.NewIDIndex(m.doc.Root())
		cert, err := xmldsig.CertificateByID(outerIdx, s.KeyInfo.RetrievalMethods[0].URI)
		if err != nil {
			t.Fatal(err)
		}
		res, err := xmldsig.Verify(sig, xmldsig.VerifyOptions{
			Key: cert.PublicKey,
			ResolveCID: func(id string) (io.ReadCloser, error) {
				part := m.parts[id]
				r, err := Open(aed.Method, aed.MgmtKey, bytes.NewReader(part), int64(len(part)))
				return io.NopCloser(r), err
			},
			Required:     append(cc.FindElements("//osci:Base64Content"), cc.FindElements("//osci:Content[@href]")...),
			RequiredCIDs: []string{cid},
		})
		if err != nil || len(res.References) != 3 {
			t.Fatalf("%s: %v (%d references)", name, err, len(res.References))
		}
	}
}

func TestWrongRecipientKey(t *testing.T) {
	m := findMessage(t, "storeDelivery-b.plain")
	ed, err := ParseEncryptedData(m.doc.FindElement("//osci:ContentPackage/xenc:EncryptedData"))
	if err != nil {
		t.Fatal(err)
	}
	// For bob; dave's key cannot unwrap it.
	if _, err := ed.Keys[0].Unwrap(decrypter(t, "dave_cipher_4096"), ed.Method.Algorithm, DecryptOptions{}); !errors.Is(err, ErrKeyUnwrap) {
		t.Fatalf("wrong recipient: %v", err)
	}
	key, err := ed.Keys[0].Unwrap(decrypter(t, "bob_cipher_4096"), ed.Method.Algorithm, DecryptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Tampered cipher value, truncated tag, wrong IV length announcement.
	bad := *ed
	bad.CipherValue = bytes.Clone(ed.CipherValue)
	bad.CipherValue[40] ^= 0x10
	if _, err := bad.Decrypt(key, DecryptOptions{}); !errors.Is(err, ErrAuthentication) {
		t.Errorf("tampered: %v", err)
	}
	bad.CipherValue = ed.CipherValue[:len(ed.CipherValue)-4]
	if _, err := bad.Decrypt(key, DecryptOptions{}); !errors.Is(err, ErrAuthentication) {
		t.Errorf("truncated tag: %v", err)
	}
	bad.CipherValue = ed.CipherValue[:20]
	if _, err := bad.Decrypt(key, DecryptOptions{}); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated: %v", err)
	}
	bad = *ed
	bad.Method.IVLength = 16
	if _, err := bad.Decrypt(key, DecryptOptions{}); !errors.Is(err, ErrAuthentication) {
		t.Errorf("IV length 16 announced for 12-byte IV: %v", err)
	}
	// An impossible announcement is refused while parsing.
	el := m.doc.FindElement("//osci:ContentPackage/xenc:EncryptedData").Copy()
	el.FindElement(".//osci128:IvLength").SelectAttr("Value").Value = "13"
	m.doc.FindElement("//osci:ContentPackage").AddChild(el)
	if _, err := ParseEncryptedData(el); !errors.Is(err, ErrIVLength) {
		t.Errorf("IvLength 13: %v", err)
	}
	el.FindElement(".//osci128:IvLength").SelectAttr("Value").Value = "twelve"
	if _, err := ParseEncryptedData(el); !errors.Is(err, ErrIVLength) {
		t.Errorf("IvLength twelve: %v", err)
	}
	var _ *x509.Certificate
}

// Transport encryption composed from the parts this package and osci/wire
// provide, streaming end to end: the inner message (storeDelivery-d, 1 MiB
// attachment) is encrypted for the intermediary while being written, the
// exact Content-Length is known beforehand, and the intermediary's
// decryption yields the inner message byte for byte.
func TestTransportEncryptionRoundTrip(t *testing.T) {
	innerPath := filepath.Join(oscDir(t), "captures", "storeDelivery-d.plain.wire")
	inner, err := os.ReadFile(innerPath)
	if err != nil {
		t.Fatal(err)
	}
	mgr := identities(t)["osci_manager_cipher_4096"]
	key, _ := NewKey(DefaultMethod.Algorithm)
	ek, err := NewEncryptedKey(DefaultKeyTransport, mgr.Certificate, key)
	if err != nil {
		t.Fatal(err)
	}
	ed := &EncryptedData{MimeType: "Multipart/Related", Method: DefaultMethod, Keys: []*EncryptedKey{ek},
		CipherReference: "cid:" + wire.TransportCipherContentID, CipherTransforms: []string{TransformBase64}}
	el, err := ed.Build()
	if err != nil {
		t.Fatal(err)
	}
	doc := parse(t, []byte(`<soap:Envelope xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body/></soap:Envelope>`))
	doc.FindElement("//soap:Body").AddChild(el)
	doc.WriteSettings.CanonicalEndTags = true
	soap, _ := doc.WriteToBytes()
	soap = append([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\r\n"), soap...)

	sealed, err := NewSealReader(DefaultMethod, key, bytes.NewReader(inner))
	if err != nil {
		t.Fatal(err)
	}
	msg := wire.Message{Boundary: wire.NewBoundary(), Parts: []wire.PartSource{
		wire.RootPart(soap),
		wire.TransportCipherPart(sealed, SealedSize(DefaultMethod, int64(len(inner)))),
	}}
	n, err := msg.Len()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "outer.wire")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	written, err := msg.WriteTo(f)
	f.Close()
	if err != nil || written != n {
		t.Fatalf("wrote %d of announced %d: %v", written, n, err)
	}
	if got := transportDecrypt(t, out); !bytes.Equal(got, inner) {
		t.Fatal("inner message changed in transport")
	}
}

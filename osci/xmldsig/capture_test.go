package xmldsig

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/wire"
)

func capturesDir(t testing.TB) string {
	t.Helper()
	dir, err := sharedpath.Find("osci/captures")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// capture is one reference message as the tests need it: the SOAP document
// that carries the ClientSignature, the MIME parts, the metadata.
type capture struct {
	name    string // e.g. "storeDelivery-a.plain"
	base    string // path without extension
	inner   bool   // transport-encrypted: the signed message is the inner one
	doc     *etree.Document
	parts   map[string][]byte // Content-ID → raw body
	meta    map[string]any
	message map[string]any // meta.message or meta.message.inner
}

func loadCaptures(t testing.TB) []*capture {
	t.Helper()
	dir := capturesDir(t)
	wires, _ := filepath.Glob(filepath.Join(dir, "*.wire"))
	if len(wires) != 26 {
		t.Fatalf("%d captures, want 26", len(wires))
	}
	var out []*capture
	for _, w := range wires {
		base := strings.TrimSuffix(w, ".wire")
		c := &capture{name: filepath.Base(base), base: base, inner: strings.HasSuffix(base, ".transport-encrypted")}
		soapFile, mimeFile := base+".soap.xml", w
		if c.inner {
			soapFile, mimeFile = base+".inner.soap.xml", base+".inner.mime"
		}
		c.doc = parseFile(t, soapFile)
		c.parts = readParts(t, mimeFile)
		data, err := os.ReadFile(base + ".meta.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &c.meta); err != nil {
			t.Fatal(err)
		}
		c.message = c.meta["message"].(map[string]any)
		if c.inner {
			c.message = c.message["inner"].(map[string]any)
		}
		out = append(out, c)
	}
	return out
}

func parseFile(t testing.TB, path string) *etree.Document {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := safexml.Parse(data, safexml.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func readParts(t testing.TB, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := wire.NewReader(f, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[string][]byte{}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		parts[p.ContentID()] = body
	}
}

func bytesResolver(parts map[string][]byte) CIDResolver {
	return func(id string) (io.ReadCloser, error) {
		b, ok := parts[id]
		if !ok {
			return nil, fmt.Errorf("no part <%s>", id)
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

func clientSignature(t testing.TB, doc *etree.Document) *etree.Element {
	t.Helper()
	sig := doc.FindElement("./soap:Envelope/soap:Header/osci:ClientSignature/ds:Signature")
	if sig == nil {
		t.Fatal("no ClientSignature")
	}
	return sig
}

// signedParts is what a strict OSCI receiver demands to be covered: every
// header block except the signature itself, the Body, every attachment.
func signedParts(doc *etree.Document, parts map[string][]byte) ([]*etree.Element, []string) {
	var req []*etree.Element
	for _, h := range doc.FindElement("./soap:Envelope/soap:Header").ChildElements() {
		if h.Tag != "ClientSignature" {
			req = append(req, h)
		}
	}
	req = append(req, doc.FindElement("./soap:Envelope/soap:Body"))
	var cids []string
	for id := range parts {
		if id != wire.RootContentID {
			cids = append(cids, id)
		}
	}
	return req, cids
}

func signerKey(t testing.TB, doc *etree.Document, sig *etree.Element) any {
	t.Helper()
	s, err := ParseSignature(sig)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.KeyInfo.RetrievalMethods) != 1 {
		t.Fatalf("KeyInfo %+v", s.KeyInfo)
	}
	idx, err := NewIDIndex(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := CertificateByID(idx, s.KeyInfo.RetrievalMethods[0].URI)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "Alice Signature 4096" {
		t.Fatalf("signer %s", cert.Subject)
	}
	return cert.PublicKey
}

type c14nEntry struct {
	SignatureAt     string `json:"signature_at"`
	SignatureMethod string `json:"SignatureMethod"`
	SignedInfoC14N  string `json:"SignedInfo_c14n"`
	References      []struct {
		URI         string `json:"URI"`
		DigestValue string `json:"DigestValue"`
		C14NInput   string `json:"c14n_input"`
	} `json:"references"`
}

// signatureFor locates the ds:Signature a *.c14n.json entry describes and
// the document it lives in.
func (c *capture) signatureFor(t testing.TB, at string) (*etree.Element, *etree.Document) {
	t.Helper()
	at = strings.Replace(at, "$.message.inner.", "$.message.", 1)
	switch {
	case at == "$.message.client_signature":
		return clientSignature(t, c.doc), c.doc
	case strings.HasPrefix(at, "$.message.containers["):
		var i int
		fmt.Sscanf(at, "$.message.containers[%d]", &i)
		containers := c.doc.FindElements("./soap:Envelope/soap:Body/osci:ContentPackage/osci:ContentContainer")
		return containers[i].FindElement("./ds:Signature"), c.doc
	case strings.HasPrefix(at, "$.message.encrypted_data["):
		doc := parseFile(t, c.decryptedContainerFile(t))
		return doc.Root().FindElement("./ds:Signature"), doc
	}
	t.Fatalf("unknown signature location %s", at)
	return nil, nil
}

// decryptedContainerFile is the ground-truth plaintext of encdata_0.
func (c *capture) decryptedContainerFile(t testing.TB) string {
	ed := c.message["encrypted_data"].([]any)[0].(map[string]any)
	rcpt := ed["recipients"].([]any)[0].(map[string]any)
	dir := filepath.Dir(capturesDir(t))
	return filepath.Join(dir, rcpt["decrypted_file"].(string))
}

func TestC14NMatchesEveryReferenceForm(t *testing.T) {
	entries := 0
	forms := 0
	for _, c := range loadCaptures(t) {
		data, err := os.ReadFile(c.base + ".c14n.json")
		if err != nil {
			t.Fatal(err)
		}
		var list []c14nEntry
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatal(err)
		}
		for _, e := range list {
			entries++
			sig, doc := c.signatureFor(t, e.SignatureAt)
			si := sig.FindElement("./ds:SignedInfo")
			if got := string(Canonicalize(si)); got != e.SignedInfoC14N {
				t.Errorf("%s %s SignedInfo: differs at %d\n got %q\nwant %q", c.name, e.SignatureAt, firstDiff(got, e.SignedInfoC14N), clipStr(got), clipStr(e.SignedInfoC14N))
			}
			forms++
			idx, err := NewIDIndex(doc.Root())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range e.References {
				el := idx.Lookup(strings.TrimPrefix(r.URI, "#"))
				if el == nil {
					t.Fatalf("%s: %s not found", c.name, r.URI)
				}
				forms++
				if got := string(Canonicalize(el)); got != r.C14NInput {
					t.Errorf("%s %s %s: differs at %d", c.name, e.SignatureAt, r.URI, firstDiff(got, r.C14NInput))
				}
			}
		}
	}
	if entries != 36 {
		t.Errorf("%d signatures in the c14n files, want 36", entries)
	}
	t.Logf("%d canonical forms compared", forms)
}

func TestEveryCaptureSignatureVerifies(t *testing.T) {
	sigs := 0
	for _, c := range loadCaptures(t) {
		t.Run(c.name, func(t *testing.T) {
			sig := clientSignature(t, c.doc)
			req, cids := signedParts(c.doc, c.parts)
			res, err := Verify(sig, VerifyOptions{
				Key:          signerKey(t, c.doc, sig),
				ResolveCID:   bytesResolver(c.parts), // ClientSignature: bytes as transmitted
				Required:     req,
				RequiredCIDs: cids,
			})
			if err != nil {
				t.Fatalf("ClientSignature: %v", err)
			}
			compareWithMeta(t, res, c.message["client_signature"].(map[string]any))
			sigs++

			// ContentContainer signatures: cid: means the attachment
			// plaintext (here: unencrypted parts and the ground-truth
			// plaintext of encrypted ones).
			containers, _ := c.message["containers"].([]any)
			for i, ci := range containers {
				for _, sm := range ci.(map[string]any)["signatures"].([]any) {
					sig, _ := c.signatureFor(t, fmt.Sprintf("$.message.containers[%d]", i))
					res, err := Verify(sig, VerifyOptions{Key: signerKey(t, c.doc, clientSignature(t, c.doc)), ResolveCID: bytesResolver(c.parts)})
					if err != nil {
						t.Fatalf("container %d: %v", i, err)
					}
					compareWithMeta(t, res, sm.(map[string]any))
					sigs++
				}
			}
			encrypted, _ := c.message["encrypted_data"].([]any)
			for _, ed := range encrypted {
				rcpt := ed.(map[string]any)["recipients"].([]any)[0].(map[string]any)
				cc := rcpt["ContentContainer"].(map[string]any)
				for _, sm := range cc["signatures"].([]any) {
					sig, _ := c.signatureFor(t, "$.message.encrypted_data[0]")
					plain := map[string][]byte{}
					for _, a := range cc["attachments"].([]any) {
						am := a.(map[string]any)
						id := strings.TrimPrefix(am["href"].(string), "cid:")
						if f, ok := am["decrypted_file"].(string); ok {
							data, err := os.ReadFile(filepath.Join(filepath.Dir(capturesDir(t)), f))
							if err != nil {
								t.Fatal(err)
							}
							plain[id] = data
						} else {
							plain[id] = c.parts[id]
						}
					}
					// The certificate is in the outer message; Ids resolve
					// inside the decrypted fragment.
					res, err := Verify(sig, VerifyOptions{Key: signerKey(t, c.doc, clientSignature(t, c.doc)), ResolveCID: bytesResolver(plain)})
					if err != nil {
						t.Fatalf("signed container inside EncryptedData: %v", err)
					}
					compareWithMeta(t, res, sm.(map[string]any))
					sigs++
				}
			}
		})
	}
	if sigs != 36 {
		t.Errorf("verified %d signatures, want 36 (26 ClientSignatures, 10 container signatures)", sigs)
	}
}

// compareWithMeta checks the per-reference results against the ground truth
// in *.meta.json: same URIs in the same order, same digest values, all ok.
func compareWithMeta(t *testing.T, res *Result, meta map[string]any) {
	t.Helper()
	refs := meta["references"].([]any)
	if len(refs) != len(res.References) || !res.SignatureValueOK {
		t.Fatalf("%d references (meta %d), signature value ok %v", len(res.References), len(refs), res.SignatureValueOK)
	}
	if res.Signature.SignatureMethod != meta["SignatureMethod"] {
		t.Errorf("SignatureMethod %s, meta %s", res.Signature.SignatureMethod, meta["SignatureMethod"])
	}
	for i, r := range refs {
		m := r.(map[string]any)
		got := res.References[i]
		if got.URI != m["URI"] || !got.OK || base64.StdEncoding.EncodeToString(res.Signature.References[i].DigestValue) != m["DigestValue"] || got.DigestMethod != m["DigestMethod"] {
			t.Errorf("reference %d: %+v, meta %v", i, got, m)
		}
	}
}

func firstDiff(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func clipStr(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

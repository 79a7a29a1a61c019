package xmldsig

import (
	"bytes"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
)

// signBothWays signs refs under the element at path in doc twice, once
// with Sign (then serialised as etree writes it with SignXML's settings)
// and once with SignXML, on fresh parses of doc so that the two calls
// cannot see each other's output.
func signBothWays(t testing.TB, doc, path string, refs func(idx *IDIndex) []Reference, keyInfoURI string) (tree, direct []byte, errTree, errDirect error) {
	key, _ := testKeys(t) // PKCS#1 v1.5 is deterministic: equal inputs give equal bytes
	load := func() (*etree.Element, *IDIndex) {
		d, err := safexml.Parse([]byte(doc), safexml.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		idx, err := NewIDIndex(d.Root())
		if err != nil {
			t.Fatal(err)
		}
		parent := d.FindElement(path)
		if parent == nil {
			t.Fatalf("no %s", path)
		}
		return parent, idx
	}
	parent, idx := load()
	var ki *etree.Element
	if keyInfoURI != "" {
		ki = RetrievalMethodKeyInfo(keyInfoURI)
	}
	sig, errTree := (&Signer{Key: key}).Sign(parent, refs(idx), ki)
	if errTree == nil {
		var b bytes.Buffer
		sig.WriteTo(&b, &serialSettings)
		tree = b.Bytes()
	}
	parent, idx = load()
	before := len(parent.Child)
	direct, errDirect = (&Signer{Key: key}).SignXML(parent, refs(idx), keyInfoURI)
	if len(parent.Child) != before {
		t.Fatal("SignXML added to parent")
	}
	return tree, direct, errTree, errDirect
}

// SignXML writes, for every reference kind and namespace context, the
// bytes etree writes for what Sign builds: the same SignedInfo layout, the
// same canonical SignedInfo (hence the same deterministic signature
// value), the same escaping, the ds declaration where ds is not in scope,
// and inherited xml:* attributes in the canonical form.
func TestSignXMLMatchesSign(t *testing.T) {
	cases := []struct {
		name, doc, path, keyInfo string
		refs                     func(idx *IDIndex) []Reference
	}{
		{"envelope: blocks, body, attachment", envelope, "//osci:ClientSignature", "#originator_signature_x", func(idx *IDIndex) []Reference {
			return []Reference{{Element: idx.Lookup("storedelivery")}, {URI: "cid:attachment-a.txt", Data: bytes.NewReader(attachment)},
				{Element: idx.Lookup("controlblock")}, {URI: "#body", Canonical: Canonicalize(idx.Lookup("body"))}}
		}},
		{"container: base64 transform", envelope, "//osci:ContentContainer", "#originator_signature_x", func(idx *IDIndex) []Reference {
			return []Reference{{Element: idx.Lookup("content0"), Transforms: []string{TransformBase64}}, {Element: idx.Lookup("content1")}}
		}},
		{"ds not in scope, default namespace, xml:lang inherited", `<r xmlns="urn:d" xml:lang="de" xml:space="preserve"><b Id="b1" xml:lang="en">t</b><s xml:lang="fr"></s></r>`, "//s", "", func(idx *IDIndex) []Reference {
			return []Reference{{Element: idx.Lookup("b1")}}
		}},
		{"escaped URIs and no KeyInfo", `<r xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><s></s></r>`, "//s", "#a&b<\"c\"\t\n€", func(idx *IDIndex) []Reference {
			return []Reference{{URI: "cid:a b&c<d>\"e\"'f'\tä", Data: strings.NewReader("x")}}
		}},
		{"ds bound elsewhere", `<r xmlns:ds="urn:other"><s></s></r>`, "//s", "#k", func(idx *IDIndex) []Reference {
			return []Reference{{URI: "cid:x", Data: strings.NewReader("eHl6"), Transforms: []string{TransformBase64}}}
		}},
	}
	for _, c := range cases {
		tree, direct, e1, e2 := signBothWays(t, c.doc, c.path, c.refs, c.keyInfo)
		if e1 != nil || e2 != nil {
			t.Fatalf("%s: %v / %v", c.name, e1, e2)
		}
		if !bytes.Equal(tree, direct) {
			t.Fatalf("%s: SignXML differs from Sign:\n tree   %s\n direct %s", c.name, tree, direct)
		}
	}
	// Refusals are the same.
	_, _, e1, e2 := signBothWays(t, envelope, "//osci:ClientSignature", func(idx *IDIndex) []Reference {
		return []Reference{{Element: idx.Lookup("body")}, {Element: idx.Lookup("body")}}
	}, "")
	if e1 == nil || e2 == nil || e1.Error() != e2.Error() {
		t.Fatalf("a URI referenced twice: %v / %v", e1, e2)
	}
}

// FuzzSignXMLMatchesSign: for any reference URI, KeyInfo URI and namespace
// context, SignXML's bytes are etree's serialisation of Sign's element.
func FuzzSignXMLMatchesSign(f *testing.F) {
	f.Add("cid:a b&c.pdf", "#originator_signature_x", "urn:x", "de")
	f.Add("cid:\"<>'\t\r\n", "#\x7f\u00e4\ufffd", "", "")
	f.Add("cid:x", "", "http://www.w3.org/2000/09/xmldsig#", "a&b")
	f.Fuzz(func(t *testing.T, uri, keyInfo, defaultNS, lang string) {
		if !strings.HasPrefix(strings.ToLower(uri), "cid:") {
			uri = "cid:" + uri
		}
		if _, err := contentIDFromURL(uri); err != nil {
			return
		}
		var doc strings.Builder
		doc.WriteString(`<r xmlns="`)
		xmlEscape(&doc, defaultNS)
		doc.WriteString(`" xml:lang="`)
		xmlEscape(&doc, lang)
		doc.WriteString(`"><s></s></r>`)
		if _, err := safexml.Parse([]byte(doc.String()), safexml.Limits{}); err != nil {
			return
		}
		tree, direct, e1, e2 := signBothWays(t, doc.String(), "//s", func(*IDIndex) []Reference {
			return []Reference{{URI: uri, Data: strings.NewReader("data")}}
		}, keyInfo)
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("Sign: %v, SignXML: %v", e1, e2)
		}
		if e1 == nil && !bytes.Equal(tree, direct) {
			t.Fatalf("SignXML differs from Sign:\n tree   %q\n direct %q", tree, direct)
		}
	})
}

func xmlEscape(b *strings.Builder, s string) {
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
}

package osci

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/xmldsig"
)

// etreeSerialize is what serialize must reproduce byte for byte.
func etreeSerialize(el *etree.Element) []byte {
	var b bytes.Buffer
	el.WriteTo(&b, &writeSettings)
	return b.Bytes()
}

// checkSerialize compares serialize with etree's writer for the root and
// every element below it.
func checkSerialize(t *testing.T, name string, root *etree.Element) int {
	t.Helper()
	n := 0
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		n++
		if got, want := serialize(e), etreeSerialize(e); !bytes.Equal(got, want) {
			t.Fatalf("%s: serialize(%s) differs from etree:\n got %q\nwant %q", name, e.GetPath(), got, want)
		}
		// serializePlain: the same bytes, and "plain" exactly when nothing
		// was escaped, in which case the bytes parse back to the same tree
		// (what the signer relies on when it canonicalises the tree).
		got, plain := serializePlain(e)
		if !bytes.Equal(got, etreeSerialize(e)) || plain != copiesUnescaped(e) {
			t.Fatalf("%s: serializePlain(%s): plain %v, want %v", name, e.GetPath(), plain, copiesUnescaped(e))
		}
		if plain {
			back, err := safexml.Parse(got, safexml.Limits{})
			if err != nil {
				t.Fatalf("%s: %s does not parse back: %v", name, e.GetPath(), err)
			}
			if d := differentTree(e, back.Root()); d != "" {
				t.Fatalf("%s: %s parses back differently: %s", name, e.GetPath(), d)
			}
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	walk(root)
	return n
}

// Every envelope and content container of the reference captures, and
// every subtree of them, serialises exactly as etree writes it.
func TestSerializeMatchesEtreeOnCaptures(t *testing.T) {
	dir := filepath.Join(sharedpath.MustFind("osci"), "captures")
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil || len(files) < 20 {
		t.Fatalf("%d capture XML files, %v", len(files), err)
	}
	elements := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := safexml.Parse(data, ParseLimits)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		elements += checkSerialize(t, filepath.Base(f), doc.Root())
	}
	t.Logf("%d files, %d elements", len(files), elements)
}

// Tokens that take etree's path: escapes in text and attributes, control
// characters, invalid UTF-8, non-ASCII, CDATA, comments, processing
// instructions, and an element made empty.
func TestSerializeMatchesEtreeSlowPaths(t *testing.T) {
	el := etree.NewElement("a:root")
	el.CreateAttr("xmlns:a", "urn:a")
	el.CreateAttr("plain", "value with spaces")
	el.CreateAttr("esc", "a&b<c>d\"e'f\tg\nh\ri")
	el.CreateAttr("utf", "Grüße")
	el.CreateText("text & <markup> \"q\" 'a' \r\n\t ok")
	el.CreateElement("empty")
	el.CreateElement("b:x").CreateText("Ünïcödé \x01 bad \xff byte")
	el.CreateCData("cdata ]]> inside")
	el.CreateComment(" a comment ")
	el.CreateProcInst("pi", "data")
	el.CreateElement("tail").CreateText("YWJj\nZGVm")
	checkSerialize(t, "synthetic", el)
}

func FuzzSerializeMatchesEtree(f *testing.F) {
	f.Add([]byte(`<a xmlns:x="urn:x" x:k="v&amp;w" b="&#9;&#10;&#13;">t&lt;&gt;&amp;<x:b>ü</x:b><![CDATA[c]]><!--c--><?p i?></a>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := safexml.Parse(data, safexml.Limits{MaxBytes: 1 << 16, MaxDepth: 32})
		if err != nil {
			return
		}
		checkSerialize(t, "fuzz", doc.Root())
	})
}

// writeBase64Wrapped writes line by line; it must equal the reference rule
// (xmldsig.EncodeBase64Lines, tested against encode-then-cut) for every
// length.
func TestWriteBase64WrappedMatchesReferenceRule(t *testing.T) {
	for n := 0; n <= 600; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*17 + n)
		}
		var got bytes.Buffer
		writeBase64Wrapped(&got, b)
		if want := xmldsig.EncodeBase64Lines(b); got.String() != want {
			t.Fatalf("%d bytes:\n got %q\nwant %q", n, got.String(), want)
		}
	}
}

// embeddableByCopy is the straightforward form of embeddable: copy the
// element, declare on the copy what it inherits (except the envelope's own
// prefixes) and let etree write it.
func embeddableByCopy(el *etree.Element) []byte {
	c := el.Copy()
	ours := map[string]string{"ds": NSDS, "osci": NSOSCI, "soap": NSSOAP, "xenc": NSXENC, "xsi": NSXSI}
	declared := map[string]bool{}
	for _, a := range c.Attr {
		if a.Space == "xmlns" {
			declared[a.Key] = true
		}
	}
	for e := el.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space != "xmlns" || declared[a.Key] {
				continue
			}
			declared[a.Key] = true
			if ours[a.Key] != a.Value {
				c.CreateAttr("xmlns:"+a.Key, a.Value)
			}
		}
	}
	return etreeSerialize(c)
}

// embeddable writes what copying and re-declaring would give, for every
// element of the captures and for an element whose ancestors declare
// foreign prefixes.
func TestEmbeddableMatchesCopy(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedpath.MustFind("osci"), "captures", "*.soap.xml"))
	doc := etree.NewDocument()
	if err := doc.ReadFromString(`<a xmlns:p="urn:p" xmlns:osci="urn:not-osci"><b xmlns:q="urn:q"><c p:x="1" Id="c">t</c></b></a>`); err != nil {
		t.Fatal(err)
	}
	roots := []*etree.Element{doc.Root()}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		d, err := safexml.Parse(data, ParseLimits)
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, d.Root())
	}
	n := 0
	var walk func(e *etree.Element)
	walk = func(e *etree.Element) {
		n++
		if got, want := embeddable(e), embeddableByCopy(e); !bytes.Equal(got, want) {
			t.Fatalf("%s:\n got %q\nwant %q", e.GetPath(), got, want)
		}
		for _, c := range e.ChildElements() {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	t.Logf("%d elements", n)
}

// plainText and plainAttrValue look at eight bytes per step: every byte
// value at every position of the step and of the tail decides as the
// definition (plainByte, plus TAB and LF in text) does.
func TestPlainTextEveryByteEveryPosition(t *testing.T) {
	for c := 0; c < 256; c++ {
		wantText := plainByte[c] || c == '\n' || c == '\t'
		for n := 1; n <= 19; n++ {
			for i := 0; i < n; i++ {
				b := bytes.Repeat([]byte("A"), n)
				b[i] = byte(c)
				if got := plainText(string(b)); got != wantText {
					t.Fatalf("plainText with 0x%02x at %d of %d: %v", c, i, n, got)
				}
				if got := plainAttrValue(string(b)); got != plainByte[c] {
					t.Fatalf("plainAttrValue with 0x%02x at %d of %d: %v", c, i, n, got)
				}
			}
		}
	}
}

// copiesUnescaped is the definition serializePlain's flag must meet: only
// elements and non-CDATA text, every attribute value and text plain.
func copiesUnescaped(el *etree.Element) bool {
	for _, a := range el.Attr {
		if !plainAttrValue(a.Value) {
			return false
		}
	}
	for _, c := range el.Child {
		switch t := c.(type) {
		case *etree.Element:
			if !copiesUnescaped(t) {
				return false
			}
		case *etree.CharData:
			if t.IsCData() || !plainText(t.Data) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// differentTree describes the first difference between two element trees
// (names, attributes in order, child elements and text), "" if none.
func differentTree(a, b *etree.Element) string {
	if a.Space != b.Space || a.Tag != b.Tag || len(a.Attr) != len(b.Attr) || len(a.Child) != len(b.Child) {
		return a.GetPath() + ": name, attribute or child count"
	}
	for i := range a.Attr {
		if a.Attr[i].Space != b.Attr[i].Space || a.Attr[i].Key != b.Attr[i].Key || a.Attr[i].Value != b.Attr[i].Value {
			return a.GetPath() + ": attribute " + a.Attr[i].Key
		}
	}
	for i := range a.Child {
		switch x := a.Child[i].(type) {
		case *etree.Element:
			y, ok := b.Child[i].(*etree.Element)
			if !ok {
				return a.GetPath() + ": element vs other token"
			}
			if d := differentTree(x, y); d != "" {
				return d
			}
		case *etree.CharData:
			y, ok := b.Child[i].(*etree.CharData)
			if !ok || x.Data != y.Data {
				return a.GetPath() + ": text"
			}
		}
	}
	return ""
}

package safexml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/internal/sharedpath"
)

// referenceCheck is the straightforward check on encoding/xml's tokenizer that
// the scanner replaced for speed. It is kept as the oracle of the differential
// tests: whatever it refuses as a DTD or as too deep, Check must refuse too.
func referenceCheck(data []byte, maxDepth int) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return &Error{Kind: ErrSyntax, Detail: err.Error()}
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			if depth > maxDepth {
				return &Error{Kind: ErrTooDeep}
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			return &Error{Kind: ErrDTD}
		}
	}
	if roots == 0 {
		return &Error{Kind: ErrEmpty}
	}
	if depth != 0 {
		return &Error{Kind: ErrSyntax}
	}
	return nil
}

func TestCheckRefusesMalformedMarkup(t *testing.T) {
	cases := map[string]string{
		"mismatched end tag":     `<a><b></c></a>`,
		"end tag without start":  `<a></a></b>`,
		"two roots":              `<a/><b/>`,
		"text outside root":      `<a/>x`,
		"unclosed root":          `<a><b/>`,
		"unquoted attribute":     `<a x=1/>`,
		"attribute without '='":  `<a x/>`,
		"attributes run on":      `<a x="1"y="2"/>`,
		"lt in attribute":        `<a x="<"/>`,
		"bare ampersand":         `<a>fish & chips</a>`,
		"unknown entity":         `<a>&nbsp;</a>`,
		"char ref to NUL":        `<a>&#0;</a>`,
		"unclosed comment":       `<a><!-- x </a>`,
		"unclosed CDATA":         `<a><![CDATA[ x </a>`,
		"CDATA terminator text":  `<a>]]></a>`,
		"xml decl not at start":  `<a><?xml version="1.0"?></a>`,
		"latin-1 declared":       `<?xml version="1.0" encoding="ISO-8859-1"?><a/>`,
		"invalid UTF-8":          "<a>\xff</a>",
		"control character":      "<a>\x01</a>",
		"name starts with digit": `<1a/>`,
		"lone lt":                `<a>1 < 2</a>`,
		"double hyphen comment":  `<a><!-- a -- b --></a>`,
		"XML 1.1":                `<?xml version="1.1"?><a/>`,
		"two colons in a name":   `<a:b:c xmlns:a="urn:a"/>`,
		"empty prefix":           `<a :x="1"/>`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			err := Check([]byte(in), Limits{})
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("got %v, want a syntax error", err)
			}
			if e.Line < 1 || e.Detail == "" {
				t.Fatalf("error without position or detail: %#v", e)
			}
		})
	}
}

func TestCheckAcceptsWhatParsersAccept(t *testing.T) {
	ok := []string{
		"\xef\xbb\xbf<?xml version=\"1.0\" encoding='utf-8' standalone=\"yes\"?>\r\n<a/>",
		`<?xml version="1.0"?><!-- c --><?pi data?><p:a xmlns:p="urn:p" p:x='1' y = "a&amp;b&#x20;&#160;&lt;"><b><![CDATA[<&>]]></b>t&gt;</p:a><!-- after -->`,
		"<a>\u00e4\u20ac\U0001F600</a>",
		"<a\n  x=\"1\"\n/>",
	}
	for _, in := range ok {
		if err := Check([]byte(in), Limits{}); err != nil {
			t.Errorf("%q: %v", in, err)
		}
		if err := referenceCheck([]byte(in), DefaultMaxDepth); err != nil {
			t.Errorf("oracle refuses %q: %v", in, err)
		}
	}
}

func TestCheckReportsLine(t *testing.T) {
	err := Check([]byte("<a>\n<b>\n</c>\n</a>"), Limits{})
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Fatalf("got %v", err)
	}
}

// FuzzCheckAgainstReference: the scanner never panics, and it refuses every
// DTD and every too-deep document that the tokenizer-based oracle refuses.
func FuzzCheckAgainstReference(f *testing.F) {
	f.Add([]byte(`<a x="1"><b>t&amp;</b><!--c--><![CDATA[x]]></a>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`))
	f.Add([]byte(`<a><a><a><a><a></a></a></a></a></a>`))
	f.Add([]byte(`<?xml version="1.0"?><a/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const depth = 4
		got := Check(data, Limits{MaxDepth: depth})
		want := referenceCheck(data, depth)
		for _, kind := range []error{ErrDTD, ErrTooDeep} {
			if errors.Is(want, kind) && got == nil {
				t.Fatalf("oracle says %v, scanner accepts %q", want, data)
			}
		}
		if got == nil {
			if _, err := Parse(data, Limits{MaxDepth: depth}); err != nil && !errors.Is(err, ErrSyntax) {
				t.Fatalf("Check accepts but Parse fails unexpectedly: %v", err)
			}
		}
	})
}

// benchDoc is shaped like a real application: some markup and a large
// base64 document, which dominates the bytes.
func benchDoc() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><x:m xmlns:x="urn:x" version="1">`)
	for i := 0; i < 60; i++ {
		b.WriteString(`<person><name typ="a">Erika Mustermann</name><geburt><datum>1990-01-01</datum></geburt></person>`)
	}
	b.WriteString(`<dokument>` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1, 2, 3}, 4000)) + `</dokument></x:m>`)
	return []byte(b.String())
}

func BenchmarkCheck(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := Check(doc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReferenceCheck(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := referenceCheck(doc, DefaultMaxDepth); err != nil {
			b.Fatal(err)
		}
	}
}

// referenceParse is the parse the builder replaced: etree's reader on
// encoding/xml after the attribute-value normalisation. It is the oracle for
// the tree the builder must produce.
func referenceParse(data []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveCData = true
	if err := doc.ReadFromBytes(normalizeAttrWhitespace(data)); err != nil {
		return nil, err
	}
	return doc, nil
}

// normalizeAttrWhitespace replaces literal tab, LF, CR and CRLF inside
// attribute values by a single space (XML 1.0 §3.3.3; character references
// such as &#10; are untouched because they are not literal). It assumes a
// well-formed document without DTD, which Check has established, and returns
// data itself when there is nothing to change.
func normalizeAttrWhitespace(data []byte) []byte {
	const (
		text = iota
		tag
		attr
	)
	var out []byte // nil until the first change
	copied := 0    // data[:copied] is already in out
	state, quote := text, byte(0)
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch state {
		case text:
			if c != '<' {
				continue
			}
			rest := data[i:]
			switch {
			case bytes.HasPrefix(rest, []byte("<!--")):
				i = skipPast(data, i+4, "-->")
			case bytes.HasPrefix(rest, []byte("<![CDATA[")):
				i = skipPast(data, i+9, "]]>")
			case bytes.HasPrefix(rest, []byte("<?")):
				i = skipPast(data, i+2, "?>")
			default:
				state = tag
			}
		case tag:
			switch c {
			case '"', '\'':
				state, quote = attr, c
			case '>':
				state = text
			}
		case attr:
			switch c {
			case quote:
				state = tag
			case '\t', '\n', '\r':
				if out == nil {
					out = make([]byte, 0, len(data))
				}
				out = append(out, data[copied:i]...)
				out = append(out, ' ')
				if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
					i++ // CRLF is one line end, hence one space
				}
				copied = i + 1
			}
		}
	}
	if out == nil {
		return data
	}
	return append(out, data[copied:]...)
}

// skipPast returns the index of the last byte of the first occurrence of end
// at or after from, or the last index of data.
func skipPast(data []byte, from int, end string) int {
	if k := bytes.Index(data[from:], []byte(end)); k >= 0 {
		return from + k + len(end) - 1
	}
	return len(data) - 1
}

// sameTree reports the first difference between two etree trees: token kinds,
// names with prefixes, attributes in order, character data with its CDATA and
// whitespace flags, comments and processing instructions.
func sameTree(a, b *etree.Element, path string) string {
	if a.Space != b.Space || a.Tag != b.Tag {
		return fmt.Sprintf("%s: element %s:%s vs %s:%s", path, a.Space, a.Tag, b.Space, b.Tag)
	}
	if len(a.Attr) != len(b.Attr) {
		return fmt.Sprintf("%s: %d vs %d attributes", path, len(a.Attr), len(b.Attr))
	}
	for i := range a.Attr {
		x, y := a.Attr[i], b.Attr[i]
		if x.Space != y.Space || x.Key != y.Key || x.Value != y.Value || x.Element() != a || y.Element() != b {
			return fmt.Sprintf("%s: attribute %d %q:%q=%q vs %q:%q=%q", path, i, x.Space, x.Key, x.Value, y.Space, y.Key, y.Value)
		}
	}
	if len(a.Child) != len(b.Child) {
		return fmt.Sprintf("%s: %d vs %d children", path, len(a.Child), len(b.Child))
	}
	for i := range a.Child {
		p := fmt.Sprintf("%s/%d", path, i)
		// The builder attaches children itself: each must know its parent
		// and its place, as etree's reader sets them.
		if tok := a.Child[i]; tok.Parent() != a || tok.Index() != i {
			return fmt.Sprintf("%s: token has parent %p and index %d, want %p and %d", p, tok.Parent(), tok.Index(), a, i)
		}
		switch x := a.Child[i].(type) {
		case *etree.Element:
			y, ok := b.Child[i].(*etree.Element)
			if !ok {
				return p + ": element vs other token"
			}
			if d := sameTree(x, y, p+"("+x.Tag+")"); d != "" {
				return d
			}
		case *etree.CharData:
			y, ok := b.Child[i].(*etree.CharData)
			if !ok || x.Data != y.Data || x.IsCData() != y.IsCData() || x.IsWhitespace() != y.IsWhitespace() {
				return fmt.Sprintf("%s: char data %q vs %#v", p, x.Data, b.Child[i])
			}
		case *etree.Comment:
			y, ok := b.Child[i].(*etree.Comment)
			if !ok || x.Data != y.Data {
				return p + ": comment differs"
			}
		case *etree.ProcInst:
			y, ok := b.Child[i].(*etree.ProcInst)
			if !ok || x.Target != y.Target || x.Inst != y.Inst {
				return fmt.Sprintf("%s: proc inst %q %q vs %#v", p, x.Target, x.Inst, b.Child[i])
			}
		default:
			return fmt.Sprintf("%s: unexpected token %T", p, x)
		}
	}
	return ""
}

// TestParseBuildsTheTreeEtreeBuilds runs every XML file of the OSCI reference
// pack (SOAP envelopes, decrypted containers) through both parsers.
func TestParseBuildsTheTreeEtreeBuilds(t *testing.T) {
	dir := sharedpath.MustFind("osci/captures")
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(files) < 50 {
		t.Fatalf("only %d reference files found in %s", len(files), dir)
	}
	extra := []string{
		"\xef\xbb\xbf<?xml version=\"1.0\"?>\r\n<a>x\r\ny\rz<![CDATA[c\r\nd]]><?pi   data  x ?><?pj?><!-- c\r\n --></a>\n",
		"<a x='1\r\n2\t3&#9;4' p:x=\"&lt;&#x41;&amp;\" xmlns:p=\"urn:p\"> <b/>\n\t<c:d/></a>",
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		extra = append(extra, string(data))
	}
	for i, in := range extra {
		got, err := Parse([]byte(in), Limits{})
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		want, err := referenceParse([]byte(in))
		if err != nil {
			t.Fatalf("input %d: oracle: %v", i, err)
		}
		if d := sameTree(&got.Element, &want.Element, ""); d != "" {
			t.Fatalf("input %d: %s", i, d)
		}
		var a, b bytes.Buffer
		got.WriteTo(&a)
		want.WriteTo(&b)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("input %d: serialisations differ", i)
		}
	}
}

// FuzzParseAgainstEtree: whenever both parsers accept a document, the trees
// are identical; whenever Parse accepts, etree's reader accepts too.
func FuzzParseAgainstEtree(f *testing.F) {
	f.Add([]byte("<a x='1\r\n2' p:y=\"&amp;\"><!--c--><?p i?><![CDATA[x\ry]]>t&#10;</a>"))
	f.Add([]byte("\xef\xbb\xbf<?xml version=\"1.0\"?>\n<r/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(data, Limits{})
		if err != nil {
			return
		}
		want, werr := referenceParse(data)
		if werr != nil {
			// encoding/xml is stricter about name characters and a few
			// rarities than the scanner; those documents are still
			// well-formed enough for every later consumer (libxml2 and
			// etree both refuse or accept them consistently).
			if strings.Contains(werr.Error(), "invalid XML name") || strings.Contains(werr.Error(), "expected attribute name") ||
				strings.Contains(werr.Error(), "unexpected EOF") || strings.Contains(werr.Error(), "invalid character entity") {
				return
			}
			t.Fatalf("Parse accepts, etree refuses: %v\n%q", werr, data)
		}
		if d := sameTree(&got.Element, &want.Element, ""); d != "" {
			t.Fatalf("%s\n%q", d, data)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := Parse(doc, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReferenceParse(b *testing.B) {
	doc := benchDoc()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := referenceParse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEnvelope parses a real OSCI storeDelivery envelope from the
// reference pack: the shape the gateway and the intermediary parse per message.
func BenchmarkParseEnvelope(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(sharedpath.MustFind("osci/captures"), "storeDelivery-a.transport-encrypted.inner.soap.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestManyAttributes(t *testing.T) {
	build := func(n int, dupAt int) []byte {
		var b strings.Builder
		b.WriteString("<a")
		for i := 0; i < n; i++ {
			k := i
			if i == dupAt {
				k = 3
			}
			fmt.Fprintf(&b, " a%d=\"v\"", k)
		}
		b.WriteString("/>")
		return []byte(b.String())
	}
	if err := Check(build(200, -1), Limits{}); err != nil {
		t.Fatalf("200 distinct attributes: %v", err)
	}
	if err := Check(build(200, 150), Limits{}); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "appears twice") {
		t.Fatalf("duplicate among many: %v", err)
	}
	if err := Check(build(5, 4), Limits{}); !errors.Is(err, ErrSyntax) {
		t.Fatalf("duplicate among few: %v", err)
	}
	if err := Check(build(300, -1), Limits{}); !errors.Is(err, ErrTooManyAttributes) {
		t.Fatalf("300 attributes: %v", err)
	}
	if err := Check(build(300, -1), Limits{MaxAttributes: 1000}); err != nil {
		t.Fatalf("raised limit: %v", err)
	}
	doc, err := Parse(build(20, -1), Limits{})
	if err != nil || len(doc.Root().Attr) != 20 {
		t.Fatalf("parse: %v", err)
	}
}

// BenchmarkManyAttributes shows the duplicate check stays linear: the cost per
// attribute must not grow with the number of attributes (compare the two).
func BenchmarkManyAttributes(b *testing.B) {
	for _, n := range []int{100, 10000} {
		var sb strings.Builder
		sb.WriteString("<a")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&sb, " a%d=\"v\"", i)
		}
		sb.WriteString("/>")
		doc := []byte(sb.String())
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				Check(doc, Limits{MaxAttributes: n})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/attr")
		})
	}
}

// TestCheckCharsAtEveryOffset puts a forbidden byte at every position of a
// text that mixes the word-at-a-time paths (long ASCII runs, line feeds,
// multi-byte characters): each must be found, at the right line.
func TestCheckCharsAtEveryOffset(t *testing.T) {
	body := []byte(strings.Repeat("abcdefghij\nklmnopqrstuvwxyz0123456789+/=ä\t", 3))
	for _, bad := range []string{"\x01", "\x1f", "\xff", "\xef\xbf\xbe"} {
		for i := 0; i <= len(body); i++ {
			doc := append([]byte("<a>"), body[:i]...)
			doc = append(doc, bad...)
			doc = append(doc, body[i:]...)
			doc = append(doc, "</a>"...)
			err := Check(doc, Limits{})
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) {
				t.Fatalf("%q at %d: %v", bad, i, err)
			}
			if want := 1 + bytes.Count(body[:i], []byte("\n")); e.Line != want {
				t.Fatalf("%q at %d: line %d, want %d", bad, i, e.Line, want)
			}
		}
	}
	if err := Check(append(append([]byte("<a>"), body...), "</a>"...), Limits{}); err != nil {
		t.Fatal(err)
	}
}

package safexml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
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

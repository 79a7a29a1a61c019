package safexml

import (
	"errors"
	"strings"
	"testing"
)

func TestParseAcceptsOrdinaryDocument(t *testing.T) {
	doc, err := Parse([]byte(`<?xml version="1.0" encoding="UTF-8"?><a xmlns="urn:x"><b c="1">t</b></a>`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Root().SelectElement("b").Text(); got != "t" {
		t.Fatalf("text %q", got)
	}
}

func TestParseRejects(t *testing.T) {
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><lolz>&lol2;</lolz>`
	xxe := `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`
	deep := strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300)
	cases := []struct {
		name string
		in   string
		l    Limits
		want error
	}{
		{"entity bomb", bomb, Limits{}, ErrDTD},
		{"external entity", xxe, Limits{}, ErrDTD},
		{"too deep", deep, Limits{}, ErrTooDeep},
		{"too large", "<a>" + strings.Repeat("x", 100) + "</a>", Limits{MaxBytes: 50}, ErrTooLarge},
		{"not well formed", "<a><b></a>", Limits{}, ErrSyntax},
		{"undefined entity", "<a>&nope;</a>", Limits{}, ErrSyntax},
		{"empty", "  ", Limits{}, ErrEmpty},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in), c.l)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if err.Error() == "" || !strings.HasPrefix(err.Error(), "xml: ") {
				t.Fatalf("unhelpful message %q", err)
			}
		})
	}
}

func TestReadAllLimit(t *testing.T) {
	if _, err := ReadAll(strings.NewReader(strings.Repeat("x", 11)), Limits{MaxBytes: 10}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
	if b, err := ReadAll(strings.NewReader(strings.Repeat("x", 10)), Limits{MaxBytes: 10}); err != nil || len(b) != 10 {
		t.Fatalf("got %d, %v", len(b), err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`<a xmlns:p="urn:p"><p:b Id="x">t</p:b></a>`))
	f.Add([]byte(`<!DOCTYPE a><a/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data, Limits{MaxBytes: 1 << 16, MaxDepth: 32})
		if err == nil && doc.Root() == nil {
			t.Fatal("nil root without error")
		}
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("error of unexpected type %T: %v", err, err)
		}
	})
}

func TestParseNormalisesAttributeWhitespace(t *testing.T) {
	in := "<a x=\"1\t2\n3\r\n4&#10;5\" y='p\rq'><!-- \"\t\" --><b z=\"\">text\tstays<![CDATA[ x=\"\t\" ]]></b><?pi a=\"\t\"?></a>"
	doc, err := Parse([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a := doc.Root()
	if got := a.SelectAttrValue("x", ""); got != "1 2 3 4\n5" {
		t.Errorf("x = %q", got)
	}
	if got := a.SelectAttrValue("y", ""); got != "p q" {
		t.Errorf("y = %q", got)
	}
	b := a.SelectElement("b")
	if got := b.Text(); got != "text\tstays x=\"\t\" " {
		t.Errorf("text = %q (text and CDATA must not be normalised)", got)
	}
}

func TestCheckRejectsDuplicateAttributes(t *testing.T) {
	for _, in := range []string{`<a x="1" x="2"/>`, `<a xmlns:p="urn:p"><b p:Id="1" p:Id="2"/></a>`} {
		err := Check([]byte(in), Limits{})
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "appears twice") {
			t.Errorf("%s: got %v", in, err)
		}
	}
}

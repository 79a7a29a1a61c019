package xsd

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/safexml"
)

// Hand-written types in the shape internal/xsdgen generates, so the codec is
// tested on its own; the generated XAusländer types are tested in package
// xauslaender against the official schemas.

const tns = "urn:test:main"
const ons = "urn:test:other"

func init() {
	RegisterPrefix(tns, "t")
	RegisterPrefix(ons, "o")
}

type testCode struct {
	ListURI       *string `xsd:"listURI,attr" json:"listURI,omitempty"`
	ListVersionID *string `xsd:"listVersionID,attr" json:"listVersionID,omitempty"`
	Code          string  `xsd:"code" json:"code"`
	Name          *string `xsd:"name" json:"name,omitempty"`
}

func (testCode) CodeList() CodeList {
	return CodeList{URI: "urn:test:list", URIFixed: true, Name: "Test"}
}
func (c testCode) CodeValue() (string, string, string) {
	return c.Code, Value(c.ListURI), Value(c.ListVersionID)
}
func (c *testCode) UnmarshalJSON(b []byte) error {
	type plain testCode
	return UnmarshalCodeJSON(b, (*plain)(c), &c.Code)
}

type testHead struct {
	ID   string   `xsd:"id" json:"id"`
	When DateTime `xsd:"when" json:"when"`
}

type testBase struct {
	Head     testHead `xsd:"head" json:"head"`
	Produkt  string   `xsd:"produkt,attr" json:"produkt"`
	Standard string   `xsd:"standard,attr,fixed=Test%2C%20fixed" json:"standard"`
	Test     *string  `xsd:"test,attr" json:"test,omitempty"`
}

type testDoc struct {
	Data     []byte `xsd:"data" json:"data"`
	MimeType string `xsd:"mimeType,attr" json:"mimeType"`
}

type testPhoto struct {
	Value    []byte `xsd:",text" json:"value"`
	MimeType string `xsd:"mimeType,attr" json:"mimeType"`
}

type testRoot struct {
	testBase
	Ident  string     `xsd:"ident,ns=urn:test:main" json:"ident"`
	Datum  Date       `xsd:"datum,ns=urn:test:main" json:"datum"`
	Count  *int64     `xsd:"count,ns=urn:test:main" json:"count,omitempty"`
	Flag   bool       `xsd:"flag,ns=urn:test:main" json:"flag"`
	Grund  testCode   `xsd:"grund,ns=urn:test:main" json:"grund"`
	Others []testCode `xsd:"other,ns=urn:test:main" json:"other,omitempty"`
	Addr   *testHead  `xsd:"addr,ns=urn:test:other" json:"addr,omitempty"`
	Inline *testDoc   `xsd:"inline,ns=urn:test:main,choice=1" json:"inline,omitempty"`
	Ref    *string    `xsd:"ref,ns=urn:test:main,choice=1" json:"ref,omitempty"`
	Photo  *testPhoto `xsd:"photo,ns=urn:test:main" json:"photo,omitempty"`
	Notes  []string   `xsd:"note,ns=urn:test:main,min=1" json:"note"`
	Bemerk *string    `xsd:"bemerkung,ns=urn:test:main" json:"bemerkung,omitempty"`
}

func (*testRoot) XMLName() (string, string) { return tns, "root.1" }

func sample() *testRoot {
	r := &testRoot{}
	r.Head = testHead{ID: "0b6f4bbf-7d1e-4b0e-9d3e-2f6f0c7d8a11", When: "2026-03-02T09:15:00+01:00"}
	r.Produkt = "xagw"
	r.Ident = "A&B <c> \"d\""
	r.Datum = "2026-03-01"
	r.Count = Ptr(int64(42))
	r.Flag = true
	r.Grund = testCode{Code: "01"}
	r.Others = []testCode{{Code: "02", Name: Ptr("zwei")}, {Code: "03"}}
	r.Addr = &testHead{ID: "x"}
	r.Inline = &testDoc{Data: []byte("%PDF-1.7 fake"), MimeType: "application/pdf"}
	r.Photo = &testPhoto{Value: []byte{0xff, 0xd8, 0xff}, MimeType: "image/jpeg"}
	r.Notes = []string{"eins", "zwei\r\nzeilen"}
	return r
}

const want = `<?xml version="1.0" encoding="UTF-8"?>
<t:root.1 xmlns:t="urn:test:main" xmlns:o="urn:test:other" produkt="xagw" standard="Test, fixed">
  <head>
    <id>0b6f4bbf-7d1e-4b0e-9d3e-2f6f0c7d8a11</id>
    <when>2026-03-02T09:15:00+01:00</when>
  </head>
  <t:ident>A&amp;B &lt;c&gt; "d"</t:ident>
  <t:datum>2026-03-01</t:datum>
  <t:count>42</t:count>
  <t:flag>true</t:flag>
  <t:grund>
    <code>01</code>
  </t:grund>
  <t:other>
    <code>02</code>
    <name>zwei</name>
  </t:other>
  <t:other>
    <code>03</code>
  </t:other>
  <o:addr>
    <id>x</id>
    <when></when>
  </o:addr>
  <t:inline mimeType="application/pdf">
    <data>JVBERi0xLjcgZmFrZQ==</data>
  </t:inline>
  <t:photo mimeType="image/jpeg">/9j/</t:photo>
  <t:note>eins</t:note>
  <t:note>zwei&#xD;
zeilen</t:note>
</t:root.1>
`

func TestMarshalExactBytes(t *testing.T) {
	got, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	first, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	var back testRoot
	if err := Unmarshal(first, &back, safexml.Limits{}); err != nil {
		t.Fatal(err)
	}
	if back.Standard != "Test, fixed" || back.Ident != sample().Ident || string(back.Inline.Data) != "%PDF-1.7 fake" || back.Notes[1] != "zwei\r\nzeilen" {
		t.Fatalf("parsed %+v", back)
	}
	second, err := Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatalf("not round-trip stable:\n%s\n---\n%s", first, second)
	}
}

func TestJSONShape(t *testing.T) {
	in := `{"head":{"id":"h","when":"2026-01-01T00:00:00Z"},"produkt":"p","standard":"","ident":"i","datum":"2026-01-02",
	"flag":false,"grund":"07","other":[{"code":"08","listVersionID":"2"}],"ref":"r","note":["n"]}`
	var r testRoot
	dec := json.NewDecoder(strings.NewReader(in))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Grund.Code != "07" || r.Others[0].Code != "08" || Value(r.Others[0].ListVersionID) != "2" || r.Datum != "2026-01-02" {
		t.Fatalf("%+v", r)
	}
	if err := json.Unmarshal([]byte(`{"grund":{"code":"1","bogus":1}}`), &r); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("unknown key in a code object: %v", err)
	}
	out, _ := json.Marshal(sample())
	for _, s := range []string{`"grund":{"code":"01"}`, `"data":"JVBERi0xLjcgZmFrZQ=="`, `"datum":"2026-03-01"`, `"count":42`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("JSON lacks %s: %s", s, out)
		}
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good := want
	cases := []struct {
		name, doc, path, msg string
	}{
		{"unknown element", strings.Replace(good, "<t:flag>true</t:flag>", "<t:flag>true</t:flag><t:extra/>", 1), "/root.1", "unexpected element {urn:test:main}extra"},
		{"out of order", strings.Replace(strings.Replace(good, "  <t:datum>2026-03-01</t:datum>\n", "", 1), "<t:flag>", "<t:datum>2026-03-01</t:datum><t:flag>", 1), "/root.1", "missing element datum before {urn:test:main}count"},
		{"missing required", strings.Replace(good, "<t:flag>true</t:flag>", "", 1), "/root.1", "missing element flag before {urn:test:main}grund"},
		{"missing required attribute", strings.Replace(good, ` produkt="xagw"`, "", 1), "/root.1", "required attribute produkt is missing"},
		{"unknown attribute", strings.Replace(good, ` produkt="xagw"`, ` produkt="xagw" foo="1"`, 1), "/root.1", "unexpected attribute foo"},
		{"wrong namespace", strings.Replace(good, "<t:ident>A&amp;B &lt;c&gt; \"d\"</t:ident>", "<o:ident>x</o:ident>", 1), "/root.1", "unexpected element {urn:test:other}ident"},
		{"unqualified where qualified", strings.Replace(strings.Replace(good, "<t:ident>", "<ident>", 1), "</t:ident>", "</ident>", 1), "/root.1", "unexpected element ident"},
		{"bad boolean", strings.Replace(good, "<t:flag>true<", "<t:flag>ja<", 1), "/root.1/flag", `"ja" is not a boolean`},
		{"bad integer", strings.Replace(good, "<t:count>42<", "<t:count>4x2<", 1), "/root.1/count", `"4x2" is not an integer`},
		{"bad base64", strings.Replace(good, "JVBERi0xLjcgZmFrZQ==", "!!!", 1), "/root.1/inline/data", "not valid base64"},
		{"text in complex element", strings.Replace(good, "<head>", "<head>hello", 1), "/root.1/head", `unexpected text "hello"`},
		{"both choice members", strings.Replace(good, "<t:photo", "<t:ref>r</t:ref><t:photo", 1), "/root.1", "out of schema order"},
		{"repeated single", strings.Replace(good, "<t:count>42</t:count>", "<t:count>42</t:count><t:count>43</t:count>", 1), "/root.1", "count may occur only once"},
		{"wrong root", strings.Replace(strings.Replace(good, "<t:root.1 ", "<t:root.2 ", 1), "</t:root.1>", "</t:root.2>", 1), "/root.2", "root element is {urn:test:main}root.2"},
		{"dtd", "<!DOCTYPE x [<!ENTITY a 'b'>]>" + good[strings.Index(good, "\n")+1:], "", "document type declarations"},
		{"xsi:type", strings.Replace(good, `produkt="xagw"`, `produkt="xagw" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="t:x"`, 1), "/root.1", "xsi:type is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r testRoot
			err := Unmarshal([]byte(c.doc), &r, safexml.Limits{})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v", err)
			}
			if pe.Path != c.path || !strings.Contains(pe.Msg, c.msg) {
				t.Fatalf("got path %q msg %q; want %q containing %q", pe.Path, pe.Msg, c.path, c.msg)
			}
			if c.name != "dtd" && pe.Line == 0 {
				t.Errorf("no line in %v", pe)
			}
		})
	}
}

// TestParseLeavesValidityToTheValidator: too few repetitions and an empty
// choice are representable and round-trip; the XSD validator reports them.
func TestParseLeavesValidityToTheValidator(t *testing.T) {
	doc := strings.Replace(strings.Replace(want, "  <t:note>eins</t:note>\n  <t:note>zwei&#xD;\nzeilen</t:note>\n", "", 1),
		"  <t:inline mimeType=\"application/pdf\">\n    <data>JVBERi0xLjcgZmFrZQ==</data>\n  </t:inline>\n", "", 1)
	var r testRoot
	if err := Unmarshal([]byte(doc), &r, safexml.Limits{}); err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(&r)
	if err != nil || string(out) != doc {
		t.Fatalf("%v\n%s\n---\n%s", err, out, doc)
	}
}

func TestXSISchemaLocationIgnored(t *testing.T) {
	doc := strings.Replace(want, `produkt="xagw"`, `produkt="xagw" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="urn:test:main t.xsd"`, 1)
	var r testRoot
	if err := Unmarshal([]byte(doc), &r, safexml.Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestMarshalErrors(t *testing.T) {
	r := sample()
	r.Ref = Ptr("also")
	if _, err := Marshal(r); err == nil || !strings.Contains(err.Error(), "only one of inline ref may be set") {
		t.Fatalf("two choice members: %v", err)
	}
	r = sample()
	r.Ident = "bell\x07"
	var me *MarshalError
	if _, err := Marshal(r); !errors.As(err, &me) || me.Path != "/root.1/ident" || !strings.Contains(me.Msg, "U+0007") {
		t.Fatalf("control character: %v", err)
	}
	r = sample()
	r.Others[1].Code = "\xff"
	if _, err := Marshal(r); !errors.As(err, &me) || me.Path != "/root.1/other[2]/code" {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

func TestCodes(t *testing.T) {
	r := sample()
	codes, err := Codes(r)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, c := range codes {
		code, _, _ := c.Value.CodeValue()
		paths = append(paths, c.Path+"="+code)
	}
	if got := strings.Join(paths, " "); got != "/root.1/grund=01 /root.1/other[1]=02 /root.1/other[2]=03" {
		t.Fatal(got)
	}
	if err := FillCodeLists(r, func(uri string) string {
		if uri == "urn:test:list" {
			return "7"
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	if Value(r.Grund.ListURI) != "urn:test:list" || Value(r.Grund.ListVersionID) != "7" {
		t.Fatalf("%+v", r.Grund)
	}
	cp := CodePaths(r)
	if len(cp) != 2 || cp["/root.1/other"].URI != "urn:test:list" || cp["/root.1/grund"].Name != "Test" {
		t.Fatalf("%v", cp)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(want))
	f.Add([]byte(`<t:root.1 xmlns:t="urn:test:main" produkt="p"/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var r testRoot
		if err := Unmarshal(data, &r, safexml.Limits{}); err != nil {
			return
		}
		// Whatever parses must marshal, and re-parse to the same bytes.
		out, err := Marshal(&r)
		if err != nil {
			return // e.g. two choice members cannot be parsed, but control chars can be
		}
		var again testRoot
		if err := Unmarshal(out, &again, safexml.Limits{}); err != nil {
			t.Fatalf("marshalled output does not parse: %v\n%s", err, out)
		}
		out2, err := Marshal(&again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %v\n%s\n%s", err, out, out2)
		}
	})
}

func TestDecodeBase64Whitespace(t *testing.T) {
	for in, want := range map[string]string{
		"SGVsbG8=":              "Hello",
		"SGVs\nbG8=":            "Hello",
		" SG Vs\tbG8=\r\n":      "Hello",
		"S\nG\r\nV s b\tG 8 = ": "Hello",
		"":                      "",
	} {
		got, err := decodeBase64(in)
		if err != nil || string(got) != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"SGVsbG8", "SGVsbG9=", "SG=sbG8=", "%%SGVsbG8=", "SGVs bG8=x"} {
		if got, err := decodeBase64(in); err == nil {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}

// TestUnmarshalNormalisesAttributes: attribute values read as a conforming
// XML parser reports them (XML 1.0 §3.3.3): literal tab, line feed, CR LF
// become spaces, character references keep what they denote.
func TestUnmarshalNormalisesAttributes(t *testing.T) {
	doc := strings.Replace(want, ` produkt="xagw"`, " produkt=\"x\ty\r\nz\n&#10;&#9;&amp;&#x41;\"\n   ", 1)
	doc = strings.Replace(doc, `<t:inline mimeType="application/pdf">`, "<t:inline mimeType='application/\npdf'>", 1)
	var r testRoot
	if err := Unmarshal([]byte(doc), &r, safexml.Limits{}); err != nil {
		t.Fatal(err)
	}
	if r.Produkt != "x y z \n\t&A" || r.Inline.MimeType != "application/ pdf" {
		t.Fatalf("%q %q", r.Produkt, r.Inline.MimeType)
	}
}

type plainRoot struct {
	Photo  *testPhoto `xsd:"photo,ns=urn:test:main,plain" json:"photo,omitempty"`
	Inline *testDoc   `xsd:"inline,ns=urn:test:main" json:"inline,omitempty"`
	Scan   []byte     `xsd:"scan,ns=urn:test:main,plain" json:"scan"`
	Other  []byte     `xsd:"other,ns=urn:test:main" json:"other"`
}

func (plainRoot) XMLName() (string, string) { return tns, "plain" }

func TestPlainBase64Paths(t *testing.T) {
	m := &plainRoot{}
	if got := strings.Join(Base64Paths(m), " "); got != "/plain/photo /plain/inline/data /plain/scan /plain/other" {
		t.Errorf("base64: %s", got)
	}
	// photo's text is the base64 value of a type that only adds an
	// attribute; data inside inline is not marked plain.
	if got := strings.Join(PlainBase64Paths(m), " "); got != "/plain/photo /plain/scan" {
		t.Errorf("plain: %s", got)
	}
}

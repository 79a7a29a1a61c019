package xauslaender_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// TestValidateAndParseEqualsParse: for every sample, the one-pass API gives
// the same typed message and header as Validate followed by Parse.
func TestValidateAndParseEqualsParse(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	for _, s := range samples.List() {
		t.Run(s.Name, func(t *testing.T) {
			data := sampleXML(t, s.Name)
			res, m, err := v.ValidateAndParse(data)
			if err != nil || !res.Valid || m == nil || !m.Typed() {
				t.Fatalf("valid %v, message %+v, err %v, problems %+v", res.Valid, m, err, res.Problems)
			}
			want, err := xauslaender.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m.Body, want.Body) {
				t.Fatal("typed message differs from Parse")
			}
			if m.Header != want.Header || m.Code != want.Code || m.Version != want.Version || m.Namespace != want.Namespace || m.Element != want.Element {
				t.Fatalf("got %+v\nwant %+v", m, want)
			}
			if plain := v.Validate(data); !reflect.DeepEqual(plain, res) {
				t.Fatalf("Validate and ValidateAndParse disagree:\n%+v\n%+v", plain, res)
			}
			again, err := xauslaender.Marshal(m.Body)
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("re-marshal differs (%v)", err)
			}
		})
	}
}

// TestValidateAndParseDecodesLikeParse covers what libxml2 hands over
// differently from encoding/xml: references in text and attributes (libxml2
// 2.9 passes "&" in attribute values as "&#38;"), CDATA, comments, CRLF.
func TestValidateAndParseDecodesLikeParse(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	data := sampleXML(t, "ruecknahme")
	doc := string(data)
	doc = strings.Replace(doc, `produkthersteller="`, `produkthersteller="M&amp;S &#38; &lt;Söhne&gt; `, 1)
	doc = strings.Replace(doc, "<name>STV Aalen</name>", "<name><!-- c -->STV &amp; <![CDATA[A<a>]]>len &#228;&#x00FC;</name>", 1)
	doc = strings.ReplaceAll(doc, "\n", "\r\n")
	res, m, err := v.ValidateAndParse([]byte(doc))
	if err != nil || !res.Valid {
		t.Fatalf("%v %+v", err, res.Problems)
	}
	want, err := xauslaender.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Body, want.Body) {
		a, _ := xauslaender.Marshal(m.Body)
		b, _ := xauslaender.Marshal(want.Body)
		t.Fatalf("differs from Parse:\n%s\n----\n%s", a, b)
	}
	if m.Header.Leser.Name != "STV & A<a>len äü" && m.Header.Autor.Name != "STV & A<a>len äü" {
		t.Fatalf("header %+v", m.Header)
	}
	if got := m.Header.Standard; got != "XAusländer" {
		t.Fatalf("standard %q", got)
	}
}

// TestHeaderRules: the rules an office applies that the XSD cannot express,
// each as its own problem kind with path, line and a clear message; the
// result is invalid and ValidateAndParse still reads the header.
func TestHeaderRules(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	rn := string(sampleXML(t, "ruecknahme"))
	status := string(sampleXML(t, "statusmeldung"))
	rw := string(sampleXML(t, "rueckweisung"))
	uuid := samples.UUID("ruecknahme")
	cases := []struct {
		name, doc, kind, path, msg string
		schemaToo                  bool // the XSD reports the same defect
	}{
		{"nachrichtentyp of another type", strings.Replace(rn, "<code>130111</code>", "<code>130101</code>", 1),
			xauslaender.KindHeader, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp",
			`nachrichtentyp "130101" does not match the root element OZG.Ruecknahme.130111 (type 130111)`, false},
		{"nachrichtenUUID not a UUID", strings.Replace(rn, uuid, "OZG-AT-2026-000451", 1),
			xauslaender.KindHeader, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID",
			`nachrichtenUUID "OZG-AT-2026-000451" is not a UUID`, true},
		{"version attribute", strings.Replace(rn, `version="26.11"`, `version="1.21.1"`, 1),
			xauslaender.KindVersion, "/OZG.Ruecknahme.130111/@version",
			`root attribute version is "1.21.1"; namespace http://www.osci.de/xauslaender2611 is version 26.11`, true},
		{"standard attribute", strings.Replace(rn, `standard="XAusländer"`, `standard="XInneres"`, 1),
			xauslaender.KindVersion, "/OZG.Ruecknahme.130111/@standard",
			`root attribute standard is "XInneres"; namespace http://www.osci.de/xauslaender2611 is standard XAusländer`, true},
		{"no leser", cut(t, rn, "<leser>", "</leser>"),
			xauslaender.KindHeader, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/leser", "leser is missing", true},
		{"autor without kennung", strings.Replace(rn, "<kennung>ozgev:000000000001</kennung>", "<kennung>  </kennung>", 1),
			xauslaender.KindHeader, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/autor/kennung", "autor has no kennung", false},
		{"creation time without zone", strings.Replace(rn, "2026-03-02T09:15:00+01:00", "2026-03-02T09:15:00.123", 1),
			xauslaender.KindHeader, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt",
			`erstellungszeitpunkt "2026-03-02T09:15:00.123" has no time zone`, false},
		{"ausloeserUUID not a UUID", strings.Replace(status, samples.UUID("antrag-erwerbstaetigkeit"), "4711", 1),
			xauslaender.KindHeader, "/OZG.Statusmeldung.130104/ausloeserUUID", `ausloeserUUID "4711" is not a UUID`, true},
		{"Rückweisung naming no UUID", replaceIn(t, rw, "<idNachricht>", "</idNachricht>", ">61f5a0a0-47f3-4c42-9104-dedd8fc89154<", ">x<"),
			xauslaender.KindHeader, "/rueckweisung.asynchron.0010/rueckweisung/idNachricht/nachrichtenUUID", `the rejected message's nachrichtenUUID "x" is not a UUID`, true},
		{"no identifikation.nachricht", cut(t, rn, "<identifikation.nachricht>", "</identifikation.nachricht>"),
			xauslaender.KindHeader, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht", "identifikation.nachricht is missing", true},
		{"no nachrichtenkopf", cut(t, rn, "<nachrichtenkopf.g2g>", "</nachrichtenkopf.g2g>"),
			xauslaender.KindHeader, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g", "nachrichtenkopf.g2g is missing", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.doc == rn || c.doc == status || c.doc == rw {
				t.Fatal("the mutation did not apply")
			}
			res, m, err := v.ValidateAndParse([]byte(c.doc))
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid {
				t.Fatal("accepted")
			}
			var found *schemas.Problem
			schema := false
			for i, p := range res.Problems {
				if p.Kind == c.kind && found == nil {
					found = &res.Problems[i]
				}
				if p.Kind == xauslaender.KindHeader || p.Kind == xauslaender.KindVersion {
					if p.Kind != c.kind {
						t.Errorf("further header problem: %s", p)
					}
				}
				schema = schema || p.Kind == schemas.KindSchema
			}
			if found == nil {
				t.Fatalf("no %s problem: %+v", c.kind, res.Problems)
			}
			if found.Path != c.path || !strings.Contains(found.Message, c.msg) || found.Line <= 0 || found.Severity != schemas.SeverityError {
				t.Fatalf("got %+v\nwant path %s, message containing %q, a line", *found, c.path, c.msg)
			}
			if schema != c.schemaToo {
				t.Errorf("schema problem reported: %v, expected %v (%+v)", schema, c.schemaToo, res.Problems)
			}
			if m == nil || m.Typed() || m.Note == "" || m.Code == "" {
				t.Fatalf("message %+v", m)
			}
			// What could be read is there for an answer.
			if c.name != "nachrichtenUUID not a UUID" && !strings.Contains(c.name, "nachrichtenkopf") && !strings.Contains(c.name, "identifikation") && m.Header.NachrichtenUUID == "" {
				t.Errorf("header not read: %+v", m.Header)
			}
			if plain := v.Validate([]byte(c.doc)); !reflect.DeepEqual(plain.Problems, res.Problems) {
				t.Errorf("Validate differs: %+v", plain.Problems)
			}
		})
	}
}

func cut(t *testing.T, doc, from, to string) string {
	t.Helper()
	i := strings.Index(doc, from)
	j := strings.Index(doc[i:], to)
	if i < 0 || j < 0 {
		t.Fatalf("no %s…%s", from, to)
	}
	return doc[:i] + doc[i+j+len(to):]
}

func replaceIn(t *testing.T, doc, from, to, old, new string) string {
	t.Helper()
	i := strings.Index(doc, from)
	j := strings.Index(doc[i:], to)
	if i < 0 || j < 0 {
		t.Fatalf("no %s…%s", from, to)
	}
	return doc[:i] + strings.Replace(doc[i:i+j], old, new, 1) + doc[i+j:]
}

// TestValidateAndParseUnreadable: no message for what cannot be read, an
// untyped one with its header for a recognised Quittung.
func TestValidateAndParseUnreadable(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	for name, doc := range map[string]string{
		"malformed":        "<x",
		"unknown root":     `<x xmlns="urn:nothing"/>`,
		"DTD":              `<!DOCTYPE x [<!ENTITY e "x">]><x/>`,
		"non-message root": `<xauslaender:Dokument.Lichtbild xmlns:xauslaender="http://www.osci.de/xauslaender2611"/>`,
	} {
		res, m, err := v.ValidateAndParse([]byte(doc))
		if res.Valid || m != nil || err != nil {
			t.Errorf("%s: valid %v message %+v err %v", name, res.Valid, m, err)
		}
	}
	q := `<q:quittung.0020 xmlns:q="http://www.osci.de/xinneres/quittung/3"><nachrichtenkopf.g2g><identifikation.nachricht><nachrichtenUUID>0b6e8f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b</nachrichtenUUID></identifikation.nachricht></nachrichtenkopf.g2g><ausloeserUUID>1b6e8f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b</ausloeserUUID></q:quittung.0020>`
	res, m, err := v.ValidateAndParse([]byte(q))
	if err != nil || res.Valid || m == nil || m.Typed() || m.Header.AusloeserUUID != "1b6e8f0a-1c2d-4e5f-8a9b-0c1d2e3f4a5b" || m.Code != "0020" {
		t.Fatalf("quittung: %v %+v %v", res.Valid, m, err)
	}
	if res.Problems[0].Kind != schemas.KindUnsupported {
		t.Fatalf("%+v", res.Problems)
	}
}

// TestRejectionHeaderNamesTheRejectedMessage: a Rückweisung links to the
// message it rejects (gateways link replies by Header.Reference).
func TestRejectionHeaderNamesTheRejectedMessage(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	for _, name := range []string{"rueckweisung", "rueckweisung-synchron"} {
		_, m, err := v.ValidateAndParse(sampleXML(t, name))
		if err != nil || m == nil || !m.Typed() {
			t.Fatalf("%s: %+v %v", name, m, err)
		}
		if !xauslaender.IsUUID(m.Header.RejectedUUID) || m.Header.Reference() != m.Header.RejectedUUID || m.Header.AusloeserUUID != "" {
			t.Fatalf("%s: %+v", name, m.Header)
		}
	}
}

// TestPlainBase64NeedsTheGenerationBundle: the validator keeps document
// bytes away from libxml2 only for a bundle whose compiled files are the
// ones the model was generated from. A bundle in which the document
// element's declaration changed (here: a maxLength facet) is validated in
// full by libxml2, so the facet is enforced.
func TestPlainBase64NeedsTheGenerationBundle(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	if ok, err := v.ModelMatchesBundle("130101", ""); err != nil || !ok {
		t.Fatalf("the shared bundle should match the generated model: %v %v", ok, err)
	}
	src := sharedpath.MustFind("xrepository")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "xauslaender/26.11/xsd/xauslaender-nachrichten-ozg.xsd")
	xsdText, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	const decl = `<xs:element name="dokument" type="xs:base64Binary">`
	if !bytes.Contains(xsdText, []byte(decl)) {
		t.Fatal("the declaration of dokument changed in the bundle; adapt the test")
	}
	restricted := bytes.ReplaceAll(xsdText, []byte(decl), []byte(`<xs:element name="dokument" type="xauslaender:TestDokument16">`))
	restricted = bytes.Replace(restricted, []byte("</xs:schema>"), []byte(`<xs:simpleType name="TestDokument16"><xs:restriction base="xs:base64Binary"><xs:maxLength value="16"/></xs:restriction></xs:simpleType></xs:schema>`), 1)
	if err := os.WriteFile(f, restricted, 0o644); err != nil {
		t.Fatal(err)
	}
	changed, err := schemas.Open(dir, schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cv := xauslaender.NewValidator(changed)
	if ok, err := cv.ModelMatchesBundle("130101", ""); err != nil || ok {
		t.Fatalf("a changed bundle must not match the model: %v %v", ok, err)
	}
	data := sampleXML(t, "antrag-erwerbstaetigkeit")
	res := cv.Validate(data)
	if res.Valid {
		t.Fatal("the maxLength facet of the changed bundle was not enforced")
	}
	found := false
	for _, p := range res.Problems {
		found = found || (p.Kind == schemas.KindSchema && strings.Contains(p.Message, "length"))
	}
	if !found {
		t.Fatalf("%+v", res.Problems)
	}
	if r := v.Validate(data); !r.Valid {
		t.Fatalf("the shared bundle rejects the sample: %+v", r.Problems)
	}
}

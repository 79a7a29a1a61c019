package schemas

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/schemas/internal/libxml"
)

const nsXA = "http://www.osci.de/xauslaender2611"

var (
	bundleOnce sync.Once
	bundle     *Bundle
	bundleErr  error
)

// testBundle opens the real 26.11 bundle once per test binary.
func testBundle(t testing.TB) *Bundle {
	t.Helper()
	bundleOnce.Do(func() { bundle, bundleErr = Open(sharedpath.MustFind("xrepository"), Options{}) })
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundle
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestOpenIndexesTheBundle(t *testing.T) {
	b := testBundle(t)
	root, ok := b.Root(nsXA)
	if !ok || filepath.Base(root.Path) != "xinneres.xauslaender.xsd" {
		t.Fatalf("root for %s: %+v", nsXA, root)
	}
	if len(b.Files(nsXA)) != 20 {
		t.Errorf("%d files in %s", len(b.Files(nsXA)), nsXA)
	}
	rw, ok := b.Root("http://www.osci.de/xinneres/rueckweisung/6")
	if !ok || filepath.Base(rw.Path) != "xinneres-rueckweisung.xsd" {
		t.Errorf("rueckweisung root %+v", rw)
	}
	// The XÖV base schemas exist twice in the bundle (xoev/ and xdomea's
	// copy); the catalog's target must win.
	bn, _ := b.Root("http://xoev.de/schemata/basisnachricht/unqualified/g2g/1_1")
	if !strings.Contains(bn.Path, string(filepath.Separator)+"xoev"+string(filepath.Separator)) || strings.Contains(bn.Path, "xdomea") {
		t.Errorf("basisnachricht root %s", bn.Path)
	}
	if b.CodeLists().Len() == 0 {
		t.Error("no code lists")
	}
}

func TestValidDocument(t *testing.T) {
	b := testBundle(t)
	r := b.Validate(readTestdata(t, "ruecknahme.xml"), ValidateOptions{})
	if !r.Valid || r.Err() != nil {
		t.Fatalf("valid message rejected: %+v", r.Problems)
	}
	if r.Namespace != nsXA || r.Root != "OZG.Ruecknahme.130111" || r.Schema != "xauslaender/26.11/xsd/xinneres.xauslaender.xsd" {
		t.Errorf("result %+v", r)
	}
	if r.CodesChecked != 1 { // only nachrichtentyp says its listURI
		t.Errorf("checked %d codes", r.CodesChecked)
	}
}

// TestCodeLookup checks codes whose list the schema fixes (the document
// leaves listURI out), as a typed model supplies them.
func TestCodeLookup(t *testing.T) {
	b := testBundle(t)
	lookup := func(path string) (CodeRef, bool) {
		switch path {
		case "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/leser/verzeichnisdienst",
			"/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/autor/verzeichnisdienst":
			return CodeRef{ListURI: "urn:xoev-de:kosit:codeliste:verzeichnisdienst"}, true
		case "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/autor/erreichbarkeit/kanal":
			return CodeRef{ListURI: "urn:de:xoev:codeliste:erreichbarkeit"}, true
		}
		return CodeRef{}, false
	}
	data := readTestdata(t, "ruecknahme.xml")
	r := b.Validate(data, ValidateOptions{Codes: lookup})
	if !r.Valid || r.CodesChecked != 3 || r.CodesUnchecked != 1 {
		t.Fatalf("%+v", r)
	}
	// The erreichbarkeit list is not in the bundle: a warning, not an error.
	if len(r.Problems) != 1 || r.Problems[0].Severity != SeverityWarning || r.Problems[0].Kind != KindCodeList {
		t.Fatalf("problems %+v", r.Problems)
	}
	bad := bytes.Replace(data, []byte("<code>DVDV</code>"), []byte("<code>NOPE</code>"), 1)
	r = b.Validate(bad, ValidateOptions{Codes: lookup})
	p := only(t, r, KindCodeList)
	if p.Path != "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/leser/verzeichnisdienst" || p.Line != 12 ||
		!strings.Contains(p.Message, `code "NOPE" is not in code list urn:xoev-de:kosit:codeliste:verzeichnisdienst version 3`) {
		t.Fatalf("%+v", p)
	}
	strict, err := Open(b.Dir(), Options{StrictCodeLists: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := strict.Validate(data, ValidateOptions{Codes: lookup}); r.Valid {
		t.Fatal("strict mode accepted a code from a list that is not in the bundle")
	}
}

// only returns the single error problem of the given kind.
func only(t *testing.T, r *Result, kind string) Problem {
	t.Helper()
	if r.Valid {
		t.Fatalf("accepted: %+v", r)
	}
	var found []Problem
	for _, p := range r.Errors() {
		if p.Kind == kind {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		t.Fatalf("no %s problem in %+v", kind, r.Problems)
	}
	return found[0]
}

func TestInvalidDocuments(t *testing.T) {
	b := testBundle(t)
	good := string(readTestdata(t, "ruecknahme.xml"))
	cases := []struct {
		name       string
		doc        string
		kind, path string
		line       int
		msg        string
	}{
		{"missing required element",
			strings.Replace(good, "<kennung>abh:000100</kennung>", "", 1),
			KindSchema, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/leser/name", 16,
			"Element 'name': This element is not expected. Expected is ( kennung )."},
		{"wrong date-time format",
			strings.Replace(good, "2026-03-02T09:15:00+01:00", "02.03.2026 09:15", 1),
			KindSchema, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt", 9,
			"'02.03.2026 09:15' is not a valid value of the atomic type 'xs:dateTime'"},
		{"unknown message type code",
			strings.Replace(good, "<code>130111</code>", "<code>999999</code>", 1),
			KindSchema, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp/code", 7,
			"'999999' is not an element of the set"},
		{"wrong namespace",
			strings.Replace(good, `xmlns:xauslaender="http://www.osci.de/xauslaender2611"`, `xmlns:xauslaender="http://www.osci.de/xauslaender1211"`, 1),
			KindUnsupported, "/OZG.Ruecknahme.130111", 1,
			`namespace "http://www.osci.de/xauslaender1211": no schema in the bundle`},
		{"child in wrong namespace",
			strings.Replace(good, "<nachrichtenkopf.g2g>", `<nachrichtenkopf.g2g xmlns="urn:other">`, 1),
			KindSchema, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g", 3,
			"Element '{urn:other}nachrichtenkopf.g2g': This element is not expected."},
		{"wrong boolean",
			strings.Replace(good, "<xauslaender:rueckkanalVorhanden>true", "<xauslaender:rueckkanalVorhanden>ja", 1),
			KindSchema, "/OZG.Ruecknahme.130111/rueckkanalVorhanden", 41,
			"'ja' is not a valid value of the atomic type 'xs:boolean'"},
		{"fixed attribute",
			strings.Replace(good, `version="26.11"`, `version="26.10"`, 1),
			KindSchema, "/OZG.Ruecknahme.130111", 2,
			"The value '26.10' does not match the fixed value constraint '26.11'"},
		{"entity bomb",
			`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><lolz>&lol2;</lolz>`,
			KindXML, "", 1, "document type declarations (DTD, entities) are not allowed"},
		{"external entity",
			`<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`,
			KindXML, "", 1, "document type declarations (DTD, entities) are not allowed"},
		{"not well-formed",
			strings.Replace(good, "</leser>", "", 1),
			KindXML, "", 0, "not well-formed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.Validate([]byte(c.doc), ValidateOptions{})
			p := only(t, r, c.kind)
			if p.Path != c.path || (c.line != 0 && p.Line != c.line) || !strings.Contains(p.Message, c.msg) {
				t.Fatalf("got %s (path %q line %d), want %s at %s line %d containing %q\nall: %+v", p.Kind, p.Path, p.Line, c.kind, c.path, c.line, c.msg, r.Problems)
			}
			if len(r.Errors()) != 1 {
				t.Errorf("want exactly one error, got %+v", r.Problems)
			}
			var ie *InvalidError
			if err := r.Err(); !errors.As(err, &ie) || !strings.Contains(err.Error(), "invalid document") {
				t.Fatalf("Err() = %v", err)
			}
		})
	}
}

// TestCharacterReferences: predefined entities and character references are
// ordinary text for the streaming validator; only DTD-defined entities are
// refused.
func TestCharacterReferences(t *testing.T) {
	b := testBundle(t)
	doc := strings.Replace(string(readTestdata(t, "ruecknahme.xml")), "<name>STV Aalen</name>", "<name>STV &amp; Aalen &#228;&#x00FC;</name>", 1)
	if r := b.Validate([]byte(doc), ValidateOptions{}); !r.Valid {
		t.Fatalf("%+v", r.Problems)
	}
	s, _ := b.Schema(nsXA)
	out := s.x.Validate([]byte(strings.Replace(doc, "&amp;", "&nope;", 1)), &libxml.Request{Codes: true}, nil)
	if out.Status == 0 {
		t.Fatal("undefined entity accepted")
	}
}

func TestLimits(t *testing.T) {
	b, err := Open(testBundle(t).Dir(), Options{Limits: safexml.Limits{MaxBytes: 1000, MaxDepth: 4}})
	if err != nil {
		t.Fatal(err)
	}
	r := b.Validate(readTestdata(t, "ruecknahme.xml"), ValidateOptions{})
	if p := only(t, r, KindXML); !strings.Contains(p.Message, "document too large") {
		t.Fatal(p)
	}
	r = b.Validate([]byte("<a><b><c><d><e/></d></c></b></a>"), ValidateOptions{})
	if p := only(t, r, KindXML); !strings.Contains(p.Message, "nested too deeply") {
		t.Fatal(p)
	}
}

// TestLibxmlRefusesDTDItself checks the second lock: even when handed a
// document with a DTD directly (bypassing safexml), libxml2 loads nothing
// and substitutes nothing.
func TestLibxmlRefusesDTDItself(t *testing.T) {
	s, err := testBundle(t).Schema(nsXA)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(secret, []byte("TOP-SECRET"), 0o600)
	doc := `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://` + secret + `">]><x>&e;</x>`
	out := s.x.Validate([]byte(doc), &libxml.Request{Codes: true}, nil)
	if out.Status == 0 {
		t.Fatal("document with DTD passed")
	}
	for _, d := range out.Diags {
		if strings.Contains(d.Message, "TOP-SECRET") {
			t.Fatal("external entity was loaded")
		}
	}
}

func TestResolveStaysOffline(t *testing.T) {
	b := testBundle(t)
	if p, err := b.Resolve("http://www.osci.de/xinneres/datum/2/xinneres-datum.xsd"); err != nil || !strings.HasPrefix(p, b.Dir()) {
		t.Fatalf("%s %v", p, err)
	}
	for _, ref := range []string{"http://example.org/unmapped.xsd", "/etc/passwd", "file:///etc/hostname", filepath.Join(b.Dir(), "missing.xsd")} {
		if p, err := b.Resolve(ref); err == nil {
			t.Errorf("Resolve(%s) = %s", ref, p)
		}
	}
}

// writeBundle creates a small self-made bundle: a root schema in urn:t that
// imports urn:base through an absolute URL, mapped by the catalog to one of
// two base schemas that disagree on whether <v> is an integer.
func writeBundle(t *testing.T, baseType string, mapURL bool) string {
	dir := t.TempDir()
	w := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w("root.xsd", `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:b="urn:base" targetNamespace="urn:t" elementFormDefault="qualified">
  <xs:import namespace="urn:base" schemaLocation="http://schemas.example.org/base/1/base.xsd"/>
  <xs:element name="doc"><xs:complexType><xs:sequence><xs:element name="v" type="b:V"/></xs:sequence></xs:complexType></xs:element>
</xs:schema>`)
	w("base.xsd", `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:base">
  <xs:simpleType name="V"><xs:restriction base="`+baseType+`"/></xs:simpleType>
</xs:schema>`)
	entry := ""
	if mapURL {
		entry = `<system systemId="http://schemas.example.org/base/1/base.xsd" uri="base.xsd"/>`
	}
	w("catalog.xml", `<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">`+entry+`</catalog>`)
	return dir
}

func TestTwoBundlesInOneProcess(t *testing.T) {
	ints, err := Open(writeBundle(t, "xs:integer", true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	strs, err := Open(writeBundle(t, "xs:string", true), Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := []byte(`<doc xmlns="urn:t"><v>abc</v></doc>`)
	if r := strs.Validate(doc, ValidateOptions{}); !r.Valid {
		t.Fatalf("string bundle: %+v", r.Problems)
	}
	if r := ints.Validate(doc, ValidateOptions{}); r.Valid {
		t.Fatal("integer bundle accepted abc: the catalogs of two bundles got mixed up")
	}
	// The real bundle still works alongside.
	if r := testBundle(t).Validate(readTestdata(t, "ruecknahme.xml"), ValidateOptions{}); !r.Valid {
		t.Fatal(r.Problems)
	}
}

// TestExtraChecks covers what the typed model asks for beyond the XSD:
// strict base64 (libxml2 2.9 skips foreign characters) and non-empty
// mandatory text.
func TestExtraChecks(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.xsd"), []byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" elementFormDefault="qualified">
  <xs:element name="doc"><xs:complexType><xs:sequence>
    <xs:element name="data" type="xs:base64Binary" maxOccurs="unbounded"/>
    <xs:element name="name" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:schema>`), 0o644)
	b, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := ValidateOptions{Base64: []string{"/doc/data"}, NonEmpty: []string{"/doc/name"}}
	ok := []byte(`<doc xmlns="urn:t"><data>SGVs bG8=</data><data/><name>x</name></doc>`)
	if r := b.Validate(ok, o); !r.Valid {
		t.Fatalf("%+v", r.Problems)
	}
	cases := map[string]string{
		`<doc xmlns="urn:t"><data>SGVsbG8=</data><data>%%SGVsbG8=</data><name>x</name></doc>`: "/doc/data[2]: Element 'data': not a valid value of the atomic type 'xs:base64Binary': character outside the base64 alphabet.",
		`<doc xmlns="urn:t"><data>SGVsbG8</data><name>x</name></doc>`:                         "not a valid value of the atomic type 'xs:base64Binary'", // libxml2 catches these itself
		`<doc xmlns="urn:t"><data>SGVsbG9=</data><name>x</name></doc>`:                        "not a valid value of the atomic type 'xs:base64Binary'", // libxml2 catches these itself
		`<doc xmlns="urn:t"><data>SG=sbG8=</data><name>x</name></doc>`:                        "not a valid value of the atomic type 'xs:base64Binary'", // libxml2 catches these itself
		`<doc xmlns="urn:t"><data>SGVsbG8=</data><name></name></doc>`:                         "/doc/name: Element 'name': a mandatory element of type din91379:datatypeC is empty (XInneres error code S030).",
	}
	for doc, want := range cases {
		r := b.Validate([]byte(doc), o)
		if r.Valid || len(r.Errors()) != 1 || !strings.Contains(r.Errors()[0].Path+": "+r.Errors()[0].Message, want) {
			t.Errorf("%s: %+v, want %q", doc, r.Problems, want)
		}
	}
	// Without the options, libxml2 alone accepts the foreign characters.
	if r := b.Validate([]byte(`<doc xmlns="urn:t"><data>%%SGVsbG8=</data><name></name></doc>`), ValidateOptions{}); !r.Valid {
		t.Logf("libxml2 now rejects non-alphabet base64 itself: %+v", r.Problems)
	}
}

func TestCompileFailureFailsClosed(t *testing.T) {
	b, err := Open(writeBundle(t, "xs:string", false), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Schema("urn:t")
	if err == nil || !strings.Contains(err.Error(), "http://schemas.example.org/base/1/base.xsd is not mapped by") {
		t.Fatalf("compile error %v", err)
	}
	r := b.Validate([]byte(`<doc xmlns="urn:t"><v>abc</v></doc>`), ValidateOptions{})
	if p := only(t, r, KindInternal); !strings.Contains(p.Message, "not mapped") {
		t.Fatal(p)
	}
	// The failure is cached, not retried into a pass.
	if r := b.Validate([]byte(`<doc xmlns="urn:t"><v>abc</v></doc>`), ValidateOptions{}); r.Valid {
		t.Fatal("second validation passed")
	}
}

// TestCompileKeepsStderrClean: libxml2 warns "Skipping import ... already
// imported" while compiling the 26.11 set; those must not reach stderr.
func TestCompileKeepsStderrClean(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Dup2(int(w.Fd()), 2)
	b, err := Open(sharedpath.MustFind("xrepository"), Options{}) // a fresh bundle compiles anew
	if err == nil {
		_, err = b.Schema(nsXA)
	}
	syscall.Dup2(saved, 2)
	syscall.Close(saved)
	w.Close()
	var out bytes.Buffer
	out.ReadFrom(r)
	if err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("compile wrote to stderr: %q", out.String())
	}
}

// TestValidationKeepsStderrClean: libxml2 reports parse and validity
// errors to us, never to stderr, even for documents safexml would refuse.
func TestValidationKeepsStderrClean(t *testing.T) {
	s, err := testBundle(t).Schema(nsXA)
	if err != nil {
		t.Fatal(err)
	}
	good := string(readTestdata(t, "ruecknahme.xml"))
	docs := []string{
		strings.Replace(good, "STV Aalen", "&nope;", 1),
		strings.Replace(good, "</leser>", "", 1),
		`<!DOCTYPE x [<!ENTITY e "v">]><x>&e;</x>`,
		strings.Replace(good, "<code>130111</code>", "<code>1</code>", 1),
	}
	r, w, _ := os.Pipe()
	saved, _ := syscall.Dup(2)
	syscall.Dup2(int(w.Fd()), 2)
	for _, d := range docs {
		if out := s.x.Validate([]byte(d), &libxml.Request{Codes: true}, nil); out.Status == 0 || len(out.Diags) == 0 {
			t.Errorf("accepted or no message: %+v", out)
		}
	}
	syscall.Dup2(saved, 2)
	syscall.Close(saved)
	w.Close()
	var buf bytes.Buffer
	buf.ReadFrom(r)
	if buf.Len() != 0 {
		t.Fatalf("stderr: %q", buf.String())
	}
}

func TestConcurrentValidation(t *testing.T) {
	b := testBundle(t)
	good := readTestdata(t, "ruecknahme.xml")
	bad := bytes.Replace(good, []byte("<code>130111</code>"), []byte("<code>1</code>"), 1)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				doc, want := good, true
				if (g+i)%2 == 1 {
					doc, want = bad, false
				}
				if r := b.Validate(doc, ValidateOptions{}); r.Valid != want {
					errs <- fmt.Errorf("goroutine %d iteration %d: valid=%v want %v: %+v", g, i, r.Valid, want, r.Problems)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRootName(t *testing.T) {
	cases := []struct{ in, ns, local string }{
		{`<a:x xmlns:a="urn:a"/>`, "urn:a", "x"},
		{`<?xml version="1.0"?><!-- c --><x xmlns="urn:d"><y/></x>`, "urn:d", "x"},
		{`<x/>`, "", "x"},
		{"\ufeff<?xml version=\"1.0\"?>\n<!DOCTYPE x>\n<p:x\n  a='1' xmlns:p = 'urn:a&amp;b'>", "urn:a&b", "x"},
		{`<x xmlns:y="urn:y" xmlns="urn:d">`, "urn:d", "x"},
	}
	for _, c := range cases {
		ns, local, err := RootName([]byte(c.in))
		if err != nil || ns != c.ns || local != c.local {
			t.Errorf("RootName(%s) = %q %q %v", c.in, ns, local, err)
		}
	}
	for _, bad := range []string{`<p:x/>`, ``, `<?xml`, `<x a=1>`, `<x a="1>`, `<!-- x`} {
		if _, _, err := RootName([]byte(bad)); err == nil {
			t.Errorf("RootName(%q) accepted", bad)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	if d, err := DefaultDir(func(k string) string {
		if k == EnvDir {
			return "/some/bundle"
		}
		return ""
	}); err != nil || d != "/some/bundle" {
		t.Fatalf("%s %v", d, err)
	}
	if d, err := DefaultDir(func(string) string { return "" }); err != nil || filepath.Base(d) != "xrepository" {
		t.Fatalf("%s %v", d, err)
	}
}

func TestSchemaCompiledOnce(t *testing.T) {
	b, err := Open(testBundle(t).Dir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]*Schema, 8)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i], _ = b.Schema(nsXA)
		}(i)
	}
	wg.Wait()
	for _, s := range got {
		if s == nil || s != got[0] {
			t.Fatal("schema compiled more than once or not at all")
		}
	}
}

func TestProblemsStayOutOfLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	p := Problem{Kind: KindSchema, Severity: SeverityError, Path: "/a/familienname", Line: 3, Message: "Element 'familienname': 'Mustermann' is not accepted"}
	log.Info("invalid", "problem", p)
	if strings.Contains(buf.String(), "Mustermann") || !strings.Contains(buf.String(), "problem.path=/a/familienname") {
		t.Fatalf("%s", buf.String())
	}
}

func TestStripIndices(t *testing.T) {
	for in, want := range map[string]string{"/a/b[2]/c[10]": "/a/b/c", "/a": "/a", "/a[": "/a[", "": ""} {
		if got := StripIndices(in); got != want {
			t.Errorf("StripIndices(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCaptureAndTokens: values asked for are read in the validation pass
// (first occurrence, attributes, truncation), and the tokens of a valid
// document are handed over once, with resolved names and text.
func TestCaptureAndTokens(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.xsd"), []byte(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" elementFormDefault="qualified">
  <xs:element name="doc"><xs:complexType><xs:sequence>
    <xs:element name="data" type="xs:base64Binary" maxOccurs="unbounded"/>
    <xs:element name="name" type="xs:string" maxOccurs="unbounded"/>
    <xs:element name="kopf" minOccurs="0"><xs:complexType><xs:sequence>
      <xs:element name="id" type="xs:string"/>
    </xs:sequence></xs:complexType></xs:element>
  </xs:sequence><xs:attribute name="version" type="xs:string"/></xs:complexType></xs:element>
</xs:schema>`), 0o644)
	b, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxCapture+10)
	doc := []byte("<doc xmlns=\"urn:t\" version=\"1 &amp; 2\">\n<data>SGVs bG8=</data><data>AAAA</data>\n<name>first &lt;one&gt;</name><name>second</name>\n<name>" + long + "</name></doc>")
	o := ValidateOptions{PlainBase64: []string{"/doc/data"}, Capture: []string{"/doc/@version", "/doc/name", "/doc/data", "/doc/kopf/id", "/doc/@missing", "/doc/name"}}
	var toks []string
	o.Tokens = func(tr *Tokens) {
		var text []byte // an element's text may come in pieces
		for {
			tok, ok, err := tr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			if tok.Kind != Text && strings.TrimSpace(string(text)) != "" {
				toks = append(toks, fmt.Sprintf("%.20s", text))
			}
			if tok.Kind != Text {
				text = text[:0]
			}
			switch tok.Kind {
			case StartElement:
				s := fmt.Sprintf("<{%s}%s@%d", tok.Space, tok.Local, tok.Line)
				for _, a := range tok.Attrs {
					s += fmt.Sprintf(" %s=%q", a.Local, a.Value)
				}
				toks = append(toks, s)
			case Text:
				text = append(text, tok.Text...)
			case EndElement:
				toks = append(toks, "/")
			}
		}
	}
	r := b.Validate(doc, o)
	if !r.Valid {
		t.Fatalf("%+v", r.Problems)
	}
	c := r.Captures
	if len(c) != 6 {
		t.Fatalf("%d captures", len(c))
	}
	if !c[0].Present || c[0].Value != "1 & 2" || c[0].Line != 1 {
		t.Errorf("attribute: %+v", c[0])
	}
	if !c[1].Present || c[1].Value != "first <one>" || c[1].Line != 3 {
		t.Errorf("first occurrence: %+v", c[1])
	}
	if !c[2].Present || c[2].Value != "SGVs bG8=" {
		t.Errorf("base64 element: %+v", c[2])
	}
	if c[3].Present || c[4].Present {
		t.Errorf("absent paths captured: %+v %+v", c[3], c[4])
	}
	if c[5].Present {
		t.Errorf("a repeated capture path is read once, for its first entry: %+v", c[5])
	}
	want := `<{urn:t}doc@1 version="1 & 2"|<{urn:t}data@2|SGVs bG8=|/|<{urn:t}data@2|AAAA|/|<{urn:t}name@3|first <one>|/|<{urn:t}name@3|second|/|<{urn:t}name@4|xxxxxxxxxxxxxxxxxxxx|/|/`
	if got := strings.Join(toks, "|"); got != want {
		t.Errorf("tokens\n got %s\nwant %s", got, want)
	}
	// Truncation is reported.
	o2 := ValidateOptions{Capture: []string{"/doc/name"}}
	longFirst := bytes.Replace(doc, []byte("<name>first &lt;one&gt;</name>"), nil, 1)
	longFirst = bytes.Replace(longFirst, []byte("<name>second</name>"), nil, 1)
	if r := b.Validate(longFirst, o2); !r.Captures[0].Truncated || len(r.Captures[0].Value) != MaxCapture {
		t.Errorf("truncation: %+v", r.Captures[0].Truncated)
	}
	// No tokens for an invalid document; captures still.
	called := false
	o.Tokens = func(*Tokens) { called = true }
	r = b.Validate(bytes.Replace(doc, []byte("AAAA"), []byte("AAA%"), 1), o)
	if r.Valid || called {
		t.Fatalf("valid %v, tokens %v", r.Valid, called)
	}
	if len(r.Captures) != 6 || !r.Captures[1].Present {
		t.Fatalf("captures of an invalid document: %+v", r.Captures)
	}
	if p := r.Errors(); len(p) != 1 || p[0].Path != "/doc/data[2]" || !strings.Contains(p[0].Message, "outside the base64 alphabet") {
		t.Fatalf("plain base64 is still checked strictly: %+v", p)
	}
	// Not well-formed: nothing captured, no tokens.
	r = b.Validate([]byte(`<doc xmlns="urn:t">`), o)
	if r.Valid || len(r.Captures) != 0 || called {
		t.Fatalf("%+v", r)
	}
}

// TestManySiblingNames: an element with thousands of differently named
// children (the per-frame sibling table grows) is reported, and the pooled
// context validates the next document normally.
func TestManySiblingNames(t *testing.T) {
	b := testBundle(t)
	var doc strings.Builder
	doc.WriteString(`<x:OZG.Ruecknahme.130111 xmlns:x="http://www.osci.de/xauslaender2611">`)
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&doc, "<e%d/>", i)
	}
	doc.WriteString(`</x:OZG.Ruecknahme.130111>`)
	for i := 0; i < 3; i++ {
		if r := b.Validate([]byte(doc.String()), ValidateOptions{Capture: []string{"/OZG.Ruecknahme.130111/e19999"}}); r.Valid || len(r.Captures) != 1 || !r.Captures[0].Present {
			t.Fatalf("valid %v, captures %+v", r.Valid, r.Captures)
		}
		if r := b.Validate(readTestdata(t, "ruecknahme.xml"), ValidateOptions{}); !r.Valid {
			t.Fatalf("%+v", r.Problems)
		}
	}
}

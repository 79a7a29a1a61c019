package xsdgen

import (
	"bytes"
	"go/ast"
	"go/importer"
	goparser "go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/schemas"
)

// The command recorded in the committed generated code; the up-to-date
// check regenerates with the same one.
const command = "make generate (go generate ./xauslaender)"

// TestGeneratedCodeIsUpToDate regenerates the model from the official
// bundle and compares it with the committed code, so the committed code is
// exactly what `make generate` produces.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	b, err := schemas.Open(sharedpath.MustFind("xrepository"), schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	files, err := GenerateAll(b, out, command)
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join("..", "..", "xauslaender")
	for _, f := range files {
		rel, _ := filepath.Rel(out, f)
		got, _ := os.ReadFile(f)
		committed, err := os.ReadFile(filepath.Join(repo, rel))
		if err != nil {
			t.Fatalf("%s is generated but not committed: %v", rel, err)
		}
		if !bytes.Equal(got, committed) {
			t.Errorf("xauslaender/%s is out of date; run make generate", rel)
		}
	}
}

// A self-made miniature bundle in the shape of an XAusländer release with a
// different version (1.21.1): the generator must handle it without any
// code change, and pick up an XInneres Quittung schema when one is present.
var miniBundle = map[string]string{
	"catalog.xml": `<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">
  <system systemId="http://xoev.de/schemata/code/1_0/xoev-code.xsd" uri="base/code.xsd"/>
  <rewriteSystem systemIdStartString="http://www.osci.de/xinneres/quittung/3/" rewritePrefix="xinneres/"/>
</catalog>`,
	"base/code.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://xoev.de/schemata/code/1_0" elementFormDefault="qualified">
  <xs:complexType name="Code">
    <xs:sequence>
      <xs:element name="code" type="xs:token" form="unqualified"/>
      <xs:element name="name" type="xs:normalizedString" minOccurs="0" form="unqualified"/>
    </xs:sequence>
    <xs:attribute name="listURI" type="xs:anyURI"/>
    <xs:attribute name="listVersionID" type="xs:normalizedString"/>
  </xs:complexType>
</xs:schema>`,
	"xa/xinneres.xauslaender.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.osci.de/xauslaender1211" version="1.21.1" elementFormDefault="qualified">
  <xs:include schemaLocation="ozg.xsd"/>
</xs:schema>`,
	"xa/ozg.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xauslaender="http://www.osci.de/xauslaender1211"
    xmlns:xoev-code="http://xoev.de/schemata/code/1_0" targetNamespace="http://www.osci.de/xauslaender1211" version="1.21.1" elementFormDefault="qualified">
  <xs:import namespace="http://xoev.de/schemata/code/1_0" schemaLocation="http://xoev.de/schemata/code/1_0/xoev-code.xsd"/>
  <xs:complexType name="Nachricht.G2G.XA">
    <xs:sequence>
      <xs:element name="nachrichtenkopf.g2g" type="xs:string" form="unqualified"/>
    </xs:sequence>
    <xs:attribute name="version" type="xs:string" use="required" fixed="1.21.1"/>
  </xs:complexType>
  <xs:complexType name="OZG.Basisnachricht">
    <xs:complexContent>
      <xs:extension base="xauslaender:Nachricht.G2G.XA">
        <xs:sequence><xs:element name="antragsidentifikation" type="xs:string"/></xs:sequence>
      </xs:extension>
    </xs:complexContent>
  </xs:complexType>
  <xs:complexType name="Code.OZG.Antragsgrund">
    <xs:annotation><xs:appinfo><codeliste><kennung>urn:test:antragsgrund</kennung><nameLang>Antragsgrund</nameLang></codeliste></xs:appinfo></xs:annotation>
    <xs:complexContent>
      <xs:restriction base="xoev-code:Code">
        <xs:sequence><xs:element name="code" type="xs:token" form="unqualified"/></xs:sequence>
        <xs:attribute name="listURI" type="xs:anyURI" fixed="urn:test:antragsgrund"/>
        <xs:attribute name="listVersionID" type="xs:normalizedString" use="required"/>
      </xs:restriction>
    </xs:complexContent>
  </xs:complexType>
  <xs:complexType name="Foto">
    <xs:simpleContent>
      <xs:extension base="xs:base64Binary"><xs:attribute name="mimeType" type="xs:string" use="required"/></xs:extension>
    </xs:simpleContent>
  </xs:complexType>
  <xs:element name="OZG.Antrag.130101">
    <xs:annotation><xs:appinfo><title>Antrag</title><autor>EV</autor><leser>ABH</leser></xs:appinfo></xs:annotation>
    <xs:complexType>
      <xs:complexContent>
        <xs:extension base="xauslaender:OZG.Basisnachricht">
          <xs:sequence>
            <xs:element name="antragsdatum" type="xs:date"/>
            <xs:element name="grundDesAntrags" type="xauslaender:Code.OZG.Antragsgrund"/>
            <xs:element name="person" maxOccurs="unbounded">
              <xs:complexType>
                <xs:sequence>
                  <xs:choice>
                    <xs:element name="name" type="xs:string"/>
                    <xs:element name="unbekannt" type="xs:boolean" fixed="true"/>
                  </xs:choice>
                  <xs:element name="foto" type="xauslaender:Foto" minOccurs="0"/>
                </xs:sequence>
              </xs:complexType>
            </xs:element>
            <xs:element name="anzahl" type="xs:positiveInteger" minOccurs="0"/>
            <xs:element name="scan" type="xs:base64Binary" minOccurs="0"/>
            <xs:element name="scanNillable" type="xs:base64Binary" minOccurs="0" nillable="true"/>
            <xs:element name="scanDefault" type="xs:base64Binary" minOccurs="0" default="AAAA"/>
            <xs:element name="scanKurz" minOccurs="0">
              <xs:simpleType><xs:restriction base="xs:base64Binary"><xs:maxLength value="8"/></xs:restriction></xs:simpleType>
            </xs:element>
          </xs:sequence>
        </xs:extension>
      </xs:complexContent>
    </xs:complexType>
  </xs:element>
  <xs:element name="Intern.Nicht.OZG" type="xs:string"/>
</xs:schema>`,
	"xinneres/xinneres-quittung.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.osci.de/xinneres/quittung/3" elementFormDefault="unqualified">
  <xs:element name="quittung.0020">
    <xs:complexType><xs:sequence><xs:element name="nachrichtenUUID" type="xs:string"/></xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>`,
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestAnotherVersionNeedsNoCodeChange(t *testing.T) {
	b, err := schemas.Open(writeTree(t, miniBundle), schemas.Options{})
	if err != nil {
		t.Fatal(err)
	}
	versions, err := FindVersions(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 1 || versions[0].Version != "1.21.1" || versions[0].Package != "v1211" {
		t.Fatalf("%+v", versions)
	}
	out := t.TempDir()
	files, err := GenerateAll(b, out, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("%v", files)
	}
	src, _ := os.ReadFile(filepath.Join(out, "v1211", "types_gen.go"))
	for _, want := range []string{
		"package v1211",
		`const Version = "1.21.1"`,
		`Namespace: "http://www.osci.de/xauslaender1211"`,
		`{Code: "130101", Namespace: "http://www.osci.de/xauslaender1211", Element: "OZG.Antrag.130101", Title: "Antrag", Autor: "EV", Leser: "ABH"`,
		// The Quittung schema in the bundle is picked up.
		`{Code: "0020", Namespace: "http://www.osci.de/xinneres/quittung/3", Element: "quittung.0020"`,
		// Extension embeds the base, base first.
		"type OZGAntrag130101 struct {\n\tOZGBasisnachricht\n",
		"type OZGBasisnachricht struct {\n\tNachrichtG2GXA\n",
		// form="unqualified" frame child, qualified content.
		"NachrichtenkopfG2G string `xsd:\"nachrichtenkopf.g2g\" json:\"nachrichtenkopfG2G\"`",
		"Antragsdatum xsd.Date `xsd:\"antragsdatum,ns=http://www.osci.de/xauslaender1211\" json:\"antragsdatum\"`",
		"Version string `xsd:\"version,attr,fixed=1.21.1\" json:\"version\"`",
		// Restriction of the code type: restricted content, inherited and overridden attributes.
		"ListURI *string `xsd:\"listURI,attr,fixed=urn:test:antragsgrund\" json:\"listURI,omitempty\"`",
		"ListVersionID string `xsd:\"listVersionID,attr\" json:\"listVersionID,omitempty\"`",
		`return xsd.CodeList{URI: "urn:test:antragsgrund", Version: "", URIFixed: true, VersionFixed: false, Enumerated: false, Name: "Antragsgrund"}`,
		// Anonymous type, repeated, with a choice and simple content.
		"Person []OZGAntrag130101Person `xsd:\"person,ns=http://www.osci.de/xauslaender1211,min=1\" json:\"person\"`",
		"Name *string `xsd:\"name,ns=http://www.osci.de/xauslaender1211,choice=1\" json:\"name,omitempty\"`",
		"Value []byte `xsd:\",text\" json:\"value\"`",
		"Anzahl *int64 `xsd:\"anzahl,ns=http://www.osci.de/xauslaender1211\" json:\"anzahl,omitempty\"`",
		// Only an element of type xs:base64Binary itself, without value
		// constraint or nil, is plain (a validator may keep its text from
		// libxml2); facets, defaults and xsi:nil need libxml2 to see it.
		"Scan *[]byte `xsd:\"scan,ns=http://www.osci.de/xauslaender1211,plain\" json:\"scan,omitempty\"`",
		"ScanNillable *[]byte `xsd:\"scanNillable,ns=http://www.osci.de/xauslaender1211\" json:\"scanNillable,omitempty\"`",
		"ScanDefault *[]byte `xsd:\"scanDefault,ns=http://www.osci.de/xauslaender1211\" json:\"scanDefault,omitempty\"`",
		"ScanKurz *[]byte `xsd:\"scanKurz,ns=http://www.osci.de/xauslaender1211\" json:\"scanKurz,omitempty\"`",
		// A type that only adds attributes to xs:base64Binary: the element's text is plain.
		"Foto *Foto `xsd:\"foto,ns=http://www.osci.de/xauslaender1211,plain\" json:\"foto,omitempty\"`",
		// The compiled files with their hashes (the catalog too).
		`{Path: "xa/ozg.xsd", SHA256: "`,
		`{Path: "catalog.xml", SHA256: "`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("generated code lacks %q", want)
		}
	}
	if strings.Contains(string(src), "Intern.Nicht.OZG") {
		t.Error("non-OZG root element generated")
	}
	reg, _ := os.ReadFile(filepath.Join(out, "versions_gen.go"))
	if !strings.Contains(string(reg), `"github.com/xagw/xagw/xauslaender/v1211"`) || !strings.Contains(string(reg), "&v1211.Spec,") {
		t.Errorf("versions_gen.go:\n%s", reg)
	}
	typeCheck(t, filepath.Join(out, "v1211", "types_gen.go"))
}

// typeCheck type-checks a generated file against the real xsd runtime.
func typeCheck(t *testing.T, file string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := goparser.ParseFile(fset, file, nil, goparser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("generated", fset, []*ast.File{f}, nil); err != nil {
		t.Fatalf("generated code does not type-check: %v", err)
	}
}

func TestUnsupportedConstructsAreErrors(t *testing.T) {
	cases := map[string]string{
		"xs:any":               `<xs:sequence><xs:any/></xs:sequence>`,
		"repeated xs:sequence": `<xs:sequence maxOccurs="2"><xs:element name="a" type="xs:string"/></xs:sequence>`,
		"xs:choice":            `<xs:choice><xs:sequence><xs:element name="a" type="xs:string"/></xs:sequence></xs:choice>`,
		"xs:group":             `<xs:group ref="g"/>`,
		"element references":   `<xs:sequence><xs:element ref="x"/></xs:sequence>`,
		"xs:anyType":           `<xs:sequence><xs:element name="a"/></xs:sequence>`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{
				"catalog.xml": `<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog"/>`,
				"x/root.xsd": `<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.osci.de/xauslaender9999" version="99.99" elementFormDefault="qualified">
  <xs:element name="OZG.Test.130101"><xs:complexType>` + content + `</xs:complexType></xs:element>
</xs:schema>`,
			}
			b, err := schemas.Open(writeTree(t, files), schemas.Options{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = GenerateAll(b, t.TempDir(), "")
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "root.xsd") {
				t.Fatalf("want an error naming %s and the file, got %v", name, err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	cases := map[string]string{
		"nachrichtenkopf.g2g":   "NachrichtenkopfG2G",
		"OZG.Antrag.130101":     "OZGAntrag130101",
		"ausloeserUUID":         "AusloeserUUID",
		"Code.OZG.Antragsgrund": "CodeOZGAntragsgrund",
		"hausnummern.bis":       "HausnummernBis",
		"bn-uq-g2g":             "BnUqG2G",
		"größe":                 "Große",
	}
	for in, want := range cases {
		if got := goName(in); got != want {
			t.Errorf("goName(%q) = %q, want %q", in, got, want)
		}
	}
	if jsonName("anschrift.autor", "AnschriftAutor") != "anschriftAutor" || jsonName("antragsdatum", "Antragsdatum") != "antragsdatum" {
		t.Error("jsonName")
	}
	if got := escapeTag("XAusländer, a%b"); got != "XAusl%C3%A4nder%2C a%25b" {
		t.Errorf("escapeTag: %s", got)
	}
	if TypeCode("OZG.Antrag.130101") != "130101" || TypeCode("rueckweisung.asynchron.0010") != "0010" || TypeCode("OZG.Person") != "" {
		t.Error("TypeCode")
	}
}

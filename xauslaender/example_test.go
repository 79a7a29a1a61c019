package xauslaender_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
	"github.com/xagw/xagw/xauslaender/v2611"
)

// A form backend posts the content of an application as JSON; the gateway
// turns it into a complete, valid XAusländer message for an office.
func Example() {
	bundle, err := schemas.OpenDefault() // $XAGW_SCHEMAS or ../shared/xrepository
	if err != nil {
		fmt.Println(err)
		return
	}
	// 1. The content, as a form backend sends it (see JSON.md).
	body := []byte(`{
	  "antragsidentifikation": "OZG-AT-2026-000999",
	  "rueckkanalVorhanden": true,
	  "antragsdatum": "2026-03-01",
	  "grundDesAntrags": "02",
	  "grundDesAufenthalts": "03",
	  "angabenZurPerson": {
	    "vorname": {"name": "Arjun"}, "familienname": {"name": "Mustermann"},
	    "geschlecht": {"geschlecht": "m"},
	    "geburt": {"geburtsort": {"ort": "Pune"}, "tagDerGeburt": {"teilbekanntesDatum": {"jahrMonatTag": "1994-05-17"}}},
	    "familienstand": {"familienstand": "LD"},
	    "staatsangehoerigkeit": [{"staatsangehoerigkeit": {"code": "436", "listVersionID": "2021-02-19"}}]
	  }
	}`)
	msg, err := xauslaender.FromJSON("130101", "", body)
	if err != nil {
		fmt.Println(err)
		return
	}
	// 2. The frame: reader from the ABH code list, author, UUID, time, codes.
	abh, _ := xauslaender.NewABHDirectory(bundle)
	leser, err := abh.Leser("000100")
	if err != nil {
		fmt.Println(err)
		return
	}
	sender := &xauslaender.Sender{
		Produkt: "xagw", Produkthersteller: "xagw project",
		Autor:          xauslaender.Behoerde{Kennung: "ozgev:000000000001", Name: "Online-Dienst Aufenthaltstitel (Muster)"},
		Erreichbarkeit: []xauslaender.Erreichbarkeit{{Kanal: "01", KanalListVersion: "3", Kennung: "poststelle@online-dienst.example.org"}},
		Anschrift:      xauslaender.Anschrift{Strasse: "Musterallee", Hausnummer: "7", Postleitzahl: "10117", Ort: "Berlin"},
		Bundle:         bundle,
		Now:            func() time.Time { return time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC) },
		NewUUID:        func() string { return "3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b" },
	}
	if err := sender.Prepare(msg, leser); err != nil {
		fmt.Println(err)
		return
	}
	// 3. Validate against the official XSDs and code lists; marshal.
	res, xml, err := xauslaender.NewValidator(bundle).ValidateMessage(msg)
	if err != nil {
		fmt.Println(err)
		return
	}
	h := xauslaender.HeaderOf(msg)
	fmt.Println("valid:", res.Valid, "errors:", len(res.Errors()))
	fmt.Println(h.Nachrichtentyp, h.NachrichtenUUID, h.Erstellungszeitpunkt)
	fmt.Println("to", h.Leser.Kennung, h.Leser.Name)
	fmt.Println(len(xml) > 2000)
	// Output:
	// valid: true errors: 0
	// 130101 3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b 2026-03-02T09:15:00Z
	// to abh:000100 STV Aalen
	// true
}

// Parse an incoming reply and link it to the application it answers.
func ExampleParse() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := samples.Lookup("statusmeldung")
	data, _ := s.XML(bundle) // as fetched from the mailbox
	msg, err := xauslaender.Parse(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(msg.Version, msg.Code, msg.Element)
	fmt.Println("answers", msg.Header.AusloeserUUID, "of", msg.Header.Antragsidentifikation)
	fmt.Println("from", msg.Header.Autor.Prefix(), msg.Header.Autor.Key())
	status := msg.Body.(*v2611.OZGStatusmeldung130104)
	fmt.Println("status", status.Status.Code)
	// Output:
	// 26.11 130104 OZG.Statusmeldung.130104
	// answers a69977bc-8118-4297-98fa-ffd786000066 of OZG-AT-2026-000451
	// from abh 000100
	// status 01
}

// Look up a foreign-residents office by its key (code list abhkennung).
func ExampleABHDirectory_Lookup() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	dir, _ := xauslaender.NewABHDirectory(bundle)
	abh, err := dir.Lookup("000101")
	fmt.Println(abh.Name, abh.Bundesland, err)
	k, _ := dir.Kennung("000101")
	fmt.Println(k)
	_, err = dir.Lookup("123456")
	fmt.Println(err)
	// Output:
	// ZAB Regierungspräsidium Kassel Hessen <nil>
	// abh:000101
	// xauslaender: ABH key "123456": not a key of a foreign-residents office in the ABH code list urn:de:xauslaender:codelist:abhkennung version 64.0
}

// Validation reports every problem with path and line, shaped for an HTTP
// 422 body.
func ExampleValidator_Validate() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := samples.Lookup("ruecknahme")
	m, _ := s.Build(bundle)
	m.(*v2611.OZGRuecknahme130111).Antragsidentifikation = ""
	m.(*v2611.OZGRuecknahme130111).NachrichtenkopfG2G.IdentifikationNachricht.Erstellungszeitpunkt = "gestern"
	res, _, _ := xauslaender.NewValidator(bundle).ValidateMessage(m)
	fmt.Println("valid:", res.Valid)
	for _, p := range res.Errors() {
		fmt.Printf("%s line %d %s\n", p.Kind, p.Line, p.Path)
	}
	// Output:
	// valid: false
	// schema line 9 /OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt
	// schema line 40 /OZG.Ruecknahme.130111/antragsidentifikation
}

// The gateway's accept path: validate an untrusted message and read it,
// from one pass over the document. A message that breaks a header rule an
// office applies (here: a Rücknahme that calls itself an application) is
// refused with a problem of kind "header", although XSD and code lists
// accept it.
func ExampleValidator_ValidateAndParse() {
	bundle, err := schemas.OpenDefault()
	if err != nil {
		fmt.Println(err)
		return
	}
	v := xauslaender.NewValidator(bundle)
	s, _ := samples.Lookup("ruecknahme")
	data, _ := s.XML(bundle) // as posted to the gateway

	res, msg, err := v.ValidateAndParse(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Valid, msg.Code, msg.Header.NachrichtenUUID, msg.Header.Leser.Kennung)
	rn := msg.Body.(*v2611.OZGRuecknahme130111)
	fmt.Println(rn.Antragsidentifikation)

	wrong := []byte(strings.Replace(string(data), "<code>130111</code>", "<code>130101</code>", 1))
	res, msg, _ = v.ValidateAndParse(wrong)
	fmt.Println(res.Valid, msg.Typed(), msg.Header.NachrichtenUUID)
	for _, p := range res.Errors() {
		fmt.Printf("%s line %d %s\n%s\n", p.Kind, p.Line, p.Path, p.Message)
	}
	// Output:
	// true 130111 f7429a9c-00bb-4ac5-bed4-1e50c2524966 abh:000100
	// OZG-AT-2026-000451
	// false false f7429a9c-00bb-4ac5-bed4-1e50c2524966
	// header line 7 /OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp
	// nachrichtentyp "130101" does not match the root element OZG.Ruecknahme.130111 (type 130111)
}

// Read the header of a message that cannot be validated (here: an unknown
// XAusländer version), for example to answer it with a Rückweisung.
func ExampleReadHeader() {
	doc := []byte(`<x:OZG.Ruecknahme.130111 xmlns:x="http://www.osci.de/xauslaender9999" standard="XAusländer" version="99.99">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht><nachrichtenUUID>3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b</nachrichtenUUID></identifikation.nachricht>
    <autor><kennung>ozgev:000000000001</kennung></autor>
  </nachrichtenkopf.g2g>
</x:OZG.Ruecknahme.130111>`)
	m, err := xauslaender.ReadHeader(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Code, m.Namespace, m.Header.StandardVersion)
	fmt.Println(m.Header.NachrichtenUUID, m.Header.Autor.Kennung)
	// Output:
	// 130111 http://www.osci.de/xauslaender9999 99.99
	// 3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b ozgev:000000000001
}

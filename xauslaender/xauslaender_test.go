package xauslaender_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
	"github.com/xagw/xagw/xauslaender/v2611"
	"github.com/xagw/xagw/xauslaender/xsd"
)

var (
	bundleOnce sync.Once
	bundle     *schemas.Bundle
	bundleErr  error
)

// testBundle opens the official 26.11 bundle in ../shared once per test binary.
func testBundle(t testing.TB) *schemas.Bundle {
	t.Helper()
	bundleOnce.Do(func() { bundle, bundleErr = schemas.OpenDefault() })
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundle
}

func sampleXML(t testing.TB, name string) []byte {
	t.Helper()
	s, ok := samples.Lookup(name)
	if !ok {
		t.Fatalf("no sample %s", name)
	}
	data, err := s.XML(testBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestEveryMessageType is the main acceptance test: every message type of
// every generated version is built (sample content + Sender.Prepare), is
// valid against the official XSDs and code lists, parses back into the same
// Go type, re-marshals byte for byte, and survives the JSON form too.
func TestEveryMessageType(t *testing.T) {
	b := testBundle(t)
	v := xauslaender.NewValidator(b)
	covered := map[string]bool{}
	for _, s := range samples.List() {
		t.Run(s.Name, func(t *testing.T) {
			built, err := s.Build(b)
			if err != nil {
				t.Fatal(err)
			}
			data, err := xauslaender.Marshal(built)
			if err != nil {
				t.Fatal(err)
			}
			res := v.Validate(data)
			if !res.Valid {
				t.Fatalf("not valid against the official schemas: %+v", res.Problems)
			}
			for _, p := range res.Problems {
				// The only lists a valid sample may not be checked against
				// are those the bundle does not contain.
				if p.Kind != schemas.KindCodeList || !strings.Contains(p.Message, "is not in the bundle") {
					t.Errorf("unexpected problem: %s", p)
				}
			}
			if res.CodesChecked < 3 {
				t.Errorf("only %d coded values checked", res.CodesChecked)
			}
			msg, err := xauslaender.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if !msg.Typed() || msg.Code != s.Code || msg.Version != "26.11" || reflect.TypeOf(msg.Body) != reflect.TypeOf(built) {
				t.Fatalf("parsed as %T code %s version %s", msg.Body, msg.Code, msg.Version)
			}
			again, err := xauslaender.Marshal(msg.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, data) {
				t.Fatalf("parse → marshal is not byte-identical:\n%s\n----\n%s", data, again)
			}
			if !reflect.DeepEqual(msg.Body, built) {
				t.Fatal("parsed message differs from the built one")
			}
			// JSON: the same types, the same message.
			js, err := xauslaender.MarshalJSON(built)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := xauslaender.FromJSON(s.Code, "", js)
			if err != nil {
				t.Fatal(err)
			}
			viaJSON, err := xauslaender.Marshal(fromJSON)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(viaJSON, data) {
				t.Fatalf("XML → JSON → XML differs")
			}
			h := msg.Header
			if h.NachrichtenUUID != samples.UUID(s.Name) || h.Nachrichtentyp != s.Code || h.Erstellungszeitpunkt != "2026-03-02T09:15:00+01:00" {
				t.Errorf("header %+v", h)
			}
			abh, ev := h.Leser, h.Autor
			if s.Direction == "ABH→EV" {
				abh, ev = h.Autor, h.Leser
			}
			if abh.Kennung != "abh:000100" || abh.Key() != "000100" || abh.Prefix() != "abh" || abh.Name != "STV Aalen" || ev.Kennung != "ozgev:000000000001" || ev.Verzeichnisdienst != "DVDV" {
				t.Errorf("autor/leser %+v / %+v", h.Autor, h.Leser)
			}
			covered[s.Code] = true
		})
	}
	for _, ver := range xauslaender.Versions() {
		for _, m := range ver.Messages {
			if !covered[m.Code] {
				t.Errorf("XAusländer %s message %s (%s) has no sample", ver.Version, m.Code, m.Element)
			}
		}
	}
}

func TestHeaderLinksReplies(t *testing.T) {
	antrag, err := xauslaender.Parse(sampleXML(t, "antrag-erwerbstaetigkeit"))
	if err != nil {
		t.Fatal(err)
	}
	status, err := xauslaender.Parse(sampleXML(t, "statusmeldung"))
	if err != nil {
		t.Fatal(err)
	}
	if status.Header.AusloeserUUID != antrag.Header.NachrichtenUUID || status.Header.Antragsidentifikation != antrag.Header.Antragsidentifikation {
		t.Fatalf("reply %+v does not point at %+v", status.Header, antrag.Header)
	}
	if antrag.Header.AusloeserUUID != "" || antrag.Header.Antragsidentifikation != samples.AntragsID {
		t.Fatalf("%+v", antrag.Header)
	}
	// The Rückweisung is an XInneres message: same header, no OZG fields.
	rw, err := xauslaender.Parse(sampleXML(t, "rueckweisung"))
	if err != nil {
		t.Fatal(err)
	}
	if rw.Code != "0010" || rw.Namespace != "http://www.osci.de/xinneres/rueckweisung/6" || rw.Header.Nachrichtentyp != "0010" || rw.Header.Leser.Kennung != "ozgev:000000000001" {
		t.Fatalf("%+v", rw)
	}
	if _, ok := rw.Body.(*v2611.RueckweisungAsynchron0010); !ok {
		t.Fatalf("%T", rw.Body)
	}
}

// mutate returns the employment application with one textual change.
func mutate(t *testing.T, old, new string) []byte {
	t.Helper()
	data := sampleXML(t, "antrag-erwerbstaetigkeit")
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("sample lacks %q", old)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

func TestInvalidMessagesGetSpecificErrors(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	cases := []struct {
		name       string
		doc        []byte
		kind, path string
		msg        string
	}{
		{"missing required element", mutate(t, "<xauslaender:antragsdatum>2026-03-01</xauslaender:antragsdatum>", ""),
			schemas.KindSchema, "/OZG.Antrag.130101/grundDesAntrags",
			"Element '{http://www.osci.de/xauslaender2611}grundDesAntrags': This element is not expected. Expected is ( {http://www.osci.de/xauslaender2611}antragsdatum )."},
		{"unknown code (code list)", mutate(t, "<xauslaender:grundDesAntrags listURI=\"urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund\" listVersionID=\"4\">\n    <code>01</code>", "<xauslaender:grundDesAntrags listURI=\"urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund\" listVersionID=\"4\">\n    <code>99</code>"),
			schemas.KindCodeList, "/OZG.Antrag.130101/grundDesAntrags",
			`code "99" is not in code list urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund version 4`},
		{"unknown code (without listURI, schema-fixed list)", mutate(t, "<xauslaender:grundDesAntrags listURI=\"urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund\" listVersionID=\"4\">\n    <code>01</code>", "<xauslaender:grundDesAntrags listVersionID=\"4\">\n    <code>42</code>"),
			schemas.KindCodeList, "/OZG.Antrag.130101/grundDesAntrags",
			`code "42" is not in code list urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund version 4`},
		{"unknown code list version", mutate(t, "codeliste:ozg.antragsgrund\" listVersionID=\"4\"", "codeliste:ozg.antragsgrund\" listVersionID=\"3\""),
			schemas.KindCodeList, "/OZG.Antrag.130101/grundDesAntrags",
			"code list urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund version 3 is not available (have 4)"},
		{"unknown enumerated code", mutate(t, "<code>LD</code>", "<code>XX</code>"),
			schemas.KindSchema, "/OZG.Antrag.130101/angabenZurPerson/familienstand/familienstand/code",
			"[facet 'enumeration'] The value 'XX' is not an element of the set"},
		{"wrong date format", mutate(t, "<xauslaender:antragsdatum>2026-03-01<", "<xauslaender:antragsdatum>01.03.2026<"),
			schemas.KindSchema, "/OZG.Antrag.130101/antragsdatum",
			"'01.03.2026' is not a valid value of the atomic type '{http://www.osci.de/xinneres/datum/2}Tagesdatum'"},
		{"date with time zone where the schema forbids it", mutate(t, "<xauslaender:antragsdatum>2026-03-01<", "<xauslaender:antragsdatum>2026-03-01Z<"),
			schemas.KindSchema, "/OZG.Antrag.130101/antragsdatum",
			"[facet 'pattern'] The value '2026-03-01Z' is not accepted by the pattern '[0-9]{4}-[0-9]{2}-[0-9]{2}'"},
		{"wrong namespace (other version)", bytes.ReplaceAll(sampleXML(t, "antrag-erwerbstaetigkeit"), []byte("http://www.osci.de/xauslaender2611"), []byte("http://www.osci.de/xauslaender2610")),
			schemas.KindUnsupported, "/OZG.Antrag.130101",
			`namespace "http://www.osci.de/xauslaender2610": no schema in the bundle`},
		{"element in wrong namespace", mutate(t, "<xauslaender:antragsdatum>2026-03-01</xauslaender:antragsdatum>", "<antragsdatum>2026-03-01</antragsdatum>"),
			schemas.KindSchema, "/OZG.Antrag.130101/antragsdatum",
			"Element 'antragsdatum': This element is not expected. Expected is ( {http://www.osci.de/xauslaender2611}antragsdatum )."},
		{"empty mandatory text (XInneres S030)", mutate(t, "<xauslaender:antragsidentifikation>OZG-AT-2026-000451</xauslaender:antragsidentifikation>", "<xauslaender:antragsidentifikation></xauslaender:antragsidentifikation>"),
			schemas.KindSchema, "/OZG.Antrag.130101/antragsidentifikation",
			"a mandatory element of type din91379:datatypeC is empty (XInneres error code S030)"},
		{"broken base64 document", mutate(t, "<xauslaender:dokument>", "<xauslaender:dokument>%%"),
			schemas.KindSchema, "/OZG.Antrag.130101/angabenZurPerson/aufenthaltsdokument/aufenthaltsdokument/dokument",
			"Element 'dokument': not a valid value of the atomic type 'xs:base64Binary': character outside the base64 alphabet."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := v.Validate(c.doc)
			if r.Valid {
				t.Fatal("accepted")
			}
			errs := r.Errors()
			if len(errs) != 1 {
				t.Errorf("want exactly one error, got %d: %+v", len(errs), errs)
			}
			p := errs[0]
			if p.Kind != c.kind || p.Path != c.path || !strings.Contains(p.Message, c.msg) || p.Line == 0 {
				t.Fatalf("got %s at %s line %d: %s\nwant %s at %s: …%s…", p.Kind, p.Path, p.Line, p.Message, c.kind, c.path, c.msg)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		doc  []byte
		want error
		msg  string
	}{
		{"entity bomb", []byte(`<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>`), safexml.ErrDTD, "document type declarations"},
		{"external entity", []byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`), safexml.ErrDTD, "document type declarations"},
		{"unknown root", []byte(`<x:y xmlns:x="urn:nope"/>`), xauslaender.ErrUnsupported, "root element {urn:nope}y"},
		{"too deep", []byte(strings.Repeat("<a>", 300) + strings.Repeat("</a>", 300)), safexml.ErrTooDeep, "nested too deeply"},
		{"unknown element", mutate(t, "<xauslaender:sonstigeAnmerkung>", "<xauslaender:extra>x</xauslaender:extra><xauslaender:sonstigeAnmerkung>"), nil,
			"/OZG.Antrag.130101: unexpected element {http://www.osci.de/xauslaender2611}extra"},
		{"missing element", mutate(t, "<xauslaender:antragsdatum>2026-03-01</xauslaender:antragsdatum>", ""), nil,
			"line 43 /OZG.Antrag.130101: missing element antragsdatum before {http://www.osci.de/xauslaender2611}grundDesAntrags"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := xauslaender.Parse(c.doc)
			if err == nil {
				t.Fatal("accepted")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("%v lacks %q", err, c.msg)
			}
		})
	}
}

// TestQuittungIsRecognisedUntyped: the bundle has no XInneres Quittung
// schema, so a Quittung parses untyped with a clear note and its header.
func TestQuittungIsRecognisedUntyped(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<xiq:quittung.0020 xmlns:xiq="http://www.osci.de/xinneres/quittung/3" produkt="Fachverfahren" produkthersteller="Muster" standard="XInneres-Quittung" version="3">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>9d7f3c1e-2b4a-4c6d-8e0f-1a2b3c4d5e6f</nachrichtenUUID>
      <nachrichtentyp listURI="urn:de:xinneres:codeliste:nachrichtentyp" listVersionID="4"><code>0020</code></nachrichtentyp>
      <erstellungszeitpunkt>2026-03-02T10:00:00+01:00</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst><kennung>ozgev:000000000001</kennung><name>EV</name></leser>
    <autor><verzeichnisdienst listVersionID="3"><code>DVDV</code></verzeichnisdienst><kennung>abh:000100</kennung><name>STV Aalen</name></autor>
  </nachrichtenkopf.g2g>
</xiq:quittung.0020>`
	m, err := xauslaender.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if m.Typed() || m.Code != "0020" || !strings.Contains(m.Note, "no quittung schema") {
		t.Fatalf("%+v", m)
	}
	if m.Header.NachrichtenUUID != "9d7f3c1e-2b4a-4c6d-8e0f-1a2b3c4d5e6f" || m.Header.Autor.Kennung != "abh:000100" || m.Header.Leser.Key() != "000100000001"[6:] && m.Header.Leser.Kennung != "ozgev:000000000001" {
		t.Fatalf("%+v", m.Header)
	}
	// Validation cannot pass without a schema: it says so.
	r := xauslaender.NewValidator(testBundle(t)).Validate([]byte(doc))
	if r.Valid || r.Errors()[0].Kind != schemas.KindUnsupported {
		t.Fatalf("%+v", r)
	}
}

func TestFromJSON(t *testing.T) {
	js := []byte(`{"antragsidentifikation":"A-1","ausloeserUUID":"0b6f4bbf-7d1e-4b0e-9d3e-2f6f0c7d8a11","status":"05",
	  "anhang":{"dokument":"JVBERi0xLjQK","dokumententyp":"1"}}`)
	m, err := xauslaender.FromJSON("130104", "26.11", js)
	if err != nil {
		t.Fatal(err)
	}
	st := m.(*v2611.OZGStatusmeldung130104)
	if st.Status.Code != "05" || string(st.Anhang.Dokument) != "%PDF-1.4\n" || st.Anhang.Dokumententyp.Code != "1" || st.AusloeserUUID == "" {
		t.Fatalf("%+v", st)
	}
	bad := []struct{ code, json, msg string }{
		{"130104", `{"statuss":"01"}`, `unknown field "statuss"`},
		{"130104", `{"status":{"code":"01","extra":1}}`, `unknown field "extra"`},
		{"130104", `{"status":"01"} {}`, "data after the message object"},
		{"130101", `{"antragsdatum":17}`, "antragsdatum"},
		{"999999", `{}`, "unknown message type"},
	}
	for _, c := range bad {
		if _, err := xauslaender.FromJSON(c.code, "", []byte(c.json)); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("FromJSON(%s, %s) = %v, want …%s…", c.code, c.json, err, c.msg)
		}
	}
	if _, err := xauslaender.FromJSON("130104", "9.99", js); !errors.Is(err, xauslaender.ErrUnknownVersion) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestVersionRegistry(t *testing.T) {
	for _, id := range []string{"26.11", "2611", "v2611", "http://www.osci.de/xauslaender2611", ""} {
		v, err := xauslaender.Version(id)
		if err != nil || v.Version != "26.11" || v.Namespace != "http://www.osci.de/xauslaender2611" {
			t.Errorf("Version(%q) = %+v, %v", id, v, err)
		}
	}
	if _, err := xauslaender.Version("1.21.1"); !errors.Is(err, xauslaender.ErrUnknownVersion) || !strings.Contains(err.Error(), "have 26.11") {
		t.Errorf("%v", err)
	}
	spec, _, err := xauslaender.MessageSpec("130101", "")
	if err != nil || spec.Element != "OZG.Antrag.130101" || spec.Title != "Antrag" || spec.Autor != "Eingabeverfahren" {
		t.Fatalf("%+v %v", spec, err)
	}
	m, err := xauslaender.New("130111", "")
	if _, ok := m.(*v2611.OZGRuecknahme130111); !ok || err != nil {
		t.Fatalf("%T %v", m, err)
	}
}

func TestABHDirectory(t *testing.T) {
	d, err := xauslaender.NewABHDirectory(testBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	if d.ListVersion() != "64.0" || d.Len() < 600 {
		t.Fatalf("version %s, %d entries", d.ListVersion(), d.Len())
	}
	a, err := d.Lookup(" abh:000101 ")
	if err != nil || a.Name != "ZAB Regierungspräsidium Kassel" || a.Bundesland != "Hessen" || a.Key != "000101" {
		t.Fatalf("%+v %v", a, err)
	}
	if k, err := d.Kennung("000100"); err != nil || k != "abh:000100" {
		t.Fatalf("%s %v", k, err)
	}
	if _, err := d.Lookup("999999"); !errors.Is(err, xauslaender.ErrUnknownABH) || !strings.Contains(err.Error(), `"999999"`) {
		t.Fatalf("%v", err)
	}
	if _, err := d.Lookup("meld:000100"); err == nil || !strings.Contains(err.Error(), `prefix "meld"`) {
		t.Fatalf("%v", err)
	}
	d.Prefix = "xab"
	if k, _ := d.Kennung("000100"); k != "xab:000100" {
		t.Fatalf("configured prefix: %s", k)
	}
}

func TestSenderNeedsConfiguration(t *testing.T) {
	s := &xauslaender.Sender{}
	err := s.Prepare(&v2611.OZGRuecknahme130111{}, xauslaender.Behoerde{Kennung: "abh:000100", Name: "STV Aalen"})
	if err == nil || !strings.Contains(err.Error(), "sender configuration lacks Produkt, Produkthersteller, Autor.Kennung") {
		t.Fatalf("%v", err)
	}
	ev := samples.EVSender(testBundle(t))
	if err := ev.Prepare(&v2611.OZGRuecknahme130111{}, xauslaender.Behoerde{}); err == nil {
		t.Fatal("empty leser accepted")
	}
}

// TestPrepareFromJSON is the form-backend path: JSON content in, header by
// Sender, valid XML out.
func TestPrepareFromJSON(t *testing.T) {
	b := testBundle(t)
	js, err := xauslaender.MarshalJSON(mustSample(t, "antrag-ukraine-24").Content())
	if err != nil {
		t.Fatal(err)
	}
	m, err := xauslaender.FromJSON("130101", "", js)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := xauslaender.NewABHDirectory(b)
	leser, err := dir.Leser("000101")
	if err != nil {
		t.Fatal(err)
	}
	ev := samples.EVSender(b)
	ev.Now, ev.NewUUID = nil, nil // real clock and random UUIDs
	if err := ev.Prepare(m, leser); err != nil {
		t.Fatal(err)
	}
	res, data, err := xauslaender.NewValidator(b).ValidateMessage(m)
	if err != nil || !res.Valid {
		t.Fatalf("%v %+v", err, res)
	}
	h := xauslaender.HeaderOf(m)
	if h.Leser.Name != "ZAB Regierungspräsidium Kassel" || len(h.NachrichtenUUID) != 36 || h.NachrichtenUUID[14] != '4' || h.Nachrichtentyp != "130101" {
		t.Fatalf("%+v", h)
	}
	// Every coded value says which list it is from.
	codes, _ := xsd.Codes(m)
	for _, c := range codes {
		if _, uri, ver := c.Value.CodeValue(); uri == "" || ver == "" {
			t.Errorf("%s: listURI %q listVersionID %q", c.Path, uri, ver)
		}
	}
	if !bytes.Contains(data, []byte(`listVersionID="4"`)) {
		t.Error("antragsgrund list version not taken from the bundle")
	}
	// Preparing twice keeps UUID and time (safe to retry).
	before := xauslaender.HeaderOf(m)
	if err := ev.Prepare(m, leser); err != nil {
		t.Fatal(err)
	}
	if after := xauslaender.HeaderOf(m); after != before {
		t.Fatalf("second Prepare changed the header: %+v → %+v", before, after)
	}
}

func mustSample(t *testing.T, name string) samples.Sample {
	s, ok := samples.Lookup(name)
	if !ok {
		t.Fatal(name)
	}
	return s
}

func TestConcurrentValidateAndParse(t *testing.T) {
	v := xauslaender.NewValidator(testBundle(t))
	names := []string{"antrag-erwerbstaetigkeit", "statusmeldung", "rueckweisung", "verpflichtungserklaerung"}
	docs := map[string][]byte{}
	for _, n := range names {
		docs[n] = sampleXML(t, n)
	}
	bad := mutate(t, "<xauslaender:antragsdatum>2026-03-01<", "<xauslaender:antragsdatum>2026-13-01<")
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				n := names[(g+i)%len(names)]
				if r := v.Validate(docs[n]); !r.Valid {
					errs <- n + " invalid"
				}
				if r := v.Validate(bad); r.Valid {
					errs <- "bad document valid"
				}
				if _, err := xauslaender.Parse(docs[n]); err != nil {
					errs <- err.Error()
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestSetLeser(t *testing.T) {
	b := testBundle(t)
	s, _ := samples.Lookup("antrag-familiennachzug")
	m, err := s.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := xauslaender.NewABHDirectory(b)
	leser, _ := dir.Leser("000101")
	if err := xauslaender.SetLeser(m, leser, b); err != nil {
		t.Fatal(err)
	}
	h := xauslaender.HeaderOf(m)
	if h.Leser != leser {
		t.Fatalf("%+v", h.Leser)
	}
	res, _, err := xauslaender.NewValidator(b).ValidateMessage(m)
	if err != nil || !res.Valid {
		t.Fatalf("%v %+v", err, res)
	}
	if err := xauslaender.SetLeser(m, xauslaender.Behoerde{Kennung: "abh:1"}, b); err == nil {
		t.Fatal("leser without name accepted")
	}
}

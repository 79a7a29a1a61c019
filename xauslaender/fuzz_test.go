package xauslaender_test

import (
	"bytes"
	"testing"

	"github.com/xagw/xagw/xauslaender"
)

// FuzzParse: whatever Parse accepts must marshal, and the marshalled form
// must parse back to the same bytes (round-trip stability on hostile input).
func FuzzParse(f *testing.F) {
	for _, n := range []string{"ruecknahme", "statusmeldung", "rueckweisung", "terminmitteilung"} {
		f.Add(sampleXML(f, n))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := xauslaender.Parse(data)
		if err != nil || !m.Typed() {
			return
		}
		out, err := xauslaender.Marshal(m.Body)
		if err != nil {
			return // e.g. control characters the parser kept as text
		}
		again, err := xauslaender.Parse(out)
		if err != nil {
			t.Fatalf("marshalled output does not parse: %v\n%s", err, out)
		}
		out2, err := xauslaender.Marshal(again.Body)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("not stable: %v", err)
		}
		if again.Header != m.Header {
			t.Fatalf("header changed: %+v → %+v", m.Header, again.Header)
		}
	})
}

// FuzzFromJSON: arbitrary JSON for a message type never panics, and what
// it accepts marshals to XML that parses back.
func FuzzFromJSON(f *testing.F) {
	f.Add("130104", []byte(`{"antragsidentifikation":"A","ausloeserUUID":"x","status":"01"}`))
	f.Add("130101", []byte(`{"angabenZurPerson":{"vorname":{"name":"A"},"geschlecht":{"geschlecht":{"code":"m"}}},"grundDesAntrags":"01"}`))
	f.Add("130111", []byte(`{"rueckkanalVorhanden":true}`))
	f.Fuzz(func(t *testing.T, code string, data []byte) {
		m, err := xauslaender.FromJSON(code, "", data)
		if err != nil {
			return
		}
		out, err := xauslaender.Marshal(m)
		if err != nil {
			return
		}
		if _, err := xauslaender.Parse(out); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}

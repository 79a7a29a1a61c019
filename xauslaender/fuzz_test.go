package xauslaender_test

import (
	"bytes"
	"reflect"
	"strings"
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

// FuzzValidateAndParse: the one-pass API never panics and agrees with the
// separate calls: the same result as Validate, and for a valid document the
// same typed message and header as Parse (the model built from libxml2's
// tokens equals the one built by the Go decoder). Header and version
// problems name a path below the root.
func FuzzValidateAndParse(f *testing.F) {
	for _, n := range []string{"ruecknahme", "statusmeldung", "rueckweisung", "rueckweisung-synchron", "terminmitteilung"} {
		f.Add(sampleXML(f, n))
	}
	v := xauslaender.NewValidator(testBundle(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, m, err := v.ValidateAndParse(data)
		if plain := v.Validate(data); !reflect.DeepEqual(plain.Problems, res.Problems) || plain.Valid != res.Valid {
			t.Fatalf("Validate and ValidateAndParse disagree:\n%+v\n%+v", plain.Problems, res.Problems)
		}
		for _, p := range res.Problems {
			if (p.Kind == xauslaender.KindHeader || p.Kind == xauslaender.KindVersion) && !strings.HasPrefix(p.Path, "/"+res.Root) {
				t.Fatalf("%s problem outside the root: %+v", p.Kind, p)
			}
		}
		if !res.Valid {
			if m != nil && m.Typed() {
				t.Fatal("typed message for an invalid document")
			}
			return
		}
		if err != nil || m == nil || !m.Typed() {
			return // valid, but not a typed message of the model
		}
		want, perr := xauslaender.Parse(data)
		if perr != nil {
			t.Fatalf("ValidateAndParse read what Parse refuses: %v", perr)
		}
		if !reflect.DeepEqual(m.Body, want.Body) || m.Header != want.Header {
			t.Fatalf("the two decoders disagree:\n%+v\n%+v", m.Header, want.Header)
		}
	})
}

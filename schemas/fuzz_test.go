package schemas

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/xagw/xagw/internal/safexml"
)

// FuzzValidate feeds arbitrary bytes through the whole validation path
// (safexml, root dispatch, libxml2, code collection). It must never crash,
// and a document it calls valid must be well-formed and in a namespace the
// bundle has a schema for.
func FuzzValidate(f *testing.F) {
	b := testBundle(f)
	f.Add(readTestdata(f, "ruecknahme.xml"))
	f.Add([]byte(`<x:OZG.Ruecknahme.130111 xmlns:x="http://www.osci.de/xauslaender2611"/>`))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	capture := []string{"/OZG.Ruecknahme.130111/@version", "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID",
		"/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/leser", "/OZG.Ruecknahme.130111/anschrift.autor/gebaeude/strasse"}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The options every typed model uses: captures, checks and tokens.
		o := ValidateOptions{Capture: capture, NonEmpty: capture[1:2], PlainBase64: []string{"/OZG.Ruecknahme.130111/x"}}
		depth, tokens := 0, 0
		o.Tokens = func(tr *Tokens) {
			for {
				tok, ok, err := tr.Next()
				if err != nil {
					t.Fatalf("token reader: %v", err)
				}
				if !ok {
					break
				}
				tokens++
				switch tok.Kind {
				case StartElement:
					depth++
				case EndElement:
					depth--
				}
				if depth < 0 {
					t.Fatal("more end than start tokens")
				}
			}
			if depth != 0 || tokens == 0 {
				t.Fatalf("unbalanced tokens: depth %d after %d", depth, tokens)
			}
		}
		r := b.Validate(data, o)
		if len(r.Captures) != 0 && len(r.Captures) != len(capture) {
			t.Fatalf("%d captures for %d paths", len(r.Captures), len(capture))
		}
		for _, c := range r.Captures {
			if len(c.Value) > MaxCapture || (!c.Present && c.Value != "") {
				t.Fatalf("capture %+v", c)
			}
		}
		if !r.Valid {
			if len(r.Errors()) == 0 && r.Truncated == 0 {
				t.Fatalf("invalid without an error problem: %+v", r)
			}
			return
		}
		if err := safexml.Check(data, safexml.Limits{}); err != nil {
			t.Fatalf("valid but safexml rejects it: %v", err)
		}
		if _, ok := b.Root(r.Namespace); !ok {
			t.Fatalf("valid in namespace %q without a schema", r.Namespace)
		}
	})
}

// FuzzRootName: the root scanner runs on unchecked input (to pick the code
// tables before validation); it must never panic, and on well-formed
// documents agree with encoding/xml.
func FuzzRootName(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><!-- c --><p:x xmlns:p="urn:p" a='1'/>`))
	f.Add([]byte("<!DOCTYPE x [<!ENTITY e 'v'>]><x xmlns=\"urn:d\">"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ns, local, err := RootName(data)
		if err != nil || safexml.Check(data, safexml.Limits{}) != nil {
			return
		}
		d := xml.NewDecoder(bytes.NewReader(data))
		for {
			tok, e := d.Token()
			if e != nil {
				return
			}
			if se, ok := tok.(xml.StartElement); ok {
				if se.Name.Space != ns || se.Name.Local != local {
					t.Fatalf("RootName %q %q, encoding/xml %q %q", ns, local, se.Name.Space, se.Name.Local)
				}
				return
			}
		}
	})
}

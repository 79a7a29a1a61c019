package testvectors

import (
	"testing"
)

// FuzzParseManifest: the manifest reader never panics, and whatever it
// accepts is consistent (ids unique, inputs listed with their hashes) and
// survives a Marshal/Parse round trip.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":"xagw-conformance-kit/1","generator":"g","referenceTime":"2026-03-02T09:15:00+01:00","xauslaenderVersion":"26.11","deterministic":true,"files":[],"vectors":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatalf("accepted manifest does not marshal: %v", err)
		}
		if _, err := ParseManifest(out); err != nil {
			t.Fatalf("marshalled manifest does not read back: %v", err)
		}
		for _, f := range m.Files {
			if err := checkPath(f.Path); err != nil {
				t.Fatalf("accepted unsafe path: %v", err)
			}
		}
	})
}

// FuzzXACheck: the kit's checker (the project's validator with the header
// rules, and the classification) never panics on arbitrary bytes, never
// fails internally, reports a class exactly when it found something, and
// reports header or version findings only for documents whose root it read.
func FuzzXACheck(f *testing.F) {
	f.Add([]byte(`<?xml version="1.0"?><x:OZG.Ruecknahme.130111 xmlns:x="http://www.osci.de/xauslaender2611" standard="XAusländer" version="26.11"><nachrichtenkopf.g2g><identifikation.nachricht><nachrichtenUUID>3f2b8c1e-5d4a-4e6f-9a0b-1c2d3e4f5a6b</nachrichtenUUID><nachrichtentyp><code>130111</code></nachrichtentyp></identifikation.nachricht></nachrichtenkopf.g2g></x:OZG.Ruecknahme.130111>`))
	c := NewXAChecker(testBundle(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := c.Check(data)
		if (r.Class == "") != (len(r.Findings) == 0) {
			t.Fatalf("class %q with %d findings", r.Class, len(r.Findings))
		}
		for _, fd := range r.Findings {
			if fd.Class == ClassInternal {
				t.Fatalf("the checker failed: %s", fd)
			}
			if (fd.Class == ClassHeader || fd.Class == ClassVersion) && r.Header.Root == "" {
				t.Fatalf("%s finding without a root element", fd.Class)
			}
		}
	})
}

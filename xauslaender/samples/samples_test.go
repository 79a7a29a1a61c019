package samples

import (
	"bytes"
	"image/jpeg"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
)

var (
	bundleOnce sync.Once
	bundle     *schemas.Bundle
	bundleErr  error
)

func testBundle(t testing.TB) *schemas.Bundle {
	t.Helper()
	bundleOnce.Do(func() { bundle, bundleErr = schemas.OpenDefault() })
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundle
}

// Validity of every sample is the acceptance test in package xauslaender;
// here: coverage, determinism, sizes and the attachments themselves.

func TestCoverage(t *testing.T) {
	have := map[string]int{}
	for _, s := range List() {
		have[s.Code]++
		if s.Title == "" || (s.Direction != "EV→ABH" && s.Direction != "ABH→EV") {
			t.Errorf("%s: title %q direction %q", s.Name, s.Title, s.Direction)
		}
	}
	for _, m := range xauslaender.Latest().Messages {
		if have[m.Code] == 0 {
			t.Errorf("no sample for %s %s", m.Code, m.Element)
		}
	}
	for _, n := range []string{"antrag-erwerbstaetigkeit", "antrag-familiennachzug", "antrag-ukraine-24"} {
		if s, ok := Lookup(n); !ok || s.Code != "130101" {
			t.Errorf("missing application sample %s", n)
		}
	}
}

func TestDeterministicAndSized(t *testing.T) {
	b := testBundle(t)
	for _, s := range List() {
		one, err := s.XML(b)
		if err != nil {
			t.Fatal(err)
		}
		two, _ := s.XML(b)
		if !bytes.Equal(one, two) {
			t.Errorf("%s is not deterministic", s.Name)
		}
		if s.Name == "antrag-erwerbstaetigkeit" && (len(one) < 18000 || len(one) > 24000) {
			t.Errorf("the benchmark application is %d bytes, want about 20 KB", len(one))
		}
	}
}

func TestAttachmentsAreRealFiles(t *testing.T) {
	p := pdf("Titel äöü §", []string{"Zeile (1)", `Back\slash`})
	if !bytes.HasPrefix(p, []byte("%PDF-1.4\n")) || !bytes.HasSuffix(p, []byte("%%EOF\n")) {
		t.Fatal("not a PDF frame")
	}
	// The xref table must point at the objects.
	m := regexp.MustCompile(`startxref\n(\d+)\n`).FindSubmatch(p)
	off, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(p[off:], []byte("xref\n")) {
		t.Fatal("startxref does not point at the xref table")
	}
	for i, o := range regexp.MustCompile(`(\d{10}) 00000 n `).FindAllSubmatch(p, -1) {
		n, _ := strconv.Atoi(string(o[1]))
		if !bytes.HasPrefix(p[n:], []byte(strconv.Itoa(i+1)+" 0 obj")) {
			t.Fatalf("xref entry %d points at %q", i+1, p[n:n+10])
		}
	}
	for _, img := range [][]byte{photo(96, 120, 7), scan(120, 80, 3)} {
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJSONReferenceIsCurrent(t *testing.T) {
	doc, err := JSONReference()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../JSON.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, committed) {
		t.Fatal("xauslaender/JSON.md is out of date; run go generate ./xauslaender/samples")
	}
}

// TestSchemasBenchmarkDocumentIsCurrent keeps the copy of the employment
// application that package schemas benchmarks with (it cannot import the
// samples) identical to the sample.
func TestSchemasBenchmarkDocumentIsCurrent(t *testing.T) {
	s, _ := Lookup("antrag-erwerbstaetigkeit")
	data, err := s.XML(testBundle(t))
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../schemas/testdata/antrag-erwerbstaetigkeit.xml")
	if err != nil || !bytes.Equal(data, committed) {
		t.Fatalf("schemas/testdata/antrag-erwerbstaetigkeit.xml is out of date (%v); regenerate with: xagw example antrag-erwerbstaetigkeit > schemas/testdata/antrag-erwerbstaetigkeit.xml", err)
	}
}

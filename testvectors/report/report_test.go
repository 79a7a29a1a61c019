package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func sample() *Report {
	return &Report{
		Suite: "xagw conformance verify", Target: "testvectors",
		Started: time.Date(2026, 3, 2, 9, 15, 0, 0, time.UTC), Duration: 1500 * time.Millisecond,
		Results: []Result{
			{ID: "xa.valid.130101.antrag", Kind: "xauslaender", Status: StatusPass, Expected: "accept", Got: "accept", Duration: time.Millisecond},
			{ID: "xa.invalid.schema.order", Kind: "xauslaender", Status: StatusFail, Expected: "reject/schema", Got: "accept", Detail: "the document\nwas accepted"},
			{ID: "osci.store.inline", Kind: "osci", Status: StatusError, Expected: "accept", Detail: "no key <&> for reader"},
			{ID: "osci.partial", Kind: "osci", Status: StatusSkip, Detail: "not delivered to vendors"},
		},
	}
}

func TestCountsAndVerdict(t *testing.T) {
	r := sample()
	c := r.Counts()
	if c != (Counts{Total: 4, Pass: 1, Fail: 1, Error: 1, Skip: 1}) {
		t.Fatalf("counts %+v", c)
	}
	if r.OK() {
		t.Fatal("a report with a failure conforms")
	}
	ok := &Report{Results: []Result{{ID: "a", Status: StatusPass}, {ID: "b", Status: StatusSkip}}}
	if !ok.OK() {
		t.Fatal("all passed or skipped: should conform")
	}
	ok.Problems = []string{"file x: hash mismatch"}
	if ok.OK() {
		t.Fatal("a problem outside the vectors must fail the run")
	}
	if (&Report{}).OK() || (&Report{Results: []Result{{ID: "s", Status: StatusSkip}}}).OK() {
		t.Fatal("a run without a single pass proves nothing and must not conform")
	}
	if (&Report{Results: []Result{{ID: "x", Status: "weird"}}}).Counts().Error != 1 {
		t.Fatal("an unknown status must count as an error")
	}
}

func TestTextIsOneLinePerVector(t *testing.T) {
	var b bytes.Buffer
	r := sample()
	r.Problems = []string{"file pki/a.pem: hash\nmismatch"}
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	// title, one problem, four vectors, summary
	if len(lines) != 7 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for _, want := range []string{
		"PROBLEM  file pki/a.pem: hash mismatch",
		"PASS   xa.valid.130101.antrag   accept",
		"FAIL   xa.invalid.schema.order  expected reject/schema, got accept: the document was accepted",
		"ERROR  osci.store.inline        expected accept, got -: no key <&> for reader",
		"SKIP   osci.partial             not delivered to vendors",
		"4 vectors: 1 passed, 1 failed, 1 errors, 1 skipped, 1 problems — DOES NOT CONFORM (1.5s)",
	} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("missing line %q in\n%s", want, b.String())
		}
	}
}

func TestJSONCarriesCountsAndVerdict(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Suite   string   `json:"suite"`
		Results []Result `json:"results"`
		Counts  Counts   `json:"counts"`
		OK      bool     `json:"ok"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.OK || got.Counts.Fail != 1 || len(got.Results) != 4 || got.Results[1].Detail != "the document\nwas accepted" {
		t.Fatalf("%+v", got)
	}
}

func TestJUnitParsesWithTheRightCounts(t *testing.T) {
	var b bytes.Buffer
	r := sample()
	r.Problems = []string{"manifest: file missing"}
	if err := WriteJUnit(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	type attrs struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
	}
	var top attrs
	if err := xml.Unmarshal(b.Bytes(), &top); err != nil {
		t.Fatalf("JUnit is not XML: %v\n%s", err, b.String())
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if top != (attrs{Tests: 5, Failures: 2, Errors: 1, Skipped: 1}) {
		t.Fatalf("top-level counts %+v\n%s", top, b.String())
	}
	names := map[string]int{}
	cases := 0
	for _, s := range doc.Suites {
		names[s.Name] = len(s.Cases)
		cases += len(s.Cases)
	}
	if cases != 5 || names["xagw-conformance.xauslaender"] != 2 || names["xagw-conformance.osci"] != 2 || names["xagw-conformance.kit"] != 1 {
		t.Fatalf("suites %v", names)
	}
	if !strings.Contains(b.String(), `message="expected reject/schema, got accept: the document was accepted"`) {
		t.Fatalf("failure message missing:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "no key &lt;&amp;&gt; for reader") {
		t.Fatal("detail not escaped")
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/testvectors"
)

const kitDir = "../../testvectors"

// copyKitFiles copies the committed kit (manifest and listed files) to a
// temporary directory; with pkiOnly only the PKI.
func copyKitFiles(t *testing.T, pkiOnly bool) string {
	t.Helper()
	m, err := testvectors.LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	files := []string{}
	if !pkiOnly {
		files = append(files, testvectors.ManifestFile)
	}
	for _, f := range m.Files {
		if (pkiOnly && !strings.HasPrefix(f.Path, "pki/")) || f.OnDemand {
			continue
		}
		files = append(files, f.Path)
	}
	for _, p := range files {
		data, err := os.ReadFile(filepath.Join(kitDir, p))
		if err != nil {
			t.Fatal(err)
		}
		full := filepath.Join(dst, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestConformanceVerifyCommittedKit(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errOut := runCLI(t, nil, "conformance", "verify", "--dir", kitDir, "--junit", junit)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	m, err := testvectors.LoadManifest(kitDir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(m.Vectors)+2 || !strings.Contains(lines[len(lines)-1], "— CONFORMS") {
		t.Fatalf("want a title, one line per vector (%d) and a summary:\n%s", len(m.Vectors), out)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("JUnit does not parse: %v", err)
	}
	n := 0
	for _, s := range doc.Suites {
		n += len(s.Cases)
	}
	if doc.Tests != len(m.Vectors) || n != len(m.Vectors) || doc.Failures != 0 || doc.Errors != 0 {
		t.Fatalf("JUnit: tests=%d cases=%d failures=%d errors=%d for %d vectors", doc.Tests, n, doc.Failures, doc.Errors, len(m.Vectors))
	}
}

func TestConformanceVerifyTamperedKitFails(t *testing.T) {
	dir := copyKitFiles(t, false)
	p := filepath.Join(dir, "xauslaender/valid/130104-statusmeldung.xml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p, bytes.Replace(data, []byte("<code>01</code>"), []byte("<code>02</code>"), 1), 0o644)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, _ := runCLI(t, nil, "conformance", "verify", "--dir", dir, "--only", "xa.valid.130104", "--junit", junit)
	if code != 1 {
		t.Fatalf("tampered kit: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "PROBLEM  file xauslaender/valid/130104-statusmeldung.xml: hash mismatch") || !strings.Contains(out, "DOES NOT CONFORM") {
		t.Fatalf("output does not name the file:\n%s", out)
	}
	j, _ := os.ReadFile(junit)
	if !bytes.Contains(j, []byte(`<failure message="file xauslaender/valid/130104-statusmeldung.xml: hash mismatch`)) {
		t.Fatalf("JUnit lacks the problem:\n%s", j)
	}
}

func TestConformanceVerifyJSON(t *testing.T) {
	code, out, errOut := runCLI(t, nil, "conformance", "verify", "--dir", kitDir, "--json", "--only", "xa.invalid.")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	var r struct {
		OK      bool `json:"ok"`
		Results []struct {
			ID, Status, Expected, Got string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !r.OK || len(r.Results) < 10 {
		t.Fatalf("%+v", r)
	}
	for _, res := range r.Results {
		if !strings.HasPrefix(res.ID, "xa.invalid.") || res.Got != res.Expected || !strings.HasPrefix(res.Got, "reject/") {
			t.Errorf("%+v", res)
		}
	}
}

func TestConformanceGenerateReproducesTheKit(t *testing.T) {
	dir := copyKitFiles(t, true)
	code, out, errOut := runCLI(t, nil, "conformance", "generate", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	if !strings.Contains(out, "vectors") {
		t.Fatalf("output %q", out)
	}
	want, _ := os.ReadFile(filepath.Join(kitDir, testvectors.ManifestFile))
	got, err := os.ReadFile(filepath.Join(dir, testvectors.ManifestFile))
	if err != nil || !bytes.Equal(want, got) {
		t.Fatalf("regenerated manifest differs from the committed one (%v)", err)
	}
}

func TestConformanceUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"conformance"},
		{"conformance", "nope"},
		{"conformance", "generate"},
		{"conformance", "verify", "extra-arg"},
	} {
		if code, _, _ := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, errOut := runCLI(t, nil, "conformance", "verify", "--dir", t.TempDir()); code != 1 || !strings.Contains(errOut, "manifest") {
		t.Errorf("empty dir: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "conformance", "generate", "--out", t.TempDir()); code != 1 || !strings.Contains(errOut, "xagw keys testpki") {
		t.Errorf("generate without a PKI: %d %s", code, errOut)
	}
}

// conformance run against simulated case systems through the kit's own
// intermediary on loopback: a well-behaved one conforms (exit 0), a
// misbehaving one does not (exit 1, failures in text and JUnit).
func TestConformanceRunSimulated(t *testing.T) {
	only := []string{"--only", "xa.valid.130101.antrag-familiennachzug", "--only", "xa.invalid.codelist.", "--only", "osci.valid.store-attachments."}
	args := append([]string{"conformance", "run", "--dir", kitDir, "--simulate", "good", "--wait", "2m"}, only...)
	code, out, errOut := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("well-behaved: exit %d\n%s\n%s", code, out, errOut)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			lines[f[1]] = strings.Join(append(f[:1:1], f[2:]...), " ")
		}
	}
	for id, want := range map[string]string{
		"xa.valid.130101.antrag-familiennachzug":               "PASS reply 130104",
		"xa.invalid.codelist.unknown-code":                     "PASS reply 0010",
		"osci.valid.store-attachments.storeDelivery":           "PASS reply 130104",
		"osci.valid.store-attachments.responseToFetchDelivery": "SKIP OSCI protocol message: check it offline",
	} {
		if !strings.HasPrefix(lines[id], want) {
			t.Errorf("%s: %q, want %q", id, lines[id], want)
		}
	}
	if !strings.Contains(out, "— CONFORMS") {
		t.Errorf("no verdict:\n%s", out)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	args = append([]string{"conformance", "run", "--dir", kitDir, "--simulate", "bad", "--junit", junit, "--json"}, only...)
	code, out, errOut = runCLI(t, nil, args...)
	if code != 1 {
		t.Fatalf("misbehaving: exit %d\n%s\n%s", code, out, errOut)
	}
	var r struct {
		OK      bool `json:"ok"`
		Results []struct{ ID, Status, Detail string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, res := range r.Results {
		if res.Status == "fail" {
			failed[res.ID] = res.Detail
		}
	}
	if r.OK || !strings.Contains(failed["xa.invalid.codelist.unknown-code"], "was accepted") || !strings.Contains(failed["xa.valid.130101.antrag-familiennachzug"], "not signed") {
		t.Fatalf("misbehaving run: ok=%v failures %v", r.OK, failed)
	}
	j, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(j, &doc); err != nil || doc.Failures < len(failed) {
		t.Fatalf("JUnit: %v, failures %d for %d failed vectors", err, doc.Failures, len(failed))
	}
}

func TestConformanceRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"conformance", "run", "--simulate", "maybe"},
		{"conformance", "run", "--directory", "x.json"},
		{"conformance", "run", "--dir", kitDir, "--wait", "1s"}, // no vendor certificate
	} {
		if code, _, errOut := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

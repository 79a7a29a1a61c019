package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestExampleList(t *testing.T) {
	code, out, _ := runCLI(t, nil, "example", "--list")
	if code != 0 {
		t.Fatal(code)
	}
	names := strings.Fields(out)
	want := []string{"antrag-erwerbstaetigkeit", "antrag-familiennachzug", "antrag-ukraine-24", "statusmeldung", "rueckweisung"}
	for _, w := range want {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			t.Errorf("--list lacks %s", w)
		}
	}
	if len(names) != strings.Count(out, "\n") {
		t.Fatalf("not one name per line:\n%s", out)
	}
}

// TestEveryExampleValidates runs the whole CLI path for every sample:
// example NAME → file → validate exits 0.
func TestEveryExampleValidates(t *testing.T) {
	_, out, _ := runCLI(t, nil, "example", "--list")
	var files []string
	for _, name := range strings.Fields(out) {
		files = append(files, writeSample(t, name))
	}
	code, vout, _ := runCLI(t, nil, append([]string{"validate"}, files...)...)
	if code != 0 {
		t.Fatalf("validate exit %d:\n%s", code, vout)
	}
	if n := strings.Count(vout, ": valid ("); n != len(files) {
		t.Fatalf("%d of %d valid:\n%s", n, len(files), vout)
	}
}

func TestExampleJSON(t *testing.T) {
	code, out, _ := runCLI(t, nil, "example", "--json", "statusmeldung")
	if code != 0 {
		t.Fatal(code)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v["status"].(map[string]any)["code"] != "01" {
		t.Fatalf("%s", out)
	}
}

func TestExampleUnknown(t *testing.T) {
	code, _, errOut := runCLI(t, nil, "example", "nope")
	if code != 2 || !strings.Contains(errOut, `no sample "nope"; available: `) {
		t.Fatalf("%d %s", code, errOut)
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSample writes the XML of a sample to a temporary file.
func writeSample(t *testing.T, name string) string {
	t.Helper()
	code, out, errOut := runCLI(t, nil, "example", name)
	if code != 0 {
		t.Fatalf("example %s: %d %s", name, code, errOut)
	}
	p := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateValidAndInvalid(t *testing.T) {
	good := writeSample(t, "statusmeldung")
	data, _ := os.ReadFile(good)
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(strings.Replace(string(data), "<erstellungszeitpunkt>2026-03-02T09:15:00+01:00", "<erstellungszeitpunkt>02.03.2026", 1)), 0o644)

	code, out, _ := runCLI(t, nil, "validate", good)
	if code != 0 || !strings.Contains(out, good+": valid (OZG.Statusmeldung.130104, XAusländer 26.11)") {
		t.Fatalf("valid file: code %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "validate", good, bad)
	if code != 1 {
		t.Fatalf("one invalid file must give exit status 1, got %d", code)
	}
	if !strings.Contains(out, bad+": invalid (OZG.Statusmeldung.130104") ||
		!strings.Contains(out, "error: line 9: /OZG.Statusmeldung.130104/nachrichtenkopf.g2g/identifikation.nachricht/erstellungszeitpunkt: Element 'erstellungszeitpunkt': '02.03.2026' is not a valid value of the atomic type 'xs:dateTime'. [schema]") {
		t.Fatalf("output lacks the specific error:\n%s", out)
	}
}

// TestValidateHeaderRules: a Rücknahme that calls itself an application is
// valid against XSD and code lists but not a message an office accepts.
func TestValidateHeaderRules(t *testing.T) {
	good := writeSample(t, "ruecknahme")
	data, _ := os.ReadFile(good)
	bad := filepath.Join(t.TempDir(), "bad.xml")
	os.WriteFile(bad, []byte(strings.Replace(string(data), "<code>130111</code>", "<code>130101</code>", 1)), 0o644)
	code, out, _ := runCLI(t, nil, "validate", bad)
	if code != 1 || !strings.Contains(out, "/OZG.Ruecknahme.130111/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp: nachrichtentyp \"130101\" does not match the root element OZG.Ruecknahme.130111 (type 130111) [header]") {
		t.Fatalf("code %d\n%s", code, out)
	}
	if strings.Count(out, "  error: ") != 1 || strings.Contains(out, "[schema]") {
		t.Fatalf("only the header rule is broken (warnings for lists outside the bundle are fine):\n%s", out)
	}
}

func TestValidateJSON(t *testing.T) {
	good := writeSample(t, "ruecknahme")
	missing := filepath.Join(t.TempDir(), "missing.xml")
	code, out, _ := runCLI(t, nil, "validate", "--json", good, missing)
	if code != 1 {
		t.Fatalf("code %d", code)
	}
	var res []struct {
		File     string `json:"file"`
		Valid    bool   `json:"valid"`
		Root     string `json:"root"`
		Error    string `json:"error"`
		Problems []struct {
			Kind, Severity, Path, Message string
			Line                          int
		} `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(res) != 2 || !res[0].Valid || res[0].Root != "OZG.Ruecknahme.130111" || res[1].Valid || !strings.Contains(res[1].Error, "no such file") {
		t.Fatalf("%+v", res)
	}
}

func TestValidateRejectsDangerousXML(t *testing.T) {
	p := filepath.Join(t.TempDir(), "xxe.xml")
	os.WriteFile(p, []byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`), 0o644)
	code, out, _ := runCLI(t, nil, "validate", p)
	if code != 1 || !strings.Contains(out, "document type declarations (DTD, entities) are not allowed") {
		t.Fatalf("code %d\n%s", code, out)
	}
}

func TestValidateSchemasFlagAndEnv(t *testing.T) {
	good := writeSample(t, "ruecknahme")
	empty := t.TempDir()
	code, _, errOut := runCLI(t, nil, "validate", "--schemas", empty, good)
	if code != 1 || !strings.Contains(errOut, "no *.xsd files") {
		t.Fatalf("--schemas to an empty dir: %d %s", code, errOut)
	}
	code, _, errOut = runCLI(t, map[string]string{"XAGW_SCHEMAS": empty}, "validate", good)
	if code != 1 || !strings.Contains(errOut, "no *.xsd files") {
		t.Fatalf("XAGW_SCHEMAS: %d %s", code, errOut)
	}
}

func TestValidateUsage(t *testing.T) {
	if code, _, _ := runCLI(t, nil, "validate"); code != 2 {
		t.Fatalf("no files: %d", code)
	}
	if code, _, _ := runCLI(t, nil, "validate", "--nope"); code != 2 {
		t.Fatalf("unknown flag: %d", code)
	}
}

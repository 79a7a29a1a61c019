package dvdvfile_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

var ctx = context.Background()

func sample(t testing.TB) *dvdvtest.Sample {
	t.Helper()
	p, err := dvdvtest.SharedPKI()
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.NewSample("http://127.0.0.1:8090/osci")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writePEM(t testing.TB, path string, c *x509.Certificate) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
}

var uri2611 = "http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl"

func TestWriteLoadLookup(t *testing.T) {
	s := sample(t)
	path := filepath.Join(t.TempDir(), "dvdv.yaml")
	if err := s.File.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	d, err := dvdvfile.Load(path, dvdvfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil {
		t.Fatal(err)
	}
	if r.IntermediaryURL != "http://127.0.0.1:8090/osci" || !r.AddresseeCipherCert.Equal(s.AddresseeCipher) ||
		!r.IntermediarySignatureCert.Equal(s.IntermediarySignature) || r.Scenario != dvdv.ScenarioStore || r.Source != "file "+path {
		t.Errorf("route %+v", r)
	}
	// Written and re-read, the document is unchanged.
	data, _ := os.ReadFile(path)
	f, err := dvdvfile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, s.File) {
		t.Errorf("round trip changed the document:\n%s", data)
	}
}

// A hand-written file with certificates in files next to it, a revoked one
// in the mapping form, and JSON as an alternative syntax.
func TestHandWrittenFile(t *testing.T) {
	s := sample(t)
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "certs", "im.pem"), s.IntermediaryCipher)
	writePEM(t, filepath.Join(dir, "certs", "abh-cipher.pem"), s.AddresseeCipher)
	writePEM(t, filepath.Join(dir, "certs", "abh-sig.pem"), s.AddresseeSignature)
	yamlDoc := `version: 1
intermediaries:
  - name: im
    url: https://intermediary.example/osci
    cipherCertificate: certs/im.pem
organizations:
  - keys: [abh:000100, ags:08136088]
    name: STV Aalen
    category: Ausländerbehörde
    services:
      - uri: ` + uri2611 + `
        intermediary: im
        cipherCertificate: certs/abh-cipher.pem
        signatureCertificate:
          file: certs/abh-sig.pem
          revocationDate: 2025-01-01T00:00:00Z
          revocationReason: KEY_COMPROMISE
        validFrom: 2024-01-01
        scenario: forwardDelivery
`
	path := filepath.Join(dir, "dvdv.yaml")
	os.WriteFile(path, []byte(yamlDoc), 0o644)
	d, err := dvdvfile.Load(path, dvdvfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"abh:000100", "ags:08136088"} {
		r, err := d.Lookup(ctx, dvdv.MustParseOrgKey(key), uri2611)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if r.Scenario != dvdv.ScenarioForward || r.AddresseeSignatureCert != nil || len(r.Warnings) != 1 {
			t.Errorf("%s: route %+v", key, r)
		}
		if !r.ValidFrom.After(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)) {
			t.Errorf("validFrom %v", r.ValidFrom)
		}
	}
	rec, err := d.FindCertificateByFingerprint(ctx, dvdv.Fingerprint(s.AddresseeSignature))
	if err != nil || rec.RevocationReason != "KEY_COMPROMISE" || !rec.RevocationDate.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("revocation record: %v %+v", err, rec)
	}

	// The same document in JSON.
	var generic any
	yaml.Unmarshal([]byte(yamlDoc), &generic)
	js, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "dvdv.json")
	os.WriteFile(jsonPath, js, 0o644)
	if _, err := dvdvfile.Load(jsonPath, dvdvfile.Options{}); err != nil {
		t.Fatalf("JSON form: %v", err)
	}
}

func TestErrorsNameTheSpot(t *testing.T) {
	s := sample(t)
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "c.pem"), s.AddresseeCipher)
	head := "version: 1\nintermediaries:\n  - name: im\n    url: https://im.example/osci\n    cipherCertificate: c.pem\norganizations:\n"
	svc := "    services:\n      - uri: " + uri2611 + "\n        intermediary: im\n        cipherCertificate: c.pem\n"
	for name, tc := range map[string]struct{ doc, want string }{
		"typo":                 {head + "  - key: abh:000100\n    name: X\n    services:\n      - uri: " + uri2611 + "\n        intermediary: im\n        cipherCertficate: c.pem\n", "field cipherCertficate not found"},
		"unknown intermediary": {head + "  - key: abh:000100\n    name: X\n" + strings.Replace(svc, "intermediary: im", "intermediary: other", 1), `services[0] (` + uri2611 + `): intermediary "other" is not defined`},
		"bad key":              {head + "  - key: abh000100\n    name: X\n", "organizations[0] (abh000100): dvdv: organisation key"},
		"duplicate key":        {head + "  - key: abh:000100\n    name: X\n  - key: abh:000100\n    name: Y\n", "organizations[1] (abh:000100): organisation key abh:000100 is used by another"},
		"missing file":         {head + "  - key: abh:000100\n    name: X\n" + strings.Replace(svc, "cipherCertificate: c.pem", "cipherCertificate: nope.pem", 1), "nope.pem: no such file or directory"},
		"not a certificate":    {head + "  - key: abh:000100\n    name: X\n" + strings.Replace(svc, "cipherCertificate: c.pem", "cipherCertificate: {pem: \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"}", 1), "cipherCertificate: inline PEM"},
		"bad scenario":         {head + "  - key: abh:000100\n    name: X\n" + svc + "        scenario: push\n", `unknown OSCI scenario "push"`},
		"window":               {head + "  - key: abh:000100\n    name: X\n" + svc + "        validFrom: 2025-01-01\n        validTo: 2024-01-01\n", "validTo 2024-01-01T00:00:00Z is not after validFrom"},
		"version":              {"version: 2\norganizations: []\n", "version 2 is not supported"},
		"empty":                {"", "the file is empty"},
		"unknown cert field":   {head + "  - key: abh:000100\n    name: X\n" + strings.Replace(svc, "cipherCertificate: c.pem", "cipherCertificate: {path: c.pem}", 1), `unknown certificate field "path"`},
		"missing name":         {head + "  - key: abh:000100\n", "organizations[0] (abh:000100): name is missing"},
	} {
		path := filepath.Join(dir, "x.yaml")
		os.WriteFile(path, []byte(tc.doc), 0o644)
		_, err := dvdvfile.Load(path, dvdvfile.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v\nwant it to contain %q", name, err, tc.want)
		}
	}
}

func TestWatchReloadsAndKeepsGoodData(t *testing.T) {
	s := sample(t)
	path := filepath.Join(t.TempDir(), "dvdv.yaml")
	if err := s.File.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	d, err := dvdvfile.Load(path, dvdvfile.Options{WatchInterval: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.File.Intermediaries[0].URL = "https://moved-intermediary.example/osci"
	if err := s.File.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	r, err := d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r.IntermediaryURL != "https://moved-intermediary.example/osci" {
		t.Fatalf("after rewrite: %v %v", r, err)
	}
	os.WriteFile(path, []byte("version: 1\norganizations: [ {"), 0o644)
	time.Sleep(5 * time.Millisecond)
	r, err = d.Lookup(ctx, dvdvtest.SampleABH, uri2611)
	if err != nil || r.IntermediaryURL != "https://moved-intermediary.example/osci" {
		t.Fatalf("a broken file replaced good data: %v %v", r, err)
	}
	if d.LastReloadError() == nil {
		t.Error("reload error not reported")
	}
	// Reload on demand.
	s.File.Intermediaries[0].URL = "https://third.example/osci"
	s.File.WriteFile(path)
	if err := d.Reload(); err != nil || d.LastReloadError() != nil {
		t.Fatal(err)
	}
}

func TestDirectoryAnswersLikeTheDVDV(t *testing.T) {
	clock := time.Now()
	s := sample(t)
	end := clock.Add(time.Hour)
	s.File.Organizations[0].Services[1].ValidTo = &end
	d, err := dvdvfile.New(s.File, dvdvfile.Options{Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.FindServiceDescription(ctx, dvdvtest.SampleABH, uri2611); err != nil {
		t.Fatal(err)
	}
	clock = end.Add(time.Second)
	_, err = d.FindServiceDescription(ctx, dvdvtest.SampleABH, uri2611)
	var e *dvdv.Error
	if !errors.Is(err, dvdv.ErrNoService) || !errors.As(err, &e) || !strings.Contains(e.Warning, "nicht mehr gültig") {
		t.Errorf("expired service: %v", err)
	}
	_, err = d.Lookup(ctx, dvdv.MustParseOrgKey("abh:000110"), uri2611)
	if !errors.As(err, &e) || e.Problem.Code() != "5005" {
		t.Errorf("unknown organisation: %v", err)
	}
	_, err = d.FindAuthorityDescription(ctx, "Meldebehörde", dvdvtest.SampleABH)
	if !errors.Is(err, dvdv.ErrUnknownOrganization) || !strings.Contains(err.Error(), "5009") {
		t.Errorf("wrong category: %v", err)
	}
	cats, _ := d.Categories(ctx)
	if len(cats) != 1 || cats[0].Children[0].Name != "Ausländerbehörde" || cats[0].Children[0].Prefix != "abh" {
		t.Errorf("derived category tree %+v", cats)
	}
	if len(d.ClientCertificates()) != 1 {
		t.Errorf("client certificates %d", len(d.ClientCertificates()))
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("version: 1\norganizations:\n  - key: abh:000100\n    name: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := dvdvfile.Parse(data)
		if err != nil {
			return
		}
		// A parsed document can be built (or rejected with an error, never
		// a panic), and written back in a form that parses.
		dvdvfile.New(file, dvdvfile.Options{BaseDir: t.TempDir()})
		out, err := file.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := dvdvfile.Parse(out); err != nil {
			t.Fatalf("written document does not parse: %v\n%s", err, out)
		}
	})
}

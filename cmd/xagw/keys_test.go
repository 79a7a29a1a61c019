package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/testvectors"
)

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = data
	}
	return out
}

// With a seed the PKI is a pure function of the seed and the clock: two
// runs give the same bytes, PKCS#12 files included, and the kit's revoked
// signer is part of it.
func TestKeysTestPKIDeterministic(t *testing.T) {
	env := map[string]string{"XAGW_PIN": "4711"}
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		code, out, errOut := runCLI(t, env, "keys", "testpki", "--out", dir, "--rsa-bits", "2048", "--deterministic-seed", "unit-test-seed")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "TEST ONLY") || !strings.Contains(out, testvectors.RevokedSignerName) || !strings.Contains(out, "2026-03-02T08:15:00Z") {
			t.Fatalf("output:\n%s", out)
		}
	}
	fa, fb := readTree(t, a), readTree(t, b)
	if len(fa) != len(fb) || len(fa) < 40 {
		t.Fatalf("%d vs %d files", len(fa), len(fb))
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two seeded runs", name)
		}
	}
	p, err := testpki.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	if e := p.Entity(testvectors.RevokedSignerName); e == nil || e.Status != testpki.StatusRevoked {
		t.Fatal("revoked signer missing from the index")
	}
	if err := p.Policy().Check(p.Entity(testvectors.RevokedSignerName).Certificate, keystore.UsageSignature); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked signer passes the policy: %v", err)
	}
	id, err := keystore.LoadPKCS12File(filepath.Join(a, "sender-signature.p12"), []byte("4711"))
	if err != nil {
		t.Fatal(err)
	}
	if !id.Certificate.Equal(p.Entity("sender-signature").Certificate) {
		t.Fatal("PKCS#12 holds another certificate")
	}
}

func TestKeysTestPKIWithoutPINWritesPEMOnly(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, map[string]string{"XAGW_PIN": ""}, "keys", "testpki", "--out", dir, "--rsa-bits", "2048")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "PEM files only") || strings.Contains(out, "TEST ONLY") {
		t.Fatalf("output:\n%s", out)
	}
	for name := range readTree(t, dir) {
		if strings.HasSuffix(name, ".p12") {
			t.Fatalf("%s written without a PIN", name)
		}
	}
}

func TestKeysUsageErrors(t *testing.T) {
	if code, _, _ := runCLI(t, nil, "keys"); code != 2 {
		t.Errorf("no subcommand: %d", code)
	}
	if code, _, errOut := runCLI(t, nil, "keys", "nope"); code != 2 || !strings.Contains(errOut, `unknown subcommand "nope"`) {
		t.Errorf("unknown subcommand: %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "keys", "testpki"); code != 2 {
		t.Errorf("no --out: %d", code)
	}
	if code, _, errOut := runCLI(t, nil, "keys", "testpki", "--out", t.TempDir(), "--now", "yesterday"); code != 2 || !strings.Contains(errOut, "--now") {
		t.Errorf("bad --now: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "keys", "testpki", "--out", t.TempDir(), "--pin-file", filepath.Join(t.TempDir(), "missing")); code != 1 || !strings.Contains(errOut, "PIN file") {
		t.Errorf("missing PIN file: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, nil, "keys", "testpki", "--out", t.TempDir(), "--rsa-bits", "1024"); code != 1 || !strings.Contains(errOut, "RSABits") {
		t.Errorf("1024-bit keys: %d %s", code, errOut)
	}
}

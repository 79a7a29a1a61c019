package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

// The project's test PKI (RSA 2048, PKCS#12 files with a PIN), generated
// once per test binary and written into each test's folder.
var trustPKI struct {
	once sync.Once
	p    *testpki.PKI
	err  error
}

const trustPIN = "test-pin-0123"

func writeTrustPKI(t *testing.T, dir string) (*testpki.PKI, map[string]testpki.IndexEntry) {
	t.Helper()
	trustPKI.once.Do(func() {
		trustPKI.p, trustPKI.err = testpki.Generate(testpki.Options{RSABits: 2048, PIN: []byte(trustPIN)})
	})
	if trustPKI.err != nil {
		t.Fatal(trustPKI.err)
	}
	if err := trustPKI.p.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	entries := map[string]testpki.IndexEntry{}
	for _, e := range trustPKI.p.Index().Entities {
		entries[e.Name] = e
	}
	return trustPKI.p, entries
}

// osciConfig writes an osci-mode configuration over the test PKI in dir;
// extra is appended to the osci section.
func osciConfig(t *testing.T, dir string, identities, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: data
instance: trust-test
transport: {mode: osci, directory_file: dvdv.yaml}
osci:
%s
  trust_roots: [pki/root-ca.cert.pem]
%s
`, identities, extra)
	p := filepath.Join(dir, "xagw.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Security review finding 9: the OSCI signing and cipher keys and their PIN
// are the most sensitive files the gateway reads; like its tokens and
// at-rest key they must not be readable by group or others. serve --check
// loads them, so the check happens before the daemon starts.
func TestServeRefusesReadableOSCIKeyFiles(t *testing.T) {
	dir := t.TempDir()
	_, e := writeTrustPKI(t, filepath.Join(dir, "pki"))
	pem := fmt.Sprintf(`  signer_cert: pki/%s
  signer_key: pki/%s
  cipher_cert: pki/%s
  cipher_key: pki/%s`, e["sender-signature"].Cert, e["sender-signature"].Key, e["sender-cipher"].Cert, e["sender-cipher"].Key)
	p := osciConfig(t, dir, pem, "")
	key := filepath.Join(dir, "pki", e["sender-cipher"].Key)
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, nil, "serve", "--config", p, "--check")
	if code != 1 || !strings.Contains(errOut, "osci.cipher_key") || !strings.Contains(errOut, key) || !strings.Contains(errOut, "chmod 600") {
		t.Fatalf("a group-readable cipher key was accepted: %d %s", code, errOut)
	}
	os.Chmod(key, 0o600)
	if code, out, errOut := runCLI(t, nil, "serve", "--config", p, "--check"); code != 0 || !strings.Contains(out, "configuration OK") {
		t.Fatalf("0600 keys refused: %d %s", code, errOut)
	}

	// PKCS#12 identities: the file itself and the PIN file.
	p12 := fmt.Sprintf(`  signer_p12: pki/%s
  cipher_p12: pki/%s
  pin_file: osci.pin`, e["sender-signature"].PKCS12, e["sender-cipher"].PKCS12)
	p = osciConfig(t, dir, p12, "")
	pinFile := filepath.Join(dir, "osci.pin")
	os.WriteFile(pinFile, []byte(trustPIN+"\n"), 0o644)
	if code, _, errOut := runCLI(t, nil, "serve", "--config", p, "--check"); code != 1 || !strings.Contains(errOut, "osci.pin_file") || !strings.Contains(errOut, pinFile) {
		t.Fatalf("a world-readable PIN file was accepted: %d %s", code, errOut)
	}
	os.Chmod(pinFile, 0o600)
	signerP12 := filepath.Join(dir, "pki", e["sender-signature"].PKCS12)
	os.Chmod(signerP12, 0o604)
	if code, _, errOut := runCLI(t, nil, "serve", "--config", p, "--check"); code != 1 || !strings.Contains(errOut, "osci.signer_p12") || !strings.Contains(errOut, signerP12) {
		t.Fatalf("a world-readable PKCS#12 file was accepted: %d %s", code, errOut)
	}
	os.Chmod(signerP12, 0o600)
	if code, _, errOut := runCLI(t, nil, "serve", "--config", p, "--check"); code != 0 {
		t.Fatalf("0600 PKCS#12 and PIN refused: %s", errOut)
	}
}

// Finding 7: with osci.crl_files the Policy the OSCI client checks response
// signers and reply content signers with consults the CRLs (the test PKI's
// issuing CA revoked one of its certificates); the operator's intermediary
// signature certificates reach the transport.
func TestServeOSCITrustUsesCRLFiles(t *testing.T) {
	dir := t.TempDir()
	p, e := writeTrustPKI(t, filepath.Join(dir, "pki"))
	ids := fmt.Sprintf(`  signer_cert: pki/%s
  signer_key: pki/%s
  cipher_cert: pki/%s
  cipher_key: pki/%s`, e["sender-signature"].Cert, e["sender-signature"].Key, e["sender-cipher"].Cert, e["sender-cipher"].Key)
	revoked := p.Entity("addressee-cipher-revoked")
	if revoked == nil || revoked.Status != testpki.StatusRevoked {
		t.Fatal("the test PKI has no revoked certificate")
	}
	valid := p.Entity("intermediary-signature")
	load := func(extra string) (*osciIdentities, string) {
		t.Helper()
		cfg, err := config.Load(osciConfig(t, dir, ids, extra), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		var logs strings.Builder
		tr, err := osciTrust(cfg, func(string) string { return "" }, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return tr, logs.String()
	}

	without, logs := load("")
	if err := without.policy.Check(revoked.Certificate, keystore.UsageEncryption, p.IssuingCA.Certificate); err != nil {
		t.Fatalf("without CRLs the revoked certificate should pass (or this test shows nothing): %v", err)
	}
	if !strings.Contains(logs, "osci.crl_files not set") {
		t.Fatalf("no warning without CRLs:\n%s", logs)
	}

	with, logs := load(fmt.Sprintf("  crl_files: [pki/root-ca.crl.pem, pki/issuing-ca.crl.pem]\n  intermediary_signature_certs: [pki/%s]", e["intermediary-signature"].Cert))
	if err := with.policy.Check(revoked.Certificate, keystore.UsageEncryption, p.IssuingCA.Certificate); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("revoked certificate: %v", err)
	}
	if err := with.policy.Check(valid.Certificate, keystore.UsageSignature, p.IssuingCA.Certificate); err != nil {
		t.Fatalf("valid certificate: %v", err)
	}
	if len(with.accept) != 1 || !with.accept[0].Equal(valid.Certificate) {
		t.Fatalf("intermediary_signature_certs: %d certificates", len(with.accept))
	}
	if !strings.Contains(logs, "checked against CRLs") || strings.Contains(logs, "crl_files not set") {
		t.Fatalf("log:\n%s", logs)
	}

	// A CRL file that cannot be read is a configuration error at start.
	cfg, err := config.Load(osciConfig(t, dir, ids, "  crl_files: [pki/missing.crl.pem]"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := osciTrust(cfg, func(string) string { return "" }, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "osci.crl_files") {
		t.Fatalf("missing CRL file: %v", err)
	}
}

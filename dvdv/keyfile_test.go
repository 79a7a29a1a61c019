package dvdv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvtest"
	"github.com/xagw/xagw/internal/sharedpath"
)

// The OSCI reference pack's PKCS#12 files (made by Java tooling) serve as
// real-world client credentials: loaded from ../shared, used to sign the
// token request, and verified by the fake server.
func TestLoadStandaloneAuthFromReferencePKCS12(t *testing.T) {
	certs := sharedpath.MustFind("osci/certs")
	pin, err := os.ReadFile(filepath.Join(certs, "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	p12 := filepath.Join(certs, "alice_signature_4096.p12")
	auth, err := dvdv.LoadStandaloneAuth(p12, "", strings.TrimSpace(string(pin)))
	if err != nil {
		t.Fatal(err)
	}
	if auth.Certificate.Subject.CommonName != "Alice Signature 4096" {
		t.Errorf("subject %q", auth.Certificate.Subject.CommonName)
	}
	if _, err := dvdv.LoadStandaloneAuth(p12, "", "000000"); err == nil || !strings.Contains(err.Error(), "PIN") {
		t.Errorf("wrong PIN: %v", err)
	}

	// The PEM export of the same credential gives the same certificate.
	pemDir := filepath.Join(certs, "pem")
	fromPEM, err := dvdv.LoadStandaloneAuth(filepath.Join(pemDir, "alice_signature_4096.cert.pem"), filepath.Join(pemDir, "alice_signature_4096.key.pkcs8.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	if !fromPEM.Certificate.Equal(auth.Certificate) {
		t.Error("PEM and PKCS#12 disagree")
	}
	// A key that belongs to another certificate is caught before any request.
	_, err = dvdv.LoadStandaloneAuth(filepath.Join(pemDir, "alice_signature_4096.cert.pem"), filepath.Join(pemDir, "bob_cipher_4096.key.pkcs8.pem"), "")
	if err == nil || !strings.Contains(err.Error(), "does not belong") {
		t.Errorf("mismatched key: %v", err)
	}

	e := newEnv(t, envOptions{config: func(c *dvdv.Config) { c.Auth = auth }})
	e.servers[0].RegisterClient(auth.Certificate)
	if _, err := e.client.Lookup(ctx, dvdvtest.SampleABH, e.uri2611); err != nil {
		t.Fatalf("lookup with the reference credential: %v", err)
	}
}

func TestLoadStandaloneAuthPEMErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	for name, tc := range map[string]struct{ content, want string }{
		"no key":        {"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "certificate"},
		"encrypted key": {"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted PEM keys are not supported"},
		"garbage":       {"not a key store", "PKCS#12"},
	} {
		_, err := dvdv.LoadStandaloneAuth(write(name, tc.content), "", "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	if _, err := dvdv.LoadStandaloneAuth(filepath.Join(dir, "missing.p12"), "", ""); err == nil {
		t.Error("missing file accepted")
	}
}

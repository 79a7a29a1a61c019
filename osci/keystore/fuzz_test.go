package keystore

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are made by this test's own CA (keystore_test.go), not copied
// from the shared pack.
func fuzzSeeds(t testing.TB) [][]byte {
	ca := newTestCA(t)
	crl := ca.crl(t, ca.cert.NotBefore, ca.cert.NotAfter, 10)
	return [][]byte{
		ca.cert.Raw,
		certPEMBytes(ca.cert.Raw),
		crl.Raw,
		[]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"),
		[]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"),
	}
}

func certPEMBytes(der []byte) []byte {
	return []byte(fmt.Sprintf("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n", b64(der)))
}

// FuzzParse: the certificate, CRL, key and PKCS#12 parsers never panic on
// arbitrary bytes (certificates arrive inside messages; the others are
// configuration, but a broken file must be an error, not a crash).
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if certs, err := ParseCertificates(data); err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
		if crls, err := ParseCRLs(data); err == nil && len(crls) == 0 {
			t.Fatal("no error and no CRL")
		}
		if k, err := ParsePrivateKey(data); err == nil && k == nil {
			t.Fatal("no error and no key")
		}
		if id, err := LoadPKCS12(data, []byte("123456")); err == nil && (id.Certificate == nil || id.Key == nil) {
			t.Fatal("incomplete identity without error")
		}
	})
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("XAGW_UPDATE_FUZZ_SEEDS") != "1" {
		t.Skip("set XAGW_UPDATE_FUZZ_SEEDS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds(t) {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

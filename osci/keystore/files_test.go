package keystore_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

// Private keys and PIN files must not be readable by group or others,
// the rule the gateway applies to its other secret files (security
// review, finding 9).
func TestCheckPrivateFile(t *testing.T) {
	dir := t.TempDir()
	for mode, ok := range map[os.FileMode]bool{0o600: true, 0o400: true, 0o640: false, 0o604: false, 0o644: false, 0o660: false} {
		p := filepath.Join(dir, "key-"+mode.String())
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		err := keystore.CheckPrivateFile(p)
		if ok != (err == nil) {
			t.Errorf("mode %v: %v", mode, err)
		}
		if !ok && !errors.Is(err, keystore.ErrFileReadable) {
			t.Errorf("mode %v: %v does not wrap ErrFileReadable", mode, err)
		}
	}
	if err := keystore.CheckPrivateFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file accepted")
	}
	if err := keystore.CheckPrivateFile(dir); err == nil {
		t.Error("directory accepted")
	}
}

var (
	pkiOnce sync.Once
	pki     *testpki.PKI
	pkiErr  error
)

func projectPKI(t testing.TB) *testpki.PKI {
	pkiOnce.Do(func() { pki, pkiErr = testpki.Generate(testpki.Options{RSABits: 2048}) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

func writeCRL(t *testing.T, path string, crls ...*x509.RevocationList) {
	t.Helper()
	var data []byte
	for _, c := range crls {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.Raw})...)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// CRL files are the daemon's revocation source (finding 7). They are read
// again when they change, so a refreshed CRL takes effect without a
// restart; a broken replacement keeps the last good CRLs; a stale CRL
// fails closed.
func TestCRLFilesReload(t *testing.T) {
	p := projectPKI(t)
	dir := t.TempDir()
	rootFile, issuingFile := filepath.Join(dir, "root.crl"), filepath.Join(dir, "issuing.crl")
	writeCRL(t, rootFile, p.RootCRL)
	// First an issuing-CA CRL that lists nothing.
	empty, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: p.Now.Add(-time.Hour),
		NextUpdate: p.Now.Add(24 * time.Hour)}, p.IssuingCA.Certificate, p.IssuingCA.Key)
	if err != nil {
		t.Fatal(err)
	}
	emptyCRL, err := x509.ParseRevocationList(empty)
	if err != nil {
		t.Fatal(err)
	}
	writeCRL(t, issuingFile, emptyCRL)
	files, err := keystore.LoadCRLFiles([]string{rootFile, issuingFile}, false)
	if err != nil {
		t.Fatal(err)
	}
	files.Interval = time.Nanosecond
	inter := x509.NewCertPool()
	inter.AddCert(p.IssuingCA.Certificate)
	now := p.Now
	policy := &keystore.Policy{Roots: p.Roots(), Intermediates: inter, Revocation: files, Now: func() time.Time { return now }}
	revoked := p.Entity("addressee-cipher-revoked").Certificate
	if err := policy.Check(revoked, keystore.UsageEncryption); err != nil {
		t.Fatalf("not yet listed: %v", err)
	}
	// The refreshed CRL lists it.
	writeCRL(t, issuingFile, p.IssuingCRL)
	if err := policy.Check(revoked, keystore.UsageEncryption); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("after the CRL refresh: %v", err)
	}
	// A garbled replacement keeps the last good CRLs and is reported.
	if err := os.WriteFile(issuingFile, []byte("-----BEGIN X509 CRL-----\ngarbage\n-----END X509 CRL-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := policy.Check(revoked, keystore.UsageEncryption); !errors.Is(err, keystore.ErrRevoked) {
		t.Fatalf("after a broken refresh: %v", err)
	}
	if files.Err() == nil {
		t.Error("the broken file is not reported")
	}
	// Past nextUpdate nothing passes: stale CRLs fail closed.
	writeCRL(t, issuingFile, emptyCRL)
	now = emptyCRL.NextUpdate.Add(time.Hour)
	if err := policy.Check(p.Entity("addressee-cipher").Certificate, keystore.UsageEncryption); !errors.Is(err, keystore.ErrRevocationUnknown) {
		t.Fatalf("a stale CRL: %v", err)
	}
	if _, err := keystore.LoadCRLFiles([]string{filepath.Join(dir, "missing.crl")}, false); err == nil {
		t.Fatal("a missing CRL file must fail at load")
	}
}

package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/sharedpath"
)

func certsDir(t testing.TB) string {
	t.Helper()
	dir, err := sharedpath.Find("osci/certs")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func sharedPIN(t testing.TB) []byte {
	t.Helper()
	pin, err := PINFromFile(filepath.Join(certsDir(t), "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return pin
}

func TestEveryPKCS12Opens(t *testing.T) {
	dir := certsDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.p12"))
	if len(files) != 6 {
		t.Fatalf("%d .p12 files, want 6", len(files))
	}
	pin := sharedPIN(t)
	if string(pin) != "123456" {
		t.Fatalf("PIN %q", pin)
	}
	for _, f := range files {
		id, err := LoadPKCS12File(f, pin)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		der, err := os.ReadFile(strings.TrimSuffix(f, ".p12") + ".cer")
		if err != nil {
			t.Fatal(err)
		}
		if !id.Certificate.Equal(mustParse(t, der)) {
			t.Errorf("%s: certificate differs from the .cer file", f)
		}
		if k, ok := id.Key.(*rsa.PrivateKey); !ok || k.N.BitLen() != 4096 {
			t.Errorf("%s: key %T", f, id.Key)
		}
		if len(id.Chain) != 2 {
			t.Errorf("%s: %d chain certificates, want Governikus CA 8:PN and Root CA 3:PN", f, len(id.Chain))
		}
		// The key works through the interfaces an HSM would implement.
		digest := sha256.Sum256([]byte("x"))
		sig, err := id.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(id.Certificate.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) != nil {
			t.Errorf("%s: sign/verify failed: %v", f, err)
		}
		dec, err := id.Decrypter()
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, id.Certificate.PublicKey.(*rsa.PublicKey), []byte("key"), nil)
		if pt, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256}); err != nil || string(pt) != "key" {
			t.Errorf("%s: decrypt: %q %v", f, pt, err)
		}
	}
}

func TestPKCS12WrongPIN(t *testing.T) {
	_, err := LoadPKCS12File(filepath.Join(certsDir(t), "alice_signature_4096.p12"), []byte("654321"))
	if !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("got %v", err)
	}
}

func TestPEMPairsLoad(t *testing.T) {
	dir := filepath.Join(certsDir(t), "pem")
	keys, _ := filepath.Glob(filepath.Join(dir, "*.key.pkcs8.pem"))
	if len(keys) != 6 {
		t.Fatalf("%d PEM keys, want 6", len(keys))
	}
	pin := sharedPIN(t)
	for _, k := range keys {
		name := strings.TrimSuffix(filepath.Base(k), ".key.pkcs8.pem")
		id, err := LoadPEMFiles(filepath.Join(dir, name+".cert.pem"), k)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p12, err := LoadPKCS12File(filepath.Join(certsDir(t), name+".p12"), pin)
		if err != nil {
			t.Fatal(err)
		}
		if !id.Key.(*rsa.PrivateKey).Equal(p12.Key) || !id.Certificate.Equal(p12.Certificate) {
			t.Errorf("%s: PEM and PKCS#12 disagree", name)
		}
	}
	// A certificate with someone else's key is refused.
	_, err := LoadPEMFiles(filepath.Join(dir, "alice_signature_4096.cert.pem"), filepath.Join(dir, "bob_cipher_4096.key.pkcs8.pem"))
	if !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("mismatched pair: %v", err)
	}
}

func TestParseCertificatesChain(t *testing.T) {
	certs, err := LoadCertificatesFile(filepath.Join(certsDir(t), "pem", "governikus-test-ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].IsCA || !certs[1].IsCA {
		t.Fatalf("%d certificates", len(certs))
	}
	if _, err := ParseCertificates([]byte("garbage")); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := ParsePrivateKey([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("encrypted PEM: %v", err)
	}
}

func TestPINSources(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]string{"1234\n": "1234", "1234\r\n": "1234", "12 34": "12 34"} {
		p := filepath.Join(dir, "pin")
		os.WriteFile(p, []byte(content), 0o600)
		if got, err := PINFromFile(p); err != nil || string(got) != want {
			t.Errorf("%q: %q %v", content, got, err)
		}
	}
	p := filepath.Join(dir, "empty")
	os.WriteFile(p, []byte("\n"), 0o600)
	if _, err := PINFromFile(p); !errors.Is(err, ErrNoPIN) {
		t.Errorf("empty file: %v", err)
	}
	os.WriteFile(p, make([]byte, 5000), 0o600)
	if _, err := PINFromFile(p); err == nil {
		t.Error("huge PIN file accepted")
	}
	env := map[string]string{"XAGW_PIN": "4711"}
	if got, err := PINFromEnv("XAGW_PIN", func(k string) string { return env[k] }); err != nil || string(got) != "4711" {
		t.Errorf("env: %q %v", got, err)
	}
	if _, err := PINFromEnv("NOPE", func(string) string { return "" }); !errors.Is(err, ErrNoPIN) {
		t.Errorf("unset env: %v", err)
	}
}

func governikusPolicy(t testing.TB, at time.Time) *Policy {
	roots, err := CertPoolFromFiles(filepath.Join(certsDir(t), "pem", "governikus-test-ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &Policy{Roots: roots, Now: func() time.Time { return at }}
}

func TestPolicyGovernikusCertificates(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	p := governikusPolicy(t, now)
	dir := certsDir(t)
	alice := mustParseFile(t, filepath.Join(dir, "alice_signature_4096.cer"))
	bob := mustParseFile(t, filepath.Join(dir, "bob_cipher_4096.cer"))
	// The shared end-entity certificates carry digitalSignature,
	// keyEncipherment and dataEncipherment, so they pass both checks.
	if err := p.Check(alice, UsageSignature); err != nil {
		t.Errorf("alice signature: %v", err)
	}
	if err := p.Check(bob, UsageEncryption); err != nil {
		t.Errorf("bob encryption: %v", err)
	}
	check := func(name string, pol *Policy, c *x509.Certificate, u Usage, kind error) {
		t.Helper()
		err := pol.Check(c, u)
		var ce *CertError
		if !errors.Is(err, kind) || !errors.As(err, &ce) || ce.Subject == "" {
			t.Errorf("%s: got %v, want %v", name, err, kind)
		}
	}
	check("expired", governikusPolicy(t, time.Date(2036, 5, 4, 0, 0, 0, 0, time.UTC)), alice, UsageSignature, ErrExpired)
	check("not yet valid", governikusPolicy(t, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)), alice, UsageSignature, ErrNotYetValid)
	strict := governikusPolicy(t, now)
	strict.MinRSABits = 8192
	check("weak key", strict, alice, UsageSignature, ErrWeakKey)
	check("untrusted", &Policy{Roots: x509.NewCertPool(), Now: p.Now}, alice, UsageSignature, ErrUntrusted)
	check("no roots", &Policy{Now: p.Now}, alice, UsageSignature, ErrUntrusted)
	revoking := governikusPolicy(t, now)
	revoking.Revocation = RevocationFunc(func(c, _ *x509.Certificate, _ time.Time) error {
		if c.Equal(alice) {
			return ErrRevoked
		}
		return nil
	})
	check("revoked by callback", revoking, alice, UsageSignature, ErrRevoked)
	noCRL := governikusPolicy(t, now)
	noCRL.Revocation = &CRLSet{}
	check("no CRL", noCRL, alice, UsageSignature, ErrRevocationUnknown)
	// A CA certificate is not an end-entity certificate.
	ca := mustParseFile(t, filepath.Join(dir, "pem", "governikus-test-ca-chain.pem"))
	check("CA as end entity", p, ca, UsageSignature, ErrKeyUsage)
}

// A small CA of our own for what the shared certificates cannot show (other
// key usages, CRLs). ECDSA keeps generation fast.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var (
	caOnce sync.Once
	ca     testCA
)

func newTestCA(t testing.TB) testCA {
	caOnce.Do(func() {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keystore test root"},
			NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			panic(err)
		}
		ca = testCA{mustParse(t, der), key}
	})
	return ca
}

func (c testCA) issue(t testing.TB, serial int64, pub crypto.PublicKey, ku x509.KeyUsage) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage: ku, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, der)
}

func (c testCA) crl(t testing.TB, thisUpdate, nextUpdate time.Time, revoked ...int64) *x509.RevocationList {
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.cert, c.key)
	if err != nil {
		t.Fatal(err)
	}
	crls, err := ParseCRLs(der)
	if err != nil {
		t.Fatal(err)
	}
	return crls[0]
}

func TestPolicyKeyUsageAndCRL(t *testing.T) {
	ca := newTestCA(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	p := &Policy{Roots: roots, Now: func() time.Time { return now }}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	sigOnly := ca.issue(t, 10, ecKey.Public(), x509.KeyUsageDigitalSignature)
	if err := p.Check(sigOnly, UsageSignature); err != nil {
		t.Errorf("signature cert: %v", err)
	}
	if err := p.Check(sigOnly, UsageEncryption); !errors.Is(err, ErrKeyUsage) {
		t.Errorf("signature cert for encryption: %v", err)
	}
	nonRep := ca.issue(t, 11, ecKey.Public(), x509.KeyUsageContentCommitment)
	if err := p.Check(nonRep, UsageSignature); err != nil {
		t.Errorf("nonRepudiation cert: %v", err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	encOnly := ca.issue(t, 12, rsaKey.Public(), x509.KeyUsageKeyEncipherment)
	if err := p.Check(encOnly, UsageSignature); !errors.Is(err, ErrKeyUsage) {
		t.Errorf("encryption cert for signature: %v", err)
	}
	if err := p.Check(encOnly, UsageEncryption); !errors.Is(err, ErrWeakKey) {
		t.Errorf("RSA-1024: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err := p.Check(ca.issue(t, 13, p384.Public(), x509.KeyUsageDigitalSignature), UsageSignature); !errors.Is(err, ErrWeakKey) {
		t.Errorf("P-224: %v", err)
	}

	crl := ca.crl(t, now.Add(-time.Hour), now.Add(24*time.Hour), 10)
	p.Revocation = &CRLSet{CRLs: []*x509.RevocationList{crl}}
	if err := p.Check(sigOnly, UsageSignature); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked serial 10: %v", err)
	}
	if err := p.Check(nonRep, UsageSignature); err != nil {
		t.Errorf("serial 11 not on the CRL: %v", err)
	}
	stale := ca.crl(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), 10)
	p.Revocation = &CRLSet{CRLs: []*x509.RevocationList{stale}}
	if err := p.Check(nonRep, UsageSignature); !errors.Is(err, ErrRevocationUnknown) {
		t.Errorf("stale CRL: %v", err)
	}
	// A CRL signed by someone else is ignored.
	other := testCA{ca.cert, ecKey}
	forged := other.crl(t, now.Add(-time.Hour), now.Add(time.Hour))
	p.Revocation = &CRLSet{CRLs: []*x509.RevocationList{forged}}
	if err := p.Check(nonRep, UsageSignature); !errors.Is(err, ErrRevocationUnknown) {
		t.Errorf("forged CRL: %v", err)
	}
	p.Revocation = &CRLSet{AllowMissing: true}
	if err := p.Check(nonRep, UsageSignature); err != nil {
		t.Errorf("AllowMissing: %v", err)
	}
}

func mustParse(t testing.TB, der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustParseFile(t testing.TB, path string) *x509.Certificate {
	certs, err := LoadCertificatesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

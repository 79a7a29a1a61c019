package keystore

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// The chain and CRL caches must not change any outcome: a check that
// passed once fails later when a certificate of the chain has expired, the
// CRL is no longer current, the certificate is revoked by a newer CRL, or
// the trust anchors changed.
func TestPolicyCachesDoNotOutliveTheirFacts(t *testing.T) {
	root := newTestCA(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(500), Subject: pkix.Name{CommonName: "short-lived issuing CA"},
		NotBefore: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, root.cert, caKey.Public(), root.key)
	if err != nil {
		t.Fatal(err)
	}
	issuing := testCA{mustParse(t, der), caKey}
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := issuing.issue(t, 501, leafKey.Public(), x509.KeyUsageDigitalSignature)

	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	p := &Policy{Roots: roots, Now: func() time.Time { return now }}
	for i := 0; i < 3; i++ { // the second and third use the cached chain
		if err := p.Check(leaf, UsageSignature, issuing.cert); err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	now = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC) // the issuing CA has expired
	if err := p.Check(leaf, UsageSignature, issuing.cert); !errors.Is(err, ErrExpired) {
		t.Errorf("expired issuing CA after a cached check: %v", err)
	}
	now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := p.Check(leaf, UsageSignature); !errors.Is(err, ErrUntrusted) {
		t.Errorf("without the intermediate (never cached): %v", err)
	}
	other := &Policy{Roots: x509.NewCertPool(), Now: p.Now}
	if err := other.Check(leaf, UsageSignature, issuing.cert); !errors.Is(err, ErrUntrusted) {
		t.Errorf("another policy without the root: %v", err)
	}
	p.Roots = x509.NewCertPool()
	if err := p.Check(leaf, UsageSignature, issuing.cert); !errors.Is(err, ErrUntrusted) {
		t.Errorf("same policy, roots replaced: %v", err)
	}
	p.Roots = roots

	fresh := issuing.crl(t, now.Add(-time.Hour), now.Add(24*time.Hour))
	rootCRL := root.crl(t, now.Add(-time.Hour), now.Add(365*24*time.Hour))
	p.Revocation = &CRLSet{CRLs: []*x509.RevocationList{fresh, rootCRL}}
	for i := 0; i < 2; i++ {
		if err := p.Check(leaf, UsageSignature, issuing.cert); err != nil {
			t.Fatalf("with current CRLs, check %d: %v", i, err)
		}
	}
	now = now.Add(48 * time.Hour) // the issuing CA's CRL is stale now
	if err := p.Check(leaf, UsageSignature, issuing.cert); !errors.Is(err, ErrRevocationUnknown) {
		t.Errorf("stale CRL after cached signature check: %v", err)
	}
	revoking := issuing.crl(t, now.Add(-time.Hour), now.Add(24*time.Hour), 501)
	p.Revocation = &CRLSet{CRLs: []*x509.RevocationList{revoking, rootCRL}}
	if err := p.Check(leaf, UsageSignature, issuing.cert); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked by a newer CRL: %v", err)
	}
	// A CRL whose signature does not verify is refused every time.
	forged := testCA{issuing.cert, leafKey}.crl(t, now.Add(-time.Hour), now.Add(time.Hour))
	p.Revocation = &CRLSet{CRLs: []*x509.RevocationList{forged, rootCRL}}
	for i := 0; i < 2; i++ {
		if err := p.Check(leaf, UsageSignature, issuing.cert); !errors.Is(err, ErrRevocationUnknown) {
			t.Errorf("forged CRL, check %d: %v", i, err)
		}
	}
}

func BenchmarkPolicyCheck(b *testing.B) {
	root := newTestCA(b)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := root.issue(b, 600, key.Public(), x509.KeyUsageDigitalSignature)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	p := &Policy{Roots: roots, Now: func() time.Time { return now },
		Revocation: &CRLSet{CRLs: []*x509.RevocationList{root.crl(b, now.Add(-time.Hour), now.Add(time.Hour))}}}
	for i := 0; i < b.N; i++ {
		if err := p.Check(leaf, UsageSignature); err != nil {
			b.Fatal(err)
		}
	}
}

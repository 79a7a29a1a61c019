package testvectors

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/xagw/xagw/osci/testpki"
)

// RevokedSignerName names the revoked signature certificate the kit adds
// to the test PKI.
const RevokedSignerName = "sender-signature-revoked"

// KitPKIOptions returns the osci/testpki options of the committed kit's
// PKI: RSA 4096 main keys (as the certificates OSCI deployments use), the
// 2048-bit and ECDSA variants testpki always adds, the kit's reference time
// and the public seed. pin protects the PKCS#12 files.
func KitPKIOptions(seed string, pin []byte) testpki.Options {
	return testpki.Options{
		Now:                       ReferenceTime,
		RSABits:                   4096,
		PIN:                       pin,
		InsecureDeterministicSeed: []byte(seed),
	}
}

// ExtendPKI adds to a generated test PKI what the conformance kit needs and
// osci/testpki does not make: a revoked signature certificate
// (RevokedSignerName, ECDSA P-256, role sender) — testpki's only revoked
// certificate is a cipher certificate, whose key usage stops a signature
// check before revocation is ever looked at. The issuing CA's CRL is
// re-issued (CRL number 2, same validity window) listing both revoked
// certificates. With a deterministic PKI the new key, serial and CRL derive
// from seed; otherwise from crypto/rand.
//
// ADAPTER: this belongs in osci/testpki (one more entry in its spec list);
// it lives here until the testpki owner adopts it (docs/notes/issue-6.md).
func ExtendPKI(p *testpki.PKI, seed []byte) error {
	if p.Entity(RevokedSignerName) != nil {
		return nil
	}
	if p.IssuingCA == nil || p.IssuingCRL == nil {
		return errors.New("testvectors: the PKI has no issuing CA or CRL")
	}
	var r io.Reader = rand.Reader
	if p.Deterministic {
		if len(seed) == 0 {
			return errors.New("testvectors: a deterministic PKI needs the seed to be extended")
		}
		r = newDRBG(seed, "testpki-extension/"+RevokedSignerName)
	}
	key, err := ecKey(r, elliptic.P256(), p.Deterministic)
	if err != nil {
		return err
	}
	sb := make([]byte, 16)
	if _, err := io.ReadFull(r, sb); err != nil {
		return err
	}
	sb[0] = sb[0]&0x7F | 0x40
	const day, year = 24 * time.Hour, 365 * 24 * time.Hour
	ca := p.IssuingCA
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(sb),
		Subject: pkix.Name{CommonName: "Sender Signature Revoked", OrganizationalUnit: []string{"Testcertificate xagw"},
			Organization: []string{"xagw test PKI"}, Country: []string{"DE"}},
		NotBefore: p.Now.Add(-day), NotAfter: p.Now.Add(10 * year),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(r, tmpl, ca.Certificate, key.Public(), ca.Key)
	if err != nil {
		return fmt.Errorf("testvectors: revoked signer certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	old := p.IssuingCRL
	entries := append([]x509.RevocationListEntry(nil), old.RevokedCertificateEntries...)
	entries = append(entries, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: p.Now.Add(-time.Hour), ReasonCode: 1})
	crlDER, err := x509.CreateRevocationList(r, &x509.RevocationList{
		Number:                    new(big.Int).Add(old.Number, big.NewInt(1)),
		ThisUpdate:                old.ThisUpdate,
		NextUpdate:                old.NextUpdate,
		RevokedCertificateEntries: entries,
	}, ca.Certificate, ca.Key)
	if err != nil {
		return fmt.Errorf("testvectors: re-issuing the CRL: %w", err)
	}
	crl, err := x509.ParseRevocationList(crlDER)
	if err != nil {
		return err
	}
	p.IssuingCRL = crl
	p.Entities = append(p.Entities, &testpki.Entity{
		Name: RevokedSignerName, Role: testpki.RoleSender, Usage: testpki.UsageSignature, Status: testpki.StatusRevoked,
		KeyType: "ecdsa-p256", Certificate: cert, Key: key, Chain: []*x509.Certificate{ca.Certificate, p.Root.Certificate},
	})
	return nil
}

// ecKey draws an EC private key; deterministically a scalar by rejection
// sampling from r (Go's ecdsa.GenerateKey ignores custom readers).
func ecKey(r io.Reader, curve elliptic.Curve, deterministic bool) (*ecdsa.PrivateKey, error) {
	if !deterministic {
		return ecdsa.GenerateKey(curve, rand.Reader)
	}
	n := curve.Params().N
	buf := make([]byte, (n.BitLen()+7)/8)
	for range 1000 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		k := new(big.Int).SetBytes(buf)
		if k.Sign() == 0 || k.Cmp(n) >= 0 {
			continue
		}
		return ecdsa.ParseRawPrivateKey(curve, buf)
	}
	return nil, errors.New("testvectors: no EC scalar after 1000 draws")
}

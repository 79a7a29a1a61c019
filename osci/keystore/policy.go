package keystore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Usage is what a certificate is checked for.
type Usage int

const (
	// UsageSignature: signing OSCI messages and content (digitalSignature or
	// nonRepudiation).
	UsageSignature Usage = iota + 1
	// UsageEncryption: receiving encrypted keys (keyEncipherment or
	// dataEncipherment for RSA, keyAgreement for EC).
	UsageEncryption
)

func (u Usage) String() string {
	switch u {
	case UsageSignature:
		return "signature"
	case UsageEncryption:
		return "encryption"
	}
	return fmt.Sprintf("Usage(%d)", int(u))
}

// Certificate check failures, the Kind of a *CertError.
var (
	ErrExpired     = errors.New("certificate expired")
	ErrNotYetValid = errors.New("certificate not yet valid")
	ErrKeyUsage    = errors.New("certificate not allowed for this use")
	ErrWeakKey     = errors.New("key or algorithm too weak")
	ErrUntrusted   = errors.New("certificate not trusted")
	ErrRevoked     = errors.New("certificate revoked")
	// ErrRevocationUnknown: the revocation status could not be established
	// (no CRL for the issuer, a stale CRL, a failing callback). The check
	// fails closed.
	ErrRevocationUnknown = errors.New("revocation status unknown")
)

// CertError reports why a certificate failed a check.
type CertError struct {
	Kind    error  // one of the Err* kinds above
	Subject string // subject of the certificate at fault
	Serial  string // its serial number (hex)
	Detail  string
}

func (e *CertError) Error() string {
	s := fmt.Sprintf("keystore: %v: %s (serial %s)", e.Kind, e.Subject, e.Serial)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *CertError) Unwrap() error { return e.Kind }

func certErr(kind error, c *x509.Certificate, format string, args ...any) *CertError {
	serial := ""
	if c != nil && c.SerialNumber != nil {
		serial = fmt.Sprintf("%x", c.SerialNumber)
	}
	return &CertError{Kind: kind, Subject: subject(c), Serial: serial, Detail: fmt.Sprintf(format, args...)}
}

// RevocationChecker decides whether cert, issued by issuer, was revoked at
// time at. It returns nil for "not revoked", an error wrapping ErrRevoked for
// "revoked", and any other error when it cannot tell (which fails the check).
type RevocationChecker interface {
	CheckRevocation(cert, issuer *x509.Certificate, at time.Time) error
}

// RevocationFunc adapts a function (an OCSP client, a DVDV status lookup) to
// RevocationChecker.
type RevocationFunc func(cert, issuer *x509.Certificate, at time.Time) error

// CheckRevocation calls f.
func (f RevocationFunc) CheckRevocation(cert, issuer *x509.Certificate, at time.Time) error {
	return f(cert, issuer, at)
}

// Policy says which certificates are acceptable. The zero value is not
// usable for chain checks: Roots must be set (an empty pool trusts nothing).
type Policy struct {
	// Roots are the trust anchors. Required.
	Roots *x509.CertPool
	// Intermediates are extra CA certificates for chain building, besides
	// those passed to Check.
	Intermediates *x509.CertPool
	// Now gives the time to check against (default time.Now). Inject a
	// fixed clock in tests, or the signing time where the protocol defines
	// one.
	Now func() time.Time
	// MinRSABits is the smallest RSA modulus accepted (default 2048).
	MinRSABits int
	// MinECBits is the smallest EC curve size accepted (default 256).
	MinECBits int
	// Revocation, if set, is asked about the end-entity certificate and
	// every CA certificate below the root.
	Revocation RevocationChecker
}

// DefaultMinRSABits and DefaultMinECBits are the key-size floors.
const (
	DefaultMinRSABits = 2048
	DefaultMinECBits  = 256
)

// Check verifies cert for usage: validity period, key usage, key size (of
// cert and of its chain), a chain to Roots (intermediates from the Policy and
// from the certificates passed along, e.g. those delivered in a PKCS#12 file
// or a message), and revocation. It returns the first failure as a
// *CertError.
func (p *Policy) Check(cert *x509.Certificate, usage Usage, intermediates ...*x509.Certificate) error {
	if cert == nil {
		return errors.New("keystore: no certificate to check")
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	if now.Before(cert.NotBefore) {
		return certErr(ErrNotYetValid, cert, "valid from %s, checked at %s", cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return certErr(ErrExpired, cert, "valid until %s, checked at %s", cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if err := checkUsage(cert, usage); err != nil {
		return err
	}
	if err := p.checkKeySize(cert); err != nil {
		return err
	}
	if p.Roots == nil {
		return certErr(ErrUntrusted, cert, "no trust roots configured")
	}
	chain, err := p.chain(cert, intermediates, now)
	if err != nil {
		return err
	}
	for _, c := range chain[1:] {
		if err := p.checkKeySize(c); err != nil {
			return err
		}
	}
	if p.Revocation != nil {
		for i := 0; i+1 < len(chain); i++ {
			if err := p.Revocation.CheckRevocation(chain[i], chain[i+1], now); err != nil {
				if errors.Is(err, ErrRevoked) {
					return certErr(ErrRevoked, chain[i], "%v", err)
				}
				return certErr(ErrRevocationUnknown, chain[i], "%v", err)
			}
		}
	}
	return nil
}

// chain returns a verified chain from cert to a root: x509.Verify's first
// chain, or the one it built earlier for the same inputs (see chainCache)
// once the validity of each of its certificates has been checked at now.
func (p *Policy) chain(cert *x509.Certificate, intermediates []*x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	key := newChainKey(p, cert, intermediates)
	if chain := cachedChain(key); chain != nil {
		for _, c := range chain[1:] { // the leaf was checked by the caller
			if now.Before(c.NotBefore) || now.After(c.NotAfter) {
				// Let x509.Verify name the failure exactly as before.
				chain = nil
				break
			}
		}
		if chain != nil {
			return chain, nil
		}
	}
	pool := x509.NewCertPool()
	if p.Intermediates != nil {
		pool = p.Intermediates.Clone()
	}
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         p.Roots,
		Intermediates: pool,
		CurrentTime:   now,
		// OSCI certificates carry assorted extended key usages (the
		// Governikus test certificates list TLS client/server, e-mail,
		// smart-card logon); key usage is what matters and is checked above.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, chainError(cert, err)
	}
	rememberChain(key, chains[0])
	return chains[0], nil
}

func chainError(cert *x509.Certificate, err error) error {
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		switch inv.Reason {
		case x509.Expired:
			// The leaf was checked first, so this is a CA certificate.
			return certErr(ErrExpired, inv.Cert, "in the chain of %s: %v", subject(cert), err)
		case x509.NotAuthorizedToSign, x509.CANotAuthorizedForThisName, x509.TooManyIntermediates, x509.NameConstraintsWithoutSANs, x509.CANotAuthorizedForExtKeyUsage:
			return certErr(ErrUntrusted, cert, "%v", err)
		}
	}
	var insecure x509.InsecureAlgorithmError
	if errors.As(err, &insecure) {
		return certErr(ErrWeakKey, cert, "%v", err)
	}
	return certErr(ErrUntrusted, cert, "%v", err)
}

func checkUsage(cert *x509.Certificate, usage Usage) error {
	if cert.IsCA && cert.BasicConstraintsValid {
		return certErr(ErrKeyUsage, cert, "CA certificate used as an end-entity %s certificate", usage)
	}
	ku := cert.KeyUsage
	if ku == 0 {
		return nil // no KeyUsage extension: not restricted (RFC 5280, 4.2.1.3)
	}
	var want x509.KeyUsage
	var names string
	switch usage {
	case UsageSignature:
		want, names = x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment, "digitalSignature or nonRepudiation"
	case UsageEncryption:
		if _, isEC := cert.PublicKey.(*ecdsa.PublicKey); isEC {
			want, names = x509.KeyUsageKeyAgreement, "keyAgreement"
		} else {
			want, names = x509.KeyUsageKeyEncipherment|x509.KeyUsageDataEncipherment, "keyEncipherment or dataEncipherment"
		}
	default:
		return fmt.Errorf("keystore: unknown usage %v", usage)
	}
	if ku&want == 0 {
		return certErr(ErrKeyUsage, cert, "%s use needs %s, certificate allows %s", usage, names, keyUsageNames(ku))
	}
	return nil
}

func (p *Policy) checkKeySize(c *x509.Certificate) error {
	minRSA, minEC := p.MinRSABits, p.MinECBits
	if minRSA <= 0 {
		minRSA = DefaultMinRSABits
	}
	if minEC <= 0 {
		minEC = DefaultMinECBits
	}
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minRSA {
			return certErr(ErrWeakKey, c, "RSA key of %d bits, minimum %d", n, minRSA)
		}
		if k.E < 3 || big.NewInt(int64(k.E)).Bit(0) == 0 {
			return certErr(ErrWeakKey, c, "RSA public exponent %d", k.E)
		}
	case *ecdsa.PublicKey:
		if n := k.Curve.Params().BitSize; n < minEC {
			return certErr(ErrWeakKey, c, "EC key on a %d-bit curve, minimum %d", n, minEC)
		}
	case ed25519.PublicKey:
	default:
		return certErr(ErrWeakKey, c, "unsupported public key type %T", c.PublicKey)
	}
	return nil
}

func keyUsageNames(ku x509.KeyUsage) string {
	names := []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	s := ""
	for i, n := range names {
		if ku&(1<<i) != 0 {
			if s != "" {
				s += ", "
			}
			s += n
		}
	}
	if s == "" {
		return "nothing"
	}
	return s
}

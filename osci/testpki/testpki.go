// Package testpki generates a complete, project-owned test PKI for OSCI:
// a root CA, an issuing CA, and end-entity certificates for every OSCI
// role — the intermediary (signature and cipher), a sender (signature and
// cipher), an ABH addressee (signature and cipher) and another reader —
// plus variants: RSA 2048 and ECDSA keys, an expired, a not-yet-valid and a
// revoked certificate, and CRLs of both CAs.
//
// [Generate] builds it in memory; [PKI.WriteDir] writes PEM files (and
// PKCS#12 files if a PIN is given) and an index.json naming each role;
// [Load] reads such a directory back.
//
// Normal generation uses crypto/rand. For conformance vectors that must be
// regenerated bit for bit, Options.InsecureDeterministicSeed (together with
// a fixed Options.Now) derives every key, serial number and PKCS#12 salt
// from the seed. Keys made that way are test material only: anyone with the
// seed has the private keys.
package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/xagw/xagw/osci/keystore"
	"software.sslmate.com/src/go-pkcs12"
)

// Roles, usages and statuses used in the index.
const (
	RoleRootCA       = "root-ca"
	RoleIssuingCA    = "issuing-ca"
	RoleIntermediary = "intermediary"
	RoleSender       = "sender"
	RoleAddressee    = "addressee"
	RoleReader       = "reader"

	UsageCA        = "ca"
	UsageSignature = "signature"
	UsageCipher    = "cipher"

	StatusValid       = "valid"
	StatusExpired     = "expired"
	StatusNotYetValid = "not-yet-valid"
	StatusRevoked     = "revoked"
)

// Options control generation.
type Options struct {
	// Now is the reference time: validity periods are relative to it and
	// the index records it. Default: the current time, truncated to
	// seconds. Required with InsecureDeterministicSeed.
	Now time.Time
	// RSABits is the size of the CA keys and of the main RSA end-entity
	// keys (default 4096, as the Governikus test certificates). The
	// "-rsa2048" variants are always 2048 bits. Tests may use 2048 to save
	// time.
	RSABits int
	// PIN, if set, protects PKCS#12 files written next to the PEM files.
	// Read it with keystore.PINFromFile; it is not stored anywhere.
	PIN []byte
	// LegacyPKCS12 writes PKCS#12 files with 3DES/RC2 and a SHA-1 MAC
	// (like the Governikus files) instead of AES-256/PBKDF2/SHA-256, for
	// tools that cannot read the modern form.
	LegacyPKCS12 bool
	// InsecureDeterministicSeed makes the output a pure function of the
	// seed, Now and the other options. Test material only.
	InsecureDeterministicSeed []byte
}

// Entity is one certificate with its key.
type Entity struct {
	Name        string // file stem, e.g. "sender-signature"
	Role        string
	Usage       string
	Status      string
	KeyType     string // "rsa-4096", "ecdsa-p256", …
	Certificate *x509.Certificate
	Key         crypto.Signer
	// Chain is the issuing chain up to and including the root.
	Chain []*x509.Certificate
}

// Identity returns the entity as a keystore identity.
func (e *Entity) Identity() *keystore.Identity {
	return &keystore.Identity{Certificate: e.Certificate, Chain: e.Chain, Key: e.Key}
}

// PKI is a generated test PKI.
type PKI struct {
	Now           time.Time
	Deterministic bool
	Root          *Entity
	IssuingCA     *Entity
	// Entities are the end-entity certificates in index order.
	Entities []*Entity
	// CRLs: the root's (listing nothing) and the issuing CA's (listing the
	// revoked entity), both valid from Now-1h until the end-entities expire.
	RootCRL, IssuingCRL *x509.RevocationList

	pin          []byte
	legacyPKCS12 bool
	seed         []byte
}

// Entity returns the entity with that name, or nil.
func (p *PKI) Entity(name string) *Entity {
	for _, e := range p.all() {
		if e.Name == name {
			return e
		}
	}
	return nil
}

func (p *PKI) all() []*Entity {
	return append([]*Entity{p.Root, p.IssuingCA}, p.Entities...)
}

// Roots returns a pool holding the root certificate.
func (p *PKI) Roots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root.Certificate)
	return pool
}

// Policy returns a keystore policy that trusts this PKI's root, checks
// revocation against its CRLs and evaluates at Now.
func (p *PKI) Policy() *keystore.Policy {
	inter := x509.NewCertPool()
	inter.AddCert(p.IssuingCA.Certificate)
	now := p.Now
	return &keystore.Policy{
		Roots:         p.Roots(),
		Intermediates: inter,
		Now:           func() time.Time { return now },
		Revocation:    &keystore.CRLSet{CRLs: []*x509.RevocationList{p.RootCRL, p.IssuingCRL}},
	}
}

// entitySpec describes one end-entity to create.
type entitySpec struct {
	name, role, usage, status, display string
	key                                keySpec
}

func specs(mainRSA keySpec) []entitySpec {
	return []entitySpec{
		{"intermediary-signature", RoleIntermediary, UsageSignature, StatusValid, "Intermediary Signature", mainRSA},
		{"intermediary-cipher", RoleIntermediary, UsageCipher, StatusValid, "Intermediary Cipher", mainRSA},
		{"sender-signature", RoleSender, UsageSignature, StatusValid, "Sender Signature", mainRSA},
		{"sender-cipher", RoleSender, UsageCipher, StatusValid, "Sender Cipher", mainRSA},
		{"addressee-signature", RoleAddressee, UsageSignature, StatusValid, "ABH Addressee Signature", mainRSA},
		{"addressee-cipher", RoleAddressee, UsageCipher, StatusValid, "ABH Addressee Cipher", mainRSA},
		{"reader-cipher", RoleReader, UsageCipher, StatusValid, "Other Reader Cipher", mainRSA},
		{"sender-signature-rsa2048", RoleSender, UsageSignature, StatusValid, "Sender Signature RSA 2048", "rsa-2048"},
		{"addressee-cipher-rsa2048", RoleAddressee, UsageCipher, StatusValid, "ABH Addressee Cipher RSA 2048", "rsa-2048"},
		{"sender-signature-ecdsa-p256", RoleSender, UsageSignature, StatusValid, "Sender Signature ECDSA P-256", "ecdsa-p256"},
		{"sender-signature-ecdsa-p384", RoleSender, UsageSignature, StatusValid, "Sender Signature ECDSA P-384", "ecdsa-p384"},
		{"sender-signature-expired", RoleSender, UsageSignature, StatusExpired, "Sender Signature Expired", "rsa-2048"},
		{"sender-signature-not-yet-valid", RoleSender, UsageSignature, StatusNotYetValid, "Sender Signature Not Yet Valid", "rsa-2048"},
		{"addressee-cipher-revoked", RoleAddressee, UsageCipher, StatusRevoked, "ABH Addressee Cipher Revoked", "rsa-2048"},
	}
}

// Validity periods relative to Now.
const (
	day          = 24 * time.Hour
	year         = 365 * day
	rootLife     = 20 * year
	caLife       = 15 * year
	entityLife   = 10 * year
	backdate     = day
	revokedSince = time.Hour
)

// Generate creates the PKI in memory.
func Generate(opts Options) (*PKI, error) {
	det := opts.InsecureDeterministicSeed != nil
	if det && len(opts.InsecureDeterministicSeed) == 0 {
		return nil, errors.New("testpki: empty deterministic seed")
	}
	if det && opts.Now.IsZero() {
		return nil, errors.New("testpki: a deterministic PKI needs a fixed Options.Now")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Second)
	bits := opts.RSABits
	if bits == 0 {
		bits = 4096
	}
	if bits != 2048 && bits != 3072 && bits != 4096 {
		return nil, fmt.Errorf("testpki: RSABits %d (2048, 3072 or 4096)", bits)
	}
	mainRSA := keySpec(fmt.Sprintf("rsa-%d", bits))
	p := &PKI{Now: now, Deterministic: det, pin: opts.PIN, legacyPKCS12: opts.LegacyPKCS12, seed: opts.InsecureDeterministicSeed}
	random := func(name string) io.Reader {
		if det {
			return newDRBG(opts.InsecureDeterministicSeed, name)
		}
		return rand.Reader
	}

	// Root CA.
	r := random(RoleRootCA)
	rootKey, err := mainRSA.generate(r, det)
	if err != nil {
		return nil, err
	}
	rootTmpl := &x509.Certificate{
		SerialNumber: serial(r), Subject: name("xagw Test Root CA"),
		NotBefore: now.Add(-backdate), NotAfter: now.Add(rootLife),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 1,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootCert, err := create(r, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	p.Root = &Entity{Name: RoleRootCA, Role: RoleRootCA, Usage: UsageCA, Status: StatusValid, KeyType: string(mainRSA), Certificate: rootCert, Key: rootKey}

	// Issuing CA.
	r = random(RoleIssuingCA)
	caKey, err := mainRSA.generate(r, det)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(r), Subject: name("xagw Test Issuing CA"),
		NotBefore: now.Add(-backdate), NotAfter: now.Add(caLife),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caCert, err := create(r, caTmpl, rootCert, caKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	p.IssuingCA = &Entity{Name: RoleIssuingCA, Role: RoleIssuingCA, Usage: UsageCA, Status: StatusValid, KeyType: string(mainRSA), Certificate: caCert, Key: caKey, Chain: []*x509.Certificate{rootCert}}

	var revoked []x509.RevocationListEntry
	for _, s := range specs(mainRSA) {
		r := random(s.name)
		key, err := s.key.generate(r, det)
		if err != nil {
			return nil, fmt.Errorf("testpki: %s: %w", s.name, err)
		}
		nb, na := now.Add(-backdate), now.Add(entityLife)
		switch s.status {
		case StatusExpired:
			nb, na = now.Add(-2*year), now.Add(-year)
		case StatusNotYetValid:
			nb, na = now.Add(year), now.Add(3*year)
		}
		ku := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		if s.usage == UsageCipher {
			ku = x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(r), Subject: name(s.display),
			NotBefore: nb, NotAfter: na, KeyUsage: ku, BasicConstraintsValid: true,
		}
		cert, err := create(r, tmpl, caCert, key.Public(), caKey)
		if err != nil {
			return nil, fmt.Errorf("testpki: %s: %w", s.name, err)
		}
		if s.status == StatusRevoked {
			revoked = append(revoked, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: now.Add(-revokedSince), ReasonCode: 1})
		}
		p.Entities = append(p.Entities, &Entity{Name: s.name, Role: s.role, Usage: s.usage, Status: s.status, KeyType: string(s.key),
			Certificate: cert, Key: key, Chain: []*x509.Certificate{caCert, rootCert}})
	}

	if p.RootCRL, err = crl(random("root-ca.crl"), rootCert, rootKey, now, nil); err != nil {
		return nil, err
	}
	if p.IssuingCRL, err = crl(random("issuing-ca.crl"), caCert, caKey, now, revoked); err != nil {
		return nil, err
	}
	return p, nil
}

func name(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, OrganizationalUnit: []string{"Testcertificate xagw"}, Organization: []string{"xagw test PKI"}, Country: []string{"DE"}}
}

// serial draws a positive 127-bit serial number.
func serial(r io.Reader) *big.Int {
	b := make([]byte, 16)
	io.ReadFull(r, b)
	b[0] &= 0x7F
	b[0] |= 0x40 // never zero, always 16 bytes
	return new(big.Int).SetBytes(b)
}

func create(r io.Reader, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(r, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("testpki: certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func crl(r io.Reader, issuer *x509.Certificate, key crypto.Signer, now time.Time, revoked []x509.RevocationListEntry) (*x509.RevocationList, error) {
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(1),
		ThisUpdate:                now.Add(-revokedSince),
		NextUpdate:                now.Add(entityLife),
		RevokedCertificateEntries: revoked,
	}
	der, err := x509.CreateRevocationList(r, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("testpki: CRL of %s: %w", issuer.Subject.CommonName, err)
	}
	return x509.ParseRevocationList(der)
}

// pkcs12For encodes an entity with its chain under the PIN.
func (p *PKI) pkcs12For(e *Entity) ([]byte, error) {
	enc := pkcs12.Modern2023
	if p.legacyPKCS12 {
		enc = pkcs12.LegacyDES
	}
	r := rand.Reader
	if p.Deterministic {
		r = newDRBG(p.seed, e.Name+".p12")
	}
	return enc.WithRand(r).Encode(e.Key, e.Certificate, e.Chain, string(p.pin))
}

func fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

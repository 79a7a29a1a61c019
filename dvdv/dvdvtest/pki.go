package dvdvtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
)

// PKI is a throwaway certificate authority for tests, examples and local
// runs. To keep tests fast every certificate it issues shares one RSA-2048
// key; that is fine for a test directory and wrong for anything else.
type PKI struct {
	CA     *x509.Certificate
	caKey  *rsa.PrivateKey
	key    *rsa.PrivateKey
	serial atomic.Int64
}

// NewPKI generates a CA and the shared leaf key (two RSA-2048 keys).
func NewPKI() (*PKI, error) {
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "xagw DVDV test CA", Organization: []string{"xagw test"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &PKI{CA: ca, caKey: caKey, key: key}
	p.serial.Store(1)
	return p, nil
}

var (
	sharedOnce sync.Once
	shared     *PKI
	sharedErr  error
)

// SharedPKI returns one PKI per process, made on first use, so that a test
// binary generates its RSA keys once.
func SharedPKI() (*PKI, error) {
	sharedOnce.Do(func() { shared, sharedErr = NewPKI() })
	return shared, sharedErr
}

// Key returns the private key of every certificate the PKI issues.
func (p *PKI) Key() *rsa.PrivateKey { return p.key }

// Issue returns a certificate for cn valid from notBefore to notAfter (zero
// values: yesterday and a year from now).
func (p *PKI) Issue(cn string, notBefore, notAfter time.Time) (*x509.Certificate, error) {
	notBefore, notAfter = validity(notBefore, notAfter)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"xagw test"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &p.key.PublicKey, p.caKey)
	if err != nil {
		return nil, fmt.Errorf("dvdvtest: issuing %q: %w", cn, err)
	}
	return x509.ParseCertificate(der)
}

// validity fills in the default validity: from yesterday to a year from
// now.
func validity(notBefore, notAfter time.Time) (time.Time, time.Time) {
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-24 * time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	return notBefore, notAfter
}

// SubCA returns a PKI whose CA is an intermediate certificate authority
// named cn, issued by p's CA for notBefore to notAfter (zero values as for
// Issue). Its certificates chain to p.CA through it; a short-lived one lets
// tests see a chain expire before its leaf certificates. It reuses p's keys,
// so no key is generated.
func (p *PKI) SubCA(cn string, notBefore, notAfter time.Time) (*PKI, error) {
	notBefore, notAfter = validity(notBefore, notAfter)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(p.serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"xagw test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &p.key.PublicKey, p.caKey)
	if err != nil {
		return nil, fmt.Errorf("dvdvtest: issuing CA %q: %w", cn, err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	sub := &PKI{CA: ca, caKey: p.key, key: p.key}
	sub.serial.Store(1)
	return sub, nil
}

// MustIssue is Issue that panics, for tests.
func (p *PKI) MustIssue(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	c, err := p.Issue(cn, notBefore, notAfter)
	if err != nil {
		panic(err)
	}
	return c
}

// ClientAuth issues a client certificate and returns it with the key as
// standalone-authentication credentials.
func (p *PKI) ClientAuth(cn string) (*dvdv.StandaloneAuth, error) {
	c, err := p.Issue(cn, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	return &dvdv.StandaloneAuth{Certificate: c, Key: p.key}, nil
}

// Sample is a small, complete directory: one intermediary and one
// foreign-residents office (SampleABH) offering the XAusländer OZG service
// of versions 1.21.1 and 26.11 (store scenario), with the certificates used.
type Sample struct {
	File *dvdvfile.File

	IntermediaryCipher, IntermediarySignature *x509.Certificate
	AddresseeCipher, AddresseeSignature       *x509.Certificate
	// Client may obtain DVDV tokens (registered for the office).
	Client *dvdv.StandaloneAuth
}

// SampleABH is the organisation key of the sample office: BHKNZ 000100 from
// the ABH code list with the default prefix.
var SampleABH = dvdv.OrgKey{Prefix: dvdv.DefaultABHPrefix, ID: "000100"}

// NewSample builds the sample directory for an intermediary at
// intermediaryURL.
func (p *PKI) NewSample(intermediaryURL string) (*Sample, error) {
	s := &Sample{}
	var err error
	for _, c := range []struct {
		dst **x509.Certificate
		cn  string
	}{
		{&s.IntermediaryCipher, "Test intermediary cipher"},
		{&s.IntermediarySignature, "Test intermediary signature"},
		{&s.AddresseeCipher, "ABH 000100 cipher"},
		{&s.AddresseeSignature, "ABH 000100 signature"},
	} {
		if *c.dst, err = p.Issue(c.cn, time.Time{}, time.Time{}); err != nil {
			return nil, err
		}
	}
	if s.Client, err = p.ClientAuth("ABH 000100 DVDV client"); err != nil {
		return nil, err
	}
	// One reference per certificate, shared by both services, so marking it
	// revoked marks it everywhere (revocation belongs to the certificate).
	cipher, sig := dvdvfile.InlineCert(s.AddresseeCipher), dvdvfile.InlineCert(s.AddresseeSignature)
	var services []dvdvfile.Service
	for _, v := range []string{"1.21.1", "26.11"} {
		uri, err := dvdv.OZGServiceURI(v)
		if err != nil {
			return nil, err
		}
		services = append(services, dvdvfile.Service{
			URI: uri, Intermediary: "local", Addressee: "urn:de:xagw:test:abh:000100",
			CipherCertificate:    cipher,
			SignatureCertificate: sig,
			Scenario:             string(dvdv.ScenarioStore),
		})
	}
	s.File = &dvdvfile.File{
		Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{
			Name: "local", URL: intermediaryURL, Provider: "xagw test intermediary",
			CipherCertificate:    dvdvfile.InlineCert(s.IntermediaryCipher),
			SignatureCertificate: dvdvfile.InlineCert(s.IntermediarySignature),
		}},
		Organizations: []dvdvfile.Organization{{
			Key: SampleABH.String(), Name: "STV Aalen", Category: "Ausländerbehörde",
			ClientCertificates: []*dvdvfile.CertRef{dvdvfile.InlineCert(s.Client.Certificate)},
			Services:           services,
		}},
	}
	return s, nil
}

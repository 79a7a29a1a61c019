// Package keystore loads the keys and certificates OSCI needs and checks
// certificates before they are trusted.
//
// Private keys are used only through crypto.Signer (signatures) and
// crypto.Decrypter (key transport), so a key held in an HSM (PKCS#11) can take
// the place of a software key: build an [Identity] with the HSM's signer and
// its certificate. Software keys come from PKCS#12 files (including the
// legacy 3DES/RC2 files the Governikus tools produce) or PEM. PINs are passed
// as byte slices read from a file or the environment ([PINFromFile],
// [PINFromEnv]), never from command-line flags; callers should clear them
// after use.
//
// [Policy] checks a certificate for a purpose: validity at a given time,
// key usage, minimum key size, a chain to configured trust roots, and
// revocation through a [RevocationChecker] (a [CRLSet] or a callback). Each
// failure is a *[CertError] whose Kind tells why.
package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// Identity is a private key with its certificate and the CA certificates
// that came with it.
type Identity struct {
	// Certificate is the end-entity certificate of Key.
	Certificate *x509.Certificate
	// Chain holds further certificates delivered with the key (issuing CA
	// first where the source says so). It is informational: trust comes
	// from a Policy's roots, never from here.
	Chain []*x509.Certificate
	// Key signs and, for RSA keys, decrypts. Software keys are
	// *rsa.PrivateKey or *ecdsa.PrivateKey; an HSM key is any crypto.Signer
	// (that also implements crypto.Decrypter for cipher keys).
	Key crypto.Signer
}

// Signer returns the signing key.
func (id *Identity) Signer() crypto.Signer { return id.Key }

// Decrypter returns the key as a crypto.Decrypter, or an error if the key
// cannot decrypt (for example an ECDSA key).
func (id *Identity) Decrypter() (crypto.Decrypter, error) {
	d, ok := id.Key.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("keystore: %T key of %s cannot decrypt", id.Key, subject(id.Certificate))
	}
	return d, nil
}

// Errors returned by the loaders (wrapped with the file and detail).
var (
	// ErrWrongPIN: the PKCS#12 integrity check or decryption failed.
	ErrWrongPIN = errors.New("wrong PIN or corrupt PKCS#12 file")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrNoPIN: the PIN source is missing or empty.
	ErrNoPIN = errors.New("no PIN")
)

// LoadPKCS12File reads a PKCS#12 (.p12/.pfx) file. See LoadPKCS12.
func LoadPKCS12File(path string, pin []byte) (*Identity, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	id, err := LoadPKCS12(data, pin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

// LoadPKCS12 decodes a DER PKCS#12 file holding one private key, its
// certificate and optionally CA certificates. Modern (AES/PBES2) and legacy
// (3DES, RC2) encryption are accepted. The end-entity certificate is the one
// whose public key matches the private key, whatever order the file uses.
func LoadPKCS12(data, pin []byte) (*Identity, error) {
	key, cert, cas, err := pkcs12.DecodeChain(data, string(pin))
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption) {
			return nil, fmt.Errorf("keystore: %w", ErrWrongPIN)
		}
		return nil, fmt.Errorf("keystore: PKCS#12: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keystore: PKCS#12 private key of type %T cannot sign", key)
	}
	all := append([]*x509.Certificate{cert}, cas...)
	for i, c := range all {
		if publicKeyEqual(c.PublicKey, signer.Public()) {
			rest := append(append([]*x509.Certificate(nil), all[:i]...), all[i+1:]...)
			return &Identity{Certificate: c, Chain: rest, Key: signer}, nil
		}
	}
	return nil, fmt.Errorf("keystore: PKCS#12: %w (no certificate in the file carries the key's public key)", ErrKeyMismatch)
}

// LoadPEMFiles reads a certificate file (PEM, leaf first, optionally followed
// by CA certificates) and an unencrypted private key file (PKCS#8, PKCS#1 or
// SEC 1 PEM). See LoadPEM.
func LoadPEMFiles(certPath, keyPath string) (*Identity, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer clear(keyPEM)
	id, err := LoadPEM(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", certPath, keyPath, err)
	}
	return id, nil
}

// LoadPEM parses a PEM certificate (chain) and a PEM private key and checks
// that they belong together.
func LoadPEM(certPEM, keyPEM []byte) (*Identity, error) {
	certs, err := ParseCertificates(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeyEqual(certs[0].PublicKey, key.Public()) {
		return nil, fmt.Errorf("keystore: %w (%s)", ErrKeyMismatch, subject(certs[0]))
	}
	return &Identity{Certificate: certs[0], Chain: certs[1:], Key: key}, nil
}

// ParsePrivateKey parses the first PEM private key block: PKCS#8
// ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY").
// Encrypted PEM is refused (use PKCS#12 for keys at rest).
func ParsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("keystore: no PEM private key block found")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("keystore: encrypted PEM private keys are not supported; use a PKCS#12 file with a PIN")
		default:
			continue
		}
		if _, legacy := block.Headers["Proc-Type"]; legacy {
			return nil, errors.New("keystore: encrypted PEM private keys are not supported; use a PKCS#12 file with a PIN")
		}
		if err != nil {
			return nil, fmt.Errorf("keystore: PEM %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("keystore: private key of type %T cannot sign", key)
		}
		return signer, nil
	}
}

// ParseCertificates parses every certificate in data, which is either PEM
// (any number of CERTIFICATE blocks; other blocks are skipped) or a single
// DER certificate.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("keystore: DER certificate: %w", err)
		}
		return []*x509.Certificate{c}, nil
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keystore: PEM certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("keystore: no CERTIFICATE block found")
	}
	return certs, nil
}

// LoadCertificatesFile reads the certificates in a PEM or DER file.
func LoadCertificatesFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// CertPoolFromFiles builds a pool (trust roots or intermediates) from PEM or
// DER files.
func CertPoolFromFiles(paths ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range paths {
		certs, err := LoadCertificatesFile(p)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return pool, nil
}

// maxPINFile bounds what PINFromFile reads: a PIN file is tiny, anything
// large is a mistake (wrong path).
const maxPINFile = 4096

// PINFromFile reads a PIN from a file, dropping one trailing line end. The
// caller should clear the returned slice when done.
func PINFromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: PIN file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPINFile+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: PIN file %s: %w", path, err)
	}
	if len(data) > maxPINFile {
		clear(data)
		return nil, fmt.Errorf("keystore: PIN file %s is larger than %d bytes", path, maxPINFile)
	}
	pin := trimLineEnd(data)
	if len(pin) == 0 {
		return nil, fmt.Errorf("keystore: PIN file %s: %w", path, ErrNoPIN)
	}
	return pin, nil
}

// PINFromEnv reads a PIN from the environment variable name (through getenv,
// os.Getenv if nil, so commands can pass their own environment).
func PINFromEnv(name string, getenv func(string) string) ([]byte, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	v := getenv(name)
	if v == "" {
		return nil, fmt.Errorf("keystore: environment variable %s: %w", name, ErrNoPIN)
	}
	return []byte(strings.TrimRight(v, "\r\n")), nil
}

func trimLineEnd(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	switch k := a.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k.(equaler).Equal(b)
	}
	return false
}

func subject(c *x509.Certificate) string {
	if c == nil {
		return "(no certificate)"
	}
	return c.Subject.String()
}

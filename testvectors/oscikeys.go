package testvectors

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

// Entity names of the kit PKI the vectors use (see pki/index.json).
const (
	entIntermediarySig    = "intermediary-signature"
	entIntermediaryCipher = "intermediary-cipher"
	entSenderSig          = "sender-signature"
	entSenderCipher       = "sender-cipher"
	entABHSig             = "addressee-signature"
	entABHCipher          = "addressee-cipher"
	entReaderCipher       = "reader-cipher"
	entSenderSig2048      = "sender-signature-rsa2048"
	entABHCipher2048      = "addressee-cipher-rsa2048"
	entSenderSigP256      = "sender-signature-ecdsa-p256"
	entSenderSigP384      = "sender-signature-ecdsa-p384"
	entSenderSigExpired   = "sender-signature-expired"
	entSenderSigNotYet    = "sender-signature-not-yet-valid"
	entSenderSigRevoked   = RevokedSignerName
)

// kitPKI is the kit's test PKI with lookups by entity name and certificate.
type kitPKI struct {
	dir string // the pki folder
	p   *testpki.PKI
}

func loadKitPKI(kitDir string) (*kitPKI, error) {
	dir := filepath.Join(kitDir, "pki")
	p, err := testpki.Load(dir)
	if err != nil {
		return nil, err
	}
	return &kitPKI{dir: dir, p: p}, nil
}

func (k *kitPKI) entity(name string) (*testpki.Entity, error) {
	e := k.p.Entity(name)
	if e == nil {
		return nil, fmt.Errorf("the kit PKI has no entity %q", name)
	}
	return e, nil
}

// identity returns an entity as a keystore identity whose signatures are
// deterministic (see deterministicSigner).
func (k *kitPKI) identity(name string) (*keystore.Identity, error) {
	e, err := k.entity(name)
	if err != nil {
		return nil, err
	}
	id := e.Identity()
	id.Key = deterministicSigner(id.Key)
	return id, nil
}

func (k *kitPKI) mustIdentity(name string) *keystore.Identity {
	id, err := k.identity(name)
	if err != nil {
		panic(err)
	}
	return id
}

func (k *kitPKI) cert(name string) *x509.Certificate {
	e, err := k.entity(name)
	if err != nil {
		panic(err)
	}
	return e.Certificate
}

// nameOf returns the entity name of a certificate ("" for a foreign one).
func (k *kitPKI) nameOf(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	for _, e := range append([]*testpki.Entity{k.p.Root, k.p.IssuingCA}, k.p.Entities...) {
		if bytes.Equal(e.Certificate.Raw, c.Raw) {
			return e.Name
		}
	}
	return ""
}

// policy checks certificates against the kit root and CRLs at the
// reference time.
func (k *kitPKI) policy() *keystore.Policy { return k.p.Policy() }

// files returns the manifest paths of an entity's key material.
func (k *kitPKI) files(name string) []string {
	fs := []string{"pki/" + name + ".cert.pem", "pki/" + name + ".key.pem"}
	if e := k.p.Entity(name); e != nil && e.Usage != testpki.UsageCA {
		fs = append(fs, "pki/"+name+".p12")
	}
	return fs
}

// deterministicSigner makes ECDSA signatures deterministic (RFC 6979): Go
// 1.26 ignores a caller's random source for ECDSA and only signs
// deterministically when given none, while osci/xmldsig always passes
// crypto/rand.Reader. RSA PKCS#1 v1.5 is deterministic anyway, and RSA-PSS
// salts come from the reader the kit controls. Test material only: in
// production randomised ECDSA is as good and needs no wrapper.
func deterministicSigner(s crypto.Signer) crypto.Signer {
	if k, ok := s.(*ecdsa.PrivateKey); ok {
		return rfc6979Signer{k}
	}
	return s
}

type rfc6979Signer struct{ k *ecdsa.PrivateKey }

func (s rfc6979Signer) Public() crypto.PublicKey { return s.k.Public() }

func (s rfc6979Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(nil, digest, opts)
}

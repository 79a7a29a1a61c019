package osci_test

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

var (
	pkiOnce sync.Once
	pki     *testpki.PKI
	pkiErr  error
)

// projectPKI is a test PKI of the project (RSA 2048), generated once per
// test binary.
func projectPKI(t testing.TB) *testpki.PKI {
	pkiOnce.Do(func() { pki, pkiErr = testpki.Generate(testpki.Options{RSABits: 2048}) })
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

// Security review, finding 7: without a pinned intermediary signature
// certificate, a response was accepted from any certificate that chains to
// the roots, so "signed by some PKI member" stood in for "signed by this
// intermediary". Now the signer must be the response's
// SignatureCertificateIntermediary (Open), and come from the operator of
// the intermediary's cipher certificate (same issuing CA and organisation)
// or be one the operator vouches for (AcceptIntermediarySignatures).
func TestUnpinnedSupplierSignatureBoundToIntermediary(t *testing.T) {
	p := projectPKI(t)
	roots := p.Roots()
	gov, err := keystore.LoadCertificatesFile(filepath.Join(sharedpath.MustFind("osci"), "certs", "pem", "governikus-test-ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range gov {
		roots.AddCert(c)
	}
	inter := x509.NewCertPool()
	inter.AddCert(p.IssuingCA.Certificate)
	policy := &keystore.Policy{Roots: roots, Intermediates: inter}
	cipher := p.Entity("intermediary-cipher").Identity()

	run := func(t *testing.T, signer *keystore.Identity, pin *x509.Certificate, accept []*x509.Certificate) error {
		im, err := intermediary.New(intermediary.Config{DataDir: t.TempDir(), Signer: signer, Cipher: cipher, Policy: policy, Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		srv := httptest.NewServer(im)
		defer srv.Close()
		c, err := osci.NewClient(osci.Config{URL: srv.URL, IntermediaryCipher: cipher.Certificate, IntermediarySignature: pin,
			AcceptIntermediarySignatures: accept, Signer: p.Entity("sender-signature").Identity(),
			Cipher: p.Entity("sender-cipher").Identity(), Policy: policy, Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetMessageID(context.Background())
		return err
	}
	own := p.Entity("intermediary-signature").Identity()
	other := pack("osci_manager_signature_4096") // valid, trusted, but another operator's
	t.Run("same operator", func(t *testing.T) {
		if err := run(t, own, nil, nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("other operator", func(t *testing.T) {
		err := run(t, other, nil, nil)
		var se *osci.SignatureError
		if !errors.Is(err, osci.ErrUnboundIntermediary) || !errors.As(err, &se) || se.Retryable() {
			t.Fatalf("response signed by another operator's certificate: %v", err)
		}
	})
	t.Run("vouched for", func(t *testing.T) {
		if err := run(t, other, nil, []*x509.Certificate{other.Certificate}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("pinned", func(t *testing.T) {
		if err := run(t, other, other.Certificate, nil); err != nil {
			t.Fatal(err)
		}
		if err := run(t, own, other.Certificate, nil); err == nil {
			t.Fatal("a pinned certificate must be the only one accepted")
		}
	})
}

package intermediary

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
)

var (
	idMu sync.Mutex
	ids  = map[string]*keystore.Identity{}
)

// identity loads a PKCS#12 identity of the interop pack once per binary.
func identity(t testing.TB, name string) *keystore.Identity {
	t.Helper()
	idMu.Lock()
	defer idMu.Unlock()
	if id, ok := ids[name]; ok {
		return id
	}
	dir := filepath.Join(sharedpath.MustFind("osci"), "certs")
	pin, err := os.ReadFile(filepath.Join(dir, "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := keystore.LoadPKCS12File(filepath.Join(dir, name+".p12"), bytes.TrimSpace(pin))
	if err != nil {
		t.Fatal(err)
	}
	ids[name] = id
	return id
}

// policy trusts the Governikus test CA of the interop pack.
func policy(t testing.TB) *keystore.Policy {
	pool, err := keystore.CertPoolFromFiles(filepath.Join(sharedpath.MustFind("osci"), "certs", "pem", "governikus-test-ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &keystore.Policy{Roots: pool}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is one intermediary on a loopback listener plus clients.
type env struct {
	t      testing.TB
	dir    string
	im     *Intermediary
	srv    *httptest.Server
	recips map[string]string
}

func newEnv(t testing.TB) *env {
	e := &env{t: t, dir: t.TempDir(), recips: map[string]string{}}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() {
	im, err := New(Config{DataDir: e.dir, Signer: identity(e.t, "osci_manager_signature_4096"), Cipher: identity(e.t, "osci_manager_cipher_4096"),
		Policy: policy(e.t), Recipients: e.recips, Logger: quietLogger(), MinChunkKB: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	e.im = im
	if e.srv == nil {
		e.srv = httptest.NewServer(im)
	} else {
		e.srv.Config.Handler = im
	}
}

func (e *env) stop() {
	if e.srv != nil {
		e.srv.Close()
	}
	if e.im != nil {
		e.im.Close()
	}
}

// restart closes the intermediary and opens it again on the same data.
func (e *env) restart() {
	if err := e.im.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.start()
}

// client returns a client with alice's signature key and the given cipher
// identity (carol: the sender; bob: the addressee).
func (e *env) client(cipher string, plain bool) *osci.Client {
	c, err := osci.NewClient(osci.Config{
		URL:                   e.srv.URL,
		IntermediaryCipher:    identity(e.t, "osci_manager_cipher_4096").Certificate,
		IntermediarySignature: identity(e.t, "osci_manager_signature_4096").Certificate,
		Signer:                identity(e.t, "alice_signature_4096"),
		Cipher:                identity(e.t, cipher),
		Policy:                policy(e.t),
		PlainTransport:        plain,
		Logger:                quietLogger(),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func cert(t testing.TB, name string) *x509.Certificate { return identity(t, name).Certificate }

func ctx() context.Context { return context.Background() }

// Package embedded is the whole delivery path on one machine, for `xagw
// serve` without configuration and `make run`: a project-owned test PKI
// (osci/testpki, RSA 2048, generated once into the data folder), the OSCI
// test intermediary (osci/intermediary, SQLite in the data folder) on a
// loopback port that stays the same across restarts, and a file-backed DVDV
// directory naming one local test ABH that lives at that intermediary.
//
// Messages posted to the gateway are delivered into the test ABH's mailbox
// exactly as they would be into a real one; its keys are in
// <data>/embedded/pki (addressee-cipher, addressee-signature) for fetching
// them with the OSCI tools.
package embedded

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

// ABHKey is the key of the local test ABH (in the ABH code list: STV Aalen).
const ABHKey = "000100"

// ABHName names it in the tenant table.
const ABHName = "Test-ABH (lokal, STV Aalen)"

// ABHPostalCode is its postal code for the PLZ check.
const ABHPostalCode = "73430"

// Env is a running embedded setup.
type Env struct {
	Dir             string // <data>/embedded
	IntermediaryURL string
	PKI             *testpki.PKI
	Router          *dvdvroute.Router
	Transport       *oscitransport.Transport
	Mailbox         *oscitransport.Mailbox

	im  *intermediary.Intermediary
	srv *http.Server
}

// Start prepares <dataDir>/embedded on first use and starts the
// intermediary. Close stops it.
func Start(ctx context.Context, dataDir string, log *slog.Logger) (*Env, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Env{Dir: filepath.Join(dataDir, "embedded")}
	pkiDir := filepath.Join(e.Dir, "pki")
	var err error
	e.PKI, err = testpki.Load(pkiDir)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info("embedded: generating a test PKI (RSA 2048) for the local intermediary, gateway and test ABH", "dir", pkiDir)
		if e.PKI, err = testpki.Generate(testpki.Options{RSABits: 2048}); err == nil {
			err = e.PKI.WriteDir(pkiDir)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: test PKI: %w", err)
	}
	id := func(name string) (*keystore.Identity, error) {
		ent := e.PKI.Entity(name)
		if ent == nil {
			return nil, fmt.Errorf("embedded: test PKI in %s has no %s", pkiDir, name)
		}
		return ent.Identity(), nil
	}
	imSig, err := id("intermediary-signature")
	if err != nil {
		return nil, err
	}
	imCipher, err := id("intermediary-cipher")
	if err != nil {
		return nil, err
	}
	gwSig, err := id("sender-signature")
	if err != nil {
		return nil, err
	}
	gwCipher, err := id("sender-cipher")
	if err != nil {
		return nil, err
	}
	abhCipher, err := id("addressee-cipher")
	if err != nil {
		return nil, err
	}
	// The ABH signs its replies with this certificate; the DVDV entry
	// publishes it so the gateway accepts replies signed by it only.
	abhSig, err := id("addressee-signature")
	if err != nil {
		return nil, err
	}
	inter := x509.NewCertPool()
	inter.AddCert(e.PKI.IssuingCA.Certificate)
	policy := &keystore.Policy{Roots: e.PKI.Roots(), Intermediates: inter,
		Revocation: &keystore.CRLSet{CRLs: []*x509.RevocationList{e.PKI.RootCRL, e.PKI.IssuingCRL}}}

	e.im, err = intermediary.New(intermediary.Config{DataDir: filepath.Join(e.Dir, "intermediary"), Signer: imSig, Cipher: imCipher,
		Policy: policy, Logger: log.With("part", "intermediary")})
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	ln, err := listen(filepath.Join(e.Dir, "intermediary.addr"))
	if err != nil {
		e.im.Close()
		return nil, err
	}
	e.IntermediaryURL = "http://" + ln.Addr().String() + "/osci"
	e.srv = &http.Server{Handler: e.im, ReadHeaderTimeout: 10 * time.Second}
	go e.srv.Serve(ln)

	uri, err := dvdv.OZGServiceURI("26.11")
	if err != nil {
		e.Close()
		return nil, err
	}
	file := &dvdvfile.File{Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{Name: "local", URL: e.IntermediaryURL, Provider: "xagw embedded test intermediary",
			CipherCertificate: dvdvfile.InlineCert(imCipher.Certificate), SignatureCertificate: dvdvfile.InlineCert(imSig.Certificate)}},
		Organizations: []dvdvfile.Organization{{Key: "abh:" + ABHKey, Name: ABHName, Category: "Ausländerbehörde", Services: []dvdvfile.Service{
			{URI: uri, Intermediary: "local", CipherCertificate: dvdvfile.InlineCert(abhCipher.Certificate),
				SignatureCertificate: dvdvfile.InlineCert(abhSig.Certificate), Scenario: "store"}}}}}
	// Written for people and tools (xagw dvdv lookup); the gateway uses the
	// same content in memory.
	if data, err := file.Marshal(); err == nil {
		_ = os.WriteFile(filepath.Join(e.Dir, "dvdv.yaml"), data, 0o644)
	}
	dir, err := dvdvfile.New(file, dvdvfile.Options{Logger: log})
	if err != nil {
		e.Close()
		return nil, fmt.Errorf("embedded: directory: %w", err)
	}
	e.Router = &dvdvroute.Router{Directory: dir}
	e.Transport, err = oscitransport.New(oscitransport.Config{Signer: gwSig, Cipher: gwCipher, Policy: policy, Logger: log.With("part", "osci")})
	if err != nil {
		e.Close()
		return nil, err
	}
	home, err := e.Transport.Client(e.IntermediaryURL, imCipher.Certificate.Raw, imSig.Certificate.Raw)
	if err != nil {
		e.Close()
		return nil, err
	}
	e.Mailbox = &oscitransport.Mailbox{Client: home, Logger: log.With("part", "osci")}
	log.Info("embedded: local OSCI test intermediary running", "url", e.IntermediaryURL, "abh", ABHKey, "abh_keys", pkiDir)
	return e, nil
}

// listen binds the address remembered in addrFile, or a free loopback port
// the first time. Routes stored with messages name the intermediary URL,
// so it must not change between restarts.
func listen(addrFile string) (net.Listener, error) {
	if b, err := os.ReadFile(addrFile); err == nil {
		addr := strings.TrimSpace(string(b))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded: the local intermediary's address %s (from %s) is taken: %w; free it, or delete the file to pick a new port (messages in flight then fail over to retries until dead-lettered)", addr, addrFile, err)
		}
		return ln, nil
	}
	if err := os.MkdirAll(filepath.Dir(addrFile), 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if err := os.WriteFile(addrFile, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// Close stops the intermediary.
func (e *Env) Close() error {
	var errs []error
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, e.srv.Shutdown(ctx))
		cancel()
	}
	if e.im != nil {
		errs = append(errs, e.im.Close())
	}
	return errors.Join(errs...)
}

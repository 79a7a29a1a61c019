package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/embedded"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/osci/keystore"

	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/gateway/daemon"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
)

func init() {
	register(&command{
		Name:    "serve",
		Summary: "run the gateway daemon: HTTP API, durable outbox, delivery, replies, webhooks",
		Run:     runServe,
	})
}

func runServe(ctx context.Context, c *cli, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(c.Stderr)
	cfgPath := fs.String("config", "", "configuration file (YAML, see gateway/xagw.example.yaml); without it the embedded default runs")
	check := fs.Bool("check", false, "load and check the configuration, then exit")
	fs.Usage = func() {
		fmt.Fprintln(c.Stderr, "usage: xagw serve [--config FILE] [--check]")
		fmt.Fprintln(c.Stderr, "\nSettings can be overridden by XAGW_… environment variables (e.g. XAGW_HTTP_LISTEN);")
		fmt.Fprintln(c.Stderr, "secrets come from files or the environment, never from flags.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(c.Stderr, "xagw serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load(*cfgPath, c.Getenv)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	log := newLogger(cfg.Log, c.Stderr)
	deps, release, err := serveDeps(ctx, cfg, c.Getenv, log, *check)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	defer release()
	if *check {
		fmt.Fprintln(c.Stdout, "configuration OK")
		return 0
	}
	d, err := daemon.New(ctx, cfg, deps, log, c.Getenv)
	if err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	defer d.Close()
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(c.Stderr, "xagw serve: %v\n", err)
		return 1
	}
	return 0
}

// serveDeps builds the standard-specific parts for the configured mode. The
// returned function releases what they hold (the embedded intermediary).
func serveDeps(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger, check bool) (daemon.Deps, func(), error) {
	noop := func() {}
	dir := cfg.Transport.Schemas
	if dir == "" {
		var err error
		if dir, err = schemas.DefaultDir(getenv); err != nil {
			return daemon.Deps{}, noop, err
		}
	}
	bundle, err := schemas.Open(dir, schemas.Options{})
	if err != nil {
		return daemon.Deps{}, noop, err
	}
	if cfg.Transport.Mode == config.ModeEmbedded {
		embeddedDefaults(cfg)
	}
	var sender *xauslaender.Sender
	if s := cfg.Sender; s.Configured() {
		sender = &xauslaender.Sender{Produkt: s.Produkt, Produkthersteller: s.Produkthersteller, Produktversion: s.Produktversion, Test: s.Test,
			Autor:          xauslaender.Behoerde{Verzeichnisdienst: "DVDV", Kennung: s.Kennung, Name: s.Name},
			Erreichbarkeit: []xauslaender.Erreichbarkeit{{Kanal: "01", KanalListVersion: "3", Kennung: s.Email}},
			Anschrift:      xauslaender.Anschrift{Strasse: s.Strasse, Hausnummer: s.Hausnummer, Postleitzahl: s.Postleitzahl, Ort: s.Ort}}
	}
	codec, err := xacodec.New(bundle, sender)
	if err != nil {
		return daemon.Deps{}, noop, err
	}
	deps := daemon.Deps{Codec: codec, ReplyParser: codec}
	if check {
		if cfg.Transport.Mode == config.ModeOSCI {
			// Keys, PINs, roots and CRLs are part of the configuration:
			// --check loads them (and refuses readable key files).
			if _, err := osciTrust(cfg, getenv, log); err != nil {
				return daemon.Deps{}, noop, err
			}
		}
		return deps, noop, nil
	}
	switch cfg.Transport.Mode {
	case config.ModeEmbedded:
		env, err := embedded.Start(ctx, cfg.DataDir, log)
		if err != nil {
			return daemon.Deps{}, noop, err
		}
		deps.Router, deps.Transport, deps.Mailbox = env.Router, env.Transport, env.Mailbox
		return deps, func() { env.Close() }, nil
	case config.ModeOSCI:
		if err := osciDeps(&deps, cfg, bundle, getenv, log); err != nil {
			return daemon.Deps{}, noop, err
		}
	}
	return deps, noop, nil
}

// embeddedDefaults fills what the embedded default needs and the user did
// not configure: the local test ABH as tenant and a demo sender identity
// for JSON applications.
func embeddedDefaults(cfg *config.Config) {
	if len(cfg.Tenants) == 0 {
		cfg.Tenants = []config.Tenant{{ABH: embedded.ABHKey, Name: embedded.ABHName, PostalCodes: []string{embedded.ABHPostalCode}}}
	}
	if !cfg.Sender.Configured() {
		cfg.Sender = config.Sender{Produkt: "xagw", Produkthersteller: "xagw project", Test: true, Kennung: "ozgev:000000000001",
			Name: "Online-Dienst (lokaler Test)", Email: "poststelle@online-dienst.example.org", Strasse: "Musterallee", Hausnummer: "1",
			Postleitzahl: "10117", Ort: "Berlin"}
	}
}

func loadIdentity(name, p12, cert, key string, pin func() ([]byte, error)) (*keystore.Identity, error) {
	if p12 != "" {
		// The PKCS#12 file holds the private key; its PIN alone is no
		// protection against anyone who can read it.
		if err := keystore.CheckPrivateFile(p12); err != nil {
			return nil, fmt.Errorf("osci.%s_p12: %w", name, err)
		}
		pw, err := pin()
		if err != nil {
			return nil, err
		}
		id, err := keystore.LoadPKCS12File(p12, pw)
		if err != nil {
			return nil, fmt.Errorf("osci.%s_p12: %w", name, err)
		}
		return id, nil
	}
	if err := keystore.CheckPrivateFile(key); err != nil {
		return nil, fmt.Errorf("osci.%s_key: %w", name, err)
	}
	id, err := keystore.LoadPEMFiles(cert, key)
	if err != nil {
		return nil, fmt.Errorf("osci.%s_cert/%s_key: %w", name, name, err)
	}
	return id, nil
}

// osciIdentities are the gateway's OSCI identities and the trust it puts
// in others' certificates.
type osciIdentities struct {
	signer, cipher *keystore.Identity
	policy         *keystore.Policy
	// accept are the operator's intermediary signature certificates.
	accept []*x509.Certificate
}

// osciTrust loads the OSCI identities (key and PIN files must be 0600),
// the trust roots, the CRLs and the vouched-for intermediary certificates.
func osciTrust(cfg *config.Config, getenv func(string) string, log *slog.Logger) (*osciIdentities, error) {
	o := cfg.OSCI
	pin := func() ([]byte, error) {
		if o.PINFile != "" {
			if err := keystore.CheckPrivateFile(o.PINFile); err != nil {
				return nil, fmt.Errorf("osci.pin_file: %w", err)
			}
			return keystore.PINFromFile(o.PINFile)
		}
		return keystore.PINFromEnv(o.PINEnv, getenv)
	}
	var ids osciIdentities
	var err error
	if ids.signer, err = loadIdentity("signer", o.SignerP12, o.SignerCert, o.SignerKey, pin); err != nil {
		return nil, err
	}
	if ids.cipher, err = loadIdentity("cipher", o.CipherP12, o.CipherCert, o.CipherKey, pin); err != nil {
		return nil, err
	}
	roots, err := keystore.CertPoolFromFiles(o.TrustRoots...)
	if err != nil {
		return nil, fmt.Errorf("osci.trust_roots: %w", err)
	}
	ids.policy = &keystore.Policy{Roots: roots}
	if len(o.CRLFiles) > 0 {
		crls, err := keystore.LoadCRLFiles(o.CRLFiles, o.CRLAllowMissing)
		if err != nil {
			return nil, fmt.Errorf("osci.crl_files: %w", err)
		}
		ids.policy.Revocation = crls
		log.Info("OSCI certificates are checked against CRLs", "crl_files", len(o.CRLFiles), "crls", crls.Count(), "allow_missing", o.CRLAllowMissing)
	} else {
		log.Warn("osci.crl_files not set: revoked intermediary and signer certificates are not detected")
	}
	for _, f := range o.IntermediarySignatureCerts {
		cs, err := keystore.LoadCertificatesFile(f)
		if err == nil && len(cs) == 0 {
			err = errors.New("no certificate in the file")
		}
		if err != nil {
			return nil, fmt.Errorf("osci.intermediary_signature_certs: %s: %w", f, err)
		}
		ids.accept = append(ids.accept, cs...)
	}
	return &ids, nil
}

func osciDeps(deps *daemon.Deps, cfg *config.Config, bundle *schemas.Bundle, getenv func(string) string, log *slog.Logger) error {
	o := cfg.OSCI
	ids, err := osciTrust(cfg, getenv, log)
	if err != nil {
		return err
	}
	timeout := o.HTTPTimeout.D()
	if timeout == 0 {
		timeout = cfg.Delivery.CallTimeout.D()
	}
	tr, err := oscitransport.New(oscitransport.Config{Signer: ids.signer, Cipher: ids.cipher, Policy: ids.policy,
		AcceptIntermediarySignatures: ids.accept, HTTPClient: &http.Client{Timeout: timeout}, Logger: log.With("part", "osci")})
	if err != nil {
		return err
	}
	dir, err := directory(cfg, getenv, log)
	if err != nil {
		return err
	}
	router := &dvdvroute.Router{Directory: dir}
	if l, ok := bundle.CodeLists().Latest(dvdv.ABHCodeListURI); ok {
		if abh, err := dvdv.NewABHList(l); err == nil {
			router.ABH = abh
		}
	}
	deps.Router, deps.Transport = router, tr
	if o.HomeURL == "" {
		log.Warn("osci.home_url not set: the gateway's own mailbox is not polled, replies are not collected")
		return nil
	}
	readCert := func(path string) ([]byte, error) {
		if path == "" {
			return nil, nil
		}
		cs, err := keystore.LoadCertificatesFile(path)
		if err != nil || len(cs) == 0 {
			return nil, fmt.Errorf("osci: certificate %s: %v", path, err)
		}
		return cs[0].Raw, nil
	}
	hc, err := readCert(o.HomeCipherCert)
	if err != nil {
		return err
	}
	hs, err := readCert(o.HomeSignatureCert)
	if err != nil {
		return err
	}
	// Without hs the transport warns (once) that nothing is pinned for
	// the home intermediary.
	home, err := tr.Client(o.HomeURL, hc, hs)
	if err != nil {
		return err
	}
	deps.Mailbox = &oscitransport.Mailbox{Client: home, Logger: log.With("part", "osci")}
	return nil
}

// directory opens the configured DVDV: a directory file, or the DVDV2 REST
// client (failover, cache and token handling are the dvdv package's).
func directory(cfg *config.Config, getenv func(string) string, log *slog.Logger) (dvdv.Directory, error) {
	if cfg.Transport.DirectoryFile != "" {
		return dvdvfile.Load(cfg.Transport.DirectoryFile, dvdvfile.Options{WatchInterval: time.Minute, Logger: log.With("part", "dvdv")})
	}
	d := cfg.DVDV
	dc := dvdv.Config{Servers: d.Servers, EntryPath: d.EntryPath, AllowInsecureHTTP: d.AllowInsecureHTTP, Logger: log.With("part", "dvdv")}
	if d.ClientCert != "" {
		// The credential's key: the PKCS#12 file, or the PEM key file.
		keyFile := d.ClientKey
		if keyFile == "" {
			keyFile = d.ClientCert
		}
		if err := keystore.CheckPrivateFile(keyFile); err != nil {
			return nil, fmt.Errorf("dvdv: client credential: %w", err)
		}
		var pin string
		switch {
		case d.PINFile != "":
			if err := keystore.CheckPrivateFile(d.PINFile); err != nil {
				return nil, fmt.Errorf("dvdv.pin_file: %w", err)
			}
			b, err := keystore.PINFromFile(d.PINFile)
			if err != nil {
				return nil, fmt.Errorf("dvdv.pin_file: %w", err)
			}
			pin = string(b)
		case d.PINEnv != "":
			b, err := keystore.PINFromEnv(d.PINEnv, getenv)
			if err != nil {
				return nil, fmt.Errorf("dvdv.pin_env: %w", err)
			}
			pin = string(b)
		}
		auth, err := dvdv.LoadStandaloneAuth(d.ClientCert, d.ClientKey, pin)
		if err != nil {
			return nil, err
		}
		dc.Auth = auth
	}
	if len(d.TrustRoots) > 0 {
		roots, err := keystore.CertPoolFromFiles(d.TrustRoots...)
		if err != nil {
			return nil, fmt.Errorf("dvdv.trust_roots: %w", err)
		}
		dc.Roots = roots
	}
	return dvdv.NewClient(dc)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

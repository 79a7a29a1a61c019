// Package daemon assembles the gateway process from its configuration: the
// store, at-rest keys, the outbox and its workers, the reply poller, webhook
// dispatch, purging, and the HTTP API with TLS. `xagw serve` is a thin
// wrapper around it.
//
// The standard-specific parts (XAusländer codec, DVDV router, OSCI transport
// and mailbox) come in through Deps, so the same wiring runs with the real
// packages and, in tests, with the gatewaytest implementations.
package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/api"
	"github.com/xagw/xagw/gateway/atrest"
	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/webhook"
)

// Deps are the standard-specific parts. Codec is always needed; Router and
// Transport unless transport.mode is "none"; Mailbox and ReplyParser for
// the reply side (without them no mailbox is polled).
type Deps struct {
	Codec       gateway.Codec
	ReplyParser gateway.ReplyParser
	Router      gateway.Router
	Transport   gateway.Transport
	Mailbox     gateway.Mailbox
	Clock       gateway.Clock
}

// ErrNoTransport is returned by New when delivery is configured but no
// transport is available in this build.
var ErrNoTransport = errors.New("daemon: no OSCI transport available")

// Daemon is one gateway process.
type Daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	deps    Deps
	store   *store.Store
	keys    *atrest.Keyring
	reg     *metrics.Registry
	outbox  *outbox.Outbox
	poller  *replies.Poller
	hooks   *webhook.Dispatcher
	api     *api.Server
	http    *http.Server
	ln      net.Listener
	deliver bool
}

// New opens the store, loads keys and clients and builds every part. It
// does not listen or start workers yet (Listen, Run).
func New(ctx context.Context, cfg *config.Config, deps Deps, log *slog.Logger, getenv func(string) string) (*Daemon, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if deps.Clock == nil {
		deps.Clock = time.Now
	}
	if deps.Codec == nil {
		return nil, errors.New("daemon: no XAusländer codec")
	}
	d := &Daemon{cfg: cfg, log: log, deps: deps, reg: metrics.NewRegistry(), deliver: cfg.Transport.Mode != config.ModeNone}
	if d.deliver && (deps.Router == nil || deps.Transport == nil) {
		return nil, fmt.Errorf("%w for transport.mode %q", ErrNoTransport, cfg.Transport.Mode)
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	setGCPercent(getenv, log)
	setProcs(usesSQLite(cfg), getenv, log)

	var err error
	if d.keys, err = loadKeys(cfg, getenv, log); err != nil {
		return nil, err
	}
	if err := d.openStore(ctx); err != nil {
		return nil, err
	}
	if err := d.syncClients(ctx, getenv); err != nil {
		return nil, err
	}
	var subs []webhook.Subscriber
	for _, w := range cfg.Webhooks {
		secret, err := w.Secret(getenv)
		if err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		subs = append(subs, webhook.Subscriber{ID: w.ID, URL: w.URL, Secret: secret, Events: w.Events, Clients: w.Clients})
	}
	// Owner ids are "<instance>/<random>": what a crashed earlier run of
	// this instance still holds is released now instead of after the lease
	// (an exact match on the instance, never another instance's leases).
	owner, err := store.LeaseOwner(cfg.Instance)
	if err != nil {
		return nil, fmt.Errorf("daemon: instance: %w", err)
	}
	if n, err := d.store.ReleaseLeases(ctx, cfg.Instance); err != nil {
		return nil, err
	} else if n > 0 {
		log.Warn("released leases of a previous run of this instance; their messages are checked by process card first", "messages", n, "instance", cfg.Instance)
	}
	retry := outbox.Policy{Initial: cfg.Delivery.Retry.Initial.D(), Max: cfg.Delivery.Retry.Max.D(), Multiplier: cfg.Delivery.Retry.Multiplier,
		Jitter: cfg.Delivery.Retry.Jitter, MaxAttempts: cfg.Delivery.Retry.MaxAttempts}
	d.hooks, err = webhook.New(webhook.Config{Store: d.store, Keys: d.keys, Subscribers: subs, Clock: deps.Clock, Logger: log.With("part", "webhook"),
		Metrics: d.reg, Retry: retry, Owner: owner})
	if err != nil {
		return nil, err
	}
	if deps.ReplyParser != nil {
		d.poller, err = replies.New(replies.Config{Store: d.store, Keys: d.keys, Mailbox: deps.Mailbox, Parser: deps.ReplyParser, Clock: deps.Clock,
			Logger: log.With("part", "replies"), Metrics: d.reg, Interval: cfg.Replies.Interval.D(), Notify: d.hooks.Hooks,
			Signers: deps.Router})
		if err != nil {
			return nil, err
		}
	}
	ocfg := outbox.Config{Store: d.store, Keys: d.keys, Codec: deps.Codec, Router: deps.Router, Transport: deps.Transport, Owner: owner,
		Clock: deps.Clock, Logger: log.With("part", "outbox"), Metrics: d.reg, Workers: cfg.Delivery.Workers, Lease: cfg.Delivery.Lease.D(),
		CallTimeout: cfg.Delivery.CallTimeout.D(), Poll: cfg.Delivery.Poll.D(), DrainTimeout: cfg.Delivery.DrainTimeout.D(), Retry: retry,
		ClaimBatch: cfg.Delivery.ClaimBatch, ClaimWait: cfg.Delivery.ClaimWait.D(),
		Notify: d.hooks.Hooks}
	if d.poller != nil {
		ocfg.OnResponse = d.poller.MediatedResponse
	}
	if d.outbox, err = outbox.New(ocfg); err != nil {
		return nil, err
	}
	auth, err := api.LoadAuth(ctx, d.store)
	if err != nil {
		return nil, err
	}
	var tenants []api.Tenant
	for _, t := range cfg.Tenants {
		tenants = append(tenants, api.Tenant{ABH: t.ABH, AGS: t.AGS, Name: t.Name, PostalCodes: t.PostalCodes})
	}
	ready := map[string]func(context.Context) error{}
	if d.deliver {
		ready["delivery"] = func(context.Context) error {
			if !d.outbox.Running() {
				return errors.New("delivery workers not running")
			}
			return nil
		}
	}
	d.api, err = api.New(api.Config{Store: d.store, Outbox: d.outbox, Tenants: api.NewTenants(tenants), Auth: auth,
		Logger: log.With("part", "api"), Metrics: d.reg, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, Ready: ready, Clock: deps.Clock})
	if err != nil {
		return nil, err
	}
	d.http = &http.Server{Handler: d.api.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: cfg.HTTP.ReadTimeout.D(),
		WriteTimeout: cfg.HTTP.WriteTimeout.D(), IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if cfg.HTTP.TLS.CertFile != "" {
		if d.http.TLSConfig, err = tlsConfig(cfg.HTTP.TLS); err != nil {
			return nil, err
		}
	}
	ok = true
	return d, nil
}

func loadKeys(cfg *config.Config, getenv func(string) string, log *slog.Logger) (*atrest.Keyring, error) {
	var current []byte
	var err error
	switch {
	case getenv("XAGW_ENCRYPTION_KEY") != "":
		current, err = atrest.ParseKey([]byte(getenv("XAGW_ENCRYPTION_KEY")))
		if err != nil {
			return nil, fmt.Errorf("daemon: XAGW_ENCRYPTION_KEY: %w", err)
		}
	case cfg.Encryption.Generate:
		var created bool
		current, created, err = atrest.EnsureKeyFile(cfg.Encryption.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("daemon: %w", err)
		}
		if created {
			log.Warn("generated a new at-rest encryption key; back it up: without it stored messages cannot be read", "key_file", cfg.Encryption.KeyFile)
		}
	default:
		if current, err = atrest.LoadKeyFile(cfg.Encryption.KeyFile); err != nil {
			return nil, fmt.Errorf("daemon: encryption.key_file: %w", err)
		}
	}
	var prev [][]byte
	for _, f := range cfg.Encryption.PreviousKeyFiles {
		k, err := atrest.LoadKeyFile(f)
		if err != nil {
			return nil, fmt.Errorf("daemon: encryption.previous_key_files: %w", err)
		}
		prev = append(prev, k)
	}
	return atrest.New(current, prev...)
}

func (d *Daemon) openStore(ctx context.Context) error {
	c := d.cfg.Database
	var err error
	switch c.Driver {
	case "sqlite":
		d.store, err = store.Open(ctx, store.SQLite, c.Path, store.Options{SQLiteSynchronous: c.Synchronous, MaxOpenConns: c.MaxOpenConns})
	case "postgres":
		var dsn string
		if dsn, err = c.DatabaseDSN(); err == nil {
			d.store, err = store.Open(ctx, store.Postgres, dsn, store.Options{MaxOpenConns: c.MaxOpenConns})
		}
	default:
		err = fmt.Errorf("unknown database driver %q", c.Driver)
	}
	if err != nil {
		return fmt.Errorf("daemon: database: %w", err)
	}
	ids, err := d.store.KeyIDsInUse(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !d.keys.Has(id) {
			return fmt.Errorf("daemon: the database holds bodies sealed with key %s, which is not configured (encryption.key_file / previous_key_files)", id)
		}
	}
	return nil
}

// devTokenFile is where the embedded default writes the token of its
// generated development client.
const devTokenFile = "dev-client.token"

func (d *Daemon) syncClients(ctx context.Context, getenv func(string) string) error {
	var clients []store.Client
	for _, c := range d.cfg.Clients {
		h, err := c.ClientTokenHash(getenv)
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		clients = append(clients, store.Client{ID: c.ID, TokenSHA256: h, CertSHA256: c.CertSHA256, Admin: c.Admin})
	}
	if len(clients) == 0 && d.cfg.Transport.Mode == config.ModeEmbedded {
		path := filepath.Join(d.cfg.DataDir, devTokenFile)
		// A random 32-byte secret, base64, in a 0600 file: the same helper
		// that makes the at-rest key.
		if _, _, err := atrest.EnsureKeyFile(path); err != nil {
			return fmt.Errorf("daemon: development client token: %w", err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("daemon: development client token: %w", err)
		}
		clients = append(clients, store.Client{ID: "dev", TokenSHA256: config.TokenHash(string(raw)), Admin: true})
		d.log.Warn("no API clients configured: created the development client \"dev\"; its bearer token is in the token file", "token_file", path)
	}
	if len(clients) == 0 {
		d.log.Warn("no API clients configured: every /v1 request will be refused with 401")
	}
	return d.store.SyncClients(ctx, clients, d.deps.Clock())
}

func tlsConfig(c config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("daemon: http.tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.MinVersion == "1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("daemon: http.tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("daemon: http.tls.client_ca_file %s holds no PEM certificate", c.ClientCAFile)
		}
		tc.ClientCAs = pool
	}
	switch c.ClientAuth {
	case "optional":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Store returns the daemon's store (for tools and tests).
func (d *Daemon) Store() *store.Store { return d.store }

// Outbox returns the daemon's outbox.
func (d *Daemon) Outbox() *outbox.Outbox { return d.outbox }

// Handler returns the API handler (without listening).
func (d *Daemon) Handler() http.Handler { return d.api.Handler() }

// Listen binds the configured address. Addr is known afterwards.
func (d *Daemon) Listen() error {
	ln, err := net.Listen("tcp", d.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("daemon: listen on %s: %w", d.cfg.HTTP.Listen, err)
	}
	d.ln = ln
	return nil
}

// Addr is the bound address (after Listen).
func (d *Daemon) Addr() net.Addr {
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// Run serves the API and runs the workers until ctx ends, then shuts down
// in order: stop accepting requests, drain deliveries in flight (up to
// delivery.drain_timeout), stop the poller, webhooks and purger, close the
// store.
func (d *Daemon) Run(ctx context.Context) error {
	if d.ln == nil {
		if err := d.Listen(); err != nil {
			return err
		}
	}
	scheme := "http"
	if d.http.TLSConfig != nil {
		scheme = "https"
	}
	d.log.Info("xagw gateway serving", "addr", d.ln.Addr().String(), "scheme", scheme, "database", d.cfg.Database.Driver,
		"transport", d.cfg.Transport.Mode, "workers", d.cfg.Delivery.Workers, "owner", d.outbox.Owner())
	if !d.deliver {
		d.log.Warn("delivery disabled (transport.mode none): messages are accepted and stored, not sent")
	}

	srvErr := make(chan error, 1)
	go func() {
		var err error
		if d.http.TLSConfig != nil {
			err = d.http.ServeTLS(d.ln, "", "")
		} else {
			err = d.http.Serve(d.ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		srvErr <- err
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	setErr := func(err error) {
		mu.Lock()
		if firstErr == nil && err != nil {
			firstErr = err
		}
		mu.Unlock()
	}
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	start := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(workCtx); err != nil {
				d.log.Error("component stopped with an error", "component", name, "err", err)
				setErr(err)
				stopWork()
			}
		}()
	}
	if d.deliver {
		start("outbox", d.outbox.Run)
	}
	start("webhooks", d.hooks.Run)
	if d.poller != nil && d.deps.Mailbox != nil {
		start("replies", d.poller.Run)
	}
	start("purge", d.purgeLoop)

	select {
	case <-workCtx.Done():
	case err := <-srvErr:
		setErr(err)
		srvErr <- nil
		stopWork()
	}
	d.log.Info("shutting down: no new requests; draining deliveries in flight", "drain_timeout_ms", d.cfg.Delivery.DrainTimeout.D().Milliseconds())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	if err := d.http.Shutdown(sctx); err != nil {
		d.log.Warn("HTTP shutdown incomplete", "err", err)
	}
	cancel()
	if err := <-srvErr; err != nil {
		setErr(err)
	}
	stopWork()
	wg.Wait()
	d.log.Info("gateway stopped")
	return firstErr
}

func (d *Daemon) purgeLoop(ctx context.Context) error {
	t := time.NewTicker(d.cfg.Retention.PurgeInterval.D())
	defer t.Stop()
	for {
		if _, err := d.outbox.Purge(ctx, d.cfg.Retention.Delivered.D()); err != nil && ctx.Err() == nil {
			d.log.Error("purging delivered bodies failed", "err", err)
		}
		now := d.deps.Clock()
		if n, err := d.store.PurgeInbox(ctx, now.Add(-d.cfg.Retention.Inbox.D()), now, 1000); err != nil && ctx.Err() == nil {
			d.log.Error("purging acknowledged replies failed", "err", err)
		} else if n > 0 {
			d.log.Info("purged acknowledged reply bodies", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Close releases the store (Run does not close it, so tests can inspect
// the store after Run returns).
func (d *Daemon) Close() error {
	if d.ln != nil {
		d.ln.Close()
	}
	if d.store != nil {
		return d.store.Close()
	}
	return nil
}

// Package config reads the gateway's configuration: a YAML file (see
// gateway/xagw.example.yaml) plus XAGW_… environment overrides, with
// secrets taken from files or environment variables only.
//
// Every scalar setting can be overridden by an environment variable named
// after its YAML path: XAGW_ + the keys joined by "_" in upper case, e.g.
// http.listen → XAGW_HTTP_LISTEN, delivery.retry.max_attempts →
// XAGW_DELIVERY_RETRY_MAX_ATTEMPTS. XAGW_ENCRYPTION_KEY carries the at-rest
// key itself (base64) for deployments that inject secrets as environment.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "30s", "5m", "720h".
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 5m, 720h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole configuration.
type Config struct {
	// DataDir holds the SQLite database, generated keys and tokens of the
	// embedded default. Default "./data".
	DataDir string `yaml:"data_dir"`
	// Instance names this gateway process in leases and logs (default:
	// host name): 1 to 63 of A–Z, a–z, 0–9, '.', '_', '-', starting with a
	// letter or digit. Each start adds a random suffix; at start the leases
	// of an earlier run of the same instance are released (it crashed), so
	// the name must be unique among gateways sharing one database — set it
	// when running several on one host.
	Instance string `yaml:"instance"`
	Log      Log    `yaml:"log"`
	HTTP     HTTP   `yaml:"http"`
	Database DB     `yaml:"database"`
	// Encryption at rest of message bodies, attachments and replies.
	Encryption Encryption `yaml:"encryption"`
	Retention  Retention  `yaml:"retention"`
	Delivery   Delivery   `yaml:"delivery"`
	Replies    Replies    `yaml:"replies"`
	Transport  Transport  `yaml:"transport"`
	// OSCI holds the gateway's OSCI identities and its own mailbox
	// (transport.mode osci).
	OSCI OSCI `yaml:"osci"`
	// DVDV configures the DVDV2 REST directory (alternative to
	// transport.directory_file).
	DVDV DVDV `yaml:"dvdv"`
	// Sender is the online service's identity, which fills the
	// Nachrichtenkopf of applications posted as JSON.
	Sender   Sender    `yaml:"sender"`
	Clients  []Client  `yaml:"clients"`
	Tenants  []Tenant  `yaml:"tenants"`
	Webhooks []Webhook `yaml:"webhooks"`
}

// Log settings.
type Log struct {
	Level  string `yaml:"level"`  // debug, info (default), warn, error
	Format string `yaml:"format"` // json (default) or text
}

// HTTP is the API server.
type HTTP struct {
	Listen       string   `yaml:"listen"`         // default 127.0.0.1:8080
	MaxBodyBytes int64    `yaml:"max_body_bytes"` // default 64 MiB, the XML size limit
	ReadTimeout  Duration `yaml:"read_timeout"`   // default 60s
	WriteTimeout Duration `yaml:"write_timeout"`  // default 60s
	// InsecurePlaintext allows plain HTTP on a non-loopback address
	// (behind a TLS-terminating proxy). Off by default.
	InsecurePlaintext bool `yaml:"insecure_plaintext"`
	TLS               TLS  `yaml:"tls"`
}

// TLS server settings. With CertFile and KeyFile the API serves HTTPS only.
type TLS struct {
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	ClientCAFile string `yaml:"client_ca_file"` // CA for mTLS client certificates
	// ClientAuth: "none" (default), "optional" (token or certificate) or
	// "require" (every client presents a certificate).
	ClientAuth string `yaml:"client_auth"`
	MinVersion string `yaml:"min_version"` // "1.2" (default) or "1.3"
}

// DB selects the store.
type DB struct {
	Driver string `yaml:"driver"` // sqlite (default) or postgres
	Path   string `yaml:"path"`   // SQLite file (default <data_dir>/xagw.db)
	// DSN or DSNFile (PostgreSQL); the DSN may hold a password, so prefer
	// DSNFile or XAGW_DATABASE_DSN.
	DSN          string `yaml:"dsn"`
	DSNFile      string `yaml:"dsn_file"`
	Synchronous  string `yaml:"synchronous"` // SQLite: FULL (default) or NORMAL
	MaxOpenConns int    `yaml:"max_open_conns"`
}

// Encryption names the at-rest keys.
type Encryption struct {
	// KeyFile holds the current AES-256 key (base64 or hex, mode 0600).
	// Default <data_dir>/atrest.key, generated on first start when absent.
	KeyFile string `yaml:"key_file"`
	// PreviousKeyFiles still open blobs sealed before a rotation.
	PreviousKeyFiles []string `yaml:"previous_key_files"`
	// Generate creates KeyFile when missing (default true only for the
	// embedded default without a configuration file).
	Generate bool `yaml:"generate"`
}

// Retention of bodies after confirmed delivery / acknowledgement.
type Retention struct {
	Delivered     Duration `yaml:"delivered"`      // default 720h (30 days)
	Inbox         Duration `yaml:"inbox"`          // after acknowledgement; default 720h
	PurgeInterval Duration `yaml:"purge_interval"` // default 1h
}

// Delivery tunes the outbox workers.
type Delivery struct {
	Workers      int      `yaml:"workers"`       // default 4
	Lease        Duration `yaml:"lease"`         // default 5m
	CallTimeout  Duration `yaml:"call_timeout"`  // default 60s
	Poll         Duration `yaml:"poll"`          // default 1s
	DrainTimeout Duration `yaml:"drain_timeout"` // default 30s
	Retry        Retry    `yaml:"retry"`
	// ClaimBatch and ClaimWait batch claims under a backlog (see
	// outbox.Config): with more messages due than workers free, the
	// dispatcher waits up to ClaimWait for ClaimBatch workers to be free
	// and claims for all of them in one transaction. 0 takes the defaults
	// (half the workers, at least 2; 20ms); claim_batch 1 or a negative
	// claim_wait turns batching off.
	ClaimBatch int      `yaml:"claim_batch"`
	ClaimWait  Duration `yaml:"claim_wait"`
}

// Retry is the backoff policy.
type Retry struct {
	Initial     Duration `yaml:"initial"`      // default 5s
	Max         Duration `yaml:"max"`          // default 1h
	Multiplier  float64  `yaml:"multiplier"`   // default 2
	Jitter      float64  `yaml:"jitter"`       // default 0.2
	MaxAttempts int      `yaml:"max_attempts"` // default 20
}

// Replies tunes the mailbox poller.
type Replies struct {
	Interval Duration `yaml:"interval"` // default 30s
}

// Transport modes.
const (
	// ModeEmbedded runs the local OSCI test intermediary and a file DVDV
	// directory in-process (the default without a configuration file).
	ModeEmbedded = "embedded"
	// ModeOSCI delivers through real intermediaries found in DVDV.
	ModeOSCI = "osci"
	// ModeNone accepts and stores messages but does not deliver them
	// (running the API alone, or draining a store elsewhere).
	ModeNone = "none"
)

// Transport selects how messages leave the gateway.
type Transport struct {
	Mode string `yaml:"mode"` // embedded, osci or none
	// Schemas is the XAusländer XSD bundle directory (default
	// $XAGW_SCHEMAS or ../shared/xrepository).
	Schemas string `yaml:"schemas"`
	// DirectoryFile is a file-backed DVDV directory (dvdv package format).
	DirectoryFile string `yaml:"directory_file"`
}

// OSCI configures the gateway as an OSCI client. Identities are PKCS#12
// files (PIN from pin_file or pin_env) or PEM certificate and key files.
type OSCI struct {
	SignerP12  string `yaml:"signer_p12"`
	CipherP12  string `yaml:"cipher_p12"`
	PINFile    string `yaml:"pin_file"`
	PINEnv     string `yaml:"pin_env"`
	SignerCert string `yaml:"signer_cert"`
	SignerKey  string `yaml:"signer_key"`
	CipherCert string `yaml:"cipher_cert"`
	CipherKey  string `yaml:"cipher_key"`
	// TrustRoots are PEM files with the CA certificates that intermediary
	// and content-signer certificates must chain to.
	TrustRoots []string `yaml:"trust_roots"`
	// CRLFiles are certificate revocation lists (PEM or DER) of those CAs.
	// With them every intermediary and content-signer certificate (the
	// SupplierSignature of responses, the signer of replies) is checked
	// for revocation, including the CAs below the root. The files are read
	// again when they change (refresh them by cron); a CRL past its
	// nextUpdate fails every check until it is refreshed, and so does a
	// certificate whose issuer has no CRL in the files unless
	// crl_allow_missing is set.
	CRLFiles []string `yaml:"crl_files"`
	// CRLAllowMissing accepts certificates whose issuer has no CRL in
	// crl_files (e.g. only some CAs publish one). Off by default.
	CRLAllowMissing bool `yaml:"crl_allow_missing"`
	// IntermediarySignatureCerts (PEM) are signature certificates the
	// operator vouches for as intermediaries'. A response's
	// SupplierSignature must come from the intermediary's pinned
	// signature certificate: home_signature_cert for the gateway's own
	// mailbox, the one the DVDV publishes for a recipient's intermediary.
	// Where none is pinned, it must be one of these or come from the
	// operator of the intermediary's cipher certificate (same issuing CA
	// and organisation); the gateway warns at startup when nothing is
	// pinned for its own mailbox.
	IntermediarySignatureCerts []string `yaml:"intermediary_signature_certs"`
	// The gateway's own mailbox (replies): its intermediary's URL and
	// certificates (PEM). Without HomeURL no replies are polled.
	HomeURL           string `yaml:"home_url"`
	HomeCipherCert    string `yaml:"home_cipher_cert"`
	HomeSignatureCert string `yaml:"home_signature_cert"`
	// HTTPTimeout bounds one OSCI exchange (default: delivery.call_timeout).
	HTTPTimeout Duration `yaml:"http_timeout"`
}

// DVDV configures the DVDV2 REST client: servers in order of preference
// (failover and caching are the dvdv package's), and the standalone
// authentication credential (PKCS#12 or PEM; without it the intern entry
// path of a data-centre connection is used).
type DVDV struct {
	Servers    []string `yaml:"servers"`
	ClientCert string   `yaml:"client_cert"`
	ClientKey  string   `yaml:"client_key"`
	PINFile    string   `yaml:"pin_file"`
	PINEnv     string   `yaml:"pin_env"`
	EntryPath  string   `yaml:"entry_path"`
	// TrustRoots, when given, must anchor every certificate of a route.
	TrustRoots        []string `yaml:"trust_roots"`
	AllowInsecureHTTP bool     `yaml:"allow_insecure_http"`
}

// Sender identifies the online service (Eingabeverfahren) in the frame of
// messages the gateway builds from JSON. Without it JSON applications are
// refused (XML messages carry their own frame).
type Sender struct {
	Produkt           string `yaml:"produkt"`
	Produkthersteller string `yaml:"produkthersteller"`
	Produktversion    string `yaml:"produktversion"`
	Test              bool   `yaml:"test"`
	Kennung           string `yaml:"kennung"` // Behördenkennung, e.g. "ozgev:000000000001"
	Name              string `yaml:"name"`
	Email             string `yaml:"email"` // reachability (code list erreichbarkeit: 01 E-Mail)
	Strasse           string `yaml:"strasse"`
	Hausnummer        string `yaml:"hausnummer"`
	Postleitzahl      string `yaml:"postleitzahl"`
	Ort               string `yaml:"ort"`
}

// Configured reports whether a sender identity is given.
func (s Sender) Configured() bool { return s.Kennung != "" }

// Client is an API client. Give one credential: a token (as SHA-256 hash,
// or as a file/environment variable holding the token) or a client
// certificate fingerprint (mTLS).
type Client struct {
	ID          string `yaml:"id"`
	TokenSHA256 string `yaml:"token_sha256"` // hex SHA-256 of the token
	TokenFile   string `yaml:"token_file"`   // file holding the token
	TokenEnv    string `yaml:"token_env"`    // environment variable holding the token
	CertSHA256  string `yaml:"cert_sha256"`  // hex SHA-256 of the DER client certificate
	Admin       bool   `yaml:"admin"`        // sees all clients' messages and unlinked replies
}

// Tenant is one ABH the gateway serves (the PLZ check's table).
type Tenant struct {
	ABH         string   `yaml:"abh"`  // ABH key (code list abhkennung, BHKNZ)
	AGS         string   `yaml:"ags"`  // Amtlicher Gemeindeschlüssel, 8 digits
	Name        string   `yaml:"name"` // display name
	PostalCodes []string `yaml:"postal_codes"`
}

// Webhook is one subscriber.
type Webhook struct {
	ID         string   `yaml:"id"`
	URL        string   `yaml:"url"`
	SecretFile string   `yaml:"secret_file"`
	SecretEnv  string   `yaml:"secret_env"`
	Events     []string `yaml:"events"`  // empty: all
	Clients    []string `yaml:"clients"` // empty: all
	// AllowInsecure permits http:// to a non-loopback host.
	AllowInsecure bool `yaml:"allow_insecure"`
}

// Load reads the file at path (empty: no file, the embedded default),
// applies environment overrides from getenv and checks the result.
func Load(path string, getenv func(string) string) (*Config, error) {
	if path == "" {
		return Parse(nil, "", getenv)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data, base, getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a configuration from YAML bytes; relative paths are resolved
// against base. nil data (no file) is the embedded default.
func Parse(data []byte, base string, getenv func(string) string) (*Config, error) {
	c := &Config{}
	if data != nil {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config: %w", err)
		}
		if base != "" {
			c.resolvePaths(base)
		}
	} else {
		c.Transport.Mode = ModeEmbedded
		c.Encryption.Generate = true
	}
	if err := applyEnv(reflect.ValueOf(c).Elem(), "XAGW", getenv); err != nil {
		return nil, err
	}
	c.defaults()
	if err := c.validate(getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// resolvePaths makes relative file paths relative to the configuration
// file, so a configuration works from any working directory.
func (c *Config) resolvePaths(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	abs(&c.DataDir)
	abs(&c.Database.Path)
	abs(&c.Database.DSNFile)
	abs(&c.Encryption.KeyFile)
	for i := range c.Encryption.PreviousKeyFiles {
		abs(&c.Encryption.PreviousKeyFiles[i])
	}
	abs(&c.HTTP.TLS.CertFile)
	abs(&c.HTTP.TLS.KeyFile)
	abs(&c.HTTP.TLS.ClientCAFile)
	abs(&c.Transport.Schemas)
	abs(&c.Transport.DirectoryFile)
	for _, p := range []*string{&c.OSCI.SignerP12, &c.OSCI.CipherP12, &c.OSCI.PINFile, &c.OSCI.SignerCert, &c.OSCI.SignerKey,
		&c.OSCI.CipherCert, &c.OSCI.CipherKey, &c.OSCI.HomeCipherCert, &c.OSCI.HomeSignatureCert} {
		abs(p)
	}
	for _, list := range [][]string{c.OSCI.TrustRoots, c.OSCI.CRLFiles, c.OSCI.IntermediarySignatureCerts} {
		for i := range list {
			abs(&list[i])
		}
	}
	abs(&c.DVDV.ClientCert)
	abs(&c.DVDV.ClientKey)
	abs(&c.DVDV.PINFile)
	for i := range c.DVDV.TrustRoots {
		abs(&c.DVDV.TrustRoots[i])
	}
	for i := range c.Clients {
		abs(&c.Clients[i].TokenFile)
	}
	for i := range c.Webhooks {
		abs(&c.Webhooks[i].SecretFile)
	}
}

func (c *Config) defaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defD := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&c.DataDir, "data")
	if c.Instance == "" {
		c.Instance, _ = os.Hostname()
		// A fully qualified name may be too long or odd; its first label
		// still names the host.
		if h, _, ok := strings.Cut(c.Instance, "."); ok && !instanceRe.MatchString(c.Instance) {
			c.Instance = h
		}
	}
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "json")
	def(&c.HTTP.Listen, "127.0.0.1:8080")
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = 64 << 20 // safexml's default MaxBytes: a body the XML checks would refuse anyway is refused before it is read
	}
	defD(&c.HTTP.ReadTimeout, 60*time.Second)
	defD(&c.HTTP.WriteTimeout, 60*time.Second)
	def(&c.HTTP.TLS.ClientAuth, "none")
	def(&c.HTTP.TLS.MinVersion, "1.2")
	def(&c.Database.Driver, "sqlite")
	if c.Database.Driver == "sqlite" {
		def(&c.Database.Path, filepath.Join(c.DataDir, "xagw.db"))
	}
	def(&c.Encryption.KeyFile, filepath.Join(c.DataDir, "atrest.key"))
	defD(&c.Retention.Delivered, 30*24*time.Hour)
	defD(&c.Retention.Inbox, 30*24*time.Hour)
	defD(&c.Retention.PurgeInterval, time.Hour)
	if c.Delivery.Workers == 0 {
		c.Delivery.Workers = 4
	}
	defD(&c.Delivery.Lease, 5*time.Minute)
	defD(&c.Delivery.CallTimeout, 60*time.Second)
	defD(&c.Delivery.Poll, time.Second)
	defD(&c.Delivery.DrainTimeout, 30*time.Second)
	defD(&c.Replies.Interval, 30*time.Second)
	def(&c.Transport.Mode, ModeOSCI)
}

var (
	hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	plzRe = regexp.MustCompile(`^[0-9]{5}$`)
	agsRe = regexp.MustCompile(`^[0-9]{8}$`)
	idRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// instanceRe: instance names end up in lease owner ids
	// ("<instance>/<random>"), which must not be ambiguous.
	instanceRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	levels     = map[string]bool{"debug": true, "info": true, "warn": true, "error": true}
)

// Error lists every problem found in a configuration.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return "config: " + strings.Join(e.Problems, "; ")
}

func (c *Config) validate(getenv func(string) string) error {
	var p []string
	bad := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }

	if !instanceRe.MatchString(c.Instance) {
		bad("instance %q: 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit (set instance when the host name does not fit)", c.Instance)
	}
	if !levels[c.Log.Level] {
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		bad("log.format %q: want json or text", c.Log.Format)
	}
	host, _, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		bad("http.listen %q: %v", c.HTTP.Listen, err)
	}
	tlsOn := c.HTTP.TLS.CertFile != "" || c.HTTP.TLS.KeyFile != ""
	if tlsOn && (c.HTTP.TLS.CertFile == "" || c.HTTP.TLS.KeyFile == "") {
		bad("http.tls: cert_file and key_file must be given together")
	}
	if err == nil && !tlsOn && !c.HTTP.InsecurePlaintext && !isLoopback(host) {
		bad("http.listen %q is not a loopback address: configure http.tls (cert_file, key_file) or set http.insecure_plaintext behind a TLS proxy", c.HTTP.Listen)
	}
	switch c.HTTP.TLS.ClientAuth {
	case "none":
	case "optional", "require":
		if c.HTTP.TLS.ClientCAFile == "" || !tlsOn {
			bad("http.tls.client_auth %q needs cert_file, key_file and client_ca_file", c.HTTP.TLS.ClientAuth)
		}
	default:
		bad("http.tls.client_auth %q: want none, optional or require", c.HTTP.TLS.ClientAuth)
	}
	if c.HTTP.TLS.MinVersion != "1.2" && c.HTTP.TLS.MinVersion != "1.3" {
		bad("http.tls.min_version %q: want 1.2 or 1.3", c.HTTP.TLS.MinVersion)
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes %d is too small", c.HTTP.MaxBodyBytes)
	}
	switch c.Database.Driver {
	case "sqlite":
		if c.Database.DSN != "" || c.Database.DSNFile != "" {
			bad("database: dsn/dsn_file are for postgres; SQLite takes database.path")
		}
		if s := strings.ToUpper(c.Database.Synchronous); s != "" && s != "FULL" && s != "NORMAL" {
			bad("database.synchronous %q: want FULL or NORMAL", c.Database.Synchronous)
		}
	case "postgres":
		if (c.Database.DSN == "") == (c.Database.DSNFile == "") {
			bad("database: postgres needs exactly one of dsn (or XAGW_DATABASE_DSN) and dsn_file")
		}
	default:
		bad("database.driver %q: want sqlite or postgres", c.Database.Driver)
	}
	if c.Delivery.Lease.D() < 4*c.Delivery.CallTimeout.D()+10*time.Second {
		bad("delivery.lease %v must be at least 4×delivery.call_timeout+10s (%v): a lease shorter than an attempt lets a second worker start while the first is sending", c.Delivery.Lease.D(), 4*c.Delivery.CallTimeout.D()+10*time.Second)
	}
	if c.Delivery.Workers < 1 || c.Delivery.Workers > 256 {
		bad("delivery.workers %d: want 1..256", c.Delivery.Workers)
	}
	if c.Delivery.ClaimBatch < 0 || c.Delivery.ClaimBatch > c.Delivery.Workers {
		bad("delivery.claim_batch %d: want 0 (default) up to delivery.workers (%d)", c.Delivery.ClaimBatch, c.Delivery.Workers)
	}
	if c.Delivery.ClaimWait.D() > 10*time.Second {
		bad("delivery.claim_wait %v: want at most 10s (it delays deliveries under a backlog; negative turns batching off)", c.Delivery.ClaimWait.D())
	}
	switch c.Transport.Mode {
	case ModeEmbedded, ModeOSCI, ModeNone:
	default:
		bad("transport.mode %q: want embedded, osci or none", c.Transport.Mode)
	}

	if c.Transport.Mode == ModeOSCI {
		o := c.OSCI
		if (c.Transport.DirectoryFile == "") == (len(c.DVDV.Servers) == 0) {
			bad("transport.mode osci needs exactly one directory: transport.directory_file (a DVDV file) or dvdv.servers (DVDV2 REST)")
		}
		if c.DVDV.ClientCert != "" && strings.HasSuffix(strings.ToLower(c.DVDV.ClientCert), ".p12") && (c.DVDV.PINFile == "") == (c.DVDV.PINEnv == "") {
			bad("dvdv: a PKCS#12 client_cert needs exactly one of pin_file and pin_env")
		}
		for _, id := range []struct{ name, p12, cert, key string }{{"signer", o.SignerP12, o.SignerCert, o.SignerKey}, {"cipher", o.CipherP12, o.CipherCert, o.CipherKey}} {
			if (id.p12 == "") == (id.cert == "" || id.key == "") {
				bad("osci: give the %s identity as %s_p12 or as %s_cert plus %s_key", id.name, id.name, id.name, id.name)
			}
		}
		if (o.SignerP12 != "" || o.CipherP12 != "") && (o.PINFile == "") == (o.PINEnv == "") {
			bad("osci: PKCS#12 identities need exactly one of pin_file and pin_env")
		}
		if len(o.TrustRoots) == 0 {
			bad("osci.trust_roots: name the CA certificates (PEM) intermediaries and signers must chain to")
		}
		if o.HomeURL != "" && o.HomeCipherCert == "" {
			bad("osci.home_cipher_cert is required with osci.home_url")
		}
		if o.CRLAllowMissing && len(o.CRLFiles) == 0 {
			bad("osci.crl_allow_missing needs osci.crl_files")
		}
	}
	if c.Sender.Configured() {
		for name, v := range map[string]string{"produkt": c.Sender.Produkt, "produkthersteller": c.Sender.Produkthersteller, "name": c.Sender.Name,
			"email": c.Sender.Email, "postleitzahl": c.Sender.Postleitzahl, "ort": c.Sender.Ort, "strasse": c.Sender.Strasse} {
			if strings.TrimSpace(v) == "" {
				bad("sender.%s is required when sender.kennung is set", name)
			}
		}
	}
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		where := fmt.Sprintf("clients[%d]", i)
		if !idRe.MatchString(cl.ID) {
			bad("%s.id %q: letters, digits, '.', '_' or '-' (at most 64)", where, cl.ID)
		}
		if seen[cl.ID] {
			bad("%s.id %q is configured twice", where, cl.ID)
		}
		seen[cl.ID] = true
		n := 0
		for _, s := range []string{cl.TokenSHA256, cl.TokenFile, cl.TokenEnv} {
			if s != "" {
				n++
			}
		}
		if n > 1 {
			bad("%s (%s): give only one of token_sha256, token_file, token_env", where, cl.ID)
		}
		if n == 0 && cl.CertSHA256 == "" {
			bad("%s (%s): needs a token (token_sha256, token_file or token_env) or cert_sha256", where, cl.ID)
		}
		if cl.TokenSHA256 != "" && !hex64.MatchString(cl.TokenSHA256) {
			bad("%s.token_sha256: want 64 lower-case hex digits (sha256sum of the token)", where)
		}
		if cl.CertSHA256 != "" && !hex64.MatchString(strings.ReplaceAll(strings.ToLower(cl.CertSHA256), ":", "")) {
			bad("%s.cert_sha256: want the SHA-256 fingerprint of the DER certificate (64 hex digits)", where)
		}
		if cl.TokenEnv != "" && getenv(cl.TokenEnv) == "" {
			bad("%s.token_env: environment variable %s is empty", where, cl.TokenEnv)
		}
	}
	seen = map[string]bool{}
	for i, t := range c.Tenants {
		where := fmt.Sprintf("tenants[%d]", i)
		if t.ABH == "" {
			bad("%s.abh is required", where)
		}
		if seen[t.ABH] {
			bad("%s.abh %q is configured twice", where, t.ABH)
		}
		seen[t.ABH] = true
		if t.AGS != "" && !agsRe.MatchString(t.AGS) {
			bad("%s.ags %q: want 8 digits", where, t.AGS)
		}
		for j, plz := range t.PostalCodes {
			if !plzRe.MatchString(plz) {
				bad("%s.postal_codes[%d] %q: want 5 digits", where, j, plz)
			}
		}
	}
	seen = map[string]bool{}
	for i, w := range c.Webhooks {
		where := fmt.Sprintf("webhooks[%d]", i)
		if !idRe.MatchString(w.ID) || seen[w.ID] {
			bad("%s.id %q: missing, malformed or duplicate", where, w.ID)
		}
		seen[w.ID] = true
		u, err := url.Parse(w.URL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			bad("%s.url %q: want an absolute http(s) URL", where, w.URL)
		case u.Scheme == "http" && !w.AllowInsecure && !isLoopback(u.Hostname()):
			bad("%s.url %q: webhooks carry personal data; use https (or set allow_insecure)", where, w.URL)
		}
		if (w.SecretFile == "") == (w.SecretEnv == "") {
			bad("%s: give exactly one of secret_file and secret_env", where)
		}
		if w.SecretEnv != "" && len(getenv(w.SecretEnv)) < 16 {
			bad("%s.secret_env: %s must hold at least 16 bytes", where, w.SecretEnv)
		}
	}
	if len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// TokenHash returns the hex SHA-256 of a token as stored for clients.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return hex.EncodeToString(h[:])
}

// ClientTokenHash resolves a client's token hash from whichever source it
// names ("" if it authenticates by certificate only).
func (c Client) ClientTokenHash(getenv func(string) string) (string, error) {
	switch {
	case c.TokenSHA256 != "":
		return c.TokenSHA256, nil
	case c.TokenFile != "":
		b, err := readSecretFile(c.TokenFile)
		if err != nil {
			return "", fmt.Errorf("client %s: %w", c.ID, err)
		}
		return TokenHash(string(b)), nil
	case c.TokenEnv != "":
		return TokenHash(getenv(c.TokenEnv)), nil
	}
	return "", nil
}

// Secret resolves a webhook's secret.
func (w Webhook) Secret(getenv func(string) string) ([]byte, error) {
	if w.SecretEnv != "" {
		return []byte(getenv(w.SecretEnv)), nil
	}
	b, err := readSecretFile(w.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", w.ID, err)
	}
	if len(b) < 16 {
		return nil, fmt.Errorf("webhook %s: secret in %s is shorter than 16 bytes", w.ID, w.SecretFile)
	}
	return b, nil
}

// DatabaseDSN resolves the PostgreSQL DSN.
func (d DB) DatabaseDSN() (string, error) {
	if d.DSNFile != "" {
		b, err := readSecretFile(d.DSNFile)
		return string(b), err
	}
	return d.DSN, nil
}

// readSecretFile reads a secret and refuses files readable by others.
func readSecretFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s has mode %v; it must not be readable by group or others (chmod 600)", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b), nil
}

// applyEnv walks the struct and overrides scalar fields from XAGW_… variables.
func applyEnv(v reflect.Value, prefix string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, getenv); err != nil {
				return err
			}
			continue
		}
		s := getenv(name)
		if s == "" {
			continue
		}
		var err error
		switch {
		case f.Type == reflect.TypeOf(Duration(0)):
			var d time.Duration
			d, err = time.ParseDuration(s)
			fv.SetInt(int64(d))
		case f.Type.Kind() == reflect.String:
			fv.SetString(s)
		case f.Type.Kind() == reflect.Int, f.Type.Kind() == reflect.Int64:
			var n int64
			n, err = strconv.ParseInt(s, 10, 64)
			fv.SetInt(n)
		case f.Type.Kind() == reflect.Bool:
			var b bool
			b, err = strconv.ParseBool(s)
			fv.SetBool(b)
		case f.Type.Kind() == reflect.Float64:
			var x float64
			x, err = strconv.ParseFloat(s, 64)
			fv.SetFloat(x)
		default:
			continue // lists are configured in the file
		}
		if err != nil {
			return fmt.Errorf("config: environment %s=%q: %v", name, s, err)
		}
	}
	return nil
}

// EnvNames lists every environment override name (for documentation and
// the example file's test).
func EnvNames() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" {
				continue
			}
			name := prefix + "_" + strings.ToUpper(tag)
			switch {
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, name)
			case f.Type.Kind() == reflect.Slice:
			default:
				out = append(out, name)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "XAGW")
	return out
}

package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func write(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExampleFileLoads(t *testing.T) {
	c, err := Load("../xagw.example.yaml", env(map[string]string{"XAGW_OPERATOR_TOKEN": "op-token"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Database.Driver != "postgres" || len(c.Tenants) != 2 || c.Delivery.Workers != 8 || c.Delivery.Retry.MaxAttempts != 20 {
		t.Fatalf("%+v", c)
	}
	if !filepath.IsAbs(c.Clients[0].TokenFile) || !strings.HasSuffix(c.Clients[0].TokenFile, "gateway/secrets/formserver-berlin.token") {
		t.Fatalf("relative path not resolved against the file: %s", c.Clients[0].TokenFile)
	}
	if c.Retention.Delivered.D() != 720*time.Hour {
		t.Fatalf("retention %v", c.Retention.Delivered.D())
	}
}

func TestClaimBatching(t *testing.T) {
	c, err := Load("", env(map[string]string{"XAGW_DELIVERY_WORKERS": "16", "XAGW_DELIVERY_CLAIM_BATCH": "6", "XAGW_DELIVERY_CLAIM_WAIT": "-1ms"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Delivery.ClaimBatch != 6 || c.Delivery.ClaimWait.D() != -time.Millisecond {
		t.Fatalf("claim batch %d, wait %v", c.Delivery.ClaimBatch, c.Delivery.ClaimWait.D())
	}
	for _, bad := range []map[string]string{
		{"XAGW_DELIVERY_CLAIM_BATCH": "5"}, // more than the 4 default workers
		{"XAGW_DELIVERY_CLAIM_BATCH": "-1"},
		{"XAGW_DELIVERY_CLAIM_WAIT": "1m"},
	} {
		_, err := Load("", env(bad))
		for name := range bad {
			key := strings.ToLower(strings.TrimPrefix(name, "XAGW_DELIVERY_"))
			if err == nil || !strings.Contains(err.Error(), "delivery."+key) {
				t.Errorf("%v: %v", bad, err)
			}
		}
	}
}

func TestNoFileIsTheEmbeddedDefault(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transport.Mode != ModeEmbedded || c.Database.Driver != "sqlite" || c.Database.Path != filepath.Join("data", "xagw.db") ||
		!c.Encryption.Generate || c.HTTP.Listen != "127.0.0.1:8080" {
		t.Fatalf("%+v", c)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	c, err := Load("", env(map[string]string{
		"XAGW_HTTP_LISTEN":                 "127.0.0.1:9999",
		"XAGW_DELIVERY_RETRY_MAX_ATTEMPTS": "3",
		"XAGW_DELIVERY_CALL_TIMEOUT":       "5s",
		"XAGW_DATABASE_DRIVER":             "postgres",
		"XAGW_DATABASE_DSN":                "postgres://x@127.0.0.1/db",
		"XAGW_TRANSPORT_MODE":              "none",
		"XAGW_DELIVERY_RETRY_JITTER":       "0.5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:9999" || c.Delivery.Retry.MaxAttempts != 3 || c.Delivery.CallTimeout.D() != 5*time.Second ||
		c.Database.DSN == "" || c.Transport.Mode != ModeNone || c.Delivery.Retry.Jitter != 0.5 {
		t.Fatalf("%+v", c)
	}
	if _, err := Load("", env(map[string]string{"XAGW_DELIVERY_WORKERS": "many"})); err == nil || !strings.Contains(err.Error(), "XAGW_DELIVERY_WORKERS") {
		t.Fatalf("bad env value: %v", err)
	}
	names := strings.Join(EnvNames(), " ")
	for _, want := range []string{"XAGW_HTTP_TLS_CLIENT_AUTH", "XAGW_DATABASE_DSN", "XAGW_RETENTION_DELIVERED"} {
		if !strings.Contains(names, want) {
			t.Errorf("EnvNames lacks %s", want)
		}
	}
}

func TestBadConfigsNameEveryProblem(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "bad.yaml", `
http:
  listen: 0.0.0.0:8080
database:
  driver: postgres
delivery:
  lease: 1m
  call_timeout: 1m
clients:
  - id: a
  - id: a
    token_sha256: ABC
tenants:
  - abh: "1"
    postal_codes: ["1234"]
    ags: "12"
webhooks:
  - id: w
    url: http://example.org/hook
    secret_env: NOPE
`, 0o600)
	_, err := Load(p, env(nil))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"http.listen \"0.0.0.0:8080\" is not a loopback address",
		"postgres needs exactly one of dsn",
		"delivery.lease",
		"clients[0] (a): needs a token",
		"clients[1].id \"a\" is configured twice",
		"clients[1].token_sha256",
		"tenants[0].ags",
		"tenants[0].postal_codes[0]",
		"webhooks[0].url",
		"webhooks[0].secret_env",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestUnknownFieldIsAnErrorWithLine(t *testing.T) {
	p := write(t, t.TempDir(), "x.yaml", "http:\n  listn: 1\n", 0o600)
	_, err := Load(p, env(nil))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "listn") {
		t.Fatalf("%v", err)
	}
	p = write(t, t.TempDir(), "y.yaml", "delivery:\n  lease: soon\n", 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Fatalf("%v", err)
	}
}

func TestSecretsFromFilesAndEnv(t *testing.T) {
	dir := t.TempDir()
	tok := write(t, dir, "t.token", "s3cret-token\n", 0o600)
	if h, err := (Client{ID: "a", TokenFile: tok}).ClientTokenHash(env(nil)); err != nil || h != TokenHash("s3cret-token") {
		t.Fatalf("%s %v", h, err)
	}
	open := write(t, dir, "open.token", "x", 0o644)
	if _, err := (Client{ID: "a", TokenFile: open}).ClientTokenHash(env(nil)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable token file: %v", err)
	}
	sec := write(t, dir, "w.secret", "0123456789abcdefXYZ", 0o600)
	if b, err := (Webhook{ID: "w", SecretFile: sec}).Secret(env(nil)); err != nil || string(b) != "0123456789abcdefXYZ" {
		t.Fatalf("%s %v", b, err)
	}
}

func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../xagw.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("http: {listen: \"127.0.0.1:1\"}\ntenants: [{abh: x, postal_codes: [\"12345\"]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "/base", env(map[string]string{"XAGW_OPERATOR_TOKEN": "t"}))
		if err == nil && (c.HTTP.Listen == "" || c.Database.Driver == "" || c.Delivery.Workers < 1) {
			t.Fatalf("accepted a configuration without defaults: %+v", c)
		}
	})
}

// Security review finding 6: the instance name is part of every lease
// owner id; a name that could be confused with another instance's (or with
// the random suffix) is refused with the value in the error.
func TestInstanceNames(t *testing.T) {
	for _, name := range []string{"gw", "gw-b", "xagw-standby.1", "A_1", strings.Repeat("a", 63)} {
		if c, err := Load("", env(map[string]string{"XAGW_INSTANCE": name})); err != nil || c.Instance != name {
			t.Errorf("%q refused: %v", name, err)
		}
	}
	for _, name := range []string{"gw/b", "-gw", ".gw", "gw b", "gw:1", "gw\n", "grüße", strings.Repeat("a", 64)} {
		_, err := Load("", env(map[string]string{"XAGW_INSTANCE": name}))
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("instance %q", name)) {
			t.Errorf("%q: %v", name, err)
		}
	}
	// The default (host name) always yields a valid name or says so.
	if c, err := Load("", env(nil)); err == nil && !instanceRe.MatchString(c.Instance) {
		t.Fatalf("default instance %q", c.Instance)
	}
}

// Finding 7: CRL files and vouched-for intermediary certificates are
// resolved against the configuration file like every other path.
func TestRevocationSettings(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "x.yaml", `
transport: {mode: osci, directory_file: dvdv.yaml}
osci:
  signer_cert: s.pem
  signer_key: s.key
  cipher_cert: c.pem
  cipher_key: c.key
  trust_roots: [roots.pem]
  crl_files: [crl/root.crl, /etc/ssl/issuing.crl]
  crl_allow_missing: true
  intermediary_signature_certs: [im.pem]
`, 0o600)
	c, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.OSCI.CRLFiles; len(got) != 2 || got[0] != filepath.Join(dir, "crl", "root.crl") || got[1] != "/etc/ssl/issuing.crl" || !c.OSCI.CRLAllowMissing {
		t.Fatalf("crl_files %v", got)
	}
	if got := c.OSCI.IntermediarySignatureCerts; len(got) != 1 || got[0] != filepath.Join(dir, "im.pem") {
		t.Fatalf("intermediary_signature_certs %v", got)
	}
	p = write(t, dir, "y.yaml", `
transport: {mode: osci, directory_file: dvdv.yaml}
osci: {signer_p12: s.p12, cipher_p12: c.p12, pin_env: PIN, trust_roots: [r.pem], crl_allow_missing: true}
`, 0o600)
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), "osci.crl_allow_missing needs osci.crl_files") {
		t.Fatalf("%v", err)
	}
}

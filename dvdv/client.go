package dvdv

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultContextPath is the path under which DVDV2 servers publish the API;
// a server URL without a path gets it appended.
const DefaultContextPath = "/dvdv2-backend"

// MaxBatch is the largest number of requests the API accepts in one batch
// call; the client splits longer batches.
const MaxBatch = 200

// WarningHeader carries the RFC 2047 encoded reason of a 204 answer.
const WarningHeader = "dvdv-warning-msg"

// Config configures a Client.
type Config struct {
	// Servers are the DVDV servers in order of preference, as base URLs
	// including the context path, e.g. "https://dvdv.example.de/dvdv2-backend".
	// A URL without a path gets DefaultContextPath. Plain http is accepted
	// only for loopback addresses unless AllowInsecureHTTP is set, because
	// the answers decide whom personal data is encrypted for.
	Servers []string
	// Auth enables the standalone authentication. Without it the client uses
	// the unauthenticated entry path intern/directory (data-centre access).
	Auth *StandaloneAuth
	// EntryPath overrides the entry path (default EntryPathStandalone with
	// Auth, EntryPathIntern without).
	EntryPath string
	// HTTPClient sends the requests (default: a client with sane transport
	// timeouts; per-request deadlines come from AttemptTimeout).
	HTTPClient *http.Client
	// AttemptTimeout bounds one request to one server, token fetch included
	// (default 10 s). The caller's context bounds the whole call.
	AttemptTimeout time.Duration
	// PrimaryRetryInterval: after a failover the client sticks to the server
	// that worked and tries the first server again after this long (default
	// 5 minutes).
	PrimaryRetryInterval time.Duration
	// Cache sets time-to-live per query kind.
	Cache CacheConfig
	// Scenarios gives the OSCI scenario per service URI; the DVDV does not
	// publish it.
	Scenarios map[string]Scenario
	// Roots and Intermediates, when Roots is set, must anchor every
	// certificate of a route (see RouteOptions); without them certificates
	// are trusted as published by the directory over TLS.
	Roots         *x509.CertPool
	Intermediates *x509.CertPool
	// MaxResponseBytes bounds an answer (default 16 MiB).
	MaxResponseBytes int64
	// AllowInsecureHTTP permits http:// servers that are not loopback.
	AllowInsecureHTTP bool
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Logger receives structured logs (default slog.Default()). Tokens,
	// keys and message content are never logged.
	Logger *slog.Logger
	// UserAgent is sent with every request (default "xagw-dvdv").
	UserAgent string
}

// Client is a DVDV2 REST client. It is safe for concurrent use.
type Client struct {
	servers      []*server
	entryPath    string
	http         *http.Client
	attemptLimit time.Duration
	pool         *serverPool
	cache        *ttlCache
	cacheCfg     CacheConfig
	scenarios    map[string]Scenario
	routeOpts    RouteOptions
	maxBody      int64
	now          func() time.Time
	log          *slog.Logger
	userAgent    string
}

type server struct {
	base   string // scheme://host[:port]/context-path, no trailing slash
	tokens *tokenSource
}

// NewClient checks cfg and returns a client.
func NewClient(cfg Config) (*Client, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("dvdv: no DVDV server configured")
	}
	c := &Client{
		entryPath:    strings.Trim(cfg.EntryPath, "/"),
		http:         cfg.HTTPClient,
		attemptLimit: cfg.AttemptTimeout,
		cacheCfg:     cfg.Cache,
		scenarios:    map[string]Scenario{},
		routeOpts:    RouteOptions{Roots: cfg.Roots, Intermediates: cfg.Intermediates},
		maxBody:      cfg.MaxResponseBytes,
		now:          cfg.Now,
		log:          cfg.Logger,
		userAgent:    cfg.UserAgent,
	}
	if c.entryPath == "" {
		c.entryPath = EntryPathIntern
		if cfg.Auth != nil {
			c.entryPath = EntryPathStandalone
		}
	}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   8,
			ForceAttemptHTTP2:     true,
		}}
	}
	if c.attemptLimit <= 0 {
		c.attemptLimit = 10 * time.Second
	}
	if c.maxBody <= 0 {
		c.maxBody = 16 << 20
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.userAgent == "" {
		c.userAgent = "xagw-dvdv"
	}
	if cfg.Auth != nil {
		if err := cfg.Auth.validate(); err != nil {
			return nil, err
		}
	}
	for uri, s := range cfg.Scenarios {
		c.scenarios[uri] = s
	}
	if !cfg.Cache.Disabled {
		c.cache = newTTLCache(cfg.Cache.MaxEntries)
	}
	seen := map[string]bool{}
	for i, raw := range cfg.Servers {
		base, err := normalizeServer(raw, cfg.AllowInsecureHTTP)
		if err != nil {
			return nil, fmt.Errorf("dvdv: server %d: %w", i+1, err)
		}
		if seen[base] {
			return nil, fmt.Errorf("dvdv: server %s is configured twice", base)
		}
		seen[base] = true
		s := &server{base: base}
		if cfg.Auth != nil {
			s.tokens = newTokenSource(cfg.Auth, base+"/"+TokenPath, c.http, c.now, c.log, c.maxBody)
		}
		c.servers = append(c.servers, s)
	}
	retry := cfg.PrimaryRetryInterval
	if retry <= 0 {
		retry = 5 * time.Minute
	}
	c.pool = &serverPool{n: len(c.servers), retry: retry}
	return c, nil
}

func normalizeServer(raw string, allowInsecure bool) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %v", raw, err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q: a server URL has no query, fragment or user info", raw)
	}
	if u.Scheme == "http" && !allowInsecure && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("%q uses plain http; the directory's answers must be protected by TLS (set AllowInsecureHTTP only inside a trusted network)", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if u.Path == "" {
		u.Path = DefaultContextPath
	}
	u.RawPath = ""
	return u.String(), nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Servers returns the normalised base URLs in order of preference.
func (c *Client) Servers() []string {
	out := make([]string, len(c.servers))
	for i, s := range c.servers {
		out[i] = s.base
	}
	return out
}

// CacheStats reports cache use.
func (c *Client) CacheStats() CacheStats { return c.cache.snapshot() }

// PurgeCache drops every cached answer (e.g. after the operator learnt of a
// revocation).
func (c *Client) PurgeCache() { c.cache.purge() }

// serverPool remembers which server answered last (sticky failover) and
// when to try the first one again.
type serverPool struct {
	mu          sync.Mutex
	n           int
	current     int
	leftPrimary time.Time
	retry       time.Duration
}

// order is the sequence of servers to try now.
func (p *serverPool) order(now time.Time) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	order := make([]int, 0, p.n)
	probe := p.current != 0 && now.Sub(p.leftPrimary) >= p.retry
	if probe {
		order = append(order, 0)
		// One probe per interval, not one per concurrent request.
		p.leftPrimary = now
	}
	for i := 0; i < p.n; i++ {
		idx := (p.current + i) % p.n
		if probe && idx == 0 {
			continue
		}
		order = append(order, idx)
	}
	return order
}

func (p *serverPool) answered(idx int, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if idx != p.current {
		if p.current == 0 {
			p.leftPrimary = now
		}
		p.current = idx
	}
}

// Current returns the base URL of the server the client asks first.
func (c *Client) Current() string {
	c.pool.mu.Lock()
	defer c.pool.mu.Unlock()
	return c.servers[c.pool.current].base
}

// technicalFailure is a failure of one server that another server may not
// have: no connection, timeout, 5xx, malformed answer. The client moves on to
// the next server.
type technicalFailure struct {
	server string
	status int
	err    error
}

func (t *technicalFailure) Error() string {
	if t.status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %v", t.server, t.status, t.err)
	}
	return fmt.Sprintf("%s: %v", t.server, t.err)
}

func (t *technicalFailure) Unwrap() error { return t.err }

// answer is a functional answer of the directory.
type answer struct {
	status  int // 200, 204, 400 or 404
	warning string
	problem *Problem
	server  string
}

// exchange sends one query to the servers in failover order until one gives
// a functional answer. For 200 answers decode is called with the body; a
// decoding error counts as a technical failure of that server.
func (c *Client) exchange(ctx context.Context, op, method string, payload []byte, decode func([]byte) error) (answer, error) {
	var failures []error
	for _, idx := range c.pool.order(c.now()) {
		if err := ctx.Err(); err != nil {
			return answer{}, &Error{Op: op, Kind: ErrUnavailable, Reason: "the caller gave up", Err: err}
		}
		s := c.servers[idx]
		start := time.Now()
		ans, err := c.attempt(ctx, s, op, method, payload, decode)
		if err != nil && ctx.Err() != nil {
			return answer{}, &Error{Op: op, Kind: ErrUnavailable, Reason: "the caller gave up", Server: s.base, Err: ctx.Err()}
		}
		var tf *technicalFailure
		if errors.As(err, &tf) {
			c.log.Warn("dvdv: server failed, trying the next one", "op", op, "server", s.base,
				"status", tf.status, "error", tf.err.Error(), "duration", time.Since(start))
			failures = append(failures, tf)
			continue
		}
		c.pool.answered(idx, c.now())
		if err != nil {
			return answer{}, err
		}
		c.log.Debug("dvdv: answer", "op", op, "server", s.base, "status", ans.status, "duration", time.Since(start))
		return ans, nil
	}
	e := &Error{Op: op, Kind: ErrUnavailable, Err: errors.Join(failures...)}
	if len(failures) == 1 {
		e.Reason = "the only configured server failed"
	} else {
		e.Reason = fmt.Sprintf("all %d configured servers failed", len(failures))
	}
	return answer{}, e
}

// attempt asks one server, renewing the token once if it is refused.
func (c *Client) attempt(ctx context.Context, s *server, op, method string, payload []byte, decode func([]byte) error) (answer, error) {
	actx, cancel := context.WithTimeout(ctx, c.attemptLimit)
	defer cancel()
	getToken := func() (string, error) {
		tok, err := s.tokens.get(actx)
		if err != nil && isContextError(err) && ctx.Err() == nil {
			// Only this attempt's deadline passed (waiting for a token
			// renewal): the server is too slow, try the next.
			return "", &technicalFailure{server: s.base, err: fmt.Errorf("waiting for an access token: %w", err)}
		}
		return tok, err
	}
	var token string
	if s.tokens != nil {
		var err error
		if token, err = getToken(); err != nil {
			return answer{}, err
		}
	}
	resp, body, err := c.send(actx, s, op, method, payload, token)
	if err != nil {
		return answer{}, err
	}
	if resp.StatusCode == http.StatusUnauthorized && s.tokens != nil {
		// The server no longer accepts the token (restarted, revoked, or
		// expired early): get a new one and ask once more.
		s.tokens.invalidate(token)
		if token, err = getToken(); err != nil {
			return answer{}, err
		}
		if resp, body, err = c.send(actx, s, op, method, payload, token); err != nil {
			return answer{}, err
		}
	}
	return c.interpret(op, s, resp, body, decode)
}

func (c *Client) send(ctx context.Context, s *server, op, method string, payload []byte, token string) (*http.Response, []byte, error) {
	target := s.base + "/" + c.entryPath + "/v2/" + op
	var bodyReader io.Reader
	if method == http.MethodGet && payload != nil {
		target += "?" + url.Values{"request_json": {string(payload)}}.Encode()
	} else if payload != nil {
		bodyReader = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bodyReader)
	if err != nil {
		return nil, nil, &technicalFailure{server: s.base, err: err}
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", c.userAgent)
	if bodyReader != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if token != "" {
		req.Header.Set("Authorization", "EmbeddedBearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, &technicalFailure{server: s.base, err: err}
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, c.maxBody)
	if err != nil {
		return nil, nil, &technicalFailure{server: s.base, status: resp.StatusCode, err: err}
	}
	return resp, body, nil
}

// interpret sorts an HTTP answer into functional answers and technical
// failures.
func (c *Client) interpret(op string, s *server, resp *http.Response, body []byte, decode func([]byte) error) (answer, error) {
	ans := answer{status: resp.StatusCode, server: s.base}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := decode(body); err != nil {
			return answer{}, &technicalFailure{server: s.base, status: resp.StatusCode, err: fmt.Errorf("%w: %v", ErrMalformedResponse, err)}
		}
		return ans, nil
	case http.StatusNoContent:
		ans.warning = DecodeWarning(resp.Header.Get(WarningHeader))
		return ans, nil
	case http.StatusBadRequest:
		ans.problem = decodeProblem(body)
		return ans, nil
	case http.StatusNotFound:
		ans.problem = decodeProblem(body)
		// A 404 with a problem description is the directory's "no such
		// record". Without one it is most likely a wrong URL or a proxy
		// page, i.e. this server is not usable. findCertificateByFingerprint
		// is documented with a bare 404.
		if ans.problem == nil && op != opFindCertificate {
			return answer{}, &technicalFailure{server: s.base, status: resp.StatusCode,
				err: fmt.Errorf("not found without a problem description (is the server URL %s and entry path %s right?)", s.base, c.entryPath)}
		}
		return ans, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		reason := "the directory refused the request"
		if s.tokens == nil {
			reason += fmt.Sprintf(" (entry path %s is used without authentication; configure a client certificate)", c.entryPath)
		}
		return answer{}, &Error{Op: op, Kind: ErrUnauthorized, Server: s.base, Status: resp.StatusCode, Problem: decodeProblem(body), Reason: reason}
	default:
		return answer{}, &technicalFailure{server: s.base, status: resp.StatusCode, err: fmt.Errorf("unexpected status %s", http.StatusText(resp.StatusCode))}
	}
}

// DecodeWarning decodes an RFC 2047 encoded dvdv-warning-msg header. Text
// that cannot be decoded is returned as sent.
func DecodeWarning(h string) string {
	h = strings.TrimSpace(h)
	if h == "" {
		return ""
	}
	dec := mime.WordDecoder{}
	out, err := dec.DecodeHeader(h)
	if err != nil {
		out = h
	}
	return clip(strings.Map(func(r rune) rune {
		if r < ' ' && r != '\t' {
			return ' ' // no line breaks from the network in log lines
		}
		return r
	}, out), 2000)
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrMalformedResponse, limit)
	}
	return body, nil
}

// encodeRequest marshals a request object.
func encodeRequest(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only Request values and slices of them are marshalled; they
		// cannot fail.
		panic("dvdv: encoding request: " + err.Error())
	}
	return b
}

package dvdv

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// TokenPath is the token endpoint of the standalone authentication, relative
// to the server's base URL.
const TokenPath = "extern/standaloneauth/token"

// Entry paths of the directory API.
const (
	EntryPathStandalone   = "extern/standaloneauth/directory"
	EntryPathBundesmaster = "extern/bundesmasterauth/directory"
	EntryPathIntern       = "intern/directory"
)

// Client assertion constants (RFC 7523 / OpenID Connect private_key_jwt).
const (
	GrantTypeClientCredentials = "client_credentials"
	ClientAssertionTypeJWT     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// StandaloneAuth is the DVDV "standalone authentication": the client proves
// possession of a client certificate registered for its organisation in the
// DVDV by signing a JWT (RS256, subject "fp:<SHA-1 fingerprint>") and gets
// an access token, sent as "Authorization: EmbeddedBearer <token>".
type StandaloneAuth struct {
	// Certificate is the client certificate registered in the DVDV.
	Certificate *x509.Certificate
	// Key is its RSA private key.
	Key crypto.Signer
	// AssertionLifetime is how long a client assertion is valid (default 5
	// minutes; it is used once, right away).
	AssertionLifetime time.Duration
	// RefreshBefore renews a token this long before it expires (default: a
	// fifth of its lifetime, at most 5 minutes).
	RefreshBefore time.Duration
}

func (a *StandaloneAuth) validate() error {
	if a.Certificate == nil || a.Key == nil {
		return errors.New("dvdv: standalone authentication needs a client certificate and its private key")
	}
	pub, ok := a.Key.Public().(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("dvdv: the client key is %T; the DVDV token endpoint needs an RSA key (RS256)", a.Key.Public())
	}
	if !pub.Equal(a.Certificate.PublicKey) {
		return fmt.Errorf("dvdv: the client key does not belong to the client certificate (subject %q)", a.Certificate.Subject.CommonName)
	}
	return nil
}

// Subject is the JWT subject the directory expects: "fp:" and the SHA-1
// fingerprint of the client certificate in lower-case hex.
func (a *StandaloneAuth) Subject() string { return "fp:" + Fingerprint(a.Certificate) }

// assertionClaims are the claims of the client assertion. The API
// description prescribes only the subject; iss, aud, exp, iat and jti are
// what an OpenID Connect provider (the DVDV server is "almost conformant")
// checks for private_key_jwt client authentication.
type assertionClaims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	IssuedAt  int64  `json:"iat"`
	NotBefore int64  `json:"nbf"`
	Expiry    int64  `json:"exp"`
	ID        string `json:"jti"`
}

// ClientAssertion returns a signed RS256 JWT for the token endpoint at
// audience (the token endpoint's URL).
func (a *StandaloneAuth) ClientAssertion(audience string, now time.Time) (string, error) {
	life := a.AssertionLifetime
	if life <= 0 {
		life = 5 * time.Minute
	}
	var jti [16]byte
	if _, err := io.ReadFull(rand.Reader, jti[:]); err != nil {
		return "", err
	}
	sub := a.Subject()
	header, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}{"RS256", "JWT"})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(assertionClaims{
		Issuer: sub, Subject: sub, Audience: audience,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: now.Add(life).Unix(),
		ID: hex.EncodeToString(jti[:]),
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signingInput := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := a.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("dvdv: signing the client assertion: %w", err)
	}
	return signingInput + "." + enc.EncodeToString(sig), nil
}

// tokenSource holds one server's access token and renews it before it
// expires. Concurrent callers share one renewal.
type tokenSource struct {
	auth    *StandaloneAuth
	url     string // token endpoint
	client  *http.Client
	now     func() time.Time
	logger  *slog.Logger
	maxBody int64

	renew chan struct{} // one renewal at a time; a channel so waiting honours ctx

	mu        sync.Mutex
	token     string
	expires   time.Time
	refreshAt time.Time
}

func newTokenSource(a *StandaloneAuth, tokenURL string, client *http.Client, now func() time.Time, logger *slog.Logger, maxBody int64) *tokenSource {
	return &tokenSource{auth: a, url: tokenURL, client: client, now: now, logger: logger, maxBody: maxBody, renew: make(chan struct{}, 1)}
}

// get returns a token that is valid now, fetching a new one when none is
// held or the held one is due for renewal.
func (t *tokenSource) get(ctx context.Context) (string, error) {
	if tok, ok := t.fresh(); ok {
		return tok, nil
	}
	select {
	case t.renew <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-t.renew }()
	if tok, ok := t.fresh(); ok {
		return tok, nil // renewed by another caller meanwhile
	}
	now := t.now()
	tok, err := t.fetch(ctx, now)
	if err != nil {
		t.mu.Lock()
		old, exp := t.token, t.expires
		t.mu.Unlock()
		var tf *technicalFailure
		if old != "" && now.Before(exp) && errors.As(err, &tf) {
			// Renewal is early by design; a token that still works is
			// better than no answer while the token endpoint is down.
			t.logger.Warn("dvdv: token renewal failed, using the current token until it expires",
				"token_endpoint", t.url, "expires", exp, "error", err)
			return old, nil
		}
		return "", err
	}
	life := time.Duration(tok.ExpiresIn) * time.Second
	if tok.ExpiresIn > int64(30*24*time.Hour/time.Second) {
		life = 30 * 24 * time.Hour // guard against absurd values overflowing durations
	}
	before := t.auth.RefreshBefore
	if before <= 0 {
		before = min(life/5, 5*time.Minute)
	}
	t.mu.Lock()
	t.token = tok.AccessToken
	t.expires = now.Add(life)
	t.refreshAt = t.expires.Add(-before)
	t.mu.Unlock()
	t.logger.Debug("dvdv: access token obtained", "token_endpoint", t.url, "lifetime", life)
	return tok.AccessToken, nil
}

func (t *tokenSource) fresh() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.refreshAt) {
		return t.token, true
	}
	return "", false
}

// invalidate drops tok if it is still the held token (the server refused it).
func (t *tokenSource) invalidate(tok string) {
	t.mu.Lock()
	if t.token == tok {
		t.token = ""
	}
	t.mu.Unlock()
}

// fetch asks the token endpoint for a new token.
func (t *tokenSource) fetch(ctx context.Context, now time.Time) (*AccessToken, error) {
	assertion, err := t.auth.ClientAssertion(t.url, now)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":            {GrantTypeClientCredentials},
		"client_assertion_type": {ClientAssertionTypeJWT},
		"client_assertion":      {assertion},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, &technicalFailure{server: t.url, err: fmt.Errorf("token request: %w", err)}
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, t.maxBody)
	if err != nil {
		return nil, &technicalFailure{server: t.url, status: resp.StatusCode, err: fmt.Errorf("token response: %w", err)}
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		tok, err := decodeToken(body)
		if err != nil {
			return nil, &technicalFailure{server: t.url, status: resp.StatusCode, err: fmt.Errorf("%w: %v", ErrMalformedResponse, err)}
		}
		return tok, nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, &Error{Op: "token", Kind: ErrUnauthorized, Server: t.url, Status: resp.StatusCode, Problem: decodeProblem(body),
			Reason: fmt.Sprintf("the token endpoint refused the client certificate %s (subject %q)", t.auth.Subject(), t.auth.Certificate.Subject.CommonName)}
	default:
		return nil, &technicalFailure{server: t.url, status: resp.StatusCode, err: fmt.Errorf("token endpoint answered HTTP %d", resp.StatusCode)}
	}
}

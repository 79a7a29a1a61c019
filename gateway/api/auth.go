package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/xagw/xagw/gateway/store"
)

// Auth authenticates API clients by bearer token (compared as SHA-256
// hashes in constant time) or by mTLS client certificate fingerprint.
type Auth struct {
	mu      sync.RWMutex
	clients []store.Client
}

// NewAuth returns an authenticator for clients.
func NewAuth(clients []store.Client) *Auth {
	a := &Auth{}
	a.Set(clients)
	return a
}

// LoadAuth reads the clients from the store.
func LoadAuth(ctx context.Context, s *store.Store) (*Auth, error) {
	cs, err := s.Clients(ctx)
	if err != nil {
		return nil, err
	}
	return NewAuth(cs), nil
}

// Set replaces the client list (after a configuration reload).
func (a *Auth) Set(clients []store.Client) {
	norm := make([]store.Client, len(clients))
	for i, c := range clients {
		c.CertSHA256 = strings.ToLower(strings.ReplaceAll(c.CertSHA256, ":", ""))
		norm[i] = c
	}
	a.mu.Lock()
	a.clients = norm
	a.mu.Unlock()
}

var (
	errNoCredentials = errors.New("no credentials")
	errUnknownToken  = errors.New("unknown token")
	errUnknownCert   = errors.New("client certificate not registered")
)

// Authenticate returns the client of r.
func (a *Auth) Authenticate(r *http.Request) (*Principal, error) {
	a.mu.RLock()
	clients := a.clients
	a.mu.RUnlock()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return nil, errors.New("malformed Authorization header")
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		var found *store.Client
		// Compare against every client without stopping early, so the
		// time taken does not tell how many clients were checked.
		for i := range clients {
			want, err := hex.DecodeString(clients[i].TokenSHA256)
			if err != nil || len(want) != len(sum) {
				continue
			}
			if subtle.ConstantTimeCompare(want, sum[:]) == 1 {
				found = &clients[i]
			}
		}
		if found == nil {
			return nil, errUnknownToken
		}
		return &Principal{ClientID: found.ID, Admin: found.Admin, Method: "token"}, nil
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		fp := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
		hexfp := hex.EncodeToString(fp[:])
		for i := range clients {
			if clients[i].CertSHA256 != "" && subtle.ConstantTimeCompare([]byte(clients[i].CertSHA256), []byte(hexfp)) == 1 {
				return &Principal{ClientID: clients[i].ID, Admin: clients[i].Admin, Method: "mtls"}, nil
			}
		}
		return nil, errUnknownCert
	}
	return nil, errNoCredentials
}

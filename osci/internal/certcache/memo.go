package certcache

import (
	"crypto/x509"
	"sync"
)

// memoEntries bounds a Memo. The certificates in use number a handful per
// partner, so the bound is rarely reached; when it is, the memo starts
// over (entries are only a shortcut).
const memoEntries = 256

// Memo remembers a value derived from a certificate (its base64 text, its
// fingerprint) per certificate, so the few certificates every message
// carries are not encoded or hashed again for each message. Unlike Parse
// and FromText it is keyed by pointer: it is for certificates this module
// parsed or configured, which nobody changes after use. Create it with
// NewMemo; it is safe for concurrent use.
type Memo struct {
	f  func(*x509.Certificate) string
	mu sync.Mutex
	m  map[*x509.Certificate]string
}

// NewMemo returns a Memo of f.
func NewMemo(f func(*x509.Certificate) string) *Memo { return &Memo{f: f} }

// Get returns f(c), computing it only the first time for c.
func (m *Memo) Get(c *x509.Certificate) string {
	m.mu.Lock()
	v, ok := m.m[c]
	m.mu.Unlock()
	if ok {
		return v
	}
	v = m.f(c)
	m.mu.Lock()
	if m.m == nil || len(m.m) >= memoEntries {
		m.m = make(map[*x509.Certificate]string)
	}
	m.m[c] = v
	m.mu.Unlock()
	return v
}

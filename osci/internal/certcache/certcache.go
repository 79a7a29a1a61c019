// Package certcache parses X.509 certificates once. Every OSCI message
// carries the same few certificates (the parties' signature and cipher
// certificates, the intermediary's), and parsing them again for every
// envelope was a measurable share of opening a message. The cache maps the
// exact DER bytes to the parsed certificate, so the result is the one
// x509.ParseCertificate gives for those bytes.
//
// Certificates come from received messages, so the cache is bounded: when
// it is full it starts over. Parsed certificates are shared; callers must
// not modify them (nothing in this module does).
package certcache

import (
	"crypto/x509"
	"sync"
)

// MaxEntries bounds the cache.
const MaxEntries = 512

// MaxDER is the largest certificate kept; bigger ones are parsed every
// time (real certificates are a few kilobytes).
const MaxDER = 8 << 10

var cache = struct {
	sync.RWMutex
	m map[string]*x509.Certificate
}{m: map[string]*x509.Certificate{}}

// Parse returns x509.ParseCertificate(der), from the cache when the same
// bytes were parsed before. Errors are not cached.
func Parse(der []byte) (*x509.Certificate, error) {
	if len(der) > MaxDER {
		return x509.ParseCertificate(der)
	}
	cache.RLock()
	c := cache.m[string(der)]
	cache.RUnlock()
	if c != nil {
		return c, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	cache.Lock()
	if len(cache.m) >= MaxEntries {
		clear(cache.m)
	}
	cache.m[string(der)] = c
	cache.Unlock()
	return c, nil
}

// MaxText is the longest base64 text FromText and RememberText keep.
const MaxText = 2 * MaxDER

var texts = struct {
	sync.RWMutex
	m map[string]*x509.Certificate
}{m: map[string]*x509.Certificate{}}

// FromText returns the certificate that the base64 text of a certificate
// element (ds:X509Certificate) decoded and parsed to before, byte for byte
// the same text, or nil. Every envelope carries its parties' certificates
// as such text, and decoding them again for every message is what this
// spares; the caller decodes, parses and calls RememberText on a miss.
// Callers share the cache, so they must all decode the same way: standard
// base64 with blanks, tabs and line breaks ignored (osci, xmldsig and
// xmlenc do).
func FromText(text string) *x509.Certificate {
	if len(text) > MaxText {
		return nil
	}
	texts.RLock()
	c := texts.m[text]
	texts.RUnlock()
	return c
}

// RememberText records that text decoded and parsed to c without error.
func RememberText(text string, c *x509.Certificate) {
	if len(text) > MaxText || c == nil {
		return
	}
	texts.Lock()
	if len(texts.m) >= MaxEntries {
		clear(texts.m)
	}
	texts.m[text] = c
	texts.Unlock()
}

package keystore

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"weak"
)

// Certificate checks repeat: every OSCI message carries the same handful of
// certificates, and each is checked several times per message (signer,
// process-card inspections, content signer). Verifying a chain means RSA
// public-key operations for every link and for every CRL, which made these
// checks a noticeable part of a delivery's CPU time. Two caches remove the
// repeated cryptography without skipping any check:
//
//   - chainCache remembers the chain x509.Verify built for exactly the same
//     inputs (the certificate, the certificates passed along, the Policy and
//     its pools). Only a successful chain is kept, and on every use the
//     time-dependent part of x509.Verify — the validity period of every
//     certificate in the chain — is checked again against the current time.
//     Everything else Verify establishes (signatures, CA flags, path length,
//     name constraints) does not change for the same bytes.
//   - crlSigCache remembers that a parsed CRL's signature verified under an
//     issuer certificate. Freshness (thisUpdate/nextUpdate) and the
//     revocation entries are evaluated on every check.
//
// Both are bounded and simply start over when full, so input from outside
// (certificates in received messages) cannot make them grow without limit.
// Policies, pools and CRLs are keys through weak pointers: an entry never
// keeps a replaced CRL (which can be large) or Policy alive, and a weak
// pointer stays unequal to any later object even after its own was
// collected.
const maxCacheEntries = 1024

type chainKey struct {
	policy weak.Pointer[Policy]
	roots  weak.Pointer[x509.CertPool]
	inter  weak.Pointer[x509.CertPool]
	certs  [sha256.Size]byte // the certificate and the intermediates passed, in order
}

var chainCache = struct {
	sync.Mutex
	m map[chainKey][]*x509.Certificate
}{m: map[chainKey][]*x509.Certificate{}}

func newChainKey(p *Policy, cert *x509.Certificate, intermediates []*x509.Certificate) chainKey {
	h := sha256.New()
	var n [8]byte
	for _, c := range append([]*x509.Certificate{cert}, intermediates...) {
		l := len(c.Raw)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:]) // length-prefixed, so concatenations cannot collide
		h.Write(c.Raw)
	}
	k := chainKey{policy: weak.Make(p), roots: weak.Make(p.Roots), inter: weak.Make(p.Intermediates)}
	h.Sum(k.certs[:0])
	return k
}

func cachedChain(k chainKey) []*x509.Certificate {
	chainCache.Lock()
	defer chainCache.Unlock()
	return chainCache.m[k]
}

func rememberChain(k chainKey, chain []*x509.Certificate) {
	chainCache.Lock()
	defer chainCache.Unlock()
	if len(chainCache.m) >= maxCacheEntries {
		clear(chainCache.m)
	}
	chainCache.m[k] = chain
}

type crlSigKey struct {
	crl    weak.Pointer[x509.RevocationList]
	issuer [sha256.Size]byte
}

var crlSigCache = struct {
	sync.Mutex
	m map[crlSigKey]bool
}{m: map[crlSigKey]bool{}}

// checkCRLSignature is crl.CheckSignatureFrom(issuer), remembered when it
// succeeds. The key is the parsed CRL (immutable once parsed) and the
// issuer's DER.
func checkCRLSignature(crl *x509.RevocationList, issuer *x509.Certificate) error {
	k := crlSigKey{crl: weak.Make(crl), issuer: sha256.Sum256(issuer.Raw)}
	crlSigCache.Lock()
	ok := crlSigCache.m[k]
	crlSigCache.Unlock()
	if ok {
		return nil
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return err
	}
	crlSigCache.Lock()
	if len(crlSigCache.m) >= maxCacheEntries {
		clear(crlSigCache.m)
	}
	crlSigCache.m[k] = true
	crlSigCache.Unlock()
	return nil
}

package dvdv

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"
)

// CacheConfig sets how long answers are kept. A zero field takes its
// default; a negative TTL switches caching off for that kind. Whatever the
// TTL, an entry never outlives the validity of the record it holds (a
// service's validTo, the certificates' end of validity), and a Route is
// rebuilt, with every certificate checked again, whenever its entry expires.
type CacheConfig struct {
	// Disabled switches the cache off entirely.
	Disabled bool
	// ServiceTTL: findservicedescription and Lookup (default 15 minutes, so
	// a revocation published in the directory reaches the gateway quickly).
	ServiceTTL time.Duration
	// OrganizationTTL: findauthoritydescription(s) and
	// findOrganizationsByServiceElement (default 1 hour).
	OrganizationTTL time.Duration
	// CertificateTTL: findCertificateByFingerprint (default 15 minutes).
	CertificateTTL time.Duration
	// CategoryTTL: findcategories and verifycategory (default 1 hour).
	CategoryTTL time.Duration
	// CatalogTTL: the category tree, intermediaries, service URIs by
	// category and the server version (default 6 hours).
	CatalogTTL time.Duration
	// NegativeTTL: "no such service / organisation / record / usable
	// certificate" answers (default 1 minute). Failures to reach the
	// directory are never cached.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache; the least recently used entry goes first
	// (default 10000).
	MaxEntries int
}

// Default cache settings.
const (
	DefaultServiceTTL      = 15 * time.Minute
	DefaultOrganizationTTL = time.Hour
	DefaultCertificateTTL  = 15 * time.Minute
	DefaultCategoryTTL     = time.Hour
	DefaultCatalogTTL      = 6 * time.Hour
	DefaultNegativeTTL     = time.Minute
	DefaultCacheEntries    = 10000
)

type cacheKind uint8

const (
	kindService cacheKind = iota
	kindRoute
	kindOrganization
	kindCertificate
	kindCategory
	kindCatalog
)

func (cc CacheConfig) ttl(k cacheKind) time.Duration {
	pick := func(v, def time.Duration) time.Duration {
		if v == 0 {
			return def
		}
		return v
	}
	switch k {
	case kindService, kindRoute:
		return pick(cc.ServiceTTL, DefaultServiceTTL)
	case kindOrganization:
		return pick(cc.OrganizationTTL, DefaultOrganizationTTL)
	case kindCertificate:
		return pick(cc.CertificateTTL, DefaultCertificateTTL)
	case kindCategory:
		return pick(cc.CategoryTTL, DefaultCategoryTTL)
	default:
		return pick(cc.CatalogTTL, DefaultCatalogTTL)
	}
}

func (cc CacheConfig) negativeTTL() time.Duration {
	if cc.NegativeTTL == 0 {
		return DefaultNegativeTTL
	}
	return cc.NegativeTTL
}

// CacheStats counts cache use since the client was made.
type CacheStats struct {
	Hits, Misses, Collapsed uint64
	Entries                 int
}

// ttlCache is a bounded LRU map of answers with per-entry expiry, which also
// collapses concurrent fills of one key into a single request.
type ttlCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*list.Element
	lru     list.List // front: most recently used
	flights map[string]*flight
	stats   CacheStats
}

type cacheEntry struct {
	key     string
	val     any
	err     error
	expires time.Time
}

type flight struct {
	done chan struct{}
	val  any
	err  error
}

func newTTLCache(max int) *ttlCache {
	if max <= 0 {
		max = DefaultCacheEntries
	}
	return &ttlCache{max: max, entries: map[string]*list.Element{}, flights: map[string]*flight{}}
}

// fillFunc computes an answer and says until when it may be kept; a zero
// time means "do not keep".
type fillFunc func(ctx context.Context) (val any, err error, keepUntil time.Time)

// get returns the cached answer for key, or runs fill once for all callers
// asking for key at the same time.
func (c *ttlCache) get(ctx context.Context, key string, now func() time.Time, fill fillFunc) (any, error) {
	if c == nil {
		v, err, _ := fill(ctx)
		return v, err
	}
	for {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok {
			e := el.Value.(*cacheEntry)
			if now().Before(e.expires) {
				c.lru.MoveToFront(el)
				c.stats.Hits++
				c.mu.Unlock()
				return e.val, e.err
			}
			c.removeLocked(el)
		}
		if f, ok := c.flights[key]; ok {
			c.stats.Collapsed++
			c.mu.Unlock()
			select {
			case <-f.done:
				if isContextError(f.err) && ctx.Err() == nil {
					// The caller that did the work gave up; ask again
					// rather than inherit its cancellation.
					continue
				}
				return f.val, f.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		f := &flight{done: make(chan struct{})}
		c.flights[key] = f
		c.stats.Misses++
		c.mu.Unlock()
		return c.run(ctx, key, now, fill, f)
	}
}

func (c *ttlCache) run(ctx context.Context, key string, now func() time.Time, fill fillFunc, f *flight) (val any, err error) {
	var keep time.Time
	finished := false
	defer func() {
		c.mu.Lock()
		delete(c.flights, key)
		if finished && !keep.IsZero() && now().Before(keep) {
			c.putLocked(key, val, err, keep)
		}
		c.mu.Unlock()
		if !finished {
			// fill panicked: release the waiters with an error, then let
			// the panic continue.
			f.err = errors.New("dvdv: internal error while filling the cache")
		} else {
			f.val, f.err = val, err
		}
		close(f.done)
	}()
	val, err, keep = fill(ctx)
	finished = true
	return val, err
}

func (c *ttlCache) putLocked(key string, val any, err error, expires time.Time) {
	if el, ok := c.entries[key]; ok {
		c.removeLocked(el)
	}
	el := c.lru.PushFront(&cacheEntry{key: key, val: val, err: err, expires: expires})
	c.entries[key] = el
	for c.lru.Len() > c.max {
		c.removeLocked(c.lru.Back())
	}
}

func (c *ttlCache) removeLocked(el *list.Element) {
	c.lru.Remove(el)
	delete(c.entries, el.Value.(*cacheEntry).key)
}

// purge drops every entry.
func (c *ttlCache) purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.entries = map[string]*list.Element{}
	c.lru.Init()
	c.mu.Unlock()
}

func (c *ttlCache) snapshot() CacheStats {
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Entries = c.lru.Len()
	return s
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// earliest returns the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}

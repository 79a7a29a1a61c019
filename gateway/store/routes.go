package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// routeCacheMax bounds the routes kept in memory. There is about one route
// per ABH and certificate generation, so the bound is rarely reached; when
// it is, the cache starts over (entries are only a shortcut).
const routeCacheMax = 4096

// routeCache maps the SHA-256 (hex) of a route to its JSON. An entry is
// added only for a route known to be committed in the routes table, and
// routes are immutable and never deleted, so an entry never goes stale:
// it lets Apply skip the insert of a route it has stored before and lets
// reads skip the lookup.
type routeCache struct {
	mu sync.RWMutex
	m  map[string]string
}

func (c *routeCache) get(h string) (string, bool) {
	c.mu.RLock()
	v, ok := c.m[h]
	c.mu.RUnlock()
	return v, ok
}

func (c *routeCache) put(h, route string) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= routeCacheMax {
		c.m = make(map[string]string)
	}
	c.m[h] = route
	c.mu.Unlock()
}

func routeHash(route []byte) string {
	sum := sha256.Sum256(route)
	return hex.EncodeToString(sum[:])
}

// putRoute makes sure route, whose hash is h, is in the routes table, in tx.
// Apply calls it only for a route not in the cache, and records the route
// there only after tx commits.
func (s *Store) putRoute(ctx context.Context, tx *sqlx.Tx, h, route string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO routes (sha256, route, created_at) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING`),
		h, route, ms2(now)); err != nil {
		return fmt.Errorf("store: store route: %w", err)
	}
	return nil
}

// route returns the JSON of the route with hash h, from the cache or q.
func (s *Store) route(ctx context.Context, q sqlx.QueryerContext, h string) (string, error) {
	if v, ok := s.routes.get(h); ok {
		return v, nil
	}
	var v string
	err := sqlx.GetContext(ctx, q, &v, s.q(`SELECT route FROM routes WHERE sha256 = ?`), h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: route %s is referenced but missing", h)
	}
	if err != nil {
		return "", fmt.Errorf("store: read route %s: %w", h, err)
	}
	// The key is the content's hash: a row that does not match it was
	// changed behind the store's back and is not handed to a sender.
	if routeHash([]byte(v)) != h {
		return "", fmt.Errorf("store: route %s does not match its hash", h)
	}
	s.routes.put(h, v)
	return v, nil
}

// messages converts rows to messages, reading routes stored by hash.
func (s *Store) messages(ctx context.Context, q sqlx.QueryerContext, rows []messageRow) ([]*Message, error) {
	out := make([]*Message, len(rows))
	for i := range rows {
		m, err := s.message(ctx, q, &rows[i])
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// message converts one row; a route stored by hash is read from the cache
// or q, an inline route (rows written before migration 0005) as it is.
func (s *Store) message(ctx context.Context, q sqlx.QueryerContext, r *messageRow) (*Message, error) {
	m := r.message()
	if r.RouteSHA256.Valid {
		v, err := s.route(ctx, q, r.RouteSHA256.String)
		if err != nil {
			return nil, fmt.Errorf("%w (message %s)", err, r.ID)
		}
		m.Route = []byte(v)
	}
	return m, nil
}

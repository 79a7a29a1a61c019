package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Client is an API client. Only hashes of its credentials are stored.
type Client struct {
	ID          string
	TokenSHA256 string // hex SHA-256 of the bearer token ("" = no token)
	CertSHA256  string // hex SHA-256 of the DER client certificate ("" = no mTLS)
	Admin       bool   // sees every client's messages and unlinked replies
}

// SyncClients makes the api_clients table equal to clients (the
// configuration is the source of truth). Instances starting together may
// sync concurrently: rows are upserted, then the others deleted.
func (s *Store) SyncClients(ctx context.Context, clients []Client, now time.Time) error {
	return s.tx(ctx, func(tx *sqlx.Tx) error {
		keep := make([]any, 0, len(clients))
		for _, c := range clients {
			admin := 0
			if c.Admin {
				admin = 1
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO api_clients (id, token_sha256, cert_sha256, admin, updated_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET token_sha256 = excluded.token_sha256, cert_sha256 = excluded.cert_sha256,
				admin = excluded.admin, updated_at = excluded.updated_at`),
				c.ID, c.TokenSHA256, c.CertSHA256, admin, ms2(now)); err != nil {
				return fmt.Errorf("store: sync client %q: %w", c.ID, err)
			}
			keep = append(keep, c.ID)
		}
		q := `DELETE FROM api_clients`
		if len(keep) > 0 {
			q += ` WHERE id NOT IN (?` + strings.Repeat(", ?", len(keep)-1) + `)`
		}
		if _, err := tx.ExecContext(ctx, s.q(q), keep...); err != nil {
			return fmt.Errorf("store: sync clients: %w", err)
		}
		return nil
	})
}

// Clients returns every API client.
func (s *Store) Clients(ctx context.Context) ([]Client, error) {
	var rows []struct {
		ID    string `db:"id"`
		Token string `db:"token_sha256"`
		Cert  string `db:"cert_sha256"`
		Admin int    `db:"admin"`
	}
	if err := s.r.SelectContext(ctx, &rows, `SELECT id, token_sha256, cert_sha256, admin FROM api_clients ORDER BY id`); err != nil {
		return nil, fmt.Errorf("store: clients: %w", err)
	}
	out := make([]Client, len(rows))
	for i, r := range rows {
		out[i] = Client{ID: r.ID, TokenSHA256: r.Token, CertSHA256: r.Cert, Admin: r.Admin != 0}
	}
	return out, nil
}

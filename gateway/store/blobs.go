package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Blob is an encrypted part belonging to a message or inbox item. The store
// never sees plaintext: callers seal with gateway/atrest and pass the key id.
type Blob struct {
	Part  string // "body", "attachment/1", …
	KeyID string
	Data  []byte // sealed bytes
	Size  int64  // plaintext size, for metrics and listings
}

// Part names used by the gateway.
const (
	PartBody = "body"
	// PartProblem holds the full reason an inbox item could not be read.
	PartProblem = "problem"
	// PartResponse holds a passive recipient's synchronous answer to a
	// mediateDelivery, stored with the message in the same transaction as
	// the transition that records the delivery (OSCI cannot fetch it again).
	PartResponse = "response"
	// PartResponseSigner holds the DER certificate whose verified signature
	// covers that answer's content, stored with PartResponse when there is
	// one: the reply side decides with it whether the answer is the ABH's,
	// also when it is handed on only after a restart.
	PartResponseSigner = "response_signer"
)

func (s *Store) putBlobs(ctx context.Context, tx *sqlx.Tx, owner string, blobs []Blob, now time.Time) error {
	for _, b := range blobs {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO blobs (owner, part, key_id, data, size, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
			owner, b.Part, b.KeyID, b.Data, b.Size, ms2(now)); err != nil {
			return fmt.Errorf("store: put blob %s/%s: %w", owner, b.Part, err)
		}
	}
	return nil
}

// Blob returns one sealed part, or ErrNotFound (also after a purge).
func (s *Store) Blob(ctx context.Context, owner, part string) (Blob, error) {
	var row struct {
		KeyID string `db:"key_id"`
		Data  []byte `db:"data"`
		Size  int64  `db:"size"`
	}
	err := s.r.GetContext(ctx, &row, s.q(`SELECT key_id, data, size FROM blobs WHERE owner = ? AND part = ?`), owner, part)
	if errors.Is(err, sql.ErrNoRows) {
		return Blob{}, ErrNotFound
	}
	if err != nil {
		return Blob{}, fmt.Errorf("store: get blob: %w", err)
	}
	return Blob{Part: part, KeyID: row.KeyID, Data: row.Data, Size: row.Size}, nil
}

// Blobs returns all sealed parts of owner ordered by part name.
func (s *Store) Blobs(ctx context.Context, owner string) ([]Blob, error) {
	var rows []struct {
		Part  string `db:"part"`
		KeyID string `db:"key_id"`
		Data  []byte `db:"data"`
		Size  int64  `db:"size"`
	}
	if err := s.r.SelectContext(ctx, &rows, s.q(`SELECT part, key_id, data, size FROM blobs WHERE owner = ? ORDER BY part`), owner); err != nil {
		return nil, fmt.Errorf("store: get blobs: %w", err)
	}
	out := make([]Blob, len(rows))
	for i, r := range rows {
		out[i] = Blob{Part: r.Part, KeyID: r.KeyID, Data: r.Data, Size: r.Size}
	}
	return out, nil
}

// KeyIDsInUse lists the encryption key ids that still seal at least one
// blob, so an operator knows when an old key may be dropped.
func (s *Store) KeyIDsInUse(ctx context.Context) ([]string, error) {
	var ids []string
	if err := s.r.SelectContext(ctx, &ids, `SELECT DISTINCT key_id FROM blobs ORDER BY key_id`); err != nil {
		return nil, fmt.Errorf("store: key ids: %w", err)
	}
	return ids, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Webhook delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed" // attempts exhausted
)

// WebhookDelivery is one queued webhook call.
type WebhookDelivery struct {
	ID            string
	Subscriber    string
	Event         string
	SubjectID     string // inbox item or message id
	State         string
	Attempts      int
	NextAttemptAt time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	DeliveredAt   time.Time
}

type webhookRow struct {
	ID            string        `db:"id"`
	Subscriber    string        `db:"subscriber"`
	Event         string        `db:"event"`
	SubjectID     string        `db:"subject_id"`
	State         string        `db:"state"`
	Attempts      int           `db:"attempts"`
	NextAttemptAt sql.NullInt64 `db:"next_attempt_at"`
	LastStatus    int           `db:"last_status"`
	LastError     string        `db:"last_error"`
	CreatedAt     int64         `db:"created_at"`
	DeliveredAt   sql.NullInt64 `db:"delivered_at"`
}

const webhookCols = `id, subscriber, event, subject_id, state, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at`

func (r *webhookRow) delivery() *WebhookDelivery {
	return &WebhookDelivery{ID: r.ID, Subscriber: r.Subscriber, Event: r.Event, SubjectID: r.SubjectID, State: r.State,
		Attempts: r.Attempts, NextAttemptAt: fromNullMS(r.NextAttemptAt), LastStatus: r.LastStatus, LastError: r.LastError,
		CreatedAt: fromMS(r.CreatedAt), DeliveredAt: fromNullMS(r.DeliveredAt)}
}

func (s *Store) queueWebhook(ctx context.Context, tx *sqlx.Tx, h NewWebhook, now time.Time) error {
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO webhook_deliveries (id, subscriber, event, subject_id, state, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (subscriber, event, subject_id) DO NOTHING`),
		NewID(), h.Subscriber, h.Event, h.SubjectID, WebhookPending, ms2(now), ms2(now))
	if err != nil {
		return fmt.Errorf("store: queue webhook: %w", err)
	}
	return nil
}

// QueueWebhooks queues deliveries outside a reply transaction (e.g. for
// message state events). Duplicates (same subscriber, event, subject) are
// ignored.
func (s *Store) QueueWebhooks(ctx context.Context, hooks []NewWebhook, now time.Time) error {
	return s.tx(ctx, func(tx *sqlx.Tx) error {
		for _, h := range hooks {
			if err := s.queueWebhook(ctx, tx, h, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimWebhooks leases up to limit due webhook deliveries for owner.
func (s *Store) ClaimWebhooks(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*WebhookDelivery, error) {
	var rows []webhookRow
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &rows, s.q(`UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?
			WHERE id IN (SELECT id FROM webhook_deliveries
				WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_attempt_at LIMIT ? {{SKIP_LOCKED}})
			RETURNING `+webhookCols), owner, ms2(now.Add(lease)), ms2(now), ms2(now), limit)
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim webhooks: %w", err)
	}
	out := make([]*WebhookDelivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

// WebhookOutcome records the result of one webhook attempt.
type WebhookOutcome struct {
	State         string // WebhookDelivered, WebhookPending (retry) or WebhookFailed
	Attempts      int
	NextAttemptAt time.Time // for WebhookPending
	Status        int       // HTTP status (0: no response)
	Error         string
}

// FinishWebhook applies an outcome if owner still holds the lease.
func (s *Store) FinishWebhook(ctx context.Context, id, owner string, now time.Time, o WebhookOutcome) error {
	next := sql.NullInt64{}
	var delivered sql.NullInt64
	switch o.State {
	case WebhookPending:
		next = nullMS(o.NextAttemptAt)
		if !next.Valid {
			next = nullMS(now)
		}
	case WebhookDelivered:
		delivered = nullMS(now)
	case WebhookFailed:
	default:
		return fmt.Errorf("store: invalid webhook state %q", o.State)
	}
	res, err := s.w.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ?, lease_owner = NULL,
		lease_until = NULL, last_status = ?, last_error = ?, delivered_at = ? WHERE id = ? AND lease_owner = ?`),
		o.State, o.Attempts, next, o.Status, truncate(o.Error, 500), delivered, id, owner)
	if err != nil {
		return fmt.Errorf("store: finish webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return ErrLeaseLost
	}
	return nil
}

// WebhookDeliveries lists the deliveries for one subject (newest last).
func (s *Store) WebhookDeliveries(ctx context.Context, subjectID string) ([]*WebhookDelivery, error) {
	var rows []webhookRow
	if err := s.r.SelectContext(ctx, &rows, s.q(`SELECT `+webhookCols+` FROM webhook_deliveries WHERE subject_id = ? ORDER BY created_at, id`), subjectID); err != nil {
		return nil, fmt.Errorf("store: webhook deliveries: %w", err)
	}
	out := make([]*WebhookDelivery, len(rows))
	for i := range rows {
		out[i] = rows[i].delivery()
	}
	return out, nil
}

// WebhookCounts returns the number of webhook deliveries per state.
func (s *Store) WebhookCounts(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := s.r.SelectContext(ctx, &rows, `SELECT state, count(*) AS n FROM webhook_deliveries GROUP BY state`); err != nil {
		return nil, fmt.Errorf("store: webhook counts: %w", err)
	}
	out := map[string]int{WebhookPending: 0, WebhookDelivered: 0, WebhookFailed: 0}
	for _, r := range rows {
		out[r.State] = r.N
	}
	return out, nil
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Inbox item kinds for replies that could not be read. Readable replies
// carry the reply kind named by the reply parser (e.g. "statusmeldung").
const (
	// KindUnparseable: fetched, but not a readable XAusländer reply.
	KindUnparseable = "unparseable"
	// KindUnreadable: could not be fetched, decrypted or verified; the
	// item keeps the reason, the body is empty.
	KindUnreadable = "unreadable"
	// KindUnverified: fetched and decrypted, but not shown to come from
	// the ABH the original message went to (unsigned content, another
	// signer, another autor). The body is kept for operators; the item is
	// never linked to a client's message and triggers no webhook.
	KindUnverified = "unverified"
)

// InboxItem is a reply fetched from the gateway's mailbox (its body is a
// sealed blob with part PartBody).
type InboxItem struct {
	Seq           int64
	ID            string
	OSCIMessageID string
	MessageID     string // linked outgoing message ("" if none matched)
	ClientID      string // owner of the linked message ("" → admin only)
	Kind          string
	TypeCode      string
	MessageUUID   string
	TriggerUUID   string
	ApplicationID string
	AuthorKey     string
	// Problem summarises why the reply could not be read (kinds and element
	// paths only; the full text, which may quote content, is the sealed
	// part PartProblem and is purged with the body).
	Problem    string
	ReceivedAt time.Time
	StoredAt   time.Time
	AckedAt    time.Time
	PurgedAt   time.Time
}

type inboxRow struct {
	Seq           int64         `db:"seq"`
	ID            string        `db:"id"`
	OSCIMessageID string        `db:"osci_message_id"`
	MessageID     string        `db:"message_id"`
	ClientID      string        `db:"client_id"`
	Kind          string        `db:"kind"`
	TypeCode      string        `db:"type_code"`
	MessageUUID   string        `db:"message_uuid"`
	TriggerUUID   string        `db:"trigger_uuid"`
	ApplicationID string        `db:"application_id"`
	AuthorKey     string        `db:"author_key"`
	Problem       string        `db:"problem"`
	ReceivedAt    int64         `db:"received_at"`
	StoredAt      int64         `db:"stored_at"`
	AckedAt       sql.NullInt64 `db:"acked_at"`
	PurgedAt      sql.NullInt64 `db:"purged_at"`
}

const inboxCols = `seq, id, osci_message_id, message_id, client_id, kind, type_code, message_uuid, trigger_uuid,
	application_id, author_key, problem, received_at, stored_at, acked_at, purged_at`

func (r *inboxRow) item() *InboxItem {
	return &InboxItem{Seq: r.Seq, ID: r.ID, OSCIMessageID: r.OSCIMessageID, MessageID: r.MessageID, ClientID: r.ClientID,
		Kind: r.Kind, TypeCode: r.TypeCode, MessageUUID: r.MessageUUID, TriggerUUID: r.TriggerUUID,
		ApplicationID: r.ApplicationID, AuthorKey: r.AuthorKey, Problem: r.Problem, ReceivedAt: fromMS(r.ReceivedAt),
		StoredAt: fromMS(r.StoredAt), AckedAt: fromNullMS(r.AckedAt), PurgedAt: fromNullMS(r.PurgedAt)}
}

// Inbound fetch states.
const (
	InboundPending = "pending"
	InboundDone    = "done"
)

// NoteInbound records mailbox ids before they are fetched. Ids already known
// are left alone. It returns how many were new.
func (s *Store) NoteInbound(ctx context.Context, ids []string, now time.Time) (int, error) {
	return s.NoteInboundListing(ctx, ids, "", time.Time{}, now)
}

// NoteInboundListing records the ids of one mailbox listing and, in the
// same transaction, moves the named high-water mark forward to mark (never
// back; a zero mark leaves it). Recording ids and mark together means a
// crash cannot leave a mark past ids that were never recorded.
func (s *Store) NoteInboundListing(ctx context.Context, ids []string, cursor string, mark, now time.Time) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		for _, id := range ids {
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO inbound (osci_message_id, state, seen_at) VALUES (?, ?, ?)
				ON CONFLICT (osci_message_id) DO NOTHING`), id, InboundPending, ms2(now))
			if err != nil {
				return fmt.Errorf("store: note inbound: %w", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		if mark.IsZero() {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO mailbox_cursor (name, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
			WHERE mailbox_cursor.value < excluded.value`), cursor, ms2(mark), ms2(now))
		if err != nil {
			return fmt.Errorf("store: mailbox cursor: %w", err)
		}
		return nil
	})
	return n, err
}

// MailboxCursor returns the high-water mark stored under name (zero time
// if there is none yet).
func (s *Store) MailboxCursor(ctx context.Context, name string) (time.Time, error) {
	var v []int64
	if err := s.r.SelectContext(ctx, &v, s.q(`SELECT value FROM mailbox_cursor WHERE name = ?`), name); err != nil {
		return time.Time{}, fmt.Errorf("store: mailbox cursor: %w", err)
	}
	if len(v) == 0 {
		return time.Time{}, nil
	}
	return fromMS(v[0]), nil
}

// PendingInbound returns ids noted but not yet stored in the inbox, oldest
// first.
func (s *Store) PendingInbound(ctx context.Context, limit int) ([]string, error) {
	var ids []string
	if err := s.r.SelectContext(ctx, &ids, s.q(`SELECT osci_message_id FROM inbound WHERE state = ? ORDER BY seen_at, osci_message_id LIMIT ?`), InboundPending, limit); err != nil {
		return nil, fmt.Errorf("store: pending inbound: %w", err)
	}
	return ids, nil
}

// InboundFailed counts a failed fetch of id, keeps its reason (no content)
// for operators and returns the number of failed attempts so far.
func (s *Store) InboundFailed(ctx context.Context, id, reason string) (int, error) {
	var n int
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE inbound SET attempts = attempts + 1, last_error = ? WHERE osci_message_id = ?`), truncate(reason, 500), id); err != nil {
			return err
		}
		return tx.GetContext(ctx, &n, s.q(`SELECT attempts FROM inbound WHERE osci_message_id = ?`), id)
	})
	return n, err
}

// NewWebhook names one webhook delivery to queue.
type NewWebhook struct {
	Subscriber string
	Event      string
	SubjectID  string
}

// StoreReply stores a fetched reply with its sealed body, queues its webhook
// deliveries and marks the inbound id done, in one transaction. A reply with
// an OSCI message id already in the inbox is not stored again (inserted =
// false), which makes fetching idempotent.
//
// extra are further sealed parts (e.g. PartProblem) purged with the body.
func (s *Store) StoreReply(ctx context.Context, it InboxItem, body Blob, hooks []NewWebhook, now time.Time, extra ...Blob) (inserted bool, err error) {
	if it.ID == "" {
		it.ID = NewID()
	}
	err = s.tx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO inbox (id, osci_message_id, message_id, client_id, kind, type_code,
			message_uuid, trigger_uuid, application_id, author_key, problem, received_at, stored_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (osci_message_id) DO NOTHING`),
			it.ID, it.OSCIMessageID, it.MessageID, it.ClientID, it.Kind, it.TypeCode, it.MessageUUID, it.TriggerUUID,
			it.ApplicationID, it.AuthorKey, truncate(it.Problem, 1000), ms2(it.ReceivedAt), ms2(now))
		if err != nil {
			return fmt.Errorf("store: insert reply: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			inserted = true
			body.Part = PartBody
			if err := s.putBlobs(ctx, tx, it.ID, append([]Blob{body}, extra...), now); err != nil {
				return err
			}
			for _, h := range hooks {
				h.SubjectID = it.ID
				if err := s.queueWebhook(ctx, tx, h, now); err != nil {
					return err
				}
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO inbound (osci_message_id, state, seen_at, done_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (osci_message_id) DO UPDATE SET state = ?, done_at = ?`),
			it.OSCIMessageID, InboundDone, ms2(now), ms2(now), InboundDone, ms2(now))
		return err
	})
	return inserted, err
}

// InboxFilter selects inbox items.
type InboxFilter struct {
	ClientID     string
	All          bool  // every client's items and unlinked ones (admin)
	IncludeAcked bool  // also items already acknowledged
	After        int64 // cursor (sequence number)
	Limit        int   // default 50, at most 500
}

// ListInbox returns inbox items in arrival order and the cursor of the next
// page (0 when this was the last). Unacknowledged items are the default:
// a client reads them, processes them and acknowledges each, so an item that
// committed late behind the cursor still shows in the next read from the
// start.
func (s *Store) ListInbox(ctx context.Context, f InboxFilter) ([]*InboxItem, int64, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		f.Limit = 500
	}
	where := []string{"seq > ?"}
	args := []any{f.After}
	if !f.All {
		where = append(where, "client_id = ?")
		args = append(args, f.ClientID)
	}
	if !f.IncludeAcked {
		where = append(where, "acked_at IS NULL")
	}
	args = append(args, f.Limit+1)
	var rows []inboxRow
	if err := s.r.SelectContext(ctx, &rows, s.q(`SELECT `+inboxCols+` FROM inbox WHERE `+strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`), args...); err != nil {
		return nil, 0, fmt.Errorf("store: list inbox: %w", err)
	}
	var next int64
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].Seq
	}
	out := make([]*InboxItem, len(rows))
	for i := range rows {
		out[i] = rows[i].item()
	}
	return out, next, nil
}

// InboxItem returns one inbox item visible to client (admin sees all).
func (s *Store) InboxItem(ctx context.Context, id, clientID string, admin bool) (*InboxItem, error) {
	var row inboxRow
	err := s.r.GetContext(ctx, &row, s.q(`SELECT `+inboxCols+` FROM inbox WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !admin && row.ClientID != clientID) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: inbox item: %w", err)
	}
	return row.item(), nil
}

// RepliesTo returns the inbox items linked to an outgoing message.
func (s *Store) RepliesTo(ctx context.Context, messageID string) ([]*InboxItem, error) {
	var rows []inboxRow
	if err := s.r.SelectContext(ctx, &rows, s.q(`SELECT `+inboxCols+` FROM inbox WHERE message_id = ? ORDER BY seq`), messageID); err != nil {
		return nil, fmt.Errorf("store: replies: %w", err)
	}
	out := make([]*InboxItem, len(rows))
	for i := range rows {
		out[i] = rows[i].item()
	}
	return out, nil
}

// AckInbox marks an inbox item as processed by its client. Acknowledging
// twice is not an error.
func (s *Store) AckInbox(ctx context.Context, id, clientID string, admin bool, now time.Time) (*InboxItem, error) {
	it, err := s.InboxItem(ctx, id, clientID, admin)
	if err != nil {
		return nil, err
	}
	if it.AckedAt.IsZero() {
		if _, err := s.w.ExecContext(ctx, s.q(`UPDATE inbox SET acked_at = ? WHERE id = ? AND acked_at IS NULL`), ms2(now), id); err != nil {
			return nil, fmt.Errorf("store: ack: %w", err)
		}
		it.AckedAt = now.Truncate(time.Millisecond)
	}
	return it, nil
}

// PurgeInbox deletes the bodies of acknowledged replies acknowledged before
// cutoff; the rows stay as audit trail.
func (s *Store) PurgeInbox(ctx context.Context, cutoff, now time.Time, limit int) (int, error) {
	var ids []string
	if err := s.r.SelectContext(ctx, &ids, s.q(`SELECT id FROM inbox WHERE acked_at < ? AND purged_at IS NULL ORDER BY acked_at LIMIT ?`), ms2(cutoff), limit); err != nil {
		return 0, fmt.Errorf("store: purge inbox: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := s.tx(ctx, func(tx *sqlx.Tx) error {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE inbox SET purged_at = ? WHERE id = ? AND purged_at IS NULL`), ms2(now), id)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil
			}
			n++
			_, err = tx.ExecContext(ctx, s.q(`DELETE FROM blobs WHERE owner = ?`), id)
			return err
		})
		if err != nil {
			return n, fmt.Errorf("store: purge inbox %s: %w", id, err)
		}
	}
	return n, nil
}

// InboxCounts returns the number of unacknowledged and of all inbox items.
func (s *Store) InboxCounts(ctx context.Context) (unacked, total int, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT count(*), count(*) - count(acked_at) FROM inbox`).Scan(&total, &unacked)
	if err != nil {
		err = fmt.Errorf("store: inbox counts: %w", err)
	}
	return unacked, total, err
}

package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// applyStatement is Apply on PostgreSQL: the whole transition in one
// autocommit statement, one round trip instead of BEGIN, UPDATE, one INSERT
// per kind of row and COMMIT. The fenced UPDATE is a data-modifying CTE
// (u) and every insert takes its rows FROM u, so when the lease is lost u is
// empty and nothing at all is written; the statement returns how many rows
// u updated.
//
// Why this is the same as applyTx (docs/notes/store-writes.md, "One
// statement per transition"):
//   - A statement sent on its own is its own transaction: all its parts
//     commit together or not at all (a failing insert, e.g. a blob part
//     that exists, aborts the UPDATE with it), and they run in one snapshot.
//     No part reads what another writes except through u's RETURNING, and
//     the only such dependency is the gate itself.
//   - The row lock and the lease check are the UPDATE's, as before: a
//     concurrent writer of the row is waited for and the WHERE clause is
//     re-checked against its committed version (READ COMMITTED).
//   - The foreign key messages.route_sha256 → routes is checked by an
//     AFTER trigger that fires at the end of the statement, after every
//     CTE has run, with a snapshot that sees the route inserted by the
//     statement itself. A route committed meanwhile by another transaction
//     makes ON CONFLICT DO NOTHING wait for it and skip the insert, and
//     the check sees it committed, exactly as in the transaction.
//   - Events are inserted in the order of the slice (ORDER BY the
//     ordinality of unnest; the sort sits below the identity default, so
//     seq follows it). Webhooks too, so of two with the same
//     (subscriber, event, subject) the first is kept, as with one INSERT …
//     ON CONFLICT DO NOTHING per webhook; DO NOTHING also skips a row that
//     conflicts with one inserted earlier by the same statement.
//   - Values come from the same Go code: eventDefaults, truncate, NewID,
//     ms2.
//
// Rows go in as arrays (unnest), so the statement text depends only on
// which columns the UPDATE sets and which kinds of rows there are, not on
// how many: pgx keeps a few prepared statements instead of one per count.
func (s *Store) applyStatement(ctx context.Context, id string, now time.Time, t Transition, set []string, args []any, routeSHA, newRoute string) error {
	var q strings.Builder
	q.Grow(1024)
	q.WriteString(`WITH u AS (UPDATE messages SET `)
	q.WriteString(strings.Join(set, ", "))
	q.WriteString(` WHERE id = ? AND lease_owner = ? RETURNING id)`)
	if newRoute != "" {
		q.WriteString(`, r AS (INSERT INTO routes (sha256, route, created_at) SELECT ?, ?, ? FROM u ON CONFLICT (sha256) DO NOTHING)`)
		args = append(args, routeSHA, newRoute, ms2(now))
	}
	if len(t.Blobs) > 0 {
		q.WriteString(`, b AS (INSERT INTO blobs (owner, part, key_id, data, size, created_at)
	SELECT u.id, x.part, x.key_id, x.data, x.size, ? FROM u,
		unnest(?::text[], ?::text[], ?::bytea[], ?::bigint[]) WITH ORDINALITY AS x(part, key_id, data, size, ord)
	ORDER BY x.ord)`)
		n := len(t.Blobs)
		part, key, data, size := make([]string, n), make([]string, n), make([][]byte, n), make([]int64, n)
		for i, b := range t.Blobs {
			part[i], key[i], data[i], size[i] = b.Part, b.KeyID, b.Data, b.Size
		}
		args = append(args, ms2(now), part, key, data, size)
	}
	if len(t.Webhooks) > 0 {
		q.WriteString(`, w AS (INSERT INTO webhook_deliveries (id, subscriber, event, subject_id, state, next_attempt_at, created_at)
	SELECT x.id, x.subscriber, x.event, x.subject_id, ?, ?, ? FROM u,
		unnest(?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS x(id, subscriber, event, subject_id, ord)
	ORDER BY x.ord
	ON CONFLICT (subscriber, event, subject_id) DO NOTHING)`)
		n := len(t.Webhooks)
		ids, sub, ev, subj := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		for i, h := range t.Webhooks {
			ids[i], sub[i], ev[i], subj[i] = NewID(), h.Subscriber, h.Event, h.SubjectID
		}
		args = append(args, WebhookPending, ms2(now), ms2(now), ids, sub, ev, subj)
	}
	if len(t.Events) > 0 {
		q.WriteString(`, e AS (INSERT INTO message_events (message_id, at, kind, state, attempt, code, reason, osci_message_id)
	SELECT u.id, x.at, x.kind, x.state, x.attempt, x.code, x.reason, x.osci_message_id FROM u,
		unnest(?::bigint[], ?::text[], ?::text[], ?::integer[], ?::text[], ?::text[], ?::text[])
			WITH ORDINALITY AS x(at, kind, state, attempt, code, reason, osci_message_id, ord)
	ORDER BY x.ord)`)
		n := len(t.Events)
		at, kind, state, attempt := make([]int64, n), make([]string, n), make([]string, n), make([]int64, n)
		code, reason, osci := make([]string, n), make([]string, n), make([]string, n)
		for i, e := range t.Events {
			e = eventDefaults(e, now, t.Attempts, t.OSCIMessageID)
			at[i], kind[i], state[i], attempt[i] = ms2(e.At), e.Kind, string(e.State), int64(e.Attempt)
			code[i], reason[i], osci[i] = e.Code, e.Reason, e.OSCIMessageID
		}
		args = append(args, at, kind, state, attempt, code, reason, osci)
	}
	q.WriteString(` SELECT count(*) FROM u`)
	var n int
	if err := s.w.QueryRowContext(ctx, s.q(q.String()), args...).Scan(&n); err != nil {
		return fmt.Errorf("store: apply %s transition to message %s (%d events, %d blobs, %d webhooks): %w",
			t.State, id, len(t.Events), len(t.Blobs), len(t.Webhooks), err)
	}
	if n != 1 {
		return ErrLeaseLost
	}
	return nil
}

package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// State is where a message stands in the delivery state machine.
type State string

// The states of an outgoing message. Non-terminal states have a next attempt
// time and are claimed by workers when it is due.
const (
	// StateAccepted: validated and stored; no route yet.
	StateAccepted State = "accepted"
	// StateRouted: DVDV route resolved and stored with the message.
	StateRouted State = "routed"
	// StateSending: an OSCI message id is stored and the delivery call may
	// have happened. A message in this state is never sent again before
	// the process card says the intermediary does not have it.
	StateSending State = "sending"
	// StateSent: the intermediary accepted the delivery; waiting for the
	// process card to confirm receipt.
	StateSent State = "sent"
	// StateDelivered: the process card confirms receipt. Terminal.
	StateDelivered State = "delivered"
	// StateDead: given up (permanent error or attempts exhausted); waits
	// for an operator's retry. Terminal until revived.
	StateDead State = "dead"
)

// States lists every state in flow order.
var States = []State{StateAccepted, StateRouted, StateSending, StateSent, StateDelivered, StateDead}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether no worker acts on the state.
func (s State) Terminal() bool { return s == StateDelivered || s == StateDead }

// Timeline event kinds. Events carry ids, times, codes and reasons only.
const (
	EventAccepted   = "accepted"
	EventRouted     = "routed"
	EventIDObtained = "message_id_obtained"
	EventSending    = "sending"
	EventSent       = "stored_at_intermediary"
	EventReceipt    = "receipt_confirmed"
	EventDelivered  = "delivered"
	EventResolved   = "resolved_after_uncertain_send"
	EventFailed     = "failed"
	EventDead       = "dead_lettered"
	EventRevived    = "revived"
	EventPurged     = "purged"
	// EventResponseKept: a passive recipient's synchronous answer (mediate
	// scenario) was stored with the message.
	EventResponseKept = "response_kept"
	// EventResponseLost: the intermediary confirms a mediated delivery, but
	// the recipient's synchronous answer never reached the store (crash or
	// unreadable response before it was kept). OSCI cannot fetch it again.
	EventResponseLost = "response_lost"
)

// Message is an outbox row (no body: see Blob).
type Message struct {
	ID             string
	ClientID       string
	IdempotencyKey string
	RequestHash    string
	Recipient      string // ABH key
	TypeCode       string
	Version        string
	MessageUUID    string
	ApplicationID  string
	State          State
	// ResumeState is where a dead letter continues when revived. On a live
	// message in StateSending, StateAccepted here records that the stored
	// OSCI message id was proven to carry no delivery (a verified refusal,
	// or a process card showing none after the send had ended): if the
	// process card still shows none, the worker starts over with a new
	// route and id instead of resending under the old one.
	ResumeState   State
	Attempts      int
	NextAttemptAt time.Time // zero for terminal states
	LeaseOwner    string
	LeaseUntil    time.Time
	Route         []byte // JSON of gateway.Route
	OSCIMessageID string
	LastErrorCode string
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   time.Time
	PurgedAt      time.Time
}

// Event is one timeline entry.
type Event struct {
	Seq           int64
	MessageID     string
	At            time.Time
	Kind          string
	State         State
	Attempt       int
	Code          string
	Reason        string
	OSCIMessageID string
}

type messageRow struct {
	ID             string         `db:"id"`
	ClientID       string         `db:"client_id"`
	IdempotencyKey sql.NullString `db:"idempotency_key"`
	RequestHash    string         `db:"request_hash"`
	Recipient      string         `db:"recipient"`
	TypeCode       string         `db:"type_code"`
	Version        string         `db:"version"`
	MessageUUID    string         `db:"message_uuid"`
	ApplicationID  string         `db:"application_id"`
	State          string         `db:"state"`
	ResumeState    string         `db:"resume_state"`
	Attempts       int            `db:"attempts"`
	NextAttemptAt  sql.NullInt64  `db:"next_attempt_at"`
	LeaseOwner     sql.NullString `db:"lease_owner"`
	LeaseUntil     sql.NullInt64  `db:"lease_until"`
	Route          sql.NullString `db:"route"` // inline, rows written before migration 0005
	RouteSHA256    sql.NullString `db:"route_sha256"`
	OSCIMessageID  string         `db:"osci_message_id"`
	LastErrorCode  string         `db:"last_error_code"`
	LastError      string         `db:"last_error"`
	CreatedAt      int64          `db:"created_at"`
	UpdatedAt      int64          `db:"updated_at"`
	DeliveredAt    sql.NullInt64  `db:"delivered_at"`
	PurgedAt       sql.NullInt64  `db:"purged_at"`
}

const messageCols = `id, client_id, idempotency_key, request_hash, recipient, type_code, version, message_uuid,
	application_id, state, resume_state, attempts, next_attempt_at, lease_owner, lease_until, route,
	route_sha256, osci_message_id, last_error_code, last_error, created_at, updated_at, delivered_at, purged_at`

func (r *messageRow) message() *Message {
	m := &Message{
		ID: r.ID, ClientID: r.ClientID, IdempotencyKey: r.IdempotencyKey.String, RequestHash: r.RequestHash,
		Recipient: r.Recipient, TypeCode: r.TypeCode, Version: r.Version, MessageUUID: r.MessageUUID,
		ApplicationID: r.ApplicationID, State: State(r.State), ResumeState: State(r.ResumeState),
		Attempts: r.Attempts, NextAttemptAt: fromNullMS(r.NextAttemptAt), LeaseOwner: r.LeaseOwner.String,
		LeaseUntil: fromNullMS(r.LeaseUntil), OSCIMessageID: r.OSCIMessageID,
		LastErrorCode: r.LastErrorCode, LastError: r.LastError, CreatedAt: fromMS(r.CreatedAt),
		UpdatedAt: fromMS(r.UpdatedAt), DeliveredAt: fromNullMS(r.DeliveredAt), PurgedAt: fromNullMS(r.PurgedAt),
	}
	if r.Route.Valid {
		m.Route = []byte(r.Route.String)
	}
	return m
}

// NewID returns a UUIDv7 (RFC 9562) as text: time-ordered, so ids sort by
// creation and serve as pagination cursors.
func NewID() string {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(u[:8], ms<<16)
	if _, err := rand.Read(u[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	u[6] = 0x70 | (u[6] & 0x0f)
	u[8] = 0x80 | (u[8] & 0x3f)
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// NewMessage is what Accept stores for a validated message.
type NewMessage struct {
	ID             string // NewID() if empty
	ClientID       string
	IdempotencyKey string // optional; scoped to ClientID
	RequestHash    string // identifies the request for idempotency conflicts
	Recipient      string
	TypeCode       string
	Version        string
	MessageUUID    string
	ApplicationID  string
	Blobs          []Blob // sealed body and attachments
}

// Accept stores a new message in state accepted with its blobs and timeline
// entry, in one transaction. If the client already used the idempotency key,
// it stores nothing and returns the earlier message with existing = true, or
// ErrIdempotencyConflict when the earlier request differs.
func (s *Store) Accept(ctx context.Context, nm NewMessage, now time.Time) (m *Message, existing bool, err error) {
	if nm.ID == "" {
		nm.ID = NewID()
	}
	var idem sql.NullString
	if nm.IdempotencyKey != "" {
		idem = sql.NullString{String: nm.IdempotencyKey, Valid: true}
	}
	err = s.tx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO messages (id, client_id, idempotency_key, request_hash, recipient,
			type_code, version, message_uuid, application_id, state, attempts, next_attempt_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)
			ON CONFLICT (client_id, idempotency_key) DO NOTHING`),
			nm.ID, nm.ClientID, idem, nm.RequestHash, nm.Recipient, nm.TypeCode, nm.Version, nm.MessageUUID,
			nm.ApplicationID, string(StateAccepted), ms2(now), ms2(now), ms2(now))
		if err != nil {
			return fmt.Errorf("store: insert message: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var row messageRow
			if err := tx.GetContext(ctx, &row, s.q(`SELECT `+messageCols+` FROM messages WHERE client_id = ? AND idempotency_key = ?`), nm.ClientID, idem); err != nil {
				return fmt.Errorf("store: read message for idempotency key: %w", err)
			}
			if m, err = s.message(ctx, tx, &row); err != nil {
				return err
			}
			existing = true
			if m.RequestHash != nm.RequestHash {
				return ErrIdempotencyConflict
			}
			return nil
		}
		if err := s.putBlobs(ctx, tx, nm.ID, nm.Blobs, now); err != nil {
			return err
		}
		if err := s.addEvents(ctx, tx, nm.ID, now, 0, "", []Event{{Kind: EventAccepted, State: StateAccepted}}); err != nil {
			return err
		}
		m = &Message{ID: nm.ID, ClientID: nm.ClientID, IdempotencyKey: nm.IdempotencyKey, RequestHash: nm.RequestHash,
			Recipient: nm.Recipient, TypeCode: nm.TypeCode, Version: nm.Version, MessageUUID: nm.MessageUUID,
			ApplicationID: nm.ApplicationID, State: StateAccepted, NextAttemptAt: now.Truncate(time.Millisecond),
			CreatedAt: now.Truncate(time.Millisecond), UpdatedAt: now.Truncate(time.Millisecond)}
		return nil
	})
	if errors.Is(err, ErrIdempotencyConflict) {
		return m, true, err
	}
	if err != nil {
		return nil, false, err
	}
	return m, existing, nil
}

// Get returns one message.
func (s *Store) Get(ctx context.Context, id string) (*Message, error) {
	var row messageRow
	err := s.r.GetContext(ctx, &row, s.q(`SELECT `+messageCols+` FROM messages WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get message: %w", err)
	}
	return s.message(ctx, s.r, &row)
}

// Timeline returns the events of a message in order.
func (s *Store) Timeline(ctx context.Context, id string) ([]Event, error) {
	var rows []struct {
		Seq           int64  `db:"seq"`
		MessageID     string `db:"message_id"`
		At            int64  `db:"at"`
		Kind          string `db:"kind"`
		State         string `db:"state"`
		Attempt       int    `db:"attempt"`
		Code          string `db:"code"`
		Reason        string `db:"reason"`
		OSCIMessageID string `db:"osci_message_id"`
	}
	if err := s.r.SelectContext(ctx, &rows, s.q(`SELECT seq, message_id, at, kind, state, attempt, code, reason, osci_message_id
		FROM message_events WHERE message_id = ? ORDER BY seq`), id); err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	evs := make([]Event, len(rows))
	for i, r := range rows {
		evs[i] = Event{Seq: r.Seq, MessageID: r.MessageID, At: fromMS(r.At), Kind: r.Kind, State: State(r.State),
			Attempt: r.Attempt, Code: r.Code, Reason: r.Reason, OSCIMessageID: r.OSCIMessageID}
	}
	return evs, nil
}

// ListFilter selects messages for List.
type ListFilter struct {
	ClientID string // required unless All
	All      bool   // every client's messages (admin)
	State    State  // optional
	After    string // cursor: list ids greater than this
	Limit    int    // default 50, at most 500
}

// List returns messages in id (creation) order and the cursor for the next
// page ("" when this was the last).
func (s *Store) List(ctx context.Context, f ListFilter) ([]*Message, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		f.Limit = 500
	}
	var where []string
	var args []any
	if !f.All {
		where = append(where, "client_id = ?")
		args = append(args, f.ClientID)
	}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, string(f.State))
	}
	if f.After != "" {
		where = append(where, "id > ?")
		args = append(args, f.After)
	}
	query := `SELECT ` + messageCols + ` FROM messages`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY id LIMIT ?"
	args = append(args, f.Limit+1)
	var rows []messageRow
	if err := s.r.SelectContext(ctx, &rows, s.q(query), args...); err != nil {
		return nil, "", fmt.Errorf("store: list messages: %w", err)
	}
	next := ""
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		next = rows[len(rows)-1].ID
	}
	out, err := s.messages(ctx, s.r, rows)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// Claim leases up to limit messages whose next attempt is due and that no
// live lease holds, for owner until now+lease. On PostgreSQL concurrent
// claimers skip each other's rows (FOR UPDATE SKIP LOCKED); on SQLite the
// single writer serialises them.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]*Message, error) {
	query := s.q(`UPDATE messages SET lease_owner = ?, lease_until = ?
		WHERE id IN (SELECT id FROM messages
			WHERE next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
			ORDER BY next_attempt_at LIMIT ? {{SKIP_LOCKED}})
		RETURNING ` + messageCols)
	until := ms2(now.Add(lease))
	args := []any{owner, until, ms2(now), ms2(now), limit}
	if s.dialect == Postgres {
		return s.claimAutocommit(ctx, query, args, owner, until)
	}
	// SQLite keeps BEGIN IMMEDIATE: the write lock is taken before the
	// statement reads, so the claim never fails half way with SQLITE_BUSY.
	var out []*Message
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		var rows []messageRow
		if err := tx.SelectContext(ctx, &rows, query, args...); err != nil {
			return err
		}
		var err error
		out, err = s.messages(ctx, tx, rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	return out, nil
}

// claimAutocommit runs the claim as a single statement outside BEGIN/COMMIT:
// on PostgreSQL a statement sent on its own is its own transaction, with the
// same atomicity and the same row locks (FOR UPDATE SKIP LOCKED holds them
// until the statement commits), and it saves the two round trips of BEGIN
// and COMMIT. The routes of the claimed rows are read after the commit
// (content-addressed and immutable, so nothing can change between the two).
// If a route cannot be read, the claimed rows are released again, as the
// rollback of the transaction did before; a release that fails leaves them
// leased to owner until the lease ends, as a crash would.
func (s *Store) claimAutocommit(ctx context.Context, query string, args []any, owner string, until int64) ([]*Message, error) {
	var rows []messageRow
	if err := s.w.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	out, err := s.messages(ctx, s.r, rows)
	if err != nil {
		for i := range rows {
			if _, e := s.w.ExecContext(ctx, s.q(`UPDATE messages SET lease_owner = NULL, lease_until = NULL
				WHERE id = ? AND lease_owner = ? AND lease_until = ?`), rows[i].ID, owner, until); e != nil {
				err = errors.Join(err, fmt.Errorf("release %s: %w", rows[i].ID, e))
			}
		}
		return nil, fmt.Errorf("store: claim: %w", err)
	}
	return out, nil
}

// NextDue returns when the earliest unleased message becomes due (zero if
// the queue is empty), so idle workers can sleep exactly that long.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var v sql.NullInt64
	// A leased message is not due before its lease ends.
	if err := s.r.GetContext(ctx, &v, `SELECT min(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at
		THEN lease_until ELSE next_attempt_at END) FROM messages WHERE next_attempt_at IS NOT NULL`); err != nil {
		return time.Time{}, fmt.Errorf("store: next due: %w", err)
	}
	return fromNullMS(v), nil
}

// Transition is one change of a claimed message, applied atomically with
// its timeline entries.
type Transition struct {
	State  State   // new state
	Events []Event // timeline entries (Kind, State, Code, Reason, OSCIMessageID; At/Attempt default)

	Attempts      int       // new attempt count
	NextAttemptAt time.Time // when a worker should act next; ignored for terminal states
	// KeepLease extends the caller's lease to LeaseUntil instead of
	// releasing it, for a worker that continues right away.
	KeepLease  bool
	LeaseUntil time.Time

	Route         []byte // set the route (nil: unchanged)
	OSCIMessageID string // set the OSCI message id ("": unchanged)
	// ClearOSCI forgets the OSCI message id (and the route, unless Route
	// sets a new one) to restart from accepted. Only for an id that is
	// proven to carry no delivery (see Message.ResumeState).
	ClearOSCI bool
	// Blobs are stored with the transition, in the same transaction (e.g.
	// PartResponse with the transition that records the delivery).
	Blobs     []Blob
	ErrorCode string // last error code and text ("" clears them)
	Error     string
	// ResumeState: for StateDead, where a revival continues; for a live
	// state, the marker described at Message.ResumeState ("" clears it).
	ResumeState State
	DeliveredAt time.Time // for StateDelivered
	// Webhooks are queued in the same transaction (SubjectID required).
	Webhooks []NewWebhook
}

// Apply performs t on message id if owner still holds its lease.
func (s *Store) Apply(ctx context.Context, id, owner string, now time.Time, t Transition) error {
	if !t.State.Valid() {
		return fmt.Errorf("store: invalid state %q", t.State)
	}
	next := nullMS(t.NextAttemptAt)
	if t.State.Terminal() {
		next = sql.NullInt64{}
	} else if !next.Valid {
		next = nullMS(now)
	}
	var leaseOwner sql.NullString
	var leaseUntil sql.NullInt64
	if t.KeepLease {
		leaseOwner = sql.NullString{String: owner, Valid: true}
		leaseUntil = nullMS(t.LeaseUntil)
	}
	set := []string{"state = ?", "attempts = ?", "next_attempt_at = ?", "lease_owner = ?", "lease_until = ?",
		"last_error_code = ?", "last_error = ?", "updated_at = ?", "resume_state = ?"}
	args := []any{string(t.State), t.Attempts, next, leaseOwner, leaseUntil, t.ErrorCode, truncate(t.Error, 500), ms2(now), string(t.ResumeState)}
	var routeSHA string
	if t.Route != nil {
		routeSHA = routeHash(t.Route)
		set = append(set, "route_sha256 = ?", "route = NULL")
		args = append(args, routeSHA)
	}
	if t.OSCIMessageID != "" {
		set = append(set, "osci_message_id = ?")
		args = append(args, t.OSCIMessageID)
	}
	if t.ClearOSCI {
		if t.OSCIMessageID != "" {
			return errors.New("store: a transition cannot both set and clear the OSCI message id")
		}
		set = append(set, "osci_message_id = ''")
		if t.Route == nil {
			set = append(set, "route = NULL", "route_sha256 = NULL")
		}
	}
	if !t.DeliveredAt.IsZero() {
		set = append(set, "delivered_at = ?")
		args = append(args, ms2(t.DeliveredAt))
	}
	args = append(args, id, owner)
	var newRoute string // a route this process has not seen committed
	if _, known := s.routes.get(routeSHA); t.Route != nil && !known {
		newRoute = string(t.Route)
	}
	var err error
	if s.dialect == Postgres && !s.applyInTx {
		err = s.applyStatement(ctx, id, now, t, set, args, routeSHA, newRoute)
	} else {
		err = s.applyTx(ctx, id, now, t, set, args, routeSHA, newRoute)
	}
	if err == nil && newRoute != "" {
		s.routes.put(routeSHA, newRoute)
	}
	return err
}

// applyTx is Apply as a transaction of separate statements: SQLite's path
// (it has no data-modifying CTEs), and on PostgreSQL the reference that
// applyStatement is tested against.
func (s *Store) applyTx(ctx context.Context, id string, now time.Time, t Transition, set []string, args []any, routeSHA, newRoute string) error {
	return s.tx(ctx, func(tx *sqlx.Tx) error {
		if newRoute != "" {
			if err := s.putRoute(ctx, tx, routeSHA, newRoute, now); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET `+strings.Join(set, ", ")+` WHERE id = ? AND lease_owner = ?`), args...)
		if err != nil {
			return fmt.Errorf("store: update message: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrLeaseLost
		}
		if err := s.putBlobs(ctx, tx, id, t.Blobs, now); err != nil {
			return err
		}
		for _, h := range t.Webhooks {
			if err := s.queueWebhook(ctx, tx, h, now); err != nil {
				return err
			}
		}
		return s.addEvents(ctx, tx, id, now, t.Attempts, t.OSCIMessageID, t.Events)
	})
}

// eventCols is the number of values addEvents binds per event.
const eventCols = 8

// eventChunk bounds the events of one INSERT: 8 × 100 = 800 bound values,
// below SQLite's oldest limit of 999 host parameters (PostgreSQL allows
// 65535). A transition has a handful of events; the bound only matters for
// callers that record many at once.
const eventChunk = 100

// addEvents appends evs to the timeline of message id in one INSERT per
// eventChunk events instead of one per event: the rows, their values and
// their order are the same (a multi-row VALUES list is inserted in list
// order on both databases, so seq still follows evs), but a delivered
// message costs two statements and round trips instead of seven.
func (s *Store) addEvents(ctx context.Context, tx *sqlx.Tx, id string, now time.Time, attempt int, osciID string, evs []Event) error {
	for len(evs) > 0 {
		n := min(len(evs), eventChunk)
		args := make([]any, 0, n*eventCols)
		for _, e := range evs[:n] {
			e = eventDefaults(e, now, attempt, osciID)
			args = append(args, id, ms2(e.At), e.Kind, string(e.State), e.Attempt, e.Code, e.Reason, e.OSCIMessageID)
		}
		if _, err := tx.ExecContext(ctx, s.q(eventInsert(n)), args...); err != nil {
			return fmt.Errorf("store: add %d timeline events: %w", n, err)
		}
		evs = evs[n:]
	}
	return nil
}

// eventDefaults returns e as it is stored: At, Attempt and OSCIMessageID
// default to the transition's, the reason is cut to 500 bytes.
func eventDefaults(e Event, now time.Time, attempt int, osciID string) Event {
	if e.At.IsZero() {
		e.At = now
	}
	if e.Attempt == 0 {
		e.Attempt = attempt
	}
	if e.OSCIMessageID == "" {
		e.OSCIMessageID = osciID
	}
	e.Reason = truncate(e.Reason, 500)
	return e
}

// eventInserts holds the INSERT text for 1..eventChunk events, built once.
var eventInserts = func() []string {
	out := make([]string, eventChunk+1)
	var b strings.Builder
	b.WriteString(`INSERT INTO message_events (message_id, at, kind, state, attempt, code, reason, osci_message_id) VALUES `)
	for i := 1; i <= eventChunk; i++ {
		if i > 1 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		out[i] = b.String()
	}
	return out
}()

func eventInsert(n int) string { return eventInserts[n] }

// Revive puts a dead-lettered message of client back to work with a fresh
// attempt count. admin may revive any client's message.
//
// Revive never forgets a stored OSCI message id: a message that has one
// continues in StateSending, so the worker asks the intermediary's process
// card before anything else. Only if the card shows no delivery under that
// id does the message get a new id, and only when the dead letter's resume
// state was StateAccepted (the id was proven to carry no delivery); else it
// is resent under the same id, which the intermediary accepts at most once.
// A message without an id was never sent and starts over from accepted.
// Of two concurrent revivals of the same message, one gets ErrState.
func (s *Store) Revive(ctx context.Context, id, clientID string, admin bool, now time.Time) (*Message, error) {
	var out *Message
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		var row messageRow
		err := tx.GetContext(ctx, &row, s.q(`SELECT `+messageCols+` FROM messages WHERE id = ?`), id)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !admin && row.ClientID != clientID) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: revive: %w", err)
		}
		if State(row.State) != StateDead {
			return fmt.Errorf("%w: message is %s, only dead-lettered messages can be retried", ErrState, row.State)
		}
		if row.PurgedAt.Valid {
			return fmt.Errorf("%w: message body was purged", ErrState)
		}
		state, marker, reason := StateAccepted, State(""), "starting over from routing (no OSCI message id was ever used)"
		if row.OSCIMessageID != "" {
			state, reason = StateSending, "process card first; resend under the same OSCI message id if it shows no delivery"
			if State(row.ResumeState) == StateAccepted {
				marker, reason = StateAccepted, "process card first; new route and OSCI message id if it shows no delivery (the old id was proven unused)"
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET state = ?, attempts = 0, next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
			resume_state = ?, last_error_code = '', last_error = '', updated_at = ? WHERE id = ? AND state = ?`),
			string(state), ms2(now), string(marker), ms2(now), id, string(StateDead))
		if err != nil {
			return fmt.Errorf("store: revive: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: message was revived concurrently", ErrState)
		}
		if err := s.addEvents(ctx, tx, id, now, 0, "", []Event{{Kind: EventRevived, State: state, Reason: reason}}); err != nil {
			return err
		}
		if out, err = s.message(ctx, tx, &row); err != nil {
			return err
		}
		out.State, out.ResumeState, out.Attempts, out.NextAttemptAt = state, marker, 0, now
		out.LastErrorCode, out.LastError, out.LeaseOwner, out.LeaseUntil = "", "", "", time.Time{}
		return nil
	})
	return out, err
}

// CountByState returns the number of messages in each state (queue depth).
func (s *Store) CountByState(ctx context.Context) (map[State]int, error) {
	var rows []struct {
		State string `db:"state"`
		N     int    `db:"n"`
	}
	if err := s.r.SelectContext(ctx, &rows, `SELECT state, count(*) AS n FROM messages GROUP BY state`); err != nil {
		return nil, fmt.Errorf("store: count: %w", err)
	}
	out := map[State]int{}
	for _, st := range States {
		out[st] = 0
	}
	for _, r := range rows {
		out[State(r.State)] = r.N
	}
	return out, nil
}

// FindByMessageUUID returns the outgoing message with the given
// nachrichtenUUID, for linking replies.
func (s *Store) FindByMessageUUID(ctx context.Context, uuid string) (*Message, error) {
	return s.findOne(ctx, `message_uuid = ?`, uuid)
}

// FindByApplicationID returns the earliest outgoing message with the given
// antragsidentifikation, for linking replies that carry no ausloeserUUID.
func (s *Store) FindByApplicationID(ctx context.Context, applicationID string) (*Message, error) {
	if applicationID == "" {
		return nil, ErrNotFound
	}
	return s.findOne(ctx, `application_id = ?`, applicationID)
}

func (s *Store) findOne(ctx context.Context, cond string, arg any) (*Message, error) {
	var row messageRow
	err := s.r.GetContext(ctx, &row, s.q(`SELECT `+messageCols+` FROM messages WHERE `+cond+` ORDER BY id LIMIT 1`), arg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: find message: %w", err)
	}
	return s.message(ctx, s.r, &row)
}

// PurgeDelivered deletes the blobs of up to limit messages delivered before
// cutoff and records the purge in their timelines. It returns how many
// messages were purged. The message rows and timelines stay (audit trail).
func (s *Store) PurgeDelivered(ctx context.Context, cutoff, now time.Time, limit int) (int, error) {
	var ids []string
	if err := s.r.SelectContext(ctx, &ids, s.q(`SELECT id FROM messages WHERE state = ? AND delivered_at < ? AND purged_at IS NULL ORDER BY delivered_at LIMIT ?`),
		string(StateDelivered), ms2(cutoff), limit); err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := s.tx(ctx, func(tx *sqlx.Tx) error {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET purged_at = ?, updated_at = ? WHERE id = ? AND purged_at IS NULL`), ms2(now), ms2(now), id)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil // another instance purged it
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM blobs WHERE owner = ?`), id); err != nil {
				return err
			}
			n++
			return s.addEvents(ctx, tx, id, now, 0, "", []Event{{Kind: EventPurged, State: StateDelivered}})
		})
		if err != nil {
			return n, fmt.Errorf("store: purge %s: %w", id, err)
		}
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// cut on a rune boundary
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// leaseSuffixLen is the length of the random part of a lease owner id.
const leaseSuffixLen = 12

// maxInstanceLen bounds an instance name (it is stored in every lease).
const maxInstanceLen = 64

// CheckInstance reports whether name can name a gateway instance in lease
// owner ids: 1 to 64 characters of A–Z, a–z, 0–9, '.', '_' and '-' (what
// host names use). The rule keeps owner ids unambiguous: "/" separates the
// instance from the random part and never occurs in a name.
func CheckInstance(name string) error {
	if name == "" {
		return errors.New("store: empty instance name")
	}
	if len(name) > maxInstanceLen {
		return fmt.Errorf("store: instance name %q is longer than %d characters", name, maxInstanceLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("store: instance name %q has %q at byte %d; allowed are A-Z, a-z, 0-9, '.', '_' and '-'", name, c, i)
		}
	}
	return nil
}

// LeaseOwner returns a new lease owner id for one run of the named gateway
// instance: "<instance>/<12 hex digits>". ReleaseLeases(instance) matches
// exactly the ids made here for that instance and no other's.
func LeaseOwner(instance string) (string, error) {
	if err := CheckInstance(instance); err != nil {
		return "", err
	}
	var b [leaseSuffixLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return instance + "/" + hex.EncodeToString(b[:]), nil
}

// ReleaseLeases frees the leases of messages and webhook deliveries held by
// owners LeaseOwner made for instance: at startup a gateway instance
// releases what its previous, crashed incarnation held, so recovery does not
// wait for the leases to expire. It returns the number of messages released.
//
// The match is exact: the instance part of an owner id must equal instance
// (instance "gw" never frees the leases of "gw-b"). The instance name must be
// unique among running gateways sharing the database; if it is not, the
// process-card check before every resend and the intermediary's once-only
// message ids still prevent a second delivery.
func (s *Store) ReleaseLeases(ctx context.Context, instance string) (int, error) {
	if err := CheckInstance(instance); err != nil {
		return 0, fmt.Errorf("store: ReleaseLeases: %w", err)
	}
	// Owner ids are ASCII (CheckInstance), so character and byte counts
	// agree on both databases; the length pins the instance part.
	prefix, n := instance+"/", 0
	size := len(prefix) + leaseSuffixLen
	err := s.tx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE messages SET lease_owner = NULL, lease_until = NULL
			WHERE lease_owner IS NOT NULL AND length(lease_owner) = ? AND substr(lease_owner, 1, ?) = ?`), size, len(prefix), prefix)
		if err != nil {
			return fmt.Errorf("store: release leases: %w", err)
		}
		k, _ := res.RowsAffected()
		n = int(k)
		_, err = tx.ExecContext(ctx, s.q(`UPDATE webhook_deliveries SET lease_owner = NULL, lease_until = NULL
			WHERE lease_owner IS NOT NULL AND length(lease_owner) = ? AND substr(lease_owner, 1, ?) = ?`), size, len(prefix), prefix)
		if err != nil {
			return fmt.Errorf("store: release webhook leases: %w", err)
		}
		return nil
	})
	return n, err
}

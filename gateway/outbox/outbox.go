// Package outbox accepts messages into the gateway's durable outbox and
// delivers them: DVDV route → OSCI message id (stored before sending) →
// delivery → process card → delivered, with retries whose next attempt time
// is computed from the stored attempt count and persisted, never slept in
// memory.
//
// Exactly-once delivery rests on these rules:
//   - The OSCI message id is committed, together with the state "sending",
//     before the delivery call starts.
//   - A message found in "sending" (a worker crashed, the lease expired, or
//     the call failed in a way that leaves its outcome open) is resolved
//     through the intermediary's process card before anything is sent
//     again, and a resend reuses the stored message id, which the
//     intermediary accepts only once.
//   - A failed send is "refused" only on a verified refusal
//     (osci.FeedbackError.Refused). Every other failure — a response that
//     cannot be parsed, decrypted or verified, an unsigned fault, 9801,
//     9810, an unknown code — may hide a delivery and is resolved through
//     the process card.
//   - A message gets a new message id only when its stored id is proven to
//     carry no delivery (a verified refusal, or a process card showing none
//     after the send had ended) and a process card asked afterwards still
//     shows none. Reviving a dead letter never forgets an id by itself.
//   - Every change a worker makes is fenced by its lease (store.Apply), so a
//     worker that lost its lease cannot overwrite its successor's work, and
//     one process never has two workers on the same message (its workers
//     share one lease owner id).
package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/atrest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/store"
)

// Webhook events raised by the outbox.
const (
	EventMessageDelivered = "message.delivered"
	EventMessageDead      = "message.dead_lettered"
)

// Config wires an Outbox. Store, Keys and Codec are required for Submit;
// Router and Transport for Run.
type Config struct {
	Store     *store.Store
	Keys      *atrest.Keyring
	Codec     gateway.Codec
	Router    gateway.Router
	Transport gateway.Transport

	// Owner identifies this process in leases; unique per process start
	// (default: a new random id).
	Owner   string
	Clock   gateway.Clock
	Logger  *slog.Logger
	Metrics *metrics.Registry // optional

	Workers      int           // concurrent deliveries (default 4)
	Lease        time.Duration // claim lease (default 5m); must cover a whole attempt
	CallTimeout  time.Duration // per transport/router call (default 60s)
	Poll         time.Duration // longest idle sleep (default 1s)
	DrainTimeout time.Duration // graceful shutdown deadline (default 30s)
	Retry        Policy

	// ClaimBatch and ClaimWait make one claim transaction serve several
	// messages under a backlog. When the previous claim came back full
	// (more messages were due than workers were free) and fewer than
	// ClaimBatch workers are free, the dispatcher waits up to ClaimWait for
	// more workers to finish before it claims. Without a backlog a free
	// worker claims at once, so an idle outbox picks up a new message
	// without delay. Claimed messages never wait for a worker: the wait is
	// before the claim, so their leases start when their workers do.
	//
	// ClaimBatch defaults to max(2, Workers/2) and is at most Workers; 1
	// turns batching off. ClaimWait defaults to 20ms (small against a
	// delivery, which makes several calls to the intermediary); a negative
	// value turns batching off.
	ClaimBatch int
	ClaimWait  time.Duration

	// Notify returns the webhook deliveries to queue for a message event
	// (EventMessageDelivered, EventMessageDead); nil queues none.
	Notify func(event, clientID string) []store.NewWebhook
	// OnResponse receives the passive recipient's synchronous answer of a
	// mediateDelivery (the reply side authenticates it and stores it in the
	// inbox). The outbox has already stored the answer and its signer,
	// sealed, with the message (store.PartResponse, PartResponseSigner) in
	// the transaction that recorded the delivery; m.OSCIMessageID is the id
	// it was sent under and m.Route the route it was sent along. An error
	// keeps the message short of "delivered" and the hand-over is retried,
	// so OnResponse must be idempotent per m.OSCIMessageID.
	OnResponse func(ctx context.Context, m *store.Message, answer Answer) error
}

// Answer is a passive recipient's synchronous answer to a mediateDelivery,
// as handed to Config.OnResponse.
type Answer struct {
	// Content is the answer (the XAusländer XML).
	Content []byte
	// SignerCert is the DER certificate whose verified signature covers the
	// content (gateway.Sent.ResponseSigner); nil when the answer cannot be
	// attributed to one verified signer. It says who signed, not that the
	// signer may answer this message: that is OnResponse's check.
	SignerCert []byte
}

// Outbox accepts and delivers messages. Create it with New.
type Outbox struct {
	cfg     Config
	wake    chan struct{}
	running atomic.Bool
	m       *instruments
	// inflight holds the ids of messages a worker of this process is on.
	inflight store.InFlight
}

// New checks cfg and fills defaults.
func New(cfg Config) (*Outbox, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Codec == nil {
		return nil, errors.New("outbox: Store, Keys and Codec are required")
	}
	if cfg.Owner == "" {
		cfg.Owner = "gw-" + store.NewID()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 60 * time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	// One attempt makes at most four calls (route, id, send, card); the
	// lease must outlast them or a second worker could start while the
	// first is still sending.
	if cfg.Lease < 4*cfg.CallTimeout+10*time.Second {
		return nil, fmt.Errorf("outbox: lease %v is too short for call timeout %v (need at least 4×timeout+10s)", cfg.Lease, cfg.CallTimeout)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	cfg.Retry = cfg.Retry.withDefaults()
	if cfg.ClaimBatch <= 0 {
		cfg.ClaimBatch = max(2, cfg.Workers/2)
	}
	cfg.ClaimBatch = min(cfg.ClaimBatch, cfg.Workers)
	if cfg.ClaimWait == 0 {
		cfg.ClaimWait = 20 * time.Millisecond
	}
	if cfg.ClaimWait < 0 {
		cfg.ClaimBatch = 1
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	o := &Outbox{cfg: cfg, wake: make(chan struct{}, 1)}
	o.m = newInstruments(cfg.Metrics, cfg.Store)
	return o, nil
}

// Owner returns the lease owner id of this process.
func (o *Outbox) Owner() string { return o.cfg.Owner }

// Running reports whether Run's dispatcher is active (readiness).
func (o *Outbox) Running() bool { return o.running.Load() }

// Format of a submitted body.
type Format string

// Accepted body formats.
const (
	FormatXML  Format = "xml"
	FormatJSON Format = "json"
)

// Submission is one message posted by a client.
type Submission struct {
	ClientID       string
	IdempotencyKey string
	Format         Format
	// MessageType is the type code for JSON bodies ("" = OZG.Antrag).
	MessageType string
	Body        []byte
	// Recipient is the resolved ABH. For XML it may be nil: the leser
	// Behördenkennung of the message names the recipient then. When both
	// are given they must agree.
	Recipient *gateway.Authority
}

// Result is the outcome of Submit.
type Result struct {
	Message  *store.Message
	Existing bool // an earlier submission with the same idempotency key
}

// ErrNoRecipient is returned for an XML body without a usable leser and no
// recipient given.
var ErrNoRecipient = errors.New("outbox: no recipient")

// AAD is the associated data binding a sealed blob to its row and part.
func AAD(owner, part string) []byte { return []byte(owner + "/" + part) }

// Submit validates s, seals the body and stores the message durably. Invalid
// messages return a *gateway.ValidationError and nothing is stored; a reused
// idempotency key with a different request returns
// store.ErrIdempotencyConflict.
func (o *Outbox) Submit(ctx context.Context, s Submission) (*Result, error) {
	start := time.Now()
	var msg *gateway.Message
	var err error
	switch s.Format {
	case FormatXML:
		msg, err = o.cfg.Codec.ParseXML(ctx, s.Body)
	case FormatJSON:
		if s.Recipient == nil {
			return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "/recipient", Kind: "request", Message: "a JSON application needs a recipient (abh, ags or plz)"}}}
		}
		msg, err = o.cfg.Codec.FromJSON(ctx, s.MessageType, s.Body, *s.Recipient)
	default:
		return nil, fmt.Errorf("outbox: unknown format %q", s.Format)
	}
	if err != nil {
		o.m.rejected.Inc(gateway.ErrorCode(err))
		return nil, err
	}
	recipient := msg.ReaderKey
	if i := strings.LastIndexByte(recipient, ':'); i >= 0 {
		recipient = recipient[i+1:] // Behördenkennung "abh:000100" → ABH key
	}
	if s.Recipient != nil {
		if msg.ReaderKey != "" && !SameAuthority(msg.ReaderKey, s.Recipient.Key) {
			o.m.rejected.Inc("invalid")
			return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "nachrichtenkopf.g2g/leser/kennung", Kind: "request",
				Message: fmt.Sprintf("the message is addressed to %q but the request names recipient %q", msg.ReaderKey, s.Recipient.Key)}}}
		}
		recipient = s.Recipient.Key
	}
	if recipient == "" {
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "nachrichtenkopf.g2g/leser/kennung", Kind: "request", Message: "no recipient: the message has no leser kennung and the request names none"}}}
	}

	h := sha256.New()
	for _, part := range []string{string(s.Format), s.MessageType, recipient} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(s.Body)
	id := store.NewID()
	keyID, sealed, err := o.cfg.Keys.Seal(msg.XML, AAD(id, store.PartBody))
	if err != nil {
		return nil, err
	}
	now := o.cfg.Clock()
	m, existing, err := o.cfg.Store.Accept(ctx, store.NewMessage{
		ID: id, ClientID: s.ClientID, IdempotencyKey: s.IdempotencyKey, RequestHash: hex.EncodeToString(h.Sum(nil)),
		Recipient: recipient, TypeCode: msg.TypeCode, Version: msg.Version, MessageUUID: msg.MessageUUID,
		ApplicationID: msg.ApplicationID,
		Blobs:         []store.Blob{{Part: store.PartBody, KeyID: keyID, Data: sealed, Size: int64(len(msg.XML))}},
	}, now)
	if err != nil {
		if errors.Is(err, store.ErrIdempotencyConflict) {
			o.m.rejected.Inc("idempotency_conflict")
		}
		return &Result{Message: m, Existing: existing}, err
	}
	if !existing {
		o.m.accepted.Inc()
		o.m.acceptSeconds.ObserveSince(start)
		o.cfg.Logger.Info("message accepted", "message_id", m.ID, "client", s.ClientID, "type", msg.TypeCode, "recipient", recipient, "bytes", len(msg.XML))
		o.Wake()
	}
	return &Result{Message: m, Existing: existing}, nil
}

// SameAuthority reports whether a Behördenkennung from a message header
// names the ABH key: equal, or the key with a prefix ("prefix:key" or the
// prefix digits directly in front).
func SameAuthority(kennung, key string) bool {
	kennung, key = strings.TrimSpace(kennung), strings.TrimSpace(key)
	if kennung == key {
		return true
	}
	if key == "" || !strings.HasSuffix(kennung, key) {
		return false
	}
	prefix := strings.TrimSuffix(kennung, key)
	return strings.HasSuffix(prefix, ":") || strings.HasSuffix(prefix, "/")
}

// Wake makes an idle dispatcher look for work now (after Submit or Revive).
func (o *Outbox) Wake() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Body returns the decrypted body of a message or inbox item (ErrNotFound
// after purge).
func (o *Outbox) Body(ctx context.Context, id string) ([]byte, error) {
	return o.Part(ctx, id, store.PartBody)
}

// Part returns one decrypted part of a message or inbox item.
func (o *Outbox) Part(ctx context.Context, id, part string) ([]byte, error) {
	b, err := o.cfg.Store.Blob(ctx, id, part)
	if err != nil {
		return nil, err
	}
	return o.cfg.Keys.Open(b.KeyID, b.Data, AAD(id, part))
}

// Run claims due messages and delivers them with up to Workers concurrent
// deliveries until ctx ends; then it stops claiming and waits up to
// DrainTimeout for deliveries in flight. Calls still running at the
// deadline are cancelled and their messages released for the next start
// (a send cut off there is resolved through the process card).
func (o *Outbox) Run(ctx context.Context) error {
	if o.cfg.Router == nil || o.cfg.Transport == nil {
		return errors.New("outbox: Run needs a Router and a Transport")
	}
	o.running.Store(true)
	defer o.running.Store(false)
	log := o.cfg.Logger
	log.Info("outbox running", "owner", o.cfg.Owner, "workers", o.cfg.Workers)

	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	sem := make(chan struct{}, o.cfg.Workers)
	var wg sync.WaitGroup
	var loopErr error
	errDelay := o.cfg.Poll
	// backlog: the last claim was full, so more messages are probably due
	// than workers are free and claims may wait to come in batches.
	backlog := false
loop:
	for {
		// Take one slot (waiting for a worker if all are busy), under a
		// backlog wait a little for a batch of slots, then take as many
		// more as are free, and claim that many messages.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		n := 1
		if backlog && o.cfg.ClaimBatch > 1 {
			var ok bool
			if n, ok = o.gather(ctx, sem, n); !ok {
				for ; n > 0; n-- {
					<-sem
				}
				break loop
			}
		}
	more:
		for n < o.cfg.Workers {
			select {
			case sem <- struct{}{}:
				n++
			default:
				break more
			}
		}
		now := o.cfg.Clock()
		msgs, err := o.cfg.Store.Claim(ctx, o.cfg.Owner, now, o.cfg.Lease, n)
		o.m.claims.Inc()
		for i := len(msgs); i < n; i++ {
			<-sem
		}
		backlog = err == nil && len(msgs) == n
		if err != nil {
			if ctx.Err() != nil {
				break loop
			}
			log.Error("outbox claim failed", "err", err)
			o.m.failures.Inc("claim", "store")
			if !o.sleep(ctx, errDelay) {
				break loop
			}
			errDelay = min(2*errDelay, 30*time.Second)
			continue
		}
		o.m.claimed.Observe(float64(len(msgs)))
		errDelay = o.cfg.Poll
		for _, m := range msgs {
			if !o.inflight.Start(m.ID) {
				// Our lease ran out while a worker of this process is
				// still on the message, and we claimed it again. Every
				// lease check passes for both workers (same owner), so
				// a second one could send it again under a new id:
				// leave it to the first.
				<-sem
				log.Warn("claimed a message this process is still working on; left to that worker", "message_id", m.ID)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { o.inflight.Done(m.ID); <-sem; o.Wake() }()
				o.process(workCtx, m)
			}()
		}
		if len(msgs) > 0 {
			continue
		}
		wait := o.cfg.Poll
		if due, err := o.cfg.Store.NextDue(ctx); err == nil && !due.IsZero() {
			wait = min(wait, max(due.Sub(o.cfg.Clock()), 5*time.Millisecond))
		}
		if !o.sleep(ctx, wait) {
			break loop
		}
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		log.Info("outbox drained")
	case <-time.After(o.cfg.DrainTimeout):
		log.Warn("outbox drain deadline reached; cancelling deliveries in flight", "deadline", o.cfg.DrainTimeout)
		cancelWork()
		<-done
	}
	return loopErr
}

// gather waits, holding n worker slots, until ClaimBatch slots are held or
// ClaimWait has passed, and returns the slots held; false when ctx ended
// (the caller gives the slots back).
func (o *Outbox) gather(ctx context.Context, sem chan struct{}, n int) (int, bool) {
	if n >= o.cfg.ClaimBatch {
		return n, true
	}
	start := time.Now()
	t := time.NewTimer(o.cfg.ClaimWait)
	defer t.Stop()
	defer func() { o.m.claimWait.ObserveSince(start) }()
	for n < o.cfg.ClaimBatch {
		select {
		case sem <- struct{}{}:
			n++
		case <-t.C:
			return n, true
		case <-ctx.Done():
			return n, false
		}
	}
	return n, true
}

// sleep waits d, a Wake, or the end of ctx (false).
func (o *Outbox) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-o.wake:
		return true
	case <-ctx.Done():
		return false
	}
}

// Purge deletes the bodies of messages delivered longer than retention ago
// (their timelines stay). It returns the number purged.
func (o *Outbox) Purge(ctx context.Context, retention time.Duration) (int, error) {
	now := o.cfg.Clock()
	total := 0
	for {
		n, err := o.cfg.Store.PurgeDelivered(ctx, now.Add(-retention), now, 200)
		total += n
		if err != nil || n < 200 {
			if total > 0 {
				o.cfg.Logger.Info("purged delivered message bodies", "count", total, "retention", retention)
			}
			o.m.purged.Add(float64(total))
			return total, err
		}
	}
}

func routeOf(m *store.Message) (gateway.Route, error) {
	var r gateway.Route
	if len(m.Route) == 0 {
		return r, errors.New("outbox: message has no stored route")
	}
	if err := json.Unmarshal(m.Route, &r); err != nil {
		return r, fmt.Errorf("outbox: stored route: %w", err)
	}
	return r, nil
}

// Package replies brings the ABH's answers back: it polls the gateway's own
// OSCI mailbox, hands each delivery to the XAusländer reply parser, links it
// to the original application (by ausloeserUUID, else antragsidentifikation),
// stores it encrypted in the inbox and queues its webhooks — exactly once per
// OSCI message id.
//
// Ids are recorded before they are fetched, because OSCI marks a delivery
// received when it is fetched: after a crash between fetch and store the
// recorded id is fetched again by id. Mailboxes that can list by date
// (DateLister) are listed from a stored high-water mark as well, so a
// delivery someone else marked as received is still found.
//
// Anyone who knows the gateway's public cipher certificate can store into
// its mailbox, so a reply counts as the ABH's only if its content is signed
// by exactly one verified signature, the signer is the ABH's signature
// certificate (the one named by the original message's route, else the one
// the DVDV publishes for the reply's autor), and the reply's autor is the
// ABH the original message went to. A passive recipient's synchronous
// answer to a mediateDelivery (MediatedResponse) passes the same check and
// is linked only to the message it answers. Everything else is kept as
// "unverified": visible to administrators, never linked to a client's
// message, no webhook. Replies that cannot be read are kept too (kinds
// "unparseable" and "unreadable", with the reason) rather than dropped.
package replies

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/atrest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

// EventReplyReceived is the webhook event for a new inbox item.
const EventReplyReceived = "reply.received"

// Kinds of replies by XAusländer message type code.
var kinds = map[string]string{
	"130102": "rueckkanal_frage",
	"130104": "statusmeldung",
	"130105": "terminmitteilung",
	"130107": "ruecknahme_reaktion",
	"130109": "unzustaendig",
	"130110": "beabsichtigte_ablehnung",
}

// Kind names the reply kind of a message by its type code, or for the
// XInneres replies that have no OZG code by its root element and namespace
// ("other" if unknown).
func Kind(m *gateway.Message) string {
	if k, ok := kinds[m.TypeCode]; ok {
		return k
	}
	el, ns := strings.ToLower(m.Element), strings.ToLower(m.Namespace)
	switch {
	case strings.Contains(el, "rueckweisung") || strings.Contains(ns, "rueckweisung"):
		return "rueckweisung"
	case strings.Contains(el, "quittung") || strings.Contains(ns, "quittung"):
		return "quittung"
	}
	return "other"
}

// Config wires a Poller.
type Config struct {
	Store   *store.Store
	Keys    *atrest.Keyring
	Mailbox gateway.Mailbox
	Parser  gateway.ReplyParser
	Clock   gateway.Clock
	Logger  *slog.Logger
	Metrics *metrics.Registry
	// Interval between mailbox polls (default 30s).
	Interval time.Duration
	// MaxFetchAttempts bounds retries of a delivery that cannot be fetched
	// (decryption or signature failures, …). After them, or at once for a
	// permanent error, it is kept in the inbox as "unreadable" with the
	// reason, so it is seen instead of retried forever (default 10).
	MaxFetchAttempts int
	// Notify returns the webhook deliveries to queue for a reply of a
	// client ("" for unlinked replies). Unverified replies queue none.
	Notify func(event, clientID string) []store.NewWebhook
	// Signers looks up the ABH's signature certificate in the DVDV
	// (Route(autor, version).AddresseeSig) for replies whose original
	// message's route names none, or that match no message. Without it
	// such replies stay unverified.
	Signers gateway.Router
	// ListOverlap is how far before the stored high-water mark a date
	// listing starts (DateLister), for deliveries the intermediary
	// committed late (default 15m).
	ListOverlap time.Duration
}

// DateLister is implemented by mailboxes that can list deliveries by the
// intermediary's reception time, received by the gateway or not
// (oscitransport.Mailbox). The poller then lists from a stored high-water
// mark minus Config.ListOverlap instead of relying on "not yet received":
// a third party that fetches from the gateway's mailbox marks a delivery
// received, and it must not vanish from the gateway's view for that.
type DateLister interface {
	// ListReceivedSince returns ids of deliveries for the gateway not yet
	// received or received by the intermediary at or after since (zero:
	// ever), and the reception time up to which the listing is complete
	// (zero if nothing new).
	ListReceivedSince(ctx context.Context, since time.Time) (ids []string, newest time.Time, err error)
}

// cursorName names the high-water mark of the date listing in the store.
const cursorName = "replies"

// Reasons an item is kept as unverified (metric label and problem text).
const (
	ReasonUnsigned       = "unsigned"        // not exactly one container with one verified signature
	ReasonSignerMismatch = "signer_mismatch" // signed, but not by the ABH's signature certificate
	ReasonSignerUnknown  = "signer_unknown"  // no signature certificate known for the ABH
	ReasonAuthorMismatch = "author_mismatch" // autor is not the ABH the original message went to
)

// Poller moves replies from the mailbox into the inbox.
type Poller struct {
	cfg        Config
	stored     *metrics.CounterVec
	failures   *metrics.CounterVec
	unverified *metrics.CounterVec
}

// New checks cfg.
func New(cfg Config) (*Poller, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.Parser == nil {
		return nil, errors.New("replies: Store, Keys and Parser are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 30 * time.Second
	}
	if cfg.MaxFetchAttempts <= 0 {
		cfg.MaxFetchAttempts = 10
	}
	if cfg.ListOverlap <= 0 {
		cfg.ListOverlap = 15 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	p := &Poller{cfg: cfg,
		stored:   cfg.Metrics.NewCounter("xagw_replies_stored_total", "Replies stored in the inbox, by kind.", "kind"),
		failures: cfg.Metrics.NewCounter("xagw_replies_failures_total", "Failed mailbox operations, by step.", "step"),
		unverified: cfg.Metrics.NewCounter("xagw_replies_unverified_total",
			"Deliveries kept as unverified (not shown to come from the ABH the original message went to), by reason.", "reason"),
	}
	cfg.Metrics.NewGaugeFunc("xagw_inbox_unacknowledged", "Inbox items not yet acknowledged by their client.", nil,
		func(ctx context.Context) ([]metrics.Sample, error) {
			un, _, err := cfg.Store.InboxCounts(ctx)
			return []metrics.Sample{{Value: float64(un)}}, err
		})
	return p, nil
}

// PollOnce lists the mailbox, records new ids, fetches every recorded id not
// yet stored and stores it. It returns how many replies were newly stored.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	if p.cfg.Mailbox == nil {
		return 0, errors.New("replies: no mailbox configured")
	}
	if err := p.list(ctx); err != nil {
		p.failures.Inc("list")
		return 0, err
	}
	pending, err := p.cfg.Store.PendingInbound(ctx, 200)
	if err != nil {
		return 0, err
	}
	n := 0
	var firstErr error
	for _, id := range pending {
		in, err := p.cfg.Mailbox.Fetch(ctx, id)
		var uv interface{ Unverified() bool }
		if err != nil && in.Content != nil && errors.As(err, &uv) && uv.Unverified() {
			// Readable, but not attributable to a signer: kept for
			// operators, never taken as the ABH's reply.
			if in.MessageID == "" {
				in.MessageID = id
			}
			ok, serr := p.ingest(ctx, in, nil, &unverified{reason: ReasonUnsigned, err: err})
			if serr != nil && firstErr == nil {
				firstErr = serr
			}
			if ok {
				n++
			}
			continue
		}
		if err != nil {
			p.failures.Inc("fetch")
			attempts, ferr := p.cfg.Store.InboundFailed(ctx, id, err.Error())
			if ferr == nil && (!gateway.IsRetryable(err) || attempts >= p.cfg.MaxFetchAttempts) {
				p.cfg.Logger.Error("a delivery in the mailbox cannot be read; kept in the inbox as unreadable", "osci_message_id", id,
					"attempts", attempts, "code", gateway.ErrorCode(err), "err", err)
				if _, serr := p.store(ctx, store.InboxItem{ID: store.NewID(), OSCIMessageID: id, Kind: store.KindUnreadable,
					Problem: Summary(err), ReceivedAt: p.cfg.Clock()}, nil, err, true); serr != nil && firstErr == nil {
					firstErr = serr
				}
				continue
			}
			p.cfg.Logger.Warn("fetching a reply failed; will fetch it again", "osci_message_id", id, "attempts", attempts, "code", gateway.ErrorCode(err), "err", err)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if in.MessageID == "" {
			in.MessageID = id
		}
		ok, err := p.Ingest(ctx, in)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if ok {
			n++
		}
	}
	return n, firstErr
}

// list records the ids the mailbox lists (by date from the stored
// high-water mark when it can, else those not yet received) before any is
// fetched.
func (p *Poller) list(ctx context.Context) error {
	now := p.cfg.Clock()
	if dl, ok := p.cfg.Mailbox.(DateLister); ok {
		mark, err := p.cfg.Store.MailboxCursor(ctx, cursorName)
		if err != nil {
			return err
		}
		since := time.Time{}
		if !mark.IsZero() {
			since = mark.Add(-p.cfg.ListOverlap)
		}
		ids, newest, err := dl.ListReceivedSince(ctx, since)
		if err != nil {
			return fmt.Errorf("replies: list mailbox: %w", err)
		}
		_, err = p.cfg.Store.NoteInboundListing(ctx, ids, cursorName, newest, now)
		return err
	}
	ids, err := p.cfg.Mailbox.Pending(ctx)
	if err != nil {
		return fmt.Errorf("replies: list mailbox: %w", err)
	}
	_, err = p.cfg.Store.NoteInbound(ctx, ids, now)
	return err
}

// unverified says why an item is not taken as the ABH's reply.
type unverified struct {
	reason string
	err    error
}

// Ingest stores one delivery fetched from the mailbox. It returns false if
// the OSCI message id was stored before. The delivery is taken as the
// ABH's reply only if in.SignerCert (the verified signer of the content's
// container, as oscitransport.Mailbox.Fetch reports it) is the ABH's
// signature certificate and the reply's autor is the ABH the original
// message went to; otherwise it is kept as KindUnverified.
func (p *Poller) Ingest(ctx context.Context, in gateway.Incoming) (bool, error) {
	return p.ingest(ctx, in, nil, unsigned(in.SignerCert, "the delivery's content carries no verified signature"))
}

// unsigned is why content without a verified signer is not the ABH's (nil
// when there is a signer, which authenticate then checks).
func unsigned(signer []byte, why string) *unverified {
	if len(signer) > 0 {
		return nil
	}
	return &unverified{reason: ReasonUnsigned, err: errors.New(why)}
}

// ingest parses, authenticates, links and stores one delivery. channel,
// when set, is the message whose synchronous answer this is (mediate): it
// is the only message the answer may be linked to.
func (p *Poller) ingest(ctx context.Context, in gateway.Incoming, channel *store.Message, uv *unverified) (bool, error) {
	it := store.InboxItem{ID: store.NewID(), OSCIMessageID: in.MessageID, ReceivedAt: in.ReceivedAt}
	if it.ReceivedAt.IsZero() {
		it.ReceivedAt = p.cfg.Clock()
	}
	msg, err := p.cfg.Parser.ParseReply(ctx, in.Content)
	if err == nil {
		it.TypeCode, it.MessageUUID, it.TriggerUUID = msg.TypeCode, msg.MessageUUID, msg.TriggerUUID
		it.ApplicationID, it.AuthorKey = msg.ApplicationID, msg.AuthorKey
	}
	if uv == nil && err == nil {
		var orig *store.Message
		if orig, uv, err = p.authenticate(ctx, msg, in.SignerCert, channel); err != nil {
			return false, err
		}
		if uv == nil {
			it.Kind = Kind(msg)
			if orig != nil {
				it.MessageID, it.ClientID = orig.ID, orig.ClientID
			}
			return p.store(ctx, it, in.Content, nil, true)
		}
	}
	if uv != nil {
		it.Kind = store.KindUnverified
		it.Problem = "unverified: " + uv.reason
		p.unverified.Inc(uv.reason)
		attrs := []any{"inbox_id", it.ID, "osci_message_id", it.OSCIMessageID, "reason", uv.reason, "type_code", it.TypeCode}
		if len(in.SignerCert) > 0 {
			attrs = append(attrs, "signer_sha256", fingerprint(in.SignerCert))
		}
		p.cfg.Logger.Warn("a delivery in the mailbox is not shown to come from the ABH; kept as unverified for operators, not linked, no webhook", attrs...)
		return p.store(ctx, it, in.Content, uv.err, false)
	}
	it.Kind = store.KindUnparseable
	it.Problem = Summary(err)
	return p.store(ctx, it, in.Content, err, true)
}

// authenticate finds the message a parsed reply answers (channel, for a
// mediated answer: the message it came back for) and checks that the reply
// comes from the ABH that message went to: its autor is the message's
// recipient and signer is the ABH's signature certificate (the message's
// route names it, else the DVDV does). It returns the original (nil if
// none matches) or why the reply is not taken as authentic; err is for
// failures worth retrying (store, DVDV unreachable).
func (p *Poller) authenticate(ctx context.Context, msg *gateway.Message, signer []byte, channel *store.Message) (*store.Message, *unverified, error) {
	orig := channel
	if orig == nil {
		var err error
		if orig, err = p.link(ctx, msg); errors.Is(err, store.ErrNotFound) {
			orig = nil
		} else if err != nil {
			return nil, nil, err
		}
	}
	authority, version := msg.AuthorKey, msg.Version
	var want []byte
	if orig != nil {
		if !outbox.SameAuthority(msg.AuthorKey, orig.Recipient) {
			return nil, &unverified{reason: ReasonAuthorMismatch,
				err: fmt.Errorf("the reply's autor %q is not %q, the ABH message %s went to", msg.AuthorKey, orig.Recipient, orig.ID)}, nil
		}
		authority, version = orig.Recipient, orig.Version
		if len(orig.Route) > 0 {
			var r gateway.Route
			if json.Unmarshal(orig.Route, &r) == nil {
				want = r.AddresseeSig
			}
		}
	}
	// The synchronous answer of a mediateDelivery (channel) gets the same
	// signer check: it arrives in the intermediary's signed response to
	// our own request, but the intermediary only relays what the endpoint
	// it called returned.
	if len(want) == 0 {
		if p.cfg.Signers == nil || authority == "" {
			return nil, &unverified{reason: ReasonSignerUnknown, err: fmt.Errorf("no signature certificate is known for autor %q (no route with one, no DVDV lookup configured)", authority)}, nil
		}
		r, err := p.cfg.Signers.Route(ctx, authority, version)
		if err != nil {
			if gateway.IsRetryable(err) {
				return nil, nil, fmt.Errorf("replies: DVDV signature certificate of %s: %w", authority, err)
			}
			return nil, &unverified{reason: ReasonSignerUnknown, err: fmt.Errorf("the DVDV has no signature certificate for autor %q: %w", authority, err)}, nil
		}
		if want = r.AddresseeSig; len(want) == 0 {
			return nil, &unverified{reason: ReasonSignerUnknown, err: fmt.Errorf("the DVDV entry of autor %q publishes no signature certificate", authority)}, nil
		}
	}
	if !bytes.Equal(signer, want) {
		return nil, &unverified{reason: ReasonSignerMismatch, err: fmt.Errorf("the content is signed by certificate sha256:%s, not by the signature certificate of %s (sha256:%s)",
			fingerprint(signer), authority, fingerprint(want))}, nil
	}
	return orig, nil, nil
}

func fingerprint(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

// Summary describes why a reply could not be read without quoting its
// content: the problem kinds and element paths of a validation error, else
// the error's code. The full text goes into the sealed PartProblem.
func Summary(err error) string {
	var v *gateway.ValidationError
	if errors.As(err, &v) {
		var parts []string
		for i, pr := range v.Problems {
			if i == 5 {
				parts = append(parts, fmt.Sprintf("and %d more", len(v.Problems)-5))
				break
			}
			s := pr.Kind
			if pr.Path != "" {
				s += " at " + pr.Path
			}
			if pr.Line > 0 {
				s += fmt.Sprintf(" (line %d)", pr.Line)
			}
			parts = append(parts, s)
		}
		return "invalid: " + strings.Join(parts, "; ")
	}
	return "error: " + gateway.ErrorCode(err)
}

// store seals content (and the full problem text, if any) and stores the
// inbox item, with its webhooks if notify.
func (p *Poller) store(ctx context.Context, it store.InboxItem, content []byte, problem error, notify bool) (bool, error) {
	keyID, sealed, err := p.cfg.Keys.Seal(content, outbox.AAD(it.ID, store.PartBody))
	if err != nil {
		return false, err
	}
	var extra []store.Blob
	if problem != nil {
		text := []byte(problem.Error())
		pk, ps, err := p.cfg.Keys.Seal(text, outbox.AAD(it.ID, store.PartProblem))
		if err != nil {
			return false, err
		}
		extra = append(extra, store.Blob{Part: store.PartProblem, KeyID: pk, Data: ps, Size: int64(len(text))})
	}
	var hooks []store.NewWebhook
	if p.cfg.Notify != nil && notify {
		hooks = p.cfg.Notify(EventReplyReceived, it.ClientID)
	}
	inserted, err := p.cfg.Store.StoreReply(ctx, it, store.Blob{KeyID: keyID, Data: sealed, Size: int64(len(content))}, hooks, p.cfg.Clock(), extra...)
	if err != nil {
		p.failures.Inc("store")
		return false, err
	}
	if inserted {
		p.stored.Inc(it.Kind)
		p.cfg.Logger.Info("reply stored", "inbox_id", it.ID, "osci_message_id", it.OSCIMessageID, "kind", it.Kind,
			"linked_message_id", it.MessageID, "bytes", len(content))
	}
	return inserted, nil
}

func (p *Poller) link(ctx context.Context, msg *gateway.Message) (*store.Message, error) {
	if msg.TriggerUUID != "" {
		m, err := p.cfg.Store.FindByMessageUUID(ctx, msg.TriggerUUID)
		if !errors.Is(err, store.ErrNotFound) {
			return m, err
		}
	}
	return p.cfg.Store.FindByApplicationID(ctx, msg.ApplicationID)
}

// Run polls every Interval until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if n, err := p.PollOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.cfg.Logger.Warn("mailbox poll incomplete", "stored", n, "err", err)
		} else if n > 0 {
			p.cfg.Logger.Info("mailbox poll", "stored", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// MediatedResponse is outbox.Config.OnResponse: the answer of a passive
// recipient to a mediateDelivery of m is stored under the id
// "<osci message id>/response" and authenticated like a reply fetched from
// the mailbox. It is linked to m only if its content is signed by exactly
// one verified signature (answer.SignerCert), the signer is the ABH's
// signature certificate (m's route names it, else the DVDV does for m's
// recipient) and its autor is m's recipient; otherwise it is kept as
// unverified (administrators only, not linked, no webhook). Calling it
// again for the same m.OSCIMessageID stores nothing new.
func (p *Poller) MediatedResponse(ctx context.Context, m *store.Message, answer outbox.Answer) error {
	in := gateway.Incoming{MessageID: m.OSCIMessageID + "/response", Content: answer.Content, ReceivedAt: p.cfg.Clock(), SignerCert: answer.SignerCert}
	_, err := p.ingest(ctx, in, m, unsigned(in.SignerCert,
		"the mediated answer's content is not signed by exactly one verified signature (one content container, one signature, the certificate accepted by the trust policy)"))
	return err
}

// Package replies brings the ABH's answers back: it polls the gateway's own
// OSCI mailbox, hands each delivery to the XAusländer reply parser, links it
// to the original application (by ausloeserUUID, else antragsidentifikation),
// stores it encrypted in the inbox and queues its webhooks — exactly once per
// OSCI message id.
//
// Ids are recorded before they are fetched, because OSCI marks a delivery
// received when it is fetched: after a crash between fetch and store the
// recorded id is fetched again by id. Replies that cannot be read are kept
// (kind "unparseable", with the reason) rather than dropped.
package replies

import (
	"context"
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
	// client ("" for unlinked replies).
	Notify func(event, clientID string) []store.NewWebhook
}

// Poller moves replies from the mailbox into the inbox.
type Poller struct {
	cfg      Config
	stored   *metrics.CounterVec
	failures *metrics.CounterVec
	lastOK   time.Time
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
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	p := &Poller{cfg: cfg,
		stored:   cfg.Metrics.NewCounter("xagw_replies_stored_total", "Replies stored in the inbox, by kind.", "kind"),
		failures: cfg.Metrics.NewCounter("xagw_replies_failures_total", "Failed mailbox operations, by step.", "step"),
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
	ids, err := p.cfg.Mailbox.Pending(ctx)
	if err != nil {
		p.failures.Inc("list")
		return 0, fmt.Errorf("replies: list mailbox: %w", err)
	}
	if _, err := p.cfg.Store.NoteInbound(ctx, ids, p.cfg.Clock()); err != nil {
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
		if err != nil {
			p.failures.Inc("fetch")
			attempts, ferr := p.cfg.Store.InboundFailed(ctx, id, err.Error())
			if ferr == nil && (!gateway.IsRetryable(err) || attempts >= p.cfg.MaxFetchAttempts) {
				p.cfg.Logger.Error("a delivery in the mailbox cannot be read; kept in the inbox as unreadable", "osci_message_id", id,
					"attempts", attempts, "code", gateway.ErrorCode(err), "err", err)
				if _, serr := p.store(ctx, store.InboxItem{ID: store.NewID(), OSCIMessageID: id, Kind: store.KindUnreadable,
					Problem: Summary(err), ReceivedAt: p.cfg.Clock()}, nil, err); serr != nil && firstErr == nil {
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

// Ingest stores one delivery (from the mailbox, or the synchronous answer
// of a mediateDelivery). It returns false if the OSCI message id was stored
// before.
func (p *Poller) Ingest(ctx context.Context, in gateway.Incoming) (bool, error) {
	it := store.InboxItem{ID: store.NewID(), OSCIMessageID: in.MessageID, ReceivedAt: in.ReceivedAt}
	if it.ReceivedAt.IsZero() {
		it.ReceivedAt = p.cfg.Clock()
	}
	msg, err := p.cfg.Parser.ParseReply(ctx, in.Content)
	var problem error
	if err != nil {
		it.Kind = store.KindUnparseable
		it.Problem, problem = Summary(err), err
	} else {
		it.Kind = Kind(msg)
		it.TypeCode, it.MessageUUID, it.TriggerUUID = msg.TypeCode, msg.MessageUUID, msg.TriggerUUID
		it.ApplicationID, it.AuthorKey = msg.ApplicationID, msg.AuthorKey
		if orig, err := p.link(ctx, msg); err == nil {
			it.MessageID, it.ClientID = orig.ID, orig.ClientID
		} else if !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
	}
	return p.store(ctx, it, in.Content, problem)
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
// inbox item with its webhooks.
func (p *Poller) store(ctx context.Context, it store.InboxItem, content []byte, problem error) (bool, error) {
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
	if p.cfg.Notify != nil {
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

// MediatedResponse adapts Ingest for outbox.Config.OnResponse: the answer of
// a passive recipient to a mediateDelivery is stored like a fetched reply,
// under the id "<osci message id>/response".
func (p *Poller) MediatedResponse(ctx context.Context, m *store.Message, response []byte) error {
	_, err := p.Ingest(ctx, gateway.Incoming{MessageID: m.OSCIMessageID + "/response", Content: response, ReceivedAt: p.cfg.Clock()})
	return err
}

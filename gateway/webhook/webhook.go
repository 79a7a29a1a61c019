// Package webhook delivers gateway events (a reply arrived, a message was
// delivered or dead-lettered) to the form backends' HTTPS endpoints, signed
// with HMAC-SHA256 and retried with backoff computed from the stored attempt
// count.
//
// # Signature
//
// Every request carries
//
//	X-Xagw-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256(secret, "<t>." + body)>
//	X-Xagw-Event:     reply.received | message.delivered | message.dead_lettered
//	X-Xagw-Delivery:  <delivery id; identical on retries, for de-duplication>
//
// A receiver recomputes the HMAC over the timestamp, a dot and the raw body
// with its subscriber secret, compares in constant time, and rejects
// timestamps older than a few minutes (Verify does all of this).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/atrest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

// Header names.
const (
	HeaderSignature = "X-Xagw-Signature"
	HeaderEvent     = "X-Xagw-Event"
	HeaderDelivery  = "X-Xagw-Delivery"
)

// Sign returns the signature header value for body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac(secret, t, body))
}

func mac(secret []byte, t string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Errors returned by Verify.
var (
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: signature timestamp outside the tolerance")
	ErrMalformed    = errors.New("webhook: malformed signature header")
)

// Verify checks a signature header against body and secret; the timestamp
// must be within tolerance of now (replay protection). A v1 signature is
// 64 lowercase hex digits, as Sign writes it; any other spelling of the
// same bytes is malformed, so a signature has exactly one accepted form.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var t string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformed
		}
		switch k {
		case "t":
			t = v
		case "v1":
			if len(v) != 2*sha256.Size || strings.ToLower(v) != v {
				return ErrMalformed
			}
			b, err := hex.DecodeString(v)
			if err != nil {
				return ErrMalformed
			}
			sigs = append(sigs, b)
		}
	}
	sec, err := strconv.ParseInt(t, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformed
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	want := mac(secret, t, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}

// Subscriber is one webhook endpoint.
type Subscriber struct {
	ID     string
	URL    string
	Secret []byte
	// Events it receives (empty: all).
	Events []string
	// Clients whose events it receives (empty: all clients, and unlinked
	// replies).
	Clients []string
}

func (s Subscriber) wants(event, client string) bool {
	if len(s.Events) > 0 && !slices.Contains(s.Events, event) {
		return false
	}
	return len(s.Clients) == 0 || slices.Contains(s.Clients, client)
}

// Config wires a Dispatcher.
type Config struct {
	Store       *store.Store
	Keys        *atrest.Keyring
	Subscribers []Subscriber
	HTTP        *http.Client // default: 10s timeout, no redirects
	Clock       gateway.Clock
	Logger      *slog.Logger
	Metrics     *metrics.Registry
	Retry       outbox.Policy
	Owner       string
	Workers     int           // concurrent deliveries (default 4)
	Lease       time.Duration // default 2m
	Poll        time.Duration // default 1s
}

// Dispatcher sends queued webhook deliveries.
type Dispatcher struct {
	cfg      Config
	subs     map[string]Subscriber
	wake     chan struct{}
	sent     *metrics.CounterVec
	failed   *metrics.CounterVec
	latency  *metrics.HistogramVec
	inflight atomic.Int64
	// working holds the deliveries a worker of this process is sending;
	// a re-claimed one is left to it (see store.InFlight).
	working store.InFlight
}

// New checks cfg.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil || cfg.Keys == nil {
		return nil, errors.New("webhook: Store and Keys are required")
	}
	subs := map[string]Subscriber{}
	for _, s := range cfg.Subscribers {
		if s.ID == "" || s.URL == "" || len(s.Secret) < 16 {
			return nil, fmt.Errorf("webhook: subscriber %q needs an id, a URL and a secret of at least 16 bytes", s.ID)
		}
		if _, dup := subs[s.ID]; dup {
			return nil, fmt.Errorf("webhook: subscriber %q configured twice", s.ID)
		}
		subs[s.ID] = s
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second,
			// A redirect could carry signed personal data elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewRegistry()
	}
	if cfg.Owner == "" {
		cfg.Owner = "wh-" + store.NewID()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	d := &Dispatcher{cfg: cfg, subs: subs, wake: make(chan struct{}, 1),
		sent:    cfg.Metrics.NewCounter("xagw_webhook_deliveries_total", "Webhook deliveries completed, by subscriber.", "subscriber"),
		failed:  cfg.Metrics.NewCounter("xagw_webhook_failures_total", "Failed webhook attempts, by subscriber and reason.", "subscriber", "reason"),
		latency: cfg.Metrics.NewHistogram("xagw_webhook_seconds", "Webhook request latency.", metrics.DefaultLatencyBuckets, "subscriber"),
	}
	cfg.Metrics.NewGaugeFunc("xagw_webhook_queue", "Webhook deliveries by state.", []string{"state"}, func(ctx context.Context) ([]metrics.Sample, error) {
		c, err := cfg.Store.WebhookCounts(ctx)
		var out []metrics.Sample
		for st, n := range c {
			out = append(out, metrics.Sample{Labels: []string{st}, Value: float64(n)})
		}
		return out, err
	})
	return d, nil
}

// Hooks returns the deliveries to queue for an event of a client; it is the
// Notify function of the outbox and the reply poller.
func (d *Dispatcher) Hooks(event, clientID string) []store.NewWebhook {
	var out []store.NewWebhook
	for _, s := range d.cfg.Subscribers {
		if s.wants(event, clientID) {
			out = append(out, store.NewWebhook{Subscriber: s.ID, Event: event})
		}
	}
	if len(out) > 0 {
		d.Wake()
	}
	return out
}

// Wake makes an idle dispatcher look for work now.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Payload is the JSON body of a webhook request.
type Payload struct {
	ID      string          `json:"id"` // delivery id
	Event   string          `json:"event"`
	Created time.Time       `json:"created"`
	Data    json.RawMessage `json:"data"`
}

// ReplyData is Payload.Data for reply.received.
type ReplyData struct {
	InboxID       string    `json:"inbox_id"`
	Kind          string    `json:"kind"`
	TypeCode      string    `json:"type_code,omitempty"`
	MessageID     string    `json:"message_id,omitempty"` // the original application, if linked
	OSCIMessageID string    `json:"osci_message_id"`
	ApplicationID string    `json:"antragsidentifikation,omitempty"`
	ReceivedAt    time.Time `json:"received_at"`
	Problem       string    `json:"problem,omitempty"`
	// Content is the XAusländer XML of the reply.
	Content string `json:"content,omitempty"`
}

// MessageData is Payload.Data for message events.
type MessageData struct {
	MessageID     string `json:"message_id"`
	State         string `json:"state"`
	OSCIMessageID string `json:"osci_message_id,omitempty"`
	ErrorCode     string `json:"error_code,omitempty"`
	Error         string `json:"error,omitempty"`
}

func (d *Dispatcher) payload(ctx context.Context, w *store.WebhookDelivery) ([]byte, error) {
	var data any
	switch {
	case strings.HasPrefix(w.Event, "reply."):
		it, err := d.cfg.Store.InboxItem(ctx, w.SubjectID, "", true)
		if err != nil {
			return nil, err
		}
		rd := ReplyData{InboxID: it.ID, Kind: it.Kind, TypeCode: it.TypeCode, MessageID: it.MessageID, OSCIMessageID: it.OSCIMessageID,
			ApplicationID: it.ApplicationID, ReceivedAt: it.ReceivedAt, Problem: it.Problem}
		if b, err := d.cfg.Store.Blob(ctx, it.ID, store.PartBody); err == nil {
			pt, err := d.cfg.Keys.Open(b.KeyID, b.Data, outbox.AAD(it.ID, store.PartBody))
			if err != nil {
				return nil, err
			}
			rd.Content = string(pt)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		data = rd
	default:
		m, err := d.cfg.Store.Get(ctx, w.SubjectID)
		if err != nil {
			return nil, err
		}
		data = MessageData{MessageID: m.ID, State: string(m.State), OSCIMessageID: m.OSCIMessageID, ErrorCode: m.LastErrorCode, Error: m.LastError}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Payload{ID: w.ID, Event: w.Event, Created: w.CreatedAt, Data: raw})
}

// Run delivers due webhooks until ctx ends, then waits for requests in
// flight (they are bounded by the HTTP timeout).
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	sem := make(chan struct{}, d.cfg.Workers)
	defer wg.Wait()
	for {
		free := d.cfg.Workers - int(d.inflight.Load())
		var batch []*store.WebhookDelivery
		if free > 0 {
			var err error
			batch, err = d.cfg.Store.ClaimWebhooks(ctx, d.cfg.Owner, d.cfg.Clock(), d.cfg.Lease, free)
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("webhook claim failed", "err", err)
			}
		}
		for _, w := range batch {
			if !d.start(w) {
				continue
			}
			sem <- struct{}{}
			d.inflight.Add(1)
			wg.Add(1)
			go func() {
				defer func() { d.working.Done(w.ID); <-sem; d.inflight.Add(-1); wg.Done(); d.Wake() }()
				d.deliver(context.WithoutCancel(ctx), w)
			}()
		}
		if len(batch) > 0 && len(batch) == free {
			continue
		}
		t := time.NewTimer(d.cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// DeliverDue claims and delivers all due webhooks once, synchronously (for
// tests and tools). It returns how many it delivered or retried; a
// delivery a worker of Run is still sending is left to that worker.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	batch, err := d.cfg.Store.ClaimWebhooks(ctx, d.cfg.Owner, d.cfg.Clock(), d.cfg.Lease, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range batch {
		if !d.start(w) {
			continue
		}
		d.deliver(ctx, w)
		d.working.Done(w.ID)
		n++
	}
	return n, nil
}

// start takes up a claimed delivery unless a worker of this process is
// still sending it: its lease ran out mid-request (a stalled database or
// receiver) and this process claimed it again. Both would pass every lease
// check (one owner id per process), so a second worker would post the
// same webhook again.
func (d *Dispatcher) start(w *store.WebhookDelivery) bool {
	if d.working.Start(w.ID) {
		return true
	}
	d.cfg.Logger.Warn("claimed a webhook delivery this process is still sending; left to that worker",
		"webhook_delivery", w.ID, "subscriber", w.Subscriber, "event", w.Event)
	return false
}

func (d *Dispatcher) deliver(ctx context.Context, w *store.WebhookDelivery) {
	log := d.cfg.Logger.With("webhook_delivery", w.ID, "subscriber", w.Subscriber, "event", w.Event, "attempt", w.Attempts+1)
	attempts := w.Attempts + 1
	finish := func(o store.WebhookOutcome) {
		o.Attempts = attempts
		if err := d.cfg.Store.FinishWebhook(ctx, w.ID, d.cfg.Owner, d.cfg.Clock(), o); err != nil {
			log.Error("recording webhook outcome failed", "err", err)
		}
	}
	sub, ok := d.subs[w.Subscriber]
	if !ok {
		// Removed from the configuration: keep the row for the record.
		finish(store.WebhookOutcome{State: store.WebhookFailed, Error: "subscriber no longer configured"})
		log.Warn("webhook subscriber no longer configured")
		return
	}
	retry := func(status int, reason, code string) {
		d.failed.Inc(sub.ID, code)
		if attempts >= d.cfg.Retry.MaxAttempts || status == http.StatusGone {
			finish(store.WebhookOutcome{State: store.WebhookFailed, Status: status, Error: reason})
			log.Error("webhook delivery given up", "status", status, "reason", reason)
			return
		}
		next := d.cfg.Clock().Add(d.cfg.Retry.Delay(attempts))
		finish(store.WebhookOutcome{State: store.WebhookPending, Status: status, Error: reason, NextAttemptAt: next})
		log.Warn("webhook delivery failed; will retry", "status", status, "reason", reason, "next_attempt", next)
	}
	body, err := d.payload(ctx, w)
	if err != nil {
		retry(0, "building payload: "+err.Error(), "payload")
		return
	}
	rctx, cancel := context.WithTimeout(ctx, d.cfg.HTTP.Timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		retry(0, err.Error(), "request")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "xagw-webhook/1")
	req.Header.Set(HeaderEvent, w.Event)
	req.Header.Set(HeaderDelivery, w.ID)
	req.Header.Set(HeaderSignature, Sign(sub.Secret, d.cfg.Clock(), body))
	start := time.Now()
	resp, err := d.cfg.HTTP.Do(req)
	d.latency.ObserveSince(start, sub.ID)
	if err != nil {
		retry(0, err.Error(), "network")
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		retry(resp.StatusCode, "HTTP "+resp.Status, strconv.Itoa(resp.StatusCode))
		return
	}
	finish(store.WebhookOutcome{State: store.WebhookDelivered, Status: resp.StatusCode})
	d.sent.Inc(sub.ID)
	log.Info("webhook delivered", "status", resp.StatusCode)
}

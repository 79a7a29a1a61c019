package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/store"
)

// Steps of a delivery attempt, used as metric labels and in logs.
const (
	stepRoute    = "route"
	stepID       = "message_id"
	stepSend     = "send"
	stepCard     = "process_card"
	stepBody     = "body"
	stepResponse = "response" // keeping and handing on a mediateDelivery's answer
)

// OSCI 1.2 feedback codes the send step treats specially.
const (
	// codeIDRefused: "MessageId unbekannt, nicht von diesem Intermediär
	// vergeben oder bereits verwendet". Already used means delivered —
	// possibly by an earlier attempt of the same message.
	codeIDRefused = "9801"
	// codeDeliveredWithError: "Interner Fehler bei der Weiterleitung,
	// Zustellung erfolgt".
	codeDeliveredWithError = "9810"
)

// codeResponseLost marks a delivered message whose mediated answer could not
// be kept (last_error_code of the delivered row).
const codeResponseLost = "response_lost"

// attempt carries one worker's progress on one claimed message. Timeline
// entries collect in events and are committed with the next transition,
// so the happy path costs few transactions without losing any entry.
type attempt struct {
	o      *Outbox
	m      *store.Message
	state  store.State
	route  gateway.Route
	rjson  []byte // route to persist with the next transition (nil: unchanged)
	osciID string // message id to persist with the next transition
	events []store.Event
	// unused: the stored OSCI message id is proven to carry no delivery (a
	// verified refusal, or a process card showing none after the send had
	// ended). Persisted as the resume marker (store.Message.ResumeState),
	// it lets a later attempt take a new id if the card still shows none —
	// the only way a message that was sent gets a new id.
	unused bool
	// sendOK: Send returned without error in this attempt, so whether the
	// passive recipient answered (mediate scenario) is known.
	sendOK bool
	// answer is the passive recipient's answer, kept in the store by this
	// attempt (nil: none, or not received in this attempt).
	answer *Answer
}

func (a *attempt) note(kind string, st store.State, reason string) {
	a.events = append(a.events, store.Event{Kind: kind, State: st, Reason: reason, At: a.o.cfg.Clock()})
}

// marker is the resume marker a live transition persists (see unused).
func (a *attempt) marker() store.State {
	if a.unused && a.state == store.StateSending {
		return store.StateAccepted
	}
	return ""
}

// process runs one attempt on a claimed message. ctx is cancelled only at
// the drain deadline of a shutdown.
func (o *Outbox) process(ctx context.Context, m *store.Message) {
	a := &attempt{o: o, m: m, state: m.State,
		unused: m.State == store.StateSending && m.ResumeState == store.StateAccepted && m.OSCIMessageID != ""}
	log := o.cfg.Logger.With("message_id", m.ID, "state", string(m.State), "attempt", m.Attempts+1)

	if m.State == store.StateRouted || m.State == store.StateSending || m.State == store.StateSent {
		r, err := routeOf(m)
		if err != nil {
			// A row without a usable route cannot be in these states
			// unless the database was edited; start over from routing,
			// except when a send may have happened (no way to ask).
			if m.State == store.StateRouted {
				a.state = store.StateAccepted
			} else {
				a.fail(ctx, log, stepCard, gateway.Permanent("route_missing", err))
				return
			}
		} else {
			a.route = r
		}
	}

	switch a.state {
	case store.StateSending, store.StateSent:
		// The outcome of an earlier send is open (crash, lost response,
		// expired lease, revival): ask the intermediary before anything else.
		card, err := a.card(ctx)
		if err != nil {
			a.fail(ctx, log, stepCard, err)
			return
		}
		if card.Exists {
			a.note(store.EventResolved, store.StateSent, "process card shows the message at the intermediary")
			a.delivered(ctx, log, card)
			return
		}
		if a.state == store.StateSent {
			a.fail(ctx, log, stepCard, gateway.Temporary("card_missing", errors.New("intermediary accepted the delivery but has no process card for it yet")))
			return
		}
		if a.unused {
			a.restart(ctx, log)
			return
		}
		a.note(store.EventResolved, store.StateSending, "process card: not at the intermediary; sending again with the same message id")
		a.send(ctx, log)
	case store.StateAccepted, store.StateRouted:
		a.begin(ctx, log)
	default:
		log.Error("claimed a message in a state no worker handles")
	}
}

// restart forgets a stored OSCI message id that is proven to carry no
// delivery and that the process card still shows without one, so the
// message starts over with a fresh route and id. It ends the attempt (the
// message is due at once): one attempt makes at most four calls, which the
// lease is sized for.
func (a *attempt) restart(ctx context.Context, log *slog.Logger) {
	old := a.m.OSCIMessageID
	a.events = append(a.events, store.Event{Kind: store.EventResolved, State: store.StateAccepted, OSCIMessageID: old, At: a.o.cfg.Clock(),
		Reason: "process card: no delivery under this message id, which was proven unused; starting over with a new route and message id"})
	a.state, a.unused = store.StateAccepted, false
	if a.apply(ctx, log, store.Transition{State: store.StateAccepted, Attempts: a.m.Attempts, NextAttemptAt: a.o.cfg.Clock(), ClearOSCI: true}) {
		log.Info("earlier message id proven unused; starting over with a new one", "old_osci_message_id", old)
	}
}

// begin routes (from accepted), obtains a message id, commits it together
// with "sending" and sends.
func (a *attempt) begin(ctx context.Context, log *slog.Logger) {
	o, m := a.o, a.m
	if a.state == store.StateAccepted {
		rctx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout)
		t := time.Now()
		r, err := o.cfg.Router.Route(rctx, m.Recipient, m.Version)
		cancel()
		o.m.step(stepRoute, t)
		if err != nil {
			a.fail(ctx, log, stepRoute, err)
			return
		}
		rj, err := json.Marshal(r)
		if err != nil {
			a.fail(ctx, log, stepRoute, gateway.Permanent("route_encoding", err))
			return
		}
		a.route, a.rjson, a.state = r, rj, store.StateRouted
		a.note(store.EventRouted, store.StateRouted, "intermediary "+r.IntermediaryURL+", scenario "+string(r.Scenario))
	}
	ictx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout)
	t := time.Now()
	id, err := o.cfg.Transport.NewMessageID(ictx, a.route)
	cancel()
	o.m.step(stepID, t)
	if err != nil {
		a.fail(ctx, log, stepID, err)
		return
	}
	a.osciID = id
	a.note(store.EventIDObtained, store.StateRouted, "")
	// The id is committed before the send starts: from here on a crash
	// leaves "sending", which is resolved by process card.
	a.note(store.EventSending, store.StateSending, "")
	if !a.apply(ctx, log, store.Transition{State: store.StateSending, Attempts: m.Attempts, KeepLease: true}) {
		return
	}
	a.state = store.StateSending
	a.send(ctx, log)
}

// send delivers the body with the stored message id and finishes the
// attempt. a.state is StateSending and committed.
func (a *attempt) send(ctx context.Context, log *slog.Logger) {
	o, m := a.o, a.m
	body, err := o.Body(ctx, m.ID)
	if err != nil {
		// Without the body (purged, key missing) nothing can be sent;
		// this needs an operator.
		a.fail(ctx, log, stepBody, gateway.Permanent("body_unavailable", err))
		return
	}
	sctx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout)
	t := time.Now()
	sent, err := o.cfg.Transport.Send(sctx, gateway.Outgoing{MessageID: a.currentOSCI(), Subject: "XAusländer " + m.TypeCode, Content: body, Route: a.route})
	cancel()
	o.m.step(stepSend, t)
	if err != nil {
		a.sendFailed(ctx, log, err)
		return
	}
	a.sendOK = true
	a.note(store.EventSent, store.StateSent, "")
	if sent.Response != nil {
		// The passive recipient's answer exists only in this response:
		// keep it, sealed, in the same transaction that records the
		// delivery, before anything else can fail. Its signer is kept
		// with it: a hand-over after a restart must judge the answer
		// exactly as this one would.
		ans := &Answer{Content: sent.Response, SignerCert: sent.ResponseSigner}
		blobs, err := a.sealAnswer(ans)
		if err != nil {
			a.fail(ctx, log, stepResponse, err)
			return
		}
		signed := "its content carries no verified signature"
		if len(ans.SignerCert) > 0 {
			signed = "its content is signed by certificate sha256:" + fingerprint(ans.SignerCert)
		}
		a.note(store.EventResponseKept, store.StateSent, fmt.Sprintf("the recipient's answer (%d bytes) is stored with the message; %s", len(sent.Response), signed))
		if !a.apply(ctx, log, store.Transition{State: store.StateSent, Attempts: m.Attempts, KeepLease: true, Blobs: blobs}) {
			return
		}
		a.state, a.answer = store.StateSent, ans
	}
	card := sent.Card
	if card == nil || !card.Exists {
		if a.state != store.StateSent {
			if !a.apply(ctx, log, store.Transition{State: store.StateSent, Attempts: m.Attempts, KeepLease: true}) {
				return
			}
			a.state = store.StateSent
		}
		c, err := a.card(ctx)
		if err != nil {
			a.fail(ctx, log, stepCard, err)
			return
		}
		if !c.Exists {
			a.fail(ctx, log, stepCard, gateway.Temporary("card_missing", errors.New("intermediary accepted the delivery but has no process card for it yet")))
			return
		}
		card = &c
	}
	a.delivered(ctx, log, *card)
}

// refused reports whether err proves that the intermediary (or passive
// recipient) rejected the order itself, so nothing was delivered: a verified
// refusal (osci.FeedbackError.Refused). Unsigned faults, responses that
// could not be read or verified, 9801, 9810 and unknown codes prove nothing.
func refused(err error) bool {
	var r interface{ Refused() bool }
	return errors.As(err, &r) && r.Refused()
}

// sendFailed decides what a failed delivery call means for exactly-once.
// Only a verified refusal proves that nothing was delivered. Every other
// permanent failure — a response that could not be parsed, decrypted or
// verified, an unsigned fault, 9801, 9810, an unknown code — leaves the
// outcome open: the intermediary may hold the delivery. Such a failure is
// resolved through the process card at once; retryable ones are resolved by
// the card check that starts the next attempt.
func (a *attempt) sendFailed(ctx context.Context, log *slog.Logger, err error) {
	if refused(err) {
		a.unused = true
	}
	if ctx.Err() != nil || a.unused || gateway.IsRetryable(err) {
		a.fail(ctx, log, stepSend, err)
		return
	}
	code := gateway.ErrorCode(err)
	card, cerr := a.card(ctx)
	if cerr != nil || card.Exists {
		// fail counts the other outcomes.
		a.o.m.failures.Inc(stepSend, code)
	}
	if cerr != nil {
		// Cannot tell now; the state stays "sending" (or a dead letter
		// resuming there), so the card is asked before any resend.
		a.events = append(a.events, store.Event{Kind: store.EventFailed, State: a.state, Code: code,
			Reason: fmt.Sprintf("%s: %v (outcome open)", stepSend, err), At: a.o.cfg.Clock()})
		a.fail(ctx, log, stepCard, cerr)
		return
	}
	if card.Exists {
		a.events = append(a.events, store.Event{Kind: store.EventFailed, State: a.state, Code: code,
			Reason: fmt.Sprintf("%s: %v (outcome open)", stepSend, err), At: a.o.cfg.Clock()})
		a.note(store.EventResolved, store.StateSent, "process card shows the message at the intermediary despite the failed send")
		log.Warn("send failed but the process card shows the delivery", "code", code, "err", err)
		a.delivered(ctx, log, card)
		return
	}
	switch code {
	case codeIDRefused:
		// The intermediary refuses the id and holds no delivery under it:
		// the id is unknown to it, expired or not issued by it, and can
		// never carry a delivery. Try again with a new one.
		a.unused = true
		a.fail(ctx, log, stepSend, gateway.Temporary(code, fmt.Errorf("%w; the process card shows no delivery under this id, so the next attempt takes a new one", err)))
	case codeDeliveredWithError:
		// The intermediary says it delivered, its process card says it
		// holds nothing. Trust neither: no resend and no new id without
		// an operator; a revival asks the card again first.
		a.fail(ctx, log, stepSend, fmt.Errorf("%w; but the process card shows no delivery: check with the intermediary's operator before retrying", err))
	default:
		// The send is over and the card shows no delivery under the id.
		a.unused = true
		a.fail(ctx, log, stepSend, err)
	}
}

func (a *attempt) card(ctx context.Context) (gateway.ProcessCard, error) {
	o := a.o
	id := a.osciID
	if id == "" {
		id = a.m.OSCIMessageID
	}
	if id == "" {
		return gateway.ProcessCard{Exists: false}, nil
	}
	cctx, cancel := context.WithTimeout(ctx, o.cfg.CallTimeout)
	defer cancel()
	t := time.Now()
	c, err := o.cfg.Transport.ProcessCard(cctx, a.route, id)
	o.m.step(stepCard, t)
	return c, err
}

func (a *attempt) delivered(ctx context.Context, log *slog.Logger, card gateway.ProcessCard) {
	o, m := a.o, a.m
	t := store.Transition{State: store.StateDelivered, Attempts: m.Attempts}
	if a.route.Scenario == gateway.ScenarioMediate {
		ok, lost := a.handOver(ctx, log)
		if !ok {
			return
		}
		if lost {
			a.note(store.EventResponseLost, store.StateSent, "the intermediary confirms the delivery, but the recipient's synchronous answer never reached the store; OSCI cannot fetch it again")
			t.ErrorCode, t.Error = codeResponseLost, "delivered, but the recipient's synchronous answer (mediateDelivery) was lost before it could be stored"
			log.Error("mediated delivery confirmed but the recipient's answer was lost", "osci_message_id", a.currentOSCI())
		}
	}
	now := o.cfg.Clock()
	reason := ""
	if !card.Created.IsZero() {
		reason = "intermediary received it at " + card.Created.UTC().Format(time.RFC3339)
	}
	a.note(store.EventReceipt, store.StateSent, reason)
	a.note(store.EventDelivered, store.StateDelivered, "")
	t.DeliveredAt = now
	if o.cfg.Notify != nil {
		t.Webhooks = withSubject(o.cfg.Notify(EventMessageDelivered, m.ClientID), m.ID)
	}
	if !a.apply(ctx, log, t) {
		return
	}
	o.m.delivered.Inc()
	o.m.deliverySeconds.Observe(now.Sub(m.CreatedAt).Seconds())
	log.Info("message delivered", "osci_message_id", a.currentOSCI())
}

// handOver makes sure a passive recipient's answer to a mediateDelivery is
// kept and handed to OnResponse before the message counts as delivered.
// ok=false: the attempt ended (a retry is scheduled). lost: the answer can
// no longer be had, because the send's outcome was learned from the process
// card (crash, or a response that could not be read) and no earlier attempt
// stored an answer.
func (a *attempt) handOver(ctx context.Context, log *slog.Logger) (ok, lost bool) {
	o := a.o
	answer := a.answer
	if answer == nil && !a.sendOK {
		b, err := o.Part(ctx, a.m.ID, store.PartResponse)
		switch {
		case err == nil:
			answer = &Answer{Content: b}
		case errors.Is(err, store.ErrNotFound):
			// "sent" is committed together with the answer, so a
			// message that reached "sent" without one had none.
			return true, a.state != store.StateSent
		default:
			a.fail(ctx, log, stepResponse, err)
			return false, false
		}
		// No signer part: the answer was not attributable to a signer
		// (or was kept by a version that did not store one), and the
		// reply side keeps it as unverified.
		switch sig, err := o.Part(ctx, a.m.ID, store.PartResponseSigner); {
		case err == nil:
			answer.SignerCert = sig
		case !errors.Is(err, store.ErrNotFound):
			a.fail(ctx, log, stepResponse, err)
			return false, false
		}
	}
	if answer == nil || o.cfg.OnResponse == nil {
		return true, false
	}
	mm := *a.m
	mm.OSCIMessageID = a.currentOSCI()
	// The claimed row has no route on a first attempt; the reply side
	// checks the answer's signer against the route it was sent along.
	rj, err := json.Marshal(a.route)
	if err != nil {
		a.fail(ctx, log, stepResponse, err)
		return false, false
	}
	mm.Route = rj
	if err := o.cfg.OnResponse(ctx, &mm, *answer); err != nil {
		// The answer is safe in the store; the message stays short of
		// "delivered" and the hand-over is tried again.
		a.fail(ctx, log, stepResponse, err)
		return false, false
	}
	return true, false
}

// sealAnswer seals a mediated answer and its signer for the transition
// that records the delivery.
func (a *attempt) sealAnswer(ans *Answer) ([]store.Blob, error) {
	keys, id := a.o.cfg.Keys, a.m.ID
	keyID, sealed, err := keys.Seal(ans.Content, AAD(id, store.PartResponse))
	if err != nil {
		return nil, err
	}
	blobs := []store.Blob{{Part: store.PartResponse, KeyID: keyID, Data: sealed, Size: int64(len(ans.Content))}}
	if len(ans.SignerCert) > 0 {
		keyID, sealed, err := keys.Seal(ans.SignerCert, AAD(id, store.PartResponseSigner))
		if err != nil {
			return nil, err
		}
		blobs = append(blobs, store.Blob{Part: store.PartResponseSigner, KeyID: keyID, Data: sealed, Size: int64(len(ans.SignerCert))})
	}
	return blobs, nil
}

func fingerprint(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
}

func (a *attempt) currentOSCI() string {
	if a.osciID != "" {
		return a.osciID
	}
	return a.m.OSCIMessageID
}

// fail records a failed step: a retry at the backoff computed from the
// stored attempt count, or a dead letter for permanent errors and
// exhausted attempts. A step interrupted by shutdown is released for the
// next start without counting as an attempt.
func (a *attempt) fail(ctx context.Context, log *slog.Logger, step string, err error) {
	o, m := a.o, a.m
	code := gateway.ErrorCode(err)
	reason := fmt.Sprintf("%s: %v", step, err)
	if ctx.Err() != nil {
		a.note(store.EventFailed, a.state, "interrupted by shutdown during "+step)
		if a.apply(ctx, log, store.Transition{State: a.state, Attempts: m.Attempts, NextAttemptAt: o.cfg.Clock(), ErrorCode: "interrupted", Error: "interrupted by shutdown during " + step}) {
			log.Warn("delivery interrupted by shutdown", "step", step)
		}
		return
	}
	o.m.failures.Inc(step, code)
	attempts := m.Attempts + 1
	permanent := !gateway.IsRetryable(err)
	if permanent || attempts >= o.cfg.Retry.MaxAttempts {
		// Where a revived message continues. A message that may have
		// been sent resumes in "sending": Revive keeps its id and the
		// worker asks the process card first. The marker (unused) lets a
		// revival take a new id only if the card still shows none.
		resume := store.StateAccepted
		if (a.state == store.StateSending || a.state == store.StateSent) && !a.unused {
			resume = store.StateSending
		}
		why := "permanent error"
		if !permanent {
			why = fmt.Sprintf("%d attempts exhausted", attempts)
		}
		a.events = append(a.events, store.Event{Kind: store.EventFailed, State: a.state, Code: code, Reason: reason, At: o.cfg.Clock()},
			store.Event{Kind: store.EventDead, State: store.StateDead, Code: code, Reason: why})
		t := store.Transition{State: store.StateDead, ResumeState: resume, Attempts: attempts, ErrorCode: code, Error: reason}
		if o.cfg.Notify != nil {
			t.Webhooks = withSubject(o.cfg.Notify(EventMessageDead, m.ClientID), m.ID)
		}
		if a.apply(ctx, log, t) {
			o.m.dead.Inc(code)
			log.Error("message dead-lettered", "step", step, "code", code, "reason", why, "err", err)
		}
		return
	}
	next := o.cfg.Clock().Add(o.cfg.Retry.Delay(attempts))
	a.events = append(a.events, store.Event{Kind: store.EventFailed, State: a.state, Code: code,
		Reason: reason + "; next attempt " + next.UTC().Format(time.RFC3339), At: o.cfg.Clock()})
	if a.apply(ctx, log, store.Transition{State: a.state, Attempts: attempts, NextAttemptAt: next, ErrorCode: code, Error: reason}) {
		log.Warn("delivery attempt failed; will retry", "step", step, "code", code, "next_attempt", next, "err", err)
	}
}

// apply commits a transition with the collected events. The database write
// must happen even while a shutdown cancels ctx.
func (a *attempt) apply(ctx context.Context, log *slog.Logger, t store.Transition) bool {
	o := a.o
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	t.Events = a.events
	if a.rjson != nil {
		t.Route = a.rjson
	}
	if a.osciID != "" {
		t.OSCIMessageID = a.osciID
	}
	if t.KeepLease {
		t.LeaseUntil = o.cfg.Clock().Add(o.cfg.Lease)
	}
	if !t.State.Terminal() && t.ResumeState == "" {
		t.ResumeState = a.marker()
	}
	err := o.cfg.Store.Apply(dctx, a.m.ID, o.cfg.Owner, o.cfg.Clock(), t)
	if err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			o.m.leaseLost.Inc()
			log.Warn("lease lost; another worker owns the message now")
		} else {
			log.Error("recording a state change failed", "to", string(t.State), "err", err)
		}
		return false
	}
	a.events, a.rjson = nil, nil
	return true
}

func withSubject(hooks []store.NewWebhook, id string) []store.NewWebhook {
	for i := range hooks {
		hooks[i].SubjectID = id
	}
	return hooks
}

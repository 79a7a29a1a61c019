// Package gatewaytest provides test implementations of the gateway's ports
// that behave like the real parts and can be told to fail the way they fail:
// an in-memory OSCI intermediary (Transport and Mailbox), a static DVDV
// router, and a header-reading XAusländer codec.
//
// They exist for the gateway's own tests while the real xauslaender, dvdv
// and osci packages are being finished. The state machine, store, API and
// webhooks are tested against them; the end-to-end test over the real OSCI
// client and test intermediary replaces them where it matters (phase 2,
// docs/notes/issue-5.md).
package gatewaytest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/osci"
)

// FeedbackError is an OSCI-like feedback error with a code and a retry
// classification, as the real OSCI client returns. For the errors the fake
// intermediary produces itself, Transport returns the real
// *osci.FeedbackError, so their classification is osci's own.
type FeedbackError struct {
	FeedbackCode string
	Temporary    bool
	Text         string
	// Verified: the feedback came in a response whose signature verified
	// (osci.FeedbackError.Verified). Only verified feedback can be a
	// refusal.
	Verified bool
}

// Refused reports, as osci.FeedbackError.Refused does for the same code,
// whether the feedback proves that the order was not carried out.
func (e *FeedbackError) Refused() bool {
	return !e.Temporary && (&osci.FeedbackError{Feedback: osci.NewFeedback(osci.Code(e.FeedbackCode)), Verified: e.Verified}).Refused()
}

func (e *FeedbackError) Error() string {
	return fmt.Sprintf("osci feedback %s: %s", e.FeedbackCode, e.Text)
}

// Retryable reports whether the failure is temporary.
func (e *FeedbackError) Retryable() bool { return e.Temporary }

// Code returns the feedback code.
func (e *FeedbackError) Code() string { return e.FeedbackCode }

// Op names a transport operation for fault injection.
type Op string

// Transport operations.
const (
	OpNewMessageID Op = "getMessageId"
	OpSend         Op = "send"
	OpProcessCard  Op = "fetchProcessCard"
)

// Fault is one scripted failure.
type Fault struct {
	// Err is returned by the call.
	Err error
	// AfterStore makes Send store the delivery before returning Err: the
	// intermediary got it, the response was lost (the crash-after-send
	// case).
	AfterStore bool
	// Block, when non-nil, makes the call wait until it is closed or the
	// context ends (to simulate a hang or a kill during the call).
	Block chan struct{}
}

// Delivery is a message stored at the fake intermediary.
type Delivery struct {
	MessageID string
	Authority string
	Content   []byte
	Subject   string
	Created   time.Time
}

// Transport is an in-memory OSCI intermediary implementing
// gateway.Transport. It enforces what the real one enforces: a delivery
// needs an issued message id, and a message id is delivered at most once.
// Both are refused as osci/intermediary refuses them: a verified
// *osci.FeedbackError with code 9801 ("MessageId unbekannt, nicht von
// diesem Intermediär vergeben oder bereits verwendet"), which is permanent
// and not a refusal of the delivery (it may have been delivered before).
type Transport struct {
	mu         sync.Mutex
	now        func() time.Time
	next       int
	issued     map[string]bool
	stored     map[string]*Delivery
	order      []string
	faults     map[Op][]Fault
	calls      map[Op]int
	sendHook   func(out gateway.Outgoing)
	answer     func(out gateway.Outgoing) []byte
	answerSig  []byte
	cardInSend bool
}

// NewTransport returns an empty fake intermediary.
func NewTransport() *Transport {
	return &Transport{now: time.Now, issued: map[string]bool{}, stored: map[string]*Delivery{},
		faults: map[Op][]Fault{}, calls: map[Op]int{}, cardInSend: true}
}

// CardInSendResponse controls whether Send returns the process card with
// its response, as OSCI's responseToStoreDelivery does (default true).
// With false the gateway must fetch the card separately.
func (t *Transport) CardInSendResponse(on bool) {
	t.mu.Lock()
	t.cardInSend = on
	t.mu.Unlock()
}

// Script queues faults for the next calls of op, one per call.
func (t *Transport) Script(op Op, faults ...Fault) {
	t.mu.Lock()
	t.faults[op] = append(t.faults[op], faults...)
	t.mu.Unlock()
}

// Answer makes the passive recipient answer mediated deliveries
// (ScenarioMediate routes): fn's result becomes Sent.Response, the
// synchronous answer OSCI's mediateDelivery returns and cannot fetch again.
// A Send that fails after storing (Fault.AfterStore) loses the answer. fn
// runs under t's lock and must not call t.
func (t *Transport) Answer(fn func(out gateway.Outgoing) []byte) {
	t.mu.Lock()
	t.answer = fn
	t.mu.Unlock()
}

// SignAnswers sets the certificate (DER) the transport reports as the
// verified signer of every answer (Sent.ResponseSigner); nil (the default)
// reports answers not attributable to a signer. The real transport takes
// it from the answer's content-container signature.
func (t *Transport) SignAnswers(der []byte) {
	t.mu.Lock()
	t.answerSig = der
	t.mu.Unlock()
}

// OnSend installs a hook called with every Send before it is processed.
func (t *Transport) OnSend(fn func(out gateway.Outgoing)) {
	t.mu.Lock()
	t.sendHook = fn
	t.mu.Unlock()
}

// Calls returns how often op was called.
func (t *Transport) Calls(op Op) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls[op]
}

// Deliveries returns the stored deliveries in arrival order.
func (t *Transport) Deliveries() []Delivery {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Delivery, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, *t.stored[id])
	}
	return out
}

// CountContent returns how many stored deliveries have exactly content
// (to check exactly-once delivery of one message).
func (t *Transport) CountContent(content []byte) int {
	h := sha256.Sum256(content)
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, d := range t.stored {
		if sha256.Sum256(d.Content) == h {
			n++
		}
	}
	return n
}

func (t *Transport) take(ctx context.Context, op Op) (Fault, bool, error) {
	t.mu.Lock()
	t.calls[op]++
	var f Fault
	ok := false
	if q := t.faults[op]; len(q) > 0 {
		f, ok = q[0], true
		t.faults[op] = q[1:]
	}
	t.mu.Unlock()
	if ok && f.Block != nil {
		select {
		case <-f.Block:
		case <-ctx.Done():
			return f, ok, ctx.Err()
		}
	}
	return f, ok, ctx.Err()
}

// NewMessageID issues a fresh message id.
func (t *Transport) NewMessageID(ctx context.Context, route gateway.Route) (string, error) {
	f, faulty, err := t.take(ctx, OpNewMessageID)
	if err != nil {
		return "", err
	}
	if faulty && f.Err != nil {
		return "", f.Err
	}
	if route.IntermediaryURL == "" {
		return "", &FeedbackError{FeedbackCode: "9999", Text: "route without intermediary URL"}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next++
	id := fmt.Sprintf("osci-%06d", t.next)
	t.issued[id] = true
	return id, nil
}

// Send stores out under its message id.
func (t *Transport) Send(ctx context.Context, out gateway.Outgoing) (gateway.Sent, error) {
	t.mu.Lock()
	hook := t.sendHook
	t.mu.Unlock()
	if hook != nil {
		hook(out)
	}
	f, faulty, err := t.take(ctx, OpSend)
	if err != nil {
		return gateway.Sent{}, err
	}
	if faulty && f.Err != nil && !f.AfterStore {
		return gateway.Sent{}, f.Err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.issued[out.MessageID] {
		return gateway.Sent{}, idRefused()
	}
	if _, dup := t.stored[out.MessageID]; dup {
		return gateway.Sent{}, idRefused()
	}
	d := &Delivery{MessageID: out.MessageID, Authority: out.Route.Authority, Content: append([]byte(nil), out.Content...), Subject: out.Subject, Created: t.now()}
	t.stored[out.MessageID] = d
	t.order = append(t.order, out.MessageID)
	if faulty && f.Err != nil {
		return gateway.Sent{}, f.Err // stored, but the caller never hears of it
	}
	s := gateway.Sent{At: d.Created}
	if out.Route.Scenario == gateway.ScenarioMediate && t.answer != nil {
		if s.Response = t.answer(out); s.Response != nil {
			s.ResponseSigner = t.answerSig
		}
	}
	if t.cardInSend {
		s.Card = &gateway.ProcessCard{Exists: true, Created: d.Created}
	}
	return s, nil
}

// idRefused is the intermediary's answer to an order with a message id it
// did not issue or that was used already (OSCI 1.2 feedback 9801, signed).
func idRefused() error {
	return &osci.FeedbackError{Feedback: osci.NewFeedback(osci.CodeIllegalMessageID), Verified: true}
}

// Forget makes the fake intermediary forget that it issued messageID, as an
// intermediary does when ids expire or after it lost its state: a later
// delivery under that id is refused with 9801 and no delivery exists.
func (t *Transport) Forget(messageID string) {
	t.mu.Lock()
	delete(t.issued, messageID)
	t.mu.Unlock()
}

// ProcessCard reports whether messageID was stored.
func (t *Transport) ProcessCard(ctx context.Context, route gateway.Route, messageID string) (gateway.ProcessCard, error) {
	f, faulty, err := t.take(ctx, OpProcessCard)
	if err != nil {
		return gateway.ProcessCard{}, err
	}
	if faulty && f.Err != nil {
		return gateway.ProcessCard{}, f.Err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.stored[messageID]
	if !ok {
		return gateway.ProcessCard{Exists: false}, nil
	}
	return gateway.ProcessCard{Exists: true, Created: d.Created}, nil
}

// Router is a static DVDV directory implementing gateway.Router.
type Router struct {
	mu     sync.Mutex
	routes map[string]gateway.Route
	faults []error
	calls  int
}

// NewRouter returns a router that knows the given authorities, each routed
// to intermediaryURL with the store scenario.
func NewRouter(intermediaryURL string, authorities ...string) *Router {
	r := &Router{routes: map[string]gateway.Route{}}
	for _, a := range authorities {
		r.routes[a] = gateway.Route{Authority: a, Service: "urn:test:xauslaender", IntermediaryURL: intermediaryURL, Scenario: gateway.ScenarioStore}
	}
	return r
}

// Set replaces the route of r.Authority (e.g. to test the mediate
// scenario). Route still fills in Service.
func (r *Router) Set(route gateway.Route) {
	r.mu.Lock()
	r.routes[route.Authority] = route
	r.mu.Unlock()
}

// Fail queues errors for the next Route calls.
func (r *Router) Fail(errs ...error) {
	r.mu.Lock()
	r.faults = append(r.faults, errs...)
	r.mu.Unlock()
}

// Calls returns the number of Route calls.
func (r *Router) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Route returns the configured route or a permanent "no service" error.
func (r *Router) Route(ctx context.Context, authority, version string) (gateway.Route, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if len(r.faults) > 0 {
		err := r.faults[0]
		r.faults = r.faults[1:]
		return gateway.Route{}, err
	}
	rt, ok := r.routes[authority]
	if !ok {
		return gateway.Route{}, gateway.Permanent("no_service", fmt.Errorf("dvdv: no XAusländer service for authority %q", authority))
	}
	rt.Service = "urn:test:xauslaender:" + version
	return rt, nil
}

package outbox_test

// Regression tests for the security review's finding 1 (and 10): a send
// that fails after the intermediary stored the delivery must never lead to
// a second delivery, whatever the error and whether or not an operator
// revives the message.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/osci"
)

func verified(code osci.Code) error {
	return &osci.FeedbackError{Feedback: osci.NewFeedback(code), Verified: true}
}

// ambiguous are permanent send errors that do not prove a refusal: the
// intermediary may hold the delivery. Each is what osci.Client returns in
// the case named.
var ambiguous = map[string]error{
	"response signature fails the policy": &osci.SignatureError{Block: "SupplierSignature", Err: errors.New("certificate expired")},
	"response refused by our parser":      &osci.ParseError{Reason: "unexpected element"},
	"response cannot be decrypted":        &osci.DecryptError{What: "transport key", Err: errors.New("wrong key")},
	"9810 delivered with internal error":  verified("9810"),
	"9801 id already used":                verified(osci.CodeIllegalMessageID),
	"unknown feedback code":               verified("9999"),
	"unsigned fault with a refusal code":  &osci.FaultError{FaultCode: "soap:Client", OSCICode: "9601"},
	"HTTP 400 after the request":          &osci.HTTPError{Status: 400},
	"unclassified permanent error":        gateway.Permanent("odd", errors.New("something odd")),
}

// runUntil starts an outbox, waits for one of want, and stops it.
func runUntil(t *testing.T, e *env, ids []string, want ...store.State) *store.Message {
	t.Helper()
	stop := start(t, e.outbox())
	waitStates(t, e.s, ids, want...)
	stop()
	m, err := e.s.Get(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func timeline(t *testing.T, s *store.Store, id string) string {
	return strings.Join(kinds(t, s, id), " ")
}

// The intermediary stores the delivery, then the call fails permanently
// without proving a refusal. The message is delivered, once, without a
// dead letter: the process card is asked at once.
func TestStoredThenPermanentErrorIsDeliveredOnce(t *testing.T) {
	for name, sendErr := range ambiguous {
		t.Run(name, func(t *testing.T) {
			gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
				e := newEnv(t, s)
				e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Err: sendErr, AfterStore: true})
				ids, bodies := submitN(t, e.outbox(), 1, "Dup")
				m := runUntil(t, e, ids, store.StateDelivered, store.StateDead)
				if m.State != store.StateDelivered {
					t.Fatalf("state %s (%s: %s), want delivered", m.State, m.LastErrorCode, m.LastError)
				}
				if n := e.tr.CountContent(bodies[0]); n != 1 {
					t.Fatalf("stored at the intermediary %d times", n)
				}
				if e.tr.Calls(gatewaytest.OpSend) != 1 || e.tr.Calls(gatewaytest.OpNewMessageID) != 1 {
					t.Fatalf("%d sends, %d message ids", e.tr.Calls(gatewaytest.OpSend), e.tr.Calls(gatewaytest.OpNewMessageID))
				}
				if tl := timeline(t, s, ids[0]); !strings.Contains(tl, "sending failed resolved_after_uncertain_send receipt_confirmed delivered") {
					t.Fatalf("timeline %s", tl)
				}
			})
		})
	}
}

// Stored, then a permanent error, and the process card cannot be read
// either (the intermediary's signature certificate expired: every response
// fails). The message is dead-lettered resuming in "sending"; after the
// operator fixes the configuration and revives it, the card is asked
// first and the application is held exactly once.
func TestStoredThenPermanentErrorAndCardFailsRevivesOnce(t *testing.T) {
	for name, sendErr := range ambiguous {
		t.Run(name, func(t *testing.T) {
			gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
				e := newEnv(t, s)
				e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Err: sendErr, AfterStore: true})
				e.tr.Script(gatewaytest.OpProcessCard, gatewaytest.Fault{Err: &osci.SignatureError{Block: "SupplierSignature", Err: errors.New("certificate expired")}})
				ids, bodies := submitN(t, e.outbox(), 1, "Dup")
				m := runUntil(t, e, ids, store.StateDead)
				if m.ResumeState != store.StateSending || m.OSCIMessageID == "" {
					t.Fatalf("dead letter resumes at %q with id %q; want sending with the id kept", m.ResumeState, m.OSCIMessageID)
				}
				r, err := s.Revive(context.Background(), ids[0], "c1", false, time.Now())
				if err != nil || r.State != store.StateSending {
					t.Fatalf("revive: %v %+v", err, r)
				}
				m = runUntil(t, e, ids, store.StateDelivered)
				if n := e.tr.CountContent(bodies[0]); n != 1 {
					t.Fatalf("DUPLICATE: stored at the intermediary %d times", n)
				}
				if e.tr.Calls(gatewaytest.OpSend) != 1 || e.tr.Calls(gatewaytest.OpNewMessageID) != 1 {
					t.Fatalf("%d sends, %d message ids after revival", e.tr.Calls(gatewaytest.OpSend), e.tr.Calls(gatewaytest.OpNewMessageID))
				}
				if tl := timeline(t, s, ids[0]); !strings.Contains(tl, "dead_lettered revived resolved_after_uncertain_send receipt_confirmed delivered") {
					t.Fatalf("timeline %s", tl)
				}
			})
		})
	}
}

// The call fails permanently and the intermediary did not store anything.
// The card (asked at once) shows no delivery, which proves the id unused:
// a revival takes a new id, but only after the card still shows none. A
// 9801 with no delivery under the id means the intermediary will never
// accept that id: the outbox takes a new one by itself. 9810 ("delivered")
// contradicted by the card is left to an operator and resent under the
// same id.
func TestPermanentErrorWithoutDeliveryRestartsOnlyAfterProcessCard(t *testing.T) {
	for name, sendErr := range ambiguous {
		t.Run(name, func(t *testing.T) {
			gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
				e := newEnv(t, s)
				e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Err: sendErr})
				ids, bodies := submitN(t, e.outbox(), 1, "X")
				m := runUntil(t, e, ids, store.StateDelivered, store.StateDead)
				code := gateway.ErrorCode(sendErr)
				wantIDs := 2
				switch code {
				case "9801":
					if m.State != store.StateDelivered {
						t.Fatalf("9801 with no delivery under the id: %s, want delivered with a new id", m.State)
					}
				case "9810":
					if m.State != store.StateDead || m.ResumeState != store.StateSending {
						t.Fatalf("9810 contradicted by the card: %s resume %q, want dead resuming in sending", m.State, m.ResumeState)
					}
					wantIDs = 1
				default:
					if m.State != store.StateDead || m.ResumeState != store.StateAccepted || m.OSCIMessageID == "" {
						t.Fatalf("%s resume %q id %q, want dead, resume accepted, id kept", m.State, m.ResumeState, m.OSCIMessageID)
					}
				}
				if m.State == store.StateDead {
					if _, err := s.Revive(context.Background(), ids[0], "c1", false, time.Now()); err != nil {
						t.Fatal(err)
					}
					runUntil(t, e, ids, store.StateDelivered)
				}
				if n := e.tr.CountContent(bodies[0]); n != 1 {
					t.Fatalf("stored %d times", n)
				}
				if got := e.tr.Calls(gatewaytest.OpNewMessageID); got != wantIDs {
					t.Fatalf("%d message ids, want %d", got, wantIDs)
				}
				tl := timeline(t, s, ids[0])
				if wantIDs == 2 && strings.Count(tl, "message_id_obtained") != 2 {
					t.Fatalf("timeline %s", tl)
				}
				// Every new id came after a process card that showed no
				// delivery under the old one.
				if wantIDs == 2 && !strings.Contains(tl, "resolved_after_uncertain_send routed message_id_obtained") {
					t.Fatalf("new id without a process card check first: %s", tl)
				}
			})
		})
	}
}

// A verified refusal (osci.FeedbackError.Refused) proves nothing was
// delivered, and the message is dead-lettered resuming from routing. Even
// then the revival keeps the old id until the process card confirms: an
// intermediary that stored the delivery although it said it refused it
// (the AfterStore case) is caught, and the application is held once.
func TestVerifiedRefusalRevivalAsksProcessCardFirst(t *testing.T) {
	for _, stored := range []bool{false, true} {
		t.Run(fmt.Sprintf("stored=%v", stored), func(t *testing.T) {
			gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
				e := newEnv(t, s)
				e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Err: verified("9701"), AfterStore: stored})
				ids, bodies := submitN(t, e.outbox(), 1, "X")
				m := runUntil(t, e, ids, store.StateDead)
				if m.ResumeState != store.StateAccepted || m.LastErrorCode != "9701" {
					t.Fatalf("refusal: resume %q code %q", m.ResumeState, m.LastErrorCode)
				}
				if e.tr.Calls(gatewaytest.OpProcessCard) != 0 {
					t.Fatal("a verified refusal needs no process card")
				}
				r, err := s.Revive(context.Background(), ids[0], "c1", false, time.Now())
				if err != nil || r.State != store.StateSending || r.OSCIMessageID != m.OSCIMessageID {
					t.Fatalf("revive: %v %+v", err, r)
				}
				runUntil(t, e, ids, store.StateDelivered)
				if n := e.tr.CountContent(bodies[0]); n != 1 {
					t.Fatalf("DUPLICATE: stored %d times", n)
				}
				wantIDs := 2
				if stored {
					wantIDs = 1
				}
				if got := e.tr.Calls(gatewaytest.OpNewMessageID); got != wantIDs {
					t.Fatalf("%d message ids, want %d", got, wantIDs)
				}
			})
		})
	}
}

// A crashed run left "sending" under an id the intermediary has since
// forgotten (ids expire). The resend under the stored id gets the fake
// intermediary's own 9801; the card shows nothing; the next attempt takes a
// new id. The fake answers a reused or unknown id as the real one does.
func TestForgottenIDAfterCrashGetsNewIDOnlyAfterProcessCard(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		ctx := context.Background()
		ids, bodies := submitN(t, e.outbox(), 1, "X")
		now := time.Now()
		if got, _ := s.Claim(ctx, "crashed", now, 50*time.Millisecond, 1); len(got) != 1 {
			t.Fatal("claim")
		}
		route, _ := e.rt.Route(ctx, abh, "26.11")
		id, _ := e.tr.NewMessageID(ctx, route)
		rj := []byte(`{"authority":"01001","intermediary_url":"http://127.0.0.1:1/osci","scenario":"store"}`)
		if err := s.Apply(ctx, ids[0], "crashed", now, store.Transition{State: store.StateSending, OSCIMessageID: id, Route: rj, KeepLease: true, LeaseUntil: now.Add(50 * time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
		e.tr.Forget(id)
		m := runUntil(t, e, ids, store.StateDelivered)
		if m.OSCIMessageID == id || e.tr.CountContent(bodies[0]) != 1 {
			t.Fatalf("delivered under %s (old %s), %d copies", m.OSCIMessageID, id, e.tr.CountContent(bodies[0]))
		}
		tl := timeline(t, s, ids[0])
		if !strings.Contains(tl, "resolved_after_uncertain_send failed resolved_after_uncertain_send routed message_id_obtained") {
			t.Fatalf("timeline %s", tl)
		}
		evs, _ := s.Timeline(ctx, ids[0])
		for _, ev := range evs {
			if ev.Kind == store.EventFailed && ev.Code != "9801" {
				t.Fatalf("failure %+v, want 9801 from the intermediary", ev)
			}
		}
	})
}

// Two workers sending the same message under the same id (a lease expired
// mid-send, or two instances after a mistaken lease release): the loser
// gets 9801 from the intermediary. It must resolve by process card, never
// restart with a new id.
func TestConcurrentSenderLosing9801ResolvesByCard(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		ctx := context.Background()
		ids, bodies := submitN(t, e.outbox(), 1, "X")
		var out gateway.Outgoing
		// The other worker delivers under the same id just before ours.
		e.tr.OnSend(func(o gateway.Outgoing) {
			if out.MessageID == "" {
				out = o
				if _, err := e.tr.Send(ctx, o); err != nil {
					t.Errorf("other worker: %v", err)
				}
			}
		})
		m := runUntil(t, e, ids, store.StateDelivered, store.StateDead)
		if m.State != store.StateDelivered || e.tr.CountContent(bodies[0]) != 1 || e.tr.Calls(gatewaytest.OpNewMessageID) != 1 {
			t.Fatalf("%s, %d copies, %d ids", m.State, e.tr.CountContent(bodies[0]), e.tr.Calls(gatewaytest.OpNewMessageID))
		}
		evs, _ := s.Timeline(ctx, ids[0])
		found := false
		for _, ev := range evs {
			found = found || ev.Kind == store.EventFailed && ev.Code == "9801"
		}
		if !found {
			t.Fatalf("the intermediary did not answer the reused id with 9801: %s", timeline(t, s, ids[0]))
		}
	})
}

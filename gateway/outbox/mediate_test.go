package outbox_test

// Regression tests for the security review's finding 8: the passive
// recipient's synchronous answer to a mediateDelivery exists only in the
// response. It is stored with the message in the transaction that records
// the delivery, handed on before the message counts as delivered, and a
// loss is visible on the message, never silent.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

// abhSig stands for the DER of the ABH's signature certificate that the
// transport reports as the verified signer of its answers (the outbox only
// keeps and hands it on; replies compares it, oscitransport's scenario test
// checks real signatures).
var abhSig = []byte("DER of the ABH's signature certificate")

// mediated routes abh to a passive recipient that answers every delivery,
// signed by abhSig.
func mediated(e *env) {
	e.rt.Set(gateway.Route{Authority: abh, IntermediaryURL: "http://127.0.0.1:1/osci", AddresseeURI: "http://127.0.0.1:2/abh",
		AddresseeSig: abhSig, Scenario: gateway.ScenarioMediate})
	e.tr.Answer(func(out gateway.Outgoing) []byte { return []byte("<answer to " + out.MessageID + "/>") })
	e.tr.SignAnswers(abhSig)
}

// handOver records what OnResponse received and fails the first fails calls.
type handOver struct {
	mu      sync.Mutex
	s       *store.Store
	fails   int
	calls   int
	got     [][]byte
	signers [][]byte
	routes  []gateway.Route
	ids     []string
	states  []store.State // state of the message when a hand-over succeeded
}

func (h *handOver) fn(ctx context.Context, m *store.Message, a outbox.Answer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.calls <= h.fails {
		return errors.New("inbox unavailable")
	}
	cur, err := h.s.Get(ctx, m.ID)
	if err != nil {
		return err
	}
	var r gateway.Route
	if err := json.Unmarshal(m.Route, &r); err != nil {
		return fmt.Errorf("the handed-over message carries no usable route: %w", err)
	}
	h.got = append(h.got, append([]byte(nil), a.Content...))
	h.signers = append(h.signers, a.SignerCert)
	h.routes = append(h.routes, r)
	h.ids = append(h.ids, m.OSCIMessageID)
	h.states = append(h.states, cur.State)
	return nil
}

// The reply side can judge a mediated answer only with its signer and the
// route it was sent along (whose AddresseeSig names the ABH's signature
// certificate). Both reach OnResponse whether the answer is handed on by
// the attempt that received it (the claimed row has no route yet) or, after
// a failed hand-over, from the store; an answer without a verified signer
// is handed on without one, also from the store.
func TestMediatedAnswerCarriesItsSignerAndRoute(t *testing.T) {
	for _, tc := range []struct {
		name   string
		signer []byte
		fails  int
	}{
		{"signed, handed on at once", abhSig, 0},
		{"signed, handed on from the store", abhSig, 1},
		{"unsigned, handed on at once", nil, 0},
		{"unsigned, handed on from the store", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
				e := newEnv(t, s)
				mediated(e)
				e.tr.SignAnswers(tc.signer)
				h := &handOver{s: s, fails: tc.fails}
				e.cfg.OnResponse = h.fn
				ids, _ := submitN(t, e.outbox(), 1, "X")
				m := runUntil(t, e, ids, store.StateDelivered, store.StateDead)
				if m.State != store.StateDelivered || len(h.got) != 1 || h.calls != tc.fails+1 {
					t.Fatalf("%s after %d hand-overs (%d calls): %s", m.State, len(h.got), h.calls, m.LastError)
				}
				if !bytes.Equal(h.signers[0], tc.signer) {
					t.Fatalf("handed on signer %q, want %q", h.signers[0], tc.signer)
				}
				if r := h.routes[0]; r.Scenario != gateway.ScenarioMediate || !bytes.Equal(r.AddresseeSig, abhSig) || r.AddresseeURI == "" {
					t.Fatalf("handed on route %+v", r)
				}
				_, err := s.Blob(context.Background(), ids[0], store.PartResponseSigner)
				if (tc.signer == nil) != errors.Is(err, store.ErrNotFound) {
					t.Fatalf("signer part: %v", err)
				}
				tl, _ := s.Timeline(context.Background(), ids[0])
				wantNote := "signed by certificate sha256:"
				if tc.signer == nil {
					wantNote = "carries no verified signature"
				}
				found := false
				for _, ev := range tl {
					found = found || ev.Kind == store.EventResponseKept && strings.Contains(ev.Reason, wantNote)
				}
				if !found {
					t.Fatalf("no response_kept entry saying %q", wantNote)
				}
			})
		})
	}
}

func TestMediatedAnswerIsKeptAndHandedOverBeforeDelivered(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		mediated(e)
		h := &handOver{s: s, fails: 2}
		e.cfg.OnResponse = h.fn
		ids, _ := submitN(t, e.outbox(), 1, "X")
		m := runUntil(t, e, ids, store.StateDelivered, store.StateDead)
		if m.State != store.StateDelivered || m.LastErrorCode != "" {
			t.Fatalf("%s %s %s", m.State, m.LastErrorCode, m.LastError)
		}
		want := "<answer to " + m.OSCIMessageID + "/>"
		if len(h.got) != 1 || string(h.got[0]) != want || !bytes.Equal(h.signers[0], abhSig) {
			t.Fatalf("handed over %q signed by %q, want one %q signed by %q", h.got, h.signers, want, abhSig)
		}
		// The inbox stores the answer under "<osci id>/response": the id
		// must be the one the message was sent under, not "".
		if h.ids[0] != m.OSCIMessageID || m.OSCIMessageID == "" {
			t.Fatalf("hand-over under OSCI id %q, message sent under %q", h.ids[0], m.OSCIMessageID)
		}
		// While the hand-over failed, the message was not delivered.
		if h.states[0] != store.StateSent {
			t.Fatalf("message was %s during the successful hand-over, want sent", h.states[0])
		}
		tl := timeline(t, s, ids[0])
		if !strings.Contains(tl, "sending stored_at_intermediary response_kept failed") || strings.Count(tl, "failed") != 2 {
			t.Fatalf("timeline %s", tl)
		}
		evs, _ := s.Timeline(context.Background(), ids[0])
		for _, ev := range evs {
			if ev.Kind == store.EventFailed && !strings.HasPrefix(ev.Reason, "response: inbox unavailable") {
				t.Fatalf("failure %+v", ev)
			}
		}
		// The sealed answer is kept with the message (and purged with it).
		b, err := e.outbox().Part(context.Background(), ids[0], store.PartResponse)
		if err != nil || string(b) != want {
			t.Fatalf("stored answer %q: %v", b, err)
		}
		bl, _ := s.Blob(context.Background(), ids[0], store.PartResponse)
		if bytes.Contains(bl.Data, []byte("answer to")) {
			t.Fatal("answer stored in clear")
		}
		if e.tr.Calls(gatewaytest.OpSend) != 1 {
			t.Fatalf("%d sends", e.tr.Calls(gatewaytest.OpSend))
		}
	})
}

// The hand-over keeps failing: the message is dead-lettered (visible),
// never "delivered" with the answer lost. Revived, it hands the stored
// answer over without sending again.
func TestMediatedAnswerHandOverFailingDeadLettersThenRevives(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		mediated(e)
		h := &handOver{s: s, fails: 1000}
		e.cfg.OnResponse = h.fn
		e.cfg.Retry.MaxAttempts = 3
		ids, _ := submitN(t, e.outbox(), 1, "X")
		m := runUntil(t, e, ids, store.StateDead, store.StateDelivered)
		if m.State != store.StateDead || m.ResumeState != store.StateSending || !strings.HasPrefix(m.LastError, "response:") {
			t.Fatalf("%s resume %q: %s", m.State, m.ResumeState, m.LastError)
		}
		h.mu.Lock()
		h.fails = 0
		h.mu.Unlock()
		if _, err := s.Revive(context.Background(), ids[0], "c1", false, time.Now()); err != nil {
			t.Fatal(err)
		}
		m = runUntil(t, e, ids, store.StateDelivered)
		if len(h.got) != 1 || string(h.got[0]) != "<answer to "+m.OSCIMessageID+"/>" {
			t.Fatalf("handed over %q", h.got)
		}
		if e.tr.Calls(gatewaytest.OpSend) != 1 || e.tr.Calls(gatewaytest.OpNewMessageID) != 1 {
			t.Fatalf("%d sends, %d ids", e.tr.Calls(gatewaytest.OpSend), e.tr.Calls(gatewaytest.OpNewMessageID))
		}
	})
}

// The response never reached the gateway (connection lost after the
// intermediary forwarded, the same as a crash before the answer was
// stored). The process card confirms the delivery; the message is
// delivered and says, in its last error and timeline, that the answer was
// lost.
func TestMediatedAnswerLostIsVisible(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		mediated(e)
		h := &handOver{s: s}
		e.cfg.OnResponse = h.fn
		e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{AfterStore: true, Err: errors.New("EOF reading response")})
		ids, bodies := submitN(t, e.outbox(), 1, "X")
		m := runUntil(t, e, ids, store.StateDelivered)
		if m.LastErrorCode != "response_lost" || !strings.Contains(m.LastError, "answer") {
			t.Fatalf("delivered row says %q %q; the lost answer must be visible", m.LastErrorCode, m.LastError)
		}
		if tl := timeline(t, s, ids[0]); !strings.Contains(tl, "resolved_after_uncertain_send response_lost receipt_confirmed delivered") {
			t.Fatalf("timeline %s", tl)
		}
		if len(h.got) != 0 || e.tr.CountContent(bodies[0]) != 1 {
			t.Fatalf("%d hand-overs, %d copies", len(h.got), e.tr.CountContent(bodies[0]))
		}
	})
}

// A mediated delivery whose recipient answered nothing, with the card
// fetched separately (state "sent" committed without an answer): no
// answer is expected, none is reported lost.
func TestMediatedWithoutAnswerIsNotReportedLost(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		mediated(e)
		e.tr.Answer(nil)
		e.tr.CardInSendResponse(false)
		e.tr.Script(gatewaytest.OpProcessCard, gatewaytest.Fault{Err: errors.New("connection reset")})
		h := &handOver{s: s}
		e.cfg.OnResponse = h.fn
		ids, _ := submitN(t, e.outbox(), 1, "X")
		m := runUntil(t, e, ids, store.StateDelivered)
		if m.LastErrorCode != "" || len(h.got) != 0 {
			t.Fatalf("%q, %d hand-overs", m.LastErrorCode, len(h.got))
		}
	})
}

package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

const abh = "01001"

type env struct {
	t     *testing.T
	s     *store.Store
	tr    *gatewaytest.Transport
	rt    *gatewaytest.Router
	codec *gatewaytest.Codec
	logs  *gatewaytest.LogBuffer
	cfg   outbox.Config
}

func newEnv(t *testing.T, s *store.Store) *env {
	e := &env{t: t, s: s, tr: gatewaytest.NewTransport(), rt: gatewaytest.NewRouter("http://127.0.0.1:1/osci", abh),
		codec: &gatewaytest.Codec{}, logs: &gatewaytest.LogBuffer{}}
	e.cfg = outbox.Config{Store: s, Keys: gatewaytest.Keyring(t), Codec: e.codec, Router: e.rt, Transport: e.tr,
		Logger: e.logs.Logger(), Workers: 4, CallTimeout: 5 * time.Second, Lease: 30 * time.Second,
		Poll: 20 * time.Millisecond, DrainTimeout: 5 * time.Second,
		Retry: outbox.Policy{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, MaxAttempts: 5}}
	return e
}

func (e *env) outbox(mod ...func(*outbox.Config)) *outbox.Outbox {
	cfg := e.cfg
	for _, f := range mod {
		f(&cfg)
	}
	o, err := outbox.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// start runs o until the returned stop is called; stop waits for Run.
func start(t *testing.T, o *outbox.Outbox) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func submitN(t *testing.T, o *outbox.Outbox, n int, name string) ([]string, [][]byte) {
	t.Helper()
	var ids []string
	var bodies [][]byte
	for i := 0; i < n; i++ {
		body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: abh, ApplicationID: fmt.Sprintf("APP-%d", i), FamilyName: name, GivenName: fmt.Sprint(i)})
		r, err := o.Submit(context.Background(), outbox.Submission{ClientID: "c1", Format: outbox.FormatXML, Body: body})
		if err != nil {
			t.Fatalf("submit: %v", err)
		}
		ids = append(ids, r.Message.ID)
		bodies = append(bodies, body)
	}
	return ids, bodies
}

// waitStates waits until every id is in one of the wanted states.
func waitStates(t *testing.T, s *store.Store, ids []string, want ...store.State) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		pending := 0
		var last *store.Message
		for _, id := range ids {
			m, err := s.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			ok := false
			for _, w := range want {
				ok = ok || m.State == w
			}
			if !ok {
				pending++
				last = m
			}
		}
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages not in %v; e.g. %s in %s (%s %s)", pending, want, last.ID, last.State, last.LastErrorCode, last.LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func kinds(t *testing.T, s *store.Store, id string) []string {
	evs, err := s.Timeline(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Kind)
	}
	return out
}

func TestDeliversEachMessageExactlyOnceWithFullTimeline(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		o := e.outbox()
		ids, bodies := submitN(t, o, 30, "Mustermann")
		start(t, o)
		waitStates(t, s, ids, store.StateDelivered)
		for i, b := range bodies {
			if n := e.tr.CountContent(b); n != 1 {
				t.Fatalf("message %d delivered %d times", i, n)
			}
		}
		want := []string{store.EventAccepted, store.EventRouted, store.EventIDObtained, store.EventSending, store.EventSent, store.EventReceipt, store.EventDelivered}
		if got := kinds(t, s, ids[0]); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("timeline %v\nwant     %v", got, want)
		}
		m, _ := s.Get(context.Background(), ids[0])
		if m.OSCIMessageID == "" || m.DeliveredAt.IsZero() || m.Attempts != 0 {
			t.Fatalf("delivered row %+v", m)
		}
		// The stored body is sealed; the name never reaches the database
		// in clear, nor the logs.
		bl, _ := s.Blob(context.Background(), ids[0], store.PartBody)
		if bytes.Contains(bl.Data, []byte("Mustermann")) {
			t.Fatal("body stored in clear")
		}
		if strings.Contains(e.logs.String(), "Mustermann") {
			t.Fatal("personal data in logs")
		}
	})
}

func TestSQLiteFileHoldsNoPlaintext(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(context.Background(), store.SQLite, dir+"/gw.db", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, s)
	o := e.outbox()
	submitN(t, o, 3, "Zyxwvutsrq")
	s.Close()
	for _, f := range []string{"gw.db", "gw.db-wal"} {
		data, err := os.ReadFile(dir + "/" + f)
		if err != nil && f == "gw.db" {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("Zyxwvutsrq")) {
			t.Fatalf("%s contains the applicant's name", f)
		}
	}
}

func TestInvalidMessageStoresNothing(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		o := e.outbox()
		ctx := context.Background()
		for _, body := range [][]byte{
			[]byte("<not-closed>"),
			[]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x/>`),
			[]byte(`<x xmlns="urn:other"/>`),
		} {
			_, err := o.Submit(ctx, outbox.Submission{ClientID: "c1", Format: outbox.FormatXML, Body: body})
			var v *gateway.ValidationError
			if !errors.As(err, &v) || len(v.Problems) == 0 {
				t.Fatalf("%q: want validation error, got %v", body, err)
			}
		}
		// Addressed to another ABH than the request says.
		body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "09999", ApplicationID: "A"})
		_, err := o.Submit(ctx, outbox.Submission{ClientID: "c1", Format: outbox.FormatXML, Body: body, Recipient: &gateway.Authority{Key: abh}})
		var v *gateway.ValidationError
		if !errors.As(err, &v) || !strings.Contains(v.Problems[0].Message, "09999") {
			t.Fatalf("recipient mismatch: %v", err)
		}
		counts, _ := s.CountByState(ctx)
		for st, n := range counts {
			if n != 0 {
				t.Fatalf("%d messages stored in %s", n, st)
			}
		}
	})
}

func TestIdempotentSubmit(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		o := newEnv(t, s).outbox()
		ctx := context.Background()
		body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: abh, ApplicationID: "A"})
		sub := outbox.Submission{ClientID: "c1", IdempotencyKey: "k", Format: outbox.FormatXML, Body: body}
		a, err := o.Submit(ctx, sub)
		if err != nil || a.Existing {
			t.Fatal(err)
		}
		b, err := o.Submit(ctx, sub)
		if err != nil || !b.Existing || b.Message.ID != a.Message.ID {
			t.Fatalf("repeat: %v %+v", err, b)
		}
		sub.Body = gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: abh, ApplicationID: "B"})
		c, err := o.Submit(ctx, sub)
		if !errors.Is(err, store.ErrIdempotencyConflict) || c.Message.ID != a.Message.ID {
			t.Fatalf("conflict: %v", err)
		}
	})
}

func TestRetryableSendFailureResolvesByProcessCardThenResends(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		e.tr.Script(gatewaytest.OpSend,
			gatewaytest.Fault{Err: &gatewaytest.FeedbackError{FeedbackCode: "9900", Temporary: true, Text: "intermediary busy"}},
			gatewaytest.Fault{Err: errors.New("connection reset")})
		o := e.outbox()
		ids, bodies := submitN(t, o, 1, "X")
		start(t, o)
		waitStates(t, s, ids, store.StateDelivered)
		if n := e.tr.CountContent(bodies[0]); n != 1 {
			t.Fatalf("delivered %d times", n)
		}
		if e.tr.Calls(gatewaytest.OpNewMessageID) != 1 {
			t.Fatalf("%d message ids obtained; a resend must reuse the stored id", e.tr.Calls(gatewaytest.OpNewMessageID))
		}
		if e.tr.Calls(gatewaytest.OpProcessCard) != 2 {
			t.Fatalf("%d process card checks, want one before each resend", e.tr.Calls(gatewaytest.OpProcessCard))
		}
		m, _ := s.Get(context.Background(), ids[0])
		if m.Attempts != 2 {
			t.Fatalf("attempts %d", m.Attempts)
		}
		k := kinds(t, s, ids[0])
		if strings.Count(strings.Join(k, " "), store.EventFailed) != 2 || strings.Count(strings.Join(k, " "), store.EventResolved) != 2 {
			t.Fatalf("timeline %v", k)
		}
	})
}

func TestLostResponseIsNotResent(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		// The intermediary stores the message, then the connection drops.
		e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{AfterStore: true, Err: errors.New("EOF reading response")})
		o := e.outbox()
		ids, bodies := submitN(t, o, 1, "X")
		start(t, o)
		waitStates(t, s, ids, store.StateDelivered)
		if e.tr.Calls(gatewaytest.OpSend) != 1 || e.tr.CountContent(bodies[0]) != 1 {
			t.Fatalf("send calls %d, copies %d", e.tr.Calls(gatewaytest.OpSend), e.tr.CountContent(bodies[0]))
		}
	})
}

func TestProcessCardFetchedWhenNotInSendResponse(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		e.tr.CardInSendResponse(false)
		o := e.outbox()
		ids, _ := submitN(t, o, 2, "X")
		start(t, o)
		waitStates(t, s, ids, store.StateDelivered)
		if e.tr.Calls(gatewaytest.OpProcessCard) != 2 {
			t.Fatalf("process card calls %d", e.tr.Calls(gatewaytest.OpProcessCard))
		}
	})
}

func TestPermanentErrorsDeadLetterAndReviveDelivers(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		e.rt.Fail(gateway.Permanent("no_service", errors.New("dvdv: no service")))
		e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Err: &gatewaytest.FeedbackError{FeedbackCode: "9701", Verified: true, Text: "certificate revoked"}})
		var hooks []string
		var mu sync.Mutex
		o := e.outbox(func(c *outbox.Config) {
			c.Workers = 1
			c.Notify = func(ev, client string) []store.NewWebhook {
				mu.Lock()
				hooks = append(hooks, ev)
				mu.Unlock()
				return []store.NewWebhook{{Subscriber: "backend", Event: ev}}
			}
		})
		routeFail, _ := submitN(t, o, 1, "X")
		stop := start(t, o)
		waitStates(t, s, routeFail, store.StateDead)
		sendFail, bodies := submitN(t, o, 1, "Y")
		waitStates(t, s, sendFail, store.StateDead)
		stop()

		ctx := context.Background()
		for _, id := range append(routeFail, sendFail...) {
			m, _ := s.Get(ctx, id)
			if m.ResumeState != store.StateAccepted || m.Attempts != 1 {
				t.Fatalf("dead letter %+v", m)
			}
			if wh, _ := s.WebhookDeliveries(ctx, id); len(wh) != 1 || wh[0].Event != outbox.EventMessageDead {
				t.Fatalf("dead-letter webhook %+v", wh)
			}
			if _, err := s.Revive(ctx, id, "c1", false, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		start(t, e.outbox())
		all := append(routeFail, sendFail...)
		waitStates(t, s, all, store.StateDelivered)
		if n := e.tr.CountContent(bodies[0]); n != 1 {
			t.Fatalf("revived message delivered %d times", n)
		}
		k := kinds(t, s, sendFail[0])
		// The refused message keeps its id until the process card shows no
		// delivery under it; only then does it get a new route and id.
		if !strings.Contains(strings.Join(k, " "), "dead_lettered revived resolved_after_uncertain_send routed") {
			t.Fatalf("timeline %v", k)
		}
	})
}

func TestAttemptsExhaustedDeadLetters(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		var faults []gatewaytest.Fault
		for i := 0; i < 10; i++ {
			faults = append(faults, gatewaytest.Fault{Err: &gatewaytest.FeedbackError{FeedbackCode: "9900", Temporary: true, Text: "down"}})
		}
		e.tr.Script(gatewaytest.OpNewMessageID, faults...)
		o := e.outbox(func(c *outbox.Config) { c.Retry.MaxAttempts = 3 })
		ids, _ := submitN(t, o, 1, "X")
		start(t, o)
		waitStates(t, s, ids, store.StateDead)
		m, _ := s.Get(context.Background(), ids[0])
		if m.Attempts != 3 || m.LastErrorCode != "9900" || m.State != store.StateDead || m.ResumeState != store.StateAccepted {
			t.Fatalf("%+v", m)
		}
		if e.tr.Calls(gatewaytest.OpNewMessageID) != 3 {
			t.Fatalf("%d calls", e.tr.Calls(gatewaytest.OpNewMessageID))
		}
	})
}

// A process died (kill -9) after committing "sending": its lease expires and
// a new process resolves the message through the process card.
func TestRecoveryAfterCrashDuringSend(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		for _, arrived := range []bool{true, false} {
			t.Run(fmt.Sprintf("arrived=%v", arrived), func(t *testing.T) {
				e := newEnv(t, s)
				ctx := context.Background()
				o := e.outbox()
				ids, bodies := submitN(t, o, 1, "X")
				// What the crashed process did: claim, route, id, commit
				// sending, maybe send; then it vanished holding the lease.
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
				if arrived {
					if _, err := e.tr.Send(ctx, gateway.Outgoing{MessageID: id, Content: bodies[0], Route: route}); err != nil {
						t.Fatal(err)
					}
				}
				sendsBefore := e.tr.Calls(gatewaytest.OpSend)
				start(t, o)
				waitStates(t, s, ids, store.StateDelivered)
				if n := e.tr.CountContent(bodies[0]); n != 1 {
					t.Fatalf("delivered %d times", n)
				}
				resent := e.tr.Calls(gatewaytest.OpSend) - sendsBefore
				if arrived && resent != 0 || !arrived && resent != 1 {
					t.Fatalf("arrived=%v but %d resends", arrived, resent)
				}
			})
		}
	})
}

func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		release := make(chan struct{})
		e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Block: release})
		entered := make(chan struct{}, 1)
		e.tr.OnSend(func(gateway.Outgoing) {
			select {
			case entered <- struct{}{}:
			default:
			}
		})
		o := e.outbox()
		ids, _ := submitN(t, o, 1, "X")
		stop := start(t, o)
		<-entered
		go func() { time.Sleep(50 * time.Millisecond); close(release) }()
		stop() // returns only after the delivery in flight finished
		m, _ := s.Get(context.Background(), ids[0])
		if m.State != store.StateDelivered {
			t.Fatalf("after drain: %s", m.State)
		}
	})
}

func TestDrainDeadlineReleasesForNextStart(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Block: make(chan struct{})}) // never returns
		entered := make(chan struct{}, 1)
		e.tr.OnSend(func(gateway.Outgoing) {
			select {
			case entered <- struct{}{}:
			default:
			}
		})
		o := e.outbox(func(c *outbox.Config) { c.DrainTimeout = 100 * time.Millisecond })
		ids, bodies := submitN(t, o, 1, "X")
		stop := start(t, o)
		<-entered
		stop()
		m, _ := s.Get(context.Background(), ids[0])
		if m.State != store.StateSending || m.Attempts != 0 || m.LeaseOwner != "" || m.LastErrorCode != "interrupted" {
			t.Fatalf("after drain deadline: %+v", m)
		}
		start(t, e.outbox())
		waitStates(t, s, ids, store.StateDelivered)
		if n := e.tr.CountContent(bodies[0]); n != 1 {
			t.Fatalf("delivered %d times", n)
		}
	})
}

func TestTwoOutboxesOnOneStoreNeverSendTwice(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		a, b := e.outbox(), e.outbox()
		ids, bodies := submitN(t, a, 100, "X")
		start(t, a)
		start(t, b)
		waitStates(t, s, ids, store.StateDelivered)
		for i, body := range bodies {
			if n := e.tr.CountContent(body); n != 1 {
				t.Fatalf("message %d delivered %d times", i, n)
			}
		}
		if e.tr.Calls(gatewaytest.OpSend) != 100 {
			t.Fatalf("%d sends for 100 messages", e.tr.Calls(gatewaytest.OpSend))
		}
	})
}

func TestPurgeAfterRetention(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		o := e.outbox()
		ids, _ := submitN(t, o, 2, "X")
		stop := start(t, o)
		waitStates(t, s, ids, store.StateDelivered)
		stop()
		ctx := context.Background()
		if n, _ := o.Purge(ctx, time.Hour); n != 0 {
			t.Fatal("purged before retention")
		}
		if _, err := o.Body(ctx, ids[0]); err != nil {
			t.Fatal(err)
		}
		later := e.outbox(func(c *outbox.Config) { c.Clock = func() time.Time { return time.Now().Add(2 * time.Hour) } })
		if n, err := later.Purge(ctx, time.Hour); n != 2 || err != nil {
			t.Fatalf("purged %d: %v", n, err)
		}
		if _, err := o.Body(ctx, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("body after purge: %v", err)
		}
		if k := kinds(t, s, ids[0]); k[len(k)-1] != store.EventPurged {
			t.Fatalf("timeline %v", k)
		}
	})
}

func TestJSONSubmission(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		o := newEnv(t, s).outbox()
		ctx := context.Background()
		r, err := o.Submit(ctx, outbox.Submission{ClientID: "c1", Format: outbox.FormatJSON, Recipient: &gateway.Authority{Key: abh},
			Body: []byte(`{"antragsidentifikation":"J-1","familienname":"Muster"}`)})
		if err != nil {
			t.Fatal(err)
		}
		if r.Message.Recipient != abh || r.Message.ApplicationID != "J-1" || r.Message.TypeCode != "130101" {
			t.Fatalf("%+v", r.Message)
		}
		_, err = o.Submit(ctx, outbox.Submission{ClientID: "c1", Format: outbox.FormatJSON, Body: []byte(`{}`)})
		var v *gateway.ValidationError
		if !errors.As(err, &v) {
			t.Fatalf("JSON without recipient: %v", err)
		}
	})
}

func TestPolicyDelayGrowsWithJitterAndCap(t *testing.T) {
	p := outbox.Policy{Initial: time.Second, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.2, MaxAttempts: 10}
	for attempt, base := range map[int]float64{1: 1, 2: 2, 3: 4, 4: 8, 5: 10, 9: 10} {
		for i := 0; i < 50; i++ {
			d := p.Delay(attempt).Seconds()
			if d < base*0.8-1e-9 || d > base*1.2+1e-9 {
				t.Fatalf("attempt %d: delay %.3fs outside %.1f±20%%", attempt, d, base)
			}
		}
	}
	if (outbox.Policy{}).Delay(1) <= 0 {
		t.Fatal("default policy has no delay")
	}
}

func TestConfigChecks(t *testing.T) {
	if _, err := outbox.New(outbox.Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
	s, _ := store.Open(context.Background(), store.SQLite, t.TempDir()+"/x.db", store.Options{})
	defer s.Close()
	_, err := outbox.New(outbox.Config{Store: s, Keys: gatewaytest.Keyring(t), Codec: &gatewaytest.Codec{}, Lease: time.Minute, CallTimeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "lease") {
		t.Fatalf("short lease accepted: %v", err)
	}
}

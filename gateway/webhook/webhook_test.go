package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/webhook"
)

var secret = []byte("0123456789abcdef-test-secret")

type receiver struct {
	mu       sync.Mutex
	failures int
	got      []webhook.Payload
	heads    []http.Header
	badSig   int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := webhook.Verify(secret, req.Header.Get(webhook.HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		r.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if r.failures > 0 {
		r.failures--
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	var p webhook.Payload
	json.Unmarshal(body, &p)
	r.got = append(r.got, p)
	r.heads = append(r.heads, req.Header.Clone())
	w.WriteHeader(http.StatusNoContent)
}

func TestReplyWebhookSignedRetriedAndDelivered(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		rcv := &receiver{failures: 2}
		srv := httptest.NewServer(rcv)
		defer srv.Close()
		keys := gatewaytest.Keyring(t)
		codec := &gatewaytest.Codec{}
		clock := time.Now()
		var cmu sync.Mutex
		now := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return clock }
		d, err := webhook.New(webhook.Config{Store: s, Keys: keys, Clock: now,
			Subscribers: []webhook.Subscriber{
				{ID: "backend", URL: srv.URL + "/hook", Secret: secret, Events: []string{replies.EventReplyReceived}, Clients: []string{"c1"}},
				{ID: "other-client", URL: srv.URL + "/other", Secret: secret, Clients: []string{"c2"}},
			},
			Retry: outbox.Policy{Initial: time.Second, Max: time.Second, Jitter: 0.01, MaxAttempts: 5}})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: codec})
		uuid := store.NewID()
		r, err := o.Submit(ctx, outbox.Submission{ClientID: "c1", Format: outbox.FormatXML,
			Body: gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: "A", MessageUUID: uuid})})
		if err != nil {
			t.Fatal(err)
		}
		mb := gatewaytest.NewMailbox()
		p, _ := replies.New(replies.Config{Store: s, Keys: keys, Mailbox: mb, Parser: codec, Notify: d.Hooks, Clock: now, Signers: abhSigners{}})
		reply := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", Author: "01001", ApplicationID: "A", TriggerUUID: uuid})
		mb.Put(gateway.Incoming{MessageID: "in-1", Content: reply, SignerCert: abhSignature})
		if _, err := p.PollOnce(ctx); err != nil {
			t.Fatal(err)
		}
		// Attempts 1 and 2 get 503; each retry waits for the persisted
		// next attempt time, which the test clock reaches step by step.
		for i := 0; i < 3; i++ {
			n, err := d.DeliverDue(ctx)
			if err != nil || n != 1 {
				t.Fatalf("round %d: claimed %d: %v", i, n, err)
			}
			if n, _ := d.DeliverDue(ctx); n != 0 {
				t.Fatalf("round %d: retried before the backoff elapsed", i)
			}
			cmu.Lock()
			clock = clock.Add(2 * time.Second)
			cmu.Unlock()
		}
		if len(rcv.got) != 1 || rcv.badSig != 0 {
			t.Fatalf("received %d, bad signatures %d", len(rcv.got), rcv.badSig)
		}
		got := rcv.got[0]
		var data webhook.ReplyData
		json.Unmarshal(got.Data, &data)
		if got.Event != replies.EventReplyReceived || data.MessageID != r.Message.ID || data.Kind != "statusmeldung" || data.Content != string(reply) {
			t.Fatalf("payload %+v %+v", got, data)
		}
		if rcv.heads[0].Get(webhook.HeaderDelivery) != got.ID {
			t.Fatal("delivery header differs from payload id")
		}
		items, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
		wh, _ := s.WebhookDeliveries(ctx, items[0].ID)
		if len(wh) != 1 || wh[0].State != store.WebhookDelivered || wh[0].Attempts != 3 || wh[0].LastStatus != 204 {
			t.Fatalf("delivery row %+v (the c2-only subscriber must not be queued)", wh)
		}
	})
}

func TestGivesUpAfterMaxAttemptsAndDoesNotFollowRedirects(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		var hits sync.Map
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Store(r.URL.Path, true)
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}))
		defer srv.Close()
		d, err := webhook.New(webhook.Config{Store: s, Keys: gatewaytest.Keyring(t),
			Subscribers: []webhook.Subscriber{{ID: "b", URL: srv.URL + "/hook", Secret: secret}},
			Retry:       outbox.Policy{Initial: time.Millisecond, Max: time.Millisecond, MaxAttempts: 2}})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := outbox.New(outbox.Config{Store: s, Keys: gatewaytest.Keyring(t), Codec: &gatewaytest.Codec{}})
		r, _ := o.Submit(ctx, outbox.Submission{ClientID: "c", Format: outbox.FormatXML, Body: gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "1", ApplicationID: "A"})})
		s.QueueWebhooks(ctx, []store.NewWebhook{{Subscriber: "b", Event: outbox.EventMessageDead, SubjectID: r.Message.ID}}, time.Now())
		for i := 0; i < 2; i++ {
			time.Sleep(5 * time.Millisecond)
			if n, _ := d.DeliverDue(ctx); n != 1 {
				t.Fatalf("attempt %d not due", i+1)
			}
		}
		wh, _ := s.WebhookDeliveries(ctx, r.Message.ID)
		if wh[0].State != store.WebhookFailed || wh[0].LastStatus != 302 {
			t.Fatalf("%+v", wh[0])
		}
		if _, followed := hits.Load("/elsewhere"); followed {
			t.Fatal("redirect followed")
		}
	})
}

func TestVerifyRejectsTamperingReplayAndGarbage(t *testing.T) {
	now := time.Now()
	body := []byte(`{"event":"x"}`)
	h := webhook.Sign(secret, now, body)
	if err := webhook.Verify(secret, h, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		"tampered body": {secret, h, []byte(`{"event":"y"}`), now, webhook.ErrBadSignature},
		"wrong secret":  {[]byte("another-secret-000"), h, body, now, webhook.ErrBadSignature},
		"replayed late": {secret, h, body, now.Add(10 * time.Minute), webhook.ErrStale},
		"garbage":       {secret, "nonsense", body, now, webhook.ErrMalformed},
		"no v1":         {secret, fmt.Sprintf("t=%d", now.Unix()), body, now, webhook.ErrMalformed},
		// The same MAC in upper case (found by FuzzVerify): one form only.
		"upper-case hex": {secret, h[:strings.Index(h, "v1=")+3] + strings.ToUpper(h[strings.Index(h, "v1=")+3:]), body, now, webhook.ErrMalformed},
		"short v1":       {secret, h[:len(h)-2], body, now, webhook.ErrMalformed},
	}
	for name, c := range cases {
		if err := webhook.Verify(c.secret, c.header, c.body, c.now, time.Minute); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	s, _ := store.Open(context.Background(), store.SQLite, t.TempDir()+"/x.db", store.Options{})
	defer s.Close()
	_, err := webhook.New(webhook.Config{Store: s, Keys: gatewaytest.Keyring(t), Subscribers: []webhook.Subscriber{{ID: "a", URL: "https://x", Secret: []byte("short")}}})
	if err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Fatalf("short secret: %v", err)
	}
}

// A receiver checks the signature over the raw body before trusting it.
func ExampleVerify() {
	secret := []byte("shared-secret-from-config-file")
	body := []byte(`{"id":"…","event":"reply.received"}`)
	header := webhook.Sign(secret, time.Now(), body) // what the gateway sends

	err := webhook.Verify(secret, header, body, time.Now(), 5*time.Minute)
	fmt.Println(err == nil)
	// Output: true
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"event":"reply.received"}`)
	f.Add(webhook.Sign(secret, now, body), body)
	f.Add("t=1,v1=zz", []byte{})
	f.Add("t=1800000000,v1=00,v1=", []byte("x"))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := webhook.Verify(secret, header, body, now, time.Minute)
		good := webhook.Sign(secret, now, body)
		if err == nil && !strings.Contains(header, good[strings.Index(good, "v1="):]) {
			t.Fatalf("accepted a header that is not the signature: %q", header)
		}
	})
}

// abhSignature stands for the DER of ABH 01001's signature certificate:
// the poller links a reply (and so announces it) only if its verified
// signer is the one the DVDV names for the ABH.
var abhSignature = []byte("signature certificate of ABH 01001")

type abhSigners struct{}

func (abhSigners) Route(_ context.Context, authority, _ string) (gateway.Route, error) {
	return gateway.Route{Authority: authority, AddresseeSig: abhSignature}, nil
}

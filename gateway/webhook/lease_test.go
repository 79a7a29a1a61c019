package webhook_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/webhook"
)

// The lease of a webhook delivery runs out while its request is still
// under way (a stalled receiver or database), and the same process claims
// the delivery again. All workers of a process share its lease owner id, so
// every lease check passes for both: a second worker would post the same
// webhook again. The process must leave the delivery to the worker already
// on it, whose outcome is then recorded as usual.
func TestExpiredLeaseNeverGivesOneWebhookTwoWorkers(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		var mu sync.Mutex
		posts := map[string]int{}
		release := make(chan struct{})
		var releaseOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			mu.Lock()
			posts[r.Header.Get(webhook.HeaderDelivery)]++
			mu.Unlock()
			<-release // the receiver stalls until the test lets it answer
			w.WriteHeader(http.StatusNoContent)
		}))
		defer func() { unblock(); srv.Close() }()
		postsOf := func(id string) int { mu.Lock(); defer mu.Unlock(); return posts[id] }

		var skew atomic.Int64
		clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		keys := gatewaytest.Keyring(t)
		logs := &gatewaytest.LogBuffer{}
		d, err := webhook.New(webhook.Config{Store: s, Keys: keys, Clock: clock, Logger: logs.Logger(), Poll: 20 * time.Millisecond, Lease: time.Minute,
			Subscribers: []webhook.Subscriber{{ID: "backend", URL: srv.URL + "/hook", Secret: secret}},
			Retry:       outbox.Policy{Initial: time.Second, Max: time.Second, MaxAttempts: 5}})
		if err != nil {
			t.Fatal(err)
		}
		o, _ := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: &gatewaytest.Codec{}})
		r, err := o.Submit(ctx, outbox.Submission{ClientID: "c1", Format: outbox.FormatXML,
			Body: gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: "A"})})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.QueueWebhooks(ctx, []store.NewWebhook{{Subscriber: "backend", Event: outbox.EventMessageDelivered, SubjectID: r.Message.ID}}, clock()); err != nil {
			t.Fatal(err)
		}
		rows, _ := s.WebhookDeliveries(ctx, r.Message.ID)
		if len(rows) != 1 {
			t.Fatalf("%d queued deliveries", len(rows))
		}
		id := rows[0].ID

		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { d.Run(rctx); close(done) }()
		defer func() { cancel(); unblock(); <-done }()
		waitUntil := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting for %s", what)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		waitUntil("the first request", func() bool { return postsOf(id) == 1 }) // the first worker's request is under way
		skew.Store(int64(time.Hour))                                            // its lease is over
		d.Wake()
		// The dispatcher claims the delivery again: either it leaves it to
		// the first worker (logged) or a second worker posts it again.
		waitUntil("the delivery to be claimed again", func() bool {
			return strings.Contains(logs.String(), "still sending") || postsOf(id) > 1
		})
		unblock()
		waitUntil("the outcome", func() bool {
			rows, _ := s.WebhookDeliveries(ctx, r.Message.ID)
			return len(rows) == 1 && rows[0].State == store.WebhookDelivered
		})
		cancel()
		<-done
		if n := postsOf(id); n != 1 {
			t.Fatalf("DUPLICATE: webhook delivery %s posted %d times", id, n)
		}
		rows, _ = s.WebhookDeliveries(ctx, r.Message.ID)
		if rows[0].Attempts != 1 || rows[0].LastStatus != http.StatusNoContent {
			t.Fatalf("outcome %+v: the first worker's result must be recorded", rows[0])
		}
		if strings.Contains(logs.String(), "recording webhook outcome failed") {
			t.Fatalf("the first worker lost its lease:\n%s", logs.String())
		}
	})
}

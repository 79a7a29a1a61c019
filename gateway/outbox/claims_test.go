package outbox_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

// metricValue reads one unlabelled series from the registry's exposition.
func metricValue(t *testing.T, reg *metrics.Registry, name string) float64 {
	t.Helper()
	var sb strings.Builder
	if err := reg.Write(context.Background(), &sb); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(sb.String(), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not exposed", name)
	return 0
}

// bucket reads the cumulative count of an unlabelled histogram's bucket.
func bucket(t *testing.T, reg *metrics.Registry, name, le string) float64 {
	t.Helper()
	return metricValue(t, reg, name+`_bucket{le="`+le+`"}`)
}

// Under a backlog, workers finish one at a time; without batching nearly
// every delivered message would cost its own claim transaction. With it,
// one claim serves several messages, and every message is still delivered
// exactly once.
func TestBacklogIsClaimedInBatches(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		const n, workers, batch = 60, 8, 4
		e := newEnv(t, s)
		// Sends take staggered times, so workers finish one by one as
		// they do under real load.
		e.tr.OnSend(func(gateway.Outgoing) { time.Sleep(time.Duration(1+rand.IntN(4)) * time.Millisecond) })
		reg := metrics.NewRegistry()
		o := e.outbox(func(c *outbox.Config) {
			c.Metrics = reg
			c.Workers = workers
			c.ClaimBatch = batch
			// Long enough that each batch fills from finishing workers, so
			// the bound below does not depend on the machine's speed.
			c.ClaimWait = time.Minute
		})
		ids, bodies := submitN(t, o, n, "Mustermann")
		start(t, o)
		waitStates(t, s, ids, store.StateDelivered)
		for i, b := range bodies {
			if k := e.tr.CountContent(b); k != 1 {
				t.Fatalf("message %d delivered %d times", i, k)
			}
		}
		if got := len(e.tr.Deliveries()); got != n {
			t.Fatalf("%d deliveries at the intermediary, want %d", got, n)
		}
		claims := metricValue(t, reg, "xagw_outbox_claims_total")
		empty := bucket(t, reg, "xagw_outbox_claim_messages", "0")
		leased := metricValue(t, reg, "xagw_outbox_claim_messages_sum")
		// First claim: all workers; then batches of at least 4, and one
		// partial batch at the end. Empty claims (a finished worker wakes
		// the dispatcher, which finds the queue drained) lease nothing.
		if limit := float64(1 + (n-workers+batch-1)/batch + 1); claims-empty > limit {
			t.Fatalf("%v claim transactions leased messages (%v in all) for %d messages, want at most %v", claims-empty, claims, n, limit)
		}
		if claims > n/2 {
			t.Fatalf("%v claim transactions for %d messages", claims, n)
		}
		if leased != n {
			t.Fatalf("claims leased %v messages, want %d (each once)", leased, n)
		}
		if waited := metricValue(t, reg, "xagw_outbox_claim_wait_seconds_count"); waited == 0 {
			t.Fatal("no claim waited for a batch under the backlog")
		}
	})
}

// Batching applies only under a backlog: once the backlog is gone, a
// message submitted to an idle outbox is claimed at once, even while a
// worker is busy and fewer than ClaimBatch workers are free. ClaimWait and
// Poll are an hour, so any wait for a batch would stall the test.
func TestIdleOutboxClaimsNewMessageWithoutBatchWait(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		inSend, release := make(chan struct{}), make(chan struct{})
		e.tr.OnSend(func(out gateway.Outgoing) {
			if bytes.Contains(out.Content, []byte("Langsam")) {
				close(inSend)
				<-release
			}
		})
		reg := metrics.NewRegistry()
		o := e.outbox(func(c *outbox.Config) {
			c.Metrics = reg
			c.Workers = 4
			c.ClaimBatch = 4
			c.ClaimWait = time.Hour
			c.Poll = time.Hour
		})
		// A backlog first, so the dispatcher has batched before.
		backlog, _ := submitN(t, o, 20, "Mustermann")
		start(t, o)
		var releaseOnce sync.Once
		unblock := func() { releaseOnce.Do(func() { close(release) }) }
		t.Cleanup(unblock) // before stop, which waits for the worker
		waitStates(t, s, backlog, store.StateDelivered)

		// One worker stays busy: 3 of 4 workers free, fewer than a batch.
		slow, _ := submitN(t, o, 1, "Langsam")
		select {
		case <-inSend:
		case <-time.After(20 * time.Second):
			t.Fatal("the slow message was not sent")
		}
		single, _ := submitN(t, o, 1, "Einzeln")
		waitStates(t, s, single, store.StateDelivered)
		unblock()
		waitStates(t, s, slow, store.StateDelivered)
		if leased := metricValue(t, reg, "xagw_outbox_claim_messages_sum"); leased != 22 {
			t.Fatalf("claims leased %v messages, want 22", leased)
		}
	})
}

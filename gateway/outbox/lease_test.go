package outbox_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/store"
)

// The lease of a worker runs out while it waits for getMessageId (a stalled
// database or intermediary), and the same process claims the message
// again. Both workers carry the process's lease owner id, so every lease
// check passes for both: a second worker would obtain a second id and send
// the application twice. This is how a released live lease (finding 6)
// produced a duplicate in the two-instance crash test. The process must
// leave the message to the worker already on it.
func TestExpiredLeaseNeverGivesOneMessageTwoWorkers(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		e := newEnv(t, s)
		var skew atomic.Int64
		e.cfg.Clock = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		idBlock, sendBlock := make(chan struct{}), make(chan struct{})
		e.tr.Script(gatewaytest.OpNewMessageID, gatewaytest.Fault{Block: idBlock})
		e.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Block: sendBlock})
		o := e.outbox()
		ids, bodies := submitN(t, o, 1, "X")
		stop := start(t, o)
		waitCalls := func(op gatewaytest.Op, n int) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for e.tr.Calls(op) < n {
				if time.Now().After(deadline) {
					t.Fatalf("%d calls of %s, waited for %d", e.tr.Calls(op), op, n)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		waitCalls(gatewaytest.OpNewMessageID, 1) // the first worker waits for its id
		skew.Store(int64(time.Hour))             // its lease is over
		o.Wake()
		time.Sleep(300 * time.Millisecond) // the dispatcher claims the message again
		close(idBlock)
		// A second worker would be waiting in Send by now and the first
		// would follow it there; give that a moment before the sends go on.
		for i := 0; i < 100 && e.tr.Calls(gatewaytest.OpSend) < 2; i++ {
			time.Sleep(5 * time.Millisecond)
		}
		close(sendBlock)
		waitStates(t, s, ids, store.StateDelivered)
		stop()
		if n := e.tr.CountContent(bodies[0]); n != 1 || e.tr.Calls(gatewaytest.OpNewMessageID) != 1 {
			t.Fatalf("DUPLICATE: stored %d times under %d message ids", n, e.tr.Calls(gatewaytest.OpNewMessageID))
		}
		if !strings.Contains(e.logs.String(), "still working on") {
			t.Fatal("the message was not claimed again; the test did not set up the race")
		}
	})
}

package outbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/internal/testpg"
)

// BenchmarkDeliveryStateMachine measures the gateway's own cost per
// delivered message — claim, route, message id, "sending" commit, send,
// process card, "delivered" commit — with the in-memory transport, so the
// figure is the store-bound ceiling that the OSCI cryptography adds to in
// phase 2. It reports delivered messages per second.
func BenchmarkDeliveryStateMachine(b *testing.B) {
	for _, name := range []string{"sqlite-full", "sqlite-normal", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var s *store.Store
			var err error
			switch name {
			case "sqlite-full":
				s, err = store.Open(context.Background(), store.SQLite, filepath.Join(b.TempDir(), "b.db"), store.Options{SQLiteSynchronous: "FULL"})
			case "sqlite-normal":
				s, err = store.Open(context.Background(), store.SQLite, filepath.Join(b.TempDir(), "b.db"), store.Options{SQLiteSynchronous: "NORMAL"})
			default:
				s, err = store.Open(context.Background(), store.Postgres, testpg.DSN(b), store.Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			o, err := outbox.New(outbox.Config{Store: s, Keys: gatewaytest.Keyring(b), Codec: &gatewaytest.Codec{},
				Router: gatewaytest.NewRouter("http://127.0.0.1:1", "01001"), Transport: gatewaytest.NewTransport(),
				Workers: 8, Poll: 5 * time.Millisecond})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			ids := make([]string, b.N)
			for i := range ids {
				body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: fmt.Sprint("A", i)})
				r, err := o.Submit(ctx, outbox.Submission{ClientID: "c", Format: outbox.FormatXML, Body: body})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = r.Message.ID
			}
			b.ResetTimer()
			start := time.Now()
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { o.Run(rctx); close(done) }()
			for {
				n, _ := s.CountByState(ctx)
				if n[store.StateDelivered] == b.N {
					break
				}
				time.Sleep(2 * time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
		})
	}
}

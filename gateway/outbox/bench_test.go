package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
)

// BenchmarkDeliveryStateMachine measures the gateway's own cost per
// delivered message — claim, route, message id, "sending" commit, send,
// process card, "delivered" commit — with the in-memory transport, so the
// figure is the store-bound ceiling that the OSCI cryptography adds to in
// phase 2. It reports delivered messages per second.
func BenchmarkDeliveryStateMachine(b *testing.B) {
	for _, name := range gatewaytest.BenchStoreKinds {
		b.Run(name, func(b *testing.B) {
			benchDeliveries(b, gatewaytest.OpenBenchStore(b, name), nil)
		})
	}
}

// BenchmarkMediatedDelivery is the same for a mediate route whose passive
// recipient answers every delivery (2 KiB), so each message also commits
// "sent" with the sealed answer and hands it over before "delivered".
// "signed" stores the answer's content signer (a 1.5 KiB certificate) as a
// second sealed part; "unsigned" is an answer without a verified signer,
// which stores the answer alone. OnResponse does nothing here: the reply
// side's cost is not the outbox's.
func BenchmarkMediatedDelivery(b *testing.B) {
	answer := bytes.Repeat([]byte("a"), 2048)
	signer := bytes.Repeat([]byte("c"), 1536)
	for _, name := range []string{"sqlite-full", "postgres"} {
		for _, signed := range []bool{true, false} {
			label := name + "/unsigned"
			if signed {
				label = name + "/signed"
			}
			b.Run(label, func(b *testing.B) {
				tr := gatewaytest.NewTransport()
				tr.Answer(func(gateway.Outgoing) []byte { return answer })
				if signed {
					tr.SignAnswers(signer)
				}
				benchDeliveries(b, gatewaytest.OpenBenchStore(b, name), tr, func(c *outbox.Config) {
					rt := gatewaytest.NewRouter("http://127.0.0.1:1", "01001")
					rt.Set(gateway.Route{Authority: "01001", IntermediaryURL: "http://127.0.0.1:1", AddresseeURI: "http://127.0.0.1:2/abh",
						AddresseeSig: signer, Scenario: gateway.ScenarioMediate})
					c.Router = rt
					c.OnResponse = func(context.Context, *store.Message, outbox.Answer) error { return nil }
				})
			})
		}
	}
}

// benchDeliveries submits b.N messages, then runs the outbox until all are
// delivered and reports delivered messages per second.
func benchDeliveries(b *testing.B, s *store.Store, tr *gatewaytest.Transport, mod ...func(*outbox.Config)) {
	if tr == nil {
		tr = gatewaytest.NewTransport()
	}
	cfg := outbox.Config{Store: s, Keys: gatewaytest.Keyring(b), Codec: &gatewaytest.Codec{},
		Router: gatewaytest.NewRouter("http://127.0.0.1:1", "01001"), Transport: tr,
		Workers: 8, Poll: 5 * time.Millisecond}
	for _, f := range mod {
		f(&cfg)
	}
	o, err := outbox.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: fmt.Sprint("A", i)})
		if _, err := o.Submit(ctx, outbox.Submission{ClientID: "c", Format: outbox.FormatXML, Body: body}); err != nil {
			b.Fatal(err)
		}
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
		if n[store.StateDead] > 0 {
			b.Fatalf("%d dead letters", n[store.StateDead])
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

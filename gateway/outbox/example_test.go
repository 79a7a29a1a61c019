package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xagw/xagw/gateway/atrest"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/osci"
)

// Submit a message and let the workers deliver it (here through the
// in-memory transport of gatewaytest; the daemon wires the OSCI client).
func Example() {
	dir, _ := os.MkdirTemp("", "xagw-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, _ := store.Open(ctx, store.SQLite, filepath.Join(dir, "gw.db"), store.Options{})
	defer s.Close()
	keys, _ := atrest.New(bytes.Repeat([]byte{1}, atrest.KeySize)) // in production: a key file
	transport := gatewaytest.NewTransport()
	o, err := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: &gatewaytest.Codec{},
		Router: gatewaytest.NewRouter("https://intermediary.example/osci", "000100"), Transport: transport, Poll: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "abh:000100", ApplicationID: "APP-1"})
	res, err := o.Submit(ctx, outbox.Submission{ClientID: "forms", IdempotencyKey: "order-1", Format: outbox.FormatXML, Body: body})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Message.State, res.Message.Recipient)

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { o.Run(runCtx); close(done) }()
	for {
		m, _ := s.Get(ctx, res.Message.ID)
		if m.State == store.StateDelivered {
			fmt.Println(m.State, len(transport.Deliveries()))
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
	// Output:
	// accepted 000100
	// delivered 1
}

// A dead letter is retried with Store.Revive (the API's POST
// /v1/messages/{id}/retry). A message that was sent keeps its OSCI message
// id: the process card is asked first, and only when it shows no delivery
// under that id does the message go out again, so a retry never delivers
// twice.
func Example_revive() {
	dir, _ := os.MkdirTemp("", "xagw-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, _ := store.Open(ctx, store.SQLite, filepath.Join(dir, "gw.db"), store.Options{})
	defer s.Close()
	keys, _ := atrest.New(bytes.Repeat([]byte{1}, atrest.KeySize))
	transport := gatewaytest.NewTransport()
	// The intermediary refuses the first delivery: its signed answer says
	// our signature certificate is revoked (until the operator fixes it).
	transport.Script(gatewaytest.OpSend, gatewaytest.Fault{Err: &osci.FeedbackError{Feedback: osci.NewFeedback("9701"), Verified: true}})
	o, err := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: &gatewaytest.Codec{},
		Router: gatewaytest.NewRouter("https://intermediary.example/osci", "000100"), Transport: transport, Poll: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "abh:000100", ApplicationID: "APP-1"})
	res, _ := o.Submit(ctx, outbox.Submission{ClientID: "forms", Format: outbox.FormatXML, Body: body})
	wait := func(want store.State) *store.Message {
		for {
			m, _ := s.Get(ctx, res.Message.ID)
			if m.State == want {
				return m
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { o.Run(runCtx); close(done) }()

	m := wait(store.StateDead)
	fmt.Println(m.State, m.LastErrorCode)
	r, _ := s.Revive(ctx, m.ID, "forms", false, time.Now())
	fmt.Println("revived to", r.State, "keeping", r.OSCIMessageID == m.OSCIMessageID)
	o.Wake()
	m = wait(store.StateDelivered)
	fmt.Println(m.State, len(transport.Deliveries()))
	stop()
	<-done
	// Output:
	// dead 9701
	// revived to sending keeping true
	// delivered 1
}

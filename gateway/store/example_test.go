package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/xagw/xagw/gateway/store"
)

// Accept a message, claim it as a worker and record a state change with its
// timeline entry.
func Example() {
	dir, _ := os.MkdirTemp("", "xagw-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, store.SQLite, filepath.Join(dir, "gw.db"), store.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	now := time.Now()
	m, _, err := s.Accept(ctx, store.NewMessage{ClientID: "forms", IdempotencyKey: "order-1", RequestHash: "h",
		Recipient: "000100", TypeCode: "130101", Version: "26.11", MessageUUID: store.NewID(),
		Blobs: []store.Blob{{Part: store.PartBody, KeyID: "k", Data: []byte("sealed bytes")}}}, now)
	if err != nil {
		panic(err)
	}
	claimed, _ := s.Claim(ctx, "worker-1", now, time.Minute, 10)
	fmt.Println(len(claimed), claimed[0].State)

	err = s.Apply(ctx, m.ID, "worker-1", now, store.Transition{State: store.StateRouted,
		Events: []store.Event{{Kind: store.EventRouted, State: store.StateRouted, Reason: "intermediary found"}}})
	fmt.Println(err)
	tl, _ := s.Timeline(ctx, m.ID)
	for _, e := range tl {
		fmt.Println(e.Kind)
	}
	// Output:
	// 1 accepted
	// <nil>
	// accepted
	// routed
}

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

// Each run of a gateway instance leases messages under its own owner id. At
// startup an instance releases what its crashed previous run still holds —
// and nothing of another instance, even one whose name starts the same.
func ExampleStore_ReleaseLeases() {
	dir, _ := os.MkdirTemp("", "xagw-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, store.SQLite, filepath.Join(dir, "gw.db"), store.Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	now := time.Now()
	for _, key := range []string{"a", "b"} {
		if _, _, err := s.Accept(ctx, store.NewMessage{ClientID: "forms", IdempotencyKey: key, RequestHash: key,
			Recipient: "000100", TypeCode: "130101", Version: "26.11", MessageUUID: store.NewID()}, now); err != nil {
			panic(err)
		}
	}
	crashed, _ := store.LeaseOwner("gw") // the previous run of instance "gw"
	live, _ := store.LeaseOwner("gw-b")  // another instance, still running
	s.Claim(ctx, crashed, now, time.Minute, 1)
	s.Claim(ctx, live, now, time.Minute, 1)

	n, err := s.ReleaseLeases(ctx, "gw") // "gw" starts again
	fmt.Println(n, err)
	_, err = store.LeaseOwner("gw/b")
	fmt.Println(err)
	// Output:
	// 1 <nil>
	// store: instance name "gw/b" has '/' at byte 2; allowed are A-Z, a-z, 0-9, '.', '_' and '-'
}

// A dispatcher starts a worker on a claimed row only if no worker of its
// process is still on it: after a lease ran out, the same process may
// claim a row again, and its lease owner id cannot tell two of its
// workers apart.
func ExampleInFlight() {
	var working store.InFlight
	claimed := []string{"msg-1", "msg-2", "msg-1"} // msg-1 claimed again
	for _, id := range claimed {
		if !working.Start(id) {
			fmt.Println(id, "left to the worker already on it")
			continue
		}
		fmt.Println(id, "started")
	}
	working.Done("msg-1") // its worker finished
	fmt.Println("msg-1 can start again:", working.Start("msg-1"))
	// Output:
	// msg-1 started
	// msg-2 started
	// msg-1 left to the worker already on it
	// msg-1 can start again: true
}

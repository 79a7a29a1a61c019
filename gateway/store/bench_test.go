package store_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/internal/testpg"
)

// BenchmarkDeliveryWrites runs the store's part of one delivered message on
// the happy path — Accept, Claim, the "sending" transition with a route of
// DVDV's size (~6 KB) and two events, the "delivered" transition with five
// events — and reports the process CPU per message (database/sql, the
// drivers and, for SQLite, the database engine itself; the PostgreSQL
// server's CPU is not in it: use pg_stat_statements for that). It uses only
// the exported API so the same file measures an older commit too.
func BenchmarkDeliveryWrites(b *testing.B) {
	// Certificates are DER in base64: random bytes model how little they
	// compress (a repeated string would flatter PostgreSQL's pglz).
	rnd := rand.New(rand.NewPCG(1, 2))
	certs := make([]string, 4)
	for i := range certs {
		der := make([]byte, 1100)
		for j := range der {
			der[j] = byte(rnd.Uint32())
		}
		certs[i] = base64.StdEncoding.EncodeToString(der)
	}
	route := []byte(`{"authority":"01001","intermediaryURL":"https://im.example/osci","addresseeURI":"https://abh.example/osci","certs":["` + strings.Join(certs, `","`) + `"]}`)
	for _, name := range []string{"sqlite-full", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var s *store.Store
			var err error
			if name == "postgres" {
				s, err = store.Open(ctx, store.Postgres, testpg.DSN(b), store.Options{})
			} else {
				s, err = store.Open(ctx, store.SQLite, filepath.Join(b.TempDir(), "gw.db"), store.Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			body := []store.Blob{{Part: store.PartBody, KeyID: "k1", Data: make([]byte, 4096), Size: 4000}}
			now := time.Now()
			cpu0 := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m, _, err := s.Accept(ctx, store.NewMessage{ClientID: "c1", RequestHash: "h", Recipient: "01001", TypeCode: "130101",
					Version: "26.11", MessageUUID: store.NewID(), Blobs: body}, now)
				if err != nil {
					b.Fatal(err)
				}
				got, err := s.Claim(ctx, "w", now, time.Minute, 1)
				if err != nil || len(got) != 1 || got[0].ID != m.ID {
					b.Fatalf("claim: %v %d", err, len(got))
				}
				osci := fmt.Sprintf("osci-%d", i)
				if err := s.Apply(ctx, m.ID, "w", now, store.Transition{State: store.StateSending, Attempts: 1, KeepLease: true, LeaseUntil: now.Add(time.Minute),
					Route: route, OSCIMessageID: osci, Events: []store.Event{
						{Kind: store.EventRouted, State: store.StateRouted, Reason: "intermediary https://im.example/osci, scenario store"},
						{Kind: store.EventIDObtained, State: store.StateRouted}}}); err != nil {
					b.Fatal(err)
				}
				if err := s.Apply(ctx, m.ID, "w", now, store.Transition{State: store.StateDelivered, Attempts: 1, DeliveredAt: now, Events: []store.Event{
					{Kind: store.EventSending, State: store.StateSending}, {Kind: store.EventSent, State: store.StateSent},
					{Kind: store.EventReceipt, State: store.StateSent}, {Kind: store.EventDelivered, State: store.StateDelivered},
					{Kind: store.EventResolved, State: store.StateDelivered, Reason: "x"}}}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/msg")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

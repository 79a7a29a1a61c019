package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/testpg"
)

func openPostgresT(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), Postgres, testpg.DSN(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dumpTables returns every row of the tables Apply writes, all columns, in
// key order, as text. Webhook ids are random per call (NewID), so they are
// checked for form and left out of the comparison. An event's seq is
// replaced by its rank (checked to rise strictly): a statement that fails
// may have drawn values from the sequence before it aborted, as any
// rolled-back insert on PostgreSQL does, so the paths may leave different
// gaps, never a different order.
func dumpTables(t *testing.T, s *Store) string {
	t.Helper()
	var out strings.Builder
	for _, q := range []string{
		`SELECT * FROM messages ORDER BY id`,
		`SELECT * FROM message_events ORDER BY seq`,
		`SELECT * FROM blobs ORDER BY owner, part`,
		`SELECT * FROM webhook_deliveries ORDER BY subscriber, event, subject_id`,
		`SELECT * FROM routes ORDER BY sha256`,
	} {
		rows, err := s.r.Queryx(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&out, "%s\n", q)
		var rank, lastSeq int64
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			for i, c := range cols {
				v := vals[i]
				if strings.Contains(q, "webhook_deliveries") && c == "id" {
					if id, _ := v.(string); len(id) != 36 || id[14] != '7' {
						t.Fatalf("webhook id %q is not a UUIDv7", id)
					}
					continue
				}
				if strings.Contains(q, "message_events") && c == "seq" {
					seq, _ := v.(int64)
					if seq <= lastSeq {
						t.Fatalf("event seq %d after %d", seq, lastSeq)
					}
					lastSeq, rank = seq, rank+1
					v = rank
				}
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&out, " %s=%#v", c, v)
			}
			out.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out.String()
}

// applyScript applies one fixed sequence of transitions, covering every
// part of a Transition, and returns what each step returned.
func applyScript(t *testing.T, s *Store) []string {
	ctx := context.Background()
	var results []string
	step := func(name string, err error) {
		results = append(results, fmt.Sprintf("%s: %v", name, err))
	}
	ids := []string{"0190aaaa-0000-7000-8000-00000000000a", "0190aaaa-0000-7000-8000-00000000000b", "0190aaaa-0000-7000-8000-00000000000c"}
	for i, id := range ids {
		nm := newMsg("c1", fmt.Sprint("key-", i), fmt.Sprint("h", i))
		nm.ID, nm.MessageUUID = id, fmt.Sprint("uuid-", i)
		if _, _, err := s.Accept(ctx, nm, t0); err != nil {
			t.Fatal(err)
		}
	}
	// A webhook queued earlier, which one below conflicts with.
	if err := s.QueueWebhooks(ctx, []NewWebhook{{Subscriber: "s1", Event: "message.delivered", SubjectID: ids[0]}}, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Claim(ctx, "w", t0, time.Hour, 3); err != nil || len(got) != 3 {
		t.Fatalf("claim: %d %v", len(got), err)
	}
	keep := func(tr Transition) Transition {
		tr.KeepLease, tr.LeaseUntil = true, t0.Add(time.Hour)
		return tr
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	long := strings.Repeat("äb", 400) // cut at 500 bytes on a rune boundary

	// A: a new route, an OSCI id, events with and without their own values.
	step("A sending", s.Apply(ctx, ids[0], "w", at(1), keep(Transition{State: StateSending, Attempts: 1, Route: bigRoute(1), OSCIMessageID: "osci-a",
		Events: []Event{{Kind: EventRouted, State: StateRouted, Reason: long},
			{Kind: EventIDObtained, State: StateRouted, At: at(-5), Attempt: 9, Code: "c", OSCIMessageID: "own"}}})))
	// A: blobs and webhooks (two equal ones, one equal to the earlier).
	step("A sent", s.Apply(ctx, ids[0], "w", at(2), keep(Transition{State: StateSent, Attempts: 1,
		Blobs: []Blob{{Part: PartResponse, KeyID: "k2", Data: []byte("sealed answer"), Size: 6}, {Part: PartResponseSigner, KeyID: "k2", Data: []byte{0, 1, 2, 255}, Size: 4}},
		Webhooks: []NewWebhook{{Subscriber: "s1", Event: "message.sent", SubjectID: ids[0]}, {Subscriber: "s2", Event: "message.sent", SubjectID: ids[0]},
			{Subscriber: "s1", Event: "message.sent", SubjectID: ids[0]}, {Subscriber: "s1", Event: "message.delivered", SubjectID: ids[0]}},
		Events: []Event{{Kind: EventSending, State: StateSending}, {Kind: EventSent, State: StateSent}}})))
	// A: terminal, lease released, next attempt cleared.
	step("A delivered", s.Apply(ctx, ids[0], "w", at(3), Transition{State: StateDelivered, Attempts: 1, DeliveredAt: at(4), NextAttemptAt: at(100),
		Events: []Event{{Kind: EventReceipt, State: StateSent}, {Kind: EventDelivered, State: StateDelivered}, {Kind: EventResolved, State: StateDelivered, Reason: "x"}}}))
	// A: the lease is gone now.
	step("A after release", s.Apply(ctx, ids[0], "w", at(5), Transition{State: StateSent, Events: []Event{{Kind: "x"}}}))

	// B: the same route (known to the process now), then cleared, then a
	// new route with ClearOSCI, then dead with a long error.
	step("B sending", s.Apply(ctx, ids[1], "w", at(6), keep(Transition{State: StateSending, Attempts: 2, Route: bigRoute(1), OSCIMessageID: "osci-b",
		Events: []Event{{Kind: EventSending, State: StateSending}}})))
	step("B restart", s.Apply(ctx, ids[1], "w", at(7), keep(Transition{State: StateAccepted, Attempts: 2, ClearOSCI: true, ResumeState: StateAccepted,
		ErrorCode: "9801", Error: long})))
	step("B rerouted", s.Apply(ctx, ids[1], "w", at(8), keep(Transition{State: StateRouted, Attempts: 3, ClearOSCI: true, Route: bigRoute(2),
		Events: []Event{{Kind: EventRouted, State: StateRouted}}})))
	step("B dead", s.Apply(ctx, ids[1], "w", at(9), Transition{State: StateDead, Attempts: 3, ResumeState: StateSending, ErrorCode: "perm", Error: "permanent",
		Events:   []Event{{Kind: EventDead, State: StateDead, Code: "perm", Reason: long}},
		Webhooks: []NewWebhook{{Subscriber: "s1", Event: "message.dead", SubjectID: ids[1]}}}))

	// C: a refused transition (a part that exists) writes nothing, and a
	// lost lease with everything in it writes nothing.
	step("C duplicate part", failed(s.Apply(ctx, ids[2], "w", at(10), keep(Transition{State: StateSent, Route: bigRoute(3),
		Blobs:    []Blob{{Part: PartResponse, KeyID: "k", Data: []byte("r")}, {Part: PartBody, KeyID: "k", Data: []byte("dup")}},
		Webhooks: []NewWebhook{{Subscriber: "s3", Event: "e", SubjectID: ids[2]}}, Events: []Event{{Kind: "k"}}}))))
	step("C lost lease", s.Apply(ctx, ids[2], "other", at(11), keep(Transition{State: StateSent, Route: bigRoute(4), OSCIMessageID: "osci-x",
		Blobs:    []Blob{{Part: PartResponse, KeyID: "k", Data: []byte("r")}},
		Webhooks: []NewWebhook{{Subscriber: "s3", Event: "e", SubjectID: ids[2]}}, Events: []Event{{Kind: "k"}}})))
	// C: more events than one INSERT of the transaction path takes, and a
	// retry later (not terminal, lease released).
	many := make([]Event, 2*eventChunk+3)
	for i := range many {
		many[i] = Event{Kind: fmt.Sprintf("k%03d", i), State: States[i%len(States)], Code: fmt.Sprint(i), Reason: fmt.Sprint("r", i)}
		if i%4 == 0 {
			many[i].At, many[i].Attempt = at(-i), i+1
		}
	}
	step("C many events", s.Apply(ctx, ids[2], "w", at(12), Transition{State: StateAccepted, Attempts: 4, NextAttemptAt: at(600), Events: many}))
	// An invalid transition is refused before anything runs.
	step("invalid", s.Apply(ctx, ids[2], "w", at(13), Transition{State: StateAccepted, ClearOSCI: true, OSCIMessageID: "x"}))
	return results
}

// failed hides the text of an error whose wording differs between the two
// paths (the database's own message, wrapped differently).
func failed(err error) error {
	if err != nil {
		return errors.New("failed")
	}
	return nil
}

// On PostgreSQL the single statement writes exactly the rows the
// transaction path writes: same script on two fresh databases, every row
// of every table Apply touches compared.
func TestApplyStatementEqualsTransaction(t *testing.T) {
	one, tx := openPostgresT(t), openPostgresT(t)
	tx.applyInTx = true
	r1, r2 := applyScript(t, one), applyScript(t, tx)
	if strings.Join(r1, "\n") != strings.Join(r2, "\n") {
		t.Fatalf("results differ:\nstatement:   %q\ntransaction: %q", r1, r2)
	}
	for _, r := range r1 {
		t.Log(r)
	}
	for i, want := range []string{"A after release: " + ErrLeaseLost.Error(), "C duplicate part: failed", "C lost lease: " + ErrLeaseLost.Error()} {
		found := false
		for _, r := range r1 {
			found = found || r == want
		}
		if !found {
			t.Fatalf("script check %d: no step returned %q: %q", i, want, r1)
		}
	}
	d1, d2 := dumpTables(t, one), dumpTables(t, tx)
	if d1 != d2 {
		l1, l2 := strings.Split(d1, "\n"), strings.Split(d2, "\n")
		for i := range min(len(l1), len(l2)) {
			if l1[i] != l2[i] {
				t.Fatalf("first difference at line %d:\nstatement:   %s\ntransaction: %s", i, l1[i], l2[i])
			}
		}
		t.Fatalf("dumps differ in length: %d vs %d lines", len(l1), len(l2))
	}
	// The script must have written what it claims to (a dump of empty
	// tables would compare equal too).
	for _, c := range []struct {
		q    string
		want int
	}{
		{`SELECT count(*) FROM message_events`, 3 + 2 + 2 + 3 + 1 + 1 + 1 + 2*eventChunk + 3},
		{`SELECT count(*) FROM blobs`, 3 + 2},
		{`SELECT count(*) FROM webhook_deliveries`, 1 + 2 + 1},
		{`SELECT count(*) FROM routes`, 2},
		{`SELECT count(*) FROM message_events WHERE octet_length(reason) = 503`, 2},
	} {
		if n := countRows(t, one, c.q); n != c.want {
			t.Errorf("%s = %d, want %d", c.q, n, c.want)
		}
	}
}

// A transition whose lease is lost returns ErrLeaseLost and writes no row:
// not the message, no event, blob, webhook or route.
func TestApplyLostLeaseWritesNothing(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, _, err := s.Accept(ctx, newMsg("c1", "", "lost"), t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, "w", t0, time.Minute, 1); err != nil {
			t.Fatal(err)
		}
		before := dumpTablesAnyDB(t, s)
		for _, owner := range []string{"other", ""} {
			err := s.Apply(ctx, m.ID, owner, t0.Add(time.Second), Transition{State: StateSent, Attempts: 1, Route: bigRoute(7), OSCIMessageID: "o",
				Blobs:    []Blob{{Part: PartResponse, KeyID: "k", Data: []byte("r"), Size: 1}},
				Webhooks: []NewWebhook{{Subscriber: "s", Event: "e", SubjectID: m.ID}},
				Events:   []Event{{Kind: EventSent, State: StateSent}}})
			if !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("owner %q: %v, want ErrLeaseLost", owner, err)
			}
		}
		if after := dumpTablesAnyDB(t, s); after != before {
			t.Fatalf("a refused transition wrote rows:\nbefore %s\nafter  %s", before, after)
		}
		if _, ok := s.routes.get(routeHash(bigRoute(7))); ok {
			t.Fatal("route of a refused transition is cached as committed")
		}
	})
}

// dumpTablesAnyDB counts rows and sums their sizes; enough to see any row
// written, on both databases.
func dumpTablesAnyDB(t *testing.T, s *Store) string {
	return fmt.Sprint(
		countRows(t, s, `SELECT count(*) FROM message_events`),
		countRows(t, s, `SELECT count(*) FROM blobs`),
		countRows(t, s, `SELECT count(*) FROM webhook_deliveries`),
		countRows(t, s, `SELECT count(*) FROM routes`),
		countRows(t, s, `SELECT count(*) FROM messages WHERE state = 'accepted' AND osci_message_id = '' AND route_sha256 IS NULL AND attempts = 0 AND lease_owner = 'w'`),
	)
}

// Stores that do not know a route (empty caches, as several gateway
// instances) store it with transitions of different messages at the same
// time: every transition succeeds, the route is stored once, and every
// message refers to it. On PostgreSQL this is the route insert and the
// foreign key check inside one statement racing another such statement.
func TestConcurrentNewRouteInOneStatement(t *testing.T) {
	eachDBWithDSN(t, func(t *testing.T, d Dialect, dsn string) {
		ctx := context.Background()
		const n = 8
		stores := make([]*Store, n)
		for i := range stores {
			s, err := Open(ctx, d, dsn, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		for round := 0; round < 5; round++ {
			route := bigRoute(100 + round)
			ids := make([]string, n)
			for i := range ids {
				m, _, err := stores[0].Accept(ctx, newMsg("c1", "", fmt.Sprint("conc", round, i)), t0)
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = m.ID
			}
			if got, err := stores[0].Claim(ctx, "w", t0, time.Minute, n); err != nil || len(got) != n {
				t.Fatalf("claim: %d %v", len(got), err)
			}
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range stores {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = stores[i].Apply(ctx, ids[i], "w", t0, Transition{State: StateSending, OSCIMessageID: "o", Route: route, NextAttemptAt: t0.Add(time.Hour),
						Events: []Event{{Kind: EventSending, State: StateSending}}})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("round %d, store %d: %v", round, i, err)
				}
			}
			h := routeHash(route)
			if k := countRows(t, stores[0], fmt.Sprintf(`SELECT count(*) FROM routes WHERE sha256 = '%s'`, h)); k != 1 {
				t.Fatalf("round %d: route stored %d times", round, k)
			}
			if k := countRows(t, stores[0], fmt.Sprintf(`SELECT count(*) FROM messages WHERE route_sha256 = '%s'`, h)); k != n {
				t.Fatalf("round %d: %d messages refer to the route, want %d", round, k, n)
			}
		}
	})
}

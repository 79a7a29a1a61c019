package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/testpg"
)

// eachDB runs fn against a fresh SQLite file and a fresh PostgreSQL database.
func eachDB(t *testing.T, fn func(t *testing.T, s *Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s := openSQLiteT(t)
		fn(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		s, err := Open(context.Background(), Postgres, testpg.DSN(t), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s)
	})
}

func openSQLiteT(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), SQLite, filepath.Join(t.TempDir(), "gw.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func newMsg(client, key, hash string) NewMessage {
	return NewMessage{ClientID: client, IdempotencyKey: key, RequestHash: hash, Recipient: "01001",
		TypeCode: "130101", Version: "26.11", MessageUUID: NewID(), ApplicationID: "A-" + hash,
		Blobs: []Blob{{Part: PartBody, KeyID: "k1", Data: []byte("sealed-" + hash), Size: 7}}}
}

func TestMigrationsAreIdempotentAndRecorded(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		ms, _ := loadMigrations()
		var n int
		if err := s.r.GetContext(ctx, &n, `SELECT count(*) FROM schema_migrations`); err != nil {
			t.Fatal(err)
		}
		if n != len(ms) {
			t.Fatalf("%d migrations recorded, %d exist", n, len(ms))
		}
	})
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := testpg.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), Postgres, dsn, Options{MaxOpenConns: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
}

func TestAcceptAndIdempotency(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, existing, err := s.Accept(ctx, newMsg("c1", "key-1", "h1"), t0)
		if err != nil || existing {
			t.Fatalf("accept: %v existing=%v", err, existing)
		}
		got, err := s.Get(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != StateAccepted || got.ClientID != "c1" || got.IdempotencyKey != "key-1" || !got.NextAttemptAt.Equal(t0) || got.Recipient != "01001" {
			t.Fatalf("stored %+v", got)
		}
		// Same key, same request: same message, nothing new stored.
		again, existing, err := s.Accept(ctx, newMsg("c1", "key-1", "h1"), t0.Add(time.Second))
		if err != nil || !existing || again.ID != m.ID {
			t.Fatalf("repeat: %v existing=%v id=%s want %s", err, existing, again.ID, m.ID)
		}
		// Same key, different request: conflict, and the earlier id is reported.
		_, _, err = s.Accept(ctx, newMsg("c1", "key-1", "h2"), t0)
		if !errors.Is(err, ErrIdempotencyConflict) {
			t.Fatalf("want conflict, got %v", err)
		}
		// The key is scoped per client.
		other, existing, err := s.Accept(ctx, newMsg("c2", "key-1", "h2"), t0)
		if err != nil || existing || other.ID == m.ID {
			t.Fatalf("other client: %v existing=%v", err, existing)
		}
		// No key: always new.
		a, _, _ := s.Accept(ctx, newMsg("c1", "", "h3"), t0)
		b, _, _ := s.Accept(ctx, newMsg("c1", "", "h3"), t0)
		if a.ID == b.ID {
			t.Fatal("messages without idempotency key merged")
		}
		evs, err := s.Timeline(ctx, m.ID)
		if err != nil || len(evs) != 1 || evs[0].Kind != EventAccepted {
			t.Fatalf("timeline %+v %v", evs, err)
		}
		bl, err := s.Blob(ctx, m.ID, PartBody)
		if err != nil || string(bl.Data) != "sealed-h1" || bl.KeyID != "k1" {
			t.Fatalf("blob %+v %v", bl, err)
		}
	})
}

func TestConcurrentAcceptWithSameKeyStoresOne(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ids := make([]string, 8)
		var wg sync.WaitGroup
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, _, err := s.Accept(ctx, newMsg("c1", "same", "h"), t0)
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = m.ID
			}()
		}
		wg.Wait()
		for _, id := range ids[1:] {
			if id != ids[0] {
				t.Fatalf("different ids for one idempotency key: %v", ids)
			}
		}
		n, _ := s.CountByState(ctx)
		if n[StateAccepted] != 1 {
			t.Fatalf("%d messages stored", n[StateAccepted])
		}
	})
}

func TestClaimLeaseAndFencing(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, _, _ := s.Accept(ctx, newMsg("c1", "", "h"), t0)
		if got, _ := s.Claim(ctx, "w1", t0.Add(-time.Second), time.Minute, 10); len(got) != 0 {
			t.Fatal("claimed before due")
		}
		got, err := s.Claim(ctx, "w1", t0, time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != m.ID || got[0].LeaseOwner != "w1" {
			t.Fatalf("claim: %v %+v", err, got)
		}
		if again, _ := s.Claim(ctx, "w2", t0.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatal("claimed a message under a live lease")
		}
		// After the lease expires another worker takes over; the first one's
		// late write must then fail.
		taken, _ := s.Claim(ctx, "w2", t0.Add(2*time.Minute), time.Minute, 10)
		if len(taken) != 1 {
			t.Fatal("expired lease not reclaimed")
		}
		err = s.Apply(ctx, m.ID, "w1", t0.Add(2*time.Minute), Transition{State: StateRouted, Events: []Event{{Kind: EventRouted, State: StateRouted}}})
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("stale worker wrote: %v", err)
		}
		err = s.Apply(ctx, m.ID, "w2", t0.Add(2*time.Minute), Transition{State: StateSending, OSCIMessageID: "osci-1", Route: []byte(`{"a":1}`),
			Attempts: 1, NextAttemptAt: t0.Add(time.Hour), Events: []Event{{Kind: EventRouted, State: StateRouted}, {Kind: EventIDObtained, State: StateSending}}})
		if err != nil {
			t.Fatal(err)
		}
		cur, _ := s.Get(ctx, m.ID)
		if cur.State != StateSending || cur.OSCIMessageID != "osci-1" || string(cur.Route) != `{"a":1}` || cur.LeaseOwner != "" || !cur.NextAttemptAt.Equal(t0.Add(time.Hour)) || cur.Attempts != 1 {
			t.Fatalf("after apply: %+v", cur)
		}
		evs, _ := s.Timeline(ctx, m.ID)
		if len(evs) != 3 || evs[2].Kind != EventIDObtained || evs[2].OSCIMessageID != "osci-1" || evs[2].Attempt != 1 {
			t.Fatalf("timeline %+v", evs)
		}
		// Terminal: no next attempt, never claimed again.
		s.Claim(ctx, "w3", t0.Add(2*time.Hour), time.Minute, 10)
		if err := s.Apply(ctx, m.ID, "w3", t0.Add(2*time.Hour), Transition{State: StateDelivered, DeliveredAt: t0.Add(2 * time.Hour), Events: []Event{{Kind: EventDelivered, State: StateDelivered}}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Claim(ctx, "w4", t0.Add(100*time.Hour), time.Minute, 10); len(got) != 0 {
			t.Fatal("delivered message claimed")
		}
		if due, _ := s.NextDue(ctx); !due.IsZero() {
			t.Fatalf("next due %v with an empty queue", due)
		}
	})
}

func TestKeepLeaseContinuesWithoutReclaim(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, _, _ := s.Accept(ctx, newMsg("c1", "", "h"), t0)
		s.Claim(ctx, "w1", t0, time.Minute, 1)
		if err := s.Apply(ctx, m.ID, "w1", t0, Transition{State: StateRouted, KeepLease: true, LeaseUntil: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Claim(ctx, "w2", t0.Add(time.Second), time.Minute, 1); len(got) != 0 {
			t.Fatal("kept lease was claimable")
		}
		if err := s.Apply(ctx, m.ID, "w1", t0.Add(time.Second), Transition{State: StateSending}); err != nil {
			t.Fatalf("owner lost its kept lease: %v", err)
		}
	})
}

func TestConcurrentClaimersNeverShareAMessage(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 200
		for i := 0; i < n; i++ {
			if _, _, err := s.Accept(ctx, newMsg("c1", "", fmt.Sprint(i)), t0); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := 0; w < 6; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for {
					got, err := s.Claim(ctx, owner, t0, time.Hour, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						if prev, dup := seen[m.ID]; dup {
							t.Errorf("message %s claimed by %s and %s", m.ID, prev, owner)
						}
						seen[m.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("%d of %d messages claimed", len(seen), n)
		}
	})
}

func TestReviveDeadLetter(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		sent, _, _ := s.Accept(ctx, newMsg("c1", "", "a"), t0)
		refused, _, _ := s.Accept(ctx, newMsg("c1", "", "b"), t0)
		unsent, _, _ := s.Accept(ctx, newMsg("c1", "", "c"), t0)
		s.Claim(ctx, "w", t0, time.Minute, 10)
		s.Apply(ctx, sent.ID, "w", t0, Transition{State: StateDead, ResumeState: StateSending, OSCIMessageID: "m-1", Route: []byte("{}"), ErrorCode: "transient", Error: "attempts exhausted"})
		s.Apply(ctx, refused.ID, "w", t0, Transition{State: StateDead, ResumeState: StateAccepted, OSCIMessageID: "m-2", Route: []byte("{}"), ErrorCode: "9701", Error: "refused"})
		s.Apply(ctx, unsent.ID, "w", t0, Transition{State: StateDead, ResumeState: StateAccepted, ErrorCode: "no_service", Error: "no route"})

		if _, err := s.Revive(ctx, sent.ID, "other-client", false, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other client revived: %v", err)
		}
		r, err := s.Revive(ctx, sent.ID, "c1", false, t0.Add(time.Minute))
		if err != nil || r.State != StateSending || r.ResumeState != "" {
			t.Fatalf("revive uncertain: %v %+v", err, r)
		}
		cur, _ := s.Get(ctx, sent.ID)
		if cur.State != StateSending || cur.OSCIMessageID != "m-1" || cur.Attempts != 0 || cur.LastError != "" || cur.ResumeState != "" {
			t.Fatalf("revived uncertain message: %+v", cur)
		}
		// A refused message keeps its id too (finding 1): the worker asks
		// the process card first, and only if it shows no delivery does
		// the marker let it start over with a new id.
		r, err = s.Revive(ctx, refused.ID, "admin", true, t0.Add(time.Minute))
		if err != nil || r.State != StateSending || r.ResumeState != StateAccepted {
			t.Fatalf("revive refused: %v %+v", err, r)
		}
		cur, _ = s.Get(ctx, refused.ID)
		if cur.State != StateSending || cur.OSCIMessageID != "m-2" || cur.Route == nil || cur.ResumeState != StateAccepted {
			t.Fatalf("revived refused message lost its OSCI id, route or marker: %+v", cur)
		}
		// Never sent: starts over from routing.
		r, err = s.Revive(ctx, unsent.ID, "c1", false, t0.Add(time.Minute))
		if err != nil || r.State != StateAccepted {
			t.Fatalf("revive unsent: %v %+v", err, r)
		}
		if _, err := s.Revive(ctx, refused.ID, "c1", false, t0); !errors.Is(err, ErrState) {
			t.Fatalf("revived a live message: %v", err)
		}
		evs, _ := s.Timeline(ctx, refused.ID)
		if evs[len(evs)-1].Kind != EventRevived || evs[len(evs)-1].State != StateSending {
			t.Fatalf("timeline %+v", evs)
		}
	})
}

// Two operators retrying the same dead letter at once: one revival, one
// ErrState, one timeline entry.
func TestConcurrentReviveOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for round := range 5 {
			m, _, _ := s.Accept(ctx, newMsg("c1", "", fmt.Sprint("r", round)), t0)
			s.Claim(ctx, "w", t0, time.Minute, 10)
			if err := s.Apply(ctx, m.ID, "w", t0, Transition{State: StateDead, ResumeState: StateSending, OSCIMessageID: "m", Route: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Add(1)
				go func() { defer wg.Done(); _, errs[i] = s.Revive(ctx, m.ID, "c1", false, t0) }()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, ErrState):
					t.Fatalf("revive: %v", err)
				}
			}
			evs, _ := s.Timeline(ctx, m.ID)
			revived := 0
			for _, e := range evs {
				if e.Kind == EventRevived {
					revived++
				}
			}
			if ok != 1 || revived != 1 {
				t.Fatalf("%d revivals succeeded, %d revived events; want 1 and 1", ok, revived)
			}
		}
	})
}

// The blobs of a transition are written in its transaction: both or
// neither (finding 8: a mediated answer is never separated from the record
// of the delivery).
func TestApplyStoresBlobsAtomically(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, _, _ := s.Accept(ctx, newMsg("c1", "", "x"), t0)
		s.Claim(ctx, "w", t0, time.Minute, 1)
		resp := Blob{Part: PartResponse, KeyID: "k1", Data: []byte("sealed answer"), Size: 6}
		if err := s.Apply(ctx, m.ID, "other", t0, Transition{State: StateSent, Blobs: []Blob{resp}}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("apply without lease: %v", err)
		}
		if _, err := s.Blob(ctx, m.ID, PartResponse); !errors.Is(err, ErrNotFound) {
			t.Fatalf("blob written by a refused transition: %v", err)
		}
		// A failing blob insert (the body part exists already) rolls the
		// state change back.
		if err := s.Apply(ctx, m.ID, "w", t0, Transition{State: StateSent, KeepLease: true, LeaseUntil: t0.Add(time.Minute),
			Blobs: []Blob{resp, {Part: PartBody, KeyID: "k1", Data: []byte("x")}}}); err == nil {
			t.Fatal("duplicate part accepted")
		}
		if cur, _ := s.Get(ctx, m.ID); cur.State != StateAccepted {
			t.Fatalf("state changed although its blobs were not stored: %s", cur.State)
		}
		if _, err := s.Blob(ctx, m.ID, PartResponse); !errors.Is(err, ErrNotFound) {
			t.Fatalf("blob of a rolled-back transition: %v", err)
		}
		if err := s.Apply(ctx, m.ID, "w", t0, Transition{State: StateSent, KeepLease: true, LeaseUntil: t0.Add(time.Minute), Blobs: []Blob{resp}}); err != nil {
			t.Fatal(err)
		}
		if b, err := s.Blob(ctx, m.ID, PartResponse); err != nil || string(b.Data) != "sealed answer" {
			t.Fatalf("response blob: %v %q", err, b.Data)
		}
	})
}

// ClearOSCI forgets the id; with a new route in the same transition the
// route is kept.
func TestApplyClearOSCI(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, _, _ := s.Accept(ctx, newMsg("c1", "", "x"), t0)
		s.Claim(ctx, "w", t0, time.Minute, 1)
		keep := Transition{KeepLease: true, LeaseUntil: t0.Add(time.Minute)}
		tr := keep
		tr.State, tr.OSCIMessageID, tr.Route = StateSending, "m-1", []byte(`{"a":1}`)
		if err := s.Apply(ctx, m.ID, "w", t0, tr); err != nil {
			t.Fatal(err)
		}
		tr = keep
		tr.State, tr.ClearOSCI, tr.OSCIMessageID = StateAccepted, true, "m-2"
		if err := s.Apply(ctx, m.ID, "w", t0, tr); err == nil {
			t.Fatal("set and clear in one transition accepted")
		}
		tr = keep
		tr.State, tr.ClearOSCI = StateAccepted, true
		if err := s.Apply(ctx, m.ID, "w", t0, tr); err != nil {
			t.Fatal(err)
		}
		if cur, _ := s.Get(ctx, m.ID); cur.OSCIMessageID != "" || cur.Route != nil {
			t.Fatalf("after ClearOSCI: %+v", cur)
		}
		tr = keep
		tr.State, tr.ClearOSCI, tr.Route = StateRouted, true, []byte(`{"b":2}`)
		if err := s.Apply(ctx, m.ID, "w", t0, tr); err != nil {
			t.Fatal(err)
		}
		if cur, _ := s.Get(ctx, m.ID); string(cur.Route) != `{"b":2}` {
			t.Fatalf("route %q", cur.Route)
		}
	})
}

func TestPurgeKeepsAuditTrail(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		old, _, _ := s.Accept(ctx, newMsg("c1", "", "old"), t0)
		recent, _, _ := s.Accept(ctx, newMsg("c1", "", "recent"), t0)
		undelivered, _, _ := s.Accept(ctx, newMsg("c1", "", "open"), t0)
		s.Claim(ctx, "w", t0, time.Minute, 10)
		s.Apply(ctx, old.ID, "w", t0, Transition{State: StateDelivered, DeliveredAt: t0})
		s.Apply(ctx, recent.ID, "w", t0, Transition{State: StateDelivered, DeliveredAt: t0.Add(48 * time.Hour)})
		n, err := s.PurgeDelivered(ctx, t0.Add(24*time.Hour), t0.Add(50*time.Hour), 100)
		if err != nil || n != 1 {
			t.Fatalf("purged %d: %v", n, err)
		}
		if _, err := s.Blob(ctx, old.ID, PartBody); !errors.Is(err, ErrNotFound) {
			t.Fatalf("purged body still there: %v", err)
		}
		for _, id := range []string{recent.ID, undelivered.ID} {
			if _, err := s.Blob(ctx, id, PartBody); err != nil {
				t.Fatalf("body of %s purged too early: %v", id, err)
			}
		}
		m, _ := s.Get(ctx, old.ID)
		evs, _ := s.Timeline(ctx, old.ID)
		if m.PurgedAt.IsZero() || m.State != StateDelivered || evs[len(evs)-1].Kind != EventPurged {
			t.Fatalf("audit after purge: %+v %+v", m, evs)
		}
		if n, _ := s.PurgeDelivered(ctx, t0.Add(24*time.Hour), t0.Add(50*time.Hour), 100); n != 0 {
			t.Fatal("purged twice")
		}
	})
}

func TestListPagesAndFilters(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var ids []string
		for i := 0; i < 7; i++ {
			m, _, _ := s.Accept(ctx, newMsg("c1", "", fmt.Sprint(i)), t0)
			ids = append(ids, m.ID)
		}
		s.Accept(ctx, newMsg("c2", "", "x"), t0)
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			page, next, err := s.List(ctx, ListFilter{ClientID: "c1", After: cursor, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				got = append(got, m.ID)
			}
			if next == "" {
				break
			}
			cursor = next
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		sort.Strings(ids)
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("pages %v want %v", got, ids)
		}
		all, _, _ := s.List(ctx, ListFilter{All: true, Limit: 100})
		if len(all) != 8 {
			t.Fatalf("admin list %d", len(all))
		}
		dead, _, _ := s.List(ctx, ListFilter{ClientID: "c1", State: StateDead})
		if len(dead) != 0 {
			t.Fatal("state filter ignored")
		}
	})
}

func TestInboxExactlyOnceWithWebhooks(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		n, err := s.NoteInbound(ctx, []string{"osci-a", "osci-b"}, t0)
		if err != nil || n != 2 {
			t.Fatalf("note: %d %v", n, err)
		}
		if n, _ := s.NoteInbound(ctx, []string{"osci-a"}, t0); n != 0 {
			t.Fatal("noted twice")
		}
		pend, _ := s.PendingInbound(ctx, 10)
		if len(pend) != 2 {
			t.Fatalf("pending %v", pend)
		}
		it := InboxItem{OSCIMessageID: "osci-a", ClientID: "c1", MessageID: "m1", Kind: "statusmeldung", TypeCode: "130104", ReceivedAt: t0}
		hooks := []NewWebhook{{Subscriber: "backend", Event: "reply.received"}}
		for i := 0; i < 3; i++ {
			ins, err := s.StoreReply(ctx, it, Blob{KeyID: "k", Data: []byte("sealed"), Size: 6}, hooks, t0)
			if err != nil || ins != (i == 0) {
				t.Fatalf("store reply #%d: inserted=%v err=%v", i, ins, err)
			}
		}
		pend, _ = s.PendingInbound(ctx, 10)
		if len(pend) != 1 || pend[0] != "osci-b" {
			t.Fatalf("pending after store %v", pend)
		}
		items, next, err := s.ListInbox(ctx, InboxFilter{ClientID: "c1"})
		if err != nil || len(items) != 1 || next != 0 || items[0].Kind != "statusmeldung" {
			t.Fatalf("inbox %+v %v", items, err)
		}
		if other, _, _ := s.ListInbox(ctx, InboxFilter{ClientID: "c2"}); len(other) != 0 {
			t.Fatal("other client sees the reply")
		}
		wh, _ := s.WebhookDeliveries(ctx, items[0].ID)
		if len(wh) != 1 {
			t.Fatalf("%d webhook deliveries for one reply", len(wh))
		}
		if _, err := s.AckInbox(ctx, items[0].ID, "c2", false, t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("other client acked: %v", err)
		}
		if _, err := s.AckInbox(ctx, items[0].ID, "c1", false, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if items, _, _ := s.ListInbox(ctx, InboxFilter{ClientID: "c1"}); len(items) != 0 {
			t.Fatal("acked item still listed")
		}
		if items, _, _ := s.ListInbox(ctx, InboxFilter{ClientID: "c1", IncludeAcked: true}); len(items) != 1 {
			t.Fatal("acked item not listed with include_acked")
		}
		if n, _ := s.PurgeInbox(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 10); n != 1 {
			t.Fatalf("purged %d", n)
		}
		if _, err := s.Blob(ctx, it.OSCIMessageID, PartBody); !errors.Is(err, ErrNotFound) {
			t.Fatal("blob lookup by wrong owner succeeded")
		}
		un, total, _ := s.InboxCounts(ctx)
		if un != 0 || total != 1 {
			t.Fatalf("counts %d %d", un, total)
		}
	})
}

func TestWebhookClaimAndFinish(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.QueueWebhooks(ctx, []NewWebhook{{Subscriber: "a", Event: "e", SubjectID: "x"}, {Subscriber: "a", Event: "e", SubjectID: "x"}}, t0); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClaimWebhooks(ctx, "w", t0, time.Minute, 10)
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %v %d", err, len(got))
		}
		if err := s.FinishWebhook(ctx, got[0].ID, "other", t0, WebhookOutcome{State: WebhookDelivered}); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("foreign finish: %v", err)
		}
		if err := s.FinishWebhook(ctx, got[0].ID, "w", t0, WebhookOutcome{State: WebhookPending, Attempts: 1, NextAttemptAt: t0.Add(time.Minute), Status: 503}); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.ClaimWebhooks(ctx, "w", t0.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatal("claimed before backoff elapsed")
		}
		again, _ := s.ClaimWebhooks(ctx, "w", t0.Add(time.Minute), time.Minute, 10)
		if len(again) != 1 || again[0].Attempts != 1 || again[0].LastStatus != 503 {
			t.Fatalf("retry claim %+v", again)
		}
		s.FinishWebhook(ctx, again[0].ID, "w", t0, WebhookOutcome{State: WebhookDelivered, Attempts: 2, Status: 204})
		c, _ := s.WebhookCounts(ctx)
		if c[WebhookDelivered] != 1 || c[WebhookPending] != 0 {
			t.Fatalf("counts %v", c)
		}
	})
}

func TestSyncClients(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		s.SyncClients(ctx, []Client{{ID: "a", TokenSHA256: "aa"}, {ID: "b", CertSHA256: "bb", Admin: true}}, t0)
		s.SyncClients(ctx, []Client{{ID: "b", CertSHA256: "bb", Admin: true}}, t0)
		cs, err := s.Clients(ctx)
		if err != nil || len(cs) != 1 || cs[0].ID != "b" || !cs[0].Admin {
			t.Fatalf("%+v %v", cs, err)
		}
	})
}

func TestConcurrentSyncClients(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.SyncClients(ctx, []Client{{ID: "forms", TokenSHA256: "aa"}, {ID: "ops", TokenSHA256: "bb", Admin: true}}, t0)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("concurrent sync: %v", err)
			}
		}
		if cs, _ := s.Clients(ctx); len(cs) != 2 {
			t.Fatalf("%+v", cs)
		}
		if err := s.SyncClients(ctx, nil, t0); err != nil {
			t.Fatal(err)
		}
		if cs, _ := s.Clients(ctx); len(cs) != 0 {
			t.Fatalf("%+v", cs)
		}
	})
}

func TestNewIDIsTimeOrderedUUIDv7(t *testing.T) {
	a := NewID()
	time.Sleep(2 * time.Millisecond)
	b := NewID()
	if len(a) != 36 || a[14] != '7' || !(a < b) {
		t.Fatalf("ids %s %s", a, b)
	}
}

func TestOpenRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "mysql", "x", Options{}); err == nil {
		t.Fatal("unknown dialect accepted")
	}
	if _, err := Open(ctx, SQLite, "file:x.db?mode=memory", Options{}); err == nil {
		t.Fatal("sqlite URI accepted")
	}
	if _, err := Open(ctx, SQLite, filepath.Join(t.TempDir(), "x.db"), Options{SQLiteSynchronous: "OFF"}); err == nil {
		t.Fatal("synchronous=OFF accepted")
	}
}

func TestReleaseLeasesOfAPreviousIncarnation(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// Instances whose names extend one another: a prefix match would
		// let "gw" free the live leases of all the others (finding 6).
		instances := []string{"gw", "gw-b", "gw-1", "gw-10", "gw.example", "xagw"}
		owners := map[string]string{}
		for _, inst := range instances {
			o, err := LeaseOwner(inst)
			if err != nil {
				t.Fatal(err)
			}
			owners[inst] = o
		}
		for i := range 2 * len(instances) {
			s.Accept(ctx, newMsg("c", "", fmt.Sprint(i)), t0)
		}
		if err := s.QueueWebhooks(ctx, []NewWebhook{{Subscriber: "a", Event: "e", SubjectID: "1"}, {Subscriber: "a", Event: "e", SubjectID: "2"}}, t0); err != nil {
			t.Fatal(err)
		}
		for _, inst := range instances {
			if got, _ := s.Claim(ctx, owners[inst], t0, time.Hour, 2); len(got) != 2 {
				t.Fatalf("claim for %s", inst)
			}
		}
		if got, _ := s.ClaimWebhooks(ctx, owners["gw"], t0, time.Hour, 1); len(got) != 1 {
			t.Fatal("claim webhook")
		}
		if got, _ := s.ClaimWebhooks(ctx, owners["gw-b"], t0, time.Hour, 1); len(got) != 1 {
			t.Fatal("claim webhook")
		}

		// A restart of "gw": a new owner id, and only the old run's leases go.
		n, err := s.ReleaseLeases(ctx, "gw")
		if err != nil || n != 2 {
			t.Fatalf("released %d: %v", n, err)
		}
		held := map[string]int{}
		ms, _, _ := s.List(ctx, ListFilter{All: true, Limit: 100})
		for _, m := range ms {
			held[m.LeaseOwner]++
		}
		for _, inst := range instances {
			want := 2
			if inst == "gw" {
				want = 0
			}
			if held[owners[inst]] != want {
				t.Errorf("instance %s holds %d leases after gw restarted, want %d", inst, held[owners[inst]], want)
			}
		}
		next, _ := LeaseOwner("gw")
		if got, _ := s.ClaimWebhooks(ctx, next, t0.Add(time.Second), time.Hour, 10); len(got) != 1 {
			t.Fatalf("reclaimed %d webhooks, want gw's one (gw-b's lease is alive)", len(got))
		}
		if got, _ := s.Claim(ctx, next, t0.Add(time.Second), time.Hour, 10); len(got) != 2 {
			t.Fatalf("reclaimed %d messages, want the 2 released", len(got))
		}

		for _, bad := range []string{"", "gw/1", "gw b", "gw\x00", "ä", strings.Repeat("g", 65)} {
			if _, err := s.ReleaseLeases(ctx, bad); err == nil {
				t.Errorf("ReleaseLeases(%q) accepted", bad)
			}
			if _, err := LeaseOwner(bad); err == nil {
				t.Errorf("LeaseOwner(%q) accepted", bad)
			}
		}
	})
}

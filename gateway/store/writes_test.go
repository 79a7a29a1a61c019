package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/testpg"
)

// A transition with more events than one INSERT takes (eventChunk) keeps
// every event, in order, with the values and defaults of one-by-one inserts.
func TestManyEventsKeepOrderAndValues(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, _, err := s.Accept(ctx, newMsg("c1", "", "many"), t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, "w", t0, time.Minute, 1); err != nil {
			t.Fatal(err)
		}
		const n = 2*eventChunk + 37
		evs := make([]Event, n)
		for i := range evs {
			evs[i] = Event{Kind: fmt.Sprintf("k%03d", i), State: States[i%len(States)], Code: fmt.Sprint(i * 7), Reason: fmt.Sprintf("reason %d ü", i)}
			if i%3 == 0 { // explicit values win over the transition's defaults
				evs[i].At, evs[i].Attempt, evs[i].OSCIMessageID = t0.Add(time.Duration(i)*time.Second), 100+i, fmt.Sprintf("own-%d", i)
			}
		}
		evs[5].Reason = strings.Repeat("x", 700) // truncated as before
		now := t0.Add(time.Hour)
		if err := s.Apply(ctx, m.ID, "w", now, Transition{State: StateSending, Attempts: 4, OSCIMessageID: "osci-x", Events: evs}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Timeline(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n+1 || got[0].Kind != EventAccepted {
			t.Fatalf("timeline has %d events, want %d after %q", len(got), n+1, EventAccepted)
		}
		for i, e := range evs {
			g := got[i+1]
			want := Event{Seq: g.Seq, MessageID: m.ID, At: now, Kind: e.Kind, State: e.State, Attempt: 4, Code: e.Code, Reason: truncate(e.Reason, 500), OSCIMessageID: "osci-x"}
			if i%3 == 0 {
				want.At, want.Attempt, want.OSCIMessageID = e.At, e.Attempt, e.OSCIMessageID
			}
			if g != want {
				t.Fatalf("event %d:\n got %+v\nwant %+v", i, g, want)
			}
			if g.Seq <= got[i].Seq {
				t.Fatalf("event %d has seq %d after %d", i, g.Seq, got[i].Seq)
			}
		}
	})
}

// bigRoute is a route of the size DVDV gives (URLs and four certificates,
// ~6 KB), distinct per n.
func bigRoute(n int) []byte {
	return []byte(fmt.Sprintf(`{"authority":"01001","n":%d,"certs":["%s"]}`, n, strings.Repeat("MIIBase64Cert", 480)))
}

// eachDBWithDSN is eachDB for tests that open the database themselves.
func eachDBWithDSN(t *testing.T, fn func(t *testing.T, d Dialect, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, SQLite, filepath.Join(t.TempDir(), "gw.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, Postgres, testpg.DSN(t))
	})
}

func countRows(t *testing.T, s *Store, query string) int {
	t.Helper()
	var n int
	if err := s.r.Get(&n, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Many messages along the same route store it once; every read path returns
// it byte for byte, also from a store whose cache is empty.
func TestRoutesStoredOnceAndReturnedEqual(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		routes := [][]byte{bigRoute(1), bigRoute(2)}
		const n = 12
		ids := map[string][]byte{}
		for i := 0; i < n; i++ {
			m, _, err := s.Accept(ctx, newMsg("c1", "", fmt.Sprint("r", i)), t0)
			if err != nil {
				t.Fatal(err)
			}
			ids[m.ID] = routes[i%2]
		}
		if got, err := s.Claim(ctx, "w", t0, time.Minute, n); err != nil || len(got) != n {
			t.Fatalf("claim: %d %v", len(got), err)
		}
		for id, r := range ids {
			// a copy: the store must not keep the caller's slice
			if err := s.Apply(ctx, id, "w", t0, Transition{State: StateSending, OSCIMessageID: "o-" + id, Route: append([]byte(nil), r...), KeepLease: true, LeaseUntil: t0.Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
		if k := countRows(t, s, `SELECT count(*) FROM routes`); k != 2 {
			t.Fatalf("%d routes stored for 2 distinct routes", k)
		}
		if k := countRows(t, s, `SELECT count(*) FROM messages WHERE route IS NOT NULL OR route_sha256 IS NULL`); k != 0 {
			t.Fatalf("%d messages hold the route inline or no reference", k)
		}
		check := func(how string, ms []*Message) {
			t.Helper()
			if len(ms) != n {
				t.Fatalf("%s: %d messages, want %d", how, len(ms), n)
			}
			for _, m := range ms {
				if !bytes.Equal(m.Route, ids[m.ID]) {
					t.Fatalf("%s: message %s has route of %d bytes, want %d", how, m.ID, len(m.Route), len(ids[m.ID]))
				}
			}
		}
		for _, cold := range []bool{false, true} {
			if cold {
				s.routes = routeCache{} // as a fresh process: routes come from the table
			}
			var got []*Message
			for id := range ids {
				m, err := s.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, m)
			}
			check("Get", got)
			list, _, err := s.List(ctx, ListFilter{All: true, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			check("List", list)
		}
		s.routes = routeCache{}
		claimed, err := s.Claim(ctx, "w2", t0.Add(2*time.Minute), time.Minute, n)
		if err != nil {
			t.Fatal(err)
		}
		check("Claim", claimed)
		// A message that starts over forgets its route; the route stays for
		// the others.
		var first string
		for id := range ids {
			first = id
			break
		}
		if err := s.Apply(ctx, first, "w2", t0.Add(2*time.Minute), Transition{State: StateAccepted, ClearOSCI: true}); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Get(ctx, first); m.Route != nil {
			t.Fatalf("cleared route still returned: %d bytes", len(m.Route))
		}
	})
}

// A route row changed behind the store's back no longer matches its hash:
// reads fail instead of handing a sender another route.
func TestTamperedRouteIsRefused(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		m, _, _ := s.Accept(ctx, newMsg("c1", "", "t"), t0)
		s.Claim(ctx, "w", t0, time.Minute, 1)
		if err := s.Apply(ctx, m.ID, "w", t0, Transition{State: StateSending, OSCIMessageID: "o", Route: bigRoute(7)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.w.Exec(`UPDATE routes SET route = '{"intermediary":"http://elsewhere"}'`); err != nil {
			t.Fatal(err)
		}
		s.routes = routeCache{}
		if _, err := s.Get(ctx, m.ID); err == nil || !strings.Contains(err.Error(), "does not match its hash") {
			t.Fatalf("tampered route read: %v", err)
		}
		// A claim that meets the tampered route fails and leaves every row
		// it touched unleased (on PostgreSQL the claim commits on its own
		// and releases the rows again; on SQLite its transaction rolls back).
		other, _, _ := s.Accept(ctx, newMsg("c1", "", "t"), t0)
		if got, err := s.Claim(ctx, "w2", t0, time.Minute, 10); err == nil || !strings.Contains(err.Error(), "does not match its hash") {
			t.Fatalf("claim over a tampered route: %d messages, %v", len(got), err)
		}
		for _, id := range []string{m.ID, other.ID} {
			var leased int
			if err := s.w.Get(&leased, s.q(`SELECT count(*) FROM messages WHERE id = ? AND (lease_owner IS NOT NULL OR lease_until IS NOT NULL)`), id); err != nil {
				t.Fatal(err)
			}
			if leased != 0 {
				t.Fatalf("message %s left leased by a failed claim", id)
			}
		}
	})
}

// A database of the schema before migration 0005, with routes inline in the
// message rows, keeps returning them after the migration; a new route for
// such a message goes to the routes table.
func TestInlineRoutesFromBeforeMigration5(t *testing.T) {
	eachDBWithDSN(t, func(t *testing.T, d Dialect, dsn string) {
		ctx := context.Background()
		var old *Store
		var err error
		if d == SQLite {
			old, err = openSQLite(dsn, Options{})
		} else {
			old, err = openPostgres(dsn, Options{})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := old.migrateTo(ctx, 4); err != nil {
			t.Fatal(err)
		}
		if k := countRows(t, old, `SELECT count(*) FROM schema_migrations WHERE version >= 5`); k != 0 {
			t.Fatalf("old schema has %d migrations from 5 on", k)
		}
		inline := bigRoute(3)
		var ids []string
		for i := 0; i < 3; i++ {
			m, _, err := old.Accept(ctx, newMsg("c1", "", fmt.Sprint("old", i)), t0)
			if err != nil {
				t.Fatal(err)
			}
			// what Apply wrote before migration 0005
			if _, err := old.w.Exec(old.q(`UPDATE messages SET state = ?, route = ?, osci_message_id = ? WHERE id = ?`), string(StateSending), string(inline), "o", m.ID); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		old.Close()

		s, err := Open(ctx, d, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, id := range ids {
			m, err := s.Get(ctx, id)
			if err != nil || !bytes.Equal(m.Route, inline) {
				t.Fatalf("inline route after migration: %v, %d bytes", err, len(m.Route))
			}
		}
		claimed, err := s.Claim(ctx, "w", t0, time.Minute, 10)
		if err != nil || len(claimed) != 3 {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		for _, m := range claimed {
			if !bytes.Equal(m.Route, inline) {
				t.Fatalf("claim returned %d route bytes", len(m.Route))
			}
		}
		// New route: stored by hash, inline copy gone.
		fresh := bigRoute(4)
		if err := s.Apply(ctx, ids[0], "w", t0, Transition{State: StateRouted, ClearOSCI: true, Route: fresh, KeepLease: true, LeaseUntil: t0.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Get(ctx, ids[0]); !bytes.Equal(m.Route, fresh) {
			t.Fatalf("new route: %d bytes", len(m.Route))
		}
		// Starting over without a route clears an inline one too.
		if err := s.Apply(ctx, ids[1], "w", t0, Transition{State: StateAccepted, ClearOSCI: true}); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Get(ctx, ids[1]); m.Route != nil {
			t.Fatal("inline route survived ClearOSCI")
		}
		if k := countRows(t, s, `SELECT count(*) FROM messages WHERE route IS NOT NULL`); k != 1 {
			t.Fatalf("%d inline routes left, want 1 (the untouched message)", k)
		}
	})
}

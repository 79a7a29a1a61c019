package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
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

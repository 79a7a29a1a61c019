package store

import (
	"context"
	"testing"
	"time"
)

// The mailbox listing's high-water mark moves only forward and is written
// in the transaction that records the listed ids (a crash cannot leave a
// mark past ids that were never recorded).
func TestMailboxCursorMovesForwardWithTheListing(t *testing.T) {
	eachDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if m, err := s.MailboxCursor(ctx, "replies"); err != nil || !m.IsZero() {
			t.Fatalf("fresh cursor %v %v", m, err)
		}
		n, err := s.NoteInboundListing(ctx, []string{"a", "b"}, "replies", t0.Add(time.Minute), t0)
		if err != nil || n != 2 {
			t.Fatalf("note: %d %v", n, err)
		}
		// An older listing (overlap) neither moves the mark back nor
		// records an id twice.
		if n, err = s.NoteInboundListing(ctx, []string{"b", "c"}, "replies", t0, t0); err != nil || n != 1 {
			t.Fatalf("note again: %d %v", n, err)
		}
		if m, _ := s.MailboxCursor(ctx, "replies"); !m.Equal(t0.Add(time.Minute)) {
			t.Fatalf("mark moved back to %v", m)
		}
		// A zero mark (nothing new listed) leaves it alone.
		if _, err = s.NoteInboundListing(ctx, nil, "replies", time.Time{}, t0); err != nil {
			t.Fatal(err)
		}
		if _, err = s.NoteInboundListing(ctx, nil, "replies", t0.Add(time.Hour), t0); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.MailboxCursor(ctx, "replies"); !m.Equal(t0.Add(time.Hour)) {
			t.Fatalf("mark %v", m)
		}
		ids, _ := s.PendingInbound(ctx, 10)
		if len(ids) != 3 {
			t.Fatalf("pending %v", ids)
		}
	})
}

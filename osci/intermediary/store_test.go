package intermediary

import (
	"errors"
	"testing"
	"time"
)

// The store consumes a message id only for the client it was issued to and
// only once, and says why it refuses: unknown, already used, or issued to
// another client (which leaves the id usable by its owner).
func TestStoreConsumesMessageIDOnce(t *testing.T) {
	st, err := openStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	now := time.Now()
	id, err := st.issueMessageID(ctx(), "owner", now)
	if err != nil {
		t.Fatal(err)
	}
	store := func(msgID, originator string) error {
		return st.insertDelivery(ctx(), &delivery{msgID: msgID, mailbox: "mb", originator: originator, kind: "store",
			content: []byte("<c/>"), created: now}, true)
	}
	if err := store("never-issued", "owner"); !errors.Is(err, errUnknownID) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := store(id, "someone-else"); !errors.Is(err, errForeignID) {
		t.Fatalf("foreign id: %v", err)
	}
	if err := store(id, "owner"); err != nil {
		t.Fatalf("owner after a foreign attempt: %v", err)
	}
	if err := store(id, "owner"); !errors.Is(err, errUsedID) {
		t.Fatalf("second use: %v", err)
	}
	if err := store(id, "someone-else"); !errors.Is(err, errUsedID) {
		t.Fatalf("used id, other client: %v", err)
	}
	var n int
	var used *int64
	if err := st.w.QueryRow(`SELECT count(*) FROM deliveries`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d deliveries stored (%v), want 1", n, err)
	}
	if err := st.w.QueryRow(`SELECT used_at FROM message_ids WHERE id = ?`, id).Scan(&used); err != nil || used == nil || *used != now.UnixNano() {
		t.Fatalf("used_at %v (%v)", used, err)
	}
}

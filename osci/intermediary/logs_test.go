package intermediary

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/xagw/xagw/osci"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// An empty mailbox is a normal answer: listing process cards and fetching
// from an empty mailbox log no warning (the gateway polls every 30 s), and
// durations are logged as milliseconds ("duration_ms"), never as a Go
// duration's integer nanoseconds.
func TestEmptyMailboxLogsNoWarning(t *testing.T) {
	e := newEnv(t)
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := osci.NewClient(osci.Config{URL: e.srv.URL, IntermediaryCipher: cert(t, "osci_manager_cipher_4096"),
		IntermediarySignature: cert(t, "osci_manager_signature_4096"), Signer: identity(t, "alice_signature_4096"),
		Cipher: identity(t, "bob_cipher_4096"), Policy: policy(t), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cards, _, err := c.FetchProcessCards(ctx(), osci.CardSelection{NoReception: true, Role: "Addressee", Limit: 100})
	if err != nil || len(cards) != 0 {
		t.Fatalf("empty listing: %+v %v", cards, err)
	}
	if _, err := c.FetchDelivery(ctx(), osci.FetchSelection{}); !errors.Is(err, osci.ErrNoDelivery) {
		t.Fatalf("empty fetch: %v", err)
	}
	recs := buf.records(t)
	if len(recs) < 6 {
		t.Fatalf("%d log records, want one per exchange", len(recs))
	}
	for _, r := range recs {
		if r["level"] == "WARN" || r["level"] == "ERROR" {
			t.Errorf("empty mailbox logged %v: %v", r["level"], r)
		}
		if _, ok := r["duration"]; ok {
			t.Errorf("duration logged as %v (nanoseconds)", r["duration"])
		}
		if ms, ok := r["duration_ms"].(float64); !ok || ms < 0 || ms > 60_000 {
			t.Errorf("duration_ms %v in %v", r["duration_ms"], r)
		}
	}
}

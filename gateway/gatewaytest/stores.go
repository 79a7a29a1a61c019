package gatewaytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xagw/xagw/gateway/atrest"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/internal/testpg"
)

// EachStore runs fn as two parallel subtests: against a fresh SQLite file and
// against a fresh PostgreSQL database (internal/testpg: skipped without a
// server unless XAGW_REQUIRE_POSTGRES=1). dsn is the SQLite path or the
// PostgreSQL DSN, for tests that open a second connection.
func EachStore(t *testing.T, fn func(t *testing.T, s *store.Store, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "gw.db")
		s, err := store.Open(context.Background(), store.SQLite, path, store.Options{SQLiteSynchronous: "NORMAL"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s, path)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := testpg.DSN(t)
		s, err := store.Open(context.Background(), store.Postgres, dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s, dsn)
	})
}

// BenchStoreKinds are the stores the benchmarks compare: SQLite with
// synchronous=FULL (the default) and NORMAL, and PostgreSQL.
var BenchStoreKinds = []string{"sqlite-full", "sqlite-normal", "postgres"}

// OpenBenchStore opens a fresh store of one of BenchStoreKinds, closed when
// tb ends.
func OpenBenchStore(tb testing.TB, kind string) *store.Store {
	tb.Helper()
	var s *store.Store
	var err error
	switch kind {
	case "sqlite-full", "sqlite-normal":
		mode := "FULL"
		if kind == "sqlite-normal" {
			mode = "NORMAL"
		}
		s, err = store.Open(context.Background(), store.SQLite, filepath.Join(tb.TempDir(), "b.db"), store.Options{SQLiteSynchronous: mode})
	case "postgres":
		s, err = store.Open(context.Background(), store.Postgres, testpg.DSN(tb), store.Options{})
	default:
		tb.Fatalf("gatewaytest: unknown store kind %q", kind)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Keyring returns an at-rest keyring with a random key.
func Keyring(t testing.TB) *atrest.Keyring {
	k := make([]byte, atrest.KeySize)
	rand.Read(k)
	kr, err := atrest.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// LogBuffer collects everything logged through its Logger (JSON lines), so
// tests can assert what never appears in logs.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Logger returns a debug-level JSON logger writing to l.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

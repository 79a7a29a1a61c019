package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/internal/testpg"
)

// BenchmarkClaim measures one claim of one due message, the dispatcher's
// cost per claim transaction: the process CPU (database/sql, the driver,
// for SQLite the engine) and, on PostgreSQL, the CPU of the server backend
// serving the store's single connection (read from /proc, so only for a
// server on this machine; 10 ms ticks, so run a few thousand claims). It
// uses only the exported API so the same file measures an older commit.
func BenchmarkClaim(b *testing.B) {
	for _, name := range []string{"sqlite-full", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var s *store.Store
			var err error
			var admin *sql.DB
			if name == "postgres" {
				dsn := testpg.DSN(b)
				s, err = store.Open(ctx, store.Postgres, dsn, store.Options{MaxOpenConns: 1})
				if err == nil {
					admin, err = sql.Open("pgx", dsn)
				}
			} else {
				s, err = store.Open(ctx, store.SQLite, filepath.Join(b.TempDir(), "gw.db"), store.Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now()
			for i := 0; i < b.N; i++ {
				if _, _, err := s.Accept(ctx, store.NewMessage{ClientID: "c1", RequestHash: "h", Recipient: "01001", TypeCode: "130101",
					Version: "26.11", MessageUUID: store.NewID(), Blobs: []store.Blob{{Part: store.PartBody, KeyID: "k1", Data: make([]byte, 64), Size: 60}}}, now); err != nil {
					b.Fatal(err)
				}
			}
			backend := -1
			if admin != nil {
				defer admin.Close()
				// The store has one connection, the only other one to
				// this test's database.
				if err := admin.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&backend); err != nil {
					b.Logf("no backend pid: %v", err)
				}
			}
			srv0 := procCPU(backend)
			cpu0 := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := s.Claim(ctx, "w", now, time.Minute, 1)
				if err != nil || len(got) != 1 {
					b.Fatalf("claim: %v %d", err, len(got))
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/claim")
			if srv0 >= 0 {
				b.ReportMetric(float64((procCPU(backend)-srv0).Microseconds())/float64(b.N), "server-cpu-µs/claim")
			}
		})
	}
}

// procCPU returns the user+system CPU of process pid from /proc (-1 if it
// cannot be read).
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) start at ") ".
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return -1
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

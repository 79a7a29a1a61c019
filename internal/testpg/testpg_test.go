package testpg

import (
	"context"
	"database/sql"
	"testing"
)

func TestDSNGivesAnEmptyUsableDatabase(t *testing.T) {
	dsn := DSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("fresh database has %d tables", n)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (x int)`); err != nil {
		t.Fatal(err)
	}
	var cur string
	if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&cur); err != nil {
		t.Fatal(err)
	}
	if cur[:10] != "xagw_test_" {
		t.Fatalf("connected to %q, want a per-test database", cur)
	}
}

func TestTwoCallsGiveDistinctDatabases(t *testing.T) {
	a, b := DSN(t), DSN(t)
	if a == b {
		t.Fatalf("same DSN twice: %s", a)
	}
}

// Package testpg gives each test its own fresh PostgreSQL database on the
// server named by XAGW_TEST_POSTGRES_DSN (scripts/pg.sh starts one).
//
// Without the variable the test is skipped, unless XAGW_REQUIRE_POSTGRES=1, in
// which case it fails: CI must never pass by silently skipping the PostgreSQL
// half of a suite.
package testpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// Environment variables read by DSN.
const (
	EnvDSN     = "XAGW_TEST_POSTGRES_DSN"
	EnvRequire = "XAGW_REQUIRE_POSTGRES"
)

// DSN creates a new, empty database on the test server and returns a DSN
// for it. The database is dropped when the test ends. It skips (or fails, see
// the package comment) when no server is configured.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("testpg: %s=1 but %s is not set (start a server with scripts/pg.sh)", EnvRequire, EnvDSN)
		}
		t.Skipf("testpg: %s not set; skipping the PostgreSQL variant", EnvDSN)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testpg: %s is not a URL: %v", EnvDSN, err)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testpg: open %s: %v", redact(u), err)
	}
	defer admin.Close()

	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "xagw_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testpg: create database on %s: %v", redact(u), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("testpg: reopen for cleanup: %v", err)
			return
		}
		defer db.Close()
		// WITH (FORCE) ends connections the test may have leaked, so a
		// forgotten Close shows as a failure of that test rather than as a
		// pile of databases on the server.
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testpg: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func redact(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(c.User.Username())
	}
	return c.String()
}

// Describe returns a short human description of where DSN databases are
// created (host and port, no credentials), for test logs.
func Describe() string {
	base := os.Getenv(EnvDSN)
	if base == "" {
		return "(no PostgreSQL configured)"
	}
	u, err := url.Parse(base)
	if err != nil {
		return "(unparseable DSN)"
	}
	return fmt.Sprintf("postgres at %s", u.Host)
}

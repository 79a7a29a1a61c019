// Package store keeps the gateway's durable state: the outbox with its
// timeline, encrypted blobs, the inbox of replies, webhook deliveries and API
// clients. It runs on SQLite (WAL, one writer; the embedded default) and on
// PostgreSQL (several gateway instances, claiming with FOR UPDATE SKIP
// LOCKED) from one set of migrations.
//
// Every state change of a message is one transaction that also appends its
// timeline entries, and every change made by a worker is fenced by the lease
// it holds, so a worker that lost its lease cannot overwrite the work of the
// one that took over.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // "sqlite3" driver
)

// Dialect names a supported database.
type Dialect string

// Supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("store: not found")
	// ErrLeaseLost means the row is no longer claimed by the caller (its
	// lease expired and another worker took it, or it was never claimed).
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrIdempotencyConflict means the idempotency key was used before
	// with a different request.
	ErrIdempotencyConflict = errors.New("store: idempotency key reused with a different request")
	// ErrState means the requested change does not apply in the row's
	// current state (e.g. retrying a message that is not dead-lettered).
	ErrState = errors.New("store: not allowed in the current state")
)

// Options tune Open.
type Options struct {
	// SQLiteSynchronous is PRAGMA synchronous for SQLite: "FULL" (default;
	// a committed message survives power loss) or "NORMAL" (survives a
	// process crash, kill -9, but not power loss; faster).
	SQLiteSynchronous string
	// MaxOpenConns bounds PostgreSQL connections (default 16) and SQLite
	// read connections (default 4). SQLite always has exactly one writer.
	MaxOpenConns int
}

// Store is the gateway's database. It is safe for concurrent use.
type Store struct {
	dialect Dialect
	w       *sqlx.DB // writes (SQLite: exactly one connection)
	r       *sqlx.DB // reads (SQLite: read-only pool; PostgreSQL: same as w)

	qmu   sync.RWMutex
	qmemo map[string]string

	routes routeCache // route JSON by hash (see routes.go)

	// applyInTx makes Apply on PostgreSQL take the transaction path of
	// SQLite instead of its single statement; tests compare the two.
	applyInTx bool
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open connects to the database and applies pending migrations. For SQLite,
// dsn is a file path (created with its folder if missing); for PostgreSQL a
// URL or key/value DSN understood by pgx.
func Open(ctx context.Context, dialect Dialect, dsn string, opt Options) (*Store, error) {
	var s *Store
	var err error
	switch dialect {
	case SQLite:
		s, err = openSQLite(dsn, opt)
	case Postgres:
		s, err = openPostgres(dsn, opt)
	default:
		return nil, fmt.Errorf("store: unknown database %q (want %q or %q)", dialect, SQLite, Postgres)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(path string, opt Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: SQLite needs a file path")
	}
	if strings.HasPrefix(path, "file:") || strings.Contains(path, "?") {
		return nil, fmt.Errorf("store: SQLite path %q must be a plain file path; the store sets the pragmas itself", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	sync := strings.ToUpper(opt.SQLiteSynchronous)
	if sync == "" {
		sync = "FULL"
	}
	if sync != "FULL" && sync != "NORMAL" {
		return nil, fmt.Errorf("store: SQLite synchronous must be FULL or NORMAL, not %q", opt.SQLiteSynchronous)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", sync)
	// BEGIN IMMEDIATE takes the write lock at the start of a transaction,
	// so a read-then-write transaction never fails half way with SQLITE_BUSY.
	q.Set("_txlock", "immediate")
	// Keep prepared statements per connection: every delivery runs the same
	// statements, and preparing them each time cost measurable CPU.
	q.Set("_stmt_cache_size", "64")
	wdsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	w, err := sqlx.Open("sqlite3", wdsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1) // SQLite has one writer; queue in Go, not in busy loops
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// The file holds encrypted bodies only, but its metadata is still
	// nobody else's business.
	_ = os.Chmod(path, 0o600)

	rq := url.Values{}
	rq.Set("_busy_timeout", "10000")
	rq.Set("_query_only", "1")
	rq.Set("_stmt_cache_size", "64")
	r, err := sqlx.Open("sqlite3", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, err
	}
	n := opt.MaxOpenConns
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &Store{dialect: SQLite, w: w, r: r, qmemo: map[string]string{}}, nil
}

func openPostgres(dsn string, opt Options) (*Store, error) {
	db, err := sqlx.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL: %w", err)
	}
	n := opt.MaxOpenConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	return &Store{dialect: Postgres, w: db, r: db, qmemo: map[string]string{}}, nil
}

// Dialect reports which database the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the connections.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		if e := s.r.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.w.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// q rewrites a query written with ? placeholders and dialect tokens for the
// store's database, memoised.
func (s *Store) q(query string) string {
	s.qmu.RLock()
	out, ok := s.qmemo[query]
	s.qmu.RUnlock()
	if ok {
		return out
	}
	out = s.tokens(query)
	if s.dialect == Postgres {
		out = sqlx.Rebind(sqlx.DOLLAR, out)
	}
	s.qmu.Lock()
	s.qmemo[query] = out
	s.qmu.Unlock()
	return out
}

func (s *Store) tokens(query string) string {
	var r *strings.Replacer
	if s.dialect == Postgres {
		r = strings.NewReplacer(
			"{{AUTOID}}", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
			"{{BLOB}}", "BYTEA",
			"{{SKIP_LOCKED}}", "FOR UPDATE SKIP LOCKED",
		)
	} else {
		r = strings.NewReplacer(
			"{{AUTOID}}", "INTEGER PRIMARY KEY AUTOINCREMENT",
			"{{BLOB}}", "BLOB",
			// SQLite has one writer: the claiming transaction already
			// excludes every other writer.
			"{{SKIP_LOCKED}}", "",
		)
	}
	return r.Replace(query)
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", name)
		}
		b, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("store: two migrations with version %d", ms[i].version)
		}
	}
	return ms, nil
}

// migrationLockID is an arbitrary constant: the PostgreSQL advisory lock
// that serialises migrations of gateway instances starting together.
const migrationLockID = 0x7861677700000001

func (s *Store) migrate(ctx context.Context) error { return s.migrateTo(ctx, math.MaxInt) }

// migrateTo applies the pending migrations up to version last (tests build
// databases of an earlier schema with it).
func (s *Store) migrateTo(ctx context.Context, last int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	// One transaction for the whole run: on PostgreSQL the advisory lock
	// makes instances that start together apply each migration once (even
	// CREATE TABLE IF NOT EXISTS races there); SQLite's BEGIN IMMEDIATE
	// does the same for processes sharing a file.
	return s.tx(ctx, func(tx *sqlx.Tx) error {
		if s.dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLockID)); err != nil {
				return fmt.Errorf("store: migration lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("store: create schema_migrations: %w", err)
		}
		for _, m := range ms {
			if m.version > last {
				break
			}
			var n int
			if err := tx.GetContext(ctx, &n, s.q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			if n > 0 {
				continue
			}
			for i, stmt := range splitStatements(s.tokens(m.sql)) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("store: migration %s, statement %d: %w", m.name, i+1, err)
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`), m.version, m.name, ms2(time.Now())); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// splitStatements splits a migration at semicolons that end a line, after
// dropping "--" comment lines. Migrations contain no string literals with
// semicolons, which keeps this honest.
func splitStatements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, strings.TrimSpace(cur.String()))
	}
	return out
}

// tx runs fn in a write transaction and commits it if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sqlx.Tx) error) error {
	tx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// ms2 converts a time to the stored representation (Unix milliseconds).
func ms2(t time.Time) int64 { return t.UnixMilli() }

// nullMS converts a time to a nullable stored value (zero time → NULL).
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

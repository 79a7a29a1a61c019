package intermediary

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // "sqlite3" driver
)

// store is the intermediary's durable state: issued message ids, dialogs,
// mailboxes with their deliveries and process cards, and chunked uploads.
// Metadata lives in SQLite (WAL, synchronous=FULL); attachments and chunks
// live as files under blobs/, written and fsynced before the row that
// names them is committed, so a crash can leave an orphan file (removed at
// the next start) but never a row without its file.
type store struct {
	w, r  *sql.DB
	blobs string
}

const schemaSQL = `
CREATE TABLE IF NOT EXISTS message_ids (
	id        TEXT PRIMARY KEY,
	client    TEXT NOT NULL,      -- SHA-256 of the requesting signature certificate
	issued_at INTEGER NOT NULL,
	used_at   INTEGER
) WITHOUT ROWID; -- the key is the row: one b-tree page per insert instead of table and key index
CREATE TABLE IF NOT EXISTS dialogs (
	conv_id       INTEGER PRIMARY KEY,
	client        TEXT NOT NULL,  -- SHA-256 of the client signature certificate
	client_cipher BLOB,           -- DER of the client cipher certificate (from initDialog)
	seq           INTEGER NOT NULL,
	challenge     TEXT NOT NULL,  -- our last challenge, echoed by the next request
	opened_at     INTEGER NOT NULL,
	used_at       INTEGER NOT NULL,
	closed        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS deliveries (
	msg_id      TEXT PRIMARY KEY,
	mailbox     TEXT NOT NULL,    -- SHA-256 of the addressee cipher certificate
	originator  TEXT NOT NULL,    -- SHA-256 of the originator signature certificate
	kind        TEXT NOT NULL,    -- store, forward, mediate, reply
	subject     TEXT NOT NULL DEFAULT '',
	certs       BLOB NOT NULL,    -- the order's certificates (JSON list of element, id, DER)
	content     BLOB NOT NULL,    -- the ContentPackage element as received
	inspections BLOB NOT NULL,    -- certificate inspections (JSON)
	created     INTEGER NOT NULL, -- receipt of the order
	forwarded   INTEGER,          -- handed to the addressee (fetch, accept, process)
	received    INTEGER,          -- addressee has it (fetched / accepted)
	modified    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_mailbox ON deliveries(mailbox, created);
CREATE INDEX IF NOT EXISTS deliveries_modified ON deliveries(modified);
CREATE TABLE IF NOT EXISTS attachments (
	msg_id     TEXT NOT NULL REFERENCES deliveries(msg_id) ON DELETE CASCADE,
	seq        INTEGER NOT NULL,
	content_id TEXT NOT NULL,
	file       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	sha256     TEXT NOT NULL,
	PRIMARY KEY (msg_id, seq)
);
CREATE TABLE IF NOT EXISTS chunks (
	upload     TEXT NOT NULL,     -- partial message id (…_Partial) or fetch key
	number     INTEGER NOT NULL,
	total      INTEGER NOT NULL,
	file       TEXT NOT NULL,
	size       INTEGER NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (upload, number)
);
`

func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return nil, fmt.Errorf("intermediary: data folder: %w", err)
	}
	path := filepath.Join(dir, "intermediary.db")
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	// Keep prepared statements per connection: the same dozen statements
	// run for every order, and preparing them each time was a measurable
	// part of an order's CPU time.
	q.Set("_stmt_cache_size", "64")
	base := "file:" + (&url.URL{Path: path}).EscapedPath() + "?"
	w, err := sql.Open("sqlite3", base+q.Encode())
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1) // one writer; queue in Go rather than in busy loops
	if _, err := w.Exec(schemaSQL); err != nil {
		w.Close()
		return nil, fmt.Errorf("intermediary: database %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	rq := url.Values{}
	rq.Set("_busy_timeout", "10000")
	rq.Set("_query_only", "1")
	rq.Set("_stmt_cache_size", "64")
	r, err := sql.Open("sqlite3", base+rq.Encode())
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4) // reopening a SQLite connection costs far more than keeping it
	s := &store{w: w, r: r, blobs: filepath.Join(dir, "blobs")}
	if err := s.removeOrphans(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *store) close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// removeOrphans deletes blob files no row refers to: leftovers of a crash
// between writing a file and committing its row.
func (s *store) removeOrphans() error {
	known := map[string]bool{}
	for _, q := range []string{`SELECT file FROM attachments`, `SELECT file FROM chunks`} {
		rows, err := s.w.Query(q)
		if err != nil {
			return err
		}
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err != nil {
				rows.Close()
				return err
			}
			known[f] = true
		}
		rows.Close()
	}
	entries, err := os.ReadDir(s.blobs)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !known[e.Name()] {
			os.Remove(filepath.Join(s.blobs, e.Name()))
		}
	}
	return nil
}

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// randomToken returns n random bytes in hex.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("intermediary: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// writeBlob streams r into a new file under blobs/ and fsyncs it. It
// returns the file name, size and SHA-256.
func (s *store) writeBlob(r io.Reader) (name string, size int64, sum string, err error) {
	name = randomToken(16)
	f, err := os.OpenFile(filepath.Join(s.blobs, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, "", err
	}
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(filepath.Join(s.blobs, name))
		return "", 0, "", err
	}
	return name, size, hex.EncodeToString(h.Sum(nil)), nil
}

func (s *store) openBlob(name string) (*os.File, error) {
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("intermediary: bad blob name %q", name)
	}
	return os.Open(filepath.Join(s.blobs, name))
}

func (s *store) removeBlob(name string) { os.Remove(filepath.Join(s.blobs, name)) }

// --- message ids ---

// issueMessageID records a fresh message id for client.
func (s *store) issueMessageID(ctx context.Context, client string, now time.Time) (string, error) {
	id := "xagw_" + randomToken(16)
	_, err := s.w.ExecContext(ctx, `INSERT INTO message_ids(id, client, issued_at) VALUES (?, ?, ?)`, id, client, nanos(now))
	return id, err
}

var (
	errUnknownID = errors.New("message id not issued by this intermediary")
	errUsedID    = errors.New("message id already used")
	errForeignID = errors.New("message id issued to another client")
)

// --- dialogs ---

type dialog struct {
	convID       int64
	client       string
	clientCipher []byte
	seq          int
	challenge    string
	closed       bool
}

// nextConversationID returns a new, unused conversation id. Ids are random
// so that they cannot be guessed from another client's.
func (s *store) nextConversationID() int64 {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<52))
	if err != nil {
		panic("intermediary: crypto/rand: " + err.Error())
	}
	return n.Int64() + 1
}

func (s *store) openDialog(ctx context.Context, d *dialog, now time.Time) error {
	for i := 0; i < 5; i++ {
		d.convID = s.nextConversationID()
		_, err := s.w.ExecContext(ctx, `INSERT INTO dialogs(conv_id, client, client_cipher, seq, challenge, opened_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.convID, d.client, d.clientCipher, d.seq, d.challenge, nanos(now), nanos(now))
		if err == nil {
			return nil
		}
		if !strings.Contains(err.Error(), "UNIQUE") {
			return err
		}
	}
	return errors.New("intermediary: no free conversation id")
}

func (s *store) getDialog(ctx context.Context, convID int64) (*dialog, error) {
	d := &dialog{convID: convID}
	var closed int
	err := s.w.QueryRowContext(ctx, `SELECT client, client_cipher, seq, challenge, closed FROM dialogs WHERE conv_id = ?`, convID).
		Scan(&d.client, &d.clientCipher, &d.seq, &d.challenge, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	d.closed = closed != 0
	return d, err
}

// advanceDialog stores the state after a request (its sequence number and
// our new challenge) only if nobody advanced the dialog concurrently.
func (s *store) advanceDialog(ctx context.Context, convID int64, fromSeq, toSeq int, challenge string, closed bool, now time.Time) error {
	c := 0
	if closed {
		c = 1
	}
	res, err := s.w.ExecContext(ctx, `UPDATE dialogs SET seq = ?, challenge = ?, closed = ?, used_at = ? WHERE conv_id = ? AND seq = ? AND closed = 0`,
		toSeq, challenge, c, nanos(now), convID, fromSeq)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errDialogRace
	}
	return nil
}

var errDialogRace = errors.New("dialog advanced concurrently")

// --- deliveries ---

// storedCert is one certificate of a stored order, kept so the fetch
// response can carry the NonIntermediaryCertificates of the original order.
type storedCert struct {
	Element string `json:"element"`
	ID      string `json:"id"`
	DER     []byte `json:"der"`
}

type delivery struct {
	msgID       string
	mailbox     string
	originator  string
	kind        string
	subject     string
	certs       []storedCert
	content     []byte
	inspections []byte
	created     time.Time
	forwarded   time.Time
	received    time.Time
	modified    time.Time
	attachments []storedAttachment
}

type storedAttachment struct {
	ContentID string
	File      string
	Size      int64
	SHA256    string
}

// insertDelivery stores a delivery whose attachment files are already
// written. It consumes the message id (which must have been issued to the
// originator and not used); the id check and the insert are one
// transaction, so two concurrent orders with the same id cannot both win.
func (s *store) insertDelivery(ctx context.Context, d *delivery, checkID bool) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if checkID {
		// Consume the id in one statement; only when that changes nothing
		// (a refused order, rare) does a second one find out why.
		res, err := tx.ExecContext(ctx, `UPDATE message_ids SET used_at = ? WHERE id = ? AND client = ? AND used_at IS NULL`,
			nanos(d.created), d.msgID, d.originator)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return idRefusal(ctx, tx, d.msgID, d.originator)
		}
	}
	certs, err := json.Marshal(d.certs)
	if err != nil {
		return err
	}
	if d.inspections == nil {
		d.inspections = []byte("[]")
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO deliveries(msg_id, mailbox, originator, kind, subject, certs, content, inspections, created, forwarded, received, modified)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.msgID, d.mailbox, d.originator, d.kind, d.subject, certs, d.content, d.inspections, nanos(d.created),
		nullNanos(d.forwarded), nullNanos(d.received), nanos(d.created))
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return errUsedID
		}
		return err
	}
	for i, a := range d.attachments {
		if _, err := tx.ExecContext(ctx, `INSERT INTO attachments(msg_id, seq, content_id, file, size, sha256) VALUES (?, ?, ?, ?, ?, ?)`,
			d.msgID, i, a.ContentID, a.File, a.Size, a.SHA256); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// idRefusal says why the message id could not be consumed by originator.
func idRefusal(ctx context.Context, tx *sql.Tx, msgID, originator string) error {
	var client string
	var used sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT client, used_at FROM message_ids WHERE id = ?`, msgID).Scan(&client, &used)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return errUnknownID
	case err != nil:
		return err
	case used.Valid:
		return errUsedID
	case client != originator:
		return errForeignID
	}
	return fmt.Errorf("intermediary: message id %s unchanged by its consuming update", msgID)
}

func nullNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return nanos(t)
}

const deliveryCols = `msg_id, mailbox, originator, kind, subject, certs, content, inspections, created, forwarded, received, modified`

func scanDelivery(row interface{ Scan(...any) error }) (*delivery, error) {
	d := &delivery{}
	var certs []byte
	var created, modified int64
	var fwd, rcv sql.NullInt64
	if err := row.Scan(&d.msgID, &d.mailbox, &d.originator, &d.kind, &d.subject, &certs, &d.content, &d.inspections, &created, &fwd, &rcv, &modified); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(certs, &d.certs); err != nil {
		return nil, fmt.Errorf("intermediary: stored certificates of %s: %w", d.msgID, err)
	}
	d.created, d.modified = time.Unix(0, created).UTC(), time.Unix(0, modified).UTC()
	d.forwarded, d.received = fromNanos(fwd), fromNanos(rcv)
	return d, nil
}

func (s *store) loadAttachments(ctx context.Context, d *delivery) error {
	rows, err := s.r.QueryContext(ctx, `SELECT content_id, file, size, sha256 FROM attachments WHERE msg_id = ? ORDER BY seq`, d.msgID)
	if err != nil {
		return err
	}
	defer rows.Close()
	d.attachments = nil
	for rows.Next() {
		var a storedAttachment
		if err := rows.Scan(&a.ContentID, &a.File, &a.Size, &a.SHA256); err != nil {
			return err
		}
		d.attachments = append(d.attachments, a)
	}
	return rows.Err()
}

// getDelivery returns the delivery with msgID, or nil.
func (s *store) getDelivery(ctx context.Context, msgID string) (*delivery, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE msg_id = ?`, msgID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return d, s.loadAttachments(ctx, d)
}

// selectForFetch picks the delivery a fetchDelivery selects from mailbox:
// by message id, the oldest received after a time, or (no selection) the
// oldest not fetched yet. more reports whether further unfetched deliveries
// wait (warning 3800).
func (s *store) selectForFetch(ctx context.Context, mailbox, msgID string, after time.Time) (d *delivery, more bool, err error) {
	var row *sql.Row
	switch {
	case msgID != "":
		row = s.r.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE mailbox = ? AND msg_id = ? AND kind IN ('store','reply')`, mailbox, msgID)
	case !after.IsZero():
		row = s.r.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE mailbox = ? AND created >= ? AND kind IN ('store','reply') ORDER BY created, msg_id LIMIT 1`, mailbox, nanos(after))
	default:
		row = s.r.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE mailbox = ? AND received IS NULL AND kind IN ('store','reply') ORDER BY created, msg_id LIMIT 1`, mailbox)
	}
	d, err = scanDelivery(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := s.loadAttachments(ctx, d); err != nil {
		return nil, false, err
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM deliveries WHERE mailbox = ? AND received IS NULL AND msg_id <> ? AND kind IN ('store','reply')`, mailbox, d.msgID).Scan(&n); err != nil {
		return nil, false, err
	}
	return d, n > 0, nil
}

// markDelivered records that the addressee got the delivery: forwarding and
// reception time are set the first time only (a repeated fetch after a
// crash does not move them).
func (s *store) markDelivered(ctx context.Context, msgID string, forwarded, received time.Time) error {
	_, err := s.w.ExecContext(ctx, `UPDATE deliveries SET
		forwarded = COALESCE(forwarded, ?),
		received  = COALESCE(received, ?),
		modified  = ?
		WHERE msg_id = ?`, nullNanos(forwarded), nullNanos(received), nanos(maxTime(forwarded, received)), msgID)
	return err
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// cardQuery selects process cards a client may read: those of deliveries it
// sent (originator) or that were addressed to its mailbox.
type cardQuery struct {
	originator                   string // SHA-256 of the requester's signature certificate
	mailbox                      string // SHA-256 of the requester's cipher certificate ("" if unknown)
	msgIDs                       []string
	receivedAfter, modifiedAfter time.Time
	noReception                  bool
	role                         string // "", "Addressee", "Originator"
	limit                        int
}

func (s *store) processCards(ctx context.Context, q cardQuery) ([]*delivery, bool, error) {
	where := []string{}
	args := []any{}
	switch q.role {
	case "Originator":
		where = append(where, `originator = ?`)
		args = append(args, q.originator)
	case "Addressee":
		where = append(where, `mailbox = ?`)
		args = append(args, q.mailbox)
	default:
		where = append(where, `(originator = ? OR mailbox = ?)`)
		args = append(args, q.originator, q.mailbox)
	}
	if len(q.msgIDs) > 0 {
		where = append(where, `msg_id IN (?`+strings.Repeat(`, ?`, len(q.msgIDs)-1)+`)`)
		for _, id := range q.msgIDs {
			args = append(args, id)
		}
	}
	if !q.receivedAfter.IsZero() {
		where = append(where, `created >= ?`)
		args = append(args, nanos(q.receivedAfter))
	}
	if !q.modifiedAfter.IsZero() {
		where = append(where, `modified >= ?`)
		args = append(args, nanos(q.modifiedAfter))
	}
	if q.noReception {
		where = append(where, `received IS NULL`)
	}
	limit := q.limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE `+strings.Join(where, " AND ")+` ORDER BY created, msg_id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	var out []*delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, false, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// --- chunks ---

func (s *store) putChunk(ctx context.Context, upload string, number, total int, r io.Reader, now time.Time) (size int64, err error) {
	name, size, _, err := s.writeBlob(r)
	if err != nil {
		return 0, err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO chunks(upload, number, total, file, size, created) VALUES (?, ?, ?, ?, ?, ?)`,
		upload, number, total, name, size, nanos(now))
	if err != nil {
		s.removeBlob(name)
		if strings.Contains(err.Error(), "UNIQUE") {
			return 0, errDuplicateChunk
		}
		return 0, err
	}
	return size, nil
}

var errDuplicateChunk = errors.New("chunk already received")

type chunkRow struct {
	number, total int
	file          string
	size          int64
	created       time.Time
}

func (s *store) chunks(ctx context.Context, upload string) ([]chunkRow, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT number, total, file, size, created FROM chunks WHERE upload = ? ORDER BY number`, upload)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []chunkRow
	for rows.Next() {
		var c chunkRow
		var created int64
		if err := rows.Scan(&c.number, &c.total, &c.file, &c.size, &created); err != nil {
			return nil, err
		}
		c.created = time.Unix(0, created).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *store) dropChunks(ctx context.Context, upload string) error {
	cs, err := s.chunks(ctx, upload)
	if err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM chunks WHERE upload = ?`, upload); err != nil {
		return err
	}
	for _, c := range cs {
		s.removeBlob(c.file)
	}
	return nil
}

// purge removes deliveries last modified before cutoff with their files,
// chunked uploads begun before cutoff and dialogs unused since cutoff.
// Selection and deletion share one transaction, so a delivery changed
// meanwhile (fetched, say) keeps its files; files are removed only after
// the rows that named them are gone.
func (s *store) purge(ctx context.Context, cutoff time.Time) (n int, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var files []string
	for _, q := range []string{
		`SELECT a.file FROM attachments a JOIN deliveries d ON d.msg_id = a.msg_id WHERE d.modified < ?`,
		`SELECT file FROM chunks WHERE created < ?`,
	} {
		rows, err := tx.QueryContext(ctx, q, nanos(cutoff))
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var f string
			if err := rows.Scan(&f); err != nil {
				rows.Close()
				return 0, err
			}
			files = append(files, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE modified < ?`, nanos(cutoff))
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM chunks WHERE created < ?`, nanos(cutoff)); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM dialogs WHERE used_at < ?`, nanos(cutoff)); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	for _, f := range files {
		s.removeBlob(f)
	}
	rows, _ := res.RowsAffected()
	return int(rows), nil
}

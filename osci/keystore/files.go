package keystore

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// ErrFileReadable is wrapped by CheckPrivateFile when a key or PIN file can
// be read or written by others than its owner.
var ErrFileReadable = errors.New("readable by group or others")

// CheckPrivateFile returns nil if path is a regular file that neither its
// group nor others may access (mode 0600 or stricter), and an error naming
// the file, its mode and the fix otherwise. Long-running services call it
// for private keys and PIN files before loading them, as the gateway does
// for its tokens and at-rest key: a key anyone on the machine can read is
// a key anyone can sign with.
func CheckPrivateFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("keystore: %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("keystore: %s has mode %v: %w; it holds a private key or PIN (chmod 600)", path, perm, ErrFileReadable)
	}
	return nil
}

// CRLFiles is a RevocationChecker over CRL files (PEM or DER) that are
// replaced while the process runs, as operators refresh CRLs by a cron job:
// a file is read again when its size or modification time changed, checked
// at most once per Interval. A file that cannot be read or parsed at a
// reload keeps the CRLs read from it before, so a half-written download
// never opens a gap; those go stale at their nextUpdate, and then every
// check fails closed (CRLSet's rules), which is the point.
type CRLFiles struct {
	// Paths are the CRL files.
	Paths []string
	// AllowMissing is CRLSet.AllowMissing: accept certificates whose issuer
	// has no current CRL in the files. Off by default.
	AllowMissing bool
	// Interval between checks for changed files (default 1 minute).
	Interval time.Duration

	mu      sync.Mutex
	checked time.Time
	files   map[string]crlFile
	set     *CRLSet
	lastErr error
}

type crlFile struct {
	size    int64
	modTime time.Time
	crls    []*x509.RevocationList
}

// LoadCRLFiles reads every file once and fails if one cannot be read or
// holds no CRL: a configuration error is reported at start, not at the
// first certificate check.
func LoadCRLFiles(paths []string, allowMissing bool) (*CRLFiles, error) {
	if len(paths) == 0 {
		return nil, errors.New("keystore: no CRL files given")
	}
	c := &CRLFiles{Paths: paths, AllowMissing: allowMissing}
	if err := c.reload(time.Now(), true); err != nil {
		return nil, err
	}
	return c, nil
}

// CheckRevocation implements RevocationChecker with the CRLs currently in
// the files.
func (c *CRLFiles) CheckRevocation(cert, issuer *x509.Certificate, at time.Time) error {
	c.mu.Lock()
	interval := c.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	if now := time.Now(); c.set == nil || now.Sub(c.checked) >= interval {
		c.lastErr = c.reloadLocked(now, false)
	}
	set := c.set
	c.mu.Unlock()
	return set.CheckRevocation(cert, issuer, at)
}

// Err reports the problem of the last reload (a file that could not be
// read or parsed and whose earlier CRLs stay in use), nil if there was
// none.
func (c *CRLFiles) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Count returns how many CRLs are in use.
func (c *CRLFiles) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set == nil {
		return 0
	}
	return len(c.set.CRLs)
}

func (c *CRLFiles) reload(now time.Time, strict bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reloadLocked(now, strict)
}

func (c *CRLFiles) reloadLocked(now time.Time, strict bool) error {
	c.checked = now
	if c.files == nil {
		c.files = map[string]crlFile{}
	}
	var errs []error
	changed := c.set == nil
	for _, p := range c.Paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("keystore: CRL file: %w", err))
			continue
		}
		old, seen := c.files[p]
		if seen && old.size == st.Size() && old.modTime.Equal(st.ModTime()) {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("keystore: CRL file: %w", err))
			continue
		}
		crls, err := ParseCRLs(data)
		if err == nil && len(crls) == 0 {
			err = errors.New("no CRL in the file")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("keystore: CRL file %s: %w", p, err))
			continue
		}
		c.files[p] = crlFile{size: st.Size(), modTime: st.ModTime(), crls: crls}
		changed = true
	}
	if strict && len(errs) > 0 {
		return errors.Join(errs...)
	}
	if changed {
		set := &CRLSet{AllowMissing: c.AllowMissing}
		for _, p := range c.Paths {
			set.CRLs = append(set.CRLs, c.files[p].crls...)
		}
		c.set = set
	}
	return errors.Join(errs...)
}

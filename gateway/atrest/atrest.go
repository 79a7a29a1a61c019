// Package atrest encrypts message bodies, attachments and replies before the
// gateway stores them, with AES-256-GCM under keys that can rotate.
//
// Every sealed blob is stored together with the id of the key that sealed
// it. The id is derived from the key itself (a truncated SHA-256 under a
// fixed label), so a configuration can never pair the wrong key with an id;
// rotating means configuring a new current key and keeping the old ones as
// "previous" until every blob sealed with them has been purged.
//
// Callers pass associated data (the owning row's id and the part name) so a
// ciphertext copied to another row does not decrypt there.
package atrest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the length of an AES-256 key.
const KeySize = 32

const nonceSize = 12

// ErrUnknownKey is returned by Open for a blob sealed with a key the keyring
// does not hold.
var ErrUnknownKey = errors.New("atrest: blob was sealed with a key that is not configured")

// ErrAuth is returned by Open when the ciphertext, key or associated data do
// not match (tampering, or a blob moved between rows).
var ErrAuth = errors.New("atrest: authentication failed")

// Keyring holds the current sealing key and older keys that may still be
// needed to open existing blobs. It is safe for concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// KeyID returns the id under which key is recorded next to its blobs.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("xagw atrest key id v1\x00"), key...))
	return "k" + hex.EncodeToString(h[:8])
}

// New returns a keyring that seals with current and opens with current and
// any of previous.
func New(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, key := range append([][]byte{current}, previous...) {
		if len(key) != KeySize {
			return nil, fmt.Errorf("atrest: key %d is %d bytes, want %d (AES-256)", i, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(key)
		if i == 0 {
			k.current = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

// Has reports whether the keyring holds the key with id (so a start can
// refuse a configuration that lost a key still sealing stored blobs).
func (k *Keyring) Has(id string) bool {
	_, ok := k.aeads[id]
	return ok
}

// CurrentID is the id of the key Seal uses.
func (k *Keyring) CurrentID() string { return k.current }

// Seal encrypts plaintext bound to aad and returns the key id and
// nonce ‖ ciphertext ‖ tag.
func (k *Keyring) Seal(plaintext, aad []byte) (keyID string, sealed []byte, err error) {
	aead := k.aeads[k.current]
	out := make([]byte, nonceSize, nonceSize+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return "", nil, fmt.Errorf("atrest: nonce: %w", err)
	}
	return k.current, aead.Seal(out, out[:nonceSize], plaintext, aad), nil
}

// Open decrypts a blob sealed by Seal under keyID with the same aad.
func (k *Keyring) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s)", ErrUnknownKey, keyID)
	}
	if len(sealed) < nonceSize+aead.Overhead() {
		return nil, fmt.Errorf("%w: blob of %d bytes is too short", ErrAuth, len(sealed))
	}
	pt, err := aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// ParseKey decodes a key written as standard or URL-safe base64 or as hex
// (surrounding whitespace ignored), or given as exactly 32 raw bytes.
func ParseKey(data []byte) ([]byte, error) {
	if len(data) == KeySize && !isText(data) {
		return bytes.Clone(data), nil
	}
	s := strings.TrimSpace(string(data))
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("atrest: key decodes to %d bytes, want %d", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("atrest: key is neither 64 hex digits, base64 of 32 bytes, nor 32 raw bytes")
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// LoadKeyFile reads a key written as ParseKey accepts. It refuses files that
// others than the owner can read, because the key protects personal data.
func LoadKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("atrest: key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("atrest: key file %s has mode %v; it must not be readable by group or others (chmod 600)", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("atrest: key file: %w", err)
	}
	key, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// EnsureKeyFile loads the key at path, or, when the file does not exist,
// generates a new random key and writes it there (base64, mode 0600) first.
// created reports whether a key was generated. It is meant for the embedded
// default; production configurations name an existing key file.
func EnsureKeyFile(path string) (key []byte, created bool, err error) {
	key, err = LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("atrest: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	// The key is written whole to a temporary file and then linked into
	// place: a link never replaces an existing file, so two processes
	// starting at once cannot each install a different key (the loser
	// reads the winner's), and nobody can read a key file that is still
	// being written — or find an empty one after a crash.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".new-*")
	if err != nil {
		return nil, false, fmt.Errorf("atrest: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("atrest: create key file: %w", err)
	}
	if _, err := tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("atrest: write key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("atrest: write key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("atrest: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err = LoadKeyFile(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("atrest: install key file: %w", err)
	}
	// The new directory entry must survive a crash as well as the key's
	// bytes: a key lost after data was sealed with it loses that data.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return nil, false, fmt.Errorf("atrest: sync key directory: %w", err)
		}
	}
	return key, true, nil
}

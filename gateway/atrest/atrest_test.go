package atrest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func newKey(t testing.TB) []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTripAndBinding(t *testing.T) {
	k, err := New(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("<antrag>Erika Mustermann</antrag>")
	id, sealed, err := k.Seal(pt, []byte("msg-1/body"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("Mustermann")) {
		t.Fatal("plaintext visible in sealed blob")
	}
	got, err := k.Open(id, sealed, []byte("msg-1/body"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %v %q", err, got)
	}
	if _, err := k.Open(id, sealed, []byte("msg-2/body")); !errors.Is(err, ErrAuth) {
		t.Fatalf("blob moved to another row opened: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(id, sealed, []byte("msg-1/body")); !errors.Is(err, ErrAuth) {
		t.Fatalf("tampered blob opened: %v", err)
	}
	if _, err := k.Open(id, sealed[:5], nil); !errors.Is(err, ErrAuth) {
		t.Fatalf("short blob: %v", err)
	}
	// Two seals of the same plaintext differ (random nonce).
	_, s1, _ := k.Seal(pt, nil)
	_, s2, _ := k.Seal(pt, nil)
	if bytes.Equal(s1, s2) {
		t.Fatal("nonce reuse")
	}
}

func TestRotation(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	old, _ := New(oldKey)
	id, sealed, _ := old.Seal([]byte("x"), nil)

	rotated, err := New(newK, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.CurrentID() == id || rotated.CurrentID() != KeyID(newK) {
		t.Fatalf("current id %s, old %s", rotated.CurrentID(), id)
	}
	if got, err := rotated.Open(id, sealed, nil); err != nil || string(got) != "x" {
		t.Fatalf("old blob after rotation: %v", err)
	}
	withoutOld, _ := New(newK)
	if _, err := withoutOld.Open(id, sealed, nil); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("want ErrUnknownKey, got %v", err)
	}
}

func TestBadKeys(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
	for _, in := range []string{"", "zz", base64.StdEncoding.EncodeToString(make([]byte, 16)), "not a key at all"} {
		if _, err := ParseKey([]byte(in)); err == nil {
			t.Errorf("ParseKey(%q) accepted", in)
		}
	}
	k := newKey(t)
	for _, in := range [][]byte{k, []byte(hex.EncodeToString(k) + "\n"), []byte(base64.StdEncoding.EncodeToString(k)), []byte(" " + base64.RawURLEncoding.EncodeToString(k) + " ")} {
		got, err := ParseKey(in)
		if err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseKey(%q) = %v", in, err)
		}
	}
}

func TestEnsureKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "atrest.key")
	k1, created, err := EnsureKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first: created=%v err=%v", created, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	k2, created, err := EnsureKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second: created=%v err=%v same=%v", created, err, bytes.Equal(k1, k2))
	}
	os.Chmod(path, 0o644)
	if _, err := LoadKeyFile(path); err == nil {
		t.Fatal("world-readable key file accepted")
	}
}

// Processes starting at once on a fresh data folder race to create the key;
// each must end with the one key installed, never a half-written file.
func TestEnsureKeyFileConcurrently(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 200; round++ {
		path := filepath.Join(dir, fmt.Sprintf("k%d", round), "atrest.key")
		const n = 8
		keys := make([][]byte, n)
		created := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				keys[i], created[i], errs[i] = EnsureKeyFile(path)
			}()
		}
		wg.Wait()
		winners := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: %v", round, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("round %d: callers got different keys", round)
			}
			if created[i] {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d callers created the key", round, winners)
		}
		onDisk, err := LoadKeyFile(path)
		if err != nil || !bytes.Equal(onDisk, keys[0]) {
			t.Fatalf("round %d: the file holds another key (err %v)", round, err)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) > 0 {
			t.Fatalf("round %d: temporary files left: %v", round, left)
		}
	}
}

func BenchmarkSeal64KiB(b *testing.B) {
	k, _ := New(newKey(b))
	pt := make([]byte, 64<<10)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		k.Seal(pt, []byte("aad"))
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add([]byte(hex.EncodeToString(make([]byte, 32))))
	f.Add([]byte(base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKey(data)
		if err == nil && len(k) != KeySize {
			t.Fatalf("key of %d bytes accepted", len(k))
		}
	})
}

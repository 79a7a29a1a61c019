package xmlenc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// NewSealReader seals short plaintexts in one call and streams longer
// ones; around the switch (one chunk) and for both IV lengths the bytes
// equal cipher.AEAD's, and Open (one call up to 1 MiB, two passes beyond)
// gives the plaintext back and refuses a flipped byte.
func TestSealAndOpenAcrossTheOneShotLimits(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	for _, ivLen := range []int{12, 16} {
		m := Method{Algorithm: AES256GCM, IVLength: ivLen}
		inPlace := gcmChunk - ivLen - gcmTagSize // largest plaintext sealed in place
		for _, n := range []int{0, 1, 100, inPlace - 1, inPlace, inPlace + 1, gcmChunk - 1, gcmChunk, gcmChunk + 1, 3 * gcmChunk, openOneShotMax - ivLen - gcmTagSize, openOneShotMax + 1} {
			plain := make([]byte, n)
			for i := range plain {
				plain[i] = byte(i * 13)
			}
			r, err := NewSealReader(m, key, bytes.NewReader(plain))
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := io.ReadAll(r)
			if err != nil || int64(len(sealed)) != SealedSize(m, int64(n)) {
				t.Fatalf("iv %d, %d bytes: sealed %d bytes, %v", ivLen, n, len(sealed), err)
			}
			block, _ := aes.NewCipher(key)
			aead, _ := cipher.NewGCMWithNonceSize(block, ivLen)
			iv := sealed[:ivLen]
			if want := aead.Seal(append([]byte(nil), iv...), iv, plain, nil); !bytes.Equal(sealed, want) {
				t.Fatalf("iv %d, %d bytes: differs from cipher.AEAD", ivLen, n)
			}
			or, err := Open(m, key, bytes.NewReader(sealed), int64(len(sealed)))
			if err != nil {
				t.Fatalf("iv %d, %d bytes: open: %v", ivLen, n, err)
			}
			if got, err := io.ReadAll(or); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("iv %d, %d bytes: opened %d bytes, %v", ivLen, len(got), n, err)
			}
			bad := bytes.Clone(sealed)
			bad[len(bad)/2] ^= 1
			if or, err := Open(m, key, bytes.NewReader(bad), int64(len(bad))); err == nil {
				_, err = io.ReadAll(or)
				if !errors.Is(err, ErrAuthentication) {
					t.Fatalf("iv %d, %d bytes: tampered data: %v", ivLen, n, err)
				}
			} else if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("iv %d, %d bytes: tampered data: %v", ivLen, n, err)
			}
		}
	}
}

// hinted is a stream that announces a length (as a wire.Part does), right
// or wrong.
type hinted struct {
	io.Reader
	n int64
}

func (h hinted) DeclaredLength() int64 { return h.n }

// OpenStream reads a ciphertext of up to 1 MiB into memory and opens it
// there, and spools anything longer: around that limit, with no, right,
// too small and too large length hints and with reads of any size, it
// gives the plaintext back, and a flipped byte or a truncation is an
// authentication failure (or too short to hold IV and tag) before any
// plaintext is returned.
func TestOpenStreamAcrossTheMemoryLimit(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	m := DefaultMethod
	over := int(SealedSize(m, 0))
	for _, n := range []int{0, 1, 4096, 16<<10 - over, 16<<10 + 1, openOneShotMax - over, openOneShotMax - over + 1, openOneShotMax + 5000} {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(i * 7)
		}
		sealed, err := Seal(m, key, plain)
		if err != nil {
			t.Fatal(err)
		}
		size := int64(len(sealed))
		for _, hint := range []int64{-1, 0, size, size / 2, size + 1000, 1 << 30} {
			for _, choppy := range []bool{false, true} {
				var src io.Reader = bytes.NewReader(sealed)
				if choppy {
					src = &choppyReader{r: src, rng: rand.New(rand.NewPCG(uint64(n), uint64(hint)))}
				}
				pr, err := OpenStream(m, key, hinted{src, hint}, t.TempDir())
				if err != nil {
					t.Fatalf("%d bytes, hint %d: %v", n, hint, err)
				}
				got, err := io.ReadAll(pr)
				if err != nil || !bytes.Equal(got, plain) {
					t.Fatalf("%d bytes, hint %d: %d bytes back, %v", n, hint, len(got), err)
				}
				pr.Close()
				// Buffers go back to a pool at Close: nothing may be read
				// through the reader afterwards.
				if k, err := pr.Read(make([]byte, 16)); k != 0 || err != io.EOF {
					t.Fatalf("%d bytes, hint %d: read %d bytes after Close, %v", n, hint, k, err)
				}
			}
			for _, bad := range [][]byte{flip(sealed, len(sealed)/2), flip(sealed, len(sealed)-1), sealed[:len(sealed)-1]} {
				pr, err := OpenStream(m, key, hinted{bytes.NewReader(bad), hint}, t.TempDir())
				if err == nil {
					_, err = io.ReadAll(pr)
					pr.Close()
				}
				if !errors.Is(err, ErrAuthentication) && !(len(bad) < over && errors.Is(err, ErrTruncated)) {
					t.Fatalf("%d bytes, hint %d: damaged ciphertext: %v", n, hint, err)
				}
			}
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x80
	return c
}

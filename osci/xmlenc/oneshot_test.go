package xmlenc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
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
		for _, n := range []int{0, 1, 100, gcmChunk - 1, gcmChunk, gcmChunk + 1, 3 * gcmChunk, openOneShotMax - ivLen - gcmTagSize, openOneShotMax + 1} {
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

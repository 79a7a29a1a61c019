package xmlenc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
)

func stdlibSeal(t testing.TB, key, iv, pt []byte) []byte {
	block, _ := aes.NewCipher(key)
	aead, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), iv...), aead.Seal(nil, iv, pt, nil)...)
}

func ourSeal(t testing.TB, key, iv []byte, src io.Reader) []byte {
	r, err := newSealReader(key, iv, src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ourOpen(key []byte, ivLen int, data []byte) ([]byte, error) {
	r, err := openGCM(key, ivLen, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// The streaming implementation produces exactly what cipher.NewGCM and
// cipher.NewGCMWithNonceSize(block, 16) produce, and opens their output.
func TestStreamingGCMMatchesStdlib(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	lengths := []int{0, 1, 15, 16, 17, 31, 32, 33, gcmChunk - 1, gcmChunk, gcmChunk + 1, gcmChunk + 16, 3*gcmChunk + 5}
	for i := 0; i < 12; i++ {
		lengths = append(lengths, rng.IntN(5*gcmChunk))
	}
	for _, keySize := range []int{16, 24, 32} {
		for _, ivLen := range []int{12, 16} {
			for _, n := range lengths {
				key := randBytes(rng, keySize)
				iv := randBytes(rng, ivLen)
				pt := randBytes(rng, n)
				want := stdlibSeal(t, key, iv, pt)
				// Feed through a reader that returns odd-sized pieces.
				got := ourSeal(t, key, iv, &choppyReader{r: bytes.NewReader(pt), rng: rng})
				if !bytes.Equal(got, want) {
					t.Fatalf("key %d iv %d len %d: seal differs at byte %d", keySize, ivLen, n, firstDiff(got, want))
				}
				back, err := ourOpen(key, ivLen, want)
				if err != nil || !bytes.Equal(back, pt) {
					t.Fatalf("key %d iv %d len %d: open: %v", keySize, ivLen, n, err)
				}
			}
		}
	}
}

// gfInverse is x^(2^128-2).
func gfInverse(x gfElement) gfElement {
	result := gfElement{hi: 1 << 63}
	sq := x
	for i := 1; i < 128; i++ {
		sq = gfMul(sq, sq)
		result = gfMul(result, sq)
	}
	return result
}

// ivForJ0 solves J0 = (IV·H ⊕ L)·H for a 16-byte IV.
func ivForJ0(key []byte, j0 gfElement) []byte {
	block, _ := aes.NewCipher(key)
	var hb [16]byte
	block.Encrypt(hb[:], hb[:])
	h := gfLoad(hb[:])
	hInv := gfInverse(h)
	iv := gfMul(gfMul(j0, hInv).xor(lengthBlock(0, 16)), hInv)
	out := make([]byte, 16)
	iv.store(out)
	return out
}

// With a 16-byte IV the 32-bit counter can wrap inside a message; GCM must
// not carry into the upper 96 bits. Force J0's low word to 0xFFFFFFFD.
func TestGCMCounterWrapWith16ByteIV(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	if one := gfMul(gfElement{hi: 0x1234, lo: 0x5678}, gfInverse(gfElement{hi: 0x1234, lo: 0x5678})); one != (gfElement{hi: 1 << 63}) {
		t.Fatal("inverse broken")
	}
	for _, low := range []uint32{0xFFFFFFFD, 0xFFFFFFFF, 0xFFFFFFFE} {
		key := randBytes(rng, 32)
		iv := ivForJ0(key, gfElement{hi: 0xAABBCCDDEEFF0011, lo: 0x22334455_00000000 | uint64(low)})
		core, err := newGCMCore(key, iv)
		if err != nil {
			t.Fatal(err)
		}
		if got := binary.BigEndian.Uint32(core.counter[12:]); got != low+1 {
			t.Fatalf("constructed J0 low word %x, want %x", got-1, low)
		}
		pt := randBytes(rng, 10*16+7)
		want := stdlibSeal(t, key, iv, pt)
		got := ourSeal(t, key, iv, bytes.NewReader(pt))
		if !bytes.Equal(got, want) {
			t.Fatalf("low %x: differs at %d", low, firstDiff(got, want))
		}
	}
}

func TestGCMTamperAndTruncation(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	key := randBytes(rng, 32)
	for _, ivLen := range []int{12, 16} {
		sealed := stdlibSeal(t, key, randBytes(rng, ivLen), randBytes(rng, 3*gcmChunk+100))
		for _, pos := range []int{0, ivLen, ivLen + gcmChunk + 3, len(sealed) - 17, len(sealed) - 1} {
			bad := bytes.Clone(sealed)
			bad[pos] ^= 0x01
			if _, err := ourOpen(key, ivLen, bad); !errors.Is(err, ErrAuthentication) {
				t.Errorf("iv %d: flipped byte %d: %v", ivLen, pos, err)
			}
		}
		if _, err := ourOpen(key, ivLen, sealed[:len(sealed)-1]); !errors.Is(err, ErrAuthentication) {
			t.Errorf("one byte short: %v", err)
		}
		if _, err := ourOpen(key, ivLen, sealed[:ivLen+15]); !errors.Is(err, ErrTruncated) {
			t.Errorf("shorter than IV+tag: %v", err)
		}
		wrongKey := bytes.Clone(key)
		wrongKey[0] ^= 1
		if _, err := ourOpen(wrongKey, ivLen, sealed); !errors.Is(err, ErrAuthentication) {
			t.Errorf("wrong key: %v", err)
		}
		other := 12
		if ivLen == 12 {
			other = 16
		}
		if _, err := ourOpen(key, other, sealed); !errors.Is(err, ErrAuthentication) {
			t.Errorf("wrong IV length: %v", err)
		}
	}
}

// mutableReaderAt changes its content after the first full pass, as a
// source modified between authentication and decryption would.
type mutableReaderAt struct {
	data  []byte
	reads int
}

func (m *mutableReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off == int64(len(m.data))-gcmTagSize { // the tag read ends pass one
		m.reads++
		if m.reads == 1 {
			defer func() { m.data[20] ^= 1 }()
		}
	}
	return copy(p, m.data[off:]), nil
}

func TestGCMSourceChangedAfterAuthentication(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	key := randBytes(rng, 32)
	sealed := stdlibSeal(t, key, randBytes(rng, 12), randBytes(rng, 1000))
	r, err := openGCM(key, 12, &mutableReaderAt{data: sealed}, int64(len(sealed)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("changed source not detected: %v", err)
	}
}

// Memory stays bounded: a 64 MiB seal+open allocates a small fraction of
// the payload (figures for 100 MB come from BenchmarkGCMStream100MB).
func TestGCMStreamingMemoryBounded(t *testing.T) {
	const n = 64 << 20
	key := bytes.Repeat([]byte{7}, 32)
	spoolDir := t.TempDir()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := NewSealReader(DefaultMethod, key, &patternReader{n: n})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := OpenStream(DefaultMethod, key, r, spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if err := samePattern(pr, n); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > n/8 {
		t.Errorf("allocated %d bytes for %d", alloc, n)
	}
}

type choppyReader struct {
	r   io.Reader
	rng *rand.Rand
}

func (c *choppyReader) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1+c.rng.IntN(len(p))]
	}
	return c.r.Read(p)
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// patternReader yields byte i = i % 251, the reference's large payload.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rest := p.n - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func samePattern(r io.Reader, n int64) error {
	buf := make([]byte, 32<<10)
	var off int64
	for {
		k, err := r.Read(buf)
		for i := 0; i < k; i++ {
			if buf[i] != byte((off+int64(i))%251) {
				return errors.New("plaintext differs from the pattern")
			}
		}
		off += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if off != n {
		return errors.New("plaintext length differs")
	}
	return nil
}

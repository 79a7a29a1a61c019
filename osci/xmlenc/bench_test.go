package xmlenc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// Bare RSA-4096 OAEP (SHA-256/MGF1-SHA-256) key unwrap with the
// intermediary's key: the floor for every transport-encrypted message.
func BenchmarkRSA4096OAEPDecrypt(b *testing.B) {
	id := identities(b)["osci_manager_cipher_4096"]
	d, _ := id.Decrypter()
	wrapped, err := WrapKey(DefaultKeyTransport, id.Certificate.PublicKey, make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	opts, _ := DefaultKeyTransport.oaepOptions()
	for b.Loop() {
		if _, err := d.Decrypt(rand.Reader, wrapped, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSA4096OAEPEncrypt(b *testing.B) {
	pub := identities(b)["osci_manager_cipher_4096"].Certificate.PublicKey.(*rsa.PublicKey)
	for b.Loop() {
		if _, err := WrapKey(DefaultKeyTransport, pub, make([]byte, 32)); err != nil {
			b.Fatal(err)
		}
	}
}

const benchSize = 16 << 20

// Streaming GCM encryption throughput (MB/s), 12-byte IV.
func BenchmarkGCMSealStream(b *testing.B) {
	key := bytes.Repeat([]byte{1}, 32)
	pt := make([]byte, benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		r, _ := NewSealReader(DefaultMethod, key, bytes.NewReader(pt))
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// Streaming GCM decryption from a ReaderAt: authenticate pass + decrypt
// pass over the same data.
func BenchmarkGCMOpenReaderAt(b *testing.B) {
	key := bytes.Repeat([]byte{1}, 32)
	r, _ := NewSealReader(DefaultMethod, key, &patternReader{n: benchSize})
	sealed, _ := io.ReadAll(r)
	b.SetBytes(benchSize)
	for b.Loop() {
		pr, err := Open(DefaultMethod, key, bytes.NewReader(sealed), int64(len(sealed)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, pr); err != nil {
			b.Fatal(err)
		}
	}
}

// The standard library's one-shot GCM on the same data, for comparison.
func BenchmarkStdlibGCMSeal(b *testing.B) {
	block, _ := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	aead, _ := cipher.NewGCM(block)
	pt := make([]byte, benchSize)
	out := make([]byte, 0, benchSize+16)
	nonce := make([]byte, 12)
	b.SetBytes(benchSize)
	for b.Loop() {
		out = aead.Seal(out[:0], nonce, pt, nil)
	}
}

// 100 MB encrypted and decrypted as streams (ciphertext spooled to an
// encrypted temporary file, as for an unspooled MIME part). Reports the
// peak Go heap seen while running (sampled every millisecond) and the
// bytes allocated per operation; run alone for a meaningful figure:
//
//	go test -run='^$' -bench=GCMStream100MB -benchtime=1x ./osci/xmlenc/
func BenchmarkGCMStream100MB(b *testing.B) {
	const n = 100 << 20
	key := bytes.Repeat([]byte{1}, 32)
	dir := b.TempDir()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewSealReader(DefaultMethod, key, &patternReader{n: n})
		if err != nil {
			b.Fatal(err)
		}
		pr, err := OpenStream(DefaultMethod, key, r, dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := samePattern(pr, n); err != nil {
			b.Fatal(err)
		}
		pr.Close()
	}
	close(stop)
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base.HeapInuse))/(1<<20), "peak-heap-MB")
}

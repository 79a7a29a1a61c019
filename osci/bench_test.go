package osci

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xagw/xagw/osci/keystore"
)

// Benchmarks for the issue note. Keys are the 4096-bit RSA keys of the
// interop pack. A storeDelivery with one signed container encrypted for the
// addressee, transport-encrypted, costs these RSA operations:
//
//	build: 2 private (container signature, ClientSignature)
//	       2 public  (content key for the addressee, transport key)
//	open:  2 private (transport key, content key)
//	       2 public  (ClientSignature, container signature)
//
// BenchmarkRSA4096 measures those operations bare, for comparison.

func benchDelivery(b *testing.B, size int) *Delivery {
	bob := sharedCert(b, "bob_cipher_4096")
	content := bytes.Repeat([]byte("Antragsdaten "), size/13+1)[:size]
	return &Delivery{MessageID: "bench", Subject: "130101", Addressee: bob, Containers: []ContentContainer{
		{Sign: true, EncryptFor: []*x509.Certificate{bob}, Contents: []Content{{Data: content}}}}}
}

// BenchmarkStoreDeliveryBuild: build, sign and encrypt a storeDelivery with
// 10 KB content (container signature, content and transport encryption).
func BenchmarkStoreDeliveryBuild(b *testing.B) {
	d := benchDelivery(b, 10<<10)
	composeDelivery(b, d, true) // load keys outside the timing
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := composeDelivery(b, d, true)
		if _, err := out.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
		out.Close()
	}
}

// BenchmarkStoreDeliveryOpen: open the same message as its addressee
// (transport decryption with the intermediary key, content with bob's),
// verifying both signatures and every reference.
func BenchmarkStoreDeliveryOpen(b *testing.B) {
	data, err := composeDelivery(b, benchDelivery(b, 10<<10), true).Bytes()
	if err != nil {
		b.Fatal(err)
	}
	keys := readerKeys(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o, err := Open(bytes.NewReader(data), OpenOptions{Keys: keys})
		if err != nil || len(o.Containers) != 1 || !o.Containers[0].Signatures[0].OK() {
			b.Fatal(err)
		}
		o.Close()
	}
}

// BenchmarkRSA4096 is the bare cost of the RSA operations the two
// benchmarks above contain.
func BenchmarkRSA4096(b *testing.B) {
	alice := sharedIdentity(b, "alice_signature_4096")
	bob := sharedIdentity(b, "bob_cipher_4096")
	digest := sha256.Sum256([]byte("x"))
	sig, _ := alice.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	pub := bob.Certificate.PublicKey.(*rsa.PublicKey)
	key := make([]byte, 32)
	wrapped, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	dec, _ := bob.Decrypter()
	b.Run("sign-PKCS1v15", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := alice.Key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify-PKCS1v15", func(b *testing.B) {
		apub := alice.Certificate.PublicKey.(*rsa.PublicKey)
		for i := 0; i < b.N; i++ {
			if err := rsa.VerifyPKCS1v15(apub, crypto.SHA256, digest[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encrypt-OAEP", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt-OAEP", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := dec.Decrypt(rand.Reader, wrapped, &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA256}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// patternReader yields n bytes of a fixed pattern without holding them.
type patternReader struct{ left int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(b))
	if n > p.left {
		n = p.left
	}
	for i := range b[:n] {
		b[i] = byte((p.left - int64(i)) % 251)
	}
	p.left -= n
	return int(n), nil
}

// peakHeap samples the heap while f runs and returns the highest HeapInuse
// seen above the level before f.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > base.HeapInuse {
		return p - base.HeapInuse
	}
	return 0
}

// BenchmarkLargeAttachment sends a 100 MB attachment through the whole
// pipeline: encrypted for the addressee (attachment key, container
// signature over the plaintext), transport-encrypted, written to a file;
// then opened (transport decryption, both signatures, attachment
// decryption) and the plaintext read back. It reports the peak heap of each
// half: memory must not grow with the attachment.
func BenchmarkLargeAttachment(b *testing.B) {
	const size = 100 << 20
	bob := sharedCert(b, "bob_cipher_4096")
	att := &Attachment{Name: "large.bin", Size: size, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(&patternReader{left: size}), nil
	}}
	d := &Delivery{MessageID: "large", Subject: "large", Addressee: bob, Containers: []ContentContainer{
		{Sign: true, EncryptFor: []*x509.Certificate{bob}, Contents: []Content{{Data: []byte("x")}, {Attachment: att}}}}}
	keys := readerKeys(b)
	dir := b.TempDir()
	path := filepath.Join(dir, "msg.wire")
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		var wire int64
		build := peakHeap(func() {
			out := composeDelivery(b, d, true)
			f, err := os.Create(path)
			if err != nil {
				b.Fatal(err)
			}
			if wire, err = out.WriteTo(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			out.Close()
		})
		open := peakHeap(func() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			o, err := Open(f, OpenOptions{Keys: keys, SpoolDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			a := o.Containers[0].Contents[1].Attachment
			r, err := a.Open()
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, r)
			if err != nil || n != size || !o.Containers[0].Signatures[0].OK() {
				b.Fatalf("read %d, %v", n, err)
			}
		})
		b.ReportMetric(float64(build)/(1<<20), "build-peak-heap-MB")
		b.ReportMetric(float64(open)/(1<<20), "open-peak-heap-MB")
		b.ReportMetric(float64(wire)/(1<<20), "wire-MB")
	}
}

var _ = keystore.UsageSignature

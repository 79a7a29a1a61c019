package intermediary

import (
	"crypto/sha256"
	"crypto/x509"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xagw/xagw/osci"
)

// BenchmarkLargeDelivery stores a 100 MB attachment (encrypted for bob,
// container-signed, transport-encrypted) through the intermediary over
// loopback HTTP and fetches it back. Client and intermediary run in this
// process, so the reported peak heap covers both sides of each exchange:
// it must not grow with the attachment.
func BenchmarkLargeDelivery(b *testing.B) {
	const size = 100 << 20
	e := newEnv(b)
	sender, bob := e.client("carol_cipher_4096", false), e.client("bob_cipher_4096", false)
	bobCert := cert(b, "bob_cipher_4096")
	want := sha256.New()
	if _, err := io.Copy(want, &pattern{left: size}); err != nil {
		b.Fatal(err)
	}
	wantSum := want.Sum(nil)
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		id, err := sender.GetMessageID(ctx())
		if err != nil {
			b.Fatal(err)
		}
		att := &osci.Attachment{Name: "large.bin", Size: size, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(&pattern{left: size}), nil
		}}
		d := &osci.Delivery{MessageID: id, Subject: "large", Addressee: bobCert, Containers: []osci.ContentContainer{
			{Sign: true, EncryptFor: []*x509.Certificate{bobCert}, Contents: []osci.Content{{Data: []byte("x")}, {Attachment: att}}}}}
		store := peakHeap(func() {
			if _, err := sender.StoreDelivery(ctx(), d); err != nil {
				b.Fatal(err)
			}
		})
		fetch := peakHeap(func() {
			f, err := bob.FetchDelivery(ctx(), osci.FetchSelection{MessageID: id})
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			c := f.Containers[0]
			r, err := c.Contents[1].Attachment.Open()
			if err != nil {
				b.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, r)
			if err != nil || n != size || string(h.Sum(nil)) != string(wantSum) || !c.Signatures[0].OK() {
				b.Fatalf("fetched %d bytes, %v", n, err)
			}
		})
		b.ReportMetric(float64(store)/(1<<20), "store-peak-heap-MB")
		b.ReportMetric(float64(fetch)/(1<<20), "fetch-peak-heap-MB")
	}
}

// pattern yields n bytes of a fixed pattern without holding them.
type pattern struct{ left int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(b)), p.left)
	for i := range b[:n] {
		b[i] = byte((p.left - int64(i)) % 251)
	}
	p.left -= n
	return int(n), nil
}

// peakHeap samples the heap every 5 ms while f runs and returns the
// highest HeapInuse above the level before f.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
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
	})
	f()
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > base.HeapInuse {
		return p - base.HeapInuse
	}
	return 0
}

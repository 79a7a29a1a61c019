package certcache

import (
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
)

func TestMemoComputesOncePerCertificateAndStaysBounded(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	m := NewMemo(func(c *x509.Certificate) string {
		mu.Lock()
		calls++
		mu.Unlock()
		return fmt.Sprintf("%x", c.Raw)
	})
	a, b := &x509.Certificate{Raw: []byte{1}}, &x509.Certificate{Raw: []byte{2}}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if m.Get(a) != "01" || m.Get(b) != "02" {
					t.Error("wrong value")
				}
			}
		}()
	}
	wg.Wait()
	// Racing first calls may compute a value more than once; afterwards
	// never again.
	if calls < 2 || calls > 16 {
		t.Fatalf("%d computations for 2 certificates", calls)
	}
	before := calls
	m.Get(a)
	if calls != before {
		t.Fatal("a remembered value was computed again")
	}
	for i := range 3 * memoEntries {
		m.Get(&x509.Certificate{Raw: []byte{byte(i)}})
	}
	if len(m.m) > memoEntries {
		t.Fatalf("%d entries, bound %d", len(m.m), memoEntries)
	}
}

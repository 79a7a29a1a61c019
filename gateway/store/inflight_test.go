package store

import (
	"sync"
	"sync/atomic"
	"testing"
)

// Of many workers of one process that take up the same claimed row at
// once, exactly one may start; after Done the row can be taken up again.
func TestInFlightStartsOneWorkerPerRow(t *testing.T) {
	var f InFlight
	var started atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if f.Start("row-1") {
				started.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := started.Load(); n != 1 {
		t.Fatalf("%d workers started on one row", n)
	}
	if !f.Start("row-2") {
		t.Fatal("another row is refused")
	}
	f.Done("row-1")
	if !f.Start("row-1") {
		t.Fatal("a finished row cannot be taken up again")
	}
}

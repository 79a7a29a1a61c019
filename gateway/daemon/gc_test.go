package daemon

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

// The daemon raises the GC target unless the operator set GOGC.
func TestGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	log := slog.New(slog.DiscardHandler)

	setGCPercent(func(string) string { return "" }, log)
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Errorf("without GOGC: %d, want %d", got, DefaultGCPercent)
	}
	setGCPercent(func(k string) string {
		if k == "GOGC" {
			return "150"
		}
		return ""
	}, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the daemon must leave the runtime's value: %d", got)
	}
}

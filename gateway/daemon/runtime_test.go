package daemon

import (
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/xagw/xagw/gateway/config"
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

// With SQLite in the process the daemon runs one P more than the runtime's
// default, unless the operator set GOMAXPROCS; without, it keeps the default.
func TestProcs(t *testing.T) {
	none := func(string) string { return "" }
	set := func(k string) string {
		if k == "GOMAXPROCS" {
			return "2"
		}
		return ""
	}
	for _, c := range []struct {
		sqlite bool
		getenv func(string) string
		want   int
		change bool
	}{
		{true, none, 3, true},
		{true, set, 2, false},
		{false, none, 2, false},
		{false, set, 2, false},
	} {
		if n, change := Procs(c.sqlite, 2, c.getenv); n != c.want || change != c.change {
			t.Errorf("Procs(sqlite %v, 2, GOMAXPROCS=%q) = %d, %v; want %d, %v", c.sqlite, c.getenv("GOMAXPROCS"), n, change, c.want, c.change)
		}
	}

	// SQLite is in the process with the sqlite store or the embedded test
	// intermediary (its mailbox store is SQLite).
	for _, c := range []struct {
		driver, mode string
		want         bool
	}{
		{"sqlite", config.ModeOSCI, true},
		{"postgres", config.ModeEmbedded, true},
		{"postgres", config.ModeOSCI, false},
		{"postgres", config.ModeNone, false},
	} {
		cfg := &config.Config{}
		cfg.Database.Driver, cfg.Transport.Mode = c.driver, c.mode
		if got := usesSQLite(cfg); got != c.want {
			t.Errorf("usesSQLite(%s, %s) = %v, want %v", c.driver, c.mode, got, c.want)
		}
	}

	// setProcs really changes the runtime's value, and only when Procs says so.
	orig := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(orig)
	log := slog.New(slog.DiscardHandler)
	setProcs(false, none, log)
	if got := runtime.GOMAXPROCS(0); got != orig {
		t.Errorf("without SQLite: GOMAXPROCS %d, want the default %d", got, orig)
	}
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	for i := 1; i <= 3; i++ { // a process with several daemons adds one P, once
		setProcs(true, none, log)
		if got := runtime.GOMAXPROCS(0); got != def+1 {
			t.Errorf("with SQLite, daemon %d: GOMAXPROCS %d, want the default %d + 1", i, got, def)
		}
	}
}

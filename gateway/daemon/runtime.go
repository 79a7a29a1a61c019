package daemon

import (
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/xagw/xagw/gateway/config"
)

// The Go runtime settings the daemon chooses for itself. The end-to-end
// benchmark (gateway/oscitransport) applies the same ones, so its figures
// describe the daemon as it runs.

// DefaultGCPercent is the garbage collector's target the daemon sets unless
// the GOGC environment variable is given. A delivery allocates a few
// megabytes (envelopes, ciphertext, XML trees) while the gateway keeps
// little live data, so with Go's default of 100 the collector ran every few
// messages and took about a fifth of the CPU outside RSA. At 400 the heap
// may grow to about five times the live data (tens of megabytes for a
// gateway) before a collection. GOMEMLIMIT, if set, still caps it.
const DefaultGCPercent = 400

// setGCPercent applies DefaultGCPercent unless GOGC is set.
func setGCPercent(getenv func(string) string, log *slog.Logger) {
	if v := getenv("GOGC"); v != "" {
		log.Info("garbage collector target from GOGC", "gogc", v)
		return
	}
	debug.SetGCPercent(DefaultGCPercent)
	log.Info("garbage collector target", "gc_percent", DefaultGCPercent)
}

// Procs returns the GOMAXPROCS the daemon runs with, given the runtime's
// default and whether the process writes an SQLite database (the
// store on driver "sqlite", or the test intermediary of the embedded
// setup), and whether the daemon changes it: with SQLite one more than the
// runtime's default, unless the GOMAXPROCS environment variable is set (then
// the operator's value stands).
//
// Why: SQLite runs in C. A commit with synchronous=FULL blocks in fsync
// inside that C call, and a goroutine in a C call (or a system call) keeps
// its P, Go's licence to run Go code, until the runtime's monitor thread
// takes it back. The monitor looks only every 20 µs to 10 ms, backing off
// while it finds nothing to do, and takes a P only on its second look
// (retake in runtime/proc.go). So during most of each fsync one of the P's
// is idle while goroutines with work to do wait for it. On the two-core
// benchmark machine that left about 2 % of the CPU idle under full load, no
// matter how many workers ran (docs/notes/issue-5.md, section 4.1). Each
// database has a single SQLite writer, so few commits block at a time: one
// spare P lets the operating system run other goroutines on the core
// meanwhile. Measured there, the process kept the cores 96.6–97.6 % busy
// with 3 P's instead of 95.1–96.0 % with 2; 4 P's cost more in switching
// than they gained.
//
// PostgreSQL is reached over the network, where a waiting goroutine gives
// its P back at once, so without SQLite the runtime's default stands.
// Setting GOMAXPROCS explicitly ends the runtime's own adjustment to a
// changed CPU limit of the container; the daemon reads the limit once, at
// start.
func Procs(sqlite bool, def int, getenv func(string) string) (n int, change bool) {
	if !sqlite || getenv("GOMAXPROCS") != "" {
		return def, false
	}
	return def + 1, true
}

// usesSQLite reports whether the daemon with cfg writes an SQLite database.
func usesSQLite(cfg *config.Config) bool {
	return cfg.Database.Driver == "sqlite" || cfg.Transport.Mode == config.ModeEmbedded
}

// setProcs applies Procs. It counts from the runtime's default, not from
// the current value, so a process that starts several daemons (tests do)
// adds the spare P once.
func setProcs(sqlite bool, getenv func(string) string, log *slog.Logger) {
	if _, change := Procs(sqlite, 0, getenv); !change {
		log.Info("scheduler threads", "gomaxprocs", runtime.GOMAXPROCS(0))
		return
	}
	runtime.SetDefaultGOMAXPROCS()
	n, _ := Procs(sqlite, runtime.GOMAXPROCS(0), getenv)
	runtime.GOMAXPROCS(n)
	log.Info("scheduler threads: one more than the CPUs for SQLite's blocking commits", "gomaxprocs", n)
}

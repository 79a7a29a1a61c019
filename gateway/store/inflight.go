package store

import "sync"

// InFlight is the set of claimed rows (messages, webhook deliveries) that
// workers of this process are working on. Its zero value is empty and
// ready to use; it is safe for concurrent use.
//
// Why it exists: leases are per process, not per worker. Every worker of
// a process writes under the process's one lease owner id (LeaseOwner), so
// the lease checks of Apply and FinishWebhook cannot tell two of its
// workers apart. When a lease runs out while a worker is still on its row
// (a stalled database, peer or intermediary; or a lease released by
// mistake), the process's own dispatcher can claim the row again, and a
// second worker would pass every fenced write the first one passes: the
// same application sent under two OSCI ids, the same webhook posted twice.
// A dispatcher therefore starts a worker on a claimed row only if Start
// reports true, and leaves a row it claimed again to the worker already on
// it; that worker's fenced writes still succeed, because the re-claim kept
// the owner id.
type InFlight struct {
	ids sync.Map
}

// Start records that a worker of this process takes up id. It reports
// false, and records nothing, if another worker of this process is still
// on id.
func (f *InFlight) Start(id string) bool {
	_, busy := f.ids.LoadOrStore(id, struct{}{})
	return !busy
}

// Done records that the worker that started id has finished with it.
func (f *InFlight) Done(id string) {
	f.ids.Delete(id)
}

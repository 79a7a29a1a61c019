// Package rsacount measures RSA private-key operations for benchmarks: a
// key wrapper that counts its operations and the CPU time they take on the
// thread that runs them, so that the cost of an operation is measured in
// the same run, under the same load, as the work around it.
package rsacount

import (
	"crypto"
	"crypto/rsa"
	"io"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Key is an RSA private key (a crypto.Signer and crypto.Decrypter) whose
// private operations are added to Ops and their thread CPU time, in
// nanoseconds, to CPU. Several keys may share the counters.
type Key struct {
	Key      *rsa.PrivateKey
	Ops, CPU *atomic.Int64
}

func (c Key) Public() crypto.PublicKey { return c.Key.Public() }

func (c Key) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	defer c.count()()
	return c.Key.Sign(r, d, o)
}

func (c Key) Decrypt(r io.Reader, m []byte, o crypto.DecrypterOpts) ([]byte, error) {
	defer c.count()()
	return c.Key.Decrypt(r, m, o)
}

// count pins the goroutine to its thread for the operation, so that the
// thread's CPU clock measures the operation alone.
func (c Key) count() func() {
	runtime.LockOSThread()
	start := ThreadCPU()
	return func() {
		c.CPU.Add(int64(ThreadCPU() - start))
		c.Ops.Add(1)
		runtime.UnlockOSThread()
	}
}

// ThreadCPU is the CPU time of the calling thread (Linux
// CLOCK_THREAD_CPUTIME_ID).
func ThreadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

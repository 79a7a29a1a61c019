package intermediary

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"io"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
)

// countingKey counts the private-key operations of an RSA key and the CPU
// time they take, measured on the thread that runs them (so that other
// processes on the machine do not inflate it).
type countingKey struct {
	k   *rsa.PrivateKey
	n   *atomic.Int64
	cpu *atomic.Int64 // nanoseconds
}

func (c countingKey) Public() crypto.PublicKey { return c.k.Public() }
func (c countingKey) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	defer c.count()()
	return c.k.Sign(r, d, o)
}
func (c countingKey) Decrypt(r io.Reader, m []byte, o crypto.DecrypterOpts) ([]byte, error) {
	defer c.count()()
	return c.k.Decrypt(r, m, o)
}

func (c countingKey) count() func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		c.cpu.Add(int64(threadCPU() - start))
		c.n.Add(1)
		runtime.UnlockOSThread()
	}
}

// threadCPU is the CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

var (
	rtPKIOnce sync.Once
	rtPKI     *testpki.PKI
	rtPKIErr  error
)

func counted(b *testing.B, p *testpki.PKI, name string, n, cpu *atomic.Int64) *keystore.Identity {
	e := p.Entity(name)
	if e == nil {
		b.Fatalf("no test PKI entity %s", name)
	}
	id := e.Identity()
	id.Key = countingKey{k: e.Key.(*rsa.PrivateKey), n: n, cpu: cpu}
	return id
}

// processCPU is the CPU time (user + system) of the whole process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDeliveryRoundTrip is the OSCI part of one gateway delivery
// without the gateway: getMessageId and a storeDelivery of a 20 KB inline
// content (container signed, encrypted for the addressee, whole request
// transport-encrypted) into the addressee's mailbox at the intermediary over
// loopback HTTP, both sides in this process, one message at a time, 2048-bit
// keys. It reports the CPU time per message, the RSA private-key operations
// per message with the CPU time they took (measured around each operation on
// its thread), and the CPU time left when those are taken out (what XML,
// C14N, AES, HTTP and SQLite cost). XAGW_BENCH_CPUPROFILE=FILE writes a CPU
// profile.
func BenchmarkDeliveryRoundTrip(b *testing.B) {
	rtPKIOnce.Do(func() { rtPKI, rtPKIErr = testpki.Generate(testpki.Options{RSABits: 2048}) })
	if rtPKIErr != nil {
		b.Fatal(rtPKIErr)
	}
	p := rtPKI
	var clientOps, imOps, rsaCPU atomic.Int64
	pol := p.Policy()
	pol.Now = nil // the PKI was generated just now; check against the clock
	im, err := New(Config{DataDir: b.TempDir(), Signer: counted(b, p, "intermediary-signature", &imOps, &rsaCPU),
		Cipher: counted(b, p, "intermediary-cipher", &imOps, &rsaCPU), Policy: pol, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer im.Close()
	srv := httptest.NewServer(im)
	defer srv.Close()
	c, err := osci.NewClient(osci.Config{URL: srv.URL, IntermediaryCipher: p.Entity("intermediary-cipher").Certificate,
		IntermediarySignature: p.Entity("intermediary-signature").Certificate,
		Signer:                counted(b, p, "sender-signature", &clientOps, &rsaCPU), Cipher: counted(b, p, "sender-cipher", &clientOps, &rsaCPU),
		Policy: pol, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	addressee := p.Entity("addressee-cipher").Certificate
	content := make([]byte, 20<<10)
	for i := range content {
		content[i] = "<>abcdefghijklmnopqrstuvwxyzäöü \n"[i%34]
	}
	send := func() {
		id, err := c.GetMessageID(ctx())
		if err != nil {
			b.Fatal(err)
		}
		d := &osci.Delivery{MessageID: id, Subject: "bench", Addressee: addressee, Containers: []osci.ContentContainer{
			{Sign: true, EncryptFor: []*x509.Certificate{addressee}, Contents: []osci.Content{{Data: content}}}}}
		if _, err := c.StoreDelivery(ctx(), d); err != nil {
			b.Fatal(err)
		}
	}
	send() // warm up: connections, prepared statements
	clientOps.Store(0)
	imOps.Store(0)
	rsaCPU.Store(0)
	if path := os.Getenv("XAGW_BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		send()
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	total := clientOps.Load() + imOps.Load()
	ops := float64(total) / float64(b.N)
	perMsg := cpu.Seconds() * 1000 / float64(b.N)
	rsaMS := float64(rsaCPU.Load()) / 1e6 / float64(b.N)
	b.ReportMetric(perMsg, "cpu-ms/msg")
	b.ReportMetric(ops, "rsa-ops/msg")
	b.ReportMetric(float64(rsaCPU.Load())/1e3/float64(total), "µs-cpu/rsa-op")
	b.ReportMetric(perMsg-rsaMS, "non-rsa-cpu-ms/msg")
	b.ReportMetric(100*rsaMS/perMsg, "%-cpu-in-rsa")
}

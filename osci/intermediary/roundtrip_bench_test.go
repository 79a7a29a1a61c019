package intermediary

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/rsacount"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/osci/wire"
)

var (
	rtPKIOnce sync.Once
	rtPKI     *testpki.PKI
	rtPKIErr  error
)

// roundTripPKI is the 2048-bit test PKI of the round-trip benchmarks, made
// once per binary. Its keys are deterministic: the same keys in every run.
// With XAGW_BENCH_PKI_DIR set it is read from that folder (and written
// there the first time), so that an instruction count of the whole binary
// (callgrind) has no key generation in it: the prime search costs a
// varying number of instructions even from a fixed seed, and would drown
// the difference between two message counts.
func roundTripPKI(b *testing.B) *testpki.PKI {
	rtPKIOnce.Do(func() {
		dir := os.Getenv("XAGW_BENCH_PKI_DIR")
		if dir != "" {
			if rtPKI, rtPKIErr = testpki.Load(dir); rtPKIErr == nil {
				return
			}
		}
		rtPKI, rtPKIErr = testpki.Generate(testpki.Options{RSABits: 2048,
			InsecureDeterministicSeed: []byte("BenchmarkDeliveryRoundTrip"), Now: time.Now().Truncate(time.Hour)})
		if rtPKIErr == nil && dir != "" {
			rtPKIErr = rtPKI.WriteDir(dir)
		}
	})
	if rtPKIErr != nil {
		b.Fatal(rtPKIErr)
	}
	return rtPKI
}

// BenchmarkRSAPrivateOps is one PKCS#1 v1.5 signature and one RSA-OAEP
// decryption with a 2048-bit key of the round-trip PKI: the two kinds of
// private-key operation a delivery round trip performs (5 signatures and 4
// decryptions per message). An instruction count of the round trip minus
// these leaves what the rest costs, since the operations are constant-time.
func BenchmarkRSAPrivateOps(b *testing.B) {
	e := roundTripPKI(b).Entity("intermediary-cipher")
	key := e.Key.(*rsa.PrivateKey)
	digest := make([]byte, 32)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, make([]byte, 32), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := key.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		for b.Loop() {
			if _, err := key.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func counted(b *testing.B, p *testpki.PKI, name string, n, cpu *atomic.Int64) *keystore.Identity {
	e := p.Entity(name)
	if e == nil {
		b.Fatalf("no test PKI entity %s", name)
	}
	id := e.Identity()
	id.Key = rsacount.Key{Key: e.Key.(*rsa.PrivateKey), Ops: n, CPU: cpu}
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
	p := roundTripPKI(b)
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

// roundTripMessages records the four messages of one getMessageId and one
// storeDelivery as BenchmarkDeliveryRoundTrip sends them (requests and
// responses, as on the wire).
func roundTripMessages(b *testing.B) (wire [][]byte) {
	p := roundTripPKI(b)
	pol := p.Policy()
	pol.Now = nil
	im, err := New(Config{DataDir: b.TempDir(), Signer: p.Entity("intermediary-signature").Identity(),
		Cipher: p.Entity("intermediary-cipher").Identity(), Policy: pol, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer im.Close()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := io.ReadAll(r.Body)
		if err != nil {
			b.Error(err)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(req))
		rec := httptest.NewRecorder()
		im.ServeHTTP(rec, r)
		mu.Lock()
		wire = append(wire, req, rec.Body.Bytes())
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer srv.Close()
	c, err := osci.NewClient(osci.Config{URL: srv.URL, IntermediaryCipher: p.Entity("intermediary-cipher").Certificate,
		IntermediarySignature: p.Entity("intermediary-signature").Certificate,
		Signer:                p.Entity("sender-signature").Identity(), Cipher: p.Entity("sender-cipher").Identity(),
		Policy: pol, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	addressee := p.Entity("addressee-cipher").Certificate
	content := make([]byte, 20<<10)
	for i := range content {
		content[i] = "<>abcdefghijklmnopqrstuvwxyzäöü \n"[i%34]
	}
	id, err := c.GetMessageID(ctx())
	if err != nil {
		b.Fatal(err)
	}
	d := &osci.Delivery{MessageID: id, Subject: "bench", Addressee: addressee, Containers: []osci.ContentContainer{
		{Sign: true, EncryptFor: []*x509.Certificate{addressee}, Contents: []osci.Content{{Data: content}}}}}
	if _, err := c.StoreDelivery(ctx(), d); err != nil {
		b.Fatal(err)
	}
	if len(wire) != 4 {
		b.Fatalf("recorded %d messages, want 4", len(wire))
	}
	return wire
}

// BenchmarkRoundTripEnvelopes parses the eight SOAP envelopes of one
// delivery round trip (outer and inner envelope of both requests and both
// responses) with osci.ParseEnvelope, as Open does: one op is all eight.
// Most of it is internal/safexml building the trees.
func BenchmarkRoundTripEnvelopes(b *testing.B) {
	p := roundTripPKI(b)
	keys := []*keystore.Identity{p.Entity("intermediary-cipher").Identity(), p.Entity("sender-cipher").Identity()}
	var envs [][]byte
	for i, msg := range roundTripMessages(b) {
		mr, err := wire.NewReader(bytes.NewReader(msg), wire.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		root, err := mr.NextPart()
		if err != nil {
			b.Fatal(err)
		}
		outer, err := io.ReadAll(root)
		if err != nil {
			b.Fatal(err)
		}
		o, err := osci.Open(bytes.NewReader(msg), osci.OpenOptions{Keys: keys[i%2 : i%2+1]})
		if err != nil {
			b.Fatal(err)
		}
		envs = append(envs, bytes.TrimRight(outer, "\r\n"), o.Raw())
		o.Close()
	}
	n := 0
	for _, e := range envs {
		n += len(e)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range envs {
			if _, err := osci.ParseEnvelope(e); err != nil {
				b.Fatal(err)
			}
		}
	}
}

package oscitransport_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway/daemon"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/internal/rsacount"
	"github.com/xagw/xagw/internal/testpg"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/samples"
)

var (
	pkiOnce sync.Once
	pki2048 *testpki.PKI
	pkiErr  error
)

func benchPKI(b *testing.B) *testpki.PKI {
	pkiOnce.Do(func() { pki2048, pkiErr = testpki.Generate(testpki.Options{RSABits: 2048}) })
	if pkiErr != nil {
		b.Fatal(pkiErr)
	}
	return pki2048
}

func counted(e *testpki.Entity, n, cpu *atomic.Int64) *keystore.Identity {
	id := e.Identity()
	id.Key = rsacount.Key{Key: e.Key.(*rsa.PrivateKey), Ops: n, CPU: cpu}
	return id
}

// bareRSA measures the CPU time of one RSA-2048 private operation on an
// otherwise idle goroutine of this process (the mean of a PKCS#1 v1.5
// SHA-256 signature and an OAEP-SHA256 decryption, the two kinds OSCI uses),
// for comparison with the cost measured during the deliveries.
func bareRSA(k *rsa.PrivateKey) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	digest := sha256.Sum256([]byte("x"))
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, make([]byte, 32), nil)
	const rounds = 100
	start := rsacount.ThreadCPU()
	for i := 0; i < rounds; i++ {
		k.Sign(rand.Reader, digest[:], crypto.SHA256)
		rsa.DecryptOAEP(sha256.New(), rand.Reader, k, ct, nil)
	}
	return (rsacount.ThreadCPU() - start) / (2 * rounds)
}

// benchWorkers is the number of concurrent deliveries: 8, or
// XAGW_BENCH_WORKERS.
func benchWorkers() int {
	if n, err := strconv.Atoi(os.Getenv("XAGW_BENCH_WORKERS")); err == nil && n > 0 {
		return n
	}
	return 8
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEndToEnd delivers b.N applications (the ~20 KB sample, already
// accepted) through the real OSCI client into the ABH's mailbox at the test
// intermediary over loopback, with 2048-bit keys, and reports:
//
//   - msgs/s: delivered messages per second (wall clock);
//   - rsa-ops/msg, gw-rsa-ops/msg, im-rsa-ops/msg: RSA private-key
//     operations per message, in total and by side;
//   - µs/rsa-op: CPU time of one such operation, measured around every
//     operation of this run on its thread; µs/rsa-op-bare: the same on an
//     otherwise idle goroutine before the run;
//   - rsa-bound-msgs/s: what the machine's cores could deliver if they did
//     nothing but those operations, and %-of-bound: msgs/s as a share of it;
//   - cpu-ms/msg: CPU time of the whole process (gateway, intermediary,
//     HTTP on both sides) per message, the figure that depends least on
//     other load; %-cpu-in-rsa: the share of it in RSA private operations,
//     which is the share of the bound an otherwise idle machine reaches.
//
// XAGW_BENCH_CPUPROFILE=PREFIX writes a CPU profile of the delivery phase
// to PREFIX.sqlite / PREFIX.postgres.
func BenchmarkEndToEnd(b *testing.B) {
	// The garbage collector runs as in the daemon (GOGC overrides both).
	gc := daemon.DefaultGCPercent
	if v := os.Getenv("GOGC"); v != "" {
		gc, _ = strconv.Atoi(v)
	} else {
		defer debug.SetGCPercent(debug.SetGCPercent(gc))
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			// The scheduler runs as in the daemon's embedded setup, whose
			// test intermediary writes SQLite in the process: with one
			// spare P (daemon.Procs; GOMAXPROCS overrides it).
			if n, change := daemon.Procs(true, runtime.GOMAXPROCS(0), os.Getenv); change {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
			}
			p := benchPKI(b)
			var gwOps, imOps, rsaCPU, decided, dead atomic.Int64
			roots := x509.NewCertPool()
			roots.AddCert(p.Root.Certificate)
			inter := x509.NewCertPool()
			inter.AddCert(p.IssuingCA.Certificate)
			policy := &keystore.Policy{Roots: roots, Intermediates: inter}
			im, err := intermediary.New(intermediary.Config{DataDir: b.TempDir(), Signer: counted(p.Entity("intermediary-signature"), &imOps, &rsaCPU),
				Cipher: counted(p.Entity("intermediary-cipher"), &imOps, &rsaCPU), Policy: policy, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer im.Close()
			srv := httptest.NewServer(im)
			defer srv.Close()
			uri, _ := dvdv.OZGServiceURI("26.11")
			dir, err := dvdvfile.New(&dvdvfile.File{Version: dvdvfile.FormatVersion,
				Intermediaries: []dvdvfile.Intermediary{{Name: "im", URL: srv.URL, CipherCertificate: dvdvfile.InlineCert(p.Entity("intermediary-cipher").Certificate),
					SignatureCertificate: dvdvfile.InlineCert(p.Entity("intermediary-signature").Certificate)}},
				Organizations: []dvdvfile.Organization{{Key: "abh:000100", Name: "STV Aalen", Services: []dvdvfile.Service{
					{URI: uri, Intermediary: "im", CipherCertificate: dvdvfile.InlineCert(p.Entity("addressee-cipher").Certificate)}}}}}, dvdvfile.Options{Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			tr, err := oscitransport.New(oscitransport.Config{Signer: counted(p.Entity("sender-signature"), &gwOps, &rsaCPU),
				Cipher: counted(p.Entity("sender-cipher"), &gwOps, &rsaCPU), Policy: policy, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			var s *store.Store
			if name == "sqlite" {
				s, err = store.Open(context.Background(), store.SQLite, filepath.Join(b.TempDir(), "gw.db"), store.Options{})
			} else {
				s, err = store.Open(context.Background(), store.Postgres, testpg.DSN(b), store.Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			bundle, err := schemas.OpenDefault()
			if err != nil {
				b.Fatal(err)
			}
			codec, _ := xacodec.New(bundle, nil)
			smp, _ := samples.Lookup("antrag-erwerbstaetigkeit")
			body, err := smp.XML(bundle)
			if err != nil {
				b.Fatal(err)
			}
			reg := metrics.NewRegistry()
			o, err := outbox.New(outbox.Config{Store: s, Keys: gatewaytest.Keyring(b), Codec: codec, Router: &dvdvroute.Router{Directory: dir},
				Transport: tr, Metrics: reg, Workers: benchWorkers(), Poll: 5 * time.Millisecond, CallTimeout: 30 * time.Second, Lease: 3 * time.Minute,
				// Counts the outcomes as they are decided, so the wait below
				// costs nothing; the store confirms them at the end.
				Notify: func(event, _ string) []store.NewWebhook {
					if event == outbox.EventMessageDelivered {
						decided.Add(1)
					} else if event == outbox.EventMessageDead {
						dead.Add(1)
					}
					return nil
				}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			defer func() {
				if testing.Verbose() {
					var sb strings.Builder
					reg.Write(ctx, &sb)
					for _, l := range strings.Split(sb.String(), "\n") {
						if strings.Contains(l, "_sum") || strings.Contains(l, "_count") {
							b.Log(l)
						}
					}
				}
			}()
			for i := 0; i < b.N; i++ {
				if _, err := o.Submit(ctx, outbox.Submission{ClientID: "c", Format: outbox.FormatXML, Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			bare := bareRSA(p.Entity("sender-signature").Key.(*rsa.PrivateKey))
			gwOps.Store(0)
			imOps.Store(0)
			rsaCPU.Store(0)
			var prof *os.File
			if path := os.Getenv("XAGW_BENCH_CPUPROFILE"); path != "" {
				prof, _ = os.Create(path + "." + name)
				pprof.StartCPUProfile(prof)
			}
			cpu0 := cpuTime()
			b.ResetTimer()
			start := time.Now()
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { o.Run(rctx); close(done) }()
			// Polling is the benchmark's own overhead and would be counted
			// in the CPU figures: wait on the in-memory count of decided
			// deliveries and ask the store only when it says all are done.
			for {
				if dead.Load() > 0 {
					n, _ := s.CountByState(ctx)
					b.Fatalf("dead letters: %v", n)
				}
				if decided.Load() >= int64(b.N) {
					n, err := s.CountByState(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if n[store.StateDelivered] == b.N {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
			}
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			if prof != nil {
				pprof.StopCPUProfile()
				prof.Close()
			}
			cancel()
			<-done
			rate := float64(b.N) / elapsed.Seconds()
			ops := gwOps.Load() + imOps.Load()
			perMsg := float64(ops) / float64(b.N)
			op := time.Duration(rsaCPU.Load() / max(ops, 1))
			cores := float64(runtime.NumCPU())
			bound := cores / (perMsg * op.Seconds())
			cpuMsg := cpu.Seconds() / float64(b.N)
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(perMsg, "rsa-ops/msg")
			b.ReportMetric(float64(gwOps.Load())/float64(b.N), "gw-rsa-ops/msg")
			b.ReportMetric(float64(imOps.Load())/float64(b.N), "im-rsa-ops/msg")
			b.ReportMetric(float64(op.Microseconds()), "µs/rsa-op")
			b.ReportMetric(float64(bare.Microseconds()), "µs/rsa-op-bare")
			b.ReportMetric(bound, "rsa-bound-msgs/s")
			b.ReportMetric(100*rate/bound, "%-of-bound")
			b.ReportMetric(cpuMsg*1000, "cpu-ms/msg")
			b.ReportMetric(100*perMsg*op.Seconds()/cpuMsg, "%-cpu-in-rsa")
			b.ReportMetric(cores/cpuMsg, "cpu-bound-msgs/s")
			b.ReportMetric(float64(gc), "gc-percent")
			b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "gomaxprocs")
		})
	}
}

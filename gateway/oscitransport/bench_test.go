package oscitransport_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/internal/testpg"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/samples"
)

// countingKey counts the private-key operations of an RSA key.
type countingKey struct {
	k *rsa.PrivateKey
	n *atomic.Int64
}

func (c countingKey) Public() crypto.PublicKey { return c.k.Public() }
func (c countingKey) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	return c.k.Sign(r, d, o)
}
func (c countingKey) Decrypt(r io.Reader, m []byte, o crypto.DecrypterOpts) ([]byte, error) {
	c.n.Add(1)
	return c.k.Decrypt(r, m, o)
}

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

func counted(e *testpki.Entity, n *atomic.Int64) *keystore.Identity {
	id := e.Identity()
	id.Key = countingKey{k: e.Key.(*rsa.PrivateKey), n: n}
	return id
}

// bareRSA measures the time of one RSA-2048 private operation on this
// machine: the mean of a PKCS#1 v1.5 SHA-256 signature and an OAEP-SHA256
// decryption (the two kinds OSCI uses).
func bareRSA(b *testing.B, k *rsa.PrivateKey) time.Duration {
	digest := sha256.Sum256([]byte("x"))
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.PublicKey, make([]byte, 32), nil)
	const rounds = 200
	start := time.Now()
	for i := 0; i < rounds; i++ {
		k.Sign(rand.Reader, digest[:], crypto.SHA256)
		rsa.DecryptOAEP(sha256.New(), rand.Reader, k, ct, nil)
	}
	return time.Since(start) / (2 * rounds)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEndToEnd delivers b.N applications (the ~20 KB sample, already
// accepted) through the real OSCI client into the ABH's mailbox at the test
// intermediary over loopback, with 2048-bit keys, and reports delivered
// messages per second, the RSA private-key operations per message (gateway
// and intermediary together) and the share of the throughput those
// operations alone would allow on this machine's cores.
func BenchmarkEndToEnd(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			p := benchPKI(b)
			var gwOps, imOps atomic.Int64
			roots := x509.NewCertPool()
			roots.AddCert(p.Root.Certificate)
			inter := x509.NewCertPool()
			inter.AddCert(p.IssuingCA.Certificate)
			policy := &keystore.Policy{Roots: roots, Intermediates: inter}
			im, err := intermediary.New(intermediary.Config{DataDir: b.TempDir(), Signer: counted(p.Entity("intermediary-signature"), &imOps),
				Cipher: counted(p.Entity("intermediary-cipher"), &imOps), Policy: policy, Logger: quiet})
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
			tr, err := oscitransport.New(oscitransport.Config{Signer: counted(p.Entity("sender-signature"), &gwOps),
				Cipher: counted(p.Entity("sender-cipher"), &gwOps), Policy: policy, Logger: quiet})
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
				Transport: tr, Metrics: reg, Workers: 8, Poll: 5 * time.Millisecond, CallTimeout: 30 * time.Second, Lease: 3 * time.Minute})
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
			op := bareRSA(b, p.Entity("sender-signature").Key.(*rsa.PrivateKey))
			gwOps.Store(0)
			imOps.Store(0)
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
			for {
				n, _ := s.CountByState(ctx)
				if n[store.StateDelivered] == b.N {
					break
				}
				if n[store.StateDead] > 0 {
					b.Fatalf("dead letters: %v", n)
				}
				time.Sleep(5 * time.Millisecond)
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
			perMsg := float64(gwOps.Load()+imOps.Load()) / float64(b.N)
			cores := 2.0 // this machine; the bound assumes both cores do nothing but RSA
			bound := cores / (perMsg * op.Seconds())
			b.ReportMetric(rate, "msgs/s")
			b.ReportMetric(perMsg, "rsa-ops/msg")
			b.ReportMetric(float64(gwOps.Load())/float64(b.N), "gw-rsa-ops/msg")
			b.ReportMetric(bound, "rsa-bound-msgs/s")
			b.ReportMetric(100*rate/bound, "%-of-bound")
			b.ReportMetric(float64(op.Microseconds()), "µs/rsa-op")
			// CPU time of this process (gateway, intermediary and the
			// loopback HTTP on both sides) per message: unlike wall time it
			// hardly depends on what else runs on the machine.
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/msg")
			b.ReportMetric(100*perMsg*op.Seconds()/(cpu.Seconds()/float64(b.N)), "%-cpu-in-rsa")
		})
	}
}

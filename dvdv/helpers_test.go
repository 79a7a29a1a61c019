package dvdv_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
)

// One PKI per test binary: RSA key generation is the slowest thing here.
func testPKI(tb testing.TB) *dvdvtest.PKI {
	tb.Helper()
	p, err := dvdvtest.SharedPKI()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func newClock() *dvdvtest.Clock { return dvdvtest.NewClock() }

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

const intermediaryURL = "https://intermediary.example/osci-manager"

// env is a sample directory served by one or more fake servers over
// loopback HTTP, and a client configured for them.
type env struct {
	clock   *dvdvtest.Clock
	sample  *dvdvtest.Sample
	dir     *dvdvfile.Directory
	servers []*dvdvtest.Server
	client  *dvdv.Client
	uri1211 string
	uri2611 string
}

type envOptions struct {
	servers int
	file    func(*dvdvtest.Sample) // changes the sample file before loading
	config  func(*dvdv.Config)
	noAuth  bool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.servers == 0 {
		o.servers = 1
	}
	e := &env{clock: newClock()}
	var err error
	if e.sample, err = testPKI(t).NewSample(intermediaryURL); err != nil {
		t.Fatal(err)
	}
	if o.file != nil {
		o.file(e.sample)
	}
	if e.dir, err = dvdvfile.New(e.sample.File, dvdvfile.Options{Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for i := 0; i < o.servers; i++ {
		s := dvdvtest.NewServer(e.dir, dvdvtest.Options{Now: e.clock.Now})
		t.Cleanup(s.Close)
		e.servers = append(e.servers, s)
		urls = append(urls, s.URL)
	}
	cfg := dvdv.Config{Servers: urls, Auth: e.sample.Client, Now: e.clock.Now, Logger: quietLog}
	if o.noAuth {
		cfg.Auth = nil
	}
	if o.config != nil {
		o.config(&cfg)
	}
	if e.client, err = dvdv.NewClient(cfg); err != nil {
		t.Fatal(err)
	}
	e.uri1211, _ = dvdv.OZGServiceURI("1.21.1")
	e.uri2611, _ = dvdv.OZGServiceURI("26.11")
	return e
}

// requests sums a counter over all servers.
func (e *env) requests(op string) int {
	n := 0
	for _, s := range e.servers {
		n += s.Requests(op)
	}
	return n
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// mustRSAKey returns a small RSA key that belongs to no test certificate.
func mustRSAKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

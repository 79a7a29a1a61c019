// Package crashtest runs the real xagw binary: `xagw intermediary` and
// `xagw serve` as separate processes over loopback, killed with SIGKILL at
// random moments, and checks in the ABH's mailbox that every message arrived
// exactly once. Skipped with -short.
package crashtest

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/internal/testpg"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/testpki"
	"github.com/xagw/xagw/xauslaender"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// xagw builds the binary once per test run.
func xagw(t *testing.T) string {
	buildOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = err
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "xagw-crashtest-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "xagw")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/xagw")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lockedBuf
	done chan struct{}
}

func start(t *testing.T, name string, env []string, args ...string) *proc {
	p := &proc{name: name, out: &lockedBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(xagw(t), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

// kill ends the process with SIGKILL: no drain, no cleanup.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop asks for a graceful shutdown.
func (p *proc) stop(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Errorf("%s did not stop on SIGTERM", p.name)
		p.kill()
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitFor(t *testing.T, what string, limit time.Duration, logs func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// world is one intermediary process with a test PKI, a DVDV file naming
// the test ABH there, and configurations for gateway processes.
type world struct {
	t       *testing.T
	dir     string
	pkiDir  string
	pki     *testpki.PKI
	imAddr  string
	im      *proc
	dbLine  string
	token   string
	abh     *osci.Client
	gateway []*gwProc
}

type gwProc struct {
	*proc
	cfg  string
	addr string
}

func newWorld(t *testing.T, dbLine string) *world {
	w := &world{t: t, dir: t.TempDir(), dbLine: dbLine, token: "crash-test-token-0123456789"}
	w.pkiDir = filepath.Join(w.dir, "pki")
	var err error
	if w.pki, err = testpki.Generate(testpki.Options{RSABits: 2048}); err != nil {
		t.Fatal(err)
	}
	if err := w.pki.WriteDir(w.pkiDir); err != nil {
		t.Fatal(err)
	}
	w.imAddr = freeAddr(t)
	w.startIntermediary()

	uri, _ := dvdv.OZGServiceURI("26.11")
	pem := func(name string) *dvdvfile.CertRef {
		return dvdvfile.CertFile(filepath.Join(w.pkiDir, name+".cert.pem"))
	}
	f := &dvdvfile.File{Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{Name: "im", URL: "http://" + w.imAddr + "/", CipherCertificate: pem("intermediary-cipher"),
			SignatureCertificate: pem("intermediary-signature")}},
		Organizations: []dvdvfile.Organization{{Key: "abh:000100", Name: "STV Aalen", Services: []dvdvfile.Service{
			{URI: uri, Intermediary: "im", CipherCertificate: pem("addressee-cipher")}}}}}
	if err := f.WriteFile(filepath.Join(w.dir, "dvdv.yaml")); err != nil {
		t.Fatal(err)
	}
	inter := x509Pool(w.pki)
	w.abh, err = osci.NewClient(osci.Config{URL: "http://" + w.imAddr + "/", IntermediaryCipher: w.pki.Entity("intermediary-cipher").Certificate,
		IntermediarySignature: w.pki.Entity("intermediary-signature").Certificate, Signer: w.pki.Entity("addressee-signature").Identity(),
		Cipher: w.pki.Entity("addressee-cipher").Identity(), Policy: &keystore.Policy{Roots: w.pki.Roots(), Intermediates: inter},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) startIntermediary() {
	w.im = start(w.t, "intermediary", nil, "intermediary", "--listen", w.imAddr, "--data", filepath.Join(w.dir, "im"), "--test-pki", w.pkiDir)
	waitFor(w.t, "the intermediary", 30*time.Second, w.im.out.String, func() bool {
		c, err := net.Dial("tcp", w.imAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// gatewayConfig writes the configuration of one gateway instance.
func (w *world) gatewayConfig(instance string) (path, addr string) {
	addr = freeAddr(w.t)
	k := func(name, ext string) string { return filepath.Join(w.pkiDir, name+ext) }
	cfg := fmt.Sprintf(`data_dir: %s
instance: %s
log: {level: info}
http: {listen: %q}
encryption: {key_file: %s, generate: true}
%s
delivery:
  workers: 4
  call_timeout: 5s
  lease: 30s
  poll: 50ms
  drain_timeout: 5s
  retry: {initial: 100ms, max: 1s, max_attempts: 10000}
replies: {interval: 1h}
transport: {mode: osci, directory_file: %s}
osci:
  signer_cert: %s
  signer_key: %s
  cipher_cert: %s
  cipher_key: %s
  trust_roots: [%s]
sender:
  produkt: xagw-crashtest
  produkthersteller: xagw
  test: true
  kennung: "ozgev:000000000001"
  name: Online-Dienst (Crashtest)
  email: poststelle@online-dienst.example.org
  strasse: Musterallee
  hausnummer: "1"
  postleitzahl: "10117"
  ort: Berlin
clients: [{id: forms, token_env: CRASH_TOKEN}]
`, filepath.Join(w.dir, "gw-"+instance), instance, addr, filepath.Join(w.dir, "atrest.key"), w.dbLine, filepath.Join(w.dir, "dvdv.yaml"),
		k("sender-signature", ".cert.pem"), k("sender-signature", ".key.pem"), k("sender-cipher", ".cert.pem"), k("sender-cipher", ".key.pem"),
		filepath.Join(w.pkiDir, "ca-chain.pem"))
	path = filepath.Join(w.dir, instance+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path, addr
}

func (w *world) startGateway(cfg, addr string) *gwProc {
	g := &gwProc{proc: start(w.t, "serve", []string{"CRASH_TOKEN=" + w.token}, "serve", "--config", cfg), cfg: cfg, addr: addr}
	return g
}

func (w *world) ready(g *gwProc) bool {
	res, err := http.Get("http://" + g.addr + "/readyz")
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// post submits application i with its idempotency key, retrying while
// the gateway is down; a repeat after a lost answer returns the same id.
func (w *world) post(ctx context.Context, addrs func() []string, prefix string, i int) error {
	body := fmt.Sprintf(`{"recipient":{"abh":"000100"},"type":"130111","application":{"antragsidentifikation":"%s-%03d","rueckkanalVorhanden":true}}`, prefix, i)
	for {
		for _, a := range addrs() {
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+a+"/v1/messages", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+w.token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d", prefix, i))
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode == 202 {
					return nil
				}
				if res.StatusCode != 503 {
					return fmt.Errorf("post %d: %d %s", i, res.StatusCode, b)
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// delivered counts messages in state delivered, as seen by one gateway.
func (w *world) delivered(addr string) int {
	n, cursor := 0, ""
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/messages?status=delivered&limit=500&cursor="+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+w.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		var page struct {
			Messages   []json.RawMessage `json:"messages"`
			NextCursor string            `json:"next_cursor"`
		}
		json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		n += len(page.Messages)
		if page.NextCursor == "" {
			return n
		}
		cursor = page.NextCursor
	}
}

// recoveries counts, over all messages, the timeline entries that show a
// send whose outcome was open being resolved by process card, and the
// messages whose timeline has one.
func (w *world) recoveries(addr string) (events, messages int) {
	cursor := ""
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/messages?limit=500&cursor="+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+w.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			w.t.Fatal(err)
		}
		var page struct {
			Messages   []struct{ ID string } `json:"messages"`
			NextCursor string                `json:"next_cursor"`
		}
		json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		for _, m := range page.Messages {
			req, _ := http.NewRequest("GET", "http://"+addr+"/v1/messages/"+m.ID, nil)
			req.Header.Set("Authorization", "Bearer "+w.token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				w.t.Fatal(err)
			}
			var v struct {
				Timeline []struct{ Event string } `json:"timeline"`
			}
			json.NewDecoder(res.Body).Decode(&v)
			res.Body.Close()
			k := 0
			for _, e := range v.Timeline {
				if e.Event == "resolved_after_uncertain_send" {
					k++
				}
			}
			events += k
			if k > 0 {
				messages++
			}
		}
		if page.NextCursor == "" {
			return events, messages
		}
		cursor = page.NextCursor
	}
}

// mailbox fetches everything in the ABH's mailbox and counts deliveries per
// antragsidentifikation.
func (w *world) mailbox(ctx context.Context) map[string]int {
	counts := map[string]int{}
	for {
		f, err := w.abh.FetchDelivery(ctx, osci.FetchSelection{})
		if errors.Is(err, osci.ErrNoDelivery) {
			return counts
		}
		if err != nil {
			w.t.Fatalf("ABH fetch: %v", err)
		}
		var data []byte
		if len(f.Containers) > 0 && len(f.Containers[0].Contents) > 0 {
			data = f.Containers[0].Contents[0].Data
		}
		f.Close()
		m, err := xauslaender.Parse(data)
		if err != nil {
			w.t.Fatalf("ABH received an unreadable message: %v", err)
		}
		counts[m.Header.Antragsidentifikation]++
	}
}

func checkExactlyOnce(t *testing.T, counts map[string]int, prefix string, n int) {
	t.Helper()
	total := 0
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		if counts[id] != 1 {
			t.Errorf("%s is in the ABH mailbox %d times", id, counts[id])
		}
		total += counts[id]
	}
	if total != n {
		t.Errorf("%d deliveries of %d messages", total, n)
	}
}

// 200 messages, the gateway killed with SIGKILL at random moments while
// it delivers and restarted; then every message is in the ABH's mailbox
// exactly once. Then the intermediary is down for a while: the backlog
// drains when it returns.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	w := newWorld(t, "")
	cfg, addr := w.gatewayConfig("gw-crash")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const n = 200
	var postErr error
	posted := make(chan struct{})
	go func() {
		defer close(posted)
		for i := 0; i < n; i++ {
			if err := w.post(ctx, func() []string { return []string{addr} }, "CRASH", i); err != nil {
				postErr = err
				return
			}
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	var logs []string
	for round := 0; round < 5; round++ {
		g := w.startGateway(cfg, addr)
		waitFor(t, "the gateway", 60*time.Second, g.out.String, func() bool { return w.ready(g) })
		time.Sleep(time.Duration(200+rng.IntN(1200)) * time.Millisecond)
		g.kill()
		kills++
		logs = append(logs, g.out.String())
	}
	g := w.startGateway(cfg, addr)
	waitFor(t, "the gateway", 60*time.Second, g.out.String, func() bool { return w.ready(g) })
	<-posted
	if postErr != nil {
		t.Fatal(postErr)
	}
	waitFor(t, "all messages delivered", 3*time.Minute, g.out.String, func() bool { return w.delivered(addr) == n })
	all := strings.Join(logs, "") + g.out.String()
	ev, msgs := w.recoveries(addr)
	t.Logf("%d SIGKILLs; %d restarts released leases of the killed run; %d messages (%d times) were found mid-send and resolved by process card",
		kills, strings.Count(all, "released leases"), msgs, ev)

	// The intermediary goes away: deliveries fail and back off; when it
	// is back, the backlog drains.
	w.im.kill()
	const m = 20
	for i := 0; i < m; i++ {
		if err := w.post(ctx, func() []string { return []string{addr} }, "DOWN", i); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	if d := w.delivered(addr); d != n {
		t.Fatalf("%d delivered while the intermediary was down", d-n)
	}
	w.startIntermediary()
	waitFor(t, "the backlog to drain", 2*time.Minute, g.out.String, func() bool { return w.delivered(addr) == n+m })
	g.stop(t)

	counts := w.mailbox(ctx)
	checkExactlyOnce(t, counts, "CRASH", n)
	checkExactlyOnce(t, counts, "DOWN", m)
	if len(counts) != n+m {
		t.Errorf("the mailbox holds %d distinct applications, want %d", len(counts), n+m)
	}
}

// Two gateway processes on one PostgreSQL database: messages posted to
// either are sent once. One instance's name is a prefix of the other's
// ("gw", "gw-b"): when "gw" restarts mid-way it releases only its own
// crashed run's leases, never the live ones of "gw-b" (security review
// finding 6; a prefix match freed them and two workers sent at once).
// Then "gw" is killed for good: its leased messages pass to "gw-b" once
// the leases expire, and nothing is lost.
func TestTwoInstancesOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary; skipped with -short")
	}
	dsn := testpg.DSN(t)
	w := newWorld(t, fmt.Sprintf("database: {driver: postgres, dsn: %q}", dsn))
	cfgA, addrA := w.gatewayConfig("gw")
	cfgB, addrB := w.gatewayConfig("gw-b")
	a, b := w.startGateway(cfgA, addrA), w.startGateway(cfgB, addrB)
	for _, g := range []*gwProc{a, b} {
		waitFor(t, "a gateway", 60*time.Second, g.out.String, func() bool { return w.ready(g) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const n = 100
	var aliveMu sync.Mutex
	alive := []string{addrA, addrB}
	addrs := func() []string {
		aliveMu.Lock()
		defer aliveMu.Unlock()
		return append([]string(nil), alive...)
	}
	var aLogs []string
	for i := 0; i < n; i++ {
		pick := addrs()
		if err := w.post(ctx, func() []string { return []string{pick[i%len(pick)]} }, "TWO", i); err != nil {
			t.Fatal(err)
		}
		switch i {
		case n / 3:
			// "gw" crashes and comes back while "gw-b" is delivering.
			aliveMu.Lock()
			alive = []string{addrB}
			aliveMu.Unlock()
			a.kill()
			aLogs = append(aLogs, a.out.String())
			a = w.startGateway(cfgA, addrA)
			waitFor(t, "gw after its restart", 60*time.Second, a.out.String, func() bool { return w.ready(a) })
			aliveMu.Lock()
			alive = []string{addrA, addrB}
			aliveMu.Unlock()
		case 2 * n / 3:
			a.kill() // its leased messages pass to gw-b once their leases expire
			aLogs = append(aLogs, a.out.String())
			aliveMu.Lock()
			alive = []string{addrB}
			aliveMu.Unlock()
		}
	}
	waitFor(t, "all messages delivered", 3*time.Minute, b.out.String, func() bool { return w.delivered(addrB) == n })
	ev, msgs := w.recoveries(addrB)
	t.Logf("%d messages (%d times) resolved by process card after gw was killed", msgs, ev)
	b.stop(t)
	// No worker of either instance had its lease taken away while it
	// held it: gw's restart did not touch gw-b's leases.
	for _, l := range append(aLogs, b.out.String()) {
		if k := strings.Count(l, "lease lost"); k > 0 {
			t.Errorf("%d state changes refused for a lost lease; a restart released another instance's live leases:\n%s", k, l)
		}
	}
	checkExactlyOnce(t, w.mailbox(ctx), "TWO", n)
}

func x509Pool(p *testpki.PKI) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.IssuingCA.Certificate)
	return pool
}

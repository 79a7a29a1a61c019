package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/samples"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeWithoutConfigExplainsWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, map[string]string{"XAGW_DATA_DIR": dir}, "serve")
	if code != 1 || !strings.Contains(stderr, "embedded default") || !strings.Contains(stderr, "transport.mode: none") {
		t.Fatalf("code=%d stderr=%s", code, stderr)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(p, []byte("http:\n  listen: 0.0.0.0:80\ndelivery:\n  workers: 0\n  lease: 1s\n"), 0o600)
	code, _, stderr := runCLI(t, nil, "serve", "--config", p)
	if code != 1 || !strings.Contains(stderr, "not a loopback address") || !strings.Contains(stderr, "delivery.lease") {
		t.Fatalf("code=%d stderr=%s", code, stderr)
	}
	if code, _, _ := runCLI(t, nil, "serve", "--config", p, "extra"); code != 2 {
		t.Fatalf("extra argument: %d", code)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// xagw serve in accept-only mode: real schemas from ../shared, a real
// SQLite file, real HTTP; a JSON application is validated, stored and
// visible; shutdown on cancellation is clean.
func TestServeAcceptOnly(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	cfg := fmt.Sprintf(`data_dir: data
http: {listen: %q}
encryption: {generate: true}
transport: {mode: none}
sender:
  produkt: xagw-test
  produkthersteller: xagw
  test: true
  kennung: "ozgev:000000000001"
  name: Online-Dienst (Test)
  email: poststelle@online-dienst.example.org
  strasse: Musterallee
  hausnummer: "7"
  postleitzahl: "10117"
  ort: Berlin
clients:
  - {id: forms, token_env: FORMS_TOKEN}
tenants:
  - {abh: "000100", name: STV Aalen, postal_codes: ["73430"]}
`, addr)
	p := filepath.Join(dir, "xagw.yaml")
	os.WriteFile(p, []byte(cfg), 0o600)
	env := map[string]string{"FORMS_TOKEN": "forms-token-0123456789"}

	if code, out, stderr := runCLI(t, env, "serve", "--config", p, "--check"); code != 0 || !strings.Contains(out, "configuration OK") {
		t.Fatalf("check: %d %s %s", code, out, stderr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	c := &cli{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}}
	done := make(chan int, 1)
	go func() { done <- run(ctx, c, []string{"serve", "--config", p}) }()
	base := "http://" + addr
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	body := `{"recipient":{"plz":"73430"},"type":"130111","application":{"antragsidentifikation":"APP-1","rueckkanalVorhanden":true}}`
	req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer forms-token-0123456789")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	var acc struct{ ID, Status, Recipient string }
	json.Unmarshal(b, &acc)
	if acc.Status != "accepted" || acc.Recipient != "000100" {
		t.Fatalf("%s", b)
	}
	// Invalid XML is refused with the schema's complaint.
	req, _ = http.NewRequest("POST", base+"/v1/messages", strings.NewReader(`<xauslaender:OZG.Ruecknahme.130111 xmlns:xauslaender="http://www.osci.de/xauslaender2611" produkt="p" produkthersteller="h" standard="XAusländer" version="26.11"><nachrichtenkopf.g2g/></xauslaender:OZG.Ruecknahme.130111>`))
	req.Header.Set("Authorization", "Bearer forms-token-0123456789")
	req.Header.Set("Content-Type", "application/xml")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 422 || !strings.Contains(string(b), "identifikation.nachricht") {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	// The benchmark application (fictitious person) posted as XML, valid
	// and with a broken element: its personal data must not reach the log.
	bundle, err := schemas.OpenDefault()
	if err != nil {
		t.Fatal(err)
	}
	smp, _ := samples.Lookup("antrag-erwerbstaetigkeit")
	antrag, err := smp.XML(bundle)
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`<(?:\w+:)?familienname>([^<]+)<`).FindSubmatch(antrag)
	if name == nil {
		t.Fatal("sample has no familienname")
	}
	broken := bytes.Replace(antrag, []byte("antragsdatum>"), []byte("antragsdatumX>"), 2)
	for i, body := range [][]byte{antrag, broken} {
		req, _ = http.NewRequest("POST", base+"/v1/messages?abh=000100", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer forms-token-0123456789")
		req.Header.Set("Content-Type", "application/xml")
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if want := []int{202, 422}[i]; res.StatusCode != want {
			t.Fatalf("body %d: status %d, want %d", i, res.StatusCode, want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if st, err := os.Stat(filepath.Join(dir, "data", "xagw.db")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("database file: %v", err)
	}
	if strings.Contains(stderr.String(), string(name[1])) {
		t.Fatalf("the applicant's name %q is in the log", name[1])
	}
	if !strings.Contains(stderr.String(), "delivery disabled") {
		t.Fatalf("no warning about disabled delivery:\n%s", stderr.String())
	}
}

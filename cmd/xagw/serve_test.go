package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/dvdv/dvdvtest"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
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

// xagw serve with no configuration: the embedded default delivers a JSON
// application into the local test ABH's mailbox over the real OSCI test
// intermediary, with generated keys, SQLite in the data folder and the
// development client's token.
func TestServeEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	env := map[string]string{"XAGW_DATA_DIR": dir, "XAGW_HTTP_LISTEN": addr, "XAGW_DELIVERY_POLL": "50ms"}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr lockedBuffer
	c := &cli{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}}
	done := make(chan int, 1)
	go func() { done <- run(ctx, c, []string{"serve"}) }()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d\n%s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	base := "http://" + addr
	waitReady(t, &stderr, base)
	tok, err := os.ReadFile(filepath.Join(dir, "dev-client.token"))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"recipient":{"plz":"73430"},"type":"130111","application":{"antragsidentifikation":"APP-1","rueckkanalVorhanden":true}}`
	req, _ := http.NewRequest("POST", base+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
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
	var acc struct{ ID string }
	json.Unmarshal(b, &acc)
	var st struct {
		Status        string `json:"status"`
		OSCIMessageID string `json:"osci_message_id"`
	}
	waitUntil(t, &stderr, "delivery to the test ABH", func() bool {
		req, _ := http.NewRequest("GET", base+"/v1/messages/"+acc.ID, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		json.NewDecoder(res.Body).Decode(&st)
		return st.Status == "delivered"
	})
	if st.OSCIMessageID == "" {
		t.Fatal("delivered without an OSCI message id")
	}
	for _, f := range []string{"embedded/pki/index.json", "embedded/dvdv.yaml", "embedded/intermediary.addr", "atrest.key", "xagw.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("embedded default did not create %s: %v", f, err)
		}
	}
	if strings.Contains(stderr.String(), strings.TrimSpace(string(tok))) {
		t.Fatal("the development token is in the log")
	}
}

// waitReady waits until the gateway at base answers /readyz with 200.
func waitReady(t *testing.T, log *lockedBuffer, base string) {
	t.Helper()
	waitUntil(t, log, "the gateway to come up", func() bool {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
}

func waitUntil(t *testing.T, log *lockedBuffer, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, log.String())
		}
		time.Sleep(50 * time.Millisecond)
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

// xagw serve with transport.mode osci: identities from PKCS#12 files (PIN
// from the environment), trust roots, a DVDV directory file and the
// gateway's own mailbox, all from the configuration; delivery into the ABH's
// mailbox at a real test intermediary (the interop pack's keys in
// ../shared/osci).
func TestServeOSCIMode(t *testing.T) {
	for _, dirMode := range []string{"file", "rest"} {
		t.Run(dirMode, func(t *testing.T) { serveOSCIMode(t, dirMode) })
	}
}

func serveOSCIMode(t *testing.T, dirMode string) {
	certs := filepath.Join(sharedpath.MustFind("osci"), "certs")
	pin, err := os.ReadFile(filepath.Join(certs, "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string) *keystore.Identity {
		id, err := keystore.LoadPKCS12File(filepath.Join(certs, name+".p12"), bytes.TrimSpace(pin))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	imSig, imCipher := load("osci_manager_signature_4096"), load("osci_manager_cipher_4096")
	roots, _ := keystore.CertPoolFromFiles(filepath.Join(certs, "pem", "governikus-test-ca-chain.pem"))
	im, err := intermediary.New(intermediary.Config{DataDir: t.TempDir(), Signer: imSig, Cipher: imCipher, Policy: &keystore.Policy{Roots: roots},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	isrv := httptest.NewServer(im)
	defer isrv.Close()

	dir := t.TempDir()
	uri, _ := dvdv.OZGServiceURI("26.11")
	f := &dvdvfile.File{Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{Name: "test", URL: isrv.URL, CipherCertificate: dvdvfile.InlineCert(imCipher.Certificate),
			SignatureCertificate: dvdvfile.InlineCert(imSig.Certificate)}},
		Organizations: []dvdvfile.Organization{{Key: "abh:000100", Name: "STV Aalen", Services: []dvdvfile.Service{{URI: uri, Intermediary: "test",
			CipherCertificate: dvdvfile.CertFile(filepath.Join(certs, "pem", "bob_cipher_4096.cert.pem"))}}}}}
	if err := f.WriteFile(filepath.Join(dir, "dvdv.yaml")); err != nil {
		t.Fatal(err)
	}
	directory := "transport: {mode: osci, directory_file: dvdv.yaml}"
	if dirMode == "rest" {
		// The same directory served by the fake DVDV2 server (intern
		// entry path, no client credential).
		backend, err := dvdvfile.Load(filepath.Join(dir, "dvdv.yaml"), dvdvfile.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		fake := dvdvtest.NewServer(backend, dvdvtest.Options{})
		defer fake.Close()
		directory = fmt.Sprintf("transport: {mode: osci}\ndvdv: {servers: [%q]}", fake.URL)
	}
	addr := freePort(t)
	cfg := fmt.Sprintf(`data_dir: data
http: {listen: %q}
encryption: {generate: true}
delivery: {poll: 50ms}
%s
osci:
  signer_p12: alice_signature_4096.p12
  cipher_p12: carol_cipher_4096.p12
  pin_env: TEST_OSCI_PIN
  trust_roots: [%s/pem/governikus-test-ca-chain.pem]
  home_url: %s
  home_cipher_cert: %s/pem/osci_manager_cipher_4096.cert.pem
  home_signature_cert: %s/pem/osci_manager_signature_4096.cert.pem
clients: [{id: forms, token_env: FORMS_TOKEN}]
`, addr, directory, certs, isrv.URL, certs, certs)
	// The gateway refuses key files others can read (the shared pack's
	// are read-only for everyone): a private copy, as an operator keeps it.
	for _, name := range []string{"alice_signature_4096.p12", "carol_cipher_4096.p12"} {
		b, err := os.ReadFile(filepath.Join(certs, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "xagw.yaml")
	os.WriteFile(p, []byte(cfg), 0o600)
	env := map[string]string{"FORMS_TOKEN": "forms-token-0123456789", "TEST_OSCI_PIN": string(bytes.TrimSpace(pin))}
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
	defer func() { cancel(); <-done }()
	base := "http://" + addr
	waitReady(t, &stderr, base)
	bundle, _ := schemas.OpenDefault()
	smp, _ := samples.Lookup("antrag-familiennachzug")
	antrag, err := smp.XML(bundle)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", base+"/v1/messages?abh=000100", bytes.NewReader(antrag))
	req.Header.Set("Authorization", "Bearer forms-token-0123456789")
	req.Header.Set("Content-Type", "application/xml")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 202 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	var acc struct{ ID string }
	json.Unmarshal(b, &acc)
	waitUntil(t, &stderr, "delivery", func() bool {
		req, _ := http.NewRequest("GET", base+"/v1/messages/"+acc.ID, nil)
		req.Header.Set("Authorization", "Bearer forms-token-0123456789")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var st struct{ Status string }
		json.NewDecoder(res.Body).Decode(&st)
		return st.Status == "delivered"
	})
}

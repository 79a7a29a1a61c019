package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv/dvdvtest"
	"github.com/xagw/xagw/internal/sharedpath"
)

// dvdvSetup writes the sample directory and the client credential as PEM
// files, and runs `xagw dvdv fake-server` on a loopback port.
func dvdvSetup(t *testing.T) (dir, dataFile, serverURL string) {
	t.Helper()
	pki, err := dvdvtest.SharedPKI()
	if err != nil {
		t.Fatal(err)
	}
	s, err := pki.NewSample("https://intermediary.example/osci")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	dataFile = filepath.Join(dir, "dvdv.yaml")
	if err := s.File.WriteFile(dataFile); err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(pki.Key())
	os.WriteFile(filepath.Join(dir, "client.pem"), append(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Client.Certificate.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...), 0o600)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{} // from serve_test.go
	c := &cli{Stdin: strings.NewReader(""), Stdout: out, Stderr: out, Getenv: os.Getenv}
	alice := filepath.Join(sharedpath.MustFind("osci/certs"), "pem", "alice_signature_4096.cert.pem")
	done := make(chan int)
	go func() { done <- serveFake(ctx, c, ln, dataFile, time.Hour, []string{alice}) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("fake-server exited with %d: %s", code, out.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "fake DVDV server on") {
		if time.Now().After(deadline) {
			t.Fatalf("fake server did not start: %s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "2 client certificates may obtain tokens") {
		t.Errorf("start message: %s", out.String())
	}
	return dir, dataFile, "http://" + ln.Addr().String() + "/dvdv2-backend"
}

func TestDVDVLookupAgainstFakeServer(t *testing.T) {
	dir, _, url := dvdvSetup(t)
	cert := filepath.Join(dir, "client.pem")

	code, stdout, stderr := runCLI(t, nil, "dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.11", "--server", url, "--client-cert", cert)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Route for abh:000100 (STV Aalen)",
		"service:                 http://www.osci.de/xauslaender2611/xauslaender2611OZGPORTALABH.wsdl",
		"intermediary:            https://intermediary.example/osci",
		`addressee cipher:        "ABH 000100 cipher", SHA-1 `,
		"OSCI scenario:           (not published by the directory)",
		"source:                  dvdv " + url,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	// JSON, with the office key checked against the code list.
	code, stdout, stderr = runCLI(t, map[string]string{envDVDVServers: url}, "dvdv", "lookup", "--abh", "000100", "--xa-version", "1.21.1", "--client-cert", cert, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var route map[string]any
	if err := json.Unmarshal([]byte(stdout), &route); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if route["organization"] != "abh:000100" || route["intermediaryUrl"] != "https://intermediary.example/osci" {
		t.Errorf("JSON route %v", route)
	}

	// No route: exit 1, the directory's words and a hint.
	code, _, stderr = runCLI(t, nil, "dvdv", "lookup", "--org", "abh:000110", "--xa-version", "26.11", "--server", url, "--client-cert", cert)
	if code != 1 || !strings.Contains(stderr, "no route for abh:000110") || !strings.Contains(stderr, "5005: Kein Dienst") || !strings.Contains(stderr, "Hint:") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	// Without a client certificate the intern path is used, which the fake
	// serves openly; with the extern path the refusal is explained.
	code, _, stderr = runCLI(t, nil, "dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.11", "--server", url, "--entry-path", "extern/standaloneauth/directory")
	if code != 1 || !strings.Contains(stderr, "authentication") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// The reference PKCS#12 credential, its PIN from the environment (never a
// flag), registered with the fake server by --client-cert.
func TestDVDVLookupWithPKCS12AndPINFromEnvironment(t *testing.T) {
	_, _, url := dvdvSetup(t)
	certs := sharedpath.MustFind("osci/certs")
	pin, _ := os.ReadFile(filepath.Join(certs, "PIN.txt"))
	p12 := filepath.Join(certs, "alice_signature_4096.p12")
	code, stdout, stderr := runCLI(t, map[string]string{envDVDVPIN: strings.TrimSpace(string(pin))},
		"dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.11", "--server", url, "--client-cert", p12)
	if code != 0 || !strings.Contains(stdout, "Route for abh:000100") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, map[string]string{envDVDVPIN: "wrong"},
		"dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.11", "--server", url, "--client-cert", p12)
	if code != 1 || !strings.Contains(stderr, "PIN") {
		t.Errorf("wrong PIN: exit %d: %s", code, stderr)
	}
}

func TestDVDVLookupFromFile(t *testing.T) {
	_, data, _ := dvdvSetup(t)
	code, stdout, stderr := runCLI(t, nil, "dvdv", "lookup", "--org", "abh:000100", "--xa-version", "1.21.1", "--file", data)
	if code != 0 || !strings.Contains(stdout, "OSCI scenario:           store") || !strings.Contains(stdout, "source:                  file "+data) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestDVDVUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dvdv"}, "usage:"},
		{[]string{"dvdv", "frobnicate"}, `unknown subcommand "frobnicate"`},
		{[]string{"dvdv", "lookup", "--service", "http://x.example/s.wsdl", "--server", "https://a.example"}, "--org or --abh is required"},
		{[]string{"dvdv", "lookup", "--org", "abh:000100", "--server", "https://a.example"}, "--service or --xa-version is required"},
		{[]string{"dvdv", "lookup", "--org", "000100", "--xa-version", "26.11"}, "has no prefix"},
		{[]string{"dvdv", "lookup", "--abh", "999999", "--xa-version", "26.11"}, "not in code list"},
		{[]string{"dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.x", "--server", "https://a.example"}, "not of the form"},
		{[]string{"dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.11", "--server", "https://a.example", "--file", "x.yaml"}, "not both"},
		{[]string{"dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.11", "--server", "http://dvdv.example.de"}, "plain http"},
		{[]string{"dvdv", "lookup", "--org", "abh:000100", "--xa-version", "26.11"}, "no DVDV server"},
		{[]string{"dvdv", "lookup", "--pin", "123456"}, "flag provided but not defined: -pin"},
		{[]string{"dvdv", "fake-server"}, "--data FILE is required"},
	} {
		code, _, stderr := runCLI(t, map[string]string{envDVDVServers: ""}, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/testpki"
)

// syncBuffer is a goroutine-safe output stream for a running command.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startIntermediary runs `xagw intermediary` in-process until stop is called
// and returns its URL.
func startIntermediary(t *testing.T, args ...string) (url string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errb := &syncBuffer{}, &syncBuffer{}
	c := &cli{Stdin: strings.NewReader(""), Stdout: out, Stderr: errb, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, c, append([]string{"intermediary", "--listen", "127.0.0.1:0"}, args...)) }()
	re := regexp.MustCompile(`listening on (http://\S+/)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("intermediary exited %d: %s", code, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("intermediary did not start: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("intermediary exit %d: %s", code, errb.String())
		}
		if strings.Contains(errb.String(), "Antrag") {
			t.Error("the intermediary logged message content")
		}
	}
}

// `xagw intermediary --test-pki` generates a test PKI, serves OSCI, and keeps
// deliveries across a restart.
func TestIntermediaryCommand(t *testing.T) {
	data, pkiDir := t.TempDir(), t.TempDir()
	url, stop := startIntermediary(t, "--data", data, "--test-pki", pkiDir, "--test-pki-bits", "2048")
	pki, err := testpki.Load(pkiDir)
	if err != nil {
		t.Fatal(err)
	}
	client := func(sig, cipher string) *osci.Client {
		c, err := osci.NewClient(osci.Config{URL: url, IntermediaryCipher: pki.Entity("intermediary-cipher").Certificate,
			IntermediarySignature: pki.Entity("intermediary-signature").Certificate, Signer: pki.Entity(sig).Identity(),
			Cipher: pki.Entity(cipher).Identity(), Policy: pki.Policy()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sender := client("sender-signature", "sender-cipher")
	id, err := sender.GetMessageID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	addressee := pki.Entity("addressee-cipher").Certificate
	_, err = sender.StoreDelivery(context.Background(), &osci.Delivery{MessageID: id, Subject: "130101", Addressee: addressee,
		Containers: []osci.ContentContainer{{Sign: true, EncryptFor: []*x509.Certificate{addressee}, Contents: []osci.Content{{Data: []byte("Antrag")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := os.Stat(filepath.Join(data, "intermediary.db")); err != nil {
		t.Fatal(err)
	}
	url2, stop2 := startIntermediary(t, "--data", data, "--test-pki", pkiDir)
	defer stop2()
	abh2, err := osci.NewClient(osci.Config{URL: url2, IntermediaryCipher: pki.Entity("intermediary-cipher").Certificate,
		IntermediarySignature: pki.Entity("intermediary-signature").Certificate, Signer: pki.Entity("addressee-signature").Identity(),
		Cipher: pki.Entity("addressee-cipher").Identity(), Policy: pki.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	f, err := abh2.FetchDelivery(context.Background(), osci.FetchSelection{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.DeliveryID() != id || string(f.Containers[0].Contents[0].Data) != "Antrag" {
		t.Fatalf("fetched %s %+v", f.DeliveryID(), f.Containers)
	}
}

func TestIntermediaryCommandUsage(t *testing.T) {
	if code, _, stderr := runCLI(t, nil, "intermediary", "--listen", "127.0.0.1:0"); code != 2 || !strings.Contains(stderr, "usage") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, map[string]string{envPIN: ""}, "intermediary", "--data", t.TempDir(), "--sig-key", "x.p12", "--cipher-key", "y.p12"); code != 2 || !strings.Contains(stderr, "no PIN") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

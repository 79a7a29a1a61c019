package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The make-run flow with an answering office: xagw serve on its embedded
// default delivers an application, xagw demo-abh fetches it from the test
// ABH's mailbox and answers with a signed Statusmeldung, and the gateway's
// mailbox poll brings the answer into the inbox, linked to the application.
func TestDemoABHAnswersEmbeddedGateway(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	env := map[string]string{"XAGW_DATA_DIR": dir, "XAGW_HTTP_LISTEN": addr, "XAGW_DELIVERY_POLL": "50ms", "XAGW_REPLIES_INTERVAL": "200ms"}
	var stderr lockedBuffer
	newCLI := func() *cli {
		return &cli{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return os.Getenv(k)
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	serveDone, abhDone := make(chan int, 1), make(chan int, 1)
	go func() { serveDone <- run(ctx, newCLI(), []string{"serve"}) }()
	defer func() {
		cancel()
		for name, ch := range map[string]chan int{"serve": serveDone, "demo-abh": abhDone} {
			select {
			case code := <-ch:
				if code != 0 {
					t.Errorf("%s exited %d\n%s", name, code, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop", name)
			}
		}
	}()
	base := "http://" + addr
	waitReady(t, &stderr, base)
	go func() { abhDone <- run(ctx, newCLI(), []string{"demo-abh", "--data", dir, "--poll", "100ms"}) }()

	tok, err := os.ReadFile(filepath.Join(dir, "dev-client.token"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, contentType, body string) (int, []byte) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	code, out, errOut := runCLI(t, nil, "example", "antrag-erwerbstaetigkeit")
	if code != 0 {
		t.Fatalf("xagw example: %d %s", code, errOut)
	}
	status, b := call("POST", "/v1/messages?abh=000100", "application/xml", out)
	if status != 202 {
		t.Fatalf("submit: %d %s", status, b)
	}
	var acc struct{ ID string }
	if err := json.Unmarshal(b, &acc); err != nil || acc.ID == "" {
		t.Fatalf("submit answer %s: %v", b, err)
	}
	type item struct {
		Kind      string `json:"kind"`
		MessageID string `json:"message_id"`
	}
	var inbox struct{ Items []item }
	waitUntil(t, &stderr, "the test ABH's answer in the inbox", func() bool {
		status, b := call("GET", "/v1/inbox", "", "")
		if status != 200 {
			return false
		}
		inbox.Items = nil
		json.Unmarshal(b, &inbox)
		for _, it := range inbox.Items {
			if it.MessageID == acc.ID {
				return true
			}
		}
		return false
	})
	for _, it := range inbox.Items {
		if it.MessageID == acc.ID && it.Kind != "statusmeldung" {
			t.Errorf("the answer to an application is a %q, want a statusmeldung", it.Kind)
		}
	}
}

func TestDemoABHWithoutGateway(t *testing.T) {
	code, _, stderr := runCLI(t, nil, "demo-abh", "--data", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "no embedded gateway") || !strings.Contains(stderr, "make run") {
		t.Fatalf("exit %d, stderr %q: want a hint to start the gateway first", code, stderr)
	}
}

package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/api"
	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/gateway/daemon"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/webhook"
	"github.com/xagw/xagw/internal/testpg"
)

const token = "daemon-test-token-0123456789"

// abhSignature stands for the DER of the ABH's signature certificate: the
// daemon's reply poller compares the verified signer of a reply with the
// certificate the DVDV route names (the OSCI layer verifies signatures).
var abhSignature = []byte("signature certificate of ABH 01001")

// signingRouter is the test directory with the ABH's signature certificate
// in its routes, as a DVDV entry publishes it.
type signingRouter struct{ *gatewaytest.Router }

func (r signingRouter) Route(ctx context.Context, authority, version string) (gateway.Route, error) {
	rt, err := r.Router.Route(ctx, authority, version)
	rt.AddresseeSig = abhSignature
	return rt, err
}

const hookSecret = "webhook-secret-0123456789"

type hookRecv struct {
	mu  sync.Mutex
	got []webhook.Payload
}

func (h *hookRecv) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if err := webhook.Verify([]byte(hookSecret), r.Header.Get(webhook.HeaderSignature), b, time.Now(), time.Minute); err != nil {
		http.Error(w, err.Error(), 401)
		return
	}
	var p webhook.Payload
	json.Unmarshal(b, &p)
	h.mu.Lock()
	h.got = append(h.got, p)
	h.mu.Unlock()
}

func (h *hookRecv) events() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.got {
		out = append(out, p.Event)
	}
	return out
}

func writeConfig(t *testing.T, dir, hookURL, extra string) string {
	p := filepath.Join(dir, "xagw.yaml")
	cfg := fmt.Sprintf(`data_dir: data
log: {level: debug}
http: {listen: "127.0.0.1:0", max_body_bytes: 1048576}
encryption: {generate: true}
delivery:
  workers: 2
  lease: 20s
  call_timeout: 2s
  poll: 20ms
  drain_timeout: 500ms
  retry: {initial: 10ms, max: 50ms, max_attempts: 5}
replies: {interval: 50ms}
transport: {mode: embedded}
clients:
  - {id: forms, token_env: TEST_TOKEN}
tenants:
  - {abh: "01001", ags: "01001000", name: ABH Flensburg, postal_codes: ["24937"]}
webhooks:
  - {id: forms, url: %q, secret_env: TEST_HOOK_SECRET}
%s`, hookURL, extra)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var getenv = func(k string) string {
	switch k {
	case "TEST_TOKEN":
		return token
	case "TEST_HOOK_SECRET":
		return hookSecret
	}
	return os.Getenv(k)
}

func post(t *testing.T, base string, body []byte) api.Accepted {
	req, _ := http.NewRequest("POST", base+"/v1/messages", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/xml")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var a api.Accepted
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 202 {
		t.Fatalf("%d %s", res.StatusCode, b)
	}
	json.Unmarshal(b, &a)
	return a
}

func get(t *testing.T, base, path string, v any) int {
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if v != nil {
		json.Unmarshal(b, v)
	}
	return res.StatusCode
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The whole phase-1 flow through the assembled daemon over loopback HTTP:
// post → validated → stored → delivered (test transport) → reply in the
// mailbox → inbox → webhook; then a restart on the same data folder.
func TestDaemonFlowAndRestart(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			extra := ""
			if driver == "postgres" {
				extra = fmt.Sprintf("database: {driver: postgres, dsn: %q}\n", testpg.DSN(t))
			}
			dir := t.TempDir()
			recv := &hookRecv{}
			hooks := httptest.NewServer(recv)
			defer hooks.Close()
			cfgPath := writeConfig(t, dir, hooks.URL, extra)
			cfg, err := config.Load(cfgPath, getenv)
			if err != nil {
				t.Fatal(err)
			}
			tr, mb, codec := gatewaytest.NewTransport(), gatewaytest.NewMailbox(), &gatewaytest.Codec{}
			router := signingRouter{gatewaytest.NewRouter("http://127.0.0.1:1", "01001")}
			deps := daemon.Deps{Codec: codec, ReplyParser: codec, Router: router, Transport: tr, Mailbox: mb}
			logs := &gatewaytest.LogBuffer{}

			start := func() (*daemon.Daemon, string, func()) {
				d, err := daemon.New(context.Background(), cfg, deps, logs.Logger(), getenv)
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Listen(); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- d.Run(ctx) }()
				base := "http://" + d.Addr().String()
				eventually(t, "readiness", func() bool { return get(t, base, "/readyz", nil) == 200 })
				return d, base, func() {
					cancel()
					if err := <-done; err != nil {
						t.Errorf("run: %v", err)
					}
					d.Close()
				}
			}

			_, base, stop := start()
			uuid := store.NewID()
			acc := post(t, base, gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: "APP-1", MessageUUID: uuid, FamilyName: "Sonnenfeldt"}))
			eventually(t, "delivery", func() bool {
				var v api.MessageView
				get(t, base, "/v1/messages/"+acc.ID, &v)
				return v.Status == "delivered"
			})
			mb.Put(gateway.Incoming{MessageID: "reply-1", SignerCert: abhSignature, Content: gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", Author: "01001", ApplicationID: "APP-1", TriggerUUID: uuid})})
			var inbox api.InboxList
			eventually(t, "reply in the inbox", func() bool {
				get(t, base, "/v1/inbox", &inbox)
				return len(inbox.Items) == 1
			})
			if inbox.Items[0].MessageID != acc.ID || inbox.Items[0].Kind != "statusmeldung" {
				t.Fatalf("%+v", inbox.Items[0])
			}
			eventually(t, "webhooks", func() bool { return len(recv.events()) == 2 })
			if ev := strings.Join(recv.events(), ","); !strings.Contains(ev, "message.delivered") || !strings.Contains(ev, "reply.received") {
				t.Fatalf("webhooks %s", ev)
			}
			// A message accepted while delivery cannot proceed survives a
			// restart and is delivered afterwards.
			tr.Script(gatewaytest.OpNewMessageID, gatewaytest.Fault{Block: make(chan struct{})})
			acc2 := post(t, base, gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: "APP-2"}))
			stop()

			_, base, stop = start()
			defer stop()
			eventually(t, "delivery after restart", func() bool {
				var v api.MessageView
				get(t, base, "/v1/messages/"+acc2.ID, &v)
				return v.Status == "delivered"
			})
			var m api.MessageView
			get(t, base, "/v1/messages/"+acc.ID, &m)
			if m.Status != "delivered" || len(m.Replies) != 1 {
				t.Fatalf("after restart: %+v", m)
			}
			if strings.Contains(logs.String(), "Sonnenfeldt") || strings.Contains(logs.String(), token) {
				t.Fatal("personal data or token in the daemon's logs")
			}
		})
	}
}

func TestNoTransportFailsClearly(t *testing.T) {
	cfg, err := config.Load("", getenv)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	_, err = daemon.New(context.Background(), cfg, daemon.Deps{Codec: &gatewaytest.Codec{}}, nil, getenv)
	if !errors.Is(err, daemon.ErrNoTransport) || !strings.Contains(err.Error(), "embedded") {
		t.Fatalf("%v", err)
	}
}

func TestEmbeddedDefaultCreatesKeyAndDevClient(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Load("", func(k string) string {
		if k == "XAGW_DATA_DIR" {
			return dir
		}
		if k == "XAGW_HTTP_LISTEN" {
			return "127.0.0.1:0"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &gatewaytest.LogBuffer{}
	d, err := daemon.New(context.Background(), cfg, daemon.Deps{Codec: &gatewaytest.Codec{}, Router: gatewaytest.NewRouter("x"), Transport: gatewaytest.NewTransport()}, logs.Logger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, f := range []string{"atrest.key", "dev-client.token", "xagw.db"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, err, st)
		}
	}
	tok, _ := os.ReadFile(filepath.Join(dir, "dev-client.token"))
	if strings.Contains(logs.String(), strings.TrimSpace(string(tok))) {
		t.Fatal("dev token logged")
	}
	// A restart with a different key must refuse the existing database.
	os.WriteFile(filepath.Join(dir, "other.key"), []byte(strings.Repeat("ab", 32)), 0o600)
	d.Store().Accept(context.Background(), store.NewMessage{ClientID: "dev", RequestHash: "h", Recipient: "1", TypeCode: "130101", Version: "26.11", MessageUUID: "u",
		Blobs: []store.Blob{{Part: store.PartBody, KeyID: "kdeadbeef", Data: []byte("x")}}}, time.Now())
	d.Close()
	if _, err := daemon.New(context.Background(), cfg, daemon.Deps{Codec: &gatewaytest.Codec{}, Router: gatewaytest.NewRouter("x"), Transport: gatewaytest.NewTransport()}, nil, nil); err == nil || !strings.Contains(err.Error(), "kdeadbeef") {
		t.Fatalf("missing key not detected: %v", err)
	}
}

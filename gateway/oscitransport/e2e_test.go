package oscitransport_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/api"
	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/gateway/daemon"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/gateway/webhook"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/internal/testpg"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// The interop pack's identities (../shared/osci/certs, PIN 123456), loaded
// once per test binary: 4096-bit RSA keys are slow to decode.
var (
	idMu sync.Mutex
	ids  = map[string]*keystore.Identity{}
)

func identity(t testing.TB, name string) *keystore.Identity {
	t.Helper()
	idMu.Lock()
	defer idMu.Unlock()
	if id, ok := ids[name]; ok {
		return id
	}
	dir := filepath.Join(sharedpath.MustFind("osci"), "certs")
	pin, err := os.ReadFile(filepath.Join(dir, "PIN.txt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := keystore.LoadPKCS12File(filepath.Join(dir, name+".p12"), bytes.TrimSpace(pin))
	if err != nil {
		t.Fatal(err)
	}
	ids[name] = id
	return id
}

func policy(t testing.TB) *keystore.Policy {
	pool, err := keystore.CertPoolFromFiles(filepath.Join(sharedpath.MustFind("osci"), "certs", "pem", "governikus-test-ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &keystore.Policy{Roots: pool}
}

var quiet = slog.New(slog.DiscardHandler)

// Roles: the intermediary (osci_manager), the gateway (signs with alice,
// receives with carol), the ABH (receives with bob, signs with alice: the
// pack has one signature identity; its DVDV entry names alice as the ABH's
// signature certificate, so replies signed by anyone else are unverified).
type world struct {
	im      *intermediary.Intermediary
	srv     *httptest.Server
	dir     dvdv.Directory
	gateway *oscitransport.Transport
	abh     *osci.Client
	home    *osci.Client // the gateway's own mailbox
	bundle  *schemas.Bundle
}

func newWorld(t *testing.T) *world {
	w := &world{}
	var err error
	w.im, err = intermediary.New(intermediary.Config{DataDir: t.TempDir(), Signer: identity(t, "osci_manager_signature_4096"),
		Cipher: identity(t, "osci_manager_cipher_4096"), Policy: policy(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w.srv = httptest.NewServer(w.im)
	t.Cleanup(func() { w.srv.Close(); w.im.Close() })

	uri, _ := dvdv.OZGServiceURI("26.11")
	w.dir, err = dvdvfile.New(&dvdvfile.File{Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{Name: "local", URL: w.srv.URL,
			CipherCertificate:    dvdvfile.InlineCert(identity(t, "osci_manager_cipher_4096").Certificate),
			SignatureCertificate: dvdvfile.InlineCert(identity(t, "osci_manager_signature_4096").Certificate)}},
		Organizations: []dvdvfile.Organization{{Key: "abh:000100", Name: "STV Aalen", Services: []dvdvfile.Service{
			{URI: uri, Intermediary: "local", CipherCertificate: dvdvfile.InlineCert(identity(t, "bob_cipher_4096").Certificate),
				SignatureCertificate: dvdvfile.InlineCert(identity(t, "alice_signature_4096").Certificate)}}}},
	}, dvdvfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.gateway, err = oscitransport.New(oscitransport.Config{Signer: identity(t, "alice_signature_4096"), Cipher: identity(t, "carol_cipher_4096"), Policy: policy(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	w.home, err = w.gateway.Client(w.srv.URL, identity(t, "osci_manager_cipher_4096").Certificate.Raw, identity(t, "osci_manager_signature_4096").Certificate.Raw)
	if err != nil {
		t.Fatal(err)
	}
	w.abh, err = osci.NewClient(osci.Config{URL: w.srv.URL, IntermediaryCipher: identity(t, "osci_manager_cipher_4096").Certificate,
		IntermediarySignature: identity(t, "osci_manager_signature_4096").Certificate, Signer: identity(t, "alice_signature_4096"),
		Cipher: identity(t, "bob_cipher_4096"), Policy: policy(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if w.bundle, err = schemas.OpenDefault(); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestTransportAgainstTheTestIntermediary(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	r, err := (&dvdvroute.Router{Directory: w.dir}).Route(ctx, "000100", "26.11")
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.gateway.NewMessageID(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	// Issued but not delivered: no card, so a resend would be safe.
	if c, err := w.gateway.ProcessCard(ctx, r, id); err != nil || c.Exists {
		t.Fatalf("card of an unused id: %+v %v", c, err)
	}
	content := []byte("<x>test</x>")
	s, err := w.gateway.Send(ctx, gateway.Outgoing{MessageID: id, Subject: "XAusländer 130101", Content: content, Route: r})
	if err != nil {
		t.Fatal(err)
	}
	if s.Card == nil || !s.Card.Exists || s.Card.Created.IsZero() {
		t.Fatalf("storeDelivery receipt without process card: %+v", s)
	}
	c, err := w.gateway.ProcessCard(ctx, r, id)
	if err != nil || !c.Exists {
		t.Fatalf("card after delivery: %+v %v", c, err)
	}
	// The intermediary accepts an id once: a second send is refused
	// permanently, which is what protects a resend race.
	_, err = w.gateway.Send(ctx, gateway.Outgoing{MessageID: id, Subject: "again", Content: content, Route: r})
	if err == nil || gateway.IsRetryable(err) {
		t.Fatalf("second storeDelivery with the same id: %v (retryable=%v)", err, gateway.IsRetryable(err))
	}
	// The ABH fetches and decrypts it.
	f, err := w.abh.FetchDelivery(ctx, osci.FetchSelection{MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.Containers[0].Contents[0].Data; !bytes.Equal(got, content) {
		t.Fatalf("ABH read %q", got)
	}
}

const token = "e2e-token-0123456789"
const hookSecret = "e2e-webhook-secret-0123456789"

// End to end over loopback: post an application to the daemon → validated
// (official XSDs) → routed (file DVDV) → delivered into the ABH's mailbox at
// the test intermediary → fetched and decrypted as the ABH would → the ABH's
// reply stored for the gateway → polled, verified, decrypted, linked → in
// the inbox and delivered to a webhook with a valid signature.
func TestEndToEnd(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			var hmu sync.Mutex
			var hooks []webhook.Payload
			hsrv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if err := webhook.Verify([]byte(hookSecret), r.Header.Get(webhook.HeaderSignature), b, time.Now(), time.Minute); err != nil {
					http.Error(rw, err.Error(), 401)
					return
				}
				var p webhook.Payload
				json.Unmarshal(b, &p)
				hmu.Lock()
				hooks = append(hooks, p)
				hmu.Unlock()
			}))
			defer hsrv.Close()

			db := ""
			if driver == "postgres" {
				db = fmt.Sprintf("database: {driver: postgres, dsn: %q}\n", testpg.DSN(t))
			}
			cfgText := fmt.Sprintf(`data_dir: %s
http: {listen: "127.0.0.1:0"}
encryption: {generate: true}
delivery: {workers: 2, lease: 2m, call_timeout: 20s, poll: 20ms, retry: {initial: 50ms, max: 200ms}}
replies: {interval: 100ms}
transport: {mode: embedded}
clients: [{id: forms, token_env: E2E_TOKEN}]
tenants: [{abh: "000100", name: STV Aalen, postal_codes: ["73430"]}]
webhooks: [{id: forms, url: %q, secret_env: E2E_HOOK, events: [reply.received]}]
%s`, t.TempDir(), hsrv.URL, db)
			getenv := func(k string) string {
				return map[string]string{"E2E_TOKEN": token, "E2E_HOOK": hookSecret}[k]
			}
			// The daemon takes its transport from Deps (built here as xagw
			// serve builds them); the mode only has to enable delivery.
			cfg, err := config.Parse([]byte(cfgText), "", getenv)
			if err != nil {
				t.Fatal(err)
			}
			codec, err := xacodec.New(w.bundle, samples.EVSender(w.bundle))
			if err != nil {
				t.Fatal(err)
			}
			logs := &gatewaytest.LogBuffer{}
			d, err := daemon.New(ctx, cfg, daemon.Deps{Codec: codec, ReplyParser: codec, Router: &dvdvroute.Router{Directory: w.dir},
				Transport: w.gateway, Mailbox: &oscitransport.Mailbox{Client: w.home}}, logs.Logger(), getenv)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Listen(); err != nil {
				t.Fatal(err)
			}
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- d.Run(rctx) }()
			defer func() { cancel(); <-done }()
			base := "http://" + d.Addr().String()

			smp, _ := samples.Lookup("antrag-erwerbstaetigkeit")
			antrag, err := smp.XML(w.bundle)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", base+"/v1/messages?plz=73430", bytes.NewReader(antrag))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/xml")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var acc api.Accepted
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 202 {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
			json.Unmarshal(b, &acc)

			getJSON := func(path string, v any) {
				req, _ := http.NewRequest("GET", base+path, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				json.NewDecoder(res.Body).Decode(v)
			}
			var msg api.MessageView
			waitFor(t, "delivery", func() bool {
				getJSON("/v1/messages/"+acc.ID, &msg)
				return msg.Status == "delivered" || msg.Status == "dead"
			})
			if msg.Status != "delivered" || msg.OSCIMessageID == "" {
				t.Fatalf("%+v", msg)
			}

			// The ABH fetches it from its mailbox as its case system would.
			f, err := w.abh.FetchDelivery(ctx, osci.FetchSelection{MessageID: msg.OSCIMessageID})
			if err != nil {
				t.Fatal(err)
			}
			got := f.Containers[0].Contents[0].Data
			sig := f.Containers[0].Signatures
			f.Close()
			if !bytes.Equal(got, antrag) {
				t.Fatal("the ABH received different bytes than were posted")
			}
			if len(sig) != 1 || sig[0].Err != nil || !sig[0].Signer.Equal(identity(t, "alice_signature_4096").Certificate) {
				t.Fatalf("content signature %+v", sig)
			}

			// The ABH answers with a Statusmeldung to the gateway's mailbox.
			in, err := xauslaender.Parse(got)
			if err != nil {
				t.Fatal(err)
			}
			status, err := xauslaender.FromJSON("130104", "", []byte(`{"status":{"code":"01"}}`))
			if err != nil {
				t.Fatal(err)
			}
			abhSender, err := samples.ABHSender(w.bundle)
			if err != nil {
				t.Fatal(err)
			}
			if err := abhSender.PrepareReply(status, in); err != nil {
				t.Fatal(err)
			}
			reply, _ := xauslaender.Marshal(status)
			rid, err := w.abh.GetMessageID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			carol := identity(t, "carol_cipher_4096").Certificate
			if _, err := w.abh.StoreDelivery(ctx, &osci.Delivery{MessageID: rid, Subject: "XAusländer 130104", Addressee: carol,
				Containers: []osci.ContentContainer{{Sign: true, EncryptFor: []*x509.Certificate{carol}, Contents: []osci.Content{{Data: reply}}}}}); err != nil {
				t.Fatal(err)
			}
			var inbox api.InboxList
			waitFor(t, "reply in the inbox", func() bool { getJSON("/v1/inbox", &inbox); return len(inbox.Items) == 1 })
			it := inbox.Items[0]
			if it.Kind != "statusmeldung" || it.MessageID != acc.ID || it.OSCIMessageID != rid {
				t.Fatalf("%+v", it)
			}
			var item api.InboxItemView
			getJSON("/v1/inbox/"+it.ID, &item)
			if item.Content != string(reply) {
				t.Fatal("inbox content differs from the reply sent")
			}
			waitFor(t, "webhook", func() bool { hmu.Lock(); defer hmu.Unlock(); return len(hooks) == 1 })
			var rd webhook.ReplyData
			json.Unmarshal(hooks[0].Data, &rd)
			if rd.InboxID != it.ID || rd.MessageID != acc.ID || rd.Content != string(reply) {
				t.Fatalf("webhook %+v", rd)
			}
			// Nothing but the reply was listed for the gateway's mailbox
			// (the delivery to the ABH is not ours to fetch).
			mreq, _ := http.NewRequest("GET", base+"/metrics", nil)
			mres, err := http.DefaultClient.Do(mreq)
			if err != nil {
				t.Fatal(err)
			}
			mb, _ := io.ReadAll(mres.Body)
			mres.Body.Close()
			if strings.Contains(string(mb), "xagw_replies_failures_total{") {
				t.Fatalf("mailbox failures:\n%s", mb)
			}
			if !strings.Contains(string(mb), `xagw_replies_stored_total{kind="statusmeldung"} 1`) {
				t.Fatalf("reply not counted:\n%s", mb)
			}
			name := "familienname>"
			if i := bytes.Index(antrag, []byte(name)); i > 0 {
				v := antrag[i+len(name):]
				v = v[:bytes.IndexByte(v, '<')]
				if strings.Contains(logs.String(), string(v)) {
					t.Fatalf("the applicant's name %q is in the log", v)
				}
			}
		})
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

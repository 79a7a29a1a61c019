package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/api"
	"github.com/xagw/xagw/gateway/config"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
)

const (
	tokenA     = "token-client-a-0123456789"
	tokenB     = "token-client-b-0123456789"
	tokenAdmin = "token-admin-0123456789"
)

type harness struct {
	t      testing.TB
	s      *store.Store
	o      *outbox.Outbox
	tr     *gatewaytest.Transport
	mb     *gatewaytest.Mailbox
	poller *replies.Poller
	srv    *httptest.Server
	api    *api.Server
	logs   *gatewaytest.LogBuffer
	ready  error
}

func newHarness(t testing.TB, s *store.Store, tlsServer bool, certClients ...store.Client) *harness {
	h := &harness{t: t, s: s, tr: gatewaytest.NewTransport(), mb: gatewaytest.NewMailbox(), logs: &gatewaytest.LogBuffer{}}
	log := h.logs.Logger()
	keys := gatewaytest.Keyring(t)
	codec := &gatewaytest.Codec{}
	reg := metrics.NewRegistry()
	var err error
	h.o, err = outbox.New(outbox.Config{Store: s, Keys: keys, Codec: codec, Router: gatewaytest.NewRouter("http://127.0.0.1:1", "01001", "02002", "03003"),
		Transport: h.tr, Logger: log, Metrics: reg, CallTimeout: time.Second, Lease: 30 * time.Second, Poll: 10 * time.Millisecond,
		Retry: outbox.Policy{Initial: time.Millisecond, Max: time.Millisecond, MaxAttempts: 3}})
	if err != nil {
		t.Fatal(err)
	}
	h.poller, err = replies.New(replies.Config{Store: s, Keys: keys, Mailbox: h.mb, Parser: codec, Logger: log, Metrics: reg, Signers: abhSigners{}})
	if err != nil {
		t.Fatal(err)
	}
	clients := append([]store.Client{
		{ID: "a", TokenSHA256: config.TokenHash(tokenA)},
		{ID: "b", TokenSHA256: config.TokenHash(tokenB)},
		{ID: "ops", TokenSHA256: config.TokenHash(tokenAdmin), Admin: true},
	}, certClients...)
	if err := s.SyncClients(context.Background(), clients, time.Now()); err != nil {
		t.Fatal(err)
	}
	auth, err := api.LoadAuth(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	h.api, err = api.New(api.Config{Store: s, Outbox: h.o, Auth: auth, Logger: log, Metrics: reg, MaxBodyBytes: 64 << 10,
		Tenants: api.NewTenants([]api.Tenant{
			{ABH: "01001", AGS: "01001000", Name: "ABH Flensburg", PostalCodes: []string{"24937", "24939"}},
			{ABH: "02002", AGS: "02000000", Name: "ABH Hamburg", PostalCodes: []string{"20095", "22880"}},
			{ABH: "03003", Name: "ABH Wedel", PostalCodes: []string{"22880"}},
		}),
		Ready: map[string]func(context.Context) error{"workers": func(context.Context) error { return h.ready }}})
	if err != nil {
		t.Fatal(err)
	}
	if tlsServer {
		h.srv = httptest.NewUnstartedServer(h.api.Handler())
		h.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
		h.srv.StartTLS()
	} else {
		h.srv = httptest.NewServer(h.api.Handler())
	}
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.o.Run(ctx); close(done) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

type resp struct {
	code   int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.code, err, r.body)
	}
}

func (r resp) errCode(t *testing.T) string {
	var e api.ErrorBody
	r.json(t, &e)
	return e.Error.Code
}

func (h *harness) do(method, path, token, ctype string, body []byte, hdr ...string) resp {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func antrag(reader, app, name string) []byte {
	return gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: reader, ApplicationID: app, FamilyName: name, GivenName: "Erika"})
}

func waitStatus(t *testing.T, h *harness, id, token, want string) api.MessageView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v api.MessageView
		h.do("GET", "/v1/messages/"+id, token, "", nil).json(t, &v)
		if v.Status == want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %s, want %s", id, v.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubmitFollowDeliverAndNoPersonalDataInLogs(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		h := newHarness(t, s, false)
		const name = "Wolkenschieber-Ozturk"
		r := h.do("POST", "/v1/messages", tokenA, "application/xml", antrag("01001", "APP-1", name))
		if r.code != http.StatusAccepted {
			t.Fatalf("%d %s", r.code, r.body)
		}
		var acc api.Accepted
		r.json(t, &acc)
		if acc.ID == "" || acc.Status != "accepted" || acc.Recipient != "01001" || r.header.Get("Location") != "/v1/messages/"+acc.ID {
			t.Fatalf("%+v %v", acc, r.header)
		}
		// JSON application with the recipient by postal code.
		r = h.do("POST", "/v1/messages", tokenA, "application/json",
			[]byte(`{"recipient":{"plz":"24939"},"application":{"antragsidentifikation":"APP-2","familienname":"`+name+`","vorname":"Erika"}}`))
		if r.code != http.StatusAccepted {
			t.Fatalf("JSON: %d %s", r.code, r.body)
		}
		var acc2 api.Accepted
		r.json(t, &acc2)
		if acc2.Recipient != "01001" {
			t.Fatalf("plz resolved to %q", acc2.Recipient)
		}
		h.run()
		v := waitStatus(t, h, acc.ID, tokenA, "delivered")
		var evs []string
		for _, e := range v.Timeline {
			evs = append(evs, e.Event)
		}
		if strings.Join(evs, ",") != "accepted,routed,message_id_obtained,sending,stored_at_intermediary,receipt_confirmed,delivered" || v.OSCIMessageID == "" || v.DeliveredAt == nil {
			t.Fatalf("%+v", v)
		}
		waitStatus(t, h, acc2.ID, tokenA, "delivered")

		// Unauthenticated posts are refused and logged without their body.
		r = h.do("POST", "/v1/messages", "", "application/xml", antrag("01001", "APP-3", name))
		if r.code != 401 || r.errCode(t) != "unauthorized" || r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%d %s", r.code, r.body)
		}
		r = h.do("POST", "/v1/messages", "wrong-token", "application/xml", antrag("01001", "APP-3", name))
		if r.code != 401 {
			t.Fatalf("wrong token: %d", r.code)
		}
		logs := h.logs.String()
		if !strings.Contains(logs, "unauthenticated request") || !strings.Contains(logs, `"path":"/v1/messages"`) {
			t.Fatalf("401 not logged:\n%s", logs)
		}
		if strings.Contains(logs, name) || strings.Contains(logs, "Erika") || strings.Contains(logs, tokenA) {
			t.Fatalf("personal data or token in logs:\n%s", logs)
		}
	})
}

func TestValidationErrorsAnd4xx(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		h := newHarness(t, s, false)
		r := h.do("POST", "/v1/messages", tokenA, "application/xml", []byte(`<x xmlns="urn:wrong"><y/></x>`))
		var e struct {
			Error struct {
				Code    string            `json:"code"`
				Details []gateway.Problem `json:"details"`
			} `json:"error"`
		}
		r.json(t, &e)
		if r.code != 422 || e.Error.Code != "validation_failed" || len(e.Error.Details) < 2 || e.Error.Details[0].Message == "" {
			t.Fatalf("%d %s", r.code, r.body)
		}
		cases := []struct {
			name, ctype, path string
			body              []byte
			code              int
			errCode           string
		}{
			{"ambiguous plz", "application/json", "/v1/messages", []byte(`{"recipient":{"plz":"22880"},"application":{"antragsidentifikation":"A","familienname":"X"}}`), 422, "ambiguous_recipient"},
			{"unknown plz", "application/json", "/v1/messages", []byte(`{"recipient":{"plz":"99999"},"application":{"antragsidentifikation":"A","familienname":"X"}}`), 422, "unknown_recipient"},
			{"unknown abh", "application/xml", "/v1/messages?abh=77777", antrag("77777", "A", "X"), 422, "unknown_recipient"},
			{"leser differs", "application/xml", "/v1/messages?abh=02002", antrag("01001", "A", "X"), 422, "validation_failed"},
			{"two recipients", "application/json", "/v1/messages", []byte(`{"recipient":{"plz":"24939","abh":"01001"},"application":{}}`), 400, "invalid_request"},
			{"no recipient", "application/json", "/v1/messages", []byte(`{"application":{"antragsidentifikation":"A"}}`), 422, "validation_failed"},
			{"json field missing", "application/json", "/v1/messages", []byte(`{"recipient":{"abh":"01001"},"application":{"antragsidentifikation":"A"}}`), 422, "validation_failed"},
			{"malformed json", "application/json", "/v1/messages", []byte(`{"recipient":`), 400, "invalid_json"},
			{"unknown json field", "application/json", "/v1/messages", []byte(`{"recipient":{"abh":"01001"},"application":{},"extra":1}`), 400, "invalid_json"},
			{"text/plain", "text/plain", "/v1/messages", []byte("hello"), 415, "unsupported_media_type"},
			{"empty", "application/xml", "/v1/messages", nil, 400, "invalid_request"},
			{"too large", "application/xml", "/v1/messages", bytes.Repeat([]byte("x"), 65<<10), 413, "payload_too_large"},
			{"DTD", "application/xml", "/v1/messages", []byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`), 422, "validation_failed"},
		}
		for _, c := range cases {
			r := h.do("POST", c.path, tokenA, c.ctype, c.body)
			if r.code != c.code || r.errCode(t) != c.errCode {
				t.Errorf("%s: %d %s", c.name, r.code, r.body)
			}
		}
		var list api.MessageList
		h.do("GET", "/v1/messages", tokenAdmin, "", nil).json(t, &list)
		if len(list.Messages) != 0 {
			t.Fatalf("%d messages stored from invalid requests", len(list.Messages))
		}
		if r := h.do("GET", "/v1/nothing", tokenA, "", nil); r.code != 404 || r.errCode(t) != "not_found" {
			t.Fatalf("%d %s", r.code, r.body)
		}
		if r := h.do("DELETE", "/v1/messages", tokenA, "", nil); r.code != 405 || r.errCode(t) != "method_not_allowed" {
			t.Fatalf("%d %s", r.code, r.body)
		}
		if r := h.do("GET", "/v1/messages?status=bogus", tokenA, "", nil); r.code != 400 {
			t.Fatalf("%d", r.code)
		}
		if r := h.do("GET", "/v1/messages?limit=0", tokenA, "", nil); r.code != 400 {
			t.Fatalf("%d", r.code)
		}
		if r := h.do("POST", "/v1/messages", tokenA, "application/xml", antrag("01001", "A", "X"), "Idempotency-Key", "has space"); r.code != 400 {
			t.Fatalf("bad idempotency key: %d", r.code)
		}
	})
}

func TestIdempotencyKey(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		h := newHarness(t, s, false)
		body := antrag("01001", "A", "X")
		r1 := h.do("POST", "/v1/messages", tokenA, "application/xml", body, "Idempotency-Key", "order-42")
		r2 := h.do("POST", "/v1/messages", tokenA, "application/xml", body, "Idempotency-Key", "order-42")
		var a1, a2 api.Accepted
		r1.json(t, &a1)
		r2.json(t, &a2)
		if r2.code != 202 || a1.ID != a2.ID || !a2.IdempotentReplay || r2.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("%+v %+v", a1, a2)
		}
		r3 := h.do("POST", "/v1/messages", tokenA, "application/xml", antrag("01001", "B", "X"), "Idempotency-Key", "order-42")
		if r3.code != 409 || r3.errCode(t) != "idempotency_conflict" {
			t.Fatalf("%d %s", r3.code, r3.body)
		}
		// Keys are per client.
		r4 := h.do("POST", "/v1/messages", tokenB, "application/xml", body, "Idempotency-Key", "order-42")
		var a4 api.Accepted
		r4.json(t, &a4)
		if r4.code != 202 || a4.ID == a1.ID {
			t.Fatalf("%d %+v", r4.code, a4)
		}
	})
}

func TestClientsSeeOnlyTheirOwnAndListFilters(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		h := newHarness(t, s, false)
		var ids []string
		for i := 0; i < 5; i++ {
			var acc api.Accepted
			h.do("POST", "/v1/messages", tokenA, "application/xml", antrag("01001", fmt.Sprint("A", i), "X")).json(t, &acc)
			ids = append(ids, acc.ID)
		}
		if r := h.do("GET", "/v1/messages/"+ids[0], tokenB, "", nil); r.code != 404 {
			t.Fatalf("other client reads message: %d", r.code)
		}
		if r := h.do("POST", "/v1/messages/"+ids[0]+"/retry", tokenB, "", nil); r.code != 404 {
			t.Fatalf("other client retries message: %d", r.code)
		}
		if r := h.do("GET", "/v1/messages/"+ids[0], tokenAdmin, "", nil); r.code != 200 {
			t.Fatalf("admin: %d", r.code)
		}
		var got []string
		cursor := ""
		for {
			var page api.MessageList
			h.do("GET", "/v1/messages?status=accepted&limit=2&cursor="+cursor, tokenA, "", nil).json(t, &page)
			for _, m := range page.Messages {
				got = append(got, m.ID)
			}
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		sort.Strings(ids)
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("paged %v want %v", got, ids)
		}
		var none api.MessageList
		h.do("GET", "/v1/messages", tokenB, "", nil).json(t, &none)
		if len(none.Messages) != 0 {
			t.Fatal("client b lists client a's messages")
		}
		var dead api.MessageList
		h.do("GET", "/v1/messages?status=dead", tokenA, "", nil).json(t, &dead)
		if len(dead.Messages) != 0 {
			t.Fatal("status filter ignored")
		}
	})
}

func TestRetryDeadLetter(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		h := newHarness(t, s, false)
		h.tr.Script(gatewaytest.OpSend, gatewaytest.Fault{Err: &gatewaytest.FeedbackError{FeedbackCode: "9701", Text: "certificate invalid"}})
		var acc api.Accepted
		h.do("POST", "/v1/messages", tokenA, "application/xml", antrag("01001", "A", "X")).json(t, &acc)
		if r := h.do("POST", "/v1/messages/"+acc.ID+"/retry", tokenA, "", nil); r.code != 409 || r.errCode(t) != "not_retryable" {
			t.Fatalf("retry of a live message: %d %s", r.code, r.body)
		}
		h.run()
		v := waitStatus(t, h, acc.ID, tokenA, "dead")
		if v.LastError == nil || v.LastError.Code != "9701" {
			t.Fatalf("%+v", v.LastError)
		}
		var dead api.MessageList
		h.do("GET", "/v1/messages?status=dead", tokenA, "", nil).json(t, &dead)
		if len(dead.Messages) != 1 {
			t.Fatal("dead letter not listed")
		}
		if r := h.do("POST", "/v1/messages/"+acc.ID+"/retry", tokenA, "", nil); r.code != 202 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		waitStatus(t, h, acc.ID, tokenA, "delivered")
	})
}

func TestInboxReadAndAcknowledge(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		h := newHarness(t, s, false)
		uuid := store.NewID()
		var acc api.Accepted
		h.do("POST", "/v1/messages", tokenA, "application/xml",
			gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: "APP-7", MessageUUID: uuid})).json(t, &acc)
		reply := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130105", Reader: "ev", Author: "01001", ApplicationID: "APP-7", TriggerUUID: uuid})
		h.mb.Put(gateway.Incoming{MessageID: "reply-1", Content: reply, SignerCert: abhSignature})
		h.mb.Put(gateway.Incoming{MessageID: "reply-2", Content: []byte("not xml"), SignerCert: abhSignature})
		// The same reply signed by someone else: a forgery the API must not
		// show to the client or link to its application.
		forged := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130107", Reader: "ev", Author: "01001", ApplicationID: "APP-7", TriggerUUID: uuid})
		h.mb.Put(gateway.Incoming{MessageID: "reply-3", Content: forged, SignerCert: []byte("some other participant")})
		if _, err := h.poller.PollOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		var list api.InboxList
		h.do("GET", "/v1/inbox", tokenA, "", nil).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].Kind != "terminmitteilung" || list.Items[0].MessageID != acc.ID {
			t.Fatalf("%+v", list)
		}
		var other api.InboxList
		h.do("GET", "/v1/inbox", tokenB, "", nil).json(t, &other)
		if len(other.Items) != 0 {
			t.Fatal("client b sees a's reply")
		}
		var all api.InboxList
		h.do("GET", "/v1/inbox", tokenAdmin, "", nil).json(t, &all)
		if len(all.Items) != 3 || all.Items[1].Kind != "unparseable" || !strings.HasPrefix(all.Items[1].Problem, "invalid: xml") {
			t.Fatalf("admin inbox %+v", all)
		}
		if f := all.Items[2]; f.Kind != "unverified" || f.MessageID != "" {
			t.Fatalf("forged reply in the admin inbox: %+v, want kind unverified and no linked message", f)
		}
		var bad api.InboxItemView
		h.do("GET", "/v1/inbox/"+all.Items[1].ID, tokenAdmin, "", nil).json(t, &bad)
		if !strings.Contains(bad.ProblemDetail, "not well-formed") || bad.Content != "not xml" {
			t.Fatalf("unparseable item detail %+v", bad)
		}
		var item api.InboxItemView
		h.do("GET", "/v1/inbox/"+list.Items[0].ID, tokenA, "", nil).json(t, &item)
		if item.Content != string(reply) {
			t.Fatalf("content %q", item.Content)
		}
		var msg api.MessageView
		h.do("GET", "/v1/messages/"+acc.ID, tokenA, "", nil).json(t, &msg)
		if len(msg.Replies) != 1 || msg.Replies[0].ID != item.ID {
			t.Fatalf("replies on the message: %+v", msg.Replies)
		}
		if r := h.do("POST", "/v1/inbox/"+item.ID+"/ack", tokenB, "", nil); r.code != 404 {
			t.Fatalf("foreign ack: %d", r.code)
		}
		for i := 0; i < 2; i++ {
			if r := h.do("POST", "/v1/inbox/"+item.ID+"/ack", tokenA, "", nil); r.code != 200 {
				t.Fatalf("ack %d: %d %s", i, r.code, r.body)
			}
		}
		h.do("GET", "/v1/inbox", tokenA, "", nil).json(t, &list)
		if len(list.Items) != 0 {
			t.Fatal("acknowledged item still listed")
		}
		h.do("GET", "/v1/inbox?include_acknowledged=true", tokenA, "", nil).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].AckedAt == nil {
			t.Fatalf("%+v", list)
		}
	})
}

func TestZustaendigkeitHealthReadyMetrics(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		h := newHarness(t, s, false)
		var z api.Zustaendigkeit
		h.do("GET", "/v1/zustaendigkeit?plz=22880", tokenA, "", nil).json(t, &z)
		if len(z.Authorities) != 2 || z.Authorities[0].ABH != "02002" || z.Authorities[1].Name != "ABH Wedel" {
			t.Fatalf("%+v", z)
		}
		h.do("GET", "/v1/zustaendigkeit?plz=11111", tokenA, "", nil).json(t, &z)
		if z.Authorities == nil || len(z.Authorities) != 0 {
			t.Fatalf("%+v", z)
		}
		if r := h.do("GET", "/v1/zustaendigkeit?plz=abc", tokenA, "", nil); r.code != 400 {
			t.Fatalf("%d", r.code)
		}
		if r := h.do("GET", "/v1/zustaendigkeit?plz=22880", "", "", nil); r.code != 401 {
			t.Fatalf("unauthenticated PLZ check: %d", r.code)
		}
		if r := h.do("GET", "/healthz", "", "", nil); r.code != 200 {
			t.Fatalf("healthz %d", r.code)
		}
		if r := h.do("GET", "/readyz", "", "", nil); r.code != 200 {
			t.Fatalf("readyz %d %s", r.code, r.body)
		}
		h.ready = errors.New("delivery workers not running")
		if r := h.do("GET", "/readyz", "", "", nil); r.code != 503 || !strings.Contains(string(r.body), "workers not running") {
			t.Fatalf("readyz %d %s", r.code, r.body)
		}
		h.do("POST", "/v1/messages", tokenA, "application/xml", antrag("01001", "A", "X"))
		r := h.do("GET", "/metrics", "", "", nil)
		for _, want := range []string{`xagw_outbox_messages{state="accepted"} 1`, `xagw_http_requests_total{route="POST /v1/messages",code="202"} 1`,
			"xagw_outbox_accept_seconds_count 1", "xagw_http_unauthenticated_total 1"} {
			if !strings.Contains(string(r.body), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})
}

// Every served route is documented and every documented operation is served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	s, _ := store.Open(context.Background(), store.SQLite, t.TempDir()+"/x.db", store.Options{})
	defer s.Close()
	h := newHarness(t, s, false)
	served := map[string]bool{}
	for _, r := range h.api.Routes() {
		served[r.Method+" "+r.Path] = true
		if !documented[r.Method+" "+r.Path] {
			t.Errorf("route %s %s is not in openapi.yaml", r.Method, r.Path)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("openapi.yaml documents %s, which is not served", op)
		}
	}
	if r := h.do("GET", "/openapi.yaml", "", "", nil); r.code != 200 || !bytes.Equal(r.body, api.OpenAPI()) {
		t.Fatalf("served description differs: %d", r.code)
	}
}

func clientCert(t testing.TB) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "formserver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestMutualTLSClient(t *testing.T) {
	s, _ := store.Open(context.Background(), store.SQLite, t.TempDir()+"/x.db", store.Options{})
	defer s.Close()
	known, unknown := clientCert(t), clientCert(t)
	fp := sha256.Sum256(known.Certificate[0])
	h := newHarness(t, s, true, store.Client{ID: "mtls-client", CertSHA256: hex.EncodeToString(fp[:])})
	tr := h.srv.Client().Transport.(*http.Transport)
	for _, c := range []struct {
		cert tls.Certificate
		want int
	}{{known, 202}, {unknown, 401}} {
		tr.TLSClientConfig.Certificates = []tls.Certificate{c.cert}
		tr.CloseIdleConnections()
		r := h.do("POST", "/v1/messages", "", "application/xml", antrag("01001", "A", "X"))
		if r.code != c.want {
			t.Fatalf("want %d, got %d %s", c.want, r.code, r.body)
		}
	}
	var list api.MessageList
	h.do("GET", "/v1/messages", tokenAdmin, "", nil).json(t, &list)
	if len(list.Messages) != 1 {
		t.Fatalf("%d messages", len(list.Messages))
	}
}

// abhSignature stands for the DER of ABH 01001's signature certificate:
// the reply poller links a reply only if its verified signer is the one
// the DVDV names for the ABH (security review finding 2).
var abhSignature = []byte("signature certificate of ABH 01001")

type abhSigners struct{}

func (abhSigners) Route(_ context.Context, authority, _ string) (gateway.Route, error) {
	return gateway.Route{Authority: authority, AddresseeSig: abhSignature}, nil
}

package replies_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
)

// The ABHs' signature certificates as the DVDV publishes them. The poller
// compares DER bytes only (the OSCI layer verified the signature and the
// chain), so opaque bytes stand for the certificates here; the real
// signatures are checked in oscitransport's tests against the intermediary.
var (
	sig01001 = []byte("DER of the signature certificate of ABH 01001")
	sig02002 = []byte("DER of the signature certificate of ABH 02002")
	sigOther = []byte("DER of some other participant's signature certificate")
)

// dvdvSigners answers like the DVDV router: the route of an ABH names its
// signature certificate; an unknown ABH is a permanent error.
type dvdvSigners map[string][]byte

func (d dvdvSigners) Route(_ context.Context, authority, _ string) (gateway.Route, error) {
	for key, sig := range d {
		if outbox.SameAuthority(authority, key) {
			return gateway.Route{Authority: key, AddresseeSig: sig}, nil
		}
	}
	return gateway.Route{}, gateway.Permanent("no_service", errors.New("no service for "+authority))
}

func setup(t *testing.T, s *store.Store) (*outbox.Outbox, *gatewaytest.Mailbox, *replies.Poller, *gatewaytest.LogBuffer) {
	o, mb, p, logs, _ := setupWith(t, s, dvdvSigners{"01001": sig01001, "02002": sig02002})
	return o, mb, p, logs
}

func setupWith(t *testing.T, s *store.Store, signers gateway.Router) (*outbox.Outbox, *gatewaytest.Mailbox, *replies.Poller, *gatewaytest.LogBuffer, *metrics.Registry) {
	keys := gatewaytest.Keyring(t)
	codec := &gatewaytest.Codec{}
	o, err := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	mb := gatewaytest.NewMailbox()
	logs := &gatewaytest.LogBuffer{}
	reg := metrics.NewRegistry()
	p, err := replies.New(replies.Config{Store: s, Keys: keys, Mailbox: mb, Parser: codec, Logger: logs.Logger(), Signers: signers, Metrics: reg,
		Notify: func(ev, client string) []store.NewWebhook {
			return []store.NewWebhook{{Subscriber: "backend", Event: ev}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return o, mb, p, logs, reg
}

func submit(t *testing.T, o *outbox.Outbox, appID string) (*store.Message, string) {
	uuid := store.NewID()
	body := gatewaytest.Antrag(gatewaytest.AntragOptions{Reader: "01001", ApplicationID: appID, MessageUUID: uuid})
	r, err := o.Submit(context.Background(), outbox.Submission{ClientID: "c1", Format: outbox.FormatXML, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return r.Message, uuid
}

func TestRepliesAreLinkedStoredOnceAndQueuedForWebhooks(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		o, mb, p, logs := setup(t, s)
		orig, uuid := submit(t, o, "APP-1")
		other, _ := submit(t, o, "APP-2")

		status := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev:test", Author: "01001", ApplicationID: "APP-1", TriggerUUID: uuid, FamilyName: "Quellenberg"})
		mb.Put(gateway.Incoming{MessageID: "in-1", Content: status, ReceivedAt: time.Now(), SignerCert: sig01001})
		// No ausloeserUUID match: linked by antragsidentifikation.
		frage := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130102", Reader: "ev:test", Author: "01001", ApplicationID: "APP-2", TriggerUUID: "unknown-uuid"})
		mb.Put(gateway.Incoming{MessageID: "in-2", Content: frage, SignerCert: sig01001})
		mb.Put(gateway.Incoming{MessageID: "in-3", Content: []byte("<garbage"), SignerCert: sig01001})

		n, err := p.PollOnce(ctx)
		if err != nil || n != 3 {
			t.Fatalf("poll: %d %v", n, err)
		}
		if n, _ := p.PollOnce(ctx); n != 0 {
			t.Fatalf("second poll stored %d", n)
		}
		items, _, _ := s.ListInbox(ctx, store.InboxFilter{ClientID: "c1"})
		if len(items) != 2 {
			t.Fatalf("client sees %d items", len(items))
		}
		if items[0].Kind != "statusmeldung" || items[0].MessageID != orig.ID || items[1].Kind != "rueckkanal_frage" || items[1].MessageID != other.ID {
			t.Fatalf("items %+v %+v", items[0], items[1])
		}
		all, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
		if len(all) != 3 || all[2].Kind != store.KindUnparseable || all[2].ClientID != "" || all[2].Problem == "" {
			t.Fatalf("unparseable reply: %+v", all[2])
		}
		b, _ := s.Blob(ctx, items[0].ID, store.PartBody)
		if bytes.Contains(b.Data, []byte("Quellenberg")) {
			t.Fatal("reply stored in clear")
		}
		wh, _ := s.WebhookDeliveries(ctx, items[0].ID)
		if len(wh) != 1 || wh[0].Event != replies.EventReplyReceived {
			t.Fatalf("webhooks %+v", wh)
		}
		if bytes.Contains([]byte(logs.String()), []byte("Quellenberg")) {
			t.Fatal("personal data logged")
		}
	})
}

func TestFetchLostAfterMarkingReceivedIsFetchedAgain(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		o, mb, p, _ := setup(t, s)
		_, uuid := submit(t, o, "APP-1")
		mb.Put(gateway.Incoming{MessageID: "in-1", SignerCert: sig01001,
			Content: gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130105", Reader: "ev", Author: "01001", ApplicationID: "APP-1", TriggerUUID: uuid})})
		mb.FailFetch(errors.New("connection reset"))
		if _, err := p.PollOnce(ctx); err == nil {
			t.Fatal("lost fetch not reported")
		}
		if ids, _ := mb.Pending(ctx); len(ids) != 0 {
			t.Fatal("the mailbox still lists the delivery; the test would not show anything")
		}
		n, err := p.PollOnce(ctx)
		if err != nil || n != 1 {
			t.Fatalf("refetch: %d %v", n, err)
		}
		if mb.Fetched("in-1") != 2 {
			t.Fatalf("fetched %d times", mb.Fetched("in-1"))
		}
	})
}

func TestUnfetchableDeliveryBecomesUnreadableItem(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		_, mb, p, _ := setup(t, s)
		mb.Put(gateway.Incoming{MessageID: "bad-1", Content: []byte("x")})
		mb.Put(gateway.Incoming{MessageID: "bad-2", Content: []byte("x")})
		// bad-1: a permanent failure (e.g. signature does not verify); bad-2:
		// temporary failures until the attempts are used up.
		mb.FailFetch(gateway.Permanent("signature", errors.New("content signature does not verify")))
		var temp []error
		for i := 0; i < 12; i++ {
			temp = append(temp, errors.New("connection reset"))
		}
		mb.FailFetch(temp...)
		for i := 0; i < 12; i++ {
			p.PollOnce(ctx)
		}
		items, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
		if len(items) != 2 || items[0].Kind != store.KindUnreadable || items[1].Kind != store.KindUnreadable ||
			!strings.Contains(items[0].Problem, "signature") {
			t.Fatalf("%+v", items)
		}
		if mb.Fetched("bad-1") != 1 || mb.Fetched("bad-2") != 10 {
			t.Fatalf("fetched %d and %d times", mb.Fetched("bad-1"), mb.Fetched("bad-2"))
		}
		if pend, _ := s.PendingInbound(ctx, 10); len(pend) != 0 {
			t.Fatalf("still pending: %v", pend)
		}
	})
}

// A mediated answer signed by the ABH's signature certificate is linked to
// the message it answers, announced by webhook, and stored once however
// often it is handed over.
func TestMediatedResponseGoesToInbox(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		o, _, p, _ := setup(t, s)
		m, uuid := submit(t, o, "APP-9")
		m.OSCIMessageID = "osci-9"
		resp := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", Author: "01001", ApplicationID: "APP-9", TriggerUUID: uuid})
		for i := 0; i < 2; i++ {
			if err := p.MediatedResponse(ctx, m, outbox.Answer{Content: resp, SignerCert: sig01001}); err != nil {
				t.Fatal(err)
			}
		}
		r, _ := s.RepliesTo(ctx, m.ID)
		if len(r) != 1 || r[0].OSCIMessageID != "osci-9/response" || r[0].ClientID != m.ClientID || r[0].Kind != "statusmeldung" {
			t.Fatalf("%+v", r)
		}
		if wh, _ := s.WebhookDeliveries(ctx, r[0].ID); len(wh) != 1 {
			t.Fatalf("webhooks %+v", wh)
		}
	})
}

// The synchronous answer of a mediateDelivery comes back inside the
// intermediary's signed response to the gateway's own request, but the
// intermediary only relays what the endpoint it called returned. The same
// rule as for mailbox replies applies: linked only if its content is
// signed by the ABH's signature certificate (the message's route names it,
// else the DVDV does) and its autor is the message's recipient; otherwise
// kept as unverified, never dropped.
func TestMediatedResponseNotFromTheABHIsKeptUnverified(t *testing.T) {
	withRoute := func(sig []byte) []byte {
		b, _ := json.Marshal(gateway.Route{Authority: "01001", Scenario: gateway.ScenarioMediate, AddresseeURI: "http://127.0.0.1:2/abh", AddresseeSig: sig})
		return b
	}
	cases := []struct {
		name   string
		author string
		signer []byte
		route  []byte // nil: the route names no signature certificate, the DVDV's applies
		reason string // "" = linked
	}{
		{"signed by the route's certificate", "01001", sigOther, withRoute(sigOther), ""},
		{"signed by the DVDV's certificate", "01001", sig01001, withRoute(nil), ""},
		{"unsigned", "01001", nil, withRoute(sig01001), replies.ReasonUnsigned},
		{"signed by someone else", "01001", sigOther, withRoute(sig01001), replies.ReasonSignerMismatch},
		{"signed by the DVDV's certificate, not the route's", "01001", sig01001, withRoute(sigOther), replies.ReasonSignerMismatch},
		{"another ABH as itself", "02002", sig02002, withRoute(sig01001), replies.ReasonAuthorMismatch},
	}
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		o, _, p, logs, reg := setupWith(t, s, dvdvSigners{"01001": sig01001, "02002": sig02002})
		want := map[string]int{}
		for i, c := range cases {
			m, uuid := submit(t, o, fmt.Sprintf("APP-%d", i))
			m.OSCIMessageID, m.Route = fmt.Sprintf("osci-%d", i), c.route
			content := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130110", Reader: "ev", Author: c.author,
				ApplicationID: fmt.Sprintf("APP-%d", i), TriggerUUID: uuid, FamilyName: "Quellenberg"})
			if err := p.MediatedResponse(ctx, m, outbox.Answer{Content: content, SignerCert: c.signer}); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			linked, _ := s.RepliesTo(ctx, m.ID)
			all, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
			var it *store.InboxItem
			for _, x := range all {
				if x.OSCIMessageID == m.OSCIMessageID+"/response" {
					it = x
				}
			}
			if it == nil {
				t.Fatalf("%s: the answer was dropped", c.name)
			}
			wh, _ := s.WebhookDeliveries(ctx, it.ID)
			if c.reason == "" {
				if len(linked) != 1 || it.Kind != "beabsichtigte_ablehnung" || it.ClientID != m.ClientID || len(wh) != 1 {
					t.Errorf("%s: not linked: %+v, %d webhooks", c.name, it, len(wh))
				}
				continue
			}
			want[c.reason]++
			if len(linked) != 0 || it.Kind != store.KindUnverified || it.MessageID != "" || it.ClientID != "" ||
				it.Problem != "unverified: "+c.reason || len(wh) != 0 {
				t.Errorf("%s: %+v, %d linked, %d webhooks", c.name, it, len(linked), len(wh))
			}
			if b, err := o.Body(ctx, it.ID); err != nil || !bytes.Equal(b, content) {
				t.Errorf("%s: body not kept for operators: %v", c.name, err)
			}
		}
		var mt bytes.Buffer
		reg.Write(ctx, &mt)
		for reason, n := range want {
			if line := fmt.Sprintf("xagw_replies_unverified_total{reason=%q} %d\n", reason, n); !strings.Contains(mt.String(), line) {
				t.Errorf("metric %q missing:\n%s", line, mt.String())
			}
		}
		if strings.Count(logs.String(), "kept as unverified") != 4 || strings.Contains(logs.String(), "Quellenberg") {
			t.Fatalf("log:\n%s", logs.String())
		}
	})
}

// Finding 2 of the security review: anyone who knows the gateway's public
// cipher certificate can store into its mailbox. A delivery is linked to an
// application, shown to its client and announced by webhook only if it is
// signed by the signature certificate of the ABH the application went to
// and names that ABH as autor; everything else is kept for operators as
// "unverified".
func TestRepliesNotFromTheABHAreKeptUnverified(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		o, mb, p, logs, reg := setupWith(t, s, dvdvSigners{"01001": sig01001, "02002": sig02002})
		orig, uuid := submit(t, o, "APP-1")
		reply := func(author string) []byte {
			return gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130110", Reader: "ev:test", Author: author, ApplicationID: "APP-1",
				TriggerUUID: uuid, FamilyName: "Quellenberg"})
		}
		cases := []struct {
			id, reason string
			in         gateway.Incoming
		}{
			{"unsigned", replies.ReasonUnsigned, gateway.Incoming{Content: reply("01001")}},
			{"foreign-signer", replies.ReasonSignerMismatch, gateway.Incoming{Content: reply("01001"), SignerCert: sigOther}},
			{"other-abh-posing", replies.ReasonSignerMismatch, gateway.Incoming{Content: reply("01001"), SignerCert: sig02002}},
			{"other-abh-as-itself", replies.ReasonAuthorMismatch, gateway.Incoming{Content: reply("02002"), SignerCert: sig02002}},
		}
		for _, c := range cases {
			c.in.MessageID = c.id
			mb.Put(c.in)
		}
		n, err := p.PollOnce(ctx)
		if err != nil || n != len(cases) {
			t.Fatalf("poll: %d %v", n, err)
		}
		if mine, _, _ := s.ListInbox(ctx, store.InboxFilter{ClientID: orig.ClientID}); len(mine) != 0 {
			t.Fatalf("the client sees %d unverified items: %+v", len(mine), mine[0])
		}
		all, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
		if len(all) != len(cases) {
			t.Fatalf("kept %d of %d deliveries", len(all), len(cases))
		}
		byID := map[string]*store.InboxItem{}
		for _, it := range all {
			byID[it.OSCIMessageID] = it
		}
		for _, c := range cases {
			it := byID[c.id]
			if it == nil {
				t.Fatalf("%s not kept", c.id)
			}
			if it.OSCIMessageID != c.id || it.Kind != store.KindUnverified || it.MessageID != "" || it.ClientID != "" || it.Problem != "unverified: "+c.reason {
				t.Errorf("%s: %+v", c.id, it)
			}
			if wh, _ := s.WebhookDeliveries(ctx, it.ID); len(wh) != 0 {
				t.Errorf("%s: webhooks %+v", c.id, wh)
			}
			if b, err := o.Body(ctx, it.ID); err != nil || !bytes.Equal(b, c.in.Content) {
				t.Errorf("%s: body not kept for operators: %v", c.id, err)
			}
		}
		if r, _ := s.RepliesTo(ctx, orig.ID); len(r) != 0 {
			t.Fatalf("linked: %+v", r)
		}
		var m bytes.Buffer
		reg.Write(ctx, &m)
		for reason, want := range map[string]int{replies.ReasonUnsigned: 1, replies.ReasonSignerMismatch: 2, replies.ReasonAuthorMismatch: 1} {
			if line := fmt.Sprintf("xagw_replies_unverified_total{reason=%q} %d\n", reason, want); !strings.Contains(m.String(), line) {
				t.Errorf("metric %q missing:\n%s", line, m.String())
			}
		}
		if strings.Contains(m.String(), `xagw_replies_stored_total{kind="beabsichtigte_ablehnung"}`) {
			t.Error("unverified deliveries counted as replies")
		}
		if strings.Count(logs.String(), "kept as unverified") != len(cases) || strings.Contains(logs.String(), "Quellenberg") {
			t.Fatalf("log:\n%s", logs.String())
		}
	})
}

// A reply from the right ABH that matches no message is kept unlinked
// (operators only), as before; one from an ABH the DVDV does not know is
// unverified; a DVDV that cannot be reached is asked again at the next poll.
func TestReplySignerFromTheDVDV(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		signers := &flakySigners{dvdvSigners: dvdvSigners{"01001": sig01001}}
		_, mb, p, _, _ := setupWith(t, s, signers)
		mb.Put(gateway.Incoming{MessageID: "unlinked", SignerCert: sig01001,
			Content: gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", Author: "01001", ApplicationID: "NONE"})})
		mb.Put(gateway.Incoming{MessageID: "unknown-abh", SignerCert: sigOther,
			Content: gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", Author: "09009", ApplicationID: "NONE"})})
		signers.fail = 1
		n1, err := p.PollOnce(ctx)
		if err == nil || !strings.Contains(err.Error(), "DVDV") || n1 != 1 {
			t.Fatalf("an unreachable DVDV is not reported: %d %v", n1, err)
		}
		if n, err := p.PollOnce(ctx); err != nil || n != 1 {
			t.Fatalf("second poll: %d %v", n, err)
		}
		all, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
		if len(all) != 2 || all[0].OSCIMessageID != "unlinked" || all[0].Kind != "statusmeldung" || all[0].ClientID != "" ||
			all[1].Kind != store.KindUnverified || all[1].Problem != "unverified: "+replies.ReasonSignerUnknown {
			t.Fatalf("%+v %+v", all[0], all[1])
		}
	})
}

type flakySigners struct {
	dvdvSigners
	fail int
}

func (f *flakySigners) Route(ctx context.Context, authority, version string) (gateway.Route, error) {
	if f.fail > 0 {
		f.fail--
		return gateway.Route{}, gateway.Temporary("dvdv_unavailable", errors.New("connection refused"))
	}
	return f.dvdvSigners.Route(ctx, authority, version)
}

// The route stored with the message names the ABH's signature certificate
// at the time of sending; it wins over the DVDV's current entry.
func TestReplySignerFromTheStoredRoute(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		o, mb, p, _, _ := setupWith(t, s, dvdvSigners{"01001": sig01001})
		orig, uuid := submit(t, o, "APP-1")
		now := time.Now()
		claimed, err := s.Claim(ctx, "test/000000000001", now, time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		route, _ := json.Marshal(gateway.Route{Authority: "01001", AddresseeSig: sigOther})
		if err := s.Apply(ctx, orig.ID, "test/000000000001", now, store.Transition{State: store.StateRouted, Route: route}); err != nil {
			t.Fatal(err)
		}
		for id, sig := range map[string][]byte{"dvdv-signed": sig01001, "route-signed": sigOther} {
			mb.Put(gateway.Incoming{MessageID: id, SignerCert: sig,
				Content: gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", Author: "01001", ApplicationID: "APP-1", TriggerUUID: uuid})})
		}
		if n, err := p.PollOnce(ctx); err != nil || n != 2 {
			t.Fatalf("poll: %d %v", n, err)
		}
		linked, _ := s.RepliesTo(ctx, orig.ID)
		if len(linked) != 1 || linked[0].OSCIMessageID != "route-signed" || linked[0].Kind != "statusmeldung" {
			t.Fatalf("linked %+v", linked)
		}
	})
}

// A listing by date (DateLister) finds deliveries that someone else marked
// as received; the high-water mark moves with the listing and each
// delivery is stored once, however often it is listed.
func TestDateListingFromTheHighWaterMark(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		_, mb, _, _, _ := setupWith(t, s, dvdvSigners{"01001": sig01001})
		dl := &datedMailbox{Mailbox: mb, at: map[string]time.Time{}}
		p, err := replies.New(replies.Config{Store: s, Keys: gatewaytest.Keyring(t), Mailbox: dl, Parser: &gatewaytest.Codec{},
			Signers: dvdvSigners{"01001": sig01001}, ListOverlap: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		put := func(id string, at time.Time) {
			mb.Put(gateway.Incoming{MessageID: id, SignerCert: sig01001,
				Content: gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", Author: "01001", ApplicationID: "X"})})
			dl.at[id] = at
		}
		put("a", t0)
		put("b", t0.Add(time.Second))
		// Someone else fetched b: NoReception would never list it again.
		if _, err := mb.Fetch(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if n, err := p.PollOnce(ctx); err != nil || n != 2 {
			t.Fatalf("first poll: %d %v", n, err)
		}
		if dl.since[0] != (time.Time{}) {
			t.Fatalf("first listing from %v, want from the beginning", dl.since[0])
		}
		put("c", t0.Add(2*time.Second))
		if n, err := p.PollOnce(ctx); err != nil || n != 1 {
			t.Fatalf("second poll: %d %v", n, err)
		}
		if want := t0.Add(time.Second - time.Minute); !dl.since[1].Equal(want) {
			t.Fatalf("second listing from %v, want %v (mark minus overlap)", dl.since[1], want)
		}
		if n, err := p.PollOnce(ctx); err != nil || n != 0 {
			t.Fatalf("third poll: %d %v", n, err)
		}
		if mark, _ := s.MailboxCursor(ctx, "replies"); !mark.Equal(t0.Add(2 * time.Second)) {
			t.Fatalf("mark %v", mark)
		}
		all, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
		if len(all) != 3 {
			t.Fatalf("%d items", len(all))
		}
	})
}

// datedMailbox adds a listing by reception time to the test mailbox, the
// way an OSCI intermediary lists by ReceptionOfDelivery: fetched or not.
type datedMailbox struct {
	*gatewaytest.Mailbox
	at    map[string]time.Time
	since []time.Time
}

func (d *datedMailbox) ListReceivedSince(ctx context.Context, since time.Time) ([]string, time.Time, error) {
	d.since = append(d.since, since)
	var ids []string
	var newest time.Time
	for id, at := range d.at {
		if !at.Before(since) {
			ids = append(ids, id)
			if at.After(newest) {
				newest = at
			}
		}
	}
	return ids, newest, nil
}

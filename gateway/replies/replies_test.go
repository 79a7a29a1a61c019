package replies_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
)

func setup(t *testing.T, s *store.Store) (*outbox.Outbox, *gatewaytest.Mailbox, *replies.Poller, *gatewaytest.LogBuffer) {
	keys := gatewaytest.Keyring(t)
	codec := &gatewaytest.Codec{}
	o, err := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	mb := gatewaytest.NewMailbox()
	logs := &gatewaytest.LogBuffer{}
	p, err := replies.New(replies.Config{Store: s, Keys: keys, Mailbox: mb, Parser: codec, Logger: logs.Logger(),
		Notify: func(ev, client string) []store.NewWebhook {
			return []store.NewWebhook{{Subscriber: "backend", Event: ev}}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return o, mb, p, logs
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
		mb.Put(gateway.Incoming{MessageID: "in-1", Content: status, ReceivedAt: time.Now()})
		// No ausloeserUUID match: linked by antragsidentifikation.
		frage := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130102", Reader: "ev:test", Author: "01001", ApplicationID: "APP-2", TriggerUUID: "unknown-uuid"})
		mb.Put(gateway.Incoming{MessageID: "in-2", Content: frage})
		mb.Put(gateway.Incoming{MessageID: "in-3", Content: []byte("<garbage")})

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
		mb.Put(gateway.Incoming{MessageID: "in-1", Content: gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130105", Reader: "ev", ApplicationID: "APP-1", TriggerUUID: uuid})})
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

func TestMediatedResponseGoesToInbox(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		ctx := context.Background()
		o, _, p, _ := setup(t, s)
		m, uuid := submit(t, o, "APP-9")
		m.OSCIMessageID = "osci-9"
		resp := gatewaytest.Antrag(gatewaytest.AntragOptions{TypeCode: "130104", Reader: "ev", ApplicationID: "APP-9", TriggerUUID: uuid})
		for i := 0; i < 2; i++ {
			if err := p.MediatedResponse(ctx, m, resp); err != nil {
				t.Fatal(err)
			}
		}
		r, _ := s.RepliesTo(ctx, m.ID)
		if len(r) != 1 || r[0].OSCIMessageID != "osci-9/response" {
			t.Fatalf("%+v", r)
		}
	})
}

package oscitransport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// The passive-recipient scenarios through the outbox: a route saying
// "forward" pushes the application to the ABH's endpoint (acceptDelivery);
// a route saying "mediate" gets the ABH's synchronous answer.
//
// The answer travels inside the intermediary's signed response, but the
// intermediary only relays what the endpoint it called returned, so it is
// authenticated like a mailbox reply (security review finding 2): it lands
// in the inbox linked to the application only if its content container is
// signed by the ABH's signature certificate (the one the route names) and
// its autor is the ABH. A passive recipient that answers unsigned, or signed
// by another valid certificate, is kept as unverified: administrators only,
// not linked, no webhook, counted, logged without personal data. Every
// message is delivered either way.
func TestForwardAndMediateScenarios(t *testing.T) {
	ctx := context.Background()
	bundle, err := schemas.OpenDefault()
	if err != nil {
		t.Fatal(err)
	}
	abhSender, err := samples.ABHSender(bundle)
	if err != nil {
		t.Fatal(err)
	}
	mediatorSender := *abhSender
	if abhs, err := xauslaender.NewABHDirectory(bundle); err != nil {
		t.Fatal(err)
	} else if mediatorSender.Autor, err = abhs.Leser("000200"); err != nil {
		t.Skipf("ABH 000200 is not in the code list: %v", err)
	}
	// How the passive recipient answers the next mediated delivery.
	const (
		answerSigned   = "signed by the ABH"
		answerUnsigned = "unsigned"
		answerForeign  = "signed by someone else"
	)
	var mu sync.Mutex
	var accepted [][]byte
	mode := answerSigned
	abhSig := identity(t, "alice_signature_4096") // the ABH's signature identity, named by its DVDV entry
	foreignSig := identity(t, "osci_manager_signature_4096")
	recipient := func(signer *keystore.Identity) *osci.Recipient {
		rc, err := osci.NewRecipient(osci.RecipientConfig{Signer: signer, Cipher: identity(t, "bob_cipher_4096"),
			IntermediarySignature: identity(t, "osci_manager_signature_4096").Certificate, Logger: quiet,
			Accept: func(_ context.Context, o *osci.Opened) error {
				mu.Lock()
				defer mu.Unlock()
				accepted = append(accepted, append([]byte(nil), o.Containers[0].Contents[0].Data...))
				return nil
			},
			Process: func(_ context.Context, o *osci.Opened) (*osci.Delivery, error) {
				// The case system answers at once with a Statusmeldung.
				in, err := xauslaender.Parse(o.Containers[0].Contents[0].Data)
				if err != nil {
					return nil, err
				}
				status, _ := xauslaender.FromJSON("130104", "", []byte(`{"status":{"code":"01"}}`))
				// The mediating office answers as itself: a reply whose
				// autor is not the office the message went to is not linked.
				if err := mediatorSender.PrepareReply(status, in); err != nil {
					return nil, err
				}
				xml, _ := xauslaender.Marshal(status)
				carol := identity(t, "carol_cipher_4096").Certificate
				mu.Lock()
				sign := mode != answerUnsigned
				mu.Unlock()
				return &osci.Delivery{Subject: "Antwort", Containers: []osci.ContentContainer{{Sign: sign, EncryptFor: []*x509.Certificate{carol},
					Contents: []osci.Content{{Data: xml}}}}}, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	// The container signature is made with the recipient's own identity,
	// so "someone else" is a second recipient behind the same endpoint.
	asABH, asOther := recipient(abhSig), recipient(foreignSig)
	passive := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rc := asABH
		if mode == answerForeign {
			rc = asOther
		}
		mu.Unlock()
		rc.ServeHTTP(w, r)
	}))
	defer passive.Close()
	im, err := intermediary.New(intermediary.Config{DataDir: t.TempDir(), Signer: identity(t, "osci_manager_signature_4096"),
		Cipher: identity(t, "osci_manager_cipher_4096"), Policy: policy(t), Logger: quiet,
		Recipients: map[string]string{"urn:de:xagw:test:abh-forward": passive.URL, "urn:de:xagw:test:abh-mediate": passive.URL}})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	isrv := httptest.NewServer(im)
	defer isrv.Close()

	uri, _ := dvdv.OZGServiceURI("26.11")
	svc := func(scenario, addressee string) []dvdvfile.Service {
		return []dvdvfile.Service{{URI: uri, Intermediary: "im", Scenario: scenario, Addressee: addressee,
			CipherCertificate:    dvdvfile.InlineCert(identity(t, "bob_cipher_4096").Certificate),
			SignatureCertificate: dvdvfile.InlineCert(abhSig.Certificate)}}
	}
	dir, err := dvdvfile.New(&dvdvfile.File{Version: dvdvfile.FormatVersion,
		Intermediaries: []dvdvfile.Intermediary{{Name: "im", URL: isrv.URL, CipherCertificate: dvdvfile.InlineCert(identity(t, "osci_manager_cipher_4096").Certificate),
			SignatureCertificate: dvdvfile.InlineCert(identity(t, "osci_manager_signature_4096").Certificate)}},
		Organizations: []dvdvfile.Organization{
			{Key: "abh:000100", Name: "STV Aalen (forward)", Services: svc("forward", "urn:de:xagw:test:abh-forward")},
			{Key: "abh:000200", Name: "mediate", Services: svc("mediate", "urn:de:xagw:test:abh-mediate")},
		}}, dvdvfile.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := oscitransport.New(oscitransport.Config{Signer: identity(t, "alice_signature_4096"), Cipher: identity(t, "carol_cipher_4096"), Policy: policy(t), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, store.SQLite, filepath.Join(t.TempDir(), "gw.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	codec, _ := xacodec.New(bundle, nil)
	keys := gatewaytest.Keyring(t)
	logs := &gatewaytest.LogBuffer{}
	reg := metrics.NewRegistry()
	// No DVDV signer lookup (Config.Signers): the ABH's signature
	// certificate can come only from the route the message was sent along,
	// which the outbox hands over with the answer.
	poller, _ := replies.New(replies.Config{Store: s, Keys: keys, Parser: codec, Logger: logs.Logger(), Metrics: reg,
		Notify: func(ev, client string) []store.NewWebhook {
			return []store.NewWebhook{{Subscriber: "backend", Event: ev}}
		}})
	o, err := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: codec, Router: &dvdvroute.Router{Directory: dir}, Transport: tr,
		Poll: 20 * time.Millisecond, CallTimeout: 30 * time.Second, Lease: 3 * time.Minute, OnResponse: poller.MediatedResponse})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { o.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	delivered := func(id string) {
		t.Helper()
		waitFor(t, "delivery of "+id, func() bool { m, _ := s.Get(ctx, id); return m.State == store.StateDelivered })
	}

	smp, _ := samples.Lookup("antrag-familiennachzug")
	body, err := smp.XML(bundle)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := o.Submit(ctx, outbox.Submission{ClientID: "c", Format: outbox.FormatXML, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	delivered(fwd.Message.ID)
	mu.Lock()
	if len(accepted) != 1 || string(accepted[0]) != string(body) {
		t.Fatalf("forwarded: %d deliveries at the passive recipient", len(accepted))
	}
	mu.Unlock()

	// One message to the mediating office 000200 per way of answering,
	// one after the other (the mode is the recipient's behaviour).
	answered := map[string]*store.Message{}
	for i, how := range []string{answerSigned, answerUnsigned, answerForeign} {
		mu.Lock()
		mode = how
		mu.Unlock()
		res, err := o.Submit(ctx, outbox.Submission{ClientID: "c", Format: outbox.FormatXML, Body: mediateCopy(t, bundle, fmt.Sprintf("MED-%d", i+1))})
		if err != nil {
			t.Fatal(err)
		}
		delivered(res.Message.ID)
		answered[how], _ = s.Get(ctx, res.Message.ID)
	}

	all, _, _ := s.ListInbox(ctx, store.InboxFilter{All: true})
	byOSCI := map[string]*store.InboxItem{}
	for _, it := range all {
		byOSCI[it.OSCIMessageID] = it
	}
	if len(all) != 3 {
		t.Fatalf("%d inbox items, want one per mediated answer", len(all))
	}
	for how, m := range answered {
		it := byOSCI[m.OSCIMessageID+"/response"]
		if it == nil {
			t.Fatalf("%s: the answer was dropped", how)
		}
		linked, _ := s.RepliesTo(ctx, m.ID)
		wh, _ := s.WebhookDeliveries(ctx, it.ID)
		switch how {
		case answerSigned:
			if len(linked) != 1 || it.Kind != "statusmeldung" || it.ClientID != "c" || it.MessageID != m.ID || len(wh) != 1 {
				t.Errorf("%s: %+v, %d linked, %d webhooks", how, it, len(linked), len(wh))
			}
		default:
			reason := replies.ReasonUnsigned
			if how == answerForeign {
				reason = replies.ReasonSignerMismatch
			}
			if len(linked) != 0 || it.Kind != store.KindUnverified || it.Problem != "unverified: "+reason || it.ClientID != "" || it.MessageID != "" || len(wh) != 0 {
				t.Errorf("%s: %+v, %d linked, %d webhooks", how, it, len(linked), len(wh))
			}
			if b, err := o.Body(ctx, it.ID); err != nil || !bytes.Contains(b, []byte("Statusmeldung")) {
				t.Errorf("%s: the answer is not kept for operators: %v", how, err)
			}
		}
	}
	var mt bytes.Buffer
	reg.Write(ctx, &mt)
	for _, reason := range []string{replies.ReasonUnsigned, replies.ReasonSignerMismatch} {
		if line := fmt.Sprintf("xagw_replies_unverified_total{reason=%q} 1\n", reason); !strings.Contains(mt.String(), line) {
			t.Errorf("metric %q missing", line)
		}
	}
	// The foreign signer is named by its fingerprint, never by its subject.
	h := sha256.Sum256(foreignSig.Certificate.Raw)
	if l := logs.String(); strings.Count(l, "kept as unverified") != 2 || !strings.Contains(l, hex.EncodeToString(h[:])) ||
		strings.Contains(l, foreignSig.Certificate.Subject.CommonName) || strings.Contains(l, "Statusmeldung") {
		t.Fatalf("log:\n%s", l)
	}
}

// mediateCopy builds a small valid message (OZG.Ruecknahme) addressed to
// the mediating office 000200 with the online service's frame.
func mediateCopy(t *testing.T, bundle *schemas.Bundle, applicationID string) []byte {
	m, err := xauslaender.FromJSON("130111", "", []byte(`{"antragsidentifikation":"`+applicationID+`","rueckkanalVorhanden":true}`))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := xauslaender.NewABHDirectory(bundle)
	if err != nil {
		t.Fatal(err)
	}
	leser, err := dir.Leser("000200")
	if err != nil {
		t.Skipf("ABH 000200 is not in the code list: %v", err)
	}
	if err := samples.EVSender(bundle).Prepare(m, leser); err != nil {
		t.Fatal(err)
	}
	xml, err := xauslaender.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return xml
}

package oscitransport_test

import (
	"context"
	"crypto/x509"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/dvdv"
	"github.com/xagw/xagw/dvdv/dvdvfile"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// The passive-recipient scenarios through the outbox: a route saying
// "forward" pushes the application to the ABH's endpoint (acceptDelivery);
// a route saying "mediate" gets the ABH's synchronous answer, which lands in
// the inbox linked to the application.
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
	var mu sync.Mutex
	var accepted [][]byte
	rc, err := osci.NewRecipient(osci.RecipientConfig{Signer: identity(t, "alice_signature_4096"), Cipher: identity(t, "bob_cipher_4096"),
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
			// The mediating office answers as itself: a reply whose autor
			// is not the office the message went to is not linked.
			if err := mediatorSender.PrepareReply(status, in); err != nil {
				return nil, err
			}
			xml, _ := xauslaender.Marshal(status)
			carol := identity(t, "carol_cipher_4096").Certificate
			return &osci.Delivery{Subject: "Antwort", Containers: []osci.ContentContainer{{Sign: true, EncryptFor: []*x509.Certificate{carol},
				Contents: []osci.Content{{Data: xml}}}}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	passive := httptest.NewServer(rc)
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
			CipherCertificate: dvdvfile.InlineCert(identity(t, "bob_cipher_4096").Certificate)}}
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
	poller, _ := replies.New(replies.Config{Store: s, Keys: keys, Parser: codec})
	o, err := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: codec, Router: &dvdvroute.Router{Directory: dir}, Transport: tr,
		Poll: 20 * time.Millisecond, CallTimeout: 30 * time.Second, Lease: 3 * time.Minute, OnResponse: poller.MediatedResponse})
	if err != nil {
		t.Fatal(err)
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
	// The sample is addressed to 000100 (forward); a second message goes
	// to the mediating office 000200.
	medXML := mediateCopy(t, bundle)
	medRes, err := o.Submit(ctx, outbox.Submission{ClientID: "c", Format: outbox.FormatXML, Body: medXML})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { o.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "both deliveries", func() bool {
		a, _ := s.Get(ctx, fwd.Message.ID)
		b, _ := s.Get(ctx, medRes.Message.ID)
		return a.State == store.StateDelivered && b.State == store.StateDelivered
	})
	mu.Lock()
	if len(accepted) != 1 || string(accepted[0]) != string(body) {
		t.Fatalf("forwarded: %d deliveries at the passive recipient", len(accepted))
	}
	mu.Unlock()
	reps, err := s.RepliesTo(ctx, medRes.Message.ID)
	if err != nil || len(reps) != 1 || reps[0].Kind != "statusmeldung" {
		t.Fatalf("mediated answer in the inbox: %+v %v", reps, err)
	}
}

// mediateCopy builds a small valid message (OZG.Ruecknahme) addressed to
// the mediating office 000200 with the online service's frame.
func mediateCopy(t *testing.T, bundle *schemas.Bundle) []byte {
	m, err := xauslaender.FromJSON("130111", "", []byte(`{"antragsidentifikation":"MED-1","rueckkanalVorhanden":true}`))
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

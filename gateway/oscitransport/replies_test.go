package oscitransport_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/gateway/dvdvroute"
	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/metrics"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/gateway/outbox"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/xacodec"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// Security review findings 2 and 5 against the real intermediary: the
// gateway's mailbox accepts deliveries from any OSCI participant who knows
// its public cipher certificate, and any holder of the mailbox key (a second
// gateway instance, a support tool) can fetch from it.
//
//   - a reply signed by the ABH's DVDV signature certificate is linked;
//   - the reviewer's unsigned reply and a reply signed by another valid
//     certificate reach the inbox only as "unverified" (operators only);
//   - a reply that another client fetched first (which marks it received,
//     so a NoReception listing no longer shows it) is still ingested, once.
func TestMailboxRepliesAreAuthenticatedAndNotLost(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		w := newWorld(t)
		ctx := context.Background()
		codec, err := xacodec.New(w.bundle, samples.EVSender(w.bundle))
		if err != nil {
			t.Fatal(err)
		}
		keys := gatewaytest.Keyring(t)
		router := &dvdvroute.Router{Directory: w.dir}
		o, err := outbox.New(outbox.Config{Store: s, Keys: keys, Codec: codec, Router: router, Transport: w.gateway,
			Poll: 20 * time.Millisecond, CallTimeout: 30 * time.Second, Lease: 3 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		smp, _ := samples.Lookup("antrag-erwerbstaetigkeit")
		antrag, err := smp.XML(w.bundle)
		if err != nil {
			t.Fatal(err)
		}
		res, err := o.Submit(ctx, outbox.Submission{ClientID: "forms", Format: outbox.FormatXML, Body: antrag})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { o.Run(rctx); close(done) }()
		var orig *store.Message
		waitFor(t, "delivery", func() bool { orig, _ = s.Get(ctx, res.Message.ID); return orig.State == store.StateDelivered })
		cancel()
		<-done

		// The ABH's answer, as its case system builds it.
		in, err := xauslaender.Parse(antrag)
		if err != nil {
			t.Fatal(err)
		}
		abhSender, err := samples.ABHSender(w.bundle)
		if err != nil {
			t.Fatal(err)
		}
		reply := func() []byte {
			status, err := xauslaender.FromJSON("130104", "", []byte(`{"status":{"code":"01"}}`))
			if err != nil {
				t.Fatal(err)
			}
			if err := abhSender.PrepareReply(status, in); err != nil {
				t.Fatal(err)
			}
			b, err := xauslaender.Marshal(status)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		carol := identity(t, "carol_cipher_4096").Certificate
		put := func(c *osci.Client, sign bool, content []byte) string {
			t.Helper()
			id, err := c.GetMessageID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.StoreDelivery(ctx, &osci.Delivery{MessageID: id, Subject: "XAusländer 130104", Addressee: carol,
				Containers: []osci.ContentContainer{{Sign: sign, EncryptFor: []*x509.Certificate{carol}, Contents: []osci.Content{{Data: content}}}}}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		// Another OSCI participant: a valid certificate of the same PKI,
		// not the ABH's.
		mallory, err := osci.NewClient(osci.Config{URL: w.srv.URL, IntermediaryCipher: identity(t, "osci_manager_cipher_4096").Certificate,
			IntermediarySignature: identity(t, "osci_manager_signature_4096").Certificate, Signer: identity(t, "osci_manager_signature_4096"),
			Cipher: identity(t, "dave_cipher_4096"), Policy: policy(t), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		genuine := put(w.abh, true, reply())
		unsigned := put(mallory, false, reply())
		foreign := put(mallory, true, reply())
		taken := put(w.abh, true, reply())

		// A second holder of the gateway's keys fetches one reply first.
		second, err := osci.NewClient(osci.Config{URL: w.srv.URL, IntermediaryCipher: identity(t, "osci_manager_cipher_4096").Certificate,
			IntermediarySignature: identity(t, "osci_manager_signature_4096").Certificate, Signer: identity(t, "alice_signature_4096"),
			Cipher: identity(t, "carol_cipher_4096"), Policy: policy(t), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		f, err := second.FetchDelivery(ctx, osci.FetchSelection{MessageID: taken})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		mb := &oscitransport.Mailbox{Client: w.home}
		if ids, err := mb.Pending(ctx); err != nil || slices.Contains(ids, taken) || len(ids) != 3 {
			t.Fatalf("NoReception listing: %v %v (the fetched reply should be missing from it, or the test shows nothing)", ids, err)
		}
		// The transport reports who signed, or why nobody verifiably did.
		if got, err := mb.Fetch(ctx, unsigned); !isUnverified(err) || len(got.SignerCert) != 0 || !bytes.Contains(got.Content, []byte("Statusmeldung")) {
			t.Fatalf("unsigned reply: signer %d bytes, err %v", len(got.SignerCert), err)
		}
		if got, err := mb.Fetch(ctx, foreign); err != nil || !bytes.Equal(got.SignerCert, identity(t, "osci_manager_signature_4096").Certificate.Raw) {
			t.Fatalf("foreign-signed reply: signer %d bytes, err %v", len(got.SignerCert), err)
		}

		reg := metrics.NewRegistry()
		logs := &gatewaytest.LogBuffer{}
		p, err := replies.New(replies.Config{Store: s, Keys: keys, Mailbox: mb, Parser: codec, Signers: router, Metrics: reg, Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := p.PollOnce(ctx); err != nil || n != 4 {
			t.Fatalf("poll: %d %v", n, err)
		}
		if n, err := p.PollOnce(ctx); err != nil || n != 0 {
			t.Fatalf("second poll stored %d more (%v)", n, err)
		}
		all, _, _ := s.ListInbox(ctx, storeFilterAll)
		kinds := map[string]string{}
		for _, it := range all {
			kinds[it.OSCIMessageID] = it.Kind + "/" + it.MessageID + "/" + it.Problem
		}
		want := map[string]string{
			genuine:  "statusmeldung/" + orig.ID + "/",
			taken:    "statusmeldung/" + orig.ID + "/",
			unsigned: "unverified//unverified: " + replies.ReasonUnsigned,
			foreign:  "unverified//unverified: " + replies.ReasonSignerMismatch,
		}
		if len(all) != 4 {
			t.Fatalf("%d inbox items: %v", len(all), kinds)
		}
		for id, k := range want {
			if kinds[id] != k {
				t.Errorf("%s: %q, want %q", id, kinds[id], k)
			}
		}
		name := "familienname>"
		if i := bytes.Index(antrag, []byte(name)); i > 0 {
			v := antrag[i+len(name):]
			if v = v[:bytes.IndexByte(v, '<')]; strings.Contains(logs.String(), string(v)) {
				t.Fatalf("the applicant's name %q is in the log", v)
			}
		}
	})
}

var storeFilterAll = store.InboxFilter{All: true}

func isUnverified(err error) bool {
	var u *oscitransport.UnverifiedError
	return errors.As(err, &u) && !gateway.IsRetryable(err) && gateway.ErrorCode(err) == "unverified"
}

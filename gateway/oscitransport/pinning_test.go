package oscitransport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/xagw/xagw/gateway/gatewaytest"
	"github.com/xagw/xagw/gateway/oscitransport"
	"github.com/xagw/xagw/gateway/replies"
	"github.com/xagw/xagw/gateway/store"
	"github.com/xagw/xagw/gateway/xacodec"
)

// Security review finding 7: an intermediary whose signature certificate is
// not pinned (the DVDV entry names none, no home_signature_cert) is
// accepted on weaker grounds (the osci package's operator rule); the
// operator is told once per intermediary, not per message.
func TestUnpinnedIntermediaryIsReportedOnce(t *testing.T) {
	logs := &gatewaytest.LogBuffer{}
	tr, err := oscitransport.New(oscitransport.Config{Signer: identity(t, "alice_signature_4096"), Cipher: identity(t, "carol_cipher_4096"),
		Policy: policy(t), Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	cipher := identity(t, "osci_manager_cipher_4096").Certificate.Raw
	sig := identity(t, "osci_manager_signature_4096").Certificate.Raw
	for i := 0; i < 3; i++ {
		if _, err := tr.Client("http://127.0.0.1:1/unpinned", cipher, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Client("http://127.0.0.1:1/pinned", cipher, sig); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "no signature certificate pinned"); n != 1 || !strings.Contains(logs.String(), "/unpinned") {
		t.Fatalf("%d warnings:\n%s", n, logs.String())
	}
}

// Log hygiene (the lead's notes): polling an empty mailbox is routine, not
// a warning, and durations are integer milliseconds (duration_ms) as in
// the osci package and the API's access log.
func TestEmptyMailboxPollIsQuiet(t *testing.T) {
	gatewaytest.EachStore(t, func(t *testing.T, s *store.Store, _ string) {
		w := newWorld(t)
		ctx := context.Background()
		logs := &gatewaytest.LogBuffer{}
		tr, err := oscitransport.New(oscitransport.Config{Signer: identity(t, "alice_signature_4096"), Cipher: identity(t, "carol_cipher_4096"),
			Policy: policy(t), Logger: logs.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		home, err := tr.Client(w.srv.URL, identity(t, "osci_manager_cipher_4096").Certificate.Raw, identity(t, "osci_manager_signature_4096").Certificate.Raw)
		if err != nil {
			t.Fatal(err)
		}
		codec, err := xacodec.New(w.bundle, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := replies.New(replies.Config{Store: s, Keys: gatewaytest.Keyring(t), Parser: codec, Logger: logs.Logger(),
			Mailbox: &oscitransport.Mailbox{Client: home, Logger: logs.Logger()}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if n, err := p.PollOnce(ctx); err != nil || n != 0 {
				t.Fatalf("poll %d: %d %v", i, n, err)
			}
		}
		out := logs.String()
		if strings.Contains(out, `"level":"WARN"`) || strings.Contains(out, `"level":"ERROR"`) {
			t.Fatalf("an empty mailbox was reported as a problem:\n%s", out)
		}
		if !strings.Contains(out, `"duration_ms":`) || strings.Contains(out, `"duration":`) {
			t.Fatalf("durations not as duration_ms:\n%s", out)
		}
	})
}

package intermediary

import (
	"errors"
	"testing"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
)

// Security review, finding 5: the initDialog challenge proves possession of
// the mailbox's cipher key only if the response carrying it is encrypted to
// that key. The intermediary answered plain requests in plain, so anyone
// could open a dialog naming bob's (public) cipher certificate and fetch
// bob's deliveries, which marks them received. Now such orders must be
// transport-encrypted, every response in a dialog is encrypted to the
// dialog's cipher certificate, and a client without the key learns nothing.
func TestForeignMailboxCannotBeFetched(t *testing.T) {
	e := newEnv(t)
	sender := e.client("carol_cipher_4096", false)
	bob := e.client("bob_cipher_4096", false)
	id, err := sender.GetMessageID(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.StoreDelivery(ctx(), newDelivery(t, id, "Statusmeldung", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	// The attacker presents bob's public cipher certificate with a key
	// that does not belong to it.
	fake := &keystore.Identity{Certificate: cert(t, "bob_cipher_4096"), Key: identity(t, "carol_cipher_4096").Key}
	for _, plain := range []bool{true, false} {
		att, err := osci.NewClient(osci.Config{URL: e.srv.URL, PlainTransport: plain,
			IntermediaryCipher:    cert(t, "osci_manager_cipher_4096"),
			IntermediarySignature: cert(t, "osci_manager_signature_4096"),
			Signer:                identity(t, "alice_signature_4096"), Cipher: fake, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		f, err := att.FetchDelivery(ctx(), osci.FetchSelection{})
		if err == nil {
			f.Close()
			t.Fatalf("plain=%v: the attacker fetched from bob's mailbox", plain)
		}
		if plain && !errors.Is(err, osci.ErrCode(osci.CodeNoValidOrderData)) {
			t.Errorf("plain fetch: %v, want the 9300 fault", err)
		}
		var de *osci.DecryptError
		if !plain && !errors.As(err, &de) {
			t.Errorf("encrypted fetch: %v, want the initDialog response undecryptable", err)
		}
		if _, _, err := att.FetchProcessCards(ctx(), osci.CardSelection{Role: "Addressee"}); err == nil {
			t.Errorf("plain=%v: the attacker listed bob's process cards", plain)
		}
	}
	// Nothing was marked received: bob still sees the delivery waiting.
	cards, _, err := bob.FetchProcessCards(ctx(), osci.CardSelection{NoReception: true, Role: "Addressee"})
	if err != nil || len(cards) != 1 || cards[0].MessageID != id {
		t.Fatalf("bob's pending cards after the attack: %+v %v", cards, err)
	}
	f, err := bob.FetchDelivery(ctx(), osci.FetchSelection{})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

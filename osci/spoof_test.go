package osci_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/intermediary"
	"github.com/xagw/xagw/osci/keystore"
)

// Security review, finding 4: the intermediary took the client identity
// from the SignatureCertificateOriginator header, while the ClientSignature
// could be made by the certificate of a SignatureCertificateIntermediary
// element of the same order. Mallory signed with her own certificate placed
// there, named alice as originator and read alice's process cards. Now a
// client order is signed by its originator or refused (Open binds the
// certificate element to the message type), and the intermediary's client
// is the verified signer.
func TestOriginatorCannotBeClaimed(t *testing.T) {
	im, err := intermediary.New(intermediary.Config{DataDir: t.TempDir(), Signer: pack("osci_manager_signature_4096"),
		Cipher: pack("osci_manager_cipher_4096"), Policy: packPolicy(t), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	srv := httptest.NewServer(im)
	defer srv.Close()
	mk := func(signer, cipher string) *osci.Client {
		c, err := osci.NewClient(osci.Config{URL: srv.URL, IntermediaryCipher: pack("osci_manager_cipher_4096").Certificate,
			IntermediarySignature: pack("osci_manager_signature_4096").Certificate, Signer: pack(signer),
			Cipher: pack(cipher), Policy: packPolicy(t), Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	alice := mk("alice_signature_4096", "carol_cipher_4096")
	id, err := alice.GetMessageID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bob := pack("bob_cipher_4096").Certificate
	if _, err := alice.StoreDelivery(ctx, &osci.Delivery{MessageID: id, Subject: "Antrag Max Mustermann", Addressee: bob,
		Containers: []osci.ContentContainer{{Sign: true, EncryptFor: []*x509.Certificate{bob}, Contents: []osci.Content{{Data: []byte("x")}}}}}); err != nil {
		t.Fatal(err)
	}

	// Mallory (the pack's other signature certificate, an ordinary PKI
	// member here) signs as herself but names alice as originator.
	mallory := mk("osci_manager_signature_4096", "dave_cipher_4096")
	aliceCert := pack("alice_signature_4096").Certificate
	named := func(withCipher bool) []osci.CertEntry {
		var out []osci.CertEntry
		if withCipher {
			out = append(out, osci.CertEntry{Element: osci.CipherCertificateOriginator, ID: "cc", Cert: pack("dave_cipher_4096").Certificate})
		}
		return append(out, osci.CertEntry{Element: osci.SignatureCertificateOriginator, ID: "victim", Cert: aliceCert})
	}
	inter := []osci.CertEntry{{Element: osci.SignatureCertificateIntermediary, ID: mallory.SignerCertIDForTest(), Cert: pack("osci_manager_signature_4096").Certificate}}
	o, err := mallory.ExchangeForTest(ctx, nil, &osci.Message{Type: osci.TypeInitDialog,
		ControlBlock: osci.ControlBlock{SequenceNumber: osci.NoSequence, Challenge: osci.NewChallenge()}, NonIntermediary: named(true), Intermediary: inter})
	if err == nil {
		d := osci.ExplicitDialogForTest(o.ControlBlock.ConversationID, o.ControlBlock.Challenge)
		o.Close()
		o, err = mallory.ExchangeForTest(ctx, d, &osci.Message{Type: osci.TypeFetchProcessCard, NonIntermediary: named(false), Intermediary: inter,
			Selection: &osci.Selection{MessageIDs: []string{id}}})
		if err == nil {
			defer o.Close()
			t.Fatalf("originator spoofing: %d process cards of another client disclosed", len(o.ProcessCards))
		}
	}
	t.Logf("spoofed order refused: %v", err)

	// As herself, Mallory sees no card of alice's delivery.
	if _, err := mallory.FetchProcessCard(ctx, id); !errors.Is(err, osci.ErrNoProcessCard) {
		t.Fatalf("mallory's own view of alice's card: %v", err)
	}
	// Alice does.
	if c, err := alice.FetchProcessCard(ctx, id); err != nil || c.Subject != "Antrag Max Mustermann" {
		t.Fatalf("alice's card: %+v %v", c, err)
	}
}

func packPolicy(t testing.TB) *keystore.Policy {
	pool, err := keystore.CertPoolFromFiles(filepath.Join(sharedpath.MustFind("osci"), "certs", "pem", "governikus-test-ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &keystore.Policy{Roots: pool}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// A dialog is bound to the cipher certificate whose key read its
// initDialog challenge: an order in it that names another cipher
// certificate (so that the answer would be encrypted to someone else) is
// refused with 9400.
func TestDialogBoundToItsCipherCertificate(t *testing.T) {
	im, err := intermediary.New(intermediary.Config{DataDir: t.TempDir(), Signer: pack("osci_manager_signature_4096"),
		Cipher: pack("osci_manager_cipher_4096"), Policy: packPolicy(t), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	srv := httptest.NewServer(im)
	defer srv.Close()
	c, err := osci.NewClient(osci.Config{URL: srv.URL, IntermediaryCipher: pack("osci_manager_cipher_4096").Certificate,
		IntermediarySignature: pack("osci_manager_signature_4096").Certificate, Signer: pack("alice_signature_4096"),
		Cipher: pack("carol_cipher_4096"), Policy: packPolicy(t), Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	alice := pack("alice_signature_4096").Certificate
	certs := func(cipher string) []osci.CertEntry {
		cc := pack(cipher).Certificate
		return []osci.CertEntry{{Element: osci.CipherCertificateOriginator, ID: osci.CertID("originator", "cipher", cc), Cert: cc},
			{Element: osci.SignatureCertificateOriginator, ID: c.SignerCertIDForTest(), Cert: alice}}
	}
	o, err := c.ExchangeForTest(ctx, nil, &osci.Message{Type: osci.TypeInitDialog,
		ControlBlock: osci.ControlBlock{SequenceNumber: osci.NoSequence, Challenge: osci.NewChallenge()}, NonIntermediary: certs("carol_cipher_4096")})
	if err != nil {
		t.Fatal(err)
	}
	d := osci.ExplicitDialogForTest(o.ControlBlock.ConversationID, o.ControlBlock.Challenge)
	o.Close()
	_, err = c.ExchangeForTest(ctx, d, &osci.Message{Type: osci.TypeGetMessageID, NonIntermediary: certs("dave_cipher_4096")})
	var fe *osci.FaultError
	if !errors.As(err, &fe) || fe.OSCICode != osci.CodeControlBlock {
		t.Fatalf("order naming another cipher certificate in the dialog: %v, want fault 9400", err)
	}
}

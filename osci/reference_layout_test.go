package osci

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
)

var clientSignatureRE = regexp.MustCompile(`(?s)<osci:ClientSignature .*?</osci:ClientSignature>`)

// stripSignature removes the ClientSignature block (random value) from an
// envelope.
func stripSignature(doc []byte) []byte { return clientSignatureRE.ReplaceAll(doc, nil) }

func readCapture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sharedpath.MustFind("osci"), "captures", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The composer reproduces the reference implementation's envelopes byte for
// byte once the random values (challenge) are fixed to the capture's: every
// header block, their order, the namespace re-declarations, actors, Ids and
// the body. Only the signature (random key material) is left out.
func TestComposerMatchesReferenceLayout(t *testing.T) {
	alice := sharedCert(t, "alice_signature_4096")
	carol := sharedCert(t, "carol_cipher_4096")
	orig := []CertEntry{
		{CipherCertificateOriginator, CertID("originator", "cipher", carol), carol},
		{SignatureCertificateOriginator, CertID("originator", "signature", alice), alice},
	}
	feat := &FeatureDescription{Features: DefaultFeatures}
	explicit := func(chal string) ControlBlock {
		return ControlBlock{ConversationID: "2026112200001", SequenceNumber: 1, Response: "aW50ZXJvcC1zcnYtY2hhbGxlbmdl", Challenge: chal}
	}
	cases := []struct {
		capture string
		msg     *Message
	}{
		{"initDialog.plain.soap.xml", &Message{Type: TypeInitDialog, ControlBlock: ControlBlock{SequenceNumber: NoSequence, Challenge: "s+Y3XozKCIyoYQ=="}, NonIntermediary: orig, Features: feat}},
		{"getMessageId.plain.soap.xml", &Message{Type: TypeGetMessageID, ControlBlock: ControlBlock{SequenceNumber: 0, Challenge: "0z8uhixTcOx4lw=="}, NonIntermediary: orig, Features: feat}},
		{"exitDialog.plain.soap.xml", &Message{Type: TypeExitDialog, ControlBlock: explicit("7p8veZtuZcNwDw=="), NonIntermediary: orig[1:], Features: feat}},
		{"fetchDelivery.plain.soap.xml", &Message{Type: TypeFetchDelivery, ControlBlock: explicit("ORrtShDzxUJxvg=="),
			Selection: &Selection{MessageIDs: []string{"interop-msgid-storeDelivery-a"}}, NonIntermediary: orig[1:], Features: feat}},
		{"fetchProcessCard.plain.soap.xml", &Message{Type: TypeFetchProcessCard, ControlBlock: explicit("Y6URDW5QoYkQAw=="),
			Selection: &Selection{MessageIDs: []string{"interop-msgid-storeDelivery-a", "interop-msgid-storeDelivery-b"}}, QuantityLimit: 10,
			NonIntermediary: orig[1:], Features: feat}},
	}
	for _, c := range cases {
		env, err := composeEnvelope(c.msg, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.capture, err)
		}
		got := env.render(nil)
		want := stripSignature(readCapture(t, c.capture))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: composed envelope differs from the reference\n got: %s\nwant: %s", c.capture, got, want)
		}
	}
}

// For delivery messages the header blocks are compared one by one with the
// capture (the body holds random ciphertext).
func TestComposerMatchesReferenceHeaders(t *testing.T) {
	alice := sharedCert(t, "alice_signature_4096")
	carol := sharedCert(t, "carol_cipher_4096")
	bob := sharedCert(t, "bob_cipher_4096")
	dave := sharedCert(t, "dave_cipher_4096")
	m := &Message{
		Type:         TypeStoreDelivery,
		ControlBlock: ControlBlock{SequenceNumber: 0, Challenge: "X1sCKupbT05waw=="},
		Timestamps:   []TimestampQuality{{"creation", "plain"}, {"reception", "plain"}},
		MessageID:    "interop-msgid-storeDelivery-a",
		Subject:      "Interop storeDelivery (a)",
		NonIntermediary: []CertEntry{
			{CipherCertificateOriginator, CertID("originator", "cipher", carol), carol},
			{CipherCertificateAddressee, CertID("addressee", "cipher", bob), bob},
			{CipherCertificateOtherReader, CertID("reader0", "cipher", dave), dave},
			{SignatureCertificateOriginator, CertID("originator", "signature", alice), alice},
		},
		Features: &FeatureDescription{Features: DefaultFeatures},
	}
	env, err := composeEnvelope(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	capture := readCapture(t, "storeDelivery-a.plain.soap.xml")
	for _, blk := range env.blocks {
		if !bytes.Contains(capture, blk.xml) {
			t.Errorf("header block %q not found verbatim in the capture:\n%s", blk.id, blk.xml)
		}
	}
	wantIDs := []string{idControlBlock, idDesiredLanguages, "qualityoftimestamp_creation", "qualityoftimestamp_reception", "storedelivery", idNonIntermediary, idFeatureDescription}
	for i, blk := range env.blocks {
		if i >= len(wantIDs) || blk.id != wantIDs[i] {
			t.Fatalf("header order %v, want %v", env.blocks, wantIDs)
		}
	}
}

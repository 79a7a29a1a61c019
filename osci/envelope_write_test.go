package osci

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xagw/xagw/internal/sharedpath"
)

// sharedCert loads a certificate of the interop pack (certs/<name>.cer).
func sharedCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	der, err := os.ReadFile(filepath.Join(sharedpath.MustFind("osci"), "certs", name+".cer"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testCard(id string) ProcessCardBundle {
	ts := time.Date(2026, 11, 22, 10, 11, 12, 0, time.UTC)
	return ProcessCardBundle{
		MessageID: id, RecentModification: ts,
		Creation: &Timestamp{Plain: ts}, Forwarding: &Timestamp{Plain: ts.Add(time.Second)},
		Reception: &Timestamp{Plain: ts.Add(2 * time.Second)}, Subject: "Betreff <&> \"x\"",
		Inspections: []Inspection{{Timestamp: Timestamp{Plain: ts}, SubjectName: "CN=Alice", IssuerName: "CN=CA",
			SerialNumber: "1234567", CertType: "advanced", MathResult: "ok", OfflineResult: "valid",
			OnlineResult: &OnlineResult{OK: true, Check: []OnlineCheck{{"CRL", "2026-11-22T10:11:12+00:00"}}}}},
	}
}

// exampleMessages returns one message of every type with every field its
// schema allows filled in, plus the body content it needs.
func exampleMessages(t testing.TB) map[MessageType]*Message {
	alice := sharedCert(t, "alice_signature_4096")
	carol := sharedCert(t, "carol_cipher_4096")
	bob := sharedCert(t, "bob_cipher_4096")
	dave := sharedCert(t, "dave_cipher_4096")
	mgrSig := sharedCert(t, "osci_manager_signature_4096")
	mgrCipher := sharedCert(t, "osci_manager_cipher_4096")
	orig := []CertEntry{
		{CipherCertificateOriginator, CertID("originator", "cipher", carol), carol},
		{SignatureCertificateOriginator, CertID("originator", "signature", alice), alice},
	}
	delivery := append([]CertEntry{
		{CipherCertificateAddressee, CertID("addressee", "cipher", bob), bob},
		{CipherCertificateOtherReader, CertID("reader0", "cipher", dave), dave},
	}, orig...)
	sigOnly := orig[1:]
	inter := []CertEntry{
		{CipherCertificateIntermediary, CertID("intermed", "cipher", mgrCipher), mgrCipher},
		{SignatureCertificateIntermediary, CertID("intermed", "signature", mgrSig), mgrSig},
	}
	interSig := inter[1:]
	feat := &FeatureDescription{Features: DefaultFeatures}
	qot := []TimestampQuality{{"creation", "plain"}, {"reception", "plain"}}
	explicit := ControlBlock{ConversationID: "17", SequenceNumber: 3, Response: NewChallenge(), Challenge: NewChallenge()}
	implicit := ControlBlock{SequenceNumber: 0, Challenge: NewChallenge()}
	card := testCard("msg-1")
	card2 := testCard("msg-2")
	forwarded := card
	forwarded.Reception = nil
	ok := NewFeedback(CodeOK)
	rcb := func(rt MessageType, req ControlBlock) ControlBlock { return ResponseControlBlock(rt, req, "17") }

	return map[MessageType]*Message{
		TypeInitDialog:   {Type: TypeInitDialog, ControlBlock: ControlBlock{SequenceNumber: NoSequence, Challenge: NewChallenge()}, NonIntermediary: orig, Features: feat},
		TypeExitDialog:   {Type: TypeExitDialog, ControlBlock: explicit, NonIntermediary: sigOnly, Features: feat},
		TypeGetMessageID: {Type: TypeGetMessageID, ControlBlock: implicit, NonIntermediary: orig, Features: feat},
		TypeStoreDelivery: {Type: TypeStoreDelivery, ControlBlock: implicit, Timestamps: qot, MessageID: "msg-1",
			Subject: "Antrag <Aufenthaltstitel> & mehr", NonIntermediary: delivery, Features: feat},
		TypeFetchDelivery: {Type: TypeFetchDelivery, ControlBlock: explicit, Selection: &Selection{MessageIDs: []string{"msg-1"}},
			NonIntermediary: sigOnly, Features: feat},
		TypeFetchProcessCard: {Type: TypeFetchProcessCard, ControlBlock: explicit,
			Selection:     &Selection{RecentModification: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), NoReception: true, Role: "Originator"},
			QuantityLimit: 10, NonIntermediary: sigOnly, Features: feat},
		TypeForwardDelivery: {Type: TypeForwardDelivery, ControlBlock: implicit, Timestamps: qot, ContentReceiver: "https://abh.example/osci",
			MessageID: "msg-1", Subject: "s", NonIntermediary: delivery, Features: feat},
		TypeAcceptDelivery: {Type: TypeAcceptDelivery, ControlBlock: ControlBlock{SequenceNumber: NoSequence, Challenge: NewChallenge()},
			ProcessCards: []ProcessCardBundle{forwarded}, Intermediary: inter, NonIntermediary: delivery},
		TypeMediateDelivery: {Type: TypeMediateDelivery, ControlBlock: explicit, Timestamps: qot, ContentReceiver: "https://abh.example/osci",
			MessageID: "msg-1", Subject: "s", NonIntermediary: delivery, Features: feat},
		TypeProcessDelivery: {Type: TypeProcessDelivery, ControlBlock: ControlBlock{SequenceNumber: NoSequence, Challenge: NewChallenge()},
			MessageIDResponse: "msg-2", ProcessCards: []ProcessCardBundle{forwarded}, Intermediary: inter, NonIntermediary: delivery},
		TypePartialStoreDelivery: {Type: TypePartialStoreDelivery, ControlBlock: explicit, Timestamps: qot[:1], MessageID: "msg-1_Partial",
			Subject: "s", Chunk: &ChunkInformation{ChunkNumber: 1, ChunkSize: 10, TotalChunkNumbers: 3, TotalMessageSize: 25},
			NonIntermediary: delivery, Features: feat},
		TypePartialFetchDelivery: {Type: TypePartialFetchDelivery, ControlBlock: explicit, Selection: &Selection{MessageIDs: []string{"msg-1"}},
			Chunk: &ChunkInformation{ChunkNumber: 2, ChunkSize: 10, ReceivedChunks: []int{1}}, NonIntermediary: sigOnly, Features: feat},

		TypeResponseToInitDialog: {Type: TypeResponseToInitDialog, ControlBlock: rcb(TypeResponseToInitDialog, ControlBlock{SequenceNumber: NoSequence, Challenge: "c"}),
			Feedback: NewFeedback(CodeOKDialogOpen), Intermediary: interSig, Features: feat},
		TypeResponseToExitDialog:   {Type: TypeResponseToExitDialog, ControlBlock: rcb(TypeResponseToExitDialog, explicit), Feedback: ok, Intermediary: interSig},
		TypeResponseToGetMessageID: {Type: TypeResponseToGetMessageID, ControlBlock: rcb(TypeResponseToGetMessageID, implicit), Feedback: ok, MessageID: "msg-1", Intermediary: interSig},
		TypeResponseToStoreDelivery: {Type: TypeResponseToStoreDelivery, ControlBlock: rcb(TypeResponseToStoreDelivery, implicit), Feedback: ok,
			ProcessCards: []ProcessCardBundle{{MessageID: "msg-1", RecentModification: card.RecentModification, Creation: card.Creation, Subject: "s"}}, Intermediary: interSig, Features: feat},
		TypeResponseToFetchDelivery: {Type: TypeResponseToFetchDelivery, ControlBlock: rcb(TypeResponseToFetchDelivery, explicit), Feedback: NewFeedback(CodeFurtherDeliveries, CodeOKDialogOpen),
			Selection: &Selection{MessageIDs: []string{"msg-1"}}, ProcessCards: []ProcessCardBundle{{MessageID: "msg-1", RecentModification: card.RecentModification, Creation: card.Creation, Forwarding: card.Forwarding}},
			Intermediary: interSig, NonIntermediary: delivery},
		TypeResponseToFetchProcessCard: {Type: TypeResponseToFetchProcessCard, ControlBlock: rcb(TypeResponseToFetchProcessCard, explicit), Feedback: NewFeedback(CodeOKDialogOpen),
			Selection: &Selection{MessageIDs: []string{"msg-1", "msg-2"}}, QuantityLimit: 10, ProcessCards: []ProcessCardBundle{card, card2}, Intermediary: interSig},
		TypeResponseToForwardDelivery: {Type: TypeResponseToForwardDelivery, ControlBlock: rcb(TypeResponseToForwardDelivery, implicit), Feedback: ok,
			ProcessCards: []ProcessCardBundle{card}, Intermediary: interSig},
		TypeResponseToAcceptDelivery: {Type: TypeResponseToAcceptDelivery, ControlBlock: rcb(TypeResponseToAcceptDelivery, ControlBlock{Challenge: "c"}), Feedback: ok,
			NonIntermediary: []CertEntry{{SignatureCertificateAddressee, CertID("addressee", "signature", alice), alice}}},
		TypeResponseToMediateDelivery: {Type: TypeResponseToMediateDelivery, ControlBlock: rcb(TypeResponseToMediateDelivery, explicit), Feedback: NewFeedback(CodeOKDialogOpen),
			ProcessCards: []ProcessCardBundle{card}, ReplyProcessCard: &ProcessCardBundle{MessageID: "msg-2", RecentModification: card.RecentModification, Creation: card.Creation, Forwarding: card.Forwarding},
			Intermediary: interSig, NonIntermediary: delivery},
		TypeResponseToProcessDelivery: {Type: TypeResponseToProcessDelivery, ControlBlock: rcb(TypeResponseToProcessDelivery, ControlBlock{Challenge: "c"}), Feedback: ok,
			Timestamps: qot, MessageID: "msg-2", Subject: "Antwort", NonIntermediary: delivery},
		TypeResponseToPartialStoreDelivery: {Type: TypeResponseToPartialStoreDelivery, ControlBlock: rcb(TypeResponseToPartialStoreDelivery, explicit),
			InsideFeedback: ok, Feedback: NewFeedback(CodeOKDialogOpen), ProcessCards: []ProcessCardBundle{{MessageID: "msg-1", RecentModification: card.RecentModification, Creation: card.Creation}},
			Chunk: &ChunkInformation{ChunkNumber: 3, ReceivedChunks: []int{1, 2, 3}, TotalChunkNumbers: 3}, Intermediary: interSig, Features: feat},
		TypeResponseToPartialFetchDelivery: {Type: TypeResponseToPartialFetchDelivery, ControlBlock: rcb(TypeResponseToPartialFetchDelivery, explicit),
			Feedback: NewFeedback(CodeOKDialogOpen), Selection: &Selection{MessageIDs: []string{"msg-1"}},
			Chunk: &ChunkInformation{ChunkNumber: 2, TotalChunkNumbers: 3, TotalMessageSize: 25}, MessageID: "msg-1",
			Intermediary: interSig, NonIntermediary: delivery, Features: feat},
	}
}

// bodyFor returns the ContentPackage a message type carries in these tests.
func bodyFor(t MessageType) []byte {
	switch t {
	case TypeStoreDelivery, TypeForwardDelivery, TypeAcceptDelivery, TypeMediateDelivery, TypeProcessDelivery,
		TypePartialStoreDelivery, TypeResponseToFetchDelivery, TypeResponseToMediateDelivery,
		TypeResponseToProcessDelivery, TypeResponseToPartialFetchDelivery:
		return []byte(`<osci:ContentPackage><osci:ContentContainer` + envelopeNS + ` Id="contentcontainer0"><osci:Content><osci:Base64Content Id="content0">SGFsbG8=</osci:Base64Content></osci:Content></osci:ContentContainer></osci:ContentPackage>`)
	}
	return nil
}

// Every envelope the composer writes, for every message type, validates
// against the official soap<Type>.xsd.
func TestComposedEnvelopesValidate(t *testing.T) {
	s := schemasForTest(t)
	msgs := exampleMessages(t)
	for typ := TypeInitDialog; typ < TypeEncrypted; typ++ {
		m, ok := msgs[typ]
		if !ok {
			t.Errorf("no example for %s", typ)
			continue
		}
		env, err := composeEnvelope(m, bodyFor(typ))
		if err != nil {
			t.Errorf("%s: compose: %v", typ, err)
			continue
		}
		doc := env.render(nil)
		if err := s.Validate(typ, doc); err != nil {
			t.Errorf("%s: %v", typ, err)
			if testing.Verbose() {
				t.Logf("%s", doc)
			}
		}
		if !strings.HasPrefix(string(doc), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\r\n<soap:Envelope") {
			t.Errorf("%s: wrong document start", typ)
		}
	}
}

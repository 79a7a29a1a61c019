package intermediary

import (
	"bytes"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
)

func newDelivery(t *testing.T, id, text string, att []byte) *osci.Delivery {
	bob := cert(t, "bob_cipher_4096")
	return &osci.Delivery{MessageID: id, Subject: "Antrag " + id, Addressee: bob, Containers: []osci.ContentContainer{
		{Sign: true, EncryptFor: []*x509.Certificate{bob}, Contents: []osci.Content{
			{Data: []byte(text)},
			{Attachment: osci.AttachmentBytes("anlage.pdf", att)},
		}},
	}}
}

// checkFetched asserts the fetched delivery is the one sent.
func checkFetched(t *testing.T, f *osci.Fetched, id, text string, att []byte) {
	t.Helper()
	if f.DeliveryID() != id || len(f.Containers) != 1 {
		t.Fatalf("fetched %q with %d containers", f.DeliveryID(), len(f.Containers))
	}
	c := f.Containers[0]
	if string(c.Contents[0].Data) != text || len(c.Signatures) != 1 || !c.Signatures[0].OK() {
		t.Fatalf("content %q signatures %+v", c.Contents[0].Data, c.Signatures)
	}
	got, err := c.Contents[1].Attachment.Bytes()
	if err != nil || !bytes.Equal(got, att) || !c.Contents[1].Attachment.Encrypted {
		t.Fatalf("attachment %d bytes, err %v", len(got), err)
	}
	if f.ProcessCard == nil || f.ProcessCard.Creation == nil || f.ProcessCard.Forwarding == nil {
		t.Fatalf("process card %+v", f.ProcessCard)
	}
}

// The active-recipient scenario end to end over loopback HTTP: message id,
// storeDelivery into bob's mailbox, bob fetches (explicit dialog), the
// sender reads the process card with the reception time.
func TestStoreFetchProcessCard(t *testing.T) {
	for _, plain := range []bool{false, true} {
		e := newEnv(t)
		// A plain client may store (implicit orders reveal nothing but their
		// own result); dialogs, mailboxes and process cards need transport
		// encryption, so the addressee and the card reader are encrypted.
		sender, bob := e.client("carol_cipher_4096", plain), e.client("bob_cipher_4096", false)
		if plain {
			if _, err := sender.FetchProcessCard(ctx(), "x"); !errors.Is(err, osci.ErrCode(osci.CodeNoValidOrderData)) {
				t.Fatalf("plain fetchProcessCard: %v", err)
			}
			if _, err := sender.FetchDelivery(ctx(), osci.FetchSelection{}); !errors.Is(err, osci.ErrCode(osci.CodeNoValidOrderData)) {
				t.Fatalf("plain fetchDelivery: %v", err)
			}
		}
		id, err := sender.GetMessageID(ctx())
		if err != nil {
			t.Fatal(err)
		}
		att := bytes.Repeat([]byte("PDF"), 3000)
		r, err := sender.StoreDelivery(ctx(), newDelivery(t, id, "Antrag auf Aufenthaltstitel", att))
		if err != nil {
			t.Fatal(err)
		}
		if r.MessageID != id || r.ProcessCard == nil || r.ProcessCard.Creation == nil || len(r.ProcessCard.Inspections) != 3 {
			t.Fatalf("receipt %+v", r)
		}
		for _, in := range r.ProcessCard.Inspections {
			if in.OfflineResult != "valid" {
				t.Errorf("inspection %+v", in)
			}
		}
		if plain {
			sender = e.client("carol_cipher_4096", false)
		}
		// The sender's own mailbox is empty.
		if _, err := sender.FetchDelivery(ctx(), osci.FetchSelection{}); !errors.Is(err, osci.ErrNoDelivery) {
			t.Fatalf("sender fetch: %v", err)
		}
		f, err := bob.FetchDelivery(ctx(), osci.FetchSelection{})
		if err != nil {
			t.Fatal(err)
		}
		checkFetched(t, f, id, "Antrag auf Aufenthaltstitel", att)
		if f.Transport == nil {
			t.Fatalf("fetchDelivery answered without transport encryption")
		}
		f.Close()
		// Fetched once: not offered again without selection, but by id it is
		// (recovery after a crash between fetch and storing).
		if _, err := bob.FetchDelivery(ctx(), osci.FetchSelection{}); !errors.Is(err, osci.ErrNoDelivery) {
			t.Fatalf("second fetch: %v", err)
		}
		f, err = bob.FetchDelivery(ctx(), osci.FetchSelection{MessageID: id})
		if err != nil {
			t.Fatal(err)
		}
		checkFetched(t, f, id, "Antrag auf Aufenthaltstitel", att)
		f.Close()
		card, err := sender.FetchProcessCard(ctx(), id)
		if err != nil {
			t.Fatal(err)
		}
		if card.Reception == nil || card.Forwarding == nil || card.Creation == nil || card.Subject != "Antrag "+id {
			t.Fatalf("card %+v", card)
		}
		if _, err := sender.FetchProcessCard(ctx(), "xagw_unknown"); !errors.Is(err, osci.ErrNoProcessCard) {
			t.Fatalf("unknown card: %v", err)
		}
		if plain {
			continue
		}
		// Role without a date: the client selects since the epoch. The
		// sender is the originator of the delivery, not its addressee.
		cards, _, err := sender.FetchProcessCards(ctx(), osci.CardSelection{Role: "Originator"})
		if err != nil || len(cards) != 1 || cards[0].MessageID != id {
			t.Fatalf("originator cards %+v %v", cards, err)
		}
		// An empty selection is an empty list, not an error.
		if cards, _, err := sender.FetchProcessCards(ctx(), osci.CardSelection{Role: "Addressee"}); err != nil || len(cards) != 0 {
			t.Fatalf("addressee cards of the sender: %+v %v", cards, err)
		}
		// Fetched already: nothing without reception.
		if cards, _, err := bob.FetchProcessCards(ctx(), osci.CardSelection{NoReception: true, Role: "Addressee"}); err != nil || len(cards) != 0 {
			t.Fatalf("unreceived cards: %+v %v", cards, err)
		}
		if _, _, err := bob.FetchProcessCards(ctx(), osci.CardSelection{Role: "Boss"}); err == nil {
			t.Fatal("invalid role accepted")
		}
		if _, _, err := bob.FetchProcessCards(ctx(), osci.CardSelection{MessageIDs: []string{id}, NoReception: true}); err == nil {
			t.Fatal("NoReception with message ids accepted")
		}
	}
}

// Message ids are checked: unknown, reused and foreign ids are refused
// with 9801, a permanent error.
func TestMessageIDChecks(t *testing.T) {
	e := newEnv(t)
	sender := e.client("carol_cipher_4096", false)
	_, err := sender.StoreDelivery(ctx(), newDelivery(t, "made-up", "x", []byte("y")))
	var fe *osci.FeedbackError
	if !errors.As(err, &fe) || fe.FeedbackCode() != osci.CodeIllegalMessageID || osci.Retryable(err) {
		t.Fatalf("unknown id: %v", err)
	}
	id, err := sender.GetMessageID(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.StoreDelivery(ctx(), newDelivery(t, id, "x", []byte("y"))); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.StoreDelivery(ctx(), newDelivery(t, id, "x", []byte("y"))); !errors.Is(err, osci.ErrCode(osci.CodeIllegalMessageID)) {
		t.Fatalf("duplicate id: %v", err)
	}
}

// Restarting the intermediary loses nothing: stored deliveries, issued
// ids and open dialogs survive.
func TestRestartLosesNothing(t *testing.T) {
	e := newEnv(t)
	sender, bob := e.client("carol_cipher_4096", false), e.client("bob_cipher_4096", false)
	id, err := sender.GetMessageID(ctx())
	if err != nil {
		t.Fatal(err)
	}
	unused, err := sender.GetMessageID(ctx())
	if err != nil {
		t.Fatal(err)
	}
	att := bytes.Repeat([]byte{7}, 200000)
	if _, err := sender.StoreDelivery(ctx(), newDelivery(t, id, "vor dem Neustart", att)); err != nil {
		t.Fatal(err)
	}
	s, err := bob.Dialog(ctx())
	if err != nil {
		t.Fatal(err)
	}
	e.restart()
	f, err := s.FetchDelivery(ctx(), osci.FetchSelection{MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	checkFetched(t, f, id, "vor dem Neustart", att)
	f.Close()
	if err := s.ExitDialog(ctx()); err != nil {
		t.Fatal(err)
	}
	if _, err := sender.StoreDelivery(ctx(), newDelivery(t, unused, "nach dem Neustart", []byte("z"))); err != nil {
		t.Fatalf("id issued before the restart: %v", err)
	}
}

// A closed dialog cannot be used any more.
func TestClosedDialog(t *testing.T) {
	e := newEnv(t)
	bob := e.client("bob_cipher_4096", false)
	s, err := bob.Dialog(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMessageID(ctx()); err != nil {
		t.Fatal(err)
	}
	if err := s.ExitDialog(ctx()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMessageID(ctx()); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("closed dialog used: %v", err)
	}
}

// Concurrent senders and fetchers do not lose or duplicate deliveries.
func TestConcurrentStores(t *testing.T) {
	e := newEnv(t)
	sender, bob := e.client("carol_cipher_4096", false), e.client("bob_cipher_4096", false)
	const n = 6
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id, err := sender.GetMessageID(ctx())
			if err == nil {
				_, err = sender.StoreDelivery(ctx(), newDelivery(t, id, "parallel", []byte{byte(i)}))
			}
			ids[i], errs[i] = id, err
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for {
		f, err := bob.FetchDelivery(ctx(), osci.FetchSelection{})
		if errors.Is(err, osci.ErrNoDelivery) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[f.DeliveryID()] {
			t.Fatalf("%s fetched twice", f.DeliveryID())
		}
		seen[f.DeliveryID()] = true
		f.Close()
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("%s lost", id)
		}
	}
}

// postRaw signs m with alice's key, sends it and opens the answer.
func postRaw(t *testing.T, e *env, m *osci.Message) *osci.Opened {
	t.Helper()
	alice, carol := cert(t, "alice_signature_4096"), cert(t, "carol_cipher_4096")
	sigID := osci.CertID("originator", "signature", alice)
	m.NonIntermediary = []osci.CertEntry{{Element: osci.CipherCertificateOriginator, ID: osci.CertID("originator", "cipher", carol), Cert: carol},
		{Element: osci.SignatureCertificateOriginator, ID: sigID, Cert: alice}}
	m.Languages = "de"
	out, err := osci.Compose(m, osci.ComposeOptions{Signing: &osci.Signing{Identity: identity(t, "alice_signature_4096")}, SignerCertID: sigID,
		TransportTo: cert(t, "osci_manager_cipher_4096")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	data, err := out.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.srv.URL, "text/xml", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	o, err := osci.Open(resp.Body, osci.OpenOptions{Signer: cert(t, "osci_manager_signature_4096"), Keys: []*keystore.Identity{identity(t, "carol_cipher_4096")}})
	if o == nil {
		t.Fatalf("response: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// Requests that do not continue their dialog are refused with the SOAP
// fault 9400: unknown conversation, stale challenge, wrong sequence number,
// or a conversation of another client.
func TestControlBlockMismatchIs9400(t *testing.T) {
	e := newEnv(t)
	bob := e.client("bob_cipher_4096", false)
	s, err := bob.Dialog(ctx())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]osci.ControlBlock{
		"unknown conversation": {ConversationID: "1", SequenceNumber: 0, Response: "x", Challenge: osci.NewChallenge()},
		"stale challenge":      {ConversationID: s.ConversationID(), SequenceNumber: 0, Response: "not-the-challenge", Challenge: osci.NewChallenge()},
	}
	for name, cb := range cases {
		o := postRaw(t, e, &osci.Message{Type: osci.TypeExitDialog, ControlBlock: cb})
		if o.Type != osci.TypeFault || o.Fault.Code() != "9400" || !o.Fault.Retryable() {
			t.Errorf("%s: got %s %+v", name, o.Type, o.Fault)
		}
	}
	// The genuine dialog is unaffected by the rejected attempts.
	if _, err := s.GetMessageID(ctx()); err != nil {
		t.Fatal(err)
	}
	if err := s.ExitDialog(ctx()); err != nil {
		t.Fatal(err)
	}
	// An implicit order with a well-formed control block works.
	o := postRaw(t, e, &osci.Message{Type: osci.TypeGetMessageID, ControlBlock: osci.ControlBlock{SequenceNumber: 0, Challenge: osci.NewChallenge()}})
	if o.Type != osci.TypeResponseToGetMessageID || o.Feedback.Err() != nil || o.MessageID == "" {
		t.Fatalf("getMessageId: %s %v", o.Type, o.Feedback)
	}
}

// Deliveries past the retention are purged with their files (and old
// dialogs and uploads with them); files no row names are removed at start.
func TestPurgeAndOrphans(t *testing.T) {
	e := newEnv(t)
	sender, bob := e.client("carol_cipher_4096", false), e.client("bob_cipher_4096", false)
	blobs := func() []string {
		ents, err := os.ReadDir(filepath.Join(e.dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, en := range ents {
			n = append(n, en.Name())
		}
		return n
	}
	id, err := sender.GetMessageID(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.StoreDelivery(ctx(), newDelivery(t, id, "alt", []byte("anlage"))); err != nil {
		t.Fatal(err)
	}
	stored := blobs()
	if len(stored) != 1 {
		t.Fatalf("blob files %v", stored)
	}
	// A crash between writing a file and committing its row leaves an
	// orphan; the next start removes it and keeps the real one.
	if err := os.WriteFile(filepath.Join(e.dir, "blobs", "orphan"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.restart()
	if got := blobs(); len(got) != 1 || got[0] != stored[0] {
		t.Fatalf("after restart %v, want %v", got, stored)
	}
	// Within the retention nothing goes.
	if n, err := e.im.PurgeExpired(ctx()); err != nil || n != 0 {
		t.Fatalf("purge now: %d %v", n, err)
	}
	e.im.cfg.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	if n, err := e.im.PurgeExpired(ctx()); err != nil || n != 1 {
		t.Fatalf("purge later: %d %v", n, err)
	}
	if got := blobs(); len(got) != 0 {
		t.Fatalf("files left after purge: %v", got)
	}
	var dialogs int
	if err := e.im.st.w.QueryRow(`SELECT count(*) FROM dialogs`).Scan(&dialogs); err != nil || dialogs != 0 {
		t.Fatalf("dialogs left: %d %v", dialogs, err)
	}
	e.im.cfg.Now = time.Now
	if _, err := bob.FetchDelivery(ctx(), osci.FetchSelection{MessageID: id}); !errors.Is(err, osci.ErrNoDelivery) {
		t.Fatalf("fetch after purge: %v", err)
	}
	if _, err := sender.FetchProcessCard(ctx(), id); !errors.Is(err, osci.ErrNoProcessCard) {
		t.Fatalf("card after purge: %v", err)
	}
}

package intermediary

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	"github.com/xagw/xagw/osci"
)

// passive starts a passive recipient (bob's cipher key, alice's signature
// key) and registers it at the intermediary under uri.
type passive struct {
	mu       sync.Mutex
	accepted []string
	srv      *httptest.Server
}

func (e *env) passive(uri string, process func(o *osci.Opened) (*osci.Delivery, error)) *passive {
	p := &passive{}
	rc, err := osci.NewRecipient(osci.RecipientConfig{
		Signer: identity(e.t, "alice_signature_4096"), Cipher: identity(e.t, "bob_cipher_4096"),
		IntermediarySignature: cert(e.t, "osci_manager_signature_4096"), Logger: quietLogger(),
		Accept: func(_ context.Context, o *osci.Opened) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, c := range o.Containers {
				for _, ct := range c.Contents {
					if ct.Data != nil {
						p.accepted = append(p.accepted, string(ct.Data))
					}
				}
			}
			return nil
		},
		Process: func(_ context.Context, o *osci.Opened) (*osci.Delivery, error) { return process(o) },
	})
	if err != nil {
		e.t.Fatal(err)
	}
	p.srv = httptest.NewServer(rc)
	e.t.Cleanup(p.srv.Close)
	e.recips[uri] = p.srv.URL
	return p
}

// Passive recipient, forward scenario: the intermediary pushes the
// delivery as acceptDelivery; the sender's receipt carries the reception.
func TestForwardDelivery(t *testing.T) {
	e := newEnv(t)
	p := e.passive("urn:abh:test", nil)
	sender := e.client("carol_cipher_4096", false)
	id, err := sender.GetMessageID(ctx())
	if err != nil {
		t.Fatal(err)
	}
	r, err := sender.ForwardDelivery(ctx(), "urn:abh:test", newDelivery(t, id, "weitergeleitet", []byte("anlage")))
	if err != nil {
		t.Fatal(err)
	}
	if r.ProcessCard == nil || r.ProcessCard.Reception == nil || r.ProcessCard.Forwarding == nil {
		t.Fatalf("receipt %+v", r.ProcessCard)
	}
	if len(p.accepted) != 1 || p.accepted[0] != "weitergeleitet" {
		t.Fatalf("recipient got %v", p.accepted)
	}
	// Unregistered receivers are refused: the intermediary never connects to
	// an address a client chose.
	id2, _ := sender.GetMessageID(ctx())
	if _, err := sender.ForwardDelivery(ctx(), "http://169.254.169.254/", newDelivery(t, id2, "x", []byte("y"))); !errors.Is(err, osci.ErrCode(osci.CodeNotAccepted)) {
		t.Fatalf("unregistered receiver: %v", err)
	}
	// An unreachable recipient is a retryable 9809.
	e.recips["urn:abh:down"] = "http://127.0.0.1:1/"
	id3, _ := sender.GetMessageID(ctx())
	if _, err := sender.ForwardDelivery(ctx(), "urn:abh:down", newDelivery(t, id3, "x", []byte("y"))); !errors.Is(err, osci.ErrCode(osci.CodeForwardFailed)) || !osci.Retryable(err) {
		t.Fatalf("unreachable recipient: %v", err)
	}
}

// Passive recipient, mediate scenario: request and answer in one order,
// the answer encrypted for the sender and signed by the recipient.
func TestMediateDelivery(t *testing.T) {
	e := newEnv(t)
	e.passive("urn:abh:sync", func(o *osci.Opened) (*osci.Delivery, error) {
		q := string(o.Containers[0].Contents[0].Data)
		return &osci.Delivery{Subject: "Antwort", Containers: []osci.ContentContainer{{Sign: true,
			EncryptFor: []*x509.Certificate{o.Message.Cert(osci.CipherCertificateOriginator)},
			Contents:   []osci.Content{{Data: []byte("Antwort auf: " + q)}, {Attachment: osci.AttachmentBytes("bescheid.pdf", []byte("%PDF"))}}}}}, nil
	})
	sender := e.client("carol_cipher_4096", false)
	m, err := sender.MediateDelivery(ctx(), "urn:abh:sync", newDelivery(t, "", "Frage", []byte("anlage")))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Response.Close()
	if len(m.Response.Containers) != 1 || string(m.Response.Containers[0].Contents[0].Data) != "Antwort auf: Frage" {
		t.Fatalf("answer %+v", m.Response.Containers)
	}
	c := m.Response.Containers[0]
	if len(c.Signatures) != 1 || !c.Signatures[0].OK() || !bytes.Equal(c.Signatures[0].Signer.Raw, cert(t, "alice_signature_4096").Raw) {
		t.Fatalf("answer signature %+v", c.Signatures)
	}
	if b, _ := c.Contents[1].Attachment.Bytes(); string(b) != "%PDF" {
		t.Fatalf("answer attachment %q", b)
	}
	if m.ProcessCard == nil || m.ProcessCard.Reception == nil || m.Reply == nil || m.Reply.MessageID == "" {
		t.Fatalf("cards %+v / %+v", m.ProcessCard, m.Reply)
	}
	// Both legs have process cards.
	cards, _, err := sender.FetchProcessCards(ctx(), osci.CardSelection{MessageIDs: []string{m.MessageID}})
	if err != nil || len(cards) != 1 {
		t.Fatalf("request card: %v %v", cards, err)
	}
}

// Chunked store and fetch: the message travels in 1 KB pieces, is
// reassembled, stored and fetched back in pieces.
func TestPartialStoreAndFetch(t *testing.T) {
	e := newEnv(t)
	sender, bob := e.client("carol_cipher_4096", false), e.client("bob_cipher_4096", false)
	id, err := sender.GetMessageID(ctx())
	if err != nil {
		t.Fatal(err)
	}
	att := bytes.Repeat([]byte("0123456789"), 2000)
	r, err := sender.PartialStoreDelivery(ctx(), newDelivery(t, id, "in Teilen", att), 4)
	if err != nil {
		t.Fatal(err)
	}
	if r.MessageID != id || r.ProcessCard == nil || r.ProcessCard.MessageID != id {
		t.Fatalf("receipt %+v", r)
	}
	f, err := bob.PartialFetchDelivery(ctx(), id, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkFetched(t, f, id, "in Teilen", att)
	f.Close()
	card, err := sender.FetchProcessCard(ctx(), id)
	if err != nil || card.Reception == nil {
		t.Fatalf("card %+v %v", card, err)
	}
}

// Posting garbage gets a SOAP fault, never a crash; GET is refused.
func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{"", "hello", "MIME-Version: 1.0\r\nContent-Type: Multipart/Related; boundary=x; type=text/xml\r\n\r\n--x\r\n\r\n<a/>\r\n--x--\r\n"} {
		resp, err := http.Post(e.srv.URL, "text/xml", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		o, err := osci.Open(resp.Body, osci.OpenOptions{})
		resp.Body.Close()
		if err != nil || o.Type != osci.TypeFault || o.Fault.Code() == "" {
			t.Fatalf("%q: %v %+v", body, err, o)
		}
		o.Close()
	}
	resp, err := http.Get(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

// An order that needs an explicit dialog, sent in an implicit one, is
// answered with fault 9802, not with a structure error.
func TestImplicitFetchDeliveryIs9802(t *testing.T) {
	e := newEnv(t)
	m := &osci.Message{Type: osci.TypeFetchDelivery, ControlBlock: osci.ControlBlock{ConversationID: "1", SequenceNumber: 1, Response: "cmVzcA==", Challenge: osci.NewChallenge()}}
	out, err := osci.Compose(m, osci.ComposeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := out.Bytes()
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	implicit := regexp.MustCompile(` ConversationId="1"|<osci:Response>cmVzcA==</osci:Response>`).ReplaceAll(body, nil)
	if len(body)-len(implicit) != len(` ConversationId="1"<osci:Response>cmVzcA==</osci:Response>`) {
		t.Fatalf("ControlBlock not found in %s", body)
	}
	resp, err := http.Post(e.srv.URL, "text/xml", bytes.NewReader(implicit))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	o, err := osci.Open(resp.Body, osci.OpenOptions{})
	if err != nil || o.Type != osci.TypeFault || o.Fault.OSCICode != osci.CodeNoExplicitDialog {
		t.Fatalf("%v %+v", err, o)
	}
	o.Close()
}

// Package oscitransport adapts the osci package to the gateway's Transport
// and Mailbox ports: getMessageId, storeDelivery (forward/mediate where the
// route says so) and fetchProcessCard towards the recipients'
// intermediaries, and the process-card listing plus fetchDelivery on the
// gateway's own mailbox.
//
// The XAusländer message travels as the inline content of one content
// container, signed by the gateway and encrypted for the addressee; the
// whole request is transport-encrypted for the intermediary (osci.Client).
package oscitransport

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
)

// Config holds the gateway's OSCI identities and trust.
type Config struct {
	// Signer signs requests and the content container.
	Signer *keystore.Identity
	// Cipher receives transport-encrypted responses and content addressed
	// to the gateway (replies).
	Cipher *keystore.Identity
	// Policy checks intermediary and content-signer certificates.
	Policy *keystore.Policy
	// HTTPClient performs the requests (osci's default when nil).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// PlainTransport is for tests against intermediaries that do not
	// decrypt; never in production.
	PlainTransport bool
}

// Transport implements gateway.Transport. It keeps one osci.Client per
// intermediary (URL and certificates). Safe for concurrent use.
type Transport struct {
	cfg     Config
	mu      sync.Mutex
	clients map[string]*osci.Client
}

// New checks cfg.
func New(cfg Config) (*Transport, error) {
	if cfg.Signer == nil || cfg.Cipher == nil {
		return nil, errors.New("oscitransport: Signer and Cipher identities are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Transport{cfg: cfg, clients: map[string]*osci.Client{}}, nil
}

func parseCert(der []byte, what string) (*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, gateway.Permanent("route_incomplete", fmt.Errorf("oscitransport: the route has no %s", what))
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, gateway.Permanent("route_certificate", fmt.Errorf("oscitransport: %s: %w", what, err))
	}
	return c, nil
}

// Client returns the osci.Client for an intermediary.
func (t *Transport) Client(url string, cipherDER, sigDER []byte) (*osci.Client, error) {
	h := sha256.New()
	h.Write([]byte(url))
	h.Write([]byte{0})
	h.Write(cipherDER)
	h.Write([]byte{0})
	h.Write(sigDER)
	key := hex.EncodeToString(h.Sum(nil))
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[key]; ok {
		return c, nil
	}
	if url == "" {
		return nil, gateway.Permanent("route_incomplete", errors.New("oscitransport: the route has no intermediary URL"))
	}
	cipher, err := parseCert(cipherDER, "intermediary cipher certificate")
	if err != nil {
		return nil, err
	}
	var sig *x509.Certificate
	if len(sigDER) > 0 {
		if sig, err = parseCert(sigDER, "intermediary signature certificate"); err != nil {
			return nil, err
		}
	}
	c, err := osci.NewClient(osci.Config{URL: url, IntermediaryCipher: cipher, IntermediarySignature: sig, Signer: t.cfg.Signer,
		Cipher: t.cfg.Cipher, Policy: t.cfg.Policy, HTTPClient: t.cfg.HTTPClient, Logger: t.cfg.Logger, PlainTransport: t.cfg.PlainTransport})
	if err != nil {
		return nil, gateway.Permanent("osci_config", err)
	}
	t.clients[key] = c
	return c, nil
}

func (t *Transport) routeClient(r gateway.Route) (*osci.Client, error) {
	return t.Client(r.IntermediaryURL, r.IntermediaryCert, r.IntermediarySig)
}

// NewMessageID obtains a message id from the route's intermediary.
func (t *Transport) NewMessageID(ctx context.Context, r gateway.Route) (string, error) {
	c, err := t.routeClient(r)
	if err != nil {
		return "", err
	}
	return c.GetMessageID(ctx)
}

// Send delivers out with the route's scenario.
func (t *Transport) Send(ctx context.Context, out gateway.Outgoing) (gateway.Sent, error) {
	r := out.Route
	c, err := t.routeClient(r)
	if err != nil {
		return gateway.Sent{}, err
	}
	addressee, err := parseCert(r.AddresseeCipher, "addressee cipher certificate")
	if err != nil {
		return gateway.Sent{}, err
	}
	d := &osci.Delivery{MessageID: out.MessageID, Subject: out.Subject, Addressee: addressee, Containers: []osci.ContentContainer{
		{Sign: true, EncryptFor: []*x509.Certificate{addressee}, Contents: []osci.Content{{Data: out.Content}}},
	}}
	switch r.Scenario {
	case gateway.ScenarioForward:
		if r.AddresseeURI == "" {
			return gateway.Sent{}, gateway.Permanent("route_incomplete", errors.New("oscitransport: forward scenario without addressee URI"))
		}
		rc, err := c.ForwardDelivery(ctx, r.AddresseeURI, d)
		if err != nil {
			return gateway.Sent{}, err
		}
		return sent(rc), nil
	case gateway.ScenarioMediate:
		if r.AddresseeURI == "" {
			return gateway.Sent{}, gateway.Permanent("route_incomplete", errors.New("oscitransport: mediate scenario without addressee URI"))
		}
		m, err := c.MediateDelivery(ctx, r.AddresseeURI, d)
		if err != nil {
			return gateway.Sent{}, err
		}
		s := sent(&m.Receipt)
		if m.Response != nil {
			s.Response = firstContent(m.Response)
			m.Response.Close()
		}
		return s, nil
	default:
		rc, err := c.StoreDelivery(ctx, d)
		if err != nil {
			return gateway.Sent{}, err
		}
		return sent(rc), nil
	}
}

func sent(r *osci.Receipt) gateway.Sent {
	s := gateway.Sent{}
	if r != nil && r.ProcessCard != nil {
		pc := card(r.ProcessCard)
		s.Card, s.At = &pc, pc.Created
	}
	return s
}

func ts(t *osci.Timestamp) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Plain
}

func card(b *osci.ProcessCardBundle) gateway.ProcessCard {
	return gateway.ProcessCard{Exists: true, Created: ts(b.Creation), Forwarded: ts(b.Forwarding), Received: ts(b.Reception)}
}

// ProcessCard reads the card of messageID; an id the intermediary does not
// know as a delivery is Exists=false, not an error.
func (t *Transport) ProcessCard(ctx context.Context, r gateway.Route, messageID string) (gateway.ProcessCard, error) {
	c, err := t.routeClient(r)
	if err != nil {
		return gateway.ProcessCard{}, err
	}
	b, err := c.FetchProcessCard(ctx, messageID)
	if errors.Is(err, osci.ErrNoProcessCard) {
		return gateway.ProcessCard{Exists: false}, nil
	}
	if err != nil {
		return gateway.ProcessCard{}, err
	}
	if b.Creation == nil {
		// A card without creation time describes an issued id, not a
		// delivery the intermediary accepted.
		return gateway.ProcessCard{Exists: false}, nil
	}
	return card(b), nil
}

// firstContent returns the first inline content of the first readable
// container (where the XAusländer message travels).
func firstContent(o *osci.Opened) []byte {
	for _, c := range o.Containers {
		for _, ct := range c.Contents {
			if ct.Data != nil {
				return append([]byte(nil), ct.Data...)
			}
		}
	}
	return nil
}

// Mailbox implements gateway.Mailbox on the gateway's own mailbox at its
// home intermediary.
type Mailbox struct {
	Client *osci.Client
	// PageSize bounds one process-card listing (default 100).
	PageSize int
}

// Pending lists deliveries addressed to the gateway that it has not
// received yet.
func (m *Mailbox) Pending(ctx context.Context) ([]string, error) {
	n := m.PageSize
	if n <= 0 {
		n = 100
	}
	// OSCI applies NoReception and Role only to a date selection, so ask
	// for everything received since a date long before any delivery.
	cards, _, err := m.Client.FetchProcessCards(ctx, osci.CardSelection{ReceivedAfter: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NoReception: true, Role: "Addressee", Limit: n})
	if errors.Is(err, osci.ErrNoProcessCard) {
		return nil, nil // nothing waiting
	}
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(cards))
	for _, c := range cards {
		ids = append(ids, c.MessageID)
	}
	return ids, nil
}

// Fetch fetches one delivery by id (also one fetched before).
func (m *Mailbox) Fetch(ctx context.Context, id string) (gateway.Incoming, error) {
	f, err := m.Client.FetchDelivery(ctx, osci.FetchSelection{MessageID: id})
	if err != nil {
		return gateway.Incoming{}, err
	}
	defer f.Close()
	in := gateway.Incoming{MessageID: id, Content: firstContent(f.Opened)}
	if f.ProcessCard != nil {
		in.ReceivedAt = ts(f.ProcessCard.Creation)
	}
	for _, c := range f.Containers {
		for _, s := range c.Signatures {
			if s.Signer != nil && s.Err == nil {
				in.SignerCert = s.Signer.Raw
			}
		}
	}
	if in.Content == nil {
		return in, gateway.Permanent("no_content", fmt.Errorf("oscitransport: delivery %s has no readable inline content", id))
	}
	return in, nil
}

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
	// Policy checks intermediary and content-signer certificates (chain,
	// validity, revocation when it has a RevocationChecker).
	Policy *keystore.Policy
	// AcceptIntermediarySignatures are signature certificates the operator
	// vouches for as intermediaries', for intermediaries whose route pins
	// none (osci.Config.AcceptIntermediarySignatures).
	AcceptIntermediarySignatures []*x509.Certificate
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

func fingerprint(der []byte) string {
	h := sha256.Sum256(der)
	return hex.EncodeToString(h[:])
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
		Cipher: t.cfg.Cipher, Policy: t.cfg.Policy, HTTPClient: t.cfg.HTTPClient, Logger: t.cfg.Logger, PlainTransport: t.cfg.PlainTransport,
		AcceptIntermediarySignatures: t.cfg.AcceptIntermediarySignatures})
	if err != nil {
		return nil, gateway.Permanent("osci_config", err)
	}
	if sig == nil {
		// Once per intermediary: clients are cached.
		t.cfg.Logger.Warn("no signature certificate pinned for this intermediary; its responses are accepted from the operator of its cipher certificate or from osci.intermediary_signature_certs",
			"intermediary_url", url, "cipher_cert_sha256", fingerprint(cipherDER))
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
			// The same attribution as for a reply fetched from the
			// mailbox: the gateway decides with the signer whether the
			// answer is the ABH's; an unattributable one is still handed
			// on (kept for operators), with no signer.
			content, signer, serr := signedContent(m.Response)
			s.Response = content
			if serr == nil {
				s.ResponseSigner = signer
			}
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

// signedContent returns the XAusländer message of an opened delivery or
// answer and who wrote it: the first inline content of its only content
// container and the DER certificate whose signature covers that container
// (osci.Opened.SignedContainer: exactly one container, one signature,
// verified completely, the certificate accepted by the Policy). When the
// content cannot be attributed to one verified signer, serr says why and
// content is the first readable inline content anywhere (nil if none), so
// the caller can keep it for operators; signer is nil then. With serr nil,
// content is nil only if the signed container has no inline content.
func signedContent(o *osci.Opened) (content, signer []byte, serr error) {
	c, cert, serr := o.SignedContainer()
	if serr != nil {
		return firstContent(o), nil, serr
	}
	for _, ct := range c.Contents {
		if ct.Data != nil {
			return append([]byte(nil), ct.Data...), cert.Raw, nil
		}
	}
	return nil, cert.Raw, nil
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
	// MaxPages bounds how many pages ListReceivedSince reads in one call
	// (default 20); the rest follows at the next poll.
	MaxPages int
	// Logger reports listings it could not complete (default: discard).
	Logger *slog.Logger
}

func (m *Mailbox) pageSize() int {
	if m.PageSize <= 0 {
		return 100
	}
	return m.PageSize
}

func (m *Mailbox) log() *slog.Logger {
	if m.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Logger
}

// Pending lists deliveries addressed to the gateway that nobody has
// received yet (NoReception). A delivery someone else fetched — which marks
// it received — is not listed; ListReceivedSince finds those too.
func (m *Mailbox) Pending(ctx context.Context) ([]string, error) {
	// OSCI applies NoReception and Role only to a date selection; osci
	// selects everything received since the epoch for us.
	cards, _, err := m.Client.FetchProcessCards(ctx, osci.CardSelection{NoReception: true, Role: "Addressee", Limit: m.pageSize()})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(cards))
	for _, c := range cards {
		ids = append(ids, c.MessageID)
	}
	return ids, nil
}

// ListReceivedSince lists, in one explicit dialog, the deliveries for the
// gateway that nobody has received yet and every delivery for the gateway
// the intermediary received at or after since (zero: ever), whether or not
// it was fetched since. newest is the latest reception time up to which the
// date listing is complete (zero when it listed nothing new); callers keep
// it as a high-water mark and ask again from a little before it.
//
// The date listing is what makes replies robust against a third party
// fetching from the gateway's mailbox: NoReception alone would no longer
// list a delivery once anyone marked it received. The ids overlap between
// the two listings and between calls; deduplicating them is the caller's
// job (the gateway records ids in a table keyed by OSCI message id).
func (m *Mailbox) ListReceivedSince(ctx context.Context, since time.Time) (ids []string, newest time.Time, err error) {
	seen := map[string]bool{}
	add := func(cards []osci.ProcessCardBundle) {
		for _, c := range cards {
			if c.MessageID != "" && !seen[c.MessageID] {
				seen[c.MessageID] = true
				ids = append(ids, c.MessageID)
			}
		}
	}
	s, err := m.Client.Dialog(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer func() {
		// A failure to close the dialog does not hide what was listed.
		if xerr := s.ExitDialog(ctx); xerr != nil && err == nil {
			m.log().Debug("closing the mailbox dialog failed", "err", xerr)
		}
	}()
	n := m.pageSize()
	cards, _, err := s.FetchProcessCards(ctx, osci.CardSelection{NoReception: true, Role: "Addressee", Limit: n})
	if err != nil {
		return nil, time.Time{}, err
	}
	add(cards)
	pages := m.MaxPages
	if pages <= 0 {
		pages = 20
	}
	cur := since
	for page := 0; page < pages; page++ {
		sel := osci.CardSelection{ReceivedAfter: cur, Role: "Addressee", Limit: n}
		cards, more, err := s.FetchProcessCards(ctx, sel)
		if err != nil {
			return nil, time.Time{}, err
		}
		add(cards)
		last, ascending := time.Time{}, true
		for _, c := range cards {
			t := ts(c.Creation)
			if t.Before(last) {
				ascending = false
			}
			if t.After(last) {
				last = t
			}
		}
		if !more {
			if last.After(newest) {
				newest = last
			}
			return ids, newest, nil
		}
		// More cards than one page. Moving on from the newest reception
		// time of this page is safe only if the page holds the oldest
		// cards (OSCI does not promise an order; the project's
		// intermediary sorts by reception). Reception selects "at or
		// after", so cards sharing the boundary time are listed again.
		if !ascending || !last.After(cur) {
			m.log().Warn("mailbox date listing cannot page further; deliveries not yet received are still listed, the rest follows when the page moves on",
				"page_size", n, "ascending", ascending)
			return ids, newest, nil
		}
		newest, cur = last, last
	}
	return ids, newest, nil
}

// UnverifiedError reports a delivery that was fetched and decrypted but
// whose content cannot be attributed to exactly one verified signer: no
// content signature, a signature that does not verify, more than one
// container or signature, or containers left encrypted for others. The
// Incoming returned with it carries the content (and no SignerCert) so the
// gateway can keep it for operators instead of dropping it; it must never
// be treated as a reply from the ABH.
type UnverifiedError struct {
	MessageID string
	Err       error
}

func (e *UnverifiedError) Error() string {
	return fmt.Sprintf("oscitransport: delivery %s: content not attributable to one verified signer: %v", e.MessageID, e.Err)
}
func (e *UnverifiedError) Unwrap() error { return e.Err }

// Retryable is false: fetching again returns the same content.
func (e *UnverifiedError) Retryable() bool { return false }

// Code is the metrics and timeline label.
func (e *UnverifiedError) Code() string { return "unverified" }

// Unverified marks the error for the reply poller, which keeps the content
// as an unverified item (it matches on this method, not on the type).
func (e *UnverifiedError) Unverified() bool { return true }

// Fetch fetches one delivery by id (also one fetched before). The content
// is the first inline content of the delivery's only content container,
// and SignerCert the certificate whose signature covers that container
// (osci.Opened.SignedContainer: exactly one container, one signature,
// verified completely, the certificate accepted by the Policy). Anything
// else returns the readable content with an *UnverifiedError.
func (m *Mailbox) Fetch(ctx context.Context, id string) (gateway.Incoming, error) {
	f, err := m.Client.FetchDelivery(ctx, osci.FetchSelection{MessageID: id})
	if err != nil {
		return gateway.Incoming{}, err
	}
	defer f.Close()
	in := gateway.Incoming{MessageID: id}
	if f.ProcessCard != nil {
		in.ReceivedAt = ts(f.ProcessCard.Creation)
		if got := f.ProcessCard.MessageID; got != "" && got != id {
			return gateway.Incoming{}, gateway.Permanent("wrong_delivery", fmt.Errorf("oscitransport: asked for delivery %s, the intermediary returned %s", id, got))
		}
	}
	content, signer, serr := signedContent(f.Opened)
	in.Content = content
	if serr != nil {
		if in.Content == nil {
			return in, gateway.Permanent("no_content", fmt.Errorf("oscitransport: delivery %s has no readable inline content: %w", id, serr))
		}
		return in, &UnverifiedError{MessageID: id, Err: serr}
	}
	if in.Content == nil {
		return in, gateway.Permanent("no_content", fmt.Errorf("oscitransport: delivery %s has no inline content", id))
	}
	in.SignerCert = signer
	return in, nil
}

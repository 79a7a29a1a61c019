package osci

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoDelivery matches (errors.Is) the feedback "no delivery matches the
// selection" (9803) of FetchDelivery; ErrNoProcessCard the 9804 of
// FetchProcessCard.
var (
	ErrNoDelivery    = ErrCode(CodeNoDelivery)
	ErrNoProcessCard = ErrCode(CodeNoProcessCard)
)

// Receipt is the intermediary's answer to a delivery order.
type Receipt struct {
	MessageID string
	// ProcessCard is the process card the response carried (creation time,
	// and for forwardDelivery forwarding and reception).
	ProcessCard *ProcessCardBundle
	// Warnings are 3xxx feedback entries returned alongside success.
	Warnings Feedback
}

// Session is an explicit OSCI dialog (initDialog … exitDialog). Its orders
// are strictly sequential; a Session serialises concurrent callers. Close it
// with ExitDialog.
type Session struct {
	c *Client
	d *Dialog
}

// Dialog opens an explicit dialog with the intermediary (initDialog).
func (c *Client) Dialog(ctx context.Context) (*Session, error) {
	m := &Message{Type: TypeInitDialog, ControlBlock: ControlBlock{SequenceNumber: NoSequence, Challenge: NewChallenge()},
		NonIntermediary: c.originatorCerts(true)}
	o, err := c.exchange(ctx, nil, &request{msg: m})
	if o != nil {
		defer o.Close()
	}
	if err != nil {
		return nil, err
	}
	d := &Dialog{explicit: true, convID: o.ControlBlock.ConversationID, seq: NoSequence, srvChal: o.ControlBlock.Challenge}
	return &Session{c: c, d: d}, nil
}

// ConversationID returns the intermediary's id of the dialog.
func (s *Session) ConversationID() string { return s.d.ConversationID() }

// ExitDialog ends the dialog. The Session cannot be used afterwards.
func (s *Session) ExitDialog(ctx context.Context) error {
	m := &Message{Type: TypeExitDialog, NonIntermediary: s.c.originatorCerts(false)}
	o, err := s.c.exchange(ctx, s.d, &request{msg: m})
	if o != nil {
		o.Close()
	}
	s.d.mu.Lock()
	s.d.closed = true
	s.d.mu.Unlock()
	return err
}

// withDialog runs f in an explicit dialog opened and closed for it.
func (c *Client) withDialog(ctx context.Context, f func(s *Session) error) error {
	s, err := c.Dialog(ctx)
	if err != nil {
		return err
	}
	ferr := f(s)
	// The dialog is closed even when the order failed; a failure to close
	// does not hide the order's result.
	xerr := s.ExitDialog(ctx)
	if ferr != nil {
		return ferr
	}
	return xerr
}

// GetMessageID asks for a fresh message id (implicit dialog). Obtain and
// store it before sending a delivery: after a crash the process card of
// that id tells whether the delivery arrived.
func (c *Client) GetMessageID(ctx context.Context) (string, error) {
	return c.getMessageID(ctx, nil)
}

// GetMessageID asks for a fresh message id inside the dialog.
func (s *Session) GetMessageID(ctx context.Context) (string, error) {
	return s.c.getMessageID(ctx, s.d)
}

func (c *Client) getMessageID(ctx context.Context, d *Dialog) (string, error) {
	m := &Message{Type: TypeGetMessageID, NonIntermediary: c.originatorCerts(true)}
	o, err := c.exchange(ctx, d, &request{msg: m})
	if o != nil {
		defer o.Close()
	}
	if err != nil {
		return "", err
	}
	if o.MessageID == "" {
		return "", errors.New("osci: responseToGetMessageId carries no MessageId")
	}
	return o.MessageID, nil
}

// deliveryRequest builds the order message and content for a delivery.
func (c *Client) deliveryRequest(t MessageType, receiverURI string, d *Delivery) (*request, error) {
	if d == nil {
		return nil, errors.New("osci: no delivery")
	}
	if d.MessageID == "" && t != TypeMediateDelivery {
		return nil, fmt.Errorf("osci: %s needs a MessageId obtained with GetMessageID", t)
	}
	if d.Addressee == nil {
		return nil, errors.New("osci: the delivery has no addressee cipher certificate")
	}
	content, err := buildContent(d, c.signing(), c.signerCertID(), c.cfg.SpoolDir)
	if err != nil {
		return nil, err
	}
	certs := []CertEntry{{CipherCertificateOriginator, CertID("originator", "cipher", c.cfg.Cipher.Certificate), c.cfg.Cipher.Certificate}}
	certs = append(certs, content.certs...)
	certs = append(certs, CertEntry{SignatureCertificateOriginator, c.signerCertID(), c.cfg.Signer.Certificate})
	m := &Message{
		Type:            t,
		Timestamps:      []TimestampQuality{{"creation", "plain"}, {"reception", "plain"}},
		MessageID:       d.MessageID,
		Subject:         d.Subject,
		ContentReceiver: receiverURI,
		NonIntermediary: certs,
	}
	return &request{msg: m, content: content}, nil
}

func receipt(o *Opened) *Receipt {
	r := &Receipt{MessageID: o.MessageID, Warnings: o.Feedback.Warnings()}
	if len(o.ProcessCards) > 0 {
		pc := o.ProcessCards[0]
		r.ProcessCard = &pc
		if r.MessageID == "" {
			r.MessageID = pc.MessageID
		}
	}
	return r
}

// StoreDelivery stores d in the addressee's mailbox at the intermediary
// (implicit dialog).
func (c *Client) StoreDelivery(ctx context.Context, d *Delivery) (*Receipt, error) {
	return c.storeDelivery(ctx, nil, d)
}

// StoreDelivery stores d inside the dialog.
func (s *Session) StoreDelivery(ctx context.Context, d *Delivery) (*Receipt, error) {
	return s.c.storeDelivery(ctx, s.d, d)
}

func (c *Client) storeDelivery(ctx context.Context, dl *Dialog, d *Delivery) (*Receipt, error) {
	req, err := c.deliveryRequest(TypeStoreDelivery, "", d)
	if err != nil {
		return nil, err
	}
	defer req.content.Close()
	o, err := c.exchange(ctx, dl, req)
	if o != nil {
		defer o.Close()
	}
	if err != nil {
		return nil, err
	}
	r := receipt(o)
	if r.MessageID == "" {
		r.MessageID = d.MessageID
	}
	return r, nil
}

// ForwardDelivery hands d to the intermediary for immediate delivery to the
// passive recipient at receiverURI (acceptDelivery); the receipt's process
// card tells when the recipient accepted it.
func (c *Client) ForwardDelivery(ctx context.Context, receiverURI string, d *Delivery) (*Receipt, error) {
	return c.forwardDelivery(ctx, nil, receiverURI, d)
}

// ForwardDelivery forwards inside the dialog.
func (s *Session) ForwardDelivery(ctx context.Context, receiverURI string, d *Delivery) (*Receipt, error) {
	return s.c.forwardDelivery(ctx, s.d, receiverURI, d)
}

func (c *Client) forwardDelivery(ctx context.Context, dl *Dialog, receiverURI string, d *Delivery) (*Receipt, error) {
	if receiverURI == "" {
		return nil, errors.New("osci: forwardDelivery needs the passive recipient's URI")
	}
	req, err := c.deliveryRequest(TypeForwardDelivery, receiverURI, d)
	if err != nil {
		return nil, err
	}
	defer req.content.Close()
	o, err := c.exchange(ctx, dl, req)
	if o != nil {
		defer o.Close()
	}
	if err != nil {
		return nil, err
	}
	r := receipt(o)
	if r.MessageID == "" {
		r.MessageID = d.MessageID
	}
	return r, nil
}

// Mediated is the result of a mediateDelivery: the passive recipient's
// answer, decrypted with our cipher key and verified, plus both process
// cards.
type Mediated struct {
	Receipt
	// Reply is the process card of the recipient's answer.
	Reply *ProcessCardBundle
	// Response is the opened answer content. Close it when done.
	Response *Opened
}

// MediateDelivery sends d to the passive recipient at receiverURI through
// the intermediary (processDelivery) and returns its answer. OSCI requires
// an explicit dialog; the Client opens and closes one around the order.
func (c *Client) MediateDelivery(ctx context.Context, receiverURI string, d *Delivery) (*Mediated, error) {
	var res *Mediated
	err := c.withDialog(ctx, func(s *Session) error {
		var err error
		res, err = s.MediateDelivery(ctx, receiverURI, d)
		return err
	})
	return res, err
}

// MediateDelivery mediates inside the dialog.
func (s *Session) MediateDelivery(ctx context.Context, receiverURI string, d *Delivery) (*Mediated, error) {
	if receiverURI == "" {
		return nil, errors.New("osci: mediateDelivery needs the passive recipient's URI")
	}
	req, err := s.c.deliveryRequest(TypeMediateDelivery, receiverURI, d)
	if err != nil {
		return nil, err
	}
	defer req.content.Close()
	o, err := s.c.exchange(ctx, s.d, req)
	if err != nil {
		if o != nil {
			o.Close()
		}
		return nil, err
	}
	m := &Mediated{Receipt: *receipt(o), Reply: o.ReplyProcessCard, Response: o}
	if m.MessageID == "" {
		m.MessageID = d.MessageID
	}
	return m, nil
}

// FetchSelection says which delivery FetchDelivery takes from the mailbox.
// The zero value takes the oldest delivery not fetched yet.
type FetchSelection struct {
	MessageID     string
	ReceivedAfter time.Time
}

func (s FetchSelection) rule() *Selection {
	switch {
	case s.MessageID != "":
		return &Selection{MessageIDs: []string{s.MessageID}}
	case !s.ReceivedAfter.IsZero():
		return &Selection{ReceptionOfDelivery: s.ReceivedAfter}
	}
	return nil
}

// Fetched is a delivery fetched from our mailbox: decrypted, with every
// signature verified. Close it when done (attachments are spooled).
type Fetched struct {
	*Opened
	// ProcessCard is the delivery's process card.
	ProcessCard *ProcessCardBundle
	// More reports further deliveries waiting (feedback 3800).
	More bool
}

// DeliveryID returns the fetched delivery's message id.
func (f *Fetched) DeliveryID() string {
	if f.ProcessCard != nil {
		return f.ProcessCard.MessageID
	}
	return ""
}

// FetchDelivery fetches one delivery addressed to our cipher certificate.
// OSCI requires an explicit dialog; the Client opens and closes one. No
// matching delivery is an error that matches ErrNoDelivery.
func (c *Client) FetchDelivery(ctx context.Context, sel FetchSelection) (*Fetched, error) {
	var res *Fetched
	err := c.withDialog(ctx, func(s *Session) error {
		var err error
		res, err = s.FetchDelivery(ctx, sel)
		return err
	})
	return res, err
}

// FetchDelivery fetches inside the dialog.
func (s *Session) FetchDelivery(ctx context.Context, sel FetchSelection) (*Fetched, error) {
	m := &Message{Type: TypeFetchDelivery, Selection: sel.rule(), NonIntermediary: s.c.originatorCerts(false)}
	o, err := s.c.exchange(ctx, s.d, &request{msg: m})
	if err != nil {
		if o != nil {
			o.Close()
		}
		return nil, err
	}
	f := &Fetched{Opened: o, More: o.Feedback.Has(CodeFurtherDeliveries)}
	if len(o.ProcessCards) > 0 {
		pc := o.ProcessCards[0]
		f.ProcessCard = &pc
	}
	return f, nil
}

// CardSelection says which process cards FetchProcessCards returns.
//
// OSCI carries NoReception and Role only as attributes of a date rule
// (SelectionDateType). When either is set without ReceivedAfter or
// ModifiedAfter, the request selects by reception since the Unix epoch,
// which means "all"; combining them with MessageIDs is an error.
type CardSelection struct {
	MessageIDs    []string
	ReceivedAfter time.Time // cards of deliveries received at or after
	ModifiedAfter time.Time // cards changed at or after
	NoReception   bool      // only deliveries not yet received by the addressee
	Role          string    // "Addressee" or "Originator": only our incoming / outgoing
	Limit         int
}

// allTime is the date rule used when only NoReception or Role is asked for.
var allTime = time.Unix(0, 0).UTC()

// FetchProcessCards reads process cards (explicit dialog, opened for the
// call). more reports further cards beyond Limit (3801). No matching card
// is an empty list, not an error.
func (c *Client) FetchProcessCards(ctx context.Context, sel CardSelection) (cards []ProcessCardBundle, more bool, err error) {
	err = c.withDialog(ctx, func(s *Session) error {
		cards, more, err = s.FetchProcessCards(ctx, sel)
		return err
	})
	return cards, more, err
}

// FetchProcessCards reads process cards inside the dialog.
func (s *Session) FetchProcessCards(ctx context.Context, sel CardSelection) ([]ProcessCardBundle, bool, error) {
	var rule *Selection
	filtered := sel.NoReception || sel.Role != ""
	if sel.Role != "" && sel.Role != "Addressee" && sel.Role != "Originator" {
		return nil, false, fmt.Errorf("osci: fetchProcessCard: role %q is neither Addressee nor Originator", sel.Role)
	}
	if filtered && len(sel.MessageIDs) > 0 {
		return nil, false, errors.New("osci: fetchProcessCard: NoReception and Role apply only to a date selection, not to message ids")
	}
	if filtered && sel.ReceivedAfter.IsZero() && sel.ModifiedAfter.IsZero() {
		sel.ReceivedAfter = allTime
	}
	switch {
	case len(sel.MessageIDs) > 0:
		rule = &Selection{MessageIDs: sel.MessageIDs}
	case !sel.ReceivedAfter.IsZero():
		rule = &Selection{ReceptionOfDelivery: sel.ReceivedAfter, NoReception: sel.NoReception, Role: sel.Role}
	case !sel.ModifiedAfter.IsZero():
		rule = &Selection{RecentModification: sel.ModifiedAfter, NoReception: sel.NoReception, Role: sel.Role}
	}
	m := &Message{Type: TypeFetchProcessCard, Selection: rule, QuantityLimit: sel.Limit, NonIntermediary: s.c.originatorCerts(false)}
	o, err := s.c.exchange(ctx, s.d, &request{msg: m})
	if o != nil {
		defer o.Close()
	}
	if noneSelected(err, CodeNoProcessCard) {
		return nil, false, nil // an empty selection is a result, not a failure
	}
	if err != nil {
		return nil, false, err
	}
	return o.ProcessCards, o.Feedback.Has(CodeFurtherCards), nil
}

// noneSelected reports whether err is the verified feedback "nothing
// matches the selection" (code), alone. An unsigned fault with the same
// code proves nothing and stays an error.
func noneSelected(err error, code Code) bool {
	var fe *FeedbackError
	if !errors.As(err, &fe) || !fe.Verified {
		return false
	}
	for _, e := range fe.Feedback {
		if s := e.Code.Severity(); (s == SeverityError || s == SeverityUnknown) && e.Code != code {
			return false
		}
	}
	return fe.Feedback.Has(code)
}

// FetchProcessCard reads the process card of one message. A message the
// intermediary verifiably does not know is a *FeedbackError with Verified
// set, matching ErrNoProcessCard; an unsigned fault saying the same is
// returned as the *FaultError it is.
func (c *Client) FetchProcessCard(ctx context.Context, messageID string) (*ProcessCardBundle, error) {
	cards, _, err := c.FetchProcessCards(ctx, CardSelection{MessageIDs: []string{messageID}})
	if err != nil {
		return nil, err
	}
	for i := range cards {
		if cards[i].MessageID == messageID {
			return &cards[i], nil
		}
	}
	// Concluded from a verified response: as verified as the response.
	return nil, &FeedbackError{Feedback: NewFeedback(CodeNoProcessCard), Verified: true}
}

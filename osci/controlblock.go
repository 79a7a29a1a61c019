package osci

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync"
)

// NoSequence marks an absent SequenceNumber in a ControlBlock.
const NoSequence = -1

// ControlBlock is the osci:ControlBlock header: the dialog state that binds
// a request to its response and a response to the next request.
//
// A request carries a fresh Challenge; its response must echo that value in
// Response. Inside an explicit dialog the next request echoes the previous
// response's Challenge in Response, keeps the ConversationId and increments
// the SequenceNumber. A mismatch is OSCI error 9400.
type ControlBlock struct {
	ConversationID string // decimal digits; "" when absent
	SequenceNumber int    // NoSequence when absent
	Response       string // "" when absent
	Challenge      string // "" when absent
}

// NewChallenge returns a fresh challenge: base64 of 10 random bytes, as the
// reference implementation writes it.
func NewChallenge() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms; a zero challenge
		// would silently weaken the dialog binding, so stop instead.
		panic("osci: crypto/rand failed: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

func (cb ControlBlock) String() string {
	s := "ControlBlock{"
	if cb.ConversationID != "" {
		s += "ConversationId=" + cb.ConversationID + " "
	}
	if cb.SequenceNumber != NoSequence {
		s += "SequenceNumber=" + strconv.Itoa(cb.SequenceNumber) + " "
	}
	if cb.Response != "" {
		s += "Response=" + cb.Response + " "
	}
	if cb.Challenge != "" {
		s += "Challenge=" + cb.Challenge
	}
	return s + "}"
}

// presence of the ControlBlock fields per message type, from the OSCI
// schemas (required / optional / prohibited).
type cbRule struct{ conv, seq, resp, chal presence }

type presence uint8

const (
	prohibited presence = iota
	optional
	required
)

var cbRules = map[MessageType]cbRule{
	TypeInitDialog:           {prohibited, prohibited, prohibited, required},
	TypeExitDialog:           {required, required, required, required},
	TypeGetMessageID:         {optional, required, optional, required},
	TypeStoreDelivery:        {optional, required, optional, required},
	TypeFetchDelivery:        {required, required, required, required},
	TypeFetchProcessCard:     {required, required, required, required},
	TypeForwardDelivery:      {optional, required, optional, required},
	TypeAcceptDelivery:       {prohibited, prohibited, prohibited, required},
	TypeMediateDelivery:      {required, required, required, required},
	TypeProcessDelivery:      {prohibited, prohibited, prohibited, required},
	TypePartialStoreDelivery: {optional, required, optional, required},
	TypePartialFetchDelivery: {required, required, required, required},

	TypeResponseToInitDialog:           {required, prohibited, required, required},
	TypeResponseToExitDialog:           {required, required, required, prohibited},
	TypeResponseToGetMessageID:         {required, required, required, optional},
	TypeResponseToStoreDelivery:        {required, required, required, optional},
	TypeResponseToFetchDelivery:        {required, required, required, required},
	TypeResponseToFetchProcessCard:     {required, required, required, required},
	TypeResponseToForwardDelivery:      {optional, optional, required, optional},
	TypeResponseToAcceptDelivery:       {prohibited, prohibited, required, prohibited},
	TypeResponseToMediateDelivery:      {required, required, required, required},
	TypeResponseToProcessDelivery:      {prohibited, prohibited, required, prohibited},
	TypeResponseToPartialStoreDelivery: {required, required, required, optional},
	TypeResponseToPartialFetchDelivery: {required, required, required, required},
}

// NeedsExplicitDialog reports whether orders of type t can only be sent
// inside an explicit dialog (initDialog … exitDialog).
func (t MessageType) NeedsExplicitDialog() bool {
	r, ok := cbRules[t]
	return ok && t.IsRequest() && r.conv == required
}

// checkShape reports the first field of cb that the schema of message type t
// requires but is missing, or forbids but is present.
func (cb ControlBlock) checkShape(t MessageType) error {
	r, ok := cbRules[t]
	if !ok {
		return nil
	}
	return cb.checkRule(t, r)
}

// implicitRule is the ControlBlock of an order in an implicit dialog.
var implicitRule = cbRule{optional, required, optional, required}

// checkReceived is checkShape for a received message, with one allowance:
// an order that needs an explicit dialog but arrives in an implicit one is
// structurally sound, and the receiver answers it with 9802 (the order
// needs an explicit dialog) rather than 9100.
func (cb ControlBlock) checkReceived(t MessageType) error {
	if t.NeedsExplicitDialog() && cb.ConversationID == "" && cb.Response == "" {
		return cb.checkRule(t, implicitRule)
	}
	return cb.checkShape(t)
}

func (cb ControlBlock) checkRule(t MessageType, r cbRule) error {
	check := func(name string, p presence, present bool) error {
		if p == required && !present {
			return fmt.Errorf("osci: %s: ControlBlock lacks %s", t, name)
		}
		if p == prohibited && present {
			return fmt.Errorf("osci: %s: ControlBlock must not carry %s", t, name)
		}
		return nil
	}
	if err := check("ConversationId", r.conv, cb.ConversationID != ""); err != nil {
		return err
	}
	if err := check("SequenceNumber", r.seq, cb.SequenceNumber != NoSequence); err != nil {
		return err
	}
	if err := check("Response", r.resp, cb.Response != ""); err != nil {
		return err
	}
	if err := check("Challenge", r.chal, cb.Challenge != ""); err != nil {
		return err
	}
	if cb.ConversationID != "" && !isDigits(cb.ConversationID) {
		return fmt.Errorf("osci: %s: ConversationId %q is not a decimal number", t, cb.ConversationID)
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ResponseControlBlock builds the ControlBlock an intermediary (or passive
// recipient) writes into the response to a request with control block req:
// it echoes the request's challenge, keeps the conversation and sequence
// number where the response type carries them, and adds a fresh challenge
// where the response type allows one. conversationID is the dialog's id (a
// new one for implicit dialogs).
func ResponseControlBlock(resp MessageType, req ControlBlock, conversationID string) ControlBlock {
	r := cbRules[resp]
	cb := ControlBlock{SequenceNumber: NoSequence, Response: req.Challenge}
	if r.conv != prohibited {
		cb.ConversationID = conversationID
	}
	if r.seq != prohibited {
		cb.SequenceNumber = req.SequenceNumber
		if cb.SequenceNumber == NoSequence && r.seq == required {
			cb.SequenceNumber = 0
		}
	}
	if r.chal != prohibited {
		cb.Challenge = NewChallenge()
	}
	return cb
}

// Dialog is the client side of an OSCI dialog. A zero Dialog is an
// implicit dialog: every order stands alone (SequenceNumber 0, no
// ConversationId). An explicit dialog starts with InitDialog and ends with
// ExitDialog; orders inside it are strictly sequential, so a Dialog
// serialises its users.
type Dialog struct {
	mu       sync.Mutex
	explicit bool
	closed   bool
	convID   string
	seq      int    // sequence number of the last request sent
	srvChal  string // challenge of the last response, echoed next
	lastSent ControlBlock
}

// Explicit reports whether the dialog is an explicit one (after a successful
// InitDialog, until ExitDialog).
func (d *Dialog) Explicit() bool { return d != nil && d.explicit }

// ConversationID returns the intermediary's id of an explicit dialog.
func (d *Dialog) ConversationID() string {
	if d == nil {
		return ""
	}
	return d.convID
}

// implicitRequest is the ControlBlock of an order outside an explicit dialog.
func implicitRequest(t MessageType) ControlBlock {
	cb := ControlBlock{SequenceNumber: NoSequence, Challenge: NewChallenge()}
	if r := cbRules[t]; r.seq == required {
		cb.SequenceNumber = 0
	}
	return cb
}

// nextRequest returns the control block for the next order of type t in the
// explicit dialog d and records it as pending.
func (d *Dialog) nextRequest(t MessageType) (ControlBlock, error) {
	if d.closed {
		return ControlBlock{}, fmt.Errorf("osci: dialog %s is closed", d.convID)
	}
	if t == TypeInitDialog {
		return ControlBlock{}, fmt.Errorf("osci: dialog %s is already initialised", d.convID)
	}
	cb := ControlBlock{
		ConversationID: d.convID,
		SequenceNumber: d.seq + 1,
		Response:       d.srvChal,
		Challenge:      NewChallenge(),
	}
	d.lastSent = cb
	return cb, nil
}

// checkResponse verifies a response's control block against the request's
// (challenge echo, conversation id, sequence number) and advances the
// dialog. Any mismatch is reported as a 9400 fault-equivalent error.
func checkResponse(resp MessageType, req, got ControlBlock, explicitConv string) error {
	if err := got.checkShape(resp); err != nil {
		return &ControlBlockError{Reason: err.Error()}
	}
	if got.Response != req.Challenge {
		return &ControlBlockError{Reason: fmt.Sprintf("response echoes challenge %q, request sent %q", got.Response, req.Challenge)}
	}
	if explicitConv != "" && got.ConversationID != "" && got.ConversationID != explicitConv {
		return &ControlBlockError{Reason: fmt.Sprintf("response belongs to conversation %s, dialog is %s", got.ConversationID, explicitConv)}
	}
	if got.SequenceNumber != NoSequence && req.SequenceNumber != NoSequence && got.SequenceNumber != req.SequenceNumber {
		return &ControlBlockError{Reason: fmt.Sprintf("response has SequenceNumber %d, request had %d", got.SequenceNumber, req.SequenceNumber)}
	}
	return nil
}

// advance records a verified response in an explicit dialog.
func (d *Dialog) advance(got ControlBlock) {
	d.seq = d.lastSent.SequenceNumber
	d.srvChal = got.Challenge
}

// ControlBlockError reports a response whose ControlBlock does not match the
// request (OSCI code 9400). It means the response does not belong to the
// request: it is never accepted.
type ControlBlockError struct{ Reason string }

func (e *ControlBlockError) Error() string {
	return "osci: control block mismatch (9400): " + e.Reason
}

// Code returns "9400".
func (e *ControlBlockError) Code() string { return string(CodeControlBlock) }

// Retryable is true: a new dialog can succeed.
func (e *ControlBlockError) Retryable() bool { return true }

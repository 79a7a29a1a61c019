// Package xacodec adapts the xauslaender and schemas packages to the
// gateway's Codec and ReplyParser ports: validation of posted messages
// (XSDs, code lists, header rules such as nachrichtentyp = root type) and
// their header fields for indexing and linking, read in one pass; JSON
// applications mapped to typed messages with the online service's frame
// filled in; parsing of the ABH's replies, Rückweisungen linked to the
// message they reject.
package xacodec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
)

// ErrNoSender is returned by FromJSON when no sender identity is configured
// (a JSON application needs the online service's Nachrichtenkopf data).
var ErrNoSender = errors.New("xacodec: JSON applications need the sender (online service) identity in the configuration")

// Codec implements gateway.Codec and gateway.ReplyParser. Safe for
// concurrent use.
type Codec struct {
	v      *xauslaender.Validator
	abh    *xauslaender.ABHDirectory
	sender *xauslaender.Sender
}

// New returns a codec validating against bundle. sender may be nil (then
// FromJSON fails with ErrNoSender); its Bundle is set to bundle if empty.
func New(bundle *schemas.Bundle, sender *xauslaender.Sender) (*Codec, error) {
	abh, err := xauslaender.NewABHDirectory(bundle)
	if err != nil {
		return nil, err
	}
	if sender != nil && sender.Bundle == nil {
		s := *sender
		s.Bundle = bundle
		sender = &s
	}
	return &Codec{v: xauslaender.NewValidator(bundle), abh: abh, sender: sender}, nil
}

func problems(r *schemas.Result) *gateway.ValidationError {
	ve := &gateway.ValidationError{}
	for _, p := range r.Problems {
		if p.Severity == schemas.SeverityWarning {
			continue
		}
		ve.Problems = append(ve.Problems, gateway.Problem{Path: p.Path, Line: p.Line, Kind: p.Kind, Message: p.Message})
	}
	if r.Truncated > 0 {
		ve.Problems = append(ve.Problems, gateway.Problem{Kind: "truncated", Message: fmt.Sprintf("%d more problems not listed", r.Truncated)})
	}
	if len(ve.Problems) == 0 {
		ve.Problems = []gateway.Problem{{Kind: schemas.KindInternal, Message: "the message is not valid"}}
	}
	return ve
}

// ParseXML validates data (XSDs, code lists, header rules) and reads its
// message, in one pass over the document.
func (c *Codec) ParseXML(ctx context.Context, data []byte) (*gateway.Message, error) {
	r, m, err := c.v.ValidateAndParse(data)
	if !r.Valid {
		return nil, problems(r)
	}
	if err != nil || m == nil {
		// Valid against the XSD but not a message type of the model
		// (e.g. a non-OZG root element of the bundle).
		msg := fmt.Sprintf("root element {%s}%s is not a message type the gateway handles", r.Namespace, r.Root)
		if err != nil {
			msg = err.Error()
		}
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Kind: schemas.KindUnsupported, Message: msg}}}
	}
	return message(m, data), nil
}

// ParseReply reads a reply. Typed replies are validated (XSDs, code lists,
// header rules); a recognised but untyped one (a Quittung without schema
// in the bundle) is accepted with the header fields read from the XML.
func (c *Codec) ParseReply(ctx context.Context, data []byte) (*gateway.Message, error) {
	r, m, err := c.v.ValidateAndParse(data)
	switch {
	case m != nil && !m.Typed() && r.Namespace != "" && xauslaender.QuittungNS.MatchString(r.Namespace):
		return message(m, data), nil
	case !r.Valid:
		return nil, problems(r)
	case err != nil || m == nil:
		msg := fmt.Sprintf("root element {%s}%s is not a reply the gateway reads", r.Namespace, r.Root)
		if err != nil {
			msg = err.Error()
		}
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Kind: schemas.KindUnsupported, Message: msg}}}
	}
	return message(m, data), nil
}

// FromJSON maps a JSON application (the xauslaender JSON form of the
// message type) to XML addressed to recipient, filling the frame for the
// configured sender, and validates the result.
func (c *Codec) FromJSON(ctx context.Context, messageType string, data []byte, recipient gateway.Authority) (*gateway.Message, error) {
	if messageType == "" {
		messageType = "130101"
	}
	if c.sender == nil {
		return nil, ErrNoSender
	}
	m, err := xauslaender.FromJSON(messageType, "", data)
	if err != nil {
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "/application", Kind: "json", Message: err.Error()}}}
	}
	leser, err := c.abh.Leser(recipient.Key)
	if err != nil {
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "/recipient", Kind: "codelist", Message: err.Error()}}}
	}
	if err := c.sender.Prepare(m, leser); err != nil {
		return nil, fmt.Errorf("xacodec: %w", err)
	}
	xml, err := xauslaender.Marshal(m)
	if err != nil {
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "/application", Kind: "json", Message: err.Error()}}}
	}
	return c.ParseXML(ctx, xml)
}

func message(m *xauslaender.Message, data []byte) *gateway.Message {
	h := m.Header
	out := &gateway.Message{XML: data, TypeCode: m.Code, Version: m.Version, Element: m.Element, Namespace: m.Namespace,
		MessageUUID: h.NachrichtenUUID, ApplicationID: h.Antragsidentifikation, TriggerUUID: h.Reference(),
		ReaderKey: h.Leser.Kennung, AuthorKey: h.Autor.Kennung}
	if t, err := time.Parse("2006-01-02T15:04:05", trimZone(h.Erstellungszeitpunkt)); err == nil {
		out.CreatedAt = t
	}
	return out
}

func trimZone(s string) string {
	if len(s) >= 19 {
		return s[:19]
	}
	return s
}

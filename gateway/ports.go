// Package gateway defines the seams between the xagw daemon and the packages
// that do the standard-specific work: the XAusländer codec (validation,
// header fields, JSON mapping), the DVDV router and the OSCI transport.
//
// The daemon's parts live in subpackages, each with one job:
//
//   - gateway/store     outbox, timeline, inbox and webhook tables on SQLite or PostgreSQL
//   - gateway/atrest    AES-256-GCM encryption of bodies at rest with rotating key ids
//   - gateway/outbox    accepting messages and the delivery state machine with its workers
//   - gateway/replies   polling the gateway's own OSCI mailbox into the inbox
//   - gateway/webhook   HMAC-signed webhook deliveries with persisted backoff
//   - gateway/api       the HTTP API (OpenAPI description in gateway/api/openapi.yaml)
//   - gateway/metrics   Prometheus text exposition
//   - gateway/config    the YAML configuration with XAGW_… environment overrides
//   - gateway/daemon    wiring all of the above into one process (xagw serve)
//
// The interfaces here are deliberately small so that each can be satisfied by
// a thin adapter over the real package (xauslaender, dvdv, osci) and, in
// tests, by a recording implementation that can be told to fail the way the
// real one fails.
package gateway

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Codec is what the gateway needs from the XAusländer package: validate a
// message, read its header, map a JSON application to XML and parse replies.
// Implementations must be safe for concurrent use and must treat all input as
// untrusted (size and depth limits, no DTDs).
type Codec interface {
	// ParseXML validates data (XSD and code lists) and reads its header.
	// Invalid input returns a *ValidationError listing every problem found.
	ParseXML(ctx context.Context, data []byte) (*Message, error)
	// FromJSON maps a JSON application of the given message type (empty:
	// the codec's default, OZG.Antrag) to XML addressed to recipient,
	// validates it and reads its header, like ParseXML.
	FromJSON(ctx context.Context, messageType string, data []byte, recipient Authority) (*Message, error)
}

// Authority names an Ausländerbehörde as configured in the tenant table.
type Authority struct {
	// Key is the ABH key (column BHKNZ of the code list
	// urn:de:xauslaender:codelist:abhkennung).
	Key string
	// Name is the office's display name.
	Name string
}

// Message is a validated XAusländer message with the header fields the
// gateway indexes. None of these fields is personal data; the body is.
type Message struct {
	XML []byte // the exact bytes that are delivered

	TypeCode        string // nachrichtentyp code, e.g. "130101"
	Version         string // standard version, e.g. "26.11"
	Namespace       string // root element namespace
	Element         string // root element local name, e.g. "OZG.Antrag.130101"
	MessageUUID     string // identifikation.nachricht/nachrichtenUUID
	ApplicationID   string // antragsidentifikation, if the message has one
	TriggerUUID     string // ausloeserUUID: the message this one answers, if any
	ReaderKey       string // leser Behördenkennung key (the recipient ABH for outgoing messages)
	AuthorKey       string // autor Behördenkennung key
	CreatedAt       time.Time
	DocumentsInline int // number of inline documents (for metrics only)
}

// Problem is one validation finding, shaped for an HTTP 422 body.
type Problem struct {
	Path    string `json:"path,omitempty"` // element path or JSON pointer
	Line    int    `json:"line,omitempty"` // 1-based line, 0 when unknown
	Kind    string `json:"kind,omitempty"` // e.g. "xsd", "codelist", "json", "xml"
	Message string `json:"message"`        // what is wrong
}

// ValidationError reports why a message was rejected. It is returned by
// Codec implementations and turned into a 422 by the API.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return "invalid message"
	}
	p := e.Problems[0]
	s := "invalid message: " + p.Message
	if p.Path != "" {
		s += " (at " + p.Path + ")"
	}
	if n := len(e.Problems) - 1; n > 0 {
		s += " and " + strconv.Itoa(n) + " more problem(s)"
	}
	return s
}

// Scenario is the OSCI delivery scenario a route asks for.
type Scenario string

// OSCI scenarios. StoreDelivery (into the addressee's mailbox at the
// intermediary) is the default; forward and mediate push to a passive
// recipient.
const (
	ScenarioStore   Scenario = "store"
	ScenarioForward Scenario = "forward"
	ScenarioMediate Scenario = "mediate"
)

// Route says where and how a message for one ABH is delivered. It is stored
// with the message (as JSON) so that, after a restart, the process card is
// asked at the same intermediary the message was sent to.
type Route struct {
	Authority        string    `json:"authority"`                  // ABH key the route was resolved for
	Service          string    `json:"service"`                    // DVDV service specification URI
	IntermediaryURL  string    `json:"intermediary_url"`           // OSCI intermediary endpoint
	IntermediaryCert []byte    `json:"intermediary_cert"`          // DER, intermediary cipher certificate
	IntermediarySig  []byte    `json:"intermediary_sig,omitempty"` // DER, verifies the intermediary's signatures
	AddresseeCipher  []byte    `json:"addressee_cipher"`           // DER, encrypt content for the ABH
	AddresseeSig     []byte    `json:"addressee_sig,omitempty"`
	AddresseeURI     string    `json:"addressee_uri,omitempty"`
	Scenario         Scenario  `json:"scenario"`
	ValidUntil       time.Time `json:"valid_until,omitzero"`
}

// Router resolves the DVDV route for an ABH and a message's standard
// version. Implementations cache; the gateway calls it once per message.
type Router interface {
	Route(ctx context.Context, authority string, version string) (Route, error)
}

// Outgoing is one delivery handed to the transport.
type Outgoing struct {
	MessageID string // OSCI message id obtained beforehand with NewMessageID
	Subject   string // OSCI subject (the gateway uses the XAusländer type code)
	Content   []byte // the XAusländer XML, signed and encrypted for the addressee by the transport
	Route     Route
}

// Sent is what the transport reports after a successful delivery call.
type Sent struct {
	// At is the intermediary's reception time if it reported one.
	At time.Time
	// Card is the process card if the response carried one (OSCI's
	// responseToStoreDelivery does); nil means the gateway fetches it.
	Card *ProcessCard
	// Response is the passive recipient's answer for ScenarioMediate (the
	// processDelivery response content); nil otherwise.
	Response []byte
	// ResponseSigner is the DER certificate whose signature covers the
	// content container Response was read from: the answer carries exactly
	// one content container with exactly one signature, verified completely
	// and by a certificate the trust policy accepts. nil when the answer
	// cannot be attributed to one verified signer. The answer travels
	// inside the intermediary's signed response, but the intermediary only
	// relays what the endpoint it called returned: the gateway takes the
	// answer as the ABH's only if this is the ABH's signature certificate.
	ResponseSigner []byte
}

// ProcessCard is the intermediary's Laufzettel for one message.
type ProcessCard struct {
	// Exists is false when the intermediary does not know the message id
	// as a delivered message (never arrived, or only the id was issued).
	Exists    bool
	Created   time.Time // when the intermediary accepted the message
	Forwarded time.Time // forwarded to a passive recipient (zero if not)
	Received  time.Time // when the recipient fetched/accepted it (zero if not yet)
	Raw       []byte    // the card as the intermediary sent it (for the audit, no content)
}

// Transport delivers messages over OSCI. Errors that the caller should
// classify implement Retryable() bool (see IsRetryable) and optionally
// Code() string (see ErrorCode).
type Transport interface {
	// NewMessageID asks the route's intermediary for a fresh OSCI message id
	// (getMessageId). The gateway stores it before calling Send.
	NewMessageID(ctx context.Context, route Route) (string, error)
	// Send delivers out along out.Route (storeDelivery by default).
	Send(ctx context.Context, out Outgoing) (Sent, error)
	// ProcessCard reads the process card of messageID at route's intermediary.
	ProcessCard(ctx context.Context, route Route, messageID string) (ProcessCard, error)
}

// Incoming is a delivery fetched from the gateway's own mailbox, already
// transport-decrypted, verified and content-decrypted by the transport.
type Incoming struct {
	MessageID  string    // OSCI message id
	Content    []byte    // the XAusländer XML
	ReceivedAt time.Time // intermediary's reception time
	SignerCert []byte    // DER of the certificate that signed the content, if any
}

// Mailbox reads the gateway's own OSCI mailbox. Listing and fetching are
// separate so the gateway can record an id durably before fetching it: OSCI
// marks a delivery as received when it is fetched, so a crash between fetch
// and storing must be recoverable by fetching the same id again.
type Mailbox interface {
	// Pending lists ids of deliveries the gateway has not fetched yet.
	Pending(ctx context.Context) ([]string, error)
	// Fetch returns the delivery with the given id (again, if it was fetched
	// before).
	Fetch(ctx context.Context, messageID string) (Incoming, error)
}

// ReplyParser reads an incoming XAusländer reply.
type ReplyParser interface {
	// ParseReply validates data and reads its header. Unknown or invalid
	// replies return an error; the gateway keeps them for inspection.
	ParseReply(ctx context.Context, data []byte) (*Message, error)
}

// Clock returns the current time; tests inject their own.
type Clock func() time.Time

// IsRetryable reports whether err is a temporary failure. An error that says
// nothing about itself (network errors, timeouts, unknown failures) counts as
// retryable: giving up is only right when the other side said so.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return false
	}
	return true
}

// ErrorCode returns a short, stable reason for err suitable as a metrics
// label and for the timeline: the OSCI feedback code if the error carries
// one, else a generic class.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var c interface{ Code() string }
	if errors.As(err, &c) && c.Code() != "" {
		return c.Code()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return "invalid"
	}
	if IsRetryable(err) {
		return "transient"
	}
	return "permanent"
}

// Permanent wraps err so that IsRetryable reports false, for adapters whose
// underlying errors do not classify themselves.
func Permanent(code string, err error) error { return &classified{err: err, code: code, retry: false} }

// Temporary wraps err so that IsRetryable reports true.
func Temporary(code string, err error) error { return &classified{err: err, code: code, retry: true} }

type classified struct {
	err   error
	code  string
	retry bool
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() error   { return c.err }
func (c *classified) Retryable() bool { return c.retry }
func (c *classified) Code() string    { return c.code }

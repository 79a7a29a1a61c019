package osci

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"

	"github.com/xagw/xagw/osci/internal/certcache"
)

// Message is the protocol content of one OSCI 1.2 envelope: its type, the
// ControlBlock, the order-specific fields, the certificates it carries and
// its content package. Parse fills it from received XML; the composer writes
// it in the reference layout. Fields that a message type does not use stay
// zero.
type Message struct {
	Type         MessageType
	ControlBlock ControlBlock

	// Languages is DesiredLanguages/@LanguagesList of a request, e.g. "de".
	Languages string
	// Timestamps are the QualityOfTimestamp headers (creation, reception).
	Timestamps []TimestampQuality

	// Order-specific fields.

	MessageID         string // the decoded MessageId (sent as base64 of its UTF-8 bytes)
	Subject           string // "" when absent
	ContentReceiver   string // forward/mediateDelivery: URI of the passive recipient
	Selection         *Selection
	QuantityLimit     int // fetchProcessCard Quantity/@Limit, 0 when absent
	Feedback          Feedback
	InsideFeedback    Feedback            // responseToPartialStoreDelivery: feedback of the assembled storeDelivery
	ProcessCards      []ProcessCardBundle // ProcessCardBundle(s), RequestProcessCardBundle, procard
	ReplyProcessCard  *ProcessCardBundle  // responseToMediateDelivery: ReplyProcessCardBundle
	MessageIDResponse string              // processDelivery/MessageIdResponse
	Chunk             *ChunkInformation
	InfoOnly          bool // partialStoreDelivery/InfoOnly

	// NonIntermediary and Intermediary are the certificate headers.
	NonIntermediary []CertEntry
	Intermediary    []CertEntry
	// Features is the osci2017:FeatureDescription header.
	Features *FeatureDescription
}

// TimestampQuality is one osci:QualityOfTimestamp header: which timestamp
// the client wants in the process card and in which quality.
type TimestampQuality struct {
	Service string // "creation" or "reception"
	Quality string // "plain" or "cryptographic"
}

// Selection is the SelectionRule of fetchDelivery, fetchProcessCard and
// partialFetchDelivery. At most one of its fields is set; an empty
// selection (nil *Selection) selects the oldest delivery / all cards.
type Selection struct {
	MessageIDs []string // fetchDelivery takes exactly one
	// ReceptionOfDelivery selects deliveries received at or after the time.
	ReceptionOfDelivery time.Time
	// RecentModification selects process cards changed at or after the time
	// (fetchProcessCard only).
	RecentModification time.Time
	// NoReception and Role qualify a date selection of fetchProcessCard.
	NoReception bool
	Role        string // "Addressee" or "Originator"
}

// ProcessCardBundle is the process card (Laufzettel) of one message: when the
// intermediary received, forwarded and delivered it, plus the certificate
// inspections it made.
type ProcessCardBundle struct {
	MessageID          string
	RecentModification time.Time
	Creation           *Timestamp // receipt of the order at the intermediary
	Forwarding         *Timestamp // forwarding to / storing for the addressee
	Reception          *Timestamp // fetch by (or acceptance of) the addressee
	Subject            string
	Inspections        []Inspection
}

// Timestamp is an OSCI timestamp: plain (local clock of the intermediary) or
// cryptographic (from a time-stamping service).
type Timestamp struct {
	Plain         time.Time
	Cryptographic []byte
	Algorithm     string
}

// Inspection is the intermediary's report on one certificate it checked.
type Inspection struct {
	Timestamp     Timestamp
	SubjectName   string
	IssuerName    string
	SerialNumber  string // decimal
	CertType      string // advanced, qualified, accredited, unknown
	MathResult    string // ok, corrupted, indeterminate
	OfflineResult string // valid, invalid, indeterminate
	OnlineResult  *OnlineResult
}

// OnlineResult is the optional online (OCSP/CRL/LDAP) part of an inspection.
type OnlineResult struct {
	OK    bool // Result="ok" (false: "revoked")
	Check []OnlineCheck
}

// OnlineCheck is one OCSP, CRL or LDAP entry of an OnlineResult.
type OnlineCheck struct {
	Name  string // OCSP, CRL or LDAP
	Value string
}

// ChunkInformation describes one chunk of a chunked (partial) message.
// Which attributes appear depends on the message type; zero values are not
// written, as the reference does.
type ChunkInformation struct {
	ChunkNumber       int
	ChunkSize         int64 // in KB, as the reference counts
	ReceivedChunks    []int
	TotalChunkNumbers int
	TotalMessageSize  int64 // in KB
}

// FeatureDescription is the osci2017:FeatureDescription header: the
// protocol extensions a party supports and, from an intermediary, its limits
// for chunked messages.
type FeatureDescription struct {
	Features            []Feature
	MaxChunkSize        int64
	MaxMessageSize      int64
	MinChunkSize        int64
	ChunkMessageTimeOut int64
}

// Feature is one supported protocol feature.
type Feature struct{ Key, Version string }

// DefaultFeatures are the features the reference library 2.4.1 announces
// (and this implementation supports).
var DefaultFeatures = []Feature{
	{"DisableBase64", "1.2.0"},
	{"OAEPEncryption", "1.6.0"},
	{"SHA3HashAlgo", "1.6.3"},
	{"GCMPaddingModus", "1.7.0"},
	{"PartialMessageTransmission", "1.8.0"},
	{"Support96Bit12ByteIV", "1.9.0"},
}

// CertEntry is one certificate element of a (Non)IntermediaryCertificates
// header.
type CertEntry struct {
	// Element is the local name, e.g. "CipherCertificateAddressee".
	Element string
	// ID is the element's Id attribute, the target of RetrievalMethod URIs.
	ID   string
	Cert *x509.Certificate
}

// Certificate element names.
const (
	CipherCertificateOriginator      = "CipherCertificateOriginator"
	CipherCertificateOtherAuthor     = "CipherCertificateOtherAuthor"
	CipherCertificateAddressee       = "CipherCertificateAddressee"
	CipherCertificateOtherReader     = "CipherCertificateOtherReader"
	SignatureCertificateOriginator   = "SignatureCertificateOriginator"
	SignatureCertificateOtherAuthor  = "SignatureCertificateOtherAuthor"
	SignatureCertificateAddressee    = "SignatureCertificateAddressee"
	CipherCertificateIntermediary    = "CipherCertificateIntermediary"
	SignatureCertificateIntermediary = "SignatureCertificateIntermediary"
)

// nonIntermediaryOrder is the schema order of NonIntermediaryCertificates.
var nonIntermediaryOrder = []string{
	CipherCertificateOriginator, CipherCertificateOtherAuthor, CipherCertificateAddressee,
	CipherCertificateOtherReader, SignatureCertificateOriginator, SignatureCertificateOtherAuthor,
	SignatureCertificateAddressee,
}

// Cert returns the first certificate with the given element name, or nil.
func findCert(entries []CertEntry, element string) *x509.Certificate {
	for _, e := range entries {
		if e.Element == element {
			return e.Cert
		}
	}
	return nil
}

// Cert returns the first non-intermediary certificate with the given element
// name (e.g. CipherCertificateAddressee), or nil.
func (m *Message) Cert(element string) *x509.Certificate {
	if c := findCert(m.NonIntermediary, element); c != nil {
		return c
	}
	return findCert(m.Intermediary, element)
}

// certByID resolves a RetrievalMethod target.
func (m *Message) certByID(id string) *CertEntry {
	for i := range m.NonIntermediary {
		if m.NonIntermediary[i].ID == id {
			return &m.NonIntermediary[i]
		}
	}
	for i := range m.Intermediary {
		if m.Intermediary[i].ID == id {
			return &m.Intermediary[i]
		}
	}
	return nil
}

// CertID returns the Id the reference gives a certificate element: role,
// function and the SHA-256 of the DER certificate in lower-case hex, e.g.
// "addressee_cipher_ac57…". role is originator, addressee, intermed, or
// readerN / authorN with a running number.
func CertID(role, function string, cert *x509.Certificate) string {
	return role + "_" + function + "_" + certFingerprint(cert)
}

// certFingerprint is the hex SHA-256 of the certificate's DER, remembered
// per certificate (a bounded cache): Ids are made for the same few
// certificates many times per message.
func certFingerprint(c *x509.Certificate) string { return fingerprints.Get(c) }

var fingerprints = certcache.NewMemo(func(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
})

// TimeFormat is the xsd:dateTime layout used in process cards and
// selections: seconds precision with a numeric zone offset.
const TimeFormat = "2006-01-02T15:04:05-07:00"

// formatTime renders t in TimeFormat, in UTC when t carries no location so
// the output does not depend on the machine's zone.
func formatTime(t time.Time) string { return t.Format(TimeFormat) }

// parseTime accepts any xsd:dateTime: with or without fractional seconds,
// with Z, an offset or (treated as UTC) no zone.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &time.ParseError{Layout: time.RFC3339, Value: s, Message: ": not an xsd:dateTime"}
}

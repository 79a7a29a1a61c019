package osci

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Code is an OSCI 1.2 feedback code: four decimal digits. Class 0 (08xx)
// means success, class 3 a warning returned alongside a result, class 9 an
// error.
type Code string

// Severity classifies a feedback code.
type Severity int

// Severities of feedback codes.
const (
	SeverityUnknown Severity = iota
	SeveritySuccess
	SeverityWarning
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeveritySuccess:
		return "success"
	case SeverityWarning:
		return "warning"
	case SeverityError:
		return "error"
	}
	return "unknown"
}

// Level says on which level the OSCI specification reports a code: inside
// the Feedback of a response (order level), or as a SOAP fault that replaces
// the response (message level, faultcode soap:Client or soap:Server).
type Level int

// Feedback levels.
const (
	LevelOrder Level = iota
	LevelFaultClient
	LevelFaultServer
)

// codeInfo describes one code of the OSCI 1.2 feedback table.
type codeInfo struct {
	severity  Severity
	level     Level
	retryable bool   // a later attempt of the same order can succeed
	de, en    string // short texts, German as the intermediary writes them
}

// The OSCI 1.2 feedback table (success, warnings, errors on order level,
// SOAP faults on message level), classified for retrying. Retryable means a
// technical, transient condition on the intermediary or the passive
// recipient: sending the same order again later (in a new dialog) can
// succeed. Everything caused by the message itself, its certificates or its
// signature is permanent: resending identical bytes fails identically.
var codes = map[Code]codeInfo{
	"0800": {SeveritySuccess, LevelOrder, false, "Auftrag ausgeführt, Dialog beendet.", "order executed, dialog closed"},
	"0801": {SeveritySuccess, LevelOrder, false, "Auftrag ausgeführt, Dialog weiterhin geöffnet.", "order executed, dialog still open"},

	"3500": {SeverityWarning, LevelOrder, false, "Verschlüsselungszertifikat des Clients außerhalb des Gültigkeitszeitraums.", "client cipher certificate outside its validity period"},
	"3501": {SeverityWarning, LevelOrder, false, "Prüfung des Verschlüsselungszertifikats konnte nicht abgeschlossen werden.", "cipher certificate check could not be completed"},
	"3700": {SeverityWarning, LevelOrder, false, "Signaturzertifikat des Clients außerhalb des Gültigkeitszeitraums.", "client signature certificate outside its validity period"},
	"3701": {SeverityWarning, LevelOrder, false, "Signaturzertifikat eines Autors außerhalb des Gültigkeitszeitraums.", "author signature certificate outside its validity period"},
	"3702": {SeverityWarning, LevelOrder, false, "Signatur des Signaturzertifikats eines Autors ungültig.", "signature of an author signature certificate invalid"},
	"3703": {SeverityWarning, LevelOrder, false, "Signaturzertifikat eines Autors gesperrt.", "author signature certificate revoked"},
	"3704": {SeverityWarning, LevelOrder, false, "Verschlüsselungszertifikat eines Autors außerhalb des Gültigkeitszeitraums.", "author cipher certificate outside its validity period"},
	"3705": {SeverityWarning, LevelOrder, false, "Verschlüsselungszertifikat des Empfängers außerhalb des Gültigkeitszeitraums.", "addressee cipher certificate outside its validity period"},
	"3706": {SeverityWarning, LevelOrder, false, "Verschlüsselungszertifikat eines Lesers außerhalb des Gültigkeitszeitraums.", "reader cipher certificate outside its validity period"},
	"3707": {SeverityWarning, LevelOrder, false, "Zertifikatsprüfung konnte nicht abgeschlossen werden.", "certificate check could not be completed"},
	"3708": {SeverityWarning, LevelOrder, false, "Signaturzertifikat des Empfängers außerhalb des Gültigkeitszeitraums.", "addressee signature certificate outside its validity period"},
	"3800": {SeverityWarning, LevelOrder, false, "Es liegen weitere Zustellungen für diesen Client vor.", "further deliveries are waiting"},
	"3801": {SeverityWarning, LevelOrder, false, "Es liegen weitere Laufzettel vor.", "further process cards are available"},
	"3802": {SeverityWarning, LevelOrder, false, "Signatur der Antwort des Empfängers fehlt.", "response of the passive recipient is not signed"},
	"3803": {SeverityWarning, LevelOrder, false, "Antwortnachricht ist nicht verschlüsselt.", "response message is not encrypted"},
	"3950": {SeverityWarning, LevelOrder, false, "Die innere Rückmeldung enthält eine Warnung.", "the inside feedback contains a warning"},
	"3951": {SeverityWarning, LevelOrder, false, "Zeitlimit für paketierte Nachricht überschritten.", "chunked message time-out exceeded"},
	"3952": {SeverityWarning, LevelOrder, false, "Paketierte Nachricht wird noch verarbeitet.", "chunked message still in processing"},

	"9000": {SeverityError, LevelFaultServer, true, "Interner Fehler beim Supplier.", "internal error at the supplier"},
	"9100": {SeverityError, LevelFaultClient, false, "Nachrichtenstruktur ungültig.", "message structure invalid"},
	"9200": {SeverityError, LevelFaultClient, false, "Kein Schlüssel für die Entschlüsselung auf Nachrichtenebene vorhanden.", "no key for message-level decryption"},
	"9201": {SeverityError, LevelFaultClient, false, "Zertifikat für die Nachrichtenverschlüsselung gesperrt.", "message-level cipher certificate revoked"},
	"9202": {SeverityError, LevelFaultClient, false, "Auftragsdaten konnten nicht entschlüsselt werden.", "order data could not be decrypted"},
	"9300": {SeverityError, LevelFaultClient, false, "Keine gültigen Auftragsdaten.", "no valid order data"},
	"9400": {SeverityError, LevelFaultClient, true, "Fehler im Kontrollblock (Challenge/Response, Dialog, Sequenznummer).", "control block mismatch (challenge/response, dialog or sequence number)"},
	"9500": {SeverityError, LevelFaultClient, false, "Kein Verschlüsselungszertifikat in den Auftragsdaten.", "no cipher certificate in the order data"},
	"9501": {SeverityError, LevelFaultClient, false, "Signatur des Verschlüsselungszertifikats des Clients ungültig.", "signature of the client cipher certificate invalid"},
	"9502": {SeverityError, LevelFaultClient, false, "Verschlüsselungszertifikat des Clients gesperrt.", "client cipher certificate revoked"},
	"9503": {SeverityError, LevelFaultServer, true, "Interner Fehler beim Supplier bei der Prüfung des Verschlüsselungszertifikats.", "internal supplier error while checking the client cipher certificate"},

	"9600": {SeverityError, LevelOrder, false, "Auftrag ist nicht signiert.", "order is not signed"},
	"9601": {SeverityError, LevelOrder, false, "Signatur des Auftrags ungültig.", "order signature invalid"},
	"9602": {SeverityError, LevelOrder, false, "Nicht alle relevanten Nachrichtenteile sind signiert.", "not all relevant message parts are signed"},
	"9603": {SeverityError, LevelOrder, true, "Interner Fehler bei der Signaturprüfung.", "internal error while checking the signature"},
	"9700": {SeverityError, LevelOrder, false, "Signaturzertifikat des Clients ungültig.", "client signature certificate invalid"},
	"9701": {SeverityError, LevelOrder, false, "Signaturzertifikat des Clients gesperrt.", "client signature certificate revoked"},
	"9704": {SeverityError, LevelOrder, false, "Signatur des Verschlüsselungszertifikats eines Autors ungültig.", "signature of an author cipher certificate invalid"},
	"9705": {SeverityError, LevelOrder, false, "Verschlüsselungszertifikat eines Autors gesperrt.", "author cipher certificate revoked"},
	"9706": {SeverityError, LevelOrder, false, "Signatur des Verschlüsselungszertifikats des Empfängers ungültig.", "signature of the addressee cipher certificate invalid"},
	"9707": {SeverityError, LevelOrder, false, "Verschlüsselungszertifikat des Empfängers gesperrt.", "addressee cipher certificate revoked"},
	"9708": {SeverityError, LevelOrder, false, "Signatur des Verschlüsselungszertifikats eines Lesers ungültig.", "signature of a reader cipher certificate invalid"},
	"9709": {SeverityError, LevelOrder, false, "Verschlüsselungszertifikat eines Lesers gesperrt.", "reader cipher certificate revoked"},
	"9710": {SeverityError, LevelOrder, true, "Interner Fehler bei der Zertifikatsprüfung.", "internal error while checking certificates"},
	"9711": {SeverityError, LevelOrder, false, "Signaturzertifikat des Empfängers ungültig.", "addressee signature certificate invalid"},
	"9712": {SeverityError, LevelOrder, false, "Signaturzertifikat des Empfängers gesperrt.", "addressee signature certificate revoked"},
	"9800": {SeverityError, LevelOrder, false, "Keine MessageId angegeben.", "no message id given"},
	"9801": {SeverityError, LevelOrder, false, "MessageId unbekannt, nicht von diesem Intermediär vergeben oder bereits verwendet.", "message id unknown, not issued by this intermediary, or already used"},
	"9802": {SeverityError, LevelOrder, false, "Auftrag erfordert einen expliziten Dialog.", "order requires an explicit dialog"},
	"9803": {SeverityError, LevelOrder, false, "Zu den Kriterien ist keine Zustellung vorhanden.", "no delivery matches the selection"},
	"9804": {SeverityError, LevelOrder, false, "Zu den Kriterien ist kein Laufzettel vorhanden.", "no process card matches the selection"},
	"9805": {SeverityError, LevelOrder, false, "Zustellung vom Empfänger nicht angenommen.", "delivery not accepted by the recipient"},
	"9806": {SeverityError, LevelOrder, true, "Keine Antwort des Empfängers verfügbar.", "no response available from the recipient"},
	"9807": {SeverityError, LevelOrder, false, "Signatur der Antwort des Empfängers ungültig.", "signature of the recipient's response invalid"},
	"9808": {SeverityError, LevelOrder, true, "Interner Fehler beim Empfänger.", "internal error at the recipient"},
	"9809": {SeverityError, LevelOrder, true, "Interner Fehler bei der Weiterleitung, Zustellung nicht erfolgt.", "internal forwarding error, not delivered"},
	// 9810 is deliberately permanent: the delivery did reach the recipient,
	// resending would deliver it twice. The process card tells what happened.
	"9810": {SeverityError, LevelOrder, false, "Interner Fehler bei der Weiterleitung, Zustellung erfolgt.", "internal forwarding error after delivery"},
	"9811": {SeverityError, LevelOrder, true, "Interner Fehler beim Supplier.", "internal supplier error"},
	"9900": {SeverityError, LevelOrder, false, "Paket wurde bereits empfangen.", "duplicate chunk"},
	"9901": {SeverityError, LevelOrder, false, "Ungültige Paketnummer.", "wrong chunk number"},
	"9902": {SeverityError, LevelOrder, false, "Paket überschreitet die maximale Paketgröße.", "chunk larger than the maximum chunk size"},
	"9903": {SeverityError, LevelOrder, false, "Paket unterschreitet die minimale Paketgröße.", "chunk smaller than the minimum chunk size"},
	"9904": {SeverityError, LevelOrder, false, "Nachricht überschreitet die maximale Nachrichtengröße.", "message larger than the maximum message size"},
	"9905": {SeverityError, LevelOrder, false, "Ungültige Paketinformation.", "invalid chunk information"},
	"9950": {SeverityError, LevelOrder, false, "Die innere Rückmeldung enthält einen Fehler.", "the inside feedback contains an error"},
}

// Named codes the library itself produces or branches on.
const (
	CodeOK                 Code = "0800"
	CodeOKDialogOpen       Code = "0801"
	CodeFurtherDeliveries  Code = "3800"
	CodeFurtherCards       Code = "3801"
	CodeUnencryptedReply   Code = "3803"
	CodeInternalServer     Code = "9000"
	CodeStructureInvalid   Code = "9100"
	CodeNoTransportKey     Code = "9200"
	CodeCannotDecrypt      Code = "9202"
	CodeNoValidOrderData   Code = "9300"
	CodeControlBlock       Code = "9400"
	CodeNoClientCipherCert Code = "9500"
	CodeNotSigned          Code = "9600"
	CodeSignatureInvalid   Code = "9601"
	CodeNotAllSigned       Code = "9602"
	CodeSigCertInvalid     Code = "9700"
	CodeNoMessageID        Code = "9800"
	CodeIllegalMessageID   Code = "9801"
	CodeNoExplicitDialog   Code = "9802"
	CodeNoDelivery         Code = "9803"
	CodeNoProcessCard      Code = "9804"
	CodeNotAccepted        Code = "9805"
	CodeNoRecipientReply   Code = "9806"
	CodeRecipientSignature Code = "9807"
	CodeRecipientInternal  Code = "9808"
	CodeForwardFailed      Code = "9809"
	CodeSupplierInternal   Code = "9811"
	CodeDuplicateChunk     Code = "9900"
	CodeWrongChunkNumber   Code = "9901"
	CodeChunkTooLarge      Code = "9902"
	CodeChunkTooSmall      Code = "9903"
	CodeMessageTooLarge    Code = "9904"
	CodeWrongChunkInfo     Code = "9905"
	CodeInsideError        Code = "9950"
	CodeInsideWarning      Code = "3950"
	CodeChunkTimeout       Code = "3951"
	CodeChunkInProcessing  Code = "3952"
)

// Severity classifies the code. Codes outside the table are classified by
// their first digit.
func (c Code) Severity() Severity {
	if i, ok := codes[c]; ok {
		return i.severity
	}
	if len(c) == 4 {
		switch c[0] {
		case '0':
			return SeveritySuccess
		case '3':
			return SeverityWarning
		case '9':
			return SeverityError
		}
	}
	return SeverityUnknown
}

// Retryable reports whether an order that failed with this code may succeed
// when sent again later. Unknown codes are not retryable: resending an
// order OSCI does not promise to be idempotent needs a positive reason.
func (c Code) Retryable() bool { return codes[c].retryable }

// Known reports whether c is in the OSCI 1.2 feedback table.
func (c Code) Known() bool { _, ok := codes[c]; return ok }

// Level says whether the specification reports c in a response's Feedback
// or as a SOAP fault.
func (c Code) Level() Level { return codes[c].level }

// Text returns the German text of a known code in the form intermediaries
// write into Feedback entries, or "" for unknown codes.
func (c Code) Text() string { return codes[c].de }

// Description returns an English description of a known code.
func (c Code) Description() string {
	if i, ok := codes[c]; ok {
		return i.en
	}
	return "unknown feedback code"
}

// Codes returns every code of the feedback table in ascending order.
func Codes() []Code {
	out := make([]Code, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// FeedbackEntry is one osci:Entry of a Feedback block.
type FeedbackEntry struct {
	Lang string // xml:lang, e.g. "de"
	Code Code
	Text string
}

// Feedback is the ordered list of entries of a response.
type Feedback []FeedbackEntry

// NewFeedback builds a feedback list of the given codes with their standard
// German texts.
func NewFeedback(cs ...Code) Feedback {
	f := make(Feedback, 0, len(cs))
	for _, c := range cs {
		f = append(f, FeedbackEntry{Lang: "de", Code: c, Text: c.Text()})
	}
	return f
}

// Has reports whether the feedback contains code c.
func (f Feedback) Has(c Code) bool {
	for _, e := range f {
		if e.Code == c {
			return true
		}
	}
	return false
}

// Warnings returns the warning entries.
func (f Feedback) Warnings() Feedback {
	var out Feedback
	for _, e := range f {
		if e.Code.Severity() == SeverityWarning {
			out = append(out, e)
		}
	}
	return out
}

// Err returns nil when the feedback reports success (an 08xx code and no
// error code), and a *FeedbackError otherwise. Warnings alone do not make an
// error; callers read them with Warnings.
func (f Feedback) Err() error {
	ok, failed := false, false
	for _, e := range f {
		switch e.Code.Severity() {
		case SeveritySuccess:
			ok = true
		case SeverityError, SeverityUnknown:
			failed = true
		}
	}
	if ok && !failed {
		return nil
	}
	return &FeedbackError{Feedback: f}
}

func (f Feedback) String() string {
	parts := make([]string, 0, len(f))
	for _, e := range f {
		t := e.Text
		if t == "" {
			t = e.Code.Description()
		}
		parts = append(parts, string(e.Code)+" "+t)
	}
	return strings.Join(parts, "; ")
}

// FeedbackError is returned when an intermediary (or passive recipient)
// answered an order with error codes, or with no success code at all.
type FeedbackError struct {
	Feedback Feedback
	// Verified reports that the feedback came in a response whose
	// signature verified and that answered this very request (challenge,
	// conversation, sequence number). The Client sets it, also on what it
	// concludes from such a response (FetchProcessCard's "no card for this
	// id"). Feedback from an unsigned SOAP fault is a *FaultError and never
	// verified.
	Verified bool
}

// refusalCodes are the error codes with which an intermediary or passive
// recipient rejects an order itself, before anything is delivered: the
// order's signature and certificates, a missing message id, a missing
// explicit dialog, the recipient's refusal, size and chunk limits.
// Deliberately absent: 9801 (the id may already have been used — by an
// earlier attempt of the same message), 9810 (delivered), internal and
// recipient errors (9000, 9603, 9710, 9806–9808, 9811: the outcome is
// unknown), 9950 and every unknown code.
var refusalCodes = map[Code]bool{
	"9600": true, "9601": true, "9602": true,
	"9700": true, "9701": true, "9704": true, "9705": true, "9706": true, "9707": true, "9708": true, "9709": true, "9711": true, "9712": true,
	"9800": true, "9802": true, "9805": true, "9809": true,
	"9900": true, "9901": true, "9902": true, "9903": true, "9904": true, "9905": true,
}

// Refused reports whether the feedback proves that the order was not
// carried out: it is Verified and every error code in it rejects the order
// itself (see refusalCodes). Anything else — unverified feedback, a SOAP
// fault, 9801, 9810, an unknown code — leaves open whether a delivery
// happened; only the process card can tell. A sender may give a message a
// new message id only after a refusal (or a process card that shows no
// delivery), never after an ambiguous failure.
func (e *FeedbackError) Refused() bool {
	if !e.Verified {
		return false
	}
	seen := false
	for _, en := range e.Feedback {
		if s := en.Code.Severity(); s == SeverityError || s == SeverityUnknown {
			if !refusalCodes[en.Code] {
				return false
			}
			seen = true
		}
	}
	return seen
}

// Code returns FeedbackCode as a string, the form error classifiers (metrics
// labels, the gateway's timeline) read through interface{ Code() string }.
func (e *FeedbackError) Code() string { return string(e.FeedbackCode()) }

// FeedbackCode returns the first error code (or the first code at all when
// there is no error code).
func (e *FeedbackError) FeedbackCode() Code {
	for _, en := range e.Feedback {
		if s := en.Code.Severity(); s == SeverityError || s == SeverityUnknown {
			return en.Code
		}
	}
	if len(e.Feedback) > 0 {
		return e.Feedback[0].Code
	}
	return ""
}

// Retryable reports whether sending the order again later can succeed: true
// only when every error code in the feedback is a transient one.
func (e *FeedbackError) Retryable() bool {
	seen := false
	for _, en := range e.Feedback {
		if s := en.Code.Severity(); s == SeverityError || s == SeverityUnknown {
			if !en.Code.Retryable() {
				return false
			}
			seen = true
		}
	}
	return seen
}

func (e *FeedbackError) Error() string {
	if len(e.Feedback) == 0 {
		return "osci: response carries no feedback"
	}
	return "osci: order failed: " + e.Feedback.String()
}

// Is makes errors.Is(err, osci.Code("9801")) work for any code in the
// feedback.
func (e *FeedbackError) Is(target error) bool {
	if c, ok := target.(codeError); ok {
		return e.Feedback.Has(Code(c))
	}
	return false
}

// FaultError is a SOAP fault returned instead of a response: a message-level
// error (wrong control block, undecryptable message, invalid structure, …).
type FaultError struct {
	FaultCode   string // "soap:Client" or "soap:Server" as sent
	FaultString string
	OSCICode    Code // osci:Code from the fault detail, if present
}

// Code returns the OSCI code of the fault ("" if the fault carried none).
func (e *FaultError) Code() string { return string(e.OSCICode) }

func (e *FaultError) Error() string {
	msg := "osci: SOAP fault " + e.FaultCode
	if e.OSCICode != "" {
		msg += " " + string(e.OSCICode)
	}
	if e.FaultString != "" {
		msg += ": " + e.FaultString
	} else if e.OSCICode != "" {
		msg += ": " + e.OSCICode.Description()
	}
	return msg
}

// Retryable reports whether resending can succeed: server faults and
// transient codes are retryable, client faults are not (except 9400, which a
// fresh dialog resolves).
func (e *FaultError) Retryable() bool {
	if e.OSCICode != "" {
		return e.OSCICode.Retryable()
	}
	return strings.HasSuffix(e.FaultCode, "Server")
}

// Is makes errors.Is(err, osci.ErrCode("9400")) work.
func (e *FaultError) Is(target error) bool {
	if c, ok := target.(codeError); ok {
		return e.OSCICode == Code(c)
	}
	return false
}

// codeError lets a Code be used as an errors.Is target.
type codeError Code

func (c codeError) Error() string { return "osci feedback code " + string(c) }

// ErrCode returns an error value that matches, with errors.Is, any
// *FeedbackError or *FaultError carrying code c:
//
//	if errors.Is(err, osci.ErrCode(osci.CodeNoDelivery)) { … }
func ErrCode(c Code) error { return codeError(c) }

// Retryable reports whether err (or an error it wraps) says that the failed
// operation may succeed when tried again: transient feedback codes, SOAP
// server faults and transport errors marked as temporary.
func Retryable(err error) bool {
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	return false
}

func (e FeedbackEntry) String() string { return fmt.Sprintf("%s %s", e.Code, e.Text) }

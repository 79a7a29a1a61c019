package testvectors

import (
	"fmt"
	"strings"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
)

// Finding is one problem found in an input, with its error class.
type Finding struct {
	Class   string `json:"class"`
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// String returns "class line N path: message".
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Class)
	if f.Line > 0 {
		fmt.Fprintf(&b, " line %d", f.Line)
	}
	if f.Path != "" {
		b.WriteString(" " + f.Path)
	}
	b.WriteString(": " + f.Message)
	return b.String()
}

// XAResult is the outcome of checking one XAusländer document.
type XAResult struct {
	// Class is the primary error class ("" when the document is valid).
	Class    string
	Findings []Finding
	// Header is what could be read of the Nachrichtenkopf (also for
	// invalid documents, as far as present).
	Header HeaderFields
}

// Valid reports whether no error was found.
func (r *XAResult) Valid() bool { return r.Class == "" }

// HeaderFields are the header values the kit compares and links by.
type HeaderFields struct {
	Namespace, Root   string
	Standard, Version string // root attributes
	MessageType       string // nachrichtentyp/code
	NachrichtenUUID   string
	Created           string // erstellungszeitpunkt
	Leser, Autor      string // kennung
	AutorName         string
	// Antragsidentifikation is the application id of the OZG frame.
	Antragsidentifikation string
	AusloeserUUID         string // OZG replies
	// RejectedUUID is rueckweisung/idNachricht/nachrichtenUUID of an
	// XInneres Rückweisung: the message it rejects.
	RejectedUUID string
}

// XAChecker checks XAusländer documents the way a conforming reader must,
// with the project's validator: well-formedness and limits, XSD, code
// lists and the header rules (nachrichtentyp = root type, UUIDs, leser and
// autor, time zone; standard/version attributes). Safe for concurrent use.
type XAChecker struct {
	v *xauslaender.Validator
}

// NewXAChecker returns a checker over the schema bundle.
func NewXAChecker(b *schemas.Bundle) *XAChecker {
	return &XAChecker{v: xauslaender.NewValidator(b)}
}

// Bundle returns the checker's schema bundle.
func (c *XAChecker) Bundle() *schemas.Bundle { return c.v.Bundle() }

// Check validates data, classifies every problem and reads the header
// (also of invalid documents, as far as present).
func (c *XAChecker) Check(data []byte) *XAResult {
	r := &XAResult{}
	// The validator reads the document once for all of it. An error means
	// only that the typed model cannot represent a schema-valid document;
	// the kit judges by the validation result.
	res, msg, _ := c.v.ValidateAndParse(data)
	for _, p := range res.Problems {
		if p.Severity != schemas.SeverityError {
			continue
		}
		r.Findings = append(r.Findings, Finding{Class: classOfKind(p.Kind), Path: p.Path, Line: p.Line, Message: p.Message})
	}
	if !res.Valid && len(r.Findings) == 0 {
		// Fail closed: invalid without a listed error is an internal problem.
		r.Findings = append(r.Findings, Finding{Class: ClassInternal, Message: "validator reported the document invalid without an error"})
	}
	if res.Truncated > 0 {
		r.Findings = append(r.Findings, Finding{Class: ClassSchema, Message: fmt.Sprintf("%d further problems not listed", res.Truncated)})
	}
	if msg == nil && res.Namespace != "" {
		// Well-formed but of no known version (an unknown namespace): the
		// header is still what a reader answers with.
		msg, _ = xauslaender.ReadHeader(data)
	}
	r.Header = HeaderFields{Namespace: res.Namespace, Root: res.Root}
	if msg != nil {
		h := msg.Header
		r.Header.Standard, r.Header.Version = h.Standard, h.StandardVersion
		r.Header.MessageType, r.Header.NachrichtenUUID, r.Header.Created = h.Nachrichtentyp, h.NachrichtenUUID, h.Erstellungszeitpunkt
		r.Header.Leser, r.Header.Autor, r.Header.AutorName = h.Leser.Kennung, h.Autor.Kennung, h.Autor.Name
		r.Header.Antragsidentifikation, r.Header.AusloeserUUID, r.Header.RejectedUUID = h.Antragsidentifikation, h.AusloeserUUID, h.RejectedUUID
	}
	classes := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		classes[i] = f.Class
	}
	r.Class = Primary(classes)
	return r
}

// classOfKind maps the validator's problem kinds onto the kit's classes.
func classOfKind(kind string) string {
	switch kind {
	case schemas.KindXML:
		return ClassXML
	case schemas.KindSchema:
		return ClassSchema
	case schemas.KindCodeList:
		return ClassCodeList
	case schemas.KindUnsupported:
		return ClassNamespace
	case xauslaender.KindHeader:
		return ClassHeader
	case xauslaender.KindVersion:
		return ClassVersion
	default:
		return ClassInternal
	}
}

// IsUUID reports whether s has the UUID form XÖV requires
// (8-4-4-4-12 hexadecimal digits).
func IsUUID(s string) bool { return xauslaender.IsUUID(s) }

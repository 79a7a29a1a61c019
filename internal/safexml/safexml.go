// Package safexml parses untrusted XML into an etree document with limits:
// a maximum size, a maximum element depth, and no document type declarations
// (so no internal or external entities, no entity bombs, no XXE).
//
// Every package that reads XML from outside the process (XAusländer messages,
// OSCI envelopes, decrypted content) parses through here, so the rules are in
// one place.
package safexml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/beevik/etree"
)

// Limits bounds what Parse accepts. Zero fields take the defaults.
type Limits struct {
	// MaxBytes is the largest document accepted (default 64 MiB).
	MaxBytes int64
	// MaxDepth is the deepest element nesting accepted (default 256).
	MaxDepth int
}

// Default limits: generous for real messages, small enough to stop abuse.
const (
	DefaultMaxBytes = 64 << 20
	DefaultMaxDepth = 256
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Error kinds returned (wrapped in *Error) by Parse and Check.
var (
	ErrTooLarge = errors.New("document too large")
	ErrTooDeep  = errors.New("elements nested too deeply")
	ErrDTD      = errors.New("document type declarations (DTD, entities) are not allowed")
	ErrSyntax   = errors.New("not well-formed XML")
	ErrEmpty    = errors.New("no root element")
)

// Error says what is wrong with a document and where.
type Error struct {
	Kind   error  // one of the Err* values
	Line   int    // 1-based line where the problem was found, 0 if unknown
	Detail string // human-readable specifics
}

func (e *Error) Error() string {
	msg := "xml: " + e.Kind.Error()
	if e.Line > 0 {
		msg += fmt.Sprintf(" (line %d)", e.Line)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Kind }

// ReadAll reads at most l.MaxBytes from r and fails with ErrTooLarge beyond.
func ReadAll(r io.Reader, l Limits) ([]byte, error) {
	l = l.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, l.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > l.MaxBytes {
		return nil, &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("more than %d bytes", l.MaxBytes)}
	}
	return data, nil
}

// Check scans data without building a tree and reports the first violation of
// the limits or of well-formedness. Use it before handing bytes to another
// parser (libxml2) that must never see a DTD.
func Check(data []byte, l Limits) error {
	l = l.withDefaults()
	if int64(len(data)) > l.MaxBytes {
		return &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(data), l.MaxBytes)}
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := d.InputPos()
			return &Error{Kind: ErrSyntax, Line: line, Detail: err.Error()}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			if depth > l.MaxDepth {
				line, _ := d.InputPos()
				return &Error{Kind: ErrTooDeep, Line: line, Detail: fmt.Sprintf("limit %d", l.MaxDepth)}
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			line, _ := d.InputPos()
			return &Error{Kind: ErrDTD, Line: line, Detail: firstWords(string(t))}
		}
	}
	if roots == 0 {
		return &Error{Kind: ErrEmpty}
	}
	if depth != 0 {
		return &Error{Kind: ErrSyntax, Detail: "unexpected end of document"}
	}
	return nil
}

// Parse checks data against the limits and returns it as an etree document
// whose whitespace and attribute order are preserved exactly (signatures
// depend on it).
func Parse(data []byte, l Limits) (*etree.Document, error) {
	if err := Check(data, l); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveCData = true
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, &Error{Kind: ErrSyntax, Detail: err.Error()}
	}
	if doc.Root() == nil {
		return nil, &Error{Kind: ErrEmpty}
	}
	return doc, nil
}

// ParseReader is ReadAll followed by Parse.
func ParseReader(r io.Reader, l Limits) (*etree.Document, error) {
	data, err := ReadAll(r, l)
	if err != nil {
		return nil, err
	}
	return Parse(data, l)
}

func firstWords(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return "<!" + s + ">"
}

// Package safexml parses untrusted XML into an etree document with limits:
// a maximum size, a maximum element depth, and no document type declarations
// (so no internal or external entities, no entity bombs, no XXE).
//
// Every package that reads XML from outside the process (XAusländer messages,
// OSCI envelopes, decrypted content) parses through here, so the rules are in
// one place.
package safexml

import (
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
	// MaxAttributes is the largest number of attributes accepted on one
	// element (default 256). Real messages have a handful; the limit keeps
	// later parsers whose duplicate checks are quadratic (libxml2) safe.
	MaxAttributes int
}

// Default limits: generous for real messages, small enough to stop abuse.
const (
	DefaultMaxBytes      = 64 << 20
	DefaultMaxDepth      = 256
	DefaultMaxAttributes = 256
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	return l
}

// Error kinds returned (wrapped in *Error) by Parse and Check.
var (
	ErrTooLarge          = errors.New("document too large")
	ErrTooDeep           = errors.New("elements nested too deeply")
	ErrTooManyAttributes = errors.New("too many attributes on one element")
	ErrDTD               = errors.New("document type declarations (DTD, entities) are not allowed")
	ErrSyntax            = errors.New("not well-formed XML")
	ErrEmpty             = errors.New("no root element")
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
// parser (libxml2) that must never see a DTD. It is a single pass that skips
// character data wholesale, so it costs a small fraction of a parse.
func Check(data []byte, l Limits) error {
	l = l.withDefaults()
	if int64(len(data)) > l.MaxBytes {
		return &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(data), l.MaxBytes)}
	}
	s := scanner{data: data, maxDepth: l.MaxDepth, maxAttrs: l.MaxAttributes}
	return s.run()
}

// Parse checks data against the limits and returns it as an etree document
// whose whitespace and attribute order are preserved exactly (signatures
// depend on it). The tree is the one etree's own reader would build, except
// that attribute values are normalised as XML 1.0 §3.3.3 demands (literal
// tab, CR, LF become spaces), which encoding/xml does not do by itself and
// canonicalisation relies on. Checking and building are one pass.
func Parse(data []byte, l Limits) (*etree.Document, error) {
	l = l.withDefaults()
	if int64(len(data)) > l.MaxBytes {
		return nil, &Error{Kind: ErrTooLarge, Detail: fmt.Sprintf("%d bytes, limit %d", len(data), l.MaxBytes)}
	}
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveCData = true
	s := scanner{data: data, maxDepth: l.MaxDepth, maxAttrs: l.MaxAttributes, doc: doc}
	s.acquire()
	err := s.run()
	s.releaseNames()
	if err != nil {
		return nil, err
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

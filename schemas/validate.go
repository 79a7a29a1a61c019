package schemas

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/schemas/codelist"
	"github.com/xagw/xagw/schemas/internal/libxml"
)

// Problem kinds.
const (
	// KindXML: the document is not well-formed or breaks the limits (size,
	// depth, DTD/entities).
	KindXML = "xml"
	// KindSchema: the document is not valid against the XSD.
	KindSchema = "schema"
	// KindCodeList: a coded value is not in its code list (or the list or
	// version is not available).
	KindCodeList = "codelist"
	// KindUnsupported: the bundle has no schema for the document's namespace.
	KindUnsupported = "unsupported"
	// KindInternal: validation itself failed; the document counts as invalid.
	KindInternal = "internal"
)

// Severities.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Problem is one finding, shaped for humans and for an HTTP 422 body.
type Problem struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	// Path is the element path in the document, e.g.
	// "/OZG.Antrag.130101/referenzperson[2]/geburt": local names, with an
	// index from the second same-named sibling on (the first is plain).
	Path string `json:"path,omitempty"`
	// Line is the 1-based line of the element, 0 when unknown.
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// LogValue keeps problems out of logs in full: messages may quote document
// values (names, numbers), so a logged problem shows only kind, severity,
// path and line. Send the whole problem to the document's sender instead.
func (p Problem) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", p.Kind), slog.String("severity", p.Severity),
		slog.String("path", p.Path), slog.Int("line", p.Line))
}

// String formats the problem for people: "line 12: /a/b: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Severity == SeverityWarning {
		b.WriteString(" (warning)")
	}
	return b.String()
}

// Result is the outcome of validating one document.
type Result struct {
	// Valid is true only when no problem of severity error was found.
	Valid bool `json:"valid"`
	// Namespace and Root name the document's root element, when readable.
	Namespace string `json:"namespace,omitempty"`
	Root      string `json:"root,omitempty"`
	// Schema is the root schema file used, relative to the bundle.
	Schema   string    `json:"schema,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
	// Truncated counts problems not listed because of the per-document limit.
	Truncated int `json:"truncated,omitempty"`
	// CodesChecked counts coded values checked against a code list;
	// CodesUnchecked those whose list could not be determined or is not in
	// the bundle (each of the latter is also a warning problem when known).
	CodesChecked   int `json:"codesChecked"`
	CodesUnchecked int `json:"codesUnchecked"`
	// Captures holds what ValidateOptions.Capture asked for, one entry per
	// path; empty when the document did not reach the XSD validation (not
	// well-formed, no schema). Values come from the document, so they are
	// never part of the JSON form.
	Captures []Capture `json:"-"`
}

// Err returns nil for a valid result and an *InvalidError otherwise.
func (r *Result) Err() error {
	if r.Valid {
		return nil
	}
	return &InvalidError{Result: r}
}

// Errors returns the problems of severity error.
func (r *Result) Errors() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Severity == SeverityError {
			out = append(out, p)
		}
	}
	return out
}

// Add records a problem found by a rule outside this package (a typed
// model's header rules, for example): an empty severity means error, and
// an error makes the result invalid. The per-document limit applies.
func (r *Result) Add(p Problem) { r.add(p) }

func (r *Result) add(p Problem) {
	if p.Severity == "" {
		p.Severity = SeverityError
	}
	if p.Severity == SeverityError {
		r.Valid = false
	}
	if len(r.Problems) >= maxProblems {
		r.Truncated++
		return
	}
	r.Problems = append(r.Problems, p)
}

// maxProblems bounds the problems listed per document.
const maxProblems = 100

// InvalidError is a failed validation as an error.
type InvalidError struct{ Result *Result }

func (e *InvalidError) Error() string {
	errs := e.Result.Errors()
	if len(errs) == 0 {
		return "invalid document"
	}
	msg := fmt.Sprintf("invalid document: %s", errs[0])
	if n := len(errs) - 1 + e.Result.Truncated; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// CodeRef names the code list of an element whose document may leave
// listURI/listVersionID out because the schema fixes them.
type CodeRef struct {
	ListURI       string
	ListVersionID string // empty when the document must say it
	// Enumerated means the schema enumerates the values, so XSD validation
	// already checked them and a missing genericode file is no gap.
	Enumerated bool
}

// CodeLookup maps an element path without indices ("/a/b/c") to the code
// list of that element. Typed message models provide one (see package
// xauslaender); without it only codes that carry a listURI are checked.
type CodeLookup func(path string) (CodeRef, bool)

// ValidateOptions refine one validation.
type ValidateOptions struct {
	Codes CodeLookup
	// Base64 lists the element paths (without indices, "/a/b") whose
	// content is xs:base64Binary; their text is checked strictly, because
	// libxml2 2.9 silently skips characters outside the base64 alphabet.
	// Typed message models provide the list (see package xauslaender).
	Base64 []string
	// PlainBase64 lists Base64 paths whose element type is xs:base64Binary
	// itself (no facets, no default or fixed value) in the bundle being
	// used: their text is checked strictly as for Base64 and not handed to
	// libxml2's validator, whose own base64 check could find nothing more
	// (it was about a tenth of the time of validating an application with
	// documents). Only a caller that knows the bundle's declarations may
	// set it (see package xauslaender).
	PlainBase64 []string
	// NonEmpty lists element paths (without indices) that must not be
	// empty when present: mandatory DIN 91379 datatypeC elements, whose
	// empty value is an XInneres Rückweisung reason (error code S030).
	NonEmpty []string
	// Capture lists paths (without indices) whose first occurrence is read
	// in the same pass: "/a/b" for an element's own text, "/a/@x" for an
	// unqualified attribute of the first /a. Result.Captures has one entry
	// per path, in this order.
	Capture []string
	// Tokens, when set, is called during validation with the document's
	// tokens if the document is well-formed and valid against the XSD
	// (before the code lists are checked): a typed model can be built from
	// them without parsing the document again. The reader is valid only
	// during the call.
	Tokens func(*Tokens)
}

// Capture is what was found at a path of ValidateOptions.Capture.
type Capture = libxml.Capture

// MaxCapture is the number of bytes of a captured value kept.
const MaxCapture = libxml.MaxCapture

// Tokens reads a validated document's tokens (see ValidateOptions.Tokens).
type Tokens = libxml.Tokens

// Token is one item of a validated document (see ValidateOptions.Tokens).
type Token = libxml.Token

// TokenAttr is an attribute of a start element token.
type TokenAttr = libxml.Attr

// TokenKind says what a Token is.
type TokenKind = libxml.TokenKind

// Token kinds.
const (
	StartElement = libxml.StartElement
	Text         = libxml.Text
	EndElement   = libxml.EndElement
)

// Validate checks data against the bundle: limits and well-formedness
// (safexml), XSD validity for the schema of its root namespace, and coded
// values against the code lists. It never returns a passing result when
// anything went wrong internally.
func (b *Bundle) Validate(data []byte, o ValidateOptions) *Result {
	return b.ValidateFor(data, func(string, string) ValidateOptions { return o })
}

// ValidateFor is Validate with the options chosen by the document's root
// element (namespace and local name), which is read once for both: a typed
// model knows what to check only once it knows the message type.
func (b *Bundle) ValidateFor(data []byte, options func(ns, local string) ValidateOptions) *Result {
	r := &Result{Valid: true}
	if err := safexml.Check(data, b.opts.Limits); err != nil {
		r.add(xmlProblem(err))
		return r
	}
	ns, local, err := RootName(data)
	if err != nil {
		r.add(Problem{Kind: KindXML, Message: err.Error()})
		return r
	}
	r.Namespace, r.Root = ns, local
	s, err := b.Schema(ns)
	if err != nil {
		kind := KindInternal
		if errors.Is(err, ErrNoSchema) {
			kind = KindUnsupported
		}
		r.add(Problem{Kind: kind, Path: "/" + local, Line: 1, Message: err.Error()})
		return r
	}
	s.validate(data, options(ns, local), r)
	return r
}

func xmlProblem(err error) Problem {
	p := Problem{Kind: KindXML, Message: err.Error()}
	var se *safexml.Error
	if errors.As(err, &se) {
		p.Line = se.Line
	}
	return p
}

// Validate checks data against this schema set (after the safexml checks).
func (s *Schema) Validate(data []byte, o ValidateOptions) *Result {
	r := &Result{Valid: true}
	if err := safexml.Check(data, s.bundle.opts.Limits); err != nil {
		r.add(xmlProblem(err))
		return r
	}
	r.Namespace, r.Root, _ = RootName(data)
	s.validate(data, o, r)
	return r
}

func (s *Schema) validate(data []byte, o ValidateOptions, r *Result) {
	r.Schema = s.rel
	req := &libxml.Request{Codes: true, Base64: o.Base64, PlainBase64: o.PlainBase64, NonEmpty: o.NonEmpty, Capture: o.Capture}
	out := s.x.Validate(data, req, o.Tokens)
	r.Captures = out.Captures
	libxmlPaths := map[string]bool{}
	for _, d := range out.Diags {
		if d.Code != libxml.CodeExtraCheck {
			libxmlPaths[d.Path] = true
		}
	}
	for _, d := range out.Diags {
		if d.Code == libxml.CodeExtraCheck && libxmlPaths[d.Path] {
			continue // libxml2 already reported this element
		}
		kind := KindSchema
		if d.Domain != libxml.DomainSchemav {
			kind = KindXML
		}
		r.add(Problem{Kind: kind, Path: d.Path, Line: d.Line, Message: d.Message})
	}
	r.Truncated += out.Dropped
	switch {
	case out.Status < 0:
		r.add(Problem{Kind: KindInternal, Message: fmt.Sprintf("libxml2 reported an internal error (status %d)", out.Status)})
	case out.Status > 0 && len(out.Diags) == 0:
		r.add(Problem{Kind: KindSchema, Message: fmt.Sprintf("document rejected by the validator without a message (libxml2 status %d)", out.Status)})
	}
	if out.CodesDropped > 0 {
		r.add(Problem{Kind: KindInternal, Message: fmt.Sprintf("more than %d coded values; %d not checked", len(out.Codes), out.CodesDropped)})
	}
	s.bundle.checkCodes(out.Codes, o, r)
}

// StripIndices turns "/a/b[2]/c" into "/a/b/c" (the form CodeLookup receives).
func StripIndices(path string) string {
	if strings.IndexByte(path, '[') < 0 {
		return path
	}
	b := make([]byte, 0, len(path))
	for i := 0; i < len(path); i++ {
		if path[i] == '[' {
			if j := strings.IndexByte(path[i:], ']'); j > 0 {
				i += j
				continue
			}
		}
		b = append(b, path[i])
	}
	return string(b)
}

func (b *Bundle) checkCodes(codes []libxml.Code, o ValidateOptions, r *Result) {
	var schemaErr map[string]bool // paths the XSD already complained about
	for _, p := range r.Problems {
		if p.Kind == KindSchema {
			if schemaErr == nil {
				schemaErr = map[string]bool{}
			}
			schemaErr[p.Path] = true
		}
	}
	for _, c := range codes {
		var ref CodeRef
		var known bool
		if o.Codes != nil {
			ref, known = o.Codes(StripIndices(c.Path))
		}
		uri, ver := ref.ListURI, ref.ListVersionID
		if c.HasListURI {
			uri = c.ListURI
		}
		if c.HasVersion {
			ver = c.ListVersionID
		}
		if uri == "" {
			r.CodesUnchecked++
			continue
		}
		value := c.Value
		if strings.ContainsAny(value, " \t\r\n") {
			value = strings.Join(strings.Fields(value), " ") // xs:token collapses whitespace
		}
		err := b.lists.Check(uri, ver, value)
		if err == nil {
			r.CodesChecked++
			continue
		}
		if errors.Is(err, codelist.ErrUnknownList) {
			r.CodesUnchecked++
			if known && ref.Enumerated {
				continue // the XSD enumerates the values: already checked
			}
			sev := SeverityWarning
			if b.opts.StrictCodeLists {
				sev = SeverityError
			}
			r.add(Problem{Kind: KindCodeList, Severity: sev, Path: c.Path, Line: c.Line,
				Message: fmt.Sprintf("code list %s is not in the bundle; code %q not checked", uri, value)})
			continue
		}
		r.CodesChecked++
		if schemaErr[c.Path+"/code"] || schemaErr[c.Path] {
			continue // one finding per value: the XSD error already names it
		}
		r.add(Problem{Kind: KindCodeList, Path: c.Path, Line: c.Line, Message: err.Error()})
	}
}

// RootName returns the namespace and local name of the document's root
// element without parsing the rest: it skips the XML declaration,
// comments, processing instructions and a document type declaration, and
// resolves the root's prefix from the root's own namespace declarations
// (the only ones in scope). It does not check well-formedness; call it on
// data that safexml has checked, or accept that garbage gives an error or
// a meaningless name.
func RootName(data []byte) (ns, local string, err error) {
	i := 0
	for {
		j := bytes.IndexByte(data[i:], '<')
		if j < 0 {
			return "", "", errors.New("no root element")
		}
		i += j
		rest := data[i:]
		var end int
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			end = bytes.Index(rest, []byte("?>")) + 2
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = bytes.Index(rest, []byte("-->")) + 3
		case bytes.HasPrefix(rest, []byte("<!")):
			end = bytes.IndexByte(rest, '>') + 1
		default:
			return rootFromTag(rest[1:])
		}
		if end <= 1 {
			return "", "", errors.New("no root element")
		}
		i += end
	}
}

// rootFromTag reads "name attr='v' …>" of a start tag.
func rootFromTag(t []byte) (ns, local string, err error) {
	nameEnd := bytes.IndexAny(t, " \t\r\n/>")
	if nameEnd <= 0 {
		return "", "", errors.New("reading root element: no name")
	}
	qname := string(t[:nameEnd])
	prefix, local := "", qname
	if k := strings.IndexByte(qname, ':'); k >= 0 {
		prefix, local = qname[:k], qname[k+1:]
	}
	want := "xmlns"
	if prefix != "" {
		want = "xmlns:" + prefix
	}
	rest := t[nameEnd:]
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 || rest[0] == '>' || rest[0] == '/' {
			break
		}
		eq := bytes.IndexByte(rest, '=')
		if eq < 0 {
			return "", local, errors.New("reading root element: malformed attribute")
		}
		name := string(bytes.TrimSpace(rest[:eq]))
		rest = bytes.TrimLeft(rest[eq+1:], " \t\r\n")
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return "", local, errors.New("reading root element: unquoted attribute")
		}
		q := rest[0]
		close := bytes.IndexByte(rest[1:], q)
		if close < 0 {
			return "", local, errors.New("reading root element: unterminated attribute")
		}
		value := rest[1 : 1+close]
		rest = rest[close+2:]
		if name == want {
			return unescapeAttr(value), local, nil
		}
	}
	if prefix != "" {
		return "", local, fmt.Errorf("root element %s uses an undeclared prefix", qname)
	}
	return "", local, nil
}

// unescapeAttr resolves the predefined entities and character references
// of an attribute value (namespace URIs rarely have any).
func unescapeAttr(v []byte) string {
	if bytes.IndexByte(v, '&') < 0 {
		return string(v)
	}
	var tok struct {
		V string `xml:"v,attr"`
	}
	if err := xml.Unmarshal([]byte(`<x v="`+string(v)+`"/>`), &tok); err != nil {
		return string(v)
	}
	return tok.V
}

func relPath(base, p string) (string, error) {
	rel, err := filepath.Rel(base, p)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

package xauslaender

import (
	"encoding/xml"
	"fmt"
	"io"
	"sync"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Validator checks messages against the official schemas and code lists of
// a bundle, and against the header rules an office applies that the XSD
// cannot express (KindHeader, KindVersion). It adds to
// schemas.Bundle.Validate what only the typed model knows: the code lists
// of coded values whose listURI the document leaves out (the schema fixes
// it), which elements hold base64 documents or mandatory DIN 91379 text,
// and which header belongs to which message type. Safe for concurrent use.
type Validator struct {
	bundle *schemas.Bundle
	types  sync.Map // root "ns local" → *typeInfo
	models sync.Map // namespace → bool: the bundle compiles the files the model was generated from
}

// NewValidator returns a validator for the bundle.
func NewValidator(b *schemas.Bundle) *Validator { return &Validator{bundle: b} }

// Bundle returns the validator's schema bundle.
func (v *Validator) Bundle() *schemas.Bundle { return v.bundle }

// Validate checks an untrusted document: limits and well-formedness, XSD
// validity, code lists, header rules. The result lists every problem with
// path and line and is shaped for an HTTP 422 body (encoding/json). A
// result is never valid when something went wrong internally.
func (v *Validator) Validate(data []byte) *schemas.Result {
	r, _, _ := v.check(data, false)
	return r
}

// ValidateAndParse validates an untrusted document like Validate and, in
// the same pass (the document is read once by the safexml checks and once
// by libxml2, whose tokens build the typed model), returns the message:
//
//   - valid: the typed message (Body) with its header;
//   - invalid, but of a known message type (or a recognised untyped reply
//     such as a Quittung): a Message without Body whose Header holds what
//     could be read (for answering with a Rückweisung, or linking);
//     Note says why there is no Body;
//   - not readable (not well-formed, unknown root): nil.
//
// The error is set only when a document the schemas accept cannot be
// represented by the typed model (for example an xsi:type the model does
// not support); the result is then valid, the message untyped.
func (v *Validator) ValidateAndParse(data []byte) (*schemas.Result, *Message, error) {
	return v.check(data, true)
}

// ValidateMessage marshals m and validates the bytes; it returns both.
func (v *Validator) ValidateMessage(m xsd.Message) (*schemas.Result, []byte, error) {
	data, err := xsd.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	return v.Validate(data), data, nil
}

func (v *Validator) check(data []byte, parse bool) (*schemas.Result, *Message, error) {
	var ti *typeInfo
	var body xsd.Message
	var decodeErr error
	r := v.bundle.ValidateFor(data, func(ns, local string) schemas.ValidateOptions {
		ti = v.typeInfo(ns, local)
		if ti == nil {
			return schemas.ValidateOptions{}
		}
		o := ti.opts
		if parse {
			o.Tokens = func(t *schemas.Tokens) {
				body = ti.spec.New()
				decodeErr = xsd.UnmarshalTokens(&tokenReader{t: t}, body)
			}
		}
		return o
	})
	if ti != nil {
		checkHeader(ti, r)
	}
	if !parse {
		return r, nil, nil
	}
	if ti == nil {
		if QuittungNS.MatchString(r.Namespace) {
			m, err := parseUntyped(data, r.Namespace, r.Root, quittungNote)
			if err != nil {
				return r, nil, nil // not readable: the result says why
			}
			return r, m, nil
		}
		return r, nil, nil
	}
	m := &Message{Version: ti.ver.Version, Code: ti.spec.Code, Namespace: ti.spec.Namespace, Element: ti.spec.Element}
	switch {
	case !r.Valid:
		m.Header = headerOfCaptures(r.Captures)
		m.Note = "the document is not valid, so it was not read into the typed model; Header holds what could be read"
	case body == nil || decodeErr != nil:
		m.Header = headerOfCaptures(r.Captures)
		m.Note = "the document is valid but the typed model cannot represent it"
		if decodeErr == nil {
			decodeErr = fmt.Errorf("no document tokens") // cannot happen for a valid result; fail closed
		}
		return r, m, fmt.Errorf("xauslaender: %s %s: %w", ti.spec.Element, ti.ver.Version, decodeErr)
	default:
		m.Body = body
		m.Header = HeaderOf(body)
	}
	return r, m, nil
}

// typeInfo is what the validator uses for one message type.
type typeInfo struct {
	spec *xsd.MessageSpec
	ver  *xsd.VersionSpec
	opts schemas.ValidateOptions
	// standard and version are the fixed root attributes of the type ("" when
	// the model has none).
	standard, version string
}

// typeInfo returns what the model knows for the document's message type,
// or nil for a root that is not a typed message (then only codes carrying
// a listURI are checked and no header rules apply).
func (v *Validator) typeInfo(ns, local string) *typeInfo {
	key := ns + " " + local
	if ti, ok := v.types.Load(key); ok {
		return ti.(*typeInfo)
	}
	spec, ver := specByRoot(ns, local)
	if spec == nil {
		return nil // not cached: any root name could come in
	}
	m := spec.New()
	paths := xsd.CodePaths(m)
	lookup := func(path string) (schemas.CodeRef, bool) {
		cl, ok := paths[path]
		if !ok {
			return schemas.CodeRef{}, false
		}
		return schemas.CodeRef{ListURI: cl.URI, ListVersionID: cl.Version, Enumerated: cl.Enumerated}, true
	}
	ti := &typeInfo{spec: spec, ver: ver, opts: schemas.ValidateOptions{
		Codes:    lookup,
		Base64:   xsd.Base64Paths(m),
		NonEmpty: xsd.NonEmptyPaths(m),
		Capture:  headerPaths(local),
	}}
	if plain := xsd.PlainBase64Paths(m); len(plain) > 0 && v.modelMatches(ns, ver) {
		// Elements known to be plain xs:base64Binary in exactly these
		// schema files: checked strictly, their text kept from libxml2.
		isPlain := map[string]bool{}
		for _, p := range plain {
			isPlain[p] = true
		}
		var rest []string
		for _, p := range ti.opts.Base64 {
			if !isPlain[p] {
				rest = append(rest, p)
			}
		}
		ti.opts.Base64, ti.opts.PlainBase64 = rest, plain
	}
	fixed := spec.New()
	if err := xsd.FillFixed(fixed); err == nil {
		ti.standard, _ = xsd.Text(fixed, "@standard")
		ti.version, _ = xsd.Text(fixed, "@version")
	}
	got, _ := v.types.LoadOrStore(key, ti)
	return got.(*typeInfo)
}

// modelMatches reports whether the bundle's schema set for ns was compiled
// from files the model was generated from, byte for byte (catalog
// included): only then does what the generator learnt from the schemas
// hold for validations with this bundle.
func (v *Validator) modelMatches(ns string, ver *xsd.VersionSpec) bool {
	if ok, seen := v.models.Load(ns); seen {
		return ok.(bool)
	}
	ok := false
	if s, err := v.bundle.Schema(ns); err == nil {
		if srcs, err := s.Sources(); err == nil && len(srcs) > 0 {
			want := make(map[string]string, len(ver.Sources))
			for _, src := range ver.Sources {
				want[src.Path] = src.SHA256
			}
			ok = true
			for _, src := range srcs {
				if h, found := want[src.Path]; !found || h != src.SHA256 {
					ok = false
					break
				}
			}
		}
	}
	v.models.Store(ns, ok)
	return ok
}

// ModelMatchesBundle reports whether the bundle compiles, for the message
// type's namespace, exactly the schema files the generated model of its
// version was made from. When it does not (a different download of the
// standard, a locally changed file), validation still checks everything,
// only without the shortcuts that rely on the model's knowledge of the
// schemas.
func (v *Validator) ModelMatchesBundle(code, version string) (bool, error) {
	spec, ver, err := MessageSpec(code, version)
	if err != nil {
		return false, err
	}
	if _, err := v.bundle.Schema(spec.Namespace); err != nil {
		return false, err
	}
	return v.modelMatches(spec.Namespace, ver), nil
}

// tokenReader gives the validation pass's tokens to xsd.UnmarshalTokens.
type tokenReader struct {
	t    *schemas.Tokens
	line int
	ns   string // the last namespace seen, reused (documents use few)
}

func (r *tokenReader) Token() (xml.Token, error) {
	tok, ok, err := r.t.Next()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, io.EOF
	}
	switch tok.Kind {
	case schemas.StartElement:
		r.line = tok.Line
		se := xml.StartElement{Name: xml.Name{Space: r.space(tok.Space), Local: string(tok.Local)}}
		if len(tok.Attrs) > 0 {
			se.Attr = make([]xml.Attr, len(tok.Attrs))
			for i, a := range tok.Attrs {
				se.Attr[i] = xml.Attr{Name: xml.Name{Space: r.space(a.Space), Local: string(a.Local)}, Value: string(a.Value)}
			}
		}
		return se, nil
	case schemas.Text:
		return xml.CharData(tok.Text), nil
	default:
		return xml.EndElement{}, nil
	}
}

func (r *tokenReader) space(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if string(b) != r.ns {
		r.ns = string(b)
	}
	return r.ns
}

func (r *tokenReader) InputPos() (line, column int) { return r.line, 0 }

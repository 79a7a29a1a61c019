package xauslaender

import (
	"sync"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Validator checks messages against the official schemas and code lists of
// a bundle. It adds to schemas.Bundle.Validate what only the typed model
// knows: the code lists of coded values whose listURI the document leaves
// out (the schema fixes it), so those are checked too. Safe for concurrent use.
type Validator struct {
	bundle *schemas.Bundle
}

// NewValidator returns a validator for the bundle.
func NewValidator(b *schemas.Bundle) *Validator { return &Validator{bundle: b} }

// Bundle returns the validator's schema bundle.
func (v *Validator) Bundle() *schemas.Bundle { return v.bundle }

// Validate checks an untrusted document: limits and well-formedness, XSD
// validity, code lists. The result lists every problem with path and line
// and is shaped for an HTTP 422 body (encoding/json). A result is never
// valid when something went wrong internally.
func (v *Validator) Validate(data []byte) *schemas.Result {
	return v.bundle.Validate(data, options(data))
}

// ValidateMessage marshals m and validates the bytes; it returns both.
func (v *Validator) ValidateMessage(m xsd.Message) (*schemas.Result, []byte, error) {
	data, err := xsd.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	return v.Validate(data), data, nil
}

// options returns what the typed model knows for the document's message
// type: the code-list table and the base64 elements. For a root that is not
// a typed message only codes carrying a listURI are checked.
func options(data []byte) schemas.ValidateOptions {
	ns, local, err := schemas.RootName(data)
	if err != nil {
		return schemas.ValidateOptions{}
	}
	key := ns + " " + local
	if o, ok := optionCache.Load(key); ok {
		return o.(schemas.ValidateOptions)
	}
	spec, _ := specByRoot(ns, local)
	if spec == nil {
		return schemas.ValidateOptions{} // not cached: any root name could come in
	}
	o := optionsFor(spec)
	optionCache.Store(key, o)
	return o
}

// optionCache holds the options per message type (root namespace and name).
var optionCache sync.Map

func optionsFor(spec *xsd.MessageSpec) schemas.ValidateOptions {
	m := spec.New()
	paths := xsd.CodePaths(m)
	lookup := func(path string) (schemas.CodeRef, bool) {
		cl, ok := paths[path]
		if !ok {
			return schemas.CodeRef{}, false
		}
		return schemas.CodeRef{ListURI: cl.URI, ListVersionID: cl.Version, Enumerated: cl.Enumerated}, true
	}
	return schemas.ValidateOptions{Codes: lookup, Base64: xsd.Base64Paths(m), NonEmpty: xsd.NonEmptyPaths(m)}
}

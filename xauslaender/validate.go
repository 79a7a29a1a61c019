package xauslaender

import (
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
	return v.bundle.Validate(data, schemas.ValidateOptions{Codes: codeLookup(data)})
}

// ValidateMessage marshals m and validates the bytes; it returns both.
func (v *Validator) ValidateMessage(m xsd.Message) (*schemas.Result, []byte, error) {
	data, err := xsd.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	return v.Validate(data), data, nil
}

// codeLookup returns the code-list table for the document's message type,
// or nil when the root is not a typed message (then only codes carrying a
// listURI are checked).
func codeLookup(data []byte) schemas.CodeLookup {
	ns, local, err := schemas.RootName(data)
	if err != nil {
		return nil
	}
	spec, _ := specByRoot(ns, local)
	if spec == nil {
		return nil
	}
	paths := xsd.CodePaths(spec.New())
	return func(path string) (schemas.CodeRef, bool) {
		cl, ok := paths[path]
		if !ok {
			return schemas.CodeRef{}, false
		}
		return schemas.CodeRef{ListURI: cl.URI, ListVersionID: cl.Version, Enumerated: cl.Enumerated}, true
	}
}

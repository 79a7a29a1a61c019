// Package xmldsig implements the XML signatures of OSCI-Transport 1.2:
// inclusive Canonical XML 1.0, and signatures with many references in one
// ds:SignedInfo — header blocks and the SOAP Body by Id, MIME attachments by
// cid: URL, Base64Content through the base64 transform.
//
// Verification ([Verify]) checks every reference and the signature value,
// refuses duplicate Ids anywhere in the document, refuses SHA-1 and MD5
// unless explicitly allowed, and checks that everything the caller is about
// to act on (the elements and attachments it names) is covered by a
// verified reference, which defeats signature wrapping: an attacker can move
// a signed element elsewhere, but the element the caller processes must be
// the one the signature covers. The result lists each reference with its
// outcome.
//
// Signing ([Signer]) builds ds:Signature in the layout of the reference
// implementation, with RSA PKCS#1 v1.5 (SHA-256 default, SHA-512),
// RSASSA-PSS or ECDSA, through crypto.Signer so an HSM can sign.
//
// Resolving who signed (ds:KeyInfo → certificate) and whether that
// certificate is acceptable is the caller's decision; [ParseSignature] exposes
// KeyInfo and [CertificateByID] follows an OSCI RetrievalMethod.
package xmldsig

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/osci/internal/certcache"
)

// Error kinds; every error from this package wraps one (errors.Is).
var (
	ErrMalformed        = errors.New("malformed signature")
	ErrUnsupported      = errors.New("unsupported algorithm or reference")
	ErrLegacyAlgorithm  = errors.New("legacy algorithm (SHA-1/MD5) not allowed")
	ErrDuplicateID      = errors.New("duplicate Id")
	ErrUnresolved       = errors.New("reference does not resolve")
	ErrDigestMismatch   = errors.New("digest mismatch")
	ErrSignatureInvalid = errors.New("signature value does not verify")
	ErrNotCovered       = errors.New("not covered by the signature")
	ErrKey              = errors.New("key does not fit the signature algorithm")
)

// Error is a failure with the reference URI (if any) and detail.
type Error struct {
	Kind   error
	URI    string
	Detail string
}

func (e *Error) Error() string {
	s := "xmldsig: " + e.Kind.Error()
	if e.URI != "" {
		s += " (" + e.URI + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, uri, format string, args ...any) *Error {
	return &Error{Kind: kind, URI: uri, Detail: fmt.Sprintf(format, args...)}
}

// Signature is a parsed ds:Signature.
type Signature struct {
	Element                *etree.Element
	SignedInfo             *etree.Element
	CanonicalizationMethod string
	SignatureMethod        string
	References             []SignedReference
	SignatureValue         []byte
	KeyInfo                KeyInfo
}

// SignedReference is one ds:Reference as found in SignedInfo.
type SignedReference struct {
	URI          string
	Transforms   []string
	DigestMethod string
	DigestValue  []byte
}

// KeyInfo is what ds:KeyInfo says about the signing key.
type KeyInfo struct {
	// RetrievalMethods lists ds:RetrievalMethod URIs (OSCI: "#<Id of the
	// certificate element>").
	RetrievalMethods []RetrievalMethod
	// Certificates are inline ds:X509Data/ds:X509Certificate values.
	Certificates []*x509.Certificate
}

// RetrievalMethod is a ds:RetrievalMethod.
type RetrievalMethod struct {
	URI, Type string
}

// maxTransforms bounds the transforms of one reference.
const maxTransforms = 4

// ParseSignature checks the structure of a ds:Signature element and returns
// its parts. It does not verify anything.
func ParseSignature(el *etree.Element) (*Signature, error) {
	if !isDS(el, "Signature") {
		return nil, errorf(ErrMalformed, "", "element %s is not ds:Signature", el.FullTag())
	}
	kids, err := dsChildren(el)
	if err != nil {
		return nil, err
	}
	if len(kids) < 2 || !isDS(kids[0], "SignedInfo") || !isDS(kids[1], "SignatureValue") {
		return nil, errorf(ErrMalformed, "", "ds:Signature must start with ds:SignedInfo and ds:SignatureValue")
	}
	s := &Signature{Element: el, SignedInfo: kids[0]}
	for _, k := range kids[2:] {
		switch {
		case isDS(k, "KeyInfo") && s.KeyInfo.RetrievalMethods == nil && s.KeyInfo.Certificates == nil:
			ki, err := parseKeyInfo(k)
			if err != nil {
				return nil, err
			}
			s.KeyInfo = ki
		case isDS(k, "Object"):
		default:
			return nil, errorf(ErrMalformed, "", "unexpected element %s in ds:Signature", k.FullTag())
		}
	}
	sv, err := decodeBase64Text(kids[1])
	if err != nil {
		return nil, errorf(ErrMalformed, "", "ds:SignatureValue: %v", err)
	}
	s.SignatureValue = sv

	si, err := dsChildren(kids[0])
	if err != nil {
		return nil, err
	}
	if len(si) < 3 || !isDS(si[0], "CanonicalizationMethod") || !isDS(si[1], "SignatureMethod") {
		return nil, errorf(ErrMalformed, "", "ds:SignedInfo must hold CanonicalizationMethod, SignatureMethod and at least one Reference")
	}
	if s.CanonicalizationMethod, err = algorithmOf(si[0], false); err != nil {
		return nil, err
	}
	if s.SignatureMethod, err = algorithmOf(si[1], false); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range si[2:] {
		if !isDS(r, "Reference") {
			return nil, errorf(ErrMalformed, "", "unexpected element %s in ds:SignedInfo", r.FullTag())
		}
		ref, err := parseReference(r)
		if err != nil {
			return nil, err
		}
		// A URI referenced twice serves no purpose and multiplies the work
		// (a large Body digested hundreds of times).
		if seen[ref.URI] {
			return nil, errorf(ErrMalformed, ref.URI, "referenced twice")
		}
		seen[ref.URI] = true
		s.References = append(s.References, ref)
	}
	return s, nil
}

func parseReference(r *etree.Element) (SignedReference, error) {
	uriAttr := r.SelectAttr("URI")
	if uriAttr == nil {
		return SignedReference{}, errorf(ErrUnsupported, "", "ds:Reference without URI")
	}
	ref := SignedReference{URI: uriAttr.Value}
	kids, err := dsChildren(r)
	if err != nil {
		return ref, err
	}
	i := 0
	if i < len(kids) && isDS(kids[i], "Transforms") {
		ts, err := dsChildren(kids[i])
		if err != nil {
			return ref, err
		}
		if len(ts) == 0 || len(ts) > maxTransforms {
			return ref, errorf(ErrMalformed, ref.URI, "%d transforms (1 to %d allowed)", len(ts), maxTransforms)
		}
		for _, t := range ts {
			if !isDS(t, "Transform") {
				return ref, errorf(ErrMalformed, ref.URI, "unexpected element %s in ds:Transforms", t.FullTag())
			}
			alg, err := algorithmOf(t, false)
			if err != nil {
				return ref, err
			}
			ref.Transforms = append(ref.Transforms, alg)
		}
		i++
	}
	if i+2 != len(kids) || !isDS(kids[i], "DigestMethod") || !isDS(kids[i+1], "DigestValue") {
		return ref, errorf(ErrMalformed, ref.URI, "ds:Reference must hold [Transforms] DigestMethod DigestValue")
	}
	if ref.DigestMethod, err = algorithmOf(kids[i], false); err != nil {
		return ref, err
	}
	if ref.DigestValue, err = decodeBase64Text(kids[i+1]); err != nil {
		return ref, errorf(ErrMalformed, ref.URI, "ds:DigestValue: %v", err)
	}
	return ref, nil
}

func parseKeyInfo(k *etree.Element) (KeyInfo, error) {
	var ki KeyInfo
	kids, err := dsChildren(k)
	if err != nil {
		return ki, err
	}
	for _, c := range kids {
		switch {
		case isDS(c, "RetrievalMethod"):
			ki.RetrievalMethods = append(ki.RetrievalMethods, RetrievalMethod{URI: c.SelectAttrValue("URI", ""), Type: c.SelectAttrValue("Type", "")})
		case isDS(c, "X509Data"):
			for _, x := range c.ChildElements() {
				if !isDS(x, "X509Certificate") {
					continue
				}
				der, err := decodeBase64Text(x)
				if err != nil {
					return ki, errorf(ErrMalformed, "", "ds:X509Certificate: %v", err)
				}
				cert, err := certcache.Parse(der)
				if err != nil {
					return ki, errorf(ErrMalformed, "", "ds:X509Certificate: %v", err)
				}
				ki.Certificates = append(ki.Certificates, cert)
			}
		}
	}
	return ki, nil
}

// algorithmOf returns the Algorithm attribute; with allowChildren false the
// element must not have child elements (parameters we do not implement,
// such as HMACOutputLength or XPath, must not be silently ignored).
func algorithmOf(el *etree.Element, allowChildren bool) (string, error) {
	alg := el.SelectAttr("Algorithm")
	if alg == nil || alg.Value == "" {
		return "", errorf(ErrMalformed, "", "%s without Algorithm", el.FullTag())
	}
	if !allowChildren && len(el.ChildElements()) > 0 {
		return "", errorf(ErrUnsupported, "", "%s %s with parameters", el.FullTag(), alg.Value)
	}
	return alg.Value, nil
}

// dsChildren returns the child elements, refusing non-white text between
// them (mixed content is not part of the XML-DSig schema).
func dsChildren(el *etree.Element) ([]*etree.Element, error) {
	var out []*etree.Element
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			out = append(out, t)
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, errorf(ErrMalformed, "", "text inside %s", el.FullTag())
			}
		}
	}
	return out, nil
}

// isDS reports whether el is the XML-DSig element local.
func isDS(el *etree.Element, local string) bool {
	return el.Tag == local && namespaceOf(el) == NamespaceDSig
}

// namespaceOf resolves el's prefix through its ancestors.
func namespaceOf(el *etree.Element) string {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if p, ok := nsDeclPrefix(a); ok && p == el.Space {
				return a.Value
			}
		}
	}
	if el.Space == "xml" {
		return nsXML
	}
	return ""
}

// Base64Text decodes the base64 text of el exactly as the base64 transform
// digests it. Only character data may appear inside el: child elements,
// comments and processing instructions are refused. XPath's string-value
// (what the transform reads) skips them, while a reader taking the text up
// to the first child (etree's Text) stops there, so an element with such
// children could verify over bytes other than those a caller uses.
// Line breaks, blanks and tabs between the base64 characters are allowed.
func Base64Text(el *etree.Element) ([]byte, error) {
	s, err := onlyText(el)
	if err != nil {
		return nil, err
	}
	return decodeBase64(s)
}

// onlyText returns the character data of el, refusing any other child.
func onlyText(el *etree.Element) (string, error) {
	if len(el.Child) == 1 {
		if t, ok := el.Child[0].(*etree.CharData); ok {
			return t.Data, nil // the common case: one text token, no copy
		}
	}
	var b strings.Builder
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Element:
			return "", fmt.Errorf("%s contains the element %s; only base64 text is allowed", el.FullTag(), t.FullTag())
		case *etree.Comment:
			return "", fmt.Errorf("%s contains a comment; only base64 text is allowed", el.FullTag())
		case *etree.ProcInst:
			return "", fmt.Errorf("%s contains a processing instruction; only base64 text is allowed", el.FullTag())
		default:
			return "", fmt.Errorf("%s contains %T; only base64 text is allowed", el.FullTag(), tok)
		}
	}
	return b.String(), nil
}

// decodeBase64 decodes base64 text with line breaks and other white space.
func decodeBase64(s string) ([]byte, error) {
	if strings.IndexByte(s, ' ') < 0 && strings.IndexByte(s, '\t') < 0 {
		// encoding/base64 skips CR and LF by itself: no copy without them.
		return base64.StdEncoding.DecodeString(s)
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

func decodeBase64Text(el *etree.Element) ([]byte, error) {
	return Base64Text(el)
}

// IDIndex maps unqualified Id attribute values to their elements.
type IDIndex struct {
	byID map[string]*etree.Element
}

// NewIDIndex indexes every element under root (inclusive) by its unqualified
// Id attribute. An Id used twice is an error: which element a reference
// means would be ambiguous, the classic signature-wrapping opening.
func NewIDIndex(root *etree.Element) (*IDIndex, error) {
	idx := &IDIndex{byID: map[string]*etree.Element{}}
	var walk func(*etree.Element) error
	walk = func(e *etree.Element) error {
		for _, a := range e.Attr {
			if a.Space == "" && a.Key == "Id" {
				if prev, dup := idx.byID[a.Value]; dup {
					return errorf(ErrDuplicateID, "#"+a.Value, "on %s and %s", prev.GetPath(), e.GetPath())
				}
				idx.byID[a.Value] = e
			}
		}
		for _, t := range e.Child { // not ChildElements: no slice per element
			if c, ok := t.(*etree.Element); ok {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return idx, nil
}

// Lookup returns the element with that Id, or nil.
func (x *IDIndex) Lookup(id string) *etree.Element { return x.byID[id] }

// CertificateByID returns the first ds:X509Certificate inside the element
// with the given Id (the target of an OSCI ds:RetrievalMethod such as
// "#originator_signature_…"; a leading "#" is accepted).
func CertificateByID(idx *IDIndex, id string) (*x509.Certificate, error) {
	id = strings.TrimPrefix(id, "#")
	el := idx.Lookup(id)
	if el == nil {
		return nil, errorf(ErrUnresolved, "#"+id, "no element with this Id")
	}
	var found *etree.Element
	var walk func(*etree.Element)
	walk = func(e *etree.Element) {
		for _, c := range e.ChildElements() {
			if found != nil {
				return
			}
			if isDS(c, "X509Certificate") {
				found = c
				return
			}
			walk(c)
		}
	}
	walk(el)
	if found == nil {
		return nil, errorf(ErrUnresolved, "#"+id, "element holds no ds:X509Certificate")
	}
	der, err := decodeBase64Text(found)
	if err != nil {
		return nil, errorf(ErrMalformed, "#"+id, "ds:X509Certificate: %v", err)
	}
	cert, err := certcache.Parse(der)
	if err != nil {
		return nil, errorf(ErrMalformed, "#"+id, "ds:X509Certificate: %v", err)
	}
	return cert, nil
}

// documentRoot returns the top-most element above el (etree's document
// node if el belongs to a document).
func documentRoot(el *etree.Element) *etree.Element {
	for el.Parent() != nil {
		el = el.Parent()
	}
	return el
}

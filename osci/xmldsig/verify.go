package xmldsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"strings"

	"github.com/beevik/etree"
)

// CIDResolver returns the bytes a "cid:" reference covers, given the
// Content-ID (already percent-decoded, without angle brackets). For an OSCI
// ClientSignature that is the MIME part body as transmitted; for a
// ContentContainer signature it is the attachment plaintext. The verifier
// streams the reader into the digest and closes it.
type CIDResolver func(contentID string) (io.ReadCloser, error)

// VerifyOptions say what to verify against and what must be covered.
type VerifyOptions struct {
	// Key is the public key of the expected signer (from a certificate the
	// caller has resolved and checked). Required unless KeyFrom is set.
	Key crypto.PublicKey
	// KeyFrom, used when Key is nil, chooses the key from the parsed
	// signature (typically from its KeyInfo), so that a caller resolving
	// the signer does not parse the signature a second time. An error from
	// it ends the verification with exactly that error: nothing else is
	// checked.
	KeyFrom func(*Signature) (crypto.PublicKey, error)
	// ResolveCID resolves cid: references. Without it, any cid: reference
	// fails.
	ResolveCID CIDResolver
	// Required are elements the caller will act on. Each must be a
	// referenced element or lie inside one (for a base64 reference only the
	// element itself counts). Compared by identity, so a copy of a signed
	// element elsewhere does not count.
	Required []*etree.Element
	// RequiredCIDs are Content-IDs that must be referenced.
	RequiredCIDs []string
	// AllowLegacy accepts SHA-1 and MD5 digests and signatures. For reading
	// old archives only; never set for live traffic.
	AllowLegacy bool
	// MaxReferences bounds the references processed (default 256).
	MaxReferences int
}

// Result describes a verification, also when it failed.
type Result struct {
	Signature *Signature // nil if the signature could not be parsed
	// SignatureValueOK is true if ds:SignatureValue verified over the
	// canonical SignedInfo with Key.
	SignatureValueOK bool
	References       []ReferenceResult
}

// ReferenceResult is the outcome for one ds:Reference.
type ReferenceResult struct {
	URI          string
	Transforms   []string
	DigestMethod string
	// Element is what a "#Id" reference resolved to; ContentID what a
	// "cid:" reference named.
	Element   *etree.Element
	ContentID string
	// Data are the octets a same-document reference with the base64
	// transform digested (nil for every other reference). A caller that
	// acts on the content of such an element should use exactly these
	// bytes: they are what the signature covers.
	Data []byte
	OK   bool
	Err  error // nil if OK
}

// Verify verifies the ds:Signature element sig. It returns a Result in every
// case where sig could be parsed, and an error (errors.Join of every
// failure, each an *Error) unless every reference, the signature value and
// the coverage requirements hold. Ids are resolved in the whole document
// containing sig.
func Verify(sig *etree.Element, opts VerifyOptions) (*Result, error) {
	res := &Result{}
	s, err := ParseSignature(sig)
	if err != nil {
		return res, err
	}
	res.Signature = s
	key := opts.Key
	if key == nil && opts.KeyFrom != nil {
		if key, err = opts.KeyFrom(s); err != nil {
			return res, err
		}
	}
	if key == nil {
		return res, errorf(ErrKey, "", "no verification key given")
	}
	maxRefs := opts.MaxReferences
	if maxRefs <= 0 {
		maxRefs = 256
	}
	if len(s.References) > maxRefs {
		return res, errorf(ErrMalformed, "", "%d references, limit %d", len(s.References), maxRefs)
	}
	idx, err := NewIDIndex(documentRoot(sig))
	if err != nil {
		return res, err
	}

	var errs []error
	c14nOpt, err := c14nMethod(s.CanonicalizationMethod)
	if err != nil {
		errs = append(errs, err)
	}
	salg, err := signatureMethod(s.SignatureMethod, opts.AllowLegacy)
	if err != nil {
		errs = append(errs, err)
	}

	for _, ref := range s.References {
		rr := verifyReference(ref, sig, idx, opts)
		if rr.Err != nil {
			errs = append(errs, rr.Err)
		}
		res.References = append(res.References, rr)
	}

	if c14nOpt != nil && salg != nil {
		if err := verifyValue(s, *c14nOpt, *salg, key); err != nil {
			errs = append(errs, err)
		} else {
			res.SignatureValueOK = true
		}
	}
	errs = append(errs, checkCoverage(res.References, sig, opts)...)
	return res, errors.Join(errs...)
}

func c14nMethod(uri string) (*c14nOptions, error) {
	switch uri {
	case C14N10:
		return &c14nOptions{}, nil
	case C14N10WithComments:
		return &c14nOptions{withComments: true}, nil
	}
	return nil, errorf(ErrUnsupported, "", "canonicalization method %s", uri)
}

func signatureMethod(uri string, allowLegacy bool) (*signatureAlg, error) {
	alg, ok := signatureAlgs[uri]
	if !ok {
		return nil, errorf(ErrUnsupported, "", "signature method %s", uri)
	}
	if alg.legacy && !allowLegacy {
		return nil, errorf(ErrLegacyAlgorithm, "", "signature method %s", uri)
	}
	return &alg, nil
}

func digestMethod(uri, ref string, allowLegacy bool) (crypto.Hash, error) {
	alg, ok := digestAlgs[uri]
	if !ok {
		return 0, errorf(ErrUnsupported, ref, "digest method %s", uri)
	}
	if alg.legacy && !allowLegacy {
		return 0, errorf(ErrLegacyAlgorithm, ref, "digest method %s", uri)
	}
	return alg.hash, nil
}

func verifyReference(ref SignedReference, sig *etree.Element, idx *IDIndex, opts VerifyOptions) ReferenceResult {
	rr := ReferenceResult{URI: ref.URI, Transforms: ref.Transforms, DigestMethod: ref.DigestMethod}
	h, err := digestMethod(ref.DigestMethod, ref.URI, opts.AllowLegacy)
	if err != nil {
		rr.Err = err
		return rr
	}
	if len(ref.DigestValue) != h.Size() {
		rr.Err = errorf(ErrMalformed, ref.URI, "DigestValue has %d bytes, %s needs %d", len(ref.DigestValue), ref.DigestMethod, h.Size())
		return rr
	}
	d := h.New()
	switch {
	case strings.HasPrefix(ref.URI, "#"):
		rr.Element, rr.Data, err = digestElementRef(d, ref, sig, idx)
	case len(ref.URI) >= 4 && strings.EqualFold(ref.URI[:4], "cid:"):
		rr.ContentID, err = digestCIDRef(d, ref, opts.ResolveCID)
	default:
		err = errorf(ErrUnsupported, ref.URI, "only #Id and cid: references are supported")
	}
	if err != nil {
		rr.Err = err
		return rr
	}
	var sum [64]byte
	if got := d.Sum(sum[:0]); subtle.ConstantTimeCompare(got, ref.DigestValue) != 1 {
		rr.Data = nil
		rr.Err = errorf(ErrDigestMismatch, ref.URI, "computed %s, signed %s",
			base64.StdEncoding.EncodeToString(got), base64.StdEncoding.EncodeToString(ref.DigestValue))
		return rr
	}
	rr.OK = true
	return rr
}

// digestElementRef digests a same-document reference. Allowed transform
// chains: none or C14N (with or without comments), optionally after
// enveloped-signature; or base64 alone (OSCI Base64Content), whose decoded
// octets it also returns.
func digestElementRef(d hash.Hash, ref SignedReference, sig *etree.Element, idx *IDIndex) (*etree.Element, []byte, error) {
	id := ref.URI[1:]
	if id == "" || strings.HasPrefix(id, "xpointer(") {
		return nil, nil, errorf(ErrUnsupported, ref.URI, "only bare-name #Id references are supported")
	}
	el := idx.Lookup(id)
	if el == nil {
		return nil, nil, errorf(ErrUnresolved, ref.URI, "no element with Id %q", id)
	}
	opt := c14nOptions{}
	ts := ref.Transforms
	if len(ts) == 1 && ts[0] == TransformBase64 {
		text, err := onlyText(el)
		if err != nil {
			// Anything but text inside would be skipped by the transform
			// but stop a reader of the element's text: refused, so the
			// bytes verified are the bytes used.
			return el, nil, errorf(ErrMalformed, ref.URI, "base64 transform: %v", err)
		}
		data, err := decodeBase64(text)
		if err != nil {
			return el, nil, errorf(ErrDigestMismatch, ref.URI, "base64 transform: %v", err)
		}
		d.Write(data)
		return el, data, nil
	}
	if len(ts) > 0 && ts[0] == TransformEnveloped {
		opt.exclude = sig
		ts = ts[1:]
	}
	switch {
	case len(ts) == 0, len(ts) == 1 && ts[0] == C14N10:
	case len(ts) == 1 && ts[0] == C14N10WithComments:
		opt.withComments = true
	default:
		return el, nil, errorf(ErrUnsupported, ref.URI, "transform chain %v", ref.Transforms)
	}
	digestC14N(d, el, opt) // a hash never fails to write
	return el, nil, nil
}

func digestCIDRef(d hash.Hash, ref SignedReference, resolve CIDResolver) (string, error) {
	id, err := contentIDFromURL(ref.URI)
	if err != nil {
		return "", errorf(ErrUnresolved, ref.URI, "%v", err)
	}
	decode := false
	switch {
	case len(ref.Transforms) == 0:
	case len(ref.Transforms) == 1 && ref.Transforms[0] == TransformBase64:
		decode = true
	default:
		return id, errorf(ErrUnsupported, ref.URI, "transform chain %v on an attachment", ref.Transforms)
	}
	if resolve == nil {
		return id, errorf(ErrUnresolved, ref.URI, "no resolver for attachments")
	}
	rc, err := resolve(id)
	if err != nil {
		return id, errorf(ErrUnresolved, ref.URI, "%v", err)
	}
	defer rc.Close()
	var src io.Reader = rc
	if decode {
		src = base64.NewDecoder(base64.StdEncoding, &whitespaceFilter{r: rc})
	}
	if _, err := io.Copy(d, src); err != nil {
		return id, errorf(ErrUnresolved, ref.URI, "reading attachment: %v", err)
	}
	return id, nil
}

// contentIDFromURL mirrors wire.ContentIDFromURL (kept local so this
// package does not depend on the MIME layer).
func contentIDFromURL(u string) (string, error) {
	rest := u[4:]
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '%' {
			if i+2 >= len(rest) || unhex(rest[i+1]) < 0 || unhex(rest[i+2]) < 0 {
				return "", fmt.Errorf("bad percent-encoding in %q", u)
			}
			b.WriteByte(byte(unhex(rest[i+1])<<4 | unhex(rest[i+2])))
			i += 2
			continue
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%q names no Content-ID", u)
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

type whitespaceFilter struct{ r io.Reader }

func (w *whitespaceFilter) Read(p []byte) (int, error) {
	for {
		n, err := w.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

func verifyValue(s *Signature, opt c14nOptions, alg signatureAlg, key crypto.PublicKey) error {
	d := alg.hash.New()
	if err := digestC14N(d, s.SignedInfo, c14nOptions{withComments: opt.withComments}); err != nil {
		return err
	}
	var sum [64]byte
	digest := d.Sum(sum[:0])
	sv := s.SignatureValue
	switch alg.family {
	case familyRSA, familyRSAPSS:
		pub, ok := key.(*rsa.PublicKey)
		if !ok {
			return errorf(ErrKey, "", "%s needs an RSA key, have %T", s.SignatureMethod, key)
		}
		var err error
		if alg.family == familyRSA {
			err = rsa.VerifyPKCS1v15(pub, alg.hash, digest, sv)
		} else {
			err = rsa.VerifyPSS(pub, alg.hash, digest, sv, &rsa.PSSOptions{SaltLength: alg.hash.Size(), Hash: alg.hash})
		}
		if err != nil {
			return errorf(ErrSignatureInvalid, "", "%s: %v", s.SignatureMethod, err)
		}
	case familyECDSA:
		pub, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return errorf(ErrKey, "", "%s needs an EC key, have %T", s.SignatureMethod, key)
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sv) != 2*size {
			return errorf(ErrSignatureInvalid, "", "ECDSA value has %d bytes, want %d (r‖s)", len(sv), 2*size)
		}
		r := new(big.Int).SetBytes(sv[:size])
		ss := new(big.Int).SetBytes(sv[size:])
		if !ecdsa.Verify(pub, digest, r, ss) {
			return errorf(ErrSignatureInvalid, "", "%s", s.SignatureMethod)
		}
	}
	return nil
}

func checkCoverage(refs []ReferenceResult, sig *etree.Element, opts VerifyOptions) []error {
	var errs []error
	for _, req := range opts.Required {
		if !covered(req, refs, sig) {
			errs = append(errs, errorf(ErrNotCovered, "", "element %s%s", req.GetPath(), idSuffix(req)))
		}
	}
	for _, cid := range opts.RequiredCIDs {
		ok := false
		for _, r := range refs {
			if r.OK && r.ContentID == cid {
				ok = true
				break
			}
		}
		if !ok {
			errs = append(errs, errorf(ErrNotCovered, "cid:"+cid, "attachment not referenced"))
		}
	}
	return errs
}

func covered(req *etree.Element, refs []ReferenceResult, sig *etree.Element) bool {
	for _, r := range refs {
		if !r.OK || r.Element == nil {
			continue
		}
		if len(r.Transforms) == 1 && r.Transforms[0] == TransformBase64 {
			if r.Element == req {
				return true
			}
			continue
		}
		enveloped := len(r.Transforms) > 0 && r.Transforms[0] == TransformEnveloped
		for e := req; e != nil; e = e.Parent() {
			if enveloped && e == sig {
				break // inside the signature the transform removed
			}
			if e == r.Element {
				return true
			}
		}
	}
	return false
}

func idSuffix(el *etree.Element) string {
	if id := el.SelectAttrValue("Id", ""); id != "" {
		return " (Id " + id + ")"
	}
	return ""
}

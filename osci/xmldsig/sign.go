package xmldsig

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/osci/internal/certcache"
)

// Reference is one item to be signed.
type Reference struct {
	// URI as it appears in ds:Reference: "#<Id>" for an element,
	// "cid:<Content-ID>" for an attachment. Empty with Element set means
	// "#" + the element's Id attribute.
	URI string
	// Element is what a "#Id" reference covers; it must carry that Id and
	// belong to the same document as the signature.
	Element *etree.Element
	// Data yields the bytes a "cid:" reference covers: the part body as
	// transmitted for an OSCI ClientSignature, the plaintext for a
	// ContentContainer signature. It is read once, streaming.
	Data io.Reader
	// Canonical is, for a "#Id" URI without Element, the referenced
	// element's canonical form (inclusive C14N 1.0 in its document
	// context), for a signer that wrote the element itself and so knows
	// those bytes without parsing them again. The digest is taken over
	// them as given; verification never relies on it (it canonicalises
	// what it receives).
	Canonical []byte
	// Octets are, for an Element reference with the base64 transform that
	// the signer wrote itself, the bytes the transform yields (what it
	// base64-encoded into the element), so they need not be decoded again.
	// The digest is taken over them as given; verification never relies
	// on it (it decodes what it receives).
	Octets []byte
	// Transforms; nil means [C14N10] for elements and none for attachments.
	// Use []string{TransformBase64} for osci:Base64Content.
	Transforms []string
	// DigestMethod; "" means the Signer's.
	DigestMethod string
}

// Signer creates ds:Signature elements.
type Signer struct {
	// Key signs; an HSM key fits as any crypto.Signer.
	Key crypto.Signer
	// SignatureMethod defaults to RSASHA256 for RSA keys and ECDSASHA256
	// for EC keys. RSASHA512, RSAPSSSHA256 (and the other PSS, RSA and ECDSA
	// URIs) are accepted; SHA-1 and MD5 never are.
	SignatureMethod string
	// DigestMethod for the references, default DigestSHA256.
	DigestMethod string
	// Rand is the randomness for PSS and ECDSA (default crypto/rand).
	Rand io.Reader
}

// Sign computes the digests of refs (in the given order), appends a
// ds:Signature to parent in the layout of the OSCI reference implementation
// (one line per SignedInfo element, SignatureValue in 76-character lines),
// signs the canonical SignedInfo in place and returns the Signature element.
// keyInfo, if not nil, is appended as the Signature's ds:KeyInfo (see
// [RetrievalMethodKeyInfo]).
//
// The digests are taken before the Signature is inserted, so a reference
// may not cover the signature's own position unless it uses the
// enveloped-signature transform. When the document is serialised with
// etree, set WriteSettings.CanonicalEndTags to write empty elements as the
// reference does (<a></a>); either form verifies.
func (s *Signer) Sign(parent *etree.Element, refs []Reference, keyInfo *etree.Element) (*etree.Element, error) {
	method, salg, digests, err := s.digestAll(parent, refs)
	if err != nil {
		return nil, err
	}
	sig := etree.NewElement("ds:Signature")
	if inScopeNamespaces(parent)["ds"] != NamespaceDSig {
		sig.CreateAttr("xmlns:ds", NamespaceDSig)
	}
	parent.AddChild(sig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateText("\n")
	algElem(si, "ds:CanonicalizationMethod", C14N10)
	algElem(si, "ds:SignatureMethod", method)
	for _, d := range digests {
		r := si.CreateElement("ds:Reference")
		r.CreateAttr("URI", d.uri)
		r.CreateText("\n")
		if len(d.transforms) > 0 {
			ts := r.CreateElement("ds:Transforms")
			ts.CreateText("\n")
			for _, t := range d.transforms {
				algElem(ts, "ds:Transform", t)
			}
			r.CreateText("\n")
		}
		algElem(r, "ds:DigestMethod", d.digestMethod)
		r.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(d.digest))
		r.CreateText("\n")
		si.CreateText("\n")
	}

	var buf bytes.Buffer
	writeC14N(&buf, si, c14nOptions{})
	h := salg.hash.New()
	h.Write(buf.Bytes())
	value, err := s.signDigest(h.Sum(nil), *salg)
	if err != nil {
		parent.RemoveChild(sig)
		return nil, err
	}
	sig.CreateElement("ds:SignatureValue").SetText(EncodeBase64Lines(value))
	if keyInfo != nil {
		sig.AddChild(keyInfo)
	}
	return sig, nil
}

// signedDigest is one reference's digest, ready for ds:SignedInfo.
type signedDigest struct {
	uri, digestMethod string
	transforms        []string
	digest            []byte
}

// digestAll checks the signer and computes the digests of refs in order
// (the part Sign and SignXML share).
func (s *Signer) digestAll(parent *etree.Element, refs []Reference) (string, *signatureAlg, []signedDigest, error) {
	if s.Key == nil {
		return "", nil, nil, errorf(ErrKey, "", "no signing key")
	}
	if len(refs) == 0 {
		return "", nil, nil, errorf(ErrMalformed, "", "nothing to sign")
	}
	method := s.SignatureMethod
	if method == "" {
		method = RSASHA256
		if _, ok := s.Key.Public().(*ecdsa.PublicKey); ok {
			method = ECDSASHA256
		}
	}
	salg, err := signatureMethod(method, false)
	if err != nil {
		return "", nil, nil, err
	}
	if err := checkKeyFamily(s.Key.Public(), *salg, method); err != nil {
		return "", nil, nil, err
	}
	idx, err := NewIDIndex(documentRoot(parent))
	if err != nil {
		return "", nil, nil, err
	}
	digests := make([]signedDigest, 0, len(refs))
	for i, r := range refs {
		dm := r.DigestMethod
		if dm == "" {
			dm = s.DigestMethod
		}
		if dm == "" {
			dm = DigestSHA256
		}
		h, err := digestMethod(dm, r.URI, false)
		if err != nil {
			return "", nil, nil, err
		}
		d := h.New()
		uri, transforms, err := digestForSigning(d, r, parent, idx)
		if err != nil {
			return "", nil, nil, fmt.Errorf("reference %d: %w", i+1, err)
		}
		for _, prev := range digests {
			if prev.uri == uri {
				return "", nil, nil, errorf(ErrMalformed, uri, "referenced twice")
			}
		}
		digests = append(digests, signedDigest{uri, dm, transforms, d.Sum(nil)})
	}
	return method, salg, digests, nil
}

// writeSignedInfoChildren writes the children of ds:SignedInfo (with the
// line breaks the reference writes) to w; attr writes one attribute,
// including its leading space, with the escaping of the form being written
// (canonical or etree's serialisation).
func writeSignedInfoChildren(w *bytes.Buffer, method string, digests []signedDigest, attr func(w *bytes.Buffer, name, value string)) {
	alg := func(tag, algorithm string) {
		w.WriteString("<" + tag)
		attr(w, "Algorithm", algorithm)
		w.WriteString("></" + tag + ">\n")
	}
	w.WriteByte('\n')
	alg("ds:CanonicalizationMethod", C14N10)
	alg("ds:SignatureMethod", method)
	for _, d := range digests {
		w.WriteString("<ds:Reference")
		attr(w, "URI", d.uri)
		w.WriteString(">\n")
		if len(d.transforms) > 0 {
			w.WriteString("<ds:Transforms>\n")
			for _, t := range d.transforms {
				alg("ds:Transform", t)
			}
			w.WriteString("</ds:Transforms>\n")
		}
		alg("ds:DigestMethod", d.digestMethod)
		w.WriteString("<ds:DigestValue>")
		w.WriteString(base64.StdEncoding.EncodeToString(d.digest))
		w.WriteString("</ds:DigestValue>\n</ds:Reference>\n")
	}
}

// SignXML is Sign for a caller that wants the ds:Signature element as
// bytes (to write it into a message it composes itself): the same digests,
// the same signature value, and the same bytes etree writes for the
// element Sign returns (with WriteSettings CanonicalEndTags, CanonicalText
// and CanonicalAttrVal), but without building that element tree or adding
// anything to parent. parent is where the signature goes: its namespace
// context is the one SignedInfo is canonicalised in, and references are
// resolved in its document. keyInfoURI, if not empty, is written as
// RetrievalMethodKeyInfo(keyInfoURI).
func (s *Signer) SignXML(parent *etree.Element, refs []Reference, keyInfoURI string) ([]byte, error) {
	method, salg, digests, err := s.digestAll(parent, refs)
	if err != nil {
		return nil, err
	}
	scope := inScopeNamespaces(parent)
	declareDS := scope["ds"] != NamespaceDSig
	if declareDS {
		scope["ds"] = NamespaceDSig
	}

	// The children of SignedInfo are written once: their canonical form
	// and their serialisation are the same bytes whenever every attribute
	// value needs no escaping (algorithm URIs, reference URIs such as
	// "#body"); otherwise each form gets its own escaping.
	var inner, innerSerial bytes.Buffer
	plain := true
	writeSignedInfoChildren(&inner, method, digests, func(w *bytes.Buffer, name, value string) {
		if !plainAttr(value) {
			plain = false
		}
		w.WriteString(" " + name + `="`)
		escapeAttr(w, value)
		w.WriteByte('"')
	})
	if plain {
		innerSerial = inner
	} else {
		// Rare: write the serialised children the way etree escapes.
		writeSignedInfoChildren(&innerSerial, method, digests, func(w *bytes.Buffer, name, value string) {
			w.WriteByte(' ')
			(&etree.Attr{Key: name, Value: value}).WriteTo(w, &serialSettings)
		})
	}

	// Canonical SignedInfo: as the apex of a document subset it carries
	// every namespace declaration in scope and the inherited xml:*
	// attributes (writeElement's rules for an apex with no attributes of
	// its own).
	h := salg.hash.New()
	hw := c14nBuffers.Get().(*bufio.Writer)
	hw.Reset(h)
	hw.WriteString("<ds:SignedInfo")
	var nsBuf [8]nsNode
	nss := nsBuf[:0]
	for p, uri := range scope {
		if p == "xml" || uri == "" {
			continue
		}
		nss = append(nss, nsNode{p, uri})
	}
	slices.SortFunc(nss, func(a, b nsNode) int { return strings.Compare(a.prefix, b.prefix) })
	for _, n := range nss {
		if n.prefix == "" {
			hw.WriteString(` xmlns="`)
		} else {
			hw.WriteString(" xmlns:" + n.prefix + `="`)
		}
		escapeAttr(hw, n.uri)
		hw.WriteByte('"')
	}
	// xml:* attributes of parent and its ancestors, the nearest winning
	// (SignedInfo and Signature carry none themselves).
	var xmlAttrs []etree.Attr
	for e := parent; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space == "xml" && !slices.ContainsFunc(xmlAttrs, func(b etree.Attr) bool { return b.Key == a.Key }) {
				xmlAttrs = append(xmlAttrs, a)
			}
		}
	}
	slices.SortStableFunc(xmlAttrs, func(a, b etree.Attr) int { return strings.Compare(a.Key, b.Key) })
	for _, a := range xmlAttrs {
		hw.WriteString(" xml:" + a.Key + `="`)
		escapeAttr(hw, a.Value)
		hw.WriteByte('"')
	}
	hw.WriteByte('>')
	hw.Write(inner.Bytes())
	hw.WriteString("</ds:SignedInfo>")
	ferr := hw.Flush()
	hw.Reset(nil)
	c14nBuffers.Put(hw)
	if ferr != nil {
		return nil, ferr
	}
	value, err := s.signDigest(h.Sum(nil), *salg)
	if err != nil {
		return nil, err
	}

	var out bytes.Buffer
	out.Grow(innerSerial.Len() + 800)
	out.WriteString("<ds:Signature")
	if declareDS {
		out.WriteString(` xmlns:ds="` + NamespaceDSig + `"`)
	}
	out.WriteString("><ds:SignedInfo>")
	out.Write(innerSerial.Bytes())
	out.WriteString("</ds:SignedInfo><ds:SignatureValue>")
	out.WriteString(EncodeBase64Lines(value))
	out.WriteString("</ds:SignatureValue>")
	if keyInfoURI != "" {
		out.WriteString("<ds:KeyInfo><ds:RetrievalMethod ")
		(&etree.Attr{Key: "URI", Value: keyInfoURI}).WriteTo(&out, &serialSettings)
		out.WriteString("></ds:RetrievalMethod></ds:KeyInfo>")
	}
	out.WriteString("</ds:Signature>")
	return out.Bytes(), nil
}

// serialSettings are the etree settings SignXML's output matches.
var serialSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalText: true, CanonicalAttrVal: true}

// plainAttr reports whether an attribute value is written unchanged both
// by C14N and by etree with CanonicalAttrVal: printable ASCII other than
// the characters either escapes.
func plainAttr(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c < 0x20 || c > 0x7e, c == '&', c == '<', c == '"':
			return false
		}
	}
	return true
}

func algElem(parent *etree.Element, tag, alg string) {
	parent.CreateElement(tag).CreateAttr("Algorithm", alg)
	parent.CreateText("\n")
}

func digestForSigning(d io.Writer, r Reference, parent *etree.Element, idx *IDIndex) (uri string, transforms []string, err error) {
	transforms = r.Transforms
	switch {
	case r.Octets != nil && (r.Element == nil || len(transforms) != 1 || transforms[0] != TransformBase64):
		return "", nil, errorf(ErrMalformed, r.URI, "Octets need an element reference with the base64 transform")
	case r.Canonical != nil:
		if r.Element != nil || r.Data != nil {
			return "", nil, errorf(ErrMalformed, r.URI, "reference has Canonical and Element or Data")
		}
		if len(r.URI) < 2 || r.URI[0] != '#' {
			return "", nil, errorf(ErrMalformed, r.URI, "Canonical needs a #Id URI")
		}
		if transforms == nil {
			transforms = []string{C14N10}
		}
		if len(transforms) != 1 || transforms[0] != C14N10 {
			return "", nil, errorf(ErrUnsupported, r.URI, "transform chain %v with Canonical", transforms)
		}
		d.Write(r.Canonical)
		return r.URI, transforms, nil
	case r.Element != nil:
		if r.Data != nil {
			return "", nil, errorf(ErrMalformed, r.URI, "reference has both Element and Data")
		}
		id := r.Element.SelectAttrValue("Id", "")
		uri = r.URI
		if uri == "" {
			if id == "" {
				return "", nil, errorf(ErrUnresolved, "", "element %s has no Id attribute", r.Element.GetPath())
			}
			uri = "#" + id
		}
		if uri != "#"+id || idx.Lookup(id) != r.Element {
			return "", nil, errorf(ErrUnresolved, uri, "does not resolve to the given element in the signature's document")
		}
		if transforms == nil {
			transforms = []string{C14N10}
		}
		switch {
		case len(transforms) == 1 && transforms[0] == TransformBase64:
			if r.Octets != nil {
				d.Write(r.Octets)
				return uri, transforms, nil
			}
			data, err := Base64Text(r.Element)
			if err != nil {
				return "", nil, errorf(ErrMalformed, uri, "base64 content: %v", err)
			}
			d.Write(data)
			return uri, transforms, nil
		case len(transforms) == 1 && (transforms[0] == C14N10 || transforms[0] == C14N10WithComments):
			for e := parent; e != nil; e = e.Parent() {
				if e == r.Element {
					return "", nil, errorf(ErrMalformed, uri, "covers the signature's own position; add the enveloped-signature transform")
				}
			}
			return uri, transforms, digestC14N(d, r.Element, c14nOptions{withComments: transforms[0] == C14N10WithComments})
		case len(transforms) == 2 && transforms[0] == TransformEnveloped && transforms[1] == C14N10:
			// The signature does not exist yet; excluding it is implicit.
			return uri, transforms, digestC14N(d, r.Element, c14nOptions{})
		}
		return "", nil, errorf(ErrUnsupported, uri, "transform chain %v", transforms)
	case r.Data != nil:
		if r.URI == "" || !strings.HasPrefix(strings.ToLower(r.URI), "cid:") {
			return "", nil, errorf(ErrUnsupported, r.URI, "data references need a cid: URI")
		}
		if _, err := contentIDFromURL(r.URI); err != nil {
			return "", nil, errorf(ErrMalformed, r.URI, "%v", err)
		}
		var src = r.Data
		switch {
		case len(transforms) == 0:
		case len(transforms) == 1 && transforms[0] == TransformBase64:
			src = base64.NewDecoder(base64.StdEncoding, &whitespaceFilter{r: r.Data})
		default:
			return "", nil, errorf(ErrUnsupported, r.URI, "transform chain %v on an attachment", transforms)
		}
		if _, err := io.Copy(d, src); err != nil {
			return "", nil, fmt.Errorf("xmldsig: reading %s: %w", r.URI, err)
		}
		return r.URI, transforms, nil
	}
	return "", nil, errorf(ErrMalformed, r.URI, "reference has neither Element nor Data")
}

func checkKeyFamily(pub crypto.PublicKey, alg signatureAlg, method string) error {
	switch pub.(type) {
	case *rsa.PublicKey:
		if alg.family == familyRSA || alg.family == familyRSAPSS {
			return nil
		}
	case *ecdsa.PublicKey:
		if alg.family == familyECDSA {
			return nil
		}
	}
	return errorf(ErrKey, "", "%T cannot make %s signatures", pub, method)
}

func (s *Signer) signDigest(digest []byte, alg signatureAlg) ([]byte, error) {
	rnd := s.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	var opts crypto.SignerOpts = alg.hash
	if alg.family == familyRSAPSS {
		opts = &rsa.PSSOptions{SaltLength: alg.hash.Size(), Hash: alg.hash}
	}
	sig, err := s.Key.Sign(rnd, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("xmldsig: signing: %w", err)
	}
	if alg.family != familyECDSA {
		return sig, nil
	}
	// XML-DSig wants r‖s, each as wide as the curve order; crypto.Signer
	// gives ASN.1.
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("xmldsig: signer returned a malformed ECDSA signature")
	}
	size := (s.Key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	rs.R.FillBytes(out[:size])
	rs.S.FillBytes(out[size:])
	return out, nil
}

// EncodeBase64Lines encodes b as the reference implementation writes
// base64 element content (SignatureValue, X509Certificate, CipherValue,
// Base64Content): 76-character lines, each complete line followed by LF
// (so a value whose length is a multiple of 76 ends with LF, others do not).
func EncodeBase64Lines(b []byte) string {
	var out strings.Builder
	WriteBase64Lines(&out, b)
	return out.String()
}

// CertificateBase64 returns EncodeBase64Lines of the certificate's DER,
// the ds:X509Certificate text, remembered per certificate: the same few
// certificates are written into every message.
func CertificateBase64(c *x509.Certificate) string { return certBase64.Get(c) }

var certBase64 = certcache.NewMemo(func(c *x509.Certificate) string { return EncodeBase64Lines(c.Raw) })

// Base64LineWriter is what WriteBase64Lines writes to: a *bytes.Buffer or
// a *strings.Builder.
type Base64LineWriter interface {
	Grow(n int)
	Write(p []byte) (int, error)
	WriteByte(c byte) error
}

// WriteBase64Lines appends EncodeBase64Lines(b) to w without building the
// string first (composers write it straight into the envelope).
func WriteBase64Lines(w Base64LineWriter, b []byte) { writeBase64Lines(w, b) }

// RetrievalMethodKeyInfo returns <ds:KeyInfo><ds:RetrievalMethod URI="uri"/>
// </ds:KeyInfo>, how OSCI points from a signature to the signer's
// certificate element ("#originator_signature_…").
func RetrievalMethodKeyInfo(uri string) *etree.Element {
	ki := etree.NewElement("ds:KeyInfo")
	ki.CreateElement("ds:RetrievalMethod").CreateAttr("URI", uri)
	return ki
}

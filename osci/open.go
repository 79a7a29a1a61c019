package osci

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/wire"
	"github.com/xagw/xagw/osci/xmldsig"
)

// OpenOptions say which keys Open may use and how strictly it checks.
type OpenOptions struct {
	// Keys are cipher identities Open tries for transport decryption and for
	// content (EncryptedData addressed to one of their certificates).
	// Content for other readers stays encrypted and is listed in
	// Opened.Undecrypted.
	Keys []*keystore.Identity
	// Policy, if set, checks every signer certificate (validity, key usage,
	// chain to trusted roots, revocation). A failed check fails Open.
	Policy *keystore.Policy
	// Signer, if set, is the only certificate accepted for the message
	// signature (pinning, e.g. the intermediary's signature certificate).
	Signer *x509.Certificate
	// AllowUnsigned accepts messages without a Client-/SupplierSignature
	// (SOAP faults are always unsigned). Off by default.
	AllowUnsigned bool
	// SpoolDir is where attachments larger than SpoolMemory wait, encrypted
	// with a process-local key ("" = os.TempDir()).
	SpoolDir    string
	SpoolMemory int64
	// MaxEnvelope bounds the SOAP part (default 64 MiB).
	MaxEnvelope int64
	// Limits bound the MIME framing.
	Limits wire.Limits
}

// Opened is a received message after Open: parsed, transport-decrypted,
// verified and content-decrypted as far as the given keys allow. Close
// releases the spooled attachments.
type Opened struct {
	// Envelope is the (inner) SOAP envelope with the protocol Message.
	*Envelope
	// Transport reports the transport encryption, nil if there was none.
	Transport *TransportInfo
	// Signature is the message signature (Client- or SupplierSignature),
	// nil for unsigned messages.
	Signature *SignatureReport
	// Containers are the content containers that could be read: sent in the
	// clear or decrypted with one of the keys.
	Containers []*OpenedContainer
	// Undecrypted lists EncryptedData for readers whose key was not given.
	Undecrypted []EncryptedInfo
	// Attachments are all MIME attachments in wire order.
	Attachments []*OpenedAttachment

	spools  []*wire.Spool
	closers []io.Closer
}

// TransportInfo describes the transport encryption of a message.
type TransportInfo struct {
	Algorithm    string
	KeyTransport string
	Recipient    *x509.Certificate // whose key unwrapped the session key
}

// SignatureReport is the result of verifying one ds:Signature.
type SignatureReport struct {
	// Block is "ClientSignature", "SupplierSignature" or, for a container
	// signature, "ContentContainer".
	Block     string
	Method    string
	Signer    *x509.Certificate
	SignerRef string // the certificate element Id the KeyInfo points to
	// ValueOK reports whether ds:SignatureValue verified.
	ValueOK    bool
	References []ReferenceReport
	// CertErr is the result of the Policy check of Signer (nil = passed or
	// no policy).
	CertErr error
	// Err is nil when everything verified and every required part is covered.
	Err error
}

// OK reports whether the signature verified completely.
func (s *SignatureReport) OK() bool { return s != nil && s.Err == nil }

// ReferenceReport is one ds:Reference with its outcome.
type ReferenceReport struct {
	URI          string
	DigestMethod string
	Transforms   []string
	OK           bool
	Err          error
}

// OpenedContainer is one readable content container.
type OpenedContainer struct {
	ID string
	// EncryptedDataID is the Id of the EncryptedData it was decrypted from
	// ("" when it travelled in the clear).
	EncryptedDataID string
	// Reader is the certificate whose key decrypted it.
	Reader     *x509.Certificate
	Signatures []*SignatureReport
	Contents   []*OpenedContent
	// XML is the container element as received (the decrypted fragment for
	// encrypted containers).
	XML []byte
}

// ErrNotSignedContent is returned (wrapped, with the reason) by
// OpenedContainer.Signer and Opened.SignedContainer when content cannot be
// attributed to exactly one verified signer.
var ErrNotSignedContent = errors.New("osci: content is not signed by exactly one verified signature")

// Signer returns the certificate whose signature covers this container's
// contents: the container carries exactly one ds:Signature, and it
// verified completely — SignatureValue, every reference, every content and
// attachment of the container covered, and the certificate accepted by
// OpenOptions.Policy when one was given (without a Policy the caller must
// compare the certificate with the one it expects). Use this, not a scan
// of Signatures, to decide who wrote the contents: a signature that
// verified somewhere in a message says nothing about this container.
func (c *OpenedContainer) Signer() (*x509.Certificate, error) {
	switch {
	case len(c.Signatures) == 0:
		return nil, fmt.Errorf("%w: container %s carries no signature", ErrNotSignedContent, c.ID)
	case len(c.Signatures) > 1:
		return nil, fmt.Errorf("%w: container %s carries %d signatures", ErrNotSignedContent, c.ID, len(c.Signatures))
	}
	s := c.Signatures[0]
	if s.Err != nil || s.Signer == nil {
		return nil, fmt.Errorf("%w: the signature of container %s does not verify: %v", ErrNotSignedContent, c.ID, s.Err)
	}
	return s.Signer, nil
}

// SignedContainer returns the message's only content container and the
// certificate that signed it, for callers that act on "this content, from
// this author": the message must carry exactly one content container, none
// left encrypted for other readers, and that container must pass
// OpenedContainer.Signer. The certificate returned is the signer of the
// returned container's contents, never of some other part of the message.
func (o *Opened) SignedContainer() (*OpenedContainer, *x509.Certificate, error) {
	switch {
	case len(o.Undecrypted) > 0:
		return nil, nil, fmt.Errorf("%w: %d content container(s) could not be decrypted with the given keys", ErrNotSignedContent, len(o.Undecrypted))
	case len(o.Containers) != 1:
		return nil, nil, fmt.Errorf("%w: the message carries %d content containers, want exactly one", ErrNotSignedContent, len(o.Containers))
	}
	c := o.Containers[0]
	signer, err := c.Signer()
	if err != nil {
		return nil, nil, err
	}
	return c, signer, nil
}

// OpenedContent is one osci:Content.
type OpenedContent struct {
	ID string
	// Data is the decoded inline content (nil for attachment references).
	Data []byte
	// Attachment is the referenced attachment (nil for inline content).
	Attachment *OpenedAttachment
	// SHA256 of the content bytes (inline data or attachment plaintext).
	SHA256 []byte
	Size   int64
}

// OpenedAttachment is one MIME attachment.
type OpenedAttachment struct {
	ContentID  string
	WireSize   int64
	WireSHA256 []byte
	// Encrypted reports whether the part is ciphertext on the wire.
	Encrypted bool
	// Decrypted reports whether the plaintext is available.
	Decrypted bool
	Size      int64  // plaintext size (equal to WireSize when not encrypted)
	SHA256    []byte // plaintext SHA-256

	raw, plain *wire.Spool
}

// Open returns a reader over the attachment's plaintext (for encrypted
// attachments only after they were decrypted).
func (a *OpenedAttachment) Open() (io.Reader, error) {
	switch {
	case a.plain != nil:
		return a.plain.Reader(), nil
	case !a.Encrypted && a.raw != nil:
		return a.raw.Reader(), nil
	}
	return nil, fmt.Errorf("osci: attachment %s is encrypted for another reader", a.ContentID)
}

// OpenRaw returns a reader over the attachment as transmitted (ciphertext
// for encrypted attachments), for relaying it unchanged.
func (a *OpenedAttachment) OpenRaw() (io.Reader, error) {
	if a.raw == nil {
		return nil, fmt.Errorf("osci: attachment %s has no data", a.ContentID)
	}
	return a.raw.Reader(), nil
}

// Bytes reads the whole attachment plaintext.
func (a *OpenedAttachment) Bytes() ([]byte, error) {
	r, err := a.Open()
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// EncryptedInfo describes EncryptedData none of the given keys could open.
type EncryptedInfo struct {
	ID         string
	Recipients []string // certificate element Ids or subjects of the EncryptedKeys
}

// Close releases the spooled attachments.
func (o *Opened) Close() error {
	var errs []error
	for _, s := range o.spools {
		errs = append(errs, s.Close())
	}
	for _, c := range o.closers {
		errs = append(errs, c.Close())
	}
	o.spools, o.closers = nil, nil
	return errors.Join(errs...)
}

// SignatureError reports a message or container signature that does not
// verify, does not cover what it must, or comes from an unacceptable
// certificate.
type SignatureError struct {
	Block string
	Err   error
}

func (e *SignatureError) Error() string {
	return "osci: " + e.Block + " does not verify: " + e.Err.Error()
}

func (e *SignatureError) Unwrap() error { return e.Err }

// Code maps the failure to the OSCI feedback code an intermediary reports.
func (e *SignatureError) Code() string {
	var ce *keystore.CertError
	switch {
	case errors.Is(e.Err, errNotSigned):
		return string(CodeNotSigned)
	case errors.Is(e.Err, xmldsig.ErrDigestMismatch), errors.Is(e.Err, xmldsig.ErrSignatureInvalid),
		errors.Is(e.Err, xmldsig.ErrDuplicateID), errors.Is(e.Err, xmldsig.ErrUnresolved), errors.Is(e.Err, xmldsig.ErrMalformed):
		return string(CodeSignatureInvalid)
	case errors.Is(e.Err, xmldsig.ErrNotCovered):
		// every reference verified, but not everything is referenced
		return string(CodeNotAllSigned)
	case errors.As(e.Err, &ce):
		return string(CodeSigCertInvalid)
	}
	return string(CodeSignatureInvalid)
}

// Retryable is false: a signature that fails once fails always.
func (e *SignatureError) Retryable() bool { return false }

var errNotSigned = errors.New("message is not signed")

// DecryptError reports a transport or content decryption failure.
type DecryptError struct {
	What string
	Err  error
}

func (e *DecryptError) Error() string { return "osci: decrypting " + e.What + ": " + e.Err.Error() }
func (e *DecryptError) Unwrap() error { return e.Err }

// Code is 9202 for transport decryption failures (the intermediary's
// answer), 9200 when no key fits.
func (e *DecryptError) Code() string {
	if errors.Is(e.Err, errNoKey) {
		return string(CodeNoTransportKey)
	}
	return string(CodeCannotDecrypt)
}

// Retryable is false.
func (e *DecryptError) Retryable() bool { return false }

var errNoKey = errors.New("none of the given keys fits")

// Open reads an OSCI message (a complete MIME entity, as in an HTTP body),
// decrypts the transport encryption with one of opts.Keys, verifies the
// message signature and every reference strictly (every header block, the
// body and every attachment must be covered), decrypts the content the keys
// can open, verifies container signatures and returns everything it found.
//
// The returned *Opened is non-nil whenever the envelope could be parsed, so
// callers can report what verified and what did not; err is non-nil when
// anything failed. Large attachments are spooled (encrypted) to disk, never
// held in memory whole.
func Open(r io.Reader, opts OpenOptions) (*Opened, error) {
	o := &Opened{}
	if err := o.read(r, opts, 0); err != nil {
		if o.Envelope == nil {
			o.Close()
			return nil, err
		}
		return o, err
	}
	var errs []error
	if err := o.verifyMessage(opts); err != nil {
		errs = append(errs, err)
	}
	if err := o.openContent(opts); err != nil {
		errs = append(errs, err)
	}
	return o, errors.Join(errs...)
}

func (o *Opened) newSpool(opts OpenOptions) *wire.Spool {
	s := wire.NewSpool(opts.SpoolDir, opts.SpoolMemory)
	o.spools = append(o.spools, s)
	return s
}

// read parses the MIME entity and the envelope and spools the attachments;
// a transport envelope is decrypted and its inner message read instead.
func (o *Opened) read(r io.Reader, opts OpenOptions, depth int) error {
	mr, err := wire.NewReader(r, opts.Limits)
	if err != nil {
		return mimeErr("reading the MIME header", err)
	}
	// Everything read below is copied out (envelope bytes, spools) before
	// read returns.
	defer mr.Release()
	root, err := mr.NextPart()
	if err != nil {
		return mimeErr("reading the SOAP part", err)
	}
	if id := root.ContentID(); id != "" && id != RootContentID {
		return mimeErr(fmt.Sprintf("first part has Content-ID <%s>, want <%s>", id, RootContentID), nil)
	}
	limit := opts.MaxEnvelope
	if limit <= 0 {
		limit = safexml.DefaultMaxBytes
	}
	hint := root.DeclaredLength()
	if sz, ok := r.(interface{ Size() int64 }); ok && hint <= 0 {
		hint = sz.Size() // the decrypted inner message: its size bounds the root part's
	}
	xmlData, err := readRoot(root, limit, hint)
	if err != nil {
		return mimeErr("reading the SOAP part", err)
	}
	// The outer root part of a transport envelope is followed by a CRLF the
	// reference writes after the XML; it is not part of the document.
	env, err := ParseEnvelope(bytes.TrimRight(xmlData, "\r\n"))
	if err != nil {
		return err
	}
	if env.Type == TypeEncrypted {
		if depth > 0 {
			return &ParseError{Path: "/Envelope/Body/EncryptedData", Reason: "transport encryption nested inside transport encryption"}
		}
		inner, info, err := o.decryptTransport(env, mr, opts)
		if err != nil {
			return err
		}
		o.Transport = info
		return o.read(inner, opts, depth+1)
	}
	o.Envelope = env
	seen := map[string]bool{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return mimeErr("reading attachments", err)
		}
		cid := p.ContentID()
		if cid == "" {
			return mimeErr(fmt.Sprintf("attachment part %d has no Content-ID", p.Index), nil)
		}
		if seen[cid] {
			return mimeErr(fmt.Sprintf("two attachments with Content-ID <%s>", cid), nil)
		}
		seen[cid] = true
		if !wire.IsIdentityEncoding(p.TransferEncoding()) {
			return mimeErr(fmt.Sprintf("attachment <%s> uses transfer encoding %q; OSCI sends raw bytes", cid, p.TransferEncoding()), nil)
		}
		sp := o.newSpool(opts)
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(sp, h), p)
		if err != nil {
			return mimeErr(fmt.Sprintf("reading attachment <%s>", cid), err)
		}
		if d := p.DeclaredLength(); d >= 0 && d != n {
			return mimeErr(fmt.Sprintf("attachment <%s> declares Content-Length %d but has %d bytes", cid, d, n), nil)
		}
		a := &OpenedAttachment{ContentID: cid, WireSize: n, WireSHA256: h.Sum(nil), raw: sp, Size: n}
		a.SHA256 = a.WireSHA256
		o.Attachments = append(o.Attachments, a)
	}
	return nil
}

// readRoot reads the SOAP part, at most limit bytes (safexml.ErrTooLarge
// beyond). hint (a declared Content-Length, or the size of a decrypted
// inner message) only sizes the buffer: the reference declares wrong
// lengths for transport envelopes, so it is never trusted for the content.
func readRoot(p *wire.Part, limit, hint int64) ([]byte, error) {
	var b bytes.Buffer
	if hint > 0 {
		b.Grow(int(min(hint, limit, 64<<20)) + 512)
	} else {
		b.Grow(16 << 10)
	}
	if _, err := b.ReadFrom(io.LimitReader(p, limit+1)); err != nil {
		return nil, err
	}
	if int64(b.Len()) > limit {
		return nil, &safexml.Error{Kind: safexml.ErrTooLarge, Detail: fmt.Sprintf("more than %d bytes", limit)}
	}
	return b.Bytes(), nil
}

// mimeErr reports a message whose MIME structure is unusable: a 9100
// like an invalid envelope.
func mimeErr(reason string, err error) error {
	return &ParseError{Path: "MIME", Reason: reason, Err: err}
}

func (o *Opened) attachment(cid string) *OpenedAttachment {
	for _, a := range o.Attachments {
		if a.ContentID == cid {
			return a
		}
	}
	return nil
}

// signerElements says which certificate element may make a signature,
// by signature block and message type. A ClientSignature is the
// originator's, except on acceptDelivery and processDelivery, which the
// intermediary sends to a passive recipient. A SupplierSignature is the
// intermediary's, except on the passive recipient's answers to those two,
// which the addressee signs. Content containers are signed by their
// authors (originator, other authors; the addressee for the answer to a
// mediateDelivery). Binding the element to the message type is what makes
// "the signer" mean the role the receiver relies on: a client cannot sign
// an order with a certificate placed in an intermediary element while
// naming someone else as originator.
func signerElements(block string, t MessageType) []string {
	switch block {
	case "ClientSignature":
		if t == TypeAcceptDelivery || t == TypeProcessDelivery {
			return []string{SignatureCertificateIntermediary}
		}
		return []string{SignatureCertificateOriginator}
	case "SupplierSignature":
		if t == TypeResponseToAcceptDelivery || t == TypeResponseToProcessDelivery {
			return []string{SignatureCertificateAddressee}
		}
		return []string{SignatureCertificateIntermediary}
	case "ContentContainer":
		return []string{SignatureCertificateOriginator, SignatureCertificateOtherAuthor, SignatureCertificateAddressee}
	}
	return nil
}

// signerOf finds the certificate a parsed signature's KeyInfo names: a
// RetrievalMethod to a certificate element of the message, of the kind
// signerElements allows for the block and message type. A KeyInfo that
// carries the certificate inline is accepted only if that certificate is
// the one of an allowed element of the message, so an inline certificate
// never adds a signer the certificate headers do not name. Open calls it
// from VerifyOptions.KeyFrom, so the signature is parsed once.
func signerOf(s *xmldsig.Signature, m *Message, block string) (*x509.Certificate, string, error) {
	allowed := signerElements(block, m.Type)
	for _, rm := range s.KeyInfo.RetrievalMethods {
		if !strings.HasPrefix(rm.URI, "#") {
			continue
		}
		ref := rm.URI[1:]
		e := m.certByID(ref)
		if e == nil {
			return nil, ref, fmt.Errorf("KeyInfo points to %s, which is not a certificate of this message", rm.URI)
		}
		for _, a := range allowed {
			if e.Element == a {
				return e.Cert, ref, nil
			}
		}
		return nil, ref, fmt.Errorf("KeyInfo points to a %s, which cannot sign the %s of a %s (allowed: %s)", e.Element, block, m.Type, strings.Join(allowed, ", "))
	}
	if len(s.KeyInfo.Certificates) == 1 {
		inline := s.KeyInfo.Certificates[0]
		for _, e := range append(append([]CertEntry(nil), m.NonIntermediary...), m.Intermediary...) {
			if !bytes.Equal(e.Cert.Raw, inline.Raw) {
				continue
			}
			for _, a := range allowed {
				if e.Element == a {
					return e.Cert, e.ID, nil
				}
			}
		}
		return nil, "", fmt.Errorf("KeyInfo carries a certificate (%s) that is not the message's %s", inline.Subject, strings.Join(allowed, " or "))
	}
	return nil, "", errors.New("KeyInfo names no signer certificate")
}

func toReport(block string, res *xmldsig.Result) *SignatureReport {
	rep := &SignatureReport{Block: block}
	if res == nil {
		return rep
	}
	if res.Signature != nil {
		rep.Method = res.Signature.SignatureMethod
	}
	rep.ValueOK = res.SignatureValueOK
	for _, r := range res.References {
		rep.References = append(rep.References, ReferenceReport{URI: r.URI, DigestMethod: r.DigestMethod, Transforms: r.Transforms, OK: r.OK, Err: r.Err})
	}
	return rep
}

// verifyMessage verifies the Client-/SupplierSignature strictly: every
// header block, the body and every attachment must be covered.
func (o *Opened) verifyMessage(opts OpenOptions) error {
	env := o.Envelope
	if env.Type == TypeFault {
		return nil
	}
	if env.signature == nil {
		if opts.AllowUnsigned {
			return nil
		}
		return &SignatureError{Block: "message", Err: errNotSigned}
	}
	block := env.SignatureBlock
	rep := &SignatureReport{Block: block}
	o.Signature = rep
	var required []*etree.Element
	root := env.doc.Root()
	for c := range elementsOf(root) {
		if is(c, NSSOAP, "Header") {
			for h := range elementsOf(c) {
				if h.SelectAttrValue("Id", "") != "" && h != env.signature.Parent() {
					required = append(required, h)
				}
			}
		}
		if is(c, NSSOAP, "Body") {
			required = append(required, c)
		}
	}
	var cids []string
	for _, a := range o.Attachments {
		cids = append(cids, a.ContentID)
	}
	// The signer is resolved from the signature Verify parses (once): the
	// certificate element its KeyInfo names, which must be of the role the
	// block and message type allow, and the pinned certificate if there is
	// one. If that fails, nothing is verified and the failure is the
	// result.
	var cert *x509.Certificate
	var ref string
	var keyErr error
	res, verr := xmldsig.Verify(env.signature, xmldsig.VerifyOptions{
		KeyFrom: func(s *xmldsig.Signature) (crypto.PublicKey, error) {
			cert, ref, keyErr = signerOf(s, &env.Message, block)
			if keyErr == nil && opts.Signer != nil && !bytes.Equal(opts.Signer.Raw, cert.Raw) {
				keyErr = fmt.Errorf("signed by %s, expected %s", cert.Subject, opts.Signer.Subject)
			}
			if keyErr != nil {
				return nil, keyErr
			}
			return cert.PublicKey, nil
		},
		ResolveCID: func(cid string) (io.ReadCloser, error) {
			a := o.attachment(cid)
			if a == nil {
				return nil, fmt.Errorf("no attachment <%s>", cid)
			}
			return io.NopCloser(a.raw.Reader()), nil
		},
		Required:     required,
		RequiredCIDs: cids,
	})
	if keyErr != nil || cert == nil { // the signature did not parse, or no acceptable signer
		rep.Signer, rep.SignerRef, rep.Err = cert, ref, verr
		return &SignatureError{Block: block, Err: verr}
	}
	full := toReport(block, res)
	full.Signer, full.SignerRef = cert, ref
	*rep = *full
	if opts.Policy != nil {
		if cerr := opts.Policy.Check(cert, keystore.UsageSignature, env.Message.certsOf(nil)...); cerr != nil {
			rep.CertErr = cerr
			verr = errors.Join(verr, cerr)
		}
	}
	if verr != nil {
		rep.Err = verr
		return &SignatureError{Block: block, Err: verr}
	}
	return nil
}

// Certificates returns every certificate the message carries (non-
// intermediary and intermediary), e.g. as chain-building material.
func (m *Message) Certificates() []*x509.Certificate { return m.certsOf(nil) }

// certsOf returns every certificate the message carries except skip, as
// chain-building material for policy checks.
func (m *Message) certsOf(skip *x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, e := range append(append([]CertEntry(nil), m.NonIntermediary...), m.Intermediary...) {
		if skip == nil || !bytes.Equal(e.Cert.Raw, skip.Raw) {
			out = append(out, e.Cert)
		}
	}
	return out
}

// openContent reads the ContentPackage: plain containers directly,
// EncryptedData with one of the keys, then their contents, encrypted
// attachments and container signatures.
func (o *Opened) openContent(opts OpenOptions) error {
	env := o.Envelope
	var errs []error
	for _, ed := range env.encData {
		id := ed.SelectAttrValue("Id", "")
		plain, reader, recips, err := decryptContainer(ed, &env.Message, opts.Keys)
		if errors.Is(err, errNoKey) {
			o.Undecrypted = append(o.Undecrypted, EncryptedInfo{ID: id, Recipients: recips})
			continue
		}
		if err != nil {
			errs = append(errs, &DecryptError{What: "EncryptedData " + id, Err: err})
			continue
		}
		doc, err := safexml.Parse(plain, ParseLimits)
		if err != nil {
			errs = append(errs, &DecryptError{What: "EncryptedData " + id, Err: fmt.Errorf("plaintext is not XML: %w", err)})
			continue
		}
		if !is(doc.Root(), NSOSCI, "ContentContainer") {
			errs = append(errs, &DecryptError{What: "EncryptedData " + id, Err: fmt.Errorf("plaintext is %s, not osci:ContentContainer", doc.Root().Tag)})
			continue
		}
		c, err := o.readContainer(doc.Root(), opts, true)
		if c != nil {
			c.EncryptedDataID, c.Reader, c.XML = id, reader, plain
			o.Containers = append(o.Containers, c)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, el := range env.contain {
		c, err := o.readContainer(el, opts, false)
		if c != nil {
			c.XML = serialize(el)
			o.Containers = append(o.Containers, c)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// readContainer reads one ContentContainer: contents, encrypted
// attachments (whose keys it carries) and its signatures.
func (o *Opened) readContainer(el *etree.Element, opts OpenOptions, decrypted bool) (*OpenedContainer, error) {
	c := &OpenedContainer{ID: el.SelectAttrValue("Id", "")}
	var errs []error
	var sigs []*etree.Element
	// Encrypted attachments first: their plaintext is what contents and
	// signatures refer to.
	for k := range elementsOf(el) {
		if !is(k, NSXENC, "EncryptedData") {
			continue
		}
		cid, err := decryptAttachment(k, o, opts)
		if err != nil {
			errs = append(errs, &DecryptError{What: "attachment " + cid, Err: err})
		}
	}
	var contents []*etree.Element
	for k := range elementsOf(el) {
		switch {
		case is(k, NSDS, "Signature"):
			sigs = append(sigs, k)
		case is(k, NSOSCI, "Content"):
			contents = append(contents, k)
		case is(k, NSXENC, "EncryptedData"):
		default:
			errs = append(errs, perr(k, "unexpected element in ContentContainer"))
		}
	}
	// Signatures first: the octets a base64 reference digested are the
	// contents handed out, so what is used is exactly what was verified.
	var signed map[*etree.Element][]byte
	for _, s := range sigs {
		rep, octets := o.verifyContainerSignature(s, el, opts)
		c.Signatures = append(c.Signatures, rep)
		if rep.Err != nil {
			errs = append(errs, &SignatureError{Block: "ContentContainer " + c.ID, Err: rep.Err})
		}
		for e, b := range octets {
			if signed == nil {
				signed = map[*etree.Element][]byte{}
			}
			signed[e] = b
		}
	}
	for _, k := range contents {
		oc, err := o.readContent(k, signed)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.Contents = append(c.Contents, oc)
	}
	return c, errors.Join(errs...)
}

// readContent reads one osci:Content. signed holds the octets verified
// signatures digested for Base64Content elements; an element found there
// is not decoded again.
func (o *Opened) readContent(el *etree.Element, signed map[*etree.Element][]byte) (*OpenedContent, error) {
	oc := &OpenedContent{ID: el.SelectAttrValue("Id", "")}
	if href := el.SelectAttrValue("href", ""); href != "" {
		cid, err := wire.ContentIDFromURL(href)
		if err != nil {
			return nil, perr(el, "href %q: %v", href, err)
		}
		a := o.attachment(cid)
		if a == nil {
			return nil, perr(el, "refers to attachment <%s>, which the message does not carry", cid)
		}
		oc.Attachment = a
		oc.Size, oc.SHA256 = a.Size, a.SHA256
		return oc, nil
	}
	b64 := child(el, NSOSCI, "Base64Content")
	if b64 == nil {
		return nil, perr(el, "neither href nor Base64Content (nested containers are not supported)")
	}
	if oc.ID == "" {
		oc.ID = b64.SelectAttrValue("Id", "")
	}
	data, ok := signed[b64]
	if !ok {
		var err error
		if data, err = decodeB64(b64); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(data)
	oc.Data, oc.Size, oc.SHA256 = data, int64(len(data)), sum[:]
	return oc, nil
}

// verifyContainerSignature verifies a container signature: every content
// (and the attachment plaintext behind it) must be covered. It also returns
// the octets each base64 reference digested, by element, when the
// reference verified.
func (o *Opened) verifyContainerSignature(sig, container *etree.Element, opts OpenOptions) (*SignatureReport, map[*etree.Element][]byte) {
	const block = "ContentContainer"
	var required []*etree.Element
	var cids []string
	for k := range elementsOf(container) {
		if !is(k, NSOSCI, "Content") {
			continue
		}
		if b := child(k, NSOSCI, "Base64Content"); b != nil {
			required = append(required, b)
		} else {
			required = append(required, k)
		}
		if href := k.SelectAttrValue("href", ""); href != "" {
			if cid, err := wire.ContentIDFromURL(href); err == nil {
				cids = append(cids, cid)
			}
		}
	}
	// As for the message signature: the signer comes from the signature
	// Verify parses; if it cannot be resolved, nothing is verified.
	var cert *x509.Certificate
	var ref string
	var keyErr error
	res, verr := xmldsig.Verify(sig, xmldsig.VerifyOptions{
		KeyFrom: func(s *xmldsig.Signature) (crypto.PublicKey, error) {
			if cert, ref, keyErr = signerOf(s, &o.Envelope.Message, block); keyErr != nil {
				return nil, keyErr
			}
			return cert.PublicKey, nil
		},
		ResolveCID: func(cid string) (io.ReadCloser, error) {
			a := o.attachment(cid)
			if a == nil {
				return nil, fmt.Errorf("no attachment <%s>", cid)
			}
			r, err := a.Open() // container signatures cover the plaintext
			if err != nil {
				return nil, err
			}
			return io.NopCloser(r), nil
		},
		Required:     required,
		RequiredCIDs: cids,
	})
	if keyErr != nil || cert == nil {
		return &SignatureReport{Block: block, SignerRef: ref, Err: verr}, nil
	}
	var octets map[*etree.Element][]byte
	if res != nil {
		for _, r := range res.References {
			if r.OK && r.Data != nil && r.Element != nil {
				if octets == nil {
					octets = map[*etree.Element][]byte{}
				}
				octets[r.Element] = r.Data
			}
		}
	}
	rep := toReport(block, res)
	rep.Signer, rep.SignerRef = cert, ref
	if opts.Policy != nil {
		if cerr := opts.Policy.Check(cert, keystore.UsageSignature, o.Envelope.Message.certsOf(nil)...); cerr != nil {
			rep.CertErr = cerr
			verr = errors.Join(verr, cerr)
		}
	}
	rep.Err = verr
	return rep, octets
}

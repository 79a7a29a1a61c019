package osci

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/wire"
	"github.com/xagw/xagw/osci/xmldsig"
)

// writeSettings serialise etree elements the way the reference writes XML:
// explicit end tags and canonical escaping.
var writeSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalText: true, CanonicalAttrVal: true}

// wireAttachment is an attachment as it goes on the wire (ciphertext for
// encrypted attachments).
type wireAttachment struct {
	contentID string
	size      int64
	open      func() (io.ReadCloser, error)
}

// signerRole says which signature block a signer writes and which Id its
// certificate element gets.
type signerRole struct {
	block   string // "ClientSignature" or "SupplierSignature"
	certRef string // Id of the signature certificate element (RetrievalMethod target)
}

// Signing is who signs an outgoing message and how.
type Signing struct {
	// Identity is the signature key and certificate.
	Identity *keystore.Identity
	// Method is the XML-DSig signature method URI ("" = rsa-sha256 for RSA
	// keys, ecdsa-sha256 for EC keys). Use xmldsig.RSAPSSSHA256 for PSS.
	Method string
}

func (s *Signing) signer() *xmldsig.Signer {
	return &xmldsig.Signer{Key: s.Identity.Key, SignatureMethod: s.Method}
}

// knownBody is the soap:Body of a composed envelope as the signer can
// digest it without parsing the envelope (see canonicalBody): either its
// canonical form, or an element tree in a stand-in envelope that is
// canonicalised straight into the digest.
type knownBody struct {
	canonical []byte
	tree      *etree.Element
}

// signEnvelope computes the Client- or SupplierSignature over every header
// block, the body and every attachment (their bytes as transmitted) and
// returns the complete signature block. body is the soap:Body when it is
// known without parsing (see canonicalBody); then nothing is parsed,
// because every header block the composer writes is its own canonical
// form. Otherwise (nil) the rendered envelope is parsed and canonicalised.
func signEnvelope(e *envelope, role signerRole, s *Signing, atts []wireAttachment, body *knownBody) ([]byte, error) {
	var header *etree.Element
	var element func(id string) (xmldsig.Reference, error)
	if body != nil {
		// A stand-in for the envelope with the same namespace declarations:
		// the SignedInfo is canonicalised in the namespace context of its
		// ancestors, which is all that is taken from the document. A body
		// tree lives in its own stand-in; the header joins it there, since
		// an element reference must resolve in the signature's document.
		canon := map[string][]byte{}
		if body.tree != nil {
			header = body.tree.Parent().CreateElement("soap:Header")
		} else {
			header = envelopeContext().CreateElement("soap:Header")
			canon[idBody] = body.canonical
		}
		for _, blk := range e.blocks {
			if blk.id != "" {
				canon[blk.id] = blk.xml
			}
		}
		element = func(id string) (xmldsig.Reference, error) {
			if id == idBody && body.tree != nil {
				return xmldsig.Reference{Element: body.tree}, nil
			}
			if canon[id] == nil {
				return xmldsig.Reference{}, fmt.Errorf("osci: nothing with Id %q to sign", id)
			}
			return xmldsig.Reference{URI: "#" + id, Canonical: canon[id]}, nil
		}
	} else {
		doc, err := safexml.Parse(e.render(nil), ParseLimits)
		if err != nil {
			return nil, fmt.Errorf("osci: re-reading composed envelope: %w", err)
		}
		root := doc.Root()
		header = root.SelectElement("soap:Header")
		body := root.SelectElement("soap:Body")
		if header == nil || body == nil {
			return nil, errors.New("osci: composed envelope lacks Header or Body")
		}
		byID := map[string]*etree.Element{idBody: body}
		for h := range elementsOf(header) {
			if id := h.SelectAttrValue("Id", ""); id != "" {
				byID[id] = h
			}
		}
		element = func(id string) (xmldsig.Reference, error) {
			el := byID[id]
			if el == nil {
				return xmldsig.Reference{}, fmt.Errorf("osci: nothing with Id %q to sign", id)
			}
			return xmldsig.Reference{Element: el}, nil
		}
	}
	block := etree.NewElement("osci:" + role.block)
	id := idClientSignature
	if role.block == "SupplierSignature" {
		id = idSupplierSignature
	}
	block.CreateAttr("Id", id)
	block.CreateAttr(actorAttr, ActorNext)
	block.CreateAttr(mustUnderstandAttr, "1")
	header.InsertChildAt(1, block)

	ids := e.referenceIDs()
	var refs []xmldsig.Reference
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	addAttachments := func() error {
		for _, a := range atts {
			rc, err := a.open()
			if err != nil {
				return fmt.Errorf("osci: attachment %s: %w", a.contentID, err)
			}
			closers = append(closers, rc)
			refs = append(refs, xmldsig.Reference{URI: "cid:" + a.contentID, Data: rc})
		}
		return nil
	}
	// Attachments go between the order blocks and the certificate blocks,
	// where the reference adds them.
	added := false
	for _, refID := range ids {
		if !added && (refID == idIntermediary || refID == idNonIntermediary || refID == idBody) {
			if err := addAttachments(); err != nil {
				return nil, err
			}
			added = true
		}
		ref, err := element(refID)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	// SignXML writes the ds:Signature as serialize would write the element
	// Sign builds; the block around it is written the same way.
	sig, err := s.signer().SignXML(block, refs, "#"+role.certRef)
	if err != nil {
		return nil, fmt.Errorf("osci: signing %s: %w", role.block, err)
	}
	var b bytes.Buffer
	b.Grow(len(sig) + 160)
	b.WriteString(fmt.Sprintf(signatureBlockOpenFmt, role.block, id))
	b.Write(sig)
	b.WriteString("</osci:" + role.block + ">")
	return b.Bytes(), nil
}

// envelopeAttrs are the namespace declarations of envelopeNS as attributes.
var envelopeAttrs = func() []etree.Attr {
	doc := etree.NewDocument()
	if err := doc.ReadFromString("<x" + envelopeNS + "></x>"); err != nil {
		panic(err)
	}
	return doc.Root().Attr
}()

// envelopeContext returns an element declaring what every composed
// envelope (and every block in it) declares: a parent that gives a
// detached element the namespace context it has in the envelope.
func envelopeContext() *etree.Element {
	el := etree.NewElement("soap:Envelope")
	el.Attr = append(el.Attr, envelopeAttrs...)
	return el
}

// canonicalBody returns the composed soap:Body when it is known without
// parsing the envelope again: a Body the composer wrote alone (no content
// package) is its own canonical form; a content package built here is
// given as the element trees it was serialised from, placed in a Body of
// the same namespace context, which the signer canonicalises straight into
// the digest (no copy of the canonical form, which is as large as the
// content). trees must have been serialised without escaping anything
// (serializePlain), so that a parse of the bytes gives back the same trees;
// buildContent gives no trees otherwise. It returns nil for anything else
// (content relayed from another message, a container that exists only as
// bytes or whose text needed escaping); the signer parses then.
func canonicalBody(e *envelope, content []byte, trees []*etree.Element) *knownBody {
	if content == nil {
		return &knownBody{canonical: e.body}
	}
	if trees == nil || e.typ.info().block == blockBody {
		return nil
	}
	body := envelopeContext().CreateElement("soap:Body")
	body.Attr = append(body.Attr, envelopeAttrs...)
	body.CreateAttr("Id", idBody)
	pkg := body.CreateElement("osci:ContentPackage")
	for _, t := range trees {
		pkg.AddChild(t)
	}
	return &knownBody{tree: body}
}

// Outgoing is a composed message ready to be sent: its MIME entity with the
// exact length known up front. Attachments are read from their sources (or
// from encrypted spools) only while the message is written, and can be
// written again (an HTTP retry). Close releases the spools.
type Outgoing struct {
	// Type and ControlBlock are those of the (inner) message.
	Type         MessageType
	ControlBlock ControlBlock
	// MessageID is the message's id, if it has one.
	MessageID string
	// Envelope is the inner SOAP envelope (before transport encryption).
	Envelope []byte
	// TransportEncrypted reports whether the message is wrapped for the
	// intermediary (or passive recipient).
	TransportEncrypted bool

	boundary string
	parts    func() []wire.PartSource
	closers  []io.Closer
}

func (o *Outgoing) message() *wire.Message {
	return &wire.Message{Boundary: o.boundary, Parts: o.parts()}
}

// Len returns the exact size of the MIME entity.
func (o *Outgoing) Len() (int64, error) { return o.message().Len() }

// Reader streams the MIME entity. Each call starts from the beginning.
func (o *Outgoing) Reader() (io.Reader, error) { return o.message().Reader() }

// WriteTo writes the MIME entity.
func (o *Outgoing) WriteTo(w io.Writer) (int64, error) { return o.message().WriteTo(w) }

// Bytes returns the whole MIME entity (small messages and tests).
func (o *Outgoing) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if _, err := o.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Close releases temporary storage of the message.
func (o *Outgoing) Close() error {
	var errs []error
	for _, c := range o.closers {
		errs = append(errs, c.Close())
	}
	o.closers = nil
	return errors.Join(errs...)
}

// lazyReader opens its source on the first Read and closes it at EOF, so a
// message can be built up front and written (repeatedly) later.
type lazyReader struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
	done bool
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.done {
		return 0, io.EOF
	}
	if l.rc == nil {
		rc, err := l.open()
		if err != nil {
			return 0, err
		}
		l.rc = rc
	}
	n, err := l.rc.Read(p)
	if err == io.EOF {
		l.rc.Close()
		l.rc, l.done = nil, true
	}
	return n, err
}

// sealInput is everything needed to turn a message into an Outgoing.
type sealInput struct {
	msg         *Message
	content     []byte // ContentPackage element (nil if none)
	attachments []wireAttachment
	closers     []io.Closer // spools owned by the attachments
	role        signerRole
	// contentTrees are the element trees content was serialised from
	// (builtContent.trees), nil when unknown.
	contentTrees []*etree.Element
	signing      *Signing          // nil: unsigned
	transportTo  *x509.Certificate // nil: no transport encryption
	spoolDir     string
}

// seal composes, signs and (optionally) transport-encrypts a message.
func seal(in sealInput) (*Outgoing, error) {
	out := &Outgoing{Type: in.msg.Type, ControlBlock: in.msg.ControlBlock, MessageID: in.msg.MessageID, closers: in.closers}
	fail := func(err error) (*Outgoing, error) {
		out.Close()
		return nil, err
	}
	env, err := composeEnvelope(in.msg, in.content)
	if err != nil {
		return fail(err)
	}
	var sig []byte
	if in.signing != nil {
		canon := canonicalBody(env, in.content, in.contentTrees)
		if sig, err = signEnvelope(env, in.role, in.signing, in.attachments, canon); err != nil {
			return fail(err)
		}
	}
	out.Envelope = env.render(sig)
	out.boundary = wire.NewBoundary()
	atts := in.attachments
	root := out.Envelope
	innerParts := func() []wire.PartSource {
		parts := []wire.PartSource{wire.RootPart(root)}
		for _, a := range atts {
			parts = append(parts, wire.AttachmentPart(a.contentID, &lazyReader{open: a.open}, a.size))
		}
		return parts
	}
	if in.transportTo == nil {
		out.parts = innerParts
		return out, nil
	}
	boundary := out.boundary
	inner := func() *wire.Message { return &wire.Message{Boundary: boundary, Parts: innerParts()} }
	parts, closers, err := transportEncrypt(inner, in.transportTo, in.spoolDir)
	out.closers = append(out.closers, closers...)
	if err != nil {
		return fail(err)
	}
	out.parts = parts
	out.TransportEncrypted = true
	return out, nil
}

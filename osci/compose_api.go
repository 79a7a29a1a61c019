package osci

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// RawContent is a ContentPackage in transport form: the osci:ContentPackage
// element and the attachments exactly as they travel (ciphertext for
// encrypted attachments). An intermediary stores and relays it without
// being able to read it.
type RawContent struct {
	XML         []byte
	Attachments []RawAttachment
}

// RawAttachment is one attachment in transport form.
type RawAttachment struct {
	ContentID string
	Size      int64
	Open      func() (io.ReadCloser, error)
}

// ComposeOptions say how Compose signs, encrypts and fills a message.
type ComposeOptions struct {
	// Signing signs the message; nil leaves it unsigned.
	Signing *Signing
	// SignatureBlock is "ClientSignature" (orders) or "SupplierSignature"
	// (responses). Default: by message type.
	SignatureBlock string
	// SignerCertID is the Id of the certificate element (in
	// NonIntermediary or Intermediary) holding the signer's certificate.
	SignerCertID string
	// TransportTo, if set, wraps the message for this cipher certificate.
	TransportTo *x509.Certificate
	// Content is the ContentPackage and its attachments (nil for none).
	Content *RawContent
	// SpoolDir holds the transport ciphertext of large messages.
	SpoolDir string
}

// Compose builds an outgoing message from m. It is the low-level entry for
// servers (the intermediary, a passive recipient) and tools; clients use
// Client. The envelope is written in the reference layout, signed over
// every header block, the body and every attachment, and optionally
// transport-encrypted.
func Compose(m *Message, opts ComposeOptions) (*Outgoing, error) {
	in := sealInput{msg: m, transportTo: opts.TransportTo, spoolDir: opts.SpoolDir}
	if opts.Signing != nil {
		if opts.SignerCertID == "" {
			return nil, errors.New("osci: ComposeOptions.SignerCertID is empty")
		}
		if m.certByID(opts.SignerCertID) == nil {
			return nil, fmt.Errorf("osci: the message carries no certificate element %q for the signer", opts.SignerCertID)
		}
		block := opts.SignatureBlock
		if block == "" {
			block = "ClientSignature"
			if m.Type.IsResponse() {
				block = "SupplierSignature"
			}
		}
		in.signing = opts.Signing
		in.role = signerRole{block: block, certRef: opts.SignerCertID}
	}
	if opts.Content != nil {
		in.content = opts.Content.XML
		for _, a := range opts.Content.Attachments {
			in.attachments = append(in.attachments, wireAttachment{contentID: a.ContentID, size: a.Size, open: a.Open})
		}
	}
	return seal(in)
}

// BuildContent renders the containers of d for a message signed by signing
// (whose certificate element has Id signerCertID): container signatures,
// content encryption for the readers, attachment encryption. It returns the
// content in transport form and the certificate entries (addressee, other
// readers) the message must carry. Close the returned io.Closer after the
// message is sent (it owns encrypted attachment spools).
func BuildContent(d *Delivery, signing *Signing, signerCertID, spoolDir string) (*RawContent, []CertEntry, io.Closer, error) {
	b, err := buildContent(d, signing, signerCertID, spoolDir)
	if err != nil {
		return nil, nil, nil, err
	}
	rc := &RawContent{XML: b.xml}
	for _, a := range b.attachments {
		rc.Attachments = append(rc.Attachments, RawAttachment{ContentID: a.contentID, Size: a.size, Open: a.open})
	}
	return rc, b.certs, b, nil
}

// RawContent returns the message's ContentPackage in transport form, for
// relaying it unchanged (nil if the message has none). The attachments read
// from the spools of o and are valid until o is closed.
func (o *Opened) RawContent() *RawContent {
	if o.Envelope == nil || o.Envelope.pkg == nil {
		return nil
	}
	rc := &RawContent{XML: embeddable(o.Envelope.pkg)}
	for _, a := range o.Attachments {
		sp := a.raw
		rc.Attachments = append(rc.Attachments, RawAttachment{ContentID: a.ContentID, Size: a.WireSize,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(sp.Reader()), nil }})
	}
	return rc
}

// embeddable serialises el so it can be placed into one of our envelopes:
// namespace prefixes el uses but does not declare, and that our envelope
// does not bind the same way, are declared on el.
func embeddable(el *etree.Element) []byte {
	ours := map[string]string{"ds": NSDS, "osci": NSOSCI, "soap": NSSOAP, "xenc": NSXENC, "xsi": NSXSI}
	declared := map[string]bool{}
	for _, a := range el.Attr {
		if a.Space == "xmlns" {
			declared[a.Key] = true
		}
	}
	// The declarations are appended to the element's own attributes, as
	// CreateAttr on a copy would; writing them on the fly spares copying
	// the tree (a content package is tens of kilobytes).
	var extra []etree.Attr
	for e := el.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space != "xmlns" || declared[a.Key] {
				continue
			}
			declared[a.Key] = true
			if ours[a.Key] != a.Value {
				extra = append(extra, etree.Attr{Space: "xmlns", Key: a.Key, Value: a.Value})
			}
		}
	}
	return serializeWith(el, extra)
}

// ContentPackageXML returns the envelope's ContentPackage element ready to
// be embedded into another envelope (nil if there is none).
func (e *Envelope) ContentPackageXML() []byte {
	if e.pkg == nil {
		return nil
	}
	return embeddable(e.pkg)
}

// HasContent reports whether the envelope carries a ContentPackage.
func (e *Envelope) HasContent() bool { return e.pkg != nil }

// ContentReaders lists, per EncryptedData of the content package, the
// certificate element Ids its EncryptedKeys point to.
func (e *Envelope) ContentReaders() map[string][]string {
	out := map[string][]string{}
	for _, ed := range e.encData {
		id := ed.SelectAttrValue("Id", "")
		for _, ek := range ed.FindElements(".//EncryptedKey") {
			for _, rm := range ek.FindElements(".//RetrievalMethod") {
				out[id] = append(out[id], strings.TrimPrefix(rm.SelectAttrValue("URI", ""), "#"))
			}
		}
	}
	return out
}

package osci

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"io"
	"strconv"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/osci/xmldsig"
)

// builtContent is a ContentPackage ready to go into a Body, with the
// attachments (as they travel: ciphertext for encrypted ones) and the
// certificate entries the message must carry for it.
type builtContent struct {
	xml         []byte
	attachments []wireAttachment
	certs       []CertEntry
	closers     []io.Closer
	// trees are the ContentPackage's children as the element trees xml was
	// serialised from, in order, so the message signature can canonicalise
	// them without parsing xml again (nil when a container exists only as
	// bytes).
	trees []*etree.Element
}

func (b *builtContent) Close() error {
	for _, c := range b.closers {
		c.Close()
	}
	b.closers = nil
	return nil
}

// contentBuilder numbers Ids the way the reference does (contentcontainerN,
// contentN, encdata_N across the whole message).
type contentBuilder struct {
	signing   *Signing // container signer (the originator as author)
	signerRef string   // Id of its SignatureCertificateOriginator element
	spoolDir  string

	addressee  *x509.Certificate
	readers    []*x509.Certificate // other readers, in order of first use
	containerN int
	contentN   int
	encN       int
	out        *builtContent
	names      map[string]bool
}

// buildContent renders the containers of d.
func buildContent(d *Delivery, signing *Signing, signerRef, spoolDir string) (*builtContent, error) {
	b := &contentBuilder{signing: signing, signerRef: signerRef, spoolDir: spoolDir, addressee: d.Addressee,
		out: &builtContent{}, names: map[string]bool{}}
	var enc, plain [][]byte // container bytes, copied once into the package
	var encAtts, plainAtts []wireAttachment
	var encTrees, plainTrees []*etree.Element
	complete := true
	for i := range d.Containers {
		x, tree, atts, encrypted, err := b.container(&d.Containers[i])
		if err != nil {
			b.out.Close()
			return nil, fmt.Errorf("osci: container %d: %w", i, err)
		}
		complete = complete && tree != nil
		if encrypted {
			enc = append(enc, x)
			encAtts = append(encAtts, atts...)
			encTrees = append(encTrees, tree)
		} else {
			plain = append(plain, x)
			plainAtts = append(plainAtts, atts...)
			plainTrees = append(plainTrees, tree)
		}
	}
	if complete {
		b.out.trees = append(encTrees, plainTrees...)
	}
	// The reference puts every EncryptedData before the plain containers.
	size := 64
	for _, x := range append(enc, plain...) {
		size += len(x)
	}
	var pkg bytes.Buffer
	pkg.Grow(size)
	pkg.WriteString("<osci:ContentPackage>")
	for _, x := range append(enc, plain...) {
		pkg.Write(x)
	}
	pkg.WriteString("</osci:ContentPackage>")
	b.out.xml = pkg.Bytes()
	b.out.attachments = append(encAtts, plainAtts...)
	if d.Addressee != nil {
		b.out.certs = append(b.out.certs, CertEntry{CipherCertificateAddressee, CertID("addressee", "cipher", d.Addressee), d.Addressee})
	}
	for i, r := range b.readers {
		b.out.certs = append(b.out.certs, CertEntry{CipherCertificateOtherReader, CertID("reader"+strconv.Itoa(i), "cipher", r), r})
	}
	return b.out, nil
}

// readerRef returns the Id of the certificate element for a reader of an
// EncryptedData: the addressee's or an other reader's.
func (b *contentBuilder) readerRef(c *x509.Certificate) string {
	if b.addressee != nil && bytes.Equal(c.Raw, b.addressee.Raw) {
		return CertID("addressee", "cipher", c)
	}
	for i, r := range b.readers {
		if bytes.Equal(r.Raw, c.Raw) {
			return CertID("reader"+strconv.Itoa(i), "cipher", r)
		}
	}
	b.readers = append(b.readers, c)
	return CertID("reader"+strconv.Itoa(len(b.readers)-1), "cipher", c)
}

// container renders one ContentContainer (signed and/or encrypted) and
// returns the element tree the bytes were serialised from when they were
// serialised without escaping anything (nil otherwise, and for an unsigned
// plain container, which exists only as bytes).
func (b *contentBuilder) container(spec *ContentContainer) (xml []byte, tree *etree.Element, atts []wireAttachment, encrypted bool, err error) {
	encrypted = len(spec.EncryptFor) > 0
	if len(spec.Contents) == 0 {
		return nil, nil, nil, false, fmt.Errorf("no contents")
	}
	if spec.Sign && b.signing == nil {
		return nil, nil, nil, false, fmt.Errorf("container signature requested but no signer")
	}
	id := "contentcontainer" + strconv.Itoa(b.containerN)
	b.containerN++
	var w xw
	w.start("osci:ContentContainer", envelopeNS, "Id", id)
	var encAtt bytes.Buffer
	var plainRefs []attachmentRef
	var inline [][]byte // inline contents in document order, for the signature
	var inlineIDs []string
	for _, c := range spec.Contents {
		cid := "content" + strconv.Itoa(b.contentN)
		b.contentN++
		switch {
		case c.Attachment != nil && c.Data != nil:
			return nil, nil, nil, false, fmt.Errorf("content %s has both data and an attachment", cid)
		case c.Attachment != nil:
			a := c.Attachment
			if a.Name == "" || b.names[a.Name] || a.Name == RootContentID || a.Name == TransportContentID {
				return nil, nil, nil, false, fmt.Errorf("attachment name %q is empty, reserved or used twice", a.Name)
			}
			b.names[a.Name] = true
			w.empty("osci:Content", "", "Id", cid, "href", "cid:"+a.Name)
			plainRefs = append(plainRefs, attachmentRef{a.Name, a.Open})
			if encrypted {
				x, wa, closer, err := encryptAttachment(a, b.spoolDir)
				if err != nil {
					return nil, nil, nil, false, fmt.Errorf("encrypting attachment %s: %w", a.Name, err)
				}
				b.out.closers = append(b.out.closers, closer)
				encAtt.Write(x)
				atts = append(atts, wa)
			} else {
				atts = append(atts, wireAttachment{contentID: a.Name, size: a.Size, open: a.Open})
			}
		default:
			w.start("osci:Content", "")
			w.b64("osci:Base64Content", "", c.Data, "Id", cid)
			w.end("osci:Content")
			inline = append(inline, c.Data)
			inlineIDs = append(inlineIDs, cid)
		}
	}
	w.Write(encAtt.Bytes())
	w.end("osci:ContentContainer")
	xml = w.Bytes()

	switch {
	case spec.Sign && encrypted && len(plainRefs) == 0:
		// Only the ciphertext of this container goes into the message, so
		// it is needed as bytes only and is signed without parsing it.
		if xml, err = b.signInlineContainer(xml, id, inline, inlineIDs); err != nil {
			return nil, nil, nil, false, err
		}
	case spec.Sign:
		if xml, tree, err = b.signContainer(xml, plainRefs, inline); err != nil {
			return nil, nil, nil, false, err
		}
	}
	if !encrypted {
		return xml, tree, atts, false, nil
	}
	refs := make([]recipientRef, 0, len(spec.EncryptFor))
	for _, c := range spec.EncryptFor {
		refs = append(refs, recipientRef{cert: c, ref: b.readerRef(c)})
	}
	encID := "encdata_" + strconv.Itoa(b.encN)
	b.encN++
	ed, edTree, err := encryptContainer(xml, encID, refs)
	if err != nil {
		return nil, nil, nil, false, err
	}
	return ed, edTree, atts, true, nil
}

// signInlineContainer is signContainer for a container with inline
// contents only, written by container() as xml: it produces the same bytes
// without parsing xml. The signature needs only the container's namespace
// context (the envelope declarations written on it) and the Base64Content
// elements to refer to by Id, whose digests are taken over the octets they
// were written from; a skeleton with just that stands in for the parsed
// container, and the signature is inserted as the first child, where
// signContainer puts it (TestSignInlineContainerMatchesParsing).
func (b *contentBuilder) signInlineContainer(xml []byte, id string, inline [][]byte, ids []string) ([]byte, error) {
	root := etree.NewElement("osci:ContentContainer")
	root.Attr = append(root.Attr, envelopeAttrs...)
	root.CreateAttr("Id", id)
	refs := make([]xmldsig.Reference, len(inline))
	for i, data := range inline {
		b64 := root.CreateElement("osci:Content").CreateElement("osci:Base64Content")
		b64.CreateAttr("Id", ids[i])
		refs[i] = xmldsig.Reference{Element: b64, Transforms: []string{xmldsig.TransformBase64}, Octets: data}
	}
	sig, err := b.signing.signer().SignXML(root, refs, "#"+b.signerRef)
	if err != nil {
		return nil, fmt.Errorf("signing container: %w", err)
	}
	end := bytes.IndexByte(xml, '>') + 1 // the start tag's attribute values hold no '>'
	out := make([]byte, 0, len(xml)+len(sig))
	out = append(out, xml[:end]...)
	out = append(out, sig...)
	return append(out, xml[end:]...), nil
}

// attachmentRef is an attachment a container signature covers (plaintext).
type attachmentRef struct {
	cid  string
	open func() (io.ReadCloser, error)
}

// recipientRef is a reader of an EncryptedData: its certificate and the Id
// of the certificate element its EncryptedKey points to.
type recipientRef struct {
	cert *x509.Certificate
	ref  string
}

// signContainer adds a ds:Signature as the first child of the container:
// inline contents are signed over their decoded bytes (base64 transform;
// inline holds them in document order, as they were encoded, so they are
// not decoded again), attachment references over the Content element and
// the attachment plaintext.
func (b *contentBuilder) signContainer(xml []byte, atts []attachmentRef, inline [][]byte) ([]byte, *etree.Element, error) {
	doc, err := safexml.Parse(xml, ParseLimits)
	if err != nil {
		return nil, nil, err
	}
	root := doc.Root()
	var refs []xmldsig.Reference
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	ai, ii := 0, 0
	for c := range elementsOf(root) {
		if c.Tag != "Content" {
			continue
		}
		if b64 := c.SelectElement("osci:Base64Content"); b64 != nil {
			refs = append(refs, xmldsig.Reference{Element: b64, Transforms: []string{xmldsig.TransformBase64}, Octets: inline[ii]})
			ii++
			continue
		}
		refs = append(refs, xmldsig.Reference{Element: c})
		a := atts[ai]
		ai++
		rc, err := a.open()
		if err != nil {
			return nil, nil, fmt.Errorf("attachment %s: %w", a.cid, err)
		}
		closers = append(closers, rc)
		refs = append(refs, xmldsig.Reference{URI: "cid:" + a.cid, Data: rc})
	}
	sig, err := b.signing.signer().Sign(root, refs, xmldsig.RetrievalMethodKeyInfo("#"+b.signerRef))
	if err != nil {
		return nil, nil, fmt.Errorf("signing container: %w", err)
	}
	root.RemoveChild(sig)
	root.InsertChildAt(0, sig)
	xml, plain := serializePlain(root)
	if !plain {
		return xml, nil, nil // exists only as bytes for the message signature
	}
	return xml, root, nil
}

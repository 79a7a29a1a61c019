package testvectors

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/xmldsig"
)

// Delivery variants: the shapes of storeDelivery the kit records (as
// vectors) and re-creates for a vendor's key (conformance run). Every
// variant carries an XAusländer message as inline content.
type deliveryVariant struct {
	name    string
	purpose string
	// signer and method sign the order and the content containers.
	signer, method string
	// abhCipher is the kit entity the vector version is addressed to.
	abhCipher string
	// containers builds the content for an addressee (and another reader)
	// around an XAusländer document.
	containers func(addressee, other *x509.Certificate, doc []byte) []osci.ContentContainer
}

// attachmentPDF is the document the attachment variants carry: a small,
// fixed, fictitious PDF (a test document, no personal data).
var attachmentPDF = func() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n% xagw conformance kit: Muster-Nachweis (fiktiv, ohne rechtliche Wirkung)\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "%% Zeile %03d: Dieses Dokument ist ein Muster fuer Testzwecke.\n", i)
	}
	b.WriteString("%%EOF\n")
	return b.Bytes()
}()

func enc(cs ...*x509.Certificate) []*x509.Certificate { return cs }

var deliveryVariants = []deliveryVariant{
	{
		name: "store-inline", signer: entSenderSig, abhCipher: entABHCipher,
		purpose: "One content container with the application inline, encrypted for the ABH (aes256-gcm, rsa-oaep), not signed on content level.",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{EncryptFor: enc(a), Contents: []osci.Content{{Data: doc}}}}
		},
	},
	{
		name: "store-signed-encrypted", signer: entSenderSig, abhCipher: entABHCipher,
		purpose: "The usual gateway delivery: the container is signed by the author (rsa-sha256), then encrypted for the ABH.",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{{Data: doc}}}}
		},
	},
	{
		name: "store-attachments", signer: entSenderSig, abhCipher: entABHCipher,
		purpose: "The application inline plus a document as MIME attachment, signed and encrypted (the attachment with its own key).",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{
				{Data: doc}, {Attachment: osci.AttachmentBytes("nachweis.pdf", attachmentPDF)}}}}
		},
	},
	{
		name: "store-containers", signer: entSenderSig, abhCipher: entABHCipher,
		purpose: "Two content containers, each signed and encrypted for the ABH: the application and a document.",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{
				{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{{Data: doc}}},
				{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{{Data: attachmentPDF}}},
			}
		},
	},
	{
		name: "store-readers", signer: entSenderSig, abhCipher: entABHCipher,
		purpose: "One signed container encrypted for two readers: the ABH and another reader; each decrypts the same content with its own key.",
		containers: func(a, o *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, EncryptFor: enc(a, o), Contents: []osci.Content{{Data: doc}}}}
		},
	},
	{
		name: "store-signed-plain", signer: entSenderSig, abhCipher: entABHCipher,
		purpose: "A signed container without content encryption (protected by transport encryption only).",
		containers: func(_, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, Contents: []osci.Content{{Data: doc}}}}
		},
	},
	{
		name: "store-ecdsa-p256", signer: entSenderSigP256, abhCipher: entABHCipher,
		purpose: "Order and container signed with ECDSA P-256 (ecdsa-sha256, r‖s), container encrypted for the ABH.",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{{Data: doc}}}}
		},
	},
	{
		name: "store-ecdsa-p384", signer: entSenderSigP384, abhCipher: entABHCipher,
		purpose: "Order and container signed with an ECDSA P-384 key (ecdsa-sha256, the default method), container encrypted for the ABH.",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{{Data: doc}}}}
		},
	},
	{
		name: "store-rsa-pss", signer: entSenderSig, method: xmldsig.RSAPSSSHA256, abhCipher: entABHCipher,
		purpose: "Order and container signed with RSA-PSS (sha256-rsa-MGF1, salt 32), container encrypted for the ABH.",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{{Data: doc}}}}
		},
	},
	{
		name: "store-rsa2048", signer: entSenderSig2048, abhCipher: entABHCipher2048,
		purpose: "Signer and ABH cipher key of 2048 bits (the other vectors use 4096), signed and encrypted.",
		containers: func(a, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, EncryptFor: enc(a), Contents: []osci.Content{{Data: doc}}}}
		},
	},
}

func variantByName(name string) (deliveryVariant, bool) {
	for _, v := range deliveryVariants {
		if v.name == name {
			return v, true
		}
	}
	return deliveryVariant{}, false
}

// contentDefect is a negative vector on content level: a delivery whose
// order and transport are correct (the intermediary accepts and relays it)
// but whose content a reader must refuse.
type contentDefect struct {
	name, class, purpose string
	// base is the delivery variant the content is built like.
	base string
	// author, if set, signs the content instead of the variant's signer
	// (as SignatureCertificateOtherAuthor).
	author string
	// readers, if set, replaces the content's readers (wrong key).
	readers func(addressee, other *x509.Certificate) []*x509.Certificate
	// mutate changes the built content.
	mutate func(*osci.RawContent) error
	// inspected says an intermediary can see the defect (the content is
	// not encrypted for the reader only, or its encryption parameters are
	// readable), so a checking intermediary — the kit's own — refuses the
	// order and the defect cannot be relayed to a case system by the
	// runner. The vector file still shows what a case system would fetch.
	inspected bool
}

var contentDefects = []contentDefect{
	{name: "tampered-cipher-text", class: ClassOSCIDecrypt, base: "store-signed-encrypted",
		purpose: "One byte of the content EncryptedData's cipher text is flipped: the GCM tag check must fail and nothing be released.",
		mutate:  editContentCipher(func(c []byte) []byte { c[len(c)/2] ^= 0x01; return c })},
	{name: "truncated-gcm-tag", class: ClassOSCIDecrypt, base: "store-signed-encrypted",
		purpose: "The last 4 bytes of the content cipher value are cut off, so the 16-byte GCM tag is incomplete.",
		mutate:  editContentCipher(func(c []byte) []byte { return c[:len(c)-4] })},
	{name: "iv-length-unsupported", class: ClassOSCIIVLength, base: "store-signed-encrypted",
		purpose: "osci128:IvLength announces Value=\"11\", a length AES-GCM in OSCI does not use: refuse before decrypting.",
		mutate:  editIVLength("11"), inspected: true},
	{name: "iv-length-16-announced", class: ClassOSCIDecrypt, base: "store-signed-encrypted",
		purpose: "osci128:IvLength announces 16 bytes for a cipher text made with a 12-byte IV: a reader that honours the announcement splits the data wrongly and the tag check fails.",
		mutate:  editIVLength("16")},
	{name: "iv-length-missing", class: ClassOSCIDecrypt, base: "store-signed-encrypted",
		purpose: "The osci128:IvLength element is removed from a 12-byte-IV cipher text: absent means 16 bytes, so decryption must fail; a reader that assumes 12 regardless is wrong.",
		mutate:  editIVLength("")},
	{name: "tampered-encrypted-attachment", class: ClassOSCIDecrypt, base: "store-attachments",
		purpose: "One byte of the encrypted attachment is flipped on the wire: its own GCM tag check must fail.",
		mutate:  editAttachment(func(b []byte) { b[len(b)/2] ^= 0x01 })},
	{name: "tampered-signed-content", class: ClassOSCIDigest, base: "store-signed-plain",
		purpose: "Inline content of a signed (unencrypted) container is changed after signing: the container signature's reference digest must not match.",
		mutate:  editBase64Content, inspected: true},
	{name: "tampered-signed-attachment", class: ClassOSCIDigest, base: "store-attachments-plain",
		purpose: "An attachment of a signed (unencrypted) container is changed after signing: the cid: reference digest must not match.",
		mutate:  editAttachment(func(b []byte) { b[len(b)/2] ^= 0x01 }), inspected: true},
	{name: "content-signer-expired", class: ClassOSCICertExpired, base: "store-signed-encrypted", author: entSenderSigExpired,
		purpose: "The container is signed (correctly) with a certificate that expired a year before the reference time."},
	{name: "content-signer-not-yet-valid", class: ClassOSCICertNotYetValid, base: "store-signed-encrypted", author: entSenderSigNotYet,
		purpose: "The container is signed (correctly) with a certificate that becomes valid only a year after the reference time."},
	{name: "content-signer-revoked", class: ClassOSCICertRevoked, base: "store-signed-encrypted", author: entSenderSigRevoked,
		purpose: "The container is signed (correctly, ECDSA P-256) with a certificate its CA revoked before the reference time (see pki/issuing-ca.crl.pem)."},
	{name: "wrong-content-key", class: ClassOSCIWrongKey, base: "store-signed-encrypted",
		purpose: "The container is encrypted for another reader only, although the delivery is addressed to the ABH: the ABH's key cannot open it.",
		readers: func(_, other *x509.Certificate) []*x509.Certificate { return enc(other) }},
}

// extraVariants are content shapes used only by defects.
var extraVariants = []deliveryVariant{
	{
		name: "store-attachments-plain", signer: entSenderSig, abhCipher: entABHCipher,
		containers: func(_, _ *x509.Certificate, doc []byte) []osci.ContentContainer {
			return []osci.ContentContainer{{Sign: true, Contents: []osci.Content{
				{Data: doc}, {Attachment: osci.AttachmentBytes("nachweis.pdf", attachmentPDF)}}}}
		},
	},
}

func baseVariant(name string) (deliveryVariant, error) {
	if v, ok := variantByName(name); ok {
		return v, nil
	}
	for _, v := range extraVariants {
		if v.name == name {
			return v, nil
		}
	}
	return deliveryVariant{}, fmt.Errorf("no delivery variant %q", name)
}

// authorCertID is the certificate element Id of a content author who is
// not the originator.
func authorCertID(c *x509.Certificate) string { return osci.CertID("author0", "signature", c) }

// buildDefectContent builds the content of a defect for an addressee:
// the base variant's containers (readers replaced if the defect says so),
// signed by the variant's signer or the defect's author, then mutated. It
// returns the raw content and the certificate entries the message must
// carry for it (readers and, for a separate author, the author's
// signature certificate).
func buildDefectContent(d contentDefect, pki *kitPKI, orderSigner *keystore.Identity, addressee, other *x509.Certificate, doc []byte, spool string) (*osci.RawContent, []osci.CertEntry, io.Closer, error) {
	v, err := baseVariant(d.base)
	if err != nil {
		return nil, nil, nil, err
	}
	cs := v.containers(addressee, other, doc)
	if d.readers != nil {
		for i := range cs {
			cs[i].EncryptFor = d.readers(addressee, other)
		}
	}
	signer, signerID := orderSigner, osci.CertID("originator", "signature", orderSigner.Certificate)
	var extra []osci.CertEntry
	if d.author != "" {
		id, err := pki.identity(d.author)
		if err != nil {
			return nil, nil, nil, err
		}
		signer, signerID = id, authorCertID(id.Certificate)
		extra = append(extra, osci.CertEntry{Element: osci.SignatureCertificateOtherAuthor, ID: signerID, Cert: id.Certificate})
	}
	rc, certs, closer, err := osci.BuildContent(&osci.Delivery{Addressee: addressee, Containers: cs},
		&osci.Signing{Identity: signer, Method: v.method}, signerID, spool)
	if err != nil {
		return nil, nil, nil, err
	}
	if d.mutate != nil {
		if err := d.mutate(rc); err != nil {
			closer.Close()
			return nil, nil, nil, fmt.Errorf("defect %s: %w", d.name, err)
		}
	}
	return rc, append(certs, extra...), closer, nil
}

// --- content mutations ---

// contentPackage parses the raw ContentPackage (its prefixes are bound by
// the envelope, which etree does not need).
func contentPackage(rc *osci.RawContent) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveCData = true
	if err := doc.ReadFromBytes(rc.XML); err != nil {
		return nil, err
	}
	if doc.Root() == nil {
		return nil, errors.New("empty content package")
	}
	return doc, nil
}

func writeContentPackage(rc *osci.RawContent, doc *etree.Document) error {
	var b bytes.Buffer
	if _, err := doc.WriteTo(&b); err != nil {
		return err
	}
	rc.XML = b.Bytes()
	return nil
}

// firstEncryptedData returns the first xenc:EncryptedData directly in the
// content package (a content container, not an attachment's).
func firstEncryptedData(doc *etree.Document) (*etree.Element, error) {
	for _, c := range doc.Root().ChildElements() {
		if c.Tag == "EncryptedData" {
			return c, nil
		}
	}
	return nil, errors.New("no EncryptedData in the content package")
}

func childTag(e *etree.Element, tag string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

// editContentCipher rewrites the cipher value of the first content
// EncryptedData (IV ‖ cipher text ‖ tag).
func editContentCipher(f func([]byte) []byte) func(*osci.RawContent) error {
	return func(rc *osci.RawContent) error {
		doc, err := contentPackage(rc)
		if err != nil {
			return err
		}
		ed, err := firstEncryptedData(doc)
		if err != nil {
			return err
		}
		cv := childTag(childTag(ed, "CipherData"), "CipherValue")
		if cv == nil {
			return errors.New("EncryptedData has no CipherData/CipherValue")
		}
		raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cv.Text()), ""))
		if err != nil {
			return err
		}
		cv.SetText(xmldsig.EncodeBase64Lines(f(raw)))
		return writeContentPackage(rc, doc)
	}
}

// editIVLength sets the osci128:IvLength announcement of the first content
// EncryptedData to value, or removes it for "".
func editIVLength(value string) func(*osci.RawContent) error {
	return func(rc *osci.RawContent) error {
		doc, err := contentPackage(rc)
		if err != nil {
			return err
		}
		ed, err := firstEncryptedData(doc)
		if err != nil {
			return err
		}
		em := childTag(ed, "EncryptionMethod")
		iv := childTag(em, "IvLength")
		if iv == nil {
			return errors.New("the content EncryptionMethod announces no IvLength")
		}
		if value == "" {
			em.RemoveChild(iv)
		} else {
			iv.CreateAttr("Value", value)
		}
		return writeContentPackage(rc, doc)
	}
}

// editBase64Content changes one character of the first inline content.
func editBase64Content(rc *osci.RawContent) error {
	doc, err := contentPackage(rc)
	if err != nil {
		return err
	}
	b64 := doc.Root().FindElement(".//Base64Content")
	if b64 == nil {
		return errors.New("no Base64Content")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64.Text()), ""))
	if err != nil {
		return err
	}
	// Change a letter in the middle of the document (still well-formed).
	for i := len(raw) / 2; i < len(raw); i++ {
		if raw[i] >= 'a' && raw[i] <= 'y' {
			raw[i]++
			break
		}
	}
	b64.SetText(xmldsig.EncodeBase64Lines(raw))
	return writeContentPackage(rc, doc)
}

// editAttachment changes the bytes of the first attachment as they travel.
func editAttachment(f func([]byte)) func(*osci.RawContent) error {
	return func(rc *osci.RawContent) error {
		if len(rc.Attachments) == 0 {
			return errors.New("the content has no attachment")
		}
		a := &rc.Attachments[0]
		r, err := a.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return err
		}
		f(data)
		a.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		a.Size = int64(len(data))
		return nil
	}
}

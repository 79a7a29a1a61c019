package testvectors

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/osci"
	"github.com/xagw/xagw/osci/wire"
	"github.com/xagw/xagw/osci/xmldsig"
)

// Order-level negative vectors: a storeDelivery as the intermediary sees
// it (after transport decryption), broken in one way. They are not sent to
// vendors — an intermediary refuses them before any case system could.

type orderDefect struct {
	name, class, purpose string
	// signer composes the order with another signature certificate.
	signer string
	// transportTo wraps the order for another cipher key than the
	// intermediary's.
	transportTo string
	// edit changes the SOAP envelope of the (plain) message after signing.
	edit func(doc *etree.Document, signer crypto.Signer) error
}

var orderDefects = []orderDefect{
	{name: "tampered-header", class: ClassOSCIDigest,
		purpose: "A signed header block (DesiredLanguages) is changed after signing: its reference digest must not match.",
		edit:    setAttrOf("DesiredLanguages", "LanguagesList", "en")},
	{name: "tampered-signature-value", class: ClassOSCISignature,
		purpose: "One byte of the ClientSignature's SignatureValue is flipped: every digest matches, the signature value does not verify.",
		edit:    flipSignatureValue},
	{name: "duplicate-id", class: ClassOSCIWrapping,
		purpose: "An extra (ignorable, not mustUnderstand) header block contains an element with the same Id as the signed soap:Body: references are ambiguous and must be refused.",
		edit:    duplicateBodyID},
	{name: "wrapped-body", class: ClassOSCIWrapping,
		purpose: "Signature wrapping: the signed soap:Body is moved into an ignorable header block and a forged Body with another Id takes its place. Every digest still matches; the Body acted upon is not covered.",
		edit:    wrapBody},
	{name: "sha1-signature", class: ClassOSCIAlgorithm,
		purpose: "The ClientSignature uses rsa-sha1 with sha1 digests (a mathematically correct signature): SHA-1 must be refused for signatures.",
		edit:    resignSHA1},
	{name: "signer-expired", class: ClassOSCICertExpired, signer: entSenderSigExpired,
		purpose: "The order is signed (correctly) with a certificate that expired a year before the reference time."},
	{name: "signer-not-yet-valid", class: ClassOSCICertNotYetValid, signer: entSenderSigNotYet,
		purpose: "The order is signed (correctly) with a certificate valid only from a year after the reference time."},
	{name: "signer-revoked", class: ClassOSCICertRevoked, signer: entSenderSigRevoked,
		purpose: "The order is signed (correctly, ECDSA P-256) with a certificate listed on the issuing CA's CRL."},
	{name: "wrong-transport-key", class: ClassOSCIWrongKey, transportTo: entReaderCipher,
		purpose: "The order is transport-encrypted for another party's cipher certificate: the intermediary's key cannot open it."},
}

// rewriteRoot replaces the SOAP part of a plain (not transport-encrypted)
// MIME message, keeping boundary and attachments.
func rewriteRoot(msg []byte, f func([]byte) ([]byte, error)) ([]byte, error) {
	r, err := wire.NewReader(bytes.NewReader(msg), wire.Limits{})
	if err != nil {
		return nil, err
	}
	root, err := r.NextPart()
	if err != nil {
		return nil, err
	}
	soap, err := io.ReadAll(root)
	if err != nil {
		return nil, err
	}
	soap, err = f(soap)
	if err != nil {
		return nil, err
	}
	parts := []wire.PartSource{wire.RootPart(soap)}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, wire.AttachmentPart(p.ContentID(), bytes.NewReader(data), int64(len(data))))
	}
	var b bytes.Buffer
	if _, err := (&wire.Message{Boundary: r.Boundary(), Parts: parts}).WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// editEnvelope applies an etree edit to the SOAP part of a plain message.
func editEnvelope(msg []byte, signer crypto.Signer, edit func(*etree.Document, crypto.Signer) error) ([]byte, error) {
	return rewriteRoot(msg, func(soap []byte) ([]byte, error) {
		doc := etree.NewDocument()
		doc.ReadSettings.PreserveCData = true
		if err := doc.ReadFromBytes(soap); err != nil {
			return nil, err
		}
		if err := edit(doc, signer); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if _, err := doc.WriteTo(&b); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	})
}

func soapChild(doc *etree.Document, local string) *etree.Element {
	for _, c := range doc.Root().ChildElements() {
		if c.Tag == local {
			return c
		}
	}
	return nil
}

func headerBlock(doc *etree.Document, local string) *etree.Element {
	return childTag(soapChild(doc, "Header"), local)
}

func setAttrOf(block, attr, value string) func(*etree.Document, crypto.Signer) error {
	return func(doc *etree.Document, _ crypto.Signer) error {
		h := headerBlock(doc, block)
		if h == nil || h.SelectAttr(attr) == nil {
			return fmt.Errorf("no %s/@%s", block, attr)
		}
		h.CreateAttr(attr, value)
		return nil
	}
}

func signatureOf(doc *etree.Document) (*etree.Element, error) {
	for _, block := range []string{"ClientSignature", "SupplierSignature"} {
		if s := childTag(headerBlock(doc, block), "Signature"); s != nil {
			return s, nil
		}
	}
	return nil, errors.New("no message signature")
}

func flipSignatureValue(doc *etree.Document, _ crypto.Signer) error {
	sig, err := signatureOf(doc)
	if err != nil {
		return err
	}
	sv := childTag(sig, "SignatureValue")
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sv.Text()), ""))
	if err != nil {
		return err
	}
	raw[len(raw)/2] ^= 0x01
	sv.SetText(xmldsig.EncodeBase64Lines(raw))
	return nil
}

// ignorableBlock adds a header block OSCI does not define, without Id and
// without mustUnderstand, which a receiver may ignore. It uses the osci
// prefix the envelope already declares: a new namespace declaration would
// change the inclusive canonical form of whatever is moved into the block.
func ignorableBlock(doc *etree.Document) (*etree.Element, error) {
	h := soapChild(doc, "Header")
	if h == nil {
		return nil, errors.New("no soap:Header")
	}
	prefix := ""
	for _, a := range doc.Root().Attr {
		if a.Space == "xmlns" && a.Value == osci.NSOSCI {
			prefix = a.Key
		}
	}
	if prefix == "" {
		return nil, errors.New("the envelope declares no osci prefix")
	}
	return h.CreateElement(prefix + ":XagwTestExtension"), nil
}

func duplicateBodyID(doc *etree.Document, _ crypto.Signer) error {
	body := soapChild(doc, "Body")
	id := body.SelectAttrValue("Id", "")
	if id == "" {
		return errors.New("soap:Body has no Id")
	}
	b, err := ignorableBlock(doc)
	if err != nil {
		return err
	}
	b.CreateElement(b.Space+":XagwTestNote").CreateAttr("Id", id)
	return nil
}

func wrapBody(doc *etree.Document, _ crypto.Signer) error {
	body := soapChild(doc, "Body")
	if body == nil || body.SelectAttrValue("Id", "") == "" {
		return errors.New("no soap:Body with Id")
	}
	forged := body.Copy()
	// Rename every Id in the forged copy so nothing is duplicated: the
	// defect is the coverage, not ambiguity.
	for _, e := range append([]*etree.Element{forged}, forged.FindElements(".//*")...) {
		if id := e.SelectAttrValue("Id", ""); id != "" {
			e.CreateAttr("Id", id+"-forged")
		}
	}
	root := doc.Root()
	idx := body.Index()
	root.RemoveChild(body)
	b, err := ignorableBlock(doc)
	if err != nil {
		return err
	}
	b.AddChild(body)
	root.InsertChildAt(idx, forged)
	return nil
}

// resignSHA1 recomputes every digest with SHA-1 and signs SignedInfo with
// rsa-sha1, so the signature is correct but uses a forbidden algorithm.
// (xmldsig refuses to sign with SHA-1 by design; this test-only code does
// it for the vector.)
func resignSHA1(doc *etree.Document, signer crypto.Signer) error {
	key, ok := signer.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("SHA-1 vector needs an RSA key, have %T", signer)
	}
	sig, err := signatureOf(doc)
	if err != nil {
		return err
	}
	ids := map[string]*etree.Element{}
	for _, e := range doc.FindElements("//*") {
		if id := e.SelectAttrValue("Id", ""); id != "" {
			ids[id] = e
		}
	}
	si := childTag(sig, "SignedInfo")
	for _, ref := range si.ChildElements() {
		if ref.Tag != "Reference" {
			continue
		}
		uri := ref.SelectAttrValue("URI", "")
		if !strings.HasPrefix(uri, "#") {
			return fmt.Errorf("reference %s: only same-document references in the SHA-1 vector", uri)
		}
		target := ids[uri[1:]]
		if target == nil {
			return fmt.Errorf("reference %s does not resolve", uri)
		}
		sum := sha1.Sum(xmldsig.Canonicalize(target))
		childTag(ref, "DigestMethod").CreateAttr("Algorithm", xmldsig.DigestSHA1)
		childTag(ref, "DigestValue").SetText(base64.StdEncoding.EncodeToString(sum[:]))
	}
	childTag(si, "SignatureMethod").CreateAttr("Algorithm", xmldsig.RSASHA1)
	sum := sha1.Sum(xmldsig.Canonicalize(si))
	value, err := rsa.SignPKCS1v15(nil, key, crypto.SHA1, sum[:])
	if err != nil {
		return err
	}
	childTag(sig, "SignatureValue").SetText(xmldsig.EncodeBase64Lines(value))
	return nil
}

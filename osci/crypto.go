package osci

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/osci/keystore"
	"github.com/xagw/xagw/osci/wire"
	"github.com/xagw/xagw/osci/xmldsig"
	"github.com/xagw/xagw/osci/xmlenc"
)

// This file connects the composer and Open to osci/xmlenc: transport
// encryption of the whole inner message, content encryption of containers
// for their readers, and attachments under their own keys. Algorithms are
// the reference's: AES-256-GCM with a 12-byte IV, RSA-OAEP with SHA-256 and
// MGF1-SHA-256.

// transportEncrypt wraps the inner message for the holder of to. The
// ciphertext is produced while the outer message is written (a fresh IV on
// every write, the session key fixed), so nothing is buffered and a 100 MB
// message needs no more memory than a small one.
func transportEncrypt(inner func() *wire.Message, to *x509.Certificate, spoolDir string) (func() []wire.PartSource, []io.Closer, error) {
	key, err := xmlenc.NewKey(xmlenc.AES256GCM)
	if err != nil {
		return nil, nil, err
	}
	ek, err := xmlenc.NewEncryptedKey(xmlenc.DefaultKeyTransport, to, key)
	if err != nil {
		return nil, nil, fmt.Errorf("osci: wrapping the transport key for %s: %w", to.Subject, err)
	}
	ed := &xmlenc.EncryptedData{MimeType: "Multipart/Related", Method: xmlenc.DefaultMethod, Keys: []*xmlenc.EncryptedKey{ek},
		CipherReference: "cid:" + TransportContentID, CipherTransforms: []string{xmldsig.TransformBase64}}
	el, err := ed.Build()
	if err != nil {
		return nil, nil, err
	}
	var x bytes.Buffer
	x.WriteString(xmlDeclaration)
	x.WriteString(`<soap:Envelope` + encryptedEnvelopeNS + ` xsi:schemaLocation="` + NSSOAP + ` ` + TypeEncrypted.SchemaFile() + schemaLocationSuffix + `"><soap:Body>`)
	x.Write(serialize(el))
	x.WriteString(`</soap:Body></soap:Envelope>`)
	outerXML := x.Bytes()
	innerLen, err := inner().Len()
	if err != nil {
		return nil, nil, err
	}
	cipherLen := xmlenc.SealedSize(xmlenc.DefaultMethod, innerLen)
	parts := func() []wire.PartSource {
		root := wire.RootPart(outerXML)
		// Unlike the reference (whose count leaves out the certificate),
		// the declared length is exact.
		root.Header = append(root.Header, wire.Field{Name: wire.HeaderContentLength, Value: strconv.Itoa(len(outerXML))})
		body := &lazyReader{open: func() (io.ReadCloser, error) {
			src, err := inner().Reader()
			if err != nil {
				return nil, err
			}
			r, err := xmlenc.NewSealReader(xmlenc.DefaultMethod, key, src)
			if err != nil {
				return nil, err
			}
			return io.NopCloser(r), nil
		}}
		return []wire.PartSource{root, wire.TransportCipherPart(body, cipherLen)}
	}
	return parts, nil, nil
}

// identityFor returns the key whose certificate equals cert.
func identityFor(keys []*keystore.Identity, cert *x509.Certificate) *keystore.Identity {
	if cert == nil {
		return nil
	}
	for _, k := range keys {
		if k != nil && k.Certificate != nil && bytes.Equal(k.Certificate.Raw, cert.Raw) {
			return k
		}
	}
	return nil
}

// decryptTransport unwraps the session key of a transport envelope with one
// of the keys and returns the inner MIME message. The ciphertext part is
// authenticated completely before any plaintext is released.
func (o *Opened) decryptTransport(env *Envelope, mr *wire.Reader, opts OpenOptions) (io.Reader, *TransportInfo, error) {
	ed, err := xmlenc.ParseEncryptedData(env.transport)
	if err != nil {
		return nil, nil, &DecryptError{What: "transport envelope", Err: err}
	}
	var id *keystore.Identity
	var ek *xmlenc.EncryptedKey
	for _, k := range ed.Keys {
		if id = identityFor(opts.Keys, k.Certificate); id != nil {
			ek = k
			break
		}
	}
	if id == nil && len(ed.Keys) == 1 && ed.Keys[0].Certificate == nil && len(opts.Keys) == 1 {
		// No certificate named: try the only key we have.
		id, ek = opts.Keys[0], ed.Keys[0]
	}
	if id == nil {
		var names []string
		for _, k := range ed.Keys {
			if k.Certificate != nil {
				names = append(names, k.Certificate.Subject.String())
			}
		}
		return nil, nil, &DecryptError{What: "transport envelope", Err: fmt.Errorf("%w (encrypted for %s)", errNoKey, strings.Join(names, ", "))}
	}
	dec, err := id.Decrypter()
	if err != nil {
		return nil, nil, &DecryptError{What: "transport envelope", Err: err}
	}
	key, err := ek.Unwrap(dec, ed.Method.Algorithm, xmlenc.DecryptOptions{})
	if err != nil {
		return nil, nil, &DecryptError{What: "transport key", Err: err}
	}
	cid, err := wire.ContentIDFromURL(ed.CipherReference)
	if err != nil {
		return nil, nil, &DecryptError{What: "transport envelope", Err: fmt.Errorf("CipherReference %q: %w", ed.CipherReference, err)}
	}
	part, err := mr.NextPart()
	if err != nil {
		return nil, nil, &DecryptError{What: "transport envelope", Err: fmt.Errorf("reading the ciphertext part: %w", err)}
	}
	if part.ContentID() != cid {
		return nil, nil, &DecryptError{What: "transport envelope", Err: fmt.Errorf("second part is <%s>, the envelope names <%s>", part.ContentID(), cid)}
	}
	var src io.Reader = part
	// The CipherReference declares a base64 transform, but the reference
	// sends raw bytes unless the part itself says text/base64.
	if strings.HasPrefix(strings.ToLower(part.ContentType()), "text/base64") || part.TransferEncoding() == wire.EncodingBase64 {
		src = base64.NewDecoder(base64.StdEncoding, newlineStripper{part})
	}
	plain, err := xmlenc.OpenStream(ed.Method, key, src, opts.SpoolDir)
	if err != nil {
		return nil, nil, &DecryptError{What: "transport envelope", Err: err}
	}
	o.closers = append(o.closers, plain)
	return plain, &TransportInfo{Algorithm: ed.Method.Algorithm, KeyTransport: ek.Method.Algorithm, Recipient: id.Certificate}, nil
}

// newlineStripper drops CR and LF from base64 text.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, b := range p[:k] {
			if b != '\r' && b != '\n' {
				p[j] = b
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// decryptContainer decrypts a content-level EncryptedData with whichever of
// keys its EncryptedKeys address. errNoKey means none of them.
func decryptContainer(el *etree.Element, m *Message, keys []*keystore.Identity) ([]byte, *x509.Certificate, []string, error) {
	// Deferred: an intermediary holds none of the keys of the content it
	// relays, and decoding its ciphertext (tens of kilobytes) would only
	// make garbage; the text is still checked as before.
	ed, err := xmlenc.ParseEncryptedDataDeferred(el)
	if err != nil {
		return nil, nil, nil, err
	}
	var recips []string
	var failures []error
	for _, ek := range ed.Keys {
		cert := ek.Certificate
		if ek.RetrievalURI != "" {
			ref := strings.TrimPrefix(ek.RetrievalURI, "#")
			recips = append(recips, ref)
			if e := m.certByID(ref); e != nil {
				cert = e.Cert
			}
		} else if cert != nil {
			recips = append(recips, cert.Subject.String())
		}
		id := identityFor(keys, cert)
		if id == nil {
			continue
		}
		dec, err := id.Decrypter()
		if err != nil {
			failures = append(failures, err)
			continue
		}
		key, err := ek.Unwrap(dec, ed.Method.Algorithm, xmlenc.DecryptOptions{})
		if err != nil {
			failures = append(failures, err)
			continue
		}
		plain, err := ed.Decrypt(key, xmlenc.DecryptOptions{})
		if err != nil {
			return nil, nil, recips, err
		}
		return plain, id.Certificate, recips, nil
	}
	if len(failures) > 0 {
		return nil, nil, recips, errors.Join(failures...)
	}
	return nil, nil, recips, errNoKey
}

// decryptAttachment decrypts the attachment an EncryptedData inside a
// decrypted container points to, with the key the container carries in
// ds:MgmtData, into a plaintext spool.
func decryptAttachment(el *etree.Element, o *Opened, opts OpenOptions) (string, error) {
	ed, err := xmlenc.ParseEncryptedData(el)
	if err != nil {
		return el.SelectAttrValue("Id", ""), err
	}
	cid, err := wire.ContentIDFromURL(ed.CipherReference)
	if err != nil || ed.CipherReference == "" {
		return ed.Id, fmt.Errorf("EncryptedData %s has no cid: CipherReference", ed.Id)
	}
	a := o.attachment(cid)
	if a == nil {
		return cid, fmt.Errorf("the message carries no attachment <%s>", cid)
	}
	a.Encrypted = true
	if len(ed.MgmtKey) == 0 {
		return cid, errors.New("no key in ds:MgmtData")
	}
	r, err := xmlenc.Open(ed.Method, ed.MgmtKey, a.raw, a.raw.Size())
	if err != nil {
		return cid, err
	}
	sp := o.newSpool(opts)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(sp, h), r)
	if err != nil {
		return cid, err
	}
	a.plain, a.Decrypted, a.Size, a.SHA256 = sp, true, n, h.Sum(nil)
	return cid, nil
}

// encryptContainer encrypts a serialised ContentContainer for its readers
// (one EncryptedKey each, pointing to their certificate elements). It
// returns the EncryptedData tree only when its serialisation escaped
// nothing (see canonicalBody).
func encryptContainer(plain []byte, id string, recipients []recipientRef) ([]byte, *etree.Element, error) {
	key, err := xmlenc.NewKey(xmlenc.AES256GCM)
	if err != nil {
		return nil, nil, err
	}
	ed := &xmlenc.EncryptedData{Id: id, MimeType: "text/xml", Method: xmlenc.DefaultMethod, Declare: xmlenc.EnvelopeNamespaces}
	for _, r := range recipients {
		ek, err := xmlenc.NewEncryptedKey(xmlenc.DefaultKeyTransport, r.cert, key)
		if err != nil {
			return nil, nil, fmt.Errorf("wrapping the content key for %s: %w", r.cert.Subject, err)
		}
		ek.Certificate, ek.RetrievalURI, ek.RetrievalType = nil, "#"+r.ref, xmlenc.RetrievalTypeX509Data
		ed.Keys = append(ed.Keys, ek)
	}
	if ed.CipherValue, err = xmlenc.Seal(xmlenc.DefaultMethod, key, plain); err != nil {
		return nil, nil, err
	}
	el, err := ed.Build()
	if err != nil {
		return nil, nil, err
	}
	xml, unescaped := serializePlain(el)
	if !unescaped {
		return xml, nil, nil
	}
	return xml, el, nil
}

// encryptAttachment encrypts an attachment under a fresh key into a spool
// (encrypted once, so the bytes the signatures cover are the bytes that are
// sent) and returns the EncryptedData that carries the key inside the
// encrypted container.
func encryptAttachment(a *Attachment, spoolDir string) ([]byte, wireAttachment, io.Closer, error) {
	key, err := xmlenc.NewKey(xmlenc.AES256GCM)
	if err != nil {
		return nil, wireAttachment{}, nil, err
	}
	src, err := a.Open()
	if err != nil {
		return nil, wireAttachment{}, nil, err
	}
	defer src.Close()
	sealed, err := xmlenc.NewSealReader(xmlenc.DefaultMethod, key, src)
	if err != nil {
		return nil, wireAttachment{}, nil, err
	}
	sp := wire.NewSpool(spoolDir, 0)
	if _, err := io.Copy(sp, sealed); err != nil {
		sp.Close()
		return nil, wireAttachment{}, nil, err
	}
	if want := xmlenc.SealedSize(xmlenc.DefaultMethod, a.Size); sp.Size() != want {
		sp.Close()
		return nil, wireAttachment{}, nil, fmt.Errorf("attachment yielded %d ciphertext bytes, expected %d for %d bytes", sp.Size(), want, a.Size)
	}
	ed := &xmlenc.EncryptedData{Id: "Attachment" + a.Name, MimeType: "text/xml", Method: xmlenc.DefaultMethod, MgmtKey: key,
		CipherReference: "cid:" + a.Name, CipherTransforms: []string{xmldsig.TransformBase64}}
	el, err := ed.Build()
	if err != nil {
		sp.Close()
		return nil, wireAttachment{}, nil, err
	}
	wa := wireAttachment{contentID: a.Name, size: sp.Size(), open: func() (io.ReadCloser, error) { return io.NopCloser(sp.Reader()), nil }}
	return serialize(el), wa, sp, nil
}

package xmlenc

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/osci/internal/certcache"
	"github.com/xagw/xagw/osci/xmldsig"
)

// Namespace is a namespace declaration to write on a built element.
type Namespace struct{ Prefix, URI string }

// EnvelopeNamespaces are the five declarations the reference repeats on
// content-level EncryptedData (and on every signed header block).
var EnvelopeNamespaces = []Namespace{
	{"ds", NamespaceDSig},
	{"osci", "http://www.osci.de/2002/04/osci"},
	{"soap", "http://schemas.xmlsoap.org/soap/envelope/"},
	{"xenc", NamespaceXEnc},
	{"xsi", "http://www.w3.org/2001/XMLSchema-instance"},
}

// EncryptedKey is an xenc:EncryptedKey: a symmetric key encrypted for one
// recipient.
type EncryptedKey struct {
	Id        string
	Recipient string
	Method    KeyTransport
	// The recipient's certificate: a ds:RetrievalMethod to the element that
	// holds it (OSCI content encryption: "#addressee_cipher_…", Type
	// X509Data), or the certificate inline (OSCI transport encryption).
	RetrievalURI  string
	RetrievalType string
	Certificate   *x509.Certificate
	CipherValue   []byte

	Element *etree.Element // set by ParseEncryptedData
}

// RetrievalTypeX509Data is the ds:RetrievalMethod Type OSCI uses.
const RetrievalTypeX509Data = "http://www.w3.org/2000/09/xmldsig#X509Data"

// NewEncryptedKey wraps key for the holder of cert with kt and returns an
// EncryptedKey that names the certificate inline. Set RetrievalURI (and
// clear Certificate) to point to a certificate element instead.
func NewEncryptedKey(kt KeyTransport, cert *x509.Certificate, key []byte) (*EncryptedKey, error) {
	ct, err := WrapKey(kt, cert.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &EncryptedKey{Method: kt, Certificate: cert, CipherValue: ct}, nil
}

// Unwrap decrypts the symmetric key for the data algorithm with d.
func (ek *EncryptedKey) Unwrap(d crypto.Decrypter, dataAlgorithm string, opts DecryptOptions) ([]byte, error) {
	n, err := KeySize(dataAlgorithm)
	if err != nil {
		return nil, err
	}
	return UnwrapKey(ek.Method, d, ek.CipherValue, n, opts)
}

// EncryptedData is an xenc:EncryptedData.
type EncryptedData struct {
	Id       string
	Type     string
	MimeType string
	Method   Method
	// Keys are the ds:KeyInfo/xenc:EncryptedKey children, one per reader.
	Keys []*EncryptedKey
	// MgmtKey is a raw key in ds:KeyInfo/ds:MgmtData (how OSCI carries
	// attachment keys inside an encrypted ContentContainer).
	MgmtKey []byte
	// Exactly one of CipherValue (inline ciphertext) and CipherReference
	// (e.g. "cid:osci_enc") is set; ParseEncryptedDataDeferred leaves an
	// inline CipherValue nil until Decrypt.
	CipherValue      []byte
	CipherReference  string
	CipherTransforms []string // transforms declared on the CipherReference
	// Declare lists namespace declarations written first on the built
	// element (see EnvelopeNamespaces). Not set by parsing.
	Declare []Namespace

	Element *etree.Element // set by ParseEncryptedData

	// cipherText is the checked but not yet decoded base64 text of an
	// inline CipherValue (ParseEncryptedDataDeferred), if deferred is set.
	cipherText string
	deferred   bool
}

// ParseEncryptedDataDeferred is ParseEncryptedData for a receiver that may
// hold none of the keys, such as an intermediary relaying content for its
// addressee: an inline CipherValue is checked exactly as ParseEncryptedData
// checks it (the same elements and texts are refused) but decoded only when
// Decrypt needs it, so a ciphertext of tens of kilobytes is not decoded
// into a buffer nobody reads. CipherValue stays nil until Decrypt or Build
// decodes it.
func ParseEncryptedDataDeferred(el *etree.Element) (*EncryptedData, error) {
	return parseEncryptedData(el, true)
}

// ParseEncryptedData reads an xenc:EncryptedData element. Unknown
// parameters of the encryption method are refused rather than ignored.
func ParseEncryptedData(el *etree.Element) (*EncryptedData, error) {
	return parseEncryptedData(el, false)
}

func parseEncryptedData(el *etree.Element, deferValue bool) (*EncryptedData, error) {
	if !is(el, NamespaceXEnc, "EncryptedData") {
		return nil, newError(ErrMalformed, "element %s is not xenc:EncryptedData", el.FullTag())
	}
	ed := &EncryptedData{Element: el, Id: attr(el, "Id"), Type: attr(el, "Type"), MimeType: attr(el, "MimeType")}
	kids, err := children(el)
	if err != nil {
		return nil, err
	}
	i := 0
	if i < len(kids) && is(kids[i], NamespaceXEnc, "EncryptionMethod") {
		if ed.Method, err = parseMethod(kids[i]); err != nil {
			return nil, err
		}
		i++
	} else {
		return nil, newError(ErrMalformed, "EncryptedData %q without xenc:EncryptionMethod", ed.Id)
	}
	if i < len(kids) && is(kids[i], NamespaceDSig, "KeyInfo") {
		if err := parseDataKeyInfo(ed, kids[i]); err != nil {
			return nil, err
		}
		i++
	}
	if i >= len(kids) || !is(kids[i], NamespaceXEnc, "CipherData") {
		return nil, newError(ErrMalformed, "EncryptedData %q without xenc:CipherData", ed.Id)
	}
	var text *string
	if deferValue {
		text = &ed.cipherText
	}
	if err := parseCipherData(kids[i], &ed.CipherValue, text, &ed.CipherReference, &ed.CipherTransforms); err != nil {
		return nil, err
	}
	ed.deferred = deferValue && ed.CipherValue == nil && ed.CipherReference == ""
	for _, k := range kids[i+1:] {
		if !is(k, NamespaceXEnc, "EncryptionProperties") {
			return nil, newError(ErrMalformed, "unexpected %s in EncryptedData", k.FullTag())
		}
	}
	return ed, nil
}

func parseMethod(el *etree.Element) (Method, error) {
	m := Method{Algorithm: attr(el, "Algorithm")}
	a, ok := blockAlgs[m.Algorithm]
	if !ok {
		return m, newError(ErrUnsupported, "block encryption %q", m.Algorithm)
	}
	m.IVLength = 16
	seenIV := false
	kids, err := children(el)
	if err != nil {
		return m, err
	}
	for _, k := range kids {
		switch {
		case is(k, NamespaceOSCI128, "IvLength") && !seenIV:
			seenIV = true
			v := attr(k, "Value")
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return m, newError(ErrIVLength, "osci128:IvLength Value=%q is not a positive number", v)
			}
			m.IVLength = n
		case is(k, NamespaceXEnc, "KeySize"):
			n, err := strconv.Atoi(strings.TrimSpace(k.Text()))
			if err != nil || n != a.keySize*8 {
				return m, newError(ErrMalformed, "xenc:KeySize %q does not fit %s", k.Text(), m.Algorithm)
			}
		default:
			return m, newError(ErrUnsupported, "parameter %s of %s", k.FullTag(), m.Algorithm)
		}
	}
	if a.gcm && m.IVLength != 12 && m.IVLength != 16 {
		return m, newError(ErrIVLength, "osci128:IvLength %d for %s (12 or 16 supported)", m.IVLength, m.Algorithm)
	}
	if !a.gcm && m.IVLength != 16 {
		return m, newError(ErrIVLength, "osci128:IvLength %d for %s (16 required)", m.IVLength, m.Algorithm)
	}
	return m, nil
}

func parseDataKeyInfo(ed *EncryptedData, ki *etree.Element) error {
	kids, err := children(ki)
	if err != nil {
		return err
	}
	for _, k := range kids {
		switch {
		case is(k, NamespaceXEnc, "EncryptedKey"):
			ek, err := parseEncryptedKey(k)
			if err != nil {
				return err
			}
			ed.Keys = append(ed.Keys, ek)
		case is(k, NamespaceDSig, "MgmtData"):
			if ed.MgmtKey != nil {
				return newError(ErrMalformed, "two ds:MgmtData in EncryptedData %q", ed.Id)
			}
			key, err := decodeText(k)
			if err != nil {
				return newError(ErrMalformed, "ds:MgmtData: %v", err)
			}
			ed.MgmtKey = key
		case is(k, NamespaceDSig, "KeyName"):
		default:
			return newError(ErrUnsupported, "%s in the KeyInfo of EncryptedData %q", k.FullTag(), ed.Id)
		}
	}
	return nil
}

func parseEncryptedKey(el *etree.Element) (*EncryptedKey, error) {
	ek := &EncryptedKey{Element: el, Id: attr(el, "Id"), Recipient: attr(el, "Recipient")}
	kids, err := children(el)
	if err != nil {
		return nil, err
	}
	i := 0
	if i >= len(kids) || !is(kids[i], NamespaceXEnc, "EncryptionMethod") {
		return nil, newError(ErrMalformed, "EncryptedKey without xenc:EncryptionMethod")
	}
	ek.Method.Algorithm = attr(kids[i], "Algorithm")
	mkids, err := children(kids[i])
	if err != nil {
		return nil, err
	}
	for _, p := range mkids {
		switch {
		case is(p, NamespaceXEnc11, "MGF"):
			ek.Method.MGF = attr(p, "Algorithm")
		case is(p, NamespaceDSig, "DigestMethod"):
			ek.Method.DigestMethod = attr(p, "Algorithm")
		case is(p, NamespaceXEnc, "OAEPparams"):
			if ek.Method.OAEPParams, err = decodeText(p); err != nil {
				return nil, newError(ErrMalformed, "xenc:OAEPparams: %v", err)
			}
		case is(p, NamespaceXEnc, "KeySize"):
		default:
			return nil, newError(ErrUnsupported, "parameter %s of %s", p.FullTag(), ek.Method.Algorithm)
		}
	}
	switch ek.Method.Algorithm {
	case RSAOAEP, RSAOAEPMGF1P, RSA15:
	default:
		return nil, newError(ErrUnsupported, "key transport %q", ek.Method.Algorithm)
	}
	i++
	if i < len(kids) && is(kids[i], NamespaceDSig, "KeyInfo") {
		kk, err := children(kids[i])
		if err != nil {
			return nil, err
		}
		for _, k := range kk {
			switch {
			case is(k, NamespaceDSig, "RetrievalMethod"):
				ek.RetrievalURI, ek.RetrievalType = attr(k, "URI"), attr(k, "Type")
			case is(k, NamespaceDSig, "X509Data"):
				for _, x := range k.ChildElements() {
					if !is(x, NamespaceDSig, "X509Certificate") || ek.Certificate != nil {
						continue
					}
					// A text seen before (the same party's certificate in
					// every message) is not decoded again.
					text, single := "", false
					if len(x.Child) == 1 {
						if t, ok := x.Child[0].(*etree.CharData); ok && !t.IsCData() {
							text, single = t.Data, true
						}
					}
					if single {
						if ek.Certificate = certcache.FromText(text); ek.Certificate != nil {
							continue
						}
					}
					der, err := decodeText(x)
					if err != nil {
						return nil, newError(ErrMalformed, "ds:X509Certificate: %v", err)
					}
					if ek.Certificate, err = certcache.Parse(der); err != nil {
						return nil, newError(ErrMalformed, "ds:X509Certificate: %v", err)
					}
					if single {
						certcache.RememberText(text, ek.Certificate)
					}
				}
			}
		}
		i++
	}
	if i >= len(kids) || !is(kids[i], NamespaceXEnc, "CipherData") {
		return nil, newError(ErrMalformed, "EncryptedKey without xenc:CipherData")
	}
	var ref string
	var ts []string
	if err := parseCipherData(kids[i], &ek.CipherValue, nil, &ref, &ts); err != nil {
		return nil, err
	}
	if ref != "" {
		return nil, newError(ErrUnsupported, "EncryptedKey with a CipherReference")
	}
	return ek, nil
}

// parseCipherData reads an xenc:CipherData. With text non-nil, a CipherValue
// whose text decodeText would decode without rewriting it is only checked
// (validBase64) and its text stored there instead of decoded into value.
func parseCipherData(cd *etree.Element, value *[]byte, text *string, ref *string, transforms *[]string) error {
	kids, err := children(cd)
	if err != nil {
		return err
	}
	if len(kids) != 1 {
		return newError(ErrMalformed, "xenc:CipherData must hold one CipherValue or CipherReference")
	}
	k := kids[0]
	switch {
	case is(k, NamespaceXEnc, "CipherValue"):
		if t := k.Text(); text != nil && !hasBlankOrTab(t) {
			if !validBase64(t) {
				// The decoder's own error, for the same message as before.
				_, err := base64.StdEncoding.DecodeString(t)
				return newError(ErrMalformed, "xenc:CipherValue: %v", err)
			}
			*text = t
			return nil
		}
		v, err := decodeText(k)
		if err != nil {
			return newError(ErrMalformed, "xenc:CipherValue: %v", err)
		}
		*value = v
	case is(k, NamespaceXEnc, "CipherReference"):
		*ref = attr(k, "URI")
		if *ref == "" {
			return newError(ErrMalformed, "xenc:CipherReference without URI")
		}
		for _, t := range k.FindElements("./*/*") {
			if is(t, NamespaceDSig, "Transform") {
				*transforms = append(*transforms, attr(t, "Algorithm"))
			}
		}
	default:
		return newError(ErrMalformed, "unexpected %s in xenc:CipherData", k.FullTag())
	}
	return nil
}

// decodeDeferred decodes the CipherValue text ParseEncryptedDataDeferred
// only checked.
func (ed *EncryptedData) decodeDeferred() error {
	if !ed.deferred {
		return nil
	}
	v, err := base64.StdEncoding.DecodeString(ed.cipherText)
	if err != nil { // not expected: validBase64 said it decodes
		return newError(ErrMalformed, "xenc:CipherValue: %v", err)
	}
	ed.CipherValue, ed.cipherText, ed.deferred = v, "", false
	return nil
}

// Decrypt decrypts inline CipherValue content with key.
func (ed *EncryptedData) Decrypt(key []byte, opts DecryptOptions) ([]byte, error) {
	if err := ed.decodeDeferred(); err != nil {
		return nil, err
	}
	if ed.CipherValue == nil {
		return nil, newError(ErrMalformed, "EncryptedData %q references its ciphertext (%s); use Open or OpenStream", ed.Id, ed.CipherReference)
	}
	return Decrypt(ed.Method, key, ed.CipherValue, opts)
}

// Build returns the element in the layout of the reference implementation:
//
//	<xenc:EncryptedData Id=… MimeType=…>
//	  <xenc:EncryptionMethod Algorithm=…><osci128:IvLength Value="12"/></xenc:EncryptionMethod>
//	  <ds:KeyInfo><xenc:EncryptedKey>…</xenc:EncryptedKey> | <ds:MgmtData>…</ds:MgmtData></ds:KeyInfo>
//	  <xenc:CipherData><xenc:CipherValue>…</xenc:CipherValue> | <xenc:CipherReference URI=…>…</xenc:CipherReference></xenc:CipherData>
//	</xenc:EncryptedData>
//
// osci128:IvLength is written for 12-byte IVs only; its absence means 16
// bytes, which older receivers assume anyway. The prefixes xenc, ds and
// (for OAEP) xenc11 are used; xenc and ds must be declared in the context
// the element is put into, or through Declare.
func (ed *EncryptedData) Build() (*etree.Element, error) {
	if err := ed.decodeDeferred(); err != nil {
		return nil, err
	}
	if _, err := ed.Method.check(false, DecryptOptions{}); err != nil {
		return nil, err
	}
	if (ed.CipherValue == nil) == (ed.CipherReference == "") {
		return nil, newError(ErrMalformed, "EncryptedData %q needs exactly one of CipherValue and CipherReference", ed.Id)
	}
	el := etree.NewElement("xenc:EncryptedData")
	for _, ns := range ed.Declare {
		el.CreateAttr("xmlns:"+ns.Prefix, ns.URI)
	}
	for _, a := range [][2]string{{"Id", ed.Id}, {"Type", ed.Type}, {"MimeType", ed.MimeType}} {
		if a[1] != "" {
			el.CreateAttr(a[0], a[1])
		}
	}
	em := el.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", ed.Method.Algorithm)
	if ed.Method.IVLength == 12 {
		iv := em.CreateElement("osci128:IvLength")
		iv.CreateAttr("xmlns:osci128", NamespaceOSCI128)
		iv.CreateAttr("Value", "12")
	}
	if len(ed.Keys) > 0 || ed.MgmtKey != nil {
		ki := el.CreateElement("ds:KeyInfo")
		for _, k := range ed.Keys {
			kel, err := k.build()
			if err != nil {
				return nil, err
			}
			ki.AddChild(kel)
		}
		if ed.MgmtKey != nil {
			ki.CreateElement("ds:MgmtData").SetText(base64.StdEncoding.EncodeToString(ed.MgmtKey))
		}
	}
	cd := el.CreateElement("xenc:CipherData")
	if ed.CipherValue != nil {
		cd.CreateElement("xenc:CipherValue").SetText(xmldsig.EncodeBase64Lines(ed.CipherValue))
	} else {
		cr := cd.CreateElement("xenc:CipherReference")
		cr.CreateAttr("URI", ed.CipherReference)
		if len(ed.CipherTransforms) > 0 {
			ts := cr.CreateElement("xenc:Transforms")
			for _, t := range ed.CipherTransforms {
				ts.CreateElement("ds:Transform").CreateAttr("Algorithm", t)
			}
		}
	}
	return el, nil
}

func (ek *EncryptedKey) build() (*etree.Element, error) {
	if ek.Method.Algorithm != RSAOAEP && ek.Method.Algorithm != RSAOAEPMGF1P {
		return nil, newError(ErrUnsupported, "building EncryptedKey with %s", ek.Method.Algorithm)
	}
	if len(ek.CipherValue) == 0 {
		return nil, newError(ErrMalformed, "EncryptedKey without cipher value")
	}
	el := etree.NewElement("xenc:EncryptedKey")
	if ek.Id != "" {
		el.CreateAttr("Id", ek.Id)
	}
	if ek.Recipient != "" {
		el.CreateAttr("Recipient", ek.Recipient)
	}
	em := el.CreateElement("xenc:EncryptionMethod")
	em.CreateAttr("Algorithm", ek.Method.Algorithm)
	if ek.Method.Algorithm == RSAOAEP && ek.Method.MGF != "" {
		mgf := em.CreateElement("xenc11:MGF")
		mgf.CreateAttr("xmlns:xenc11", NamespaceXEnc11)
		mgf.CreateAttr("Algorithm", ek.Method.MGF)
	}
	if ek.Method.DigestMethod != "" {
		em.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", ek.Method.DigestMethod)
	}
	if len(ek.Method.OAEPParams) > 0 {
		em.CreateElement("xenc:OAEPparams").SetText(base64.StdEncoding.EncodeToString(ek.Method.OAEPParams))
	}
	switch {
	case ek.RetrievalURI != "":
		rm := el.CreateElement("ds:KeyInfo").CreateElement("ds:RetrievalMethod")
		if ek.RetrievalType != "" {
			rm.CreateAttr("Type", ek.RetrievalType)
		}
		rm.CreateAttr("URI", ek.RetrievalURI)
	case ek.Certificate != nil:
		el.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(xmldsig.CertificateBase64(ek.Certificate))
	}
	el.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(xmldsig.EncodeBase64Lines(ek.CipherValue))
	return el, nil
}

// is reports whether el is the element local in namespace ns.
func is(el *etree.Element, ns, local string) bool {
	return el.Tag == local && namespaceOf(el) == ns
}

func namespaceOf(el *etree.Element) string {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if (a.Space == "xmlns" && a.Key == el.Space) || (el.Space == "" && a.Space == "" && a.Key == "xmlns") {
				return a.Value
			}
		}
	}
	return ""
}

func attr(el *etree.Element, name string) string {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == name {
			return a.Value
		}
	}
	return ""
}

// children returns the child elements, refusing non-white text.
func children(el *etree.Element) ([]*etree.Element, error) {
	var out []*etree.Element
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			out = append(out, t)
		case *etree.CharData:
			if strings.TrimSpace(t.Data) != "" {
				return nil, newError(ErrMalformed, "text inside %s", el.FullTag())
			}
		}
	}
	return out, nil
}

func hasBlankOrTab(s string) bool {
	return strings.IndexByte(s, ' ') >= 0 || strings.IndexByte(s, '\t') >= 0
}

func decodeText(el *etree.Element) ([]byte, error) {
	s := el.Text()
	if !hasBlankOrTab(s) {
		// encoding/base64 skips CR and LF by itself: a CipherValue (tens of
		// kilobytes) is decoded without first being copied rune by rune.
		return base64.StdEncoding.DecodeString(s)
	}
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

package osci

import (
	"crypto/x509"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/osci/internal/certcache"
	"github.com/xagw/xagw/osci/xmldsig"
)

// Envelope is a parsed OSCI SOAP envelope: the protocol Message plus what
// signature verification and content decryption need (the document tree,
// the signature element, the Ids of all header blocks and the content
// package elements).
type Envelope struct {
	Message

	// SignatureBlock is "ClientSignature", "SupplierSignature" or "" when the
	// envelope is unsigned.
	SignatureBlock string
	// HeaderIDs are the Ids of every header block other than the signature
	// block, in document order: what a strict verifier requires to be signed.
	HeaderIDs []string
	// BodyID is the Id of soap:Body ("" for the outer envelope of a
	// transport-encrypted message, which has none).
	BodyID string
	// Fault is set for a SOAP fault.
	Fault *FaultError

	doc       *etree.Document
	signature *etree.Element   // ds:Signature of the signature block
	encData   []*etree.Element // ContentPackage/xenc:EncryptedData
	contain   []*etree.Element // ContentPackage/osci:ContentContainer
	transport *etree.Element   // Body/xenc:EncryptedData of a transport envelope
	pkg       *etree.Element   // Body/osci:ContentPackage
	raw       []byte
}

// ParseError says what is wrong with an envelope and where (an element path
// such as /Envelope/Header/ControlBlock).
type ParseError struct {
	Path   string
	Reason string
	Err    error
}

func (e *ParseError) Error() string {
	s := "osci: invalid envelope"
	switch e.Path {
	case "":
	case "MIME":
		s = "osci: invalid MIME message"
	default:
		s += " at " + e.Path
	}
	s += ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ParseError) Unwrap() error { return e.Err }

// Code is 9100 (message structure invalid).
func (e *ParseError) Code() string { return string(CodeStructureInvalid) }

// Retryable is false: resending the same bytes fails the same way.
func (e *ParseError) Retryable() bool { return false }

func perr(el *etree.Element, format string, a ...any) *ParseError {
	p := ""
	if el != nil {
		p = elementPath(el)
	}
	return &ParseError{Path: p, Reason: fmt.Sprintf(format, a...)}
}

func elementPath(el *etree.Element) string {
	var parts []string
	for e := el; e != nil && e.Tag != ""; e = e.Parent() {
		parts = append(parts, e.Tag)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}

// ParseLimits bounds what ParseEnvelope accepts.
var ParseLimits = safexml.Limits{MaxBytes: 256 << 20, MaxDepth: 64}

// ParseEnvelope parses the SOAP envelope of an OSCI message (the root MIME
// part) through safexml and reads its protocol content. It checks the
// structure (which blocks exist, their attributes and values) but verifies
// nothing cryptographic; Open does that.
func ParseEnvelope(data []byte) (*Envelope, error) {
	doc, err := safexml.Parse(data, ParseLimits)
	if err != nil {
		return nil, &ParseError{Reason: "not well-formed", Err: err}
	}
	e := &Envelope{doc: doc, raw: data}
	e.ControlBlock.SequenceNumber = NoSequence
	root := doc.Root()
	if !is(root, NSSOAP, "Envelope") {
		return nil, perr(root, "root element is not soap:Envelope")
	}
	var header, body *etree.Element
	for c := range elementsOf(root) {
		switch {
		case is(c, NSSOAP, "Header") && header == nil && body == nil:
			header = c
		case is(c, NSSOAP, "Body") && body == nil:
			body = c
		default:
			return nil, perr(c, "unexpected element in soap:Envelope")
		}
	}
	if body == nil {
		return nil, perr(root, "no soap:Body")
	}
	e.BodyID = body.SelectAttrValue("Id", "")
	bodyKids := body.ChildElements()

	// Message-level envelopes: transport encryption and SOAP faults.
	if len(bodyKids) == 1 && is(bodyKids[0], NSXENC, "EncryptedData") && header == nil {
		e.Type = TypeEncrypted
		e.transport = bodyKids[0]
		return e, nil
	}
	if len(bodyKids) == 1 && is(bodyKids[0], NSSOAP, "Fault") {
		e.Type = TypeFault
		e.Fault = parseFault(bodyKids[0])
		return e, nil
	}
	if header == nil {
		return nil, perr(root, "no soap:Header")
	}
	if e.BodyID == "" {
		return nil, perr(body, "soap:Body has no Id")
	}

	var order *etree.Element
	seenIDs := map[string]bool{}
	for h := range elementsOf(header) {
		id := h.SelectAttrValue("Id", "")
		ns, local := h.NamespaceURI(), h.Tag
		switch {
		case ns == NSOSCI && (local == "ClientSignature" || local == "SupplierSignature"):
			if e.SignatureBlock != "" {
				return nil, perr(h, "second signature block")
			}
			e.SignatureBlock = local
			sig := child(h, NSDS, "Signature")
			if sig == nil {
				return nil, perr(h, "no ds:Signature inside")
			}
			e.signature = sig
			continue
		case ns == NSOSCI && local == "ControlBlock":
			if err := parseControlBlock(h, &e.ControlBlock); err != nil {
				return nil, err
			}
		case ns == NSOSCI && local == "DesiredLanguages":
			e.Languages = h.SelectAttrValue("LanguagesList", "")
		case ns == NSOSCI && local == "QualityOfTimestamp":
			e.Timestamps = append(e.Timestamps, TimestampQuality{Service: h.SelectAttrValue("Service", ""), Quality: h.SelectAttrValue("Quality", "")})
		case ns == NSOSCI && local == "NonIntermediaryCertificates":
			certs, err := parseCertHeader(h)
			if err != nil {
				return nil, err
			}
			e.NonIntermediary = certs
		case ns == NSOSCI && local == "IntermediaryCertificates":
			certs, err := parseCertHeader(h)
			if err != nil {
				return nil, err
			}
			e.Intermediary = certs
		case ns == NSOSCI2017 && local == "FeatureDescription":
			f, err := parseFeatures(h)
			if err != nil {
				return nil, err
			}
			e.Features = f
		default:
			if t := typeByOrder(ns, local); t != TypeUnknown && t.info().block == blockHeader {
				if order != nil {
					return nil, perr(h, "second order header block (first was %s)", order.Tag)
				}
				order = h
				e.Type = t
			} else {
				// A block this implementation does not know. SOAP requires
				// refusing it if it must be understood; otherwise it is kept
				// for signature coverage (when it has an Id) and ignored.
				if mu := attrQName(h, NSSOAP, "mustUnderstand"); mu != "" && h.SelectAttrValue(mu, "") == "1" {
					return nil, perr(h, "unknown header block marked mustUnderstand")
				}
				if id == "" {
					continue
				}
			}
		}
		if id == "" {
			return nil, perr(h, "header block without Id")
		}
		if seenIDs[id] {
			return nil, perr(h, "duplicate header Id %q", id)
		}
		seenIDs[id] = true
		e.HeaderIDs = append(e.HeaderIDs, id)
	}

	// The order lives either in a header block or as the Body's element.
	var content *etree.Element
	for _, c := range bodyKids {
		switch {
		case is(c, NSOSCI, "ContentPackage"):
			if content != nil {
				return nil, perr(c, "second ContentPackage")
			}
			content = c
		default:
			t := typeByOrder(c.NamespaceURI(), c.Tag)
			if t == TypeUnknown || t.info().block != blockBody || order != nil {
				return nil, perr(c, "unexpected element in soap:Body")
			}
			order = c
			e.Type = t
		}
	}
	if order == nil {
		return nil, perr(header, "no order (neither a known header block nor a known Body element)")
	}
	if err := parseOrder(order, &e.Message); err != nil {
		return nil, err
	}
	if content != nil {
		e.pkg = content
		for c := range elementsOf(content) {
			switch {
			case is(c, NSXENC, "EncryptedData"):
				e.encData = append(e.encData, c)
			case is(c, NSOSCI, "ContentContainer"):
				e.contain = append(e.contain, c)
			default:
				return nil, perr(c, "unexpected element in ContentPackage")
			}
		}
	}
	if err := e.ControlBlock.checkReceived(e.Type); err != nil {
		return nil, &ParseError{Path: "/Envelope/Header/ControlBlock", Reason: err.Error()}
	}
	return e, nil
}

// Signed reports whether the envelope carries a Client- or
// SupplierSignature.
func (e *Envelope) Signed() bool { return e.signature != nil }

// Raw returns the envelope's XML as parsed.
func (e *Envelope) Raw() []byte { return e.raw }

// elementsOf yields the child elements of el in order. etree's
// ChildElements builds a slice on every call, and envelopes are walked
// child by child many times per message.
func elementsOf(el *etree.Element) iter.Seq[*etree.Element] {
	return func(yield func(*etree.Element) bool) {
		for _, t := range el.Child {
			if c, ok := t.(*etree.Element); ok && !yield(c) {
				return
			}
		}
	}
}

func is(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

func child(el *etree.Element, ns, local string) *etree.Element {
	for c := range elementsOf(el) {
		if is(c, ns, local) {
			return c
		}
	}
	return nil
}

func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for c := range elementsOf(el) {
		if is(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// attrQName returns the attribute key (prefix:local) under which el carries
// an attribute in namespace ns, resolving whatever prefix the sender used.
func attrQName(el *etree.Element, ns, local string) string {
	for _, a := range el.Attr {
		if a.Key == local && a.Space == "xml" && ns == NSXML {
			return "xml:" + local // the xml prefix is bound without a declaration
		}
		if a.Key == local && a.Space != "" && a.Space != "xmlns" && a.NamespaceURI() == ns {
			return a.Space + ":" + local
		}
	}
	return ""
}

func textOf(el *etree.Element) string { return strings.TrimSpace(el.Text()) }

// decodeB64 decodes base64 content that may be wrapped with line breaks.
// Only text may appear inside el (xmldsig.Base64Text): a child element,
// comment or processing instruction would make the text a reader takes
// differ from what a base64 transform digests.
func decodeB64(el *etree.Element) ([]byte, error) {
	b, err := xmldsig.Base64Text(el)
	if err != nil {
		return nil, &ParseError{Path: elementPath(el), Reason: "invalid base64", Err: err}
	}
	return b, nil
}

func decodeMessageID(el *etree.Element) (string, error) {
	b, err := decodeB64(el)
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", perr(el, "empty MessageId")
	}
	return string(b), nil
}

func parseControlBlock(el *etree.Element, cb *ControlBlock) error {
	cb.ConversationID = el.SelectAttrValue("ConversationId", "")
	if s := el.SelectAttr("SequenceNumber"); s != nil {
		n, err := strconv.Atoi(s.Value)
		if err != nil || n < 0 {
			return perr(el, "SequenceNumber %q is not a number", s.Value)
		}
		cb.SequenceNumber = n
	}
	if r := child(el, NSOSCI, "Response"); r != nil {
		cb.Response = textOf(r)
	}
	if c := child(el, NSOSCI, "Challenge"); c != nil {
		cb.Challenge = textOf(c)
	}
	return nil
}

// repeatableCerts are the certificate elements the schema allows more than
// once; every other one may appear at most once, so that "the originator's
// signature certificate" is one certificate.
var repeatableCerts = map[string]bool{CipherCertificateOtherAuthor: true, CipherCertificateOtherReader: true, SignatureCertificateOtherAuthor: true}

func parseCertHeader(el *etree.Element) ([]CertEntry, error) {
	var out []CertEntry
	seen := map[string]bool{}
	for c := range elementsOf(el) {
		if c.NamespaceURI() != NSOSCI {
			return nil, perr(c, "unexpected element in certificate header")
		}
		if seen[c.Tag] && !repeatableCerts[c.Tag] {
			return nil, perr(c, "second %s", c.Tag)
		}
		seen[c.Tag] = true
		x := child(c, NSDS, "X509Data")
		var xc *etree.Element
		if x != nil {
			xc = child(x, NSDS, "X509Certificate")
		}
		if xc == nil {
			return nil, perr(c, "no ds:X509Data/ds:X509Certificate")
		}
		cert, err := certificateIn(xc)
		if err != nil {
			return nil, err
		}
		out = append(out, CertEntry{Element: c.Tag, ID: c.SelectAttrValue("Id", ""), Cert: cert})
	}
	return out, nil
}

// certificateIn decodes and parses the certificate in a
// ds:X509Certificate element. A text seen before is not decoded again
// (certcache.FromText): the same parties' certificates come in every
// message.
func certificateIn(xc *etree.Element) (*x509.Certificate, error) {
	text, single := singleText(xc)
	if single {
		if cert := certcache.FromText(text); cert != nil {
			return cert, nil
		}
	}
	der, err := decodeB64(xc)
	if err != nil {
		return nil, err
	}
	cert, err := certcache.Parse(der)
	if err != nil {
		return nil, &ParseError{Path: elementPath(xc), Reason: "invalid certificate", Err: err}
	}
	if single {
		certcache.RememberText(text, cert)
	}
	return cert, nil
}

// singleText returns the text of an element whose only child is one text
// token.
func singleText(el *etree.Element) (string, bool) {
	if len(el.Child) == 1 {
		if t, ok := el.Child[0].(*etree.CharData); ok && !t.IsCData() {
			return t.Data, true
		}
	}
	return "", false
}

func parseFeatures(el *etree.Element) (*FeatureDescription, error) {
	f := &FeatureDescription{}
	num := func(name string) (int64, error) {
		a := el.SelectAttr(name)
		if a == nil {
			return 0, nil
		}
		n, err := strconv.ParseInt(a.Value, 10, 64)
		if err != nil || n <= 0 {
			return 0, perr(el, "%s %q is not a positive integer", name, a.Value)
		}
		return n, nil
	}
	var err error
	if f.MaxChunkSize, err = num("MaxChunkSize"); err != nil {
		return nil, err
	}
	if f.MaxMessageSize, err = num("MaxMessageSize"); err != nil {
		return nil, err
	}
	if f.MinChunkSize, err = num("MinChunkSize"); err != nil {
		return nil, err
	}
	if f.ChunkMessageTimeOut, err = num("ChunkMessageTimeOut"); err != nil {
		return nil, err
	}
	if sf := child(el, NSOSCI2017, "SupportedFeatures"); sf != nil {
		for _, ft := range children(sf, NSOSCI2017, "Feature") {
			f.Features = append(f.Features, Feature{Key: ft.SelectAttrValue("Key", ""), Version: ft.SelectAttrValue("Version", "")})
		}
	}
	return f, nil
}

func parseFault(el *etree.Element) *FaultError {
	f := &FaultError{}
	for c := range elementsOf(el) {
		switch c.Tag {
		case "faultcode":
			f.FaultCode = textOf(c)
		case "faultstring":
			f.FaultString = textOf(c)
		case "detail":
			if code := child(c, NSOSCI, "Code"); code != nil {
				f.OSCICode = Code(textOf(code))
			}
		}
	}
	return f
}

func parseFeedback(el *etree.Element) (Feedback, error) {
	var f Feedback
	for _, en := range children(el, NSOSCI, "Entry") {
		code := child(en, NSOSCI, "Code")
		if code == nil {
			return nil, perr(en, "feedback entry without Code")
		}
		c := textOf(code)
		if len(c) != 4 || !isDigits(c) {
			return nil, perr(code, "feedback code %q is not four digits", c)
		}
		fe := FeedbackEntry{Code: Code(c)}
		if t := child(en, NSOSCI, "Text"); t != nil {
			fe.Text = textOf(t)
		}
		if a := attrQName(en, NSXML, "lang"); a != "" {
			fe.Lang = en.SelectAttrValue(a, "")
		}
		f = append(f, fe)
	}
	if len(f) == 0 {
		return nil, perr(el, "Feedback without entries")
	}
	return f, nil
}

func parseTimestamp(el *etree.Element) (*Timestamp, error) {
	if p := child(el, NSOSCI, "Plain"); p != nil {
		t, err := parseTime(textOf(p))
		if err != nil {
			return nil, &ParseError{Path: elementPath(p), Reason: "invalid time", Err: err}
		}
		return &Timestamp{Plain: t}, nil
	}
	if c := child(el, NSOSCI, "Cryptographic"); c != nil {
		b, err := decodeB64(c)
		if err != nil {
			return nil, err
		}
		return &Timestamp{Cryptographic: b, Algorithm: c.SelectAttrValue("Algorithm", "")}, nil
	}
	return nil, perr(el, "timestamp is neither Plain nor Cryptographic")
}

func parseProcessCard(el *etree.Element) (ProcessCardBundle, error) {
	var p ProcessCardBundle
	id := child(el, NSOSCI, "MessageId")
	if id == nil {
		return p, perr(el, "no MessageId")
	}
	var err error
	if p.MessageID, err = decodeMessageID(id); err != nil {
		return p, err
	}
	card := child(el, NSOSCI, "ProcessCard")
	if card == nil {
		return p, perr(el, "no ProcessCard")
	}
	if rm := card.SelectAttrValue("RecentModification", ""); rm != "" {
		if p.RecentModification, err = parseTime(rm); err != nil {
			return p, &ParseError{Path: elementPath(card), Reason: "invalid RecentModification", Err: err}
		}
	}
	for _, f := range []struct {
		name string
		dst  **Timestamp
	}{{"Creation", &p.Creation}, {"Forwarding", &p.Forwarding}, {"Reception", &p.Reception}} {
		if c := child(card, NSOSCI, f.name); c != nil {
			if *f.dst, err = parseTimestamp(c); err != nil {
				return p, err
			}
		}
	}
	if s := child(card, NSOSCI, "Subject"); s != nil {
		p.Subject = s.Text()
	}
	if rep := child(el, NSOSCI, "InspectionReport"); rep != nil {
		for _, in := range children(rep, NSOSCI, "Inspection") {
			var i Inspection
			if ts := child(in, NSOSCI, "Timestamp"); ts != nil {
				t, err := parseTimestamp(ts)
				if err != nil {
					return p, err
				}
				i.Timestamp = *t
			}
			get := func(name string) string {
				if c := child(in, NSOSCI, name); c != nil {
					return c.Text()
				}
				return ""
			}
			attr := func(name string) string {
				if c := child(in, NSOSCI, name); c != nil {
					return c.SelectAttrValue("Result", c.SelectAttrValue("Type", ""))
				}
				return ""
			}
			i.SubjectName, i.IssuerName, i.SerialNumber = get("X509SubjectName"), get("X509IssuerName"), strings.TrimSpace(get("X509SerialNumber"))
			i.CertType, i.MathResult, i.OfflineResult = attr("CertType"), attr("MathResult"), attr("OfflineResult")
			if on := child(in, NSOSCI, "OnlineResult"); on != nil {
				or := &OnlineResult{OK: on.SelectAttrValue("Result", "") == "ok"}
				for c := range elementsOf(on) {
					or.Check = append(or.Check, OnlineCheck{Name: c.Tag, Value: textOf(c)})
				}
				i.OnlineResult = or
			}
			p.Inspections = append(p.Inspections, i)
		}
	}
	return p, nil
}

func parseSelection(el *etree.Element) (*Selection, error) {
	s := &Selection{}
	for c := range elementsOf(el) {
		switch c.Tag {
		case "MessageId":
			id, err := decodeMessageID(c)
			if err != nil {
				return nil, err
			}
			s.MessageIDs = append(s.MessageIDs, id)
		case "ReceptionOfDelivery", "RecentModification":
			t, err := parseTime(textOf(c))
			if err != nil {
				return nil, &ParseError{Path: elementPath(c), Reason: "invalid time", Err: err}
			}
			if c.Tag == "ReceptionOfDelivery" {
				s.ReceptionOfDelivery = t
			} else {
				s.RecentModification = t
			}
			s.NoReception = c.SelectAttrValue("NoReception", "") == "true"
			s.Role = c.SelectAttrValue("Role", "")
		default:
			return nil, perr(c, "unexpected element in SelectionRule")
		}
	}
	return s, nil
}

func parseChunk(el *etree.Element) (*ChunkInformation, error) {
	c := &ChunkInformation{}
	num := func(name string) (int64, error) {
		a := el.SelectAttr(name)
		if a == nil {
			return 0, nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(a.Value), 10, 64)
		if err != nil || n < 0 {
			return 0, perr(el, "%s %q is not a non-negative integer", name, a.Value)
		}
		return n, nil
	}
	n, err := num("ChunkNumber")
	if err != nil {
		return nil, err
	}
	c.ChunkNumber = int(n)
	if c.ChunkSize, err = num("ChunkSize"); err != nil {
		return nil, err
	}
	if n, err = num("TotalChunkNumbers"); err != nil {
		return nil, err
	}
	c.TotalChunkNumbers = int(n)
	if c.TotalMessageSize, err = num("TotalMessageSize"); err != nil {
		return nil, err
	}
	if rc := el.SelectAttr("ReceivedChunks"); rc != nil {
		for _, f := range strings.Fields(rc.Value) {
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, perr(el, "ReceivedChunks entry %q is not a number", f)
			}
			if n >= 0 {
				c.ReceivedChunks = append(c.ReceivedChunks, n)
			}
		}
	}
	return c, nil
}

// parseOrder reads the children of the order element into m.
func parseOrder(el *etree.Element, m *Message) error {
	for c := range elementsOf(el) {
		ns := c.NamespaceURI()
		var err error
		switch {
		case c.Tag == "MessageId" && ns == NSOSCI:
			m.MessageID, err = decodeMessageID(c)
		case c.Tag == "MessageIdResponse" && ns == NSOSCI:
			m.MessageIDResponse, err = decodeMessageID(c)
		case c.Tag == "Subject" && ns == NSOSCI:
			m.Subject = c.Text()
		case c.Tag == "ContentReceiver" && ns == NSOSCI:
			m.ContentReceiver = c.SelectAttrValue("URI", "")
		case c.Tag == "SelectionRule" && ns == NSOSCI:
			var s *Selection
			if s, err = parseSelection(c); err == nil {
				if m.Selection == nil {
					m.Selection = s
				} else {
					// responseToFetchProcessCard echoes one rule per id
					m.Selection.MessageIDs = append(m.Selection.MessageIDs, s.MessageIDs...)
				}
			}
		case c.Tag == "Quantity" && ns == NSOSCI:
			n, e := strconv.Atoi(c.SelectAttrValue("Limit", ""))
			if e != nil || n <= 0 {
				return perr(c, "Quantity Limit is not a positive integer")
			}
			m.QuantityLimit = n
		case c.Tag == "Feedback" && ns == NSOSCI:
			m.Feedback, err = parseFeedback(c)
		case c.Tag == "InsideFeedback" && ns == NSOSCI2017:
			m.InsideFeedback, err = parseFeedback(c)
		case (c.Tag == "ProcessCardBundle" || c.Tag == "RequestProcessCardBundle" || c.Tag == "procard") && ns == NSOSCI:
			var p ProcessCardBundle
			if p, err = parseProcessCard(c); err == nil {
				m.ProcessCards = append(m.ProcessCards, p)
			}
		case c.Tag == "ReplyProcessCardBundle" && ns == NSOSCI:
			var p ProcessCardBundle
			if p, err = parseProcessCard(c); err == nil {
				m.ReplyProcessCard = &p
			}
		case (c.Tag == "fetchDelivery" || c.Tag == "fetchProcessCard") && ns == NSOSCI:
			err = parseOrder(c, m) // the echoed selection
		case c.Tag == "ChunkInformation" && ns == NSOSCI2017:
			m.Chunk, err = parseChunk(c)
		case c.Tag == "InfoOnly" && ns == NSOSCI2017:
			m.InfoOnly = true
		default:
			return perr(c, "unexpected element in %s", el.Tag)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

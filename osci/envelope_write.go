package osci

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/xagw/xagw/osci/xmldsig"
)

// Ids the reference gives header blocks and the body.
const (
	idControlBlock        = "controlblock"
	idDesiredLanguages    = "desiredlanguages"
	idNonIntermediary     = "nonintermediarycertificates"
	idIntermediary        = "intermediarycertificates"
	idFeatureDescription  = "featuredescription"
	idBody                = "body"
	idClientSignature     = "clientsignature"
	idSupplierSignature   = "suppliersignature"
	idTimestampPrefix     = "qualityoftimestamp_"
	xmlDeclaration        = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\r\n"
	mustUnderstandAttr    = "soap:mustUnderstand"
	actorAttr             = "soap:actor"
	signatureBlockOpenFmt = `<osci:%s Id="%s" soap:actor="` + ActorNext + `" soap:mustUnderstand="1">`
)

// renderedBlock is one header block of a composed envelope.
type renderedBlock struct {
	id  string // Id attribute ("" for blocks that are never referenced)
	xml []byte
}

// envelope is a message rendered into its pieces before the signature is
// added: the header blocks in document order (the signature block goes
// right after the ControlBlock) and the soap:Body element. Without body
// content, body is the complete element; with it, body is everything up to
// the content, which is kept as given (not copied: it is a content package
// of tens of kilobytes and is copied once, into the rendered envelope) and
// followed by the Body's end tag.
type envelope struct {
	typ         MessageType
	blocks      []renderedBlock
	body        []byte
	bodyContent []byte
}

const bodyEnd = `</soap:Body>`

// render assembles the XML document. sigBlock is the complete
// ClientSignature/SupplierSignature element or nil for an unsigned message.
func (e *envelope) render(sigBlock []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(e.body) + len(e.bodyContent) + len(sigBlock) + 8192)
	b.WriteString(xmlDeclaration)
	b.WriteString(`<soap:Envelope`)
	b.WriteString(envelopeNS)
	b.WriteString(` xsi:schemaLocation="` + NSSOAP + ` `)
	b.WriteString(e.typ.SchemaFile())
	b.WriteString(schemaLocationSuffix + `"><soap:Header>`)
	for i, blk := range e.blocks {
		b.Write(blk.xml)
		if i == 0 && sigBlock != nil {
			b.Write(sigBlock)
		}
	}
	b.WriteString(`</soap:Header>`)
	b.Write(e.body)
	if e.bodyContent != nil {
		b.Write(e.bodyContent)
		b.WriteString(bodyEnd)
	}
	b.WriteString(`</soap:Envelope>`)
	return b.Bytes()
}

// referenceIDs lists the Ids a message signature must cover: every header
// block but the signature itself, and the body, in the order the reference
// adds them (control block, languages, features, timestamps, order, …,
// certificates, body).
func (e *envelope) referenceIDs() []string {
	rank := func(id string) int {
		switch {
		case id == idControlBlock:
			return 0
		case id == idDesiredLanguages:
			return 1
		case id == idFeatureDescription:
			return 2
		case strings.HasPrefix(id, idTimestampPrefix):
			return 3
		case id == idIntermediary:
			return 5
		case id == idNonIntermediary:
			return 6
		}
		return 4 // the order block and custom blocks
	}
	var ids []string
	for r := 0; r <= 6; r++ {
		for _, blk := range e.blocks {
			if blk.id != "" && rank(blk.id) == r {
				ids = append(ids, blk.id)
			}
		}
	}
	return append(ids, idBody)
}

// composeEnvelope renders m. bodyContent is the content of soap:Body (the
// ContentPackage for delivery messages; nil when the order lives in the Body
// or the Body is empty).
func composeEnvelope(m *Message, bodyContent []byte) (*envelope, error) {
	t := m.Type
	if t.info().block == blockNone {
		return nil, fmt.Errorf("osci: cannot compose a %s envelope", t)
	}
	if err := m.ControlBlock.checkShape(t); err != nil {
		return nil, err
	}
	e := &envelope{typ: t}
	add := func(id string, w *xw) {
		e.blocks = append(e.blocks, renderedBlock{id, w.Bytes()}) // each w is used once
	}

	add(idControlBlock, controlBlockXML(m.ControlBlock))
	if t.IsRequest() {
		lang := m.Languages
		if lang == "" {
			lang = "de"
		}
		w := newBlock(256)
		w.empty("osci:DesiredLanguages", envelopeNS, "Id", idDesiredLanguages, "LanguagesList", lang, actorAttr, ActorNext, mustUnderstandAttr, "1")
		add(idDesiredLanguages, w)
	}
	for _, ts := range m.Timestamps {
		w := newBlock(256)
		id := idTimestampPrefix + ts.Service
		w.empty("osci:QualityOfTimestamp", envelopeNS, "Id", id, "Quality", ts.Quality, "Service", ts.Service, actorAttr, ActorNext, mustUnderstandAttr, "1")
		add(id, w)
	}
	info := t.info()
	if info.block == blockHeader {
		prefix, ns := "osci:", envelopeNS
		if info.ns == NSOSCI2017 {
			prefix, ns = "osci2017:", envelopeNS2017
		}
		w := newBlock(512)
		w.start(prefix+info.name, ns, "Id", t.orderID(), actorAttr, ActorNext, mustUnderstandAttr, "1")
		if err := writeOrderContent(w, m); err != nil {
			return nil, err
		}
		w.end(prefix + info.name)
		add(t.orderID(), w)
	}
	if len(m.Intermediary) > 0 {
		add(idIntermediary, certHeaderXML("osci:IntermediaryCertificates", idIntermediary, m.Intermediary))
	}
	if len(m.NonIntermediary) > 0 {
		add(idNonIntermediary, certHeaderXML("osci:NonIntermediaryCertificates", idNonIntermediary, sortNonIntermediary(m.NonIntermediary)))
	}
	if m.Features != nil {
		add(idFeatureDescription, featureXML(m.Features))
	}

	var body xw
	body.Grow(len(envelopeNS) + 64)
	body.start("soap:Body", envelopeNS, "Id", idBody)
	if info.block == blockBody {
		body.start("osci:"+info.name, "")
		if err := writeOrderContent(&body, m); err != nil {
			return nil, err
		}
		body.end("osci:" + info.name)
	}
	if len(bodyContent) > 0 {
		e.bodyContent = bodyContent
	} else {
		body.WriteString(bodyEnd)
	}
	e.body = body.Bytes()
	return e, nil
}

// newBlock returns a writer for a header block with room for n bytes: a
// block repeats the envelope's namespace declarations, and growing from
// empty took five or six reallocations per block.
func newBlock(n int) *xw {
	w := &xw{}
	w.Grow(len(envelopeNS) + n)
	return w
}

func controlBlockXML(cb ControlBlock) *xw {
	w := newBlock(384)
	var attrs []string
	if cb.ConversationID != "" {
		attrs = append(attrs, "ConversationId", cb.ConversationID)
	}
	attrs = append(attrs, "Id", idControlBlock)
	if cb.SequenceNumber != NoSequence {
		attrs = append(attrs, "SequenceNumber", strconv.Itoa(cb.SequenceNumber))
	}
	attrs = append(attrs, actorAttr, ActorNext, mustUnderstandAttr, "1")
	w.start("osci:ControlBlock", envelopeNS, attrs...)
	if cb.Response != "" {
		w.text("osci:Response", cb.Response)
	}
	if cb.Challenge != "" {
		w.text("osci:Challenge", cb.Challenge)
	}
	w.end("osci:ControlBlock")
	return w
}

func certHeaderXML(name, id string, entries []CertEntry) *xw {
	n := 256
	for _, c := range entries {
		n += 256 + len(c.Cert.Raw)*4/3 + len(c.Cert.Raw)/56
	}
	w := newBlock(n)
	w.start(name, envelopeNS, "Id", id, actorAttr, ActorNone, mustUnderstandAttr, "1")
	for _, c := range entries {
		w.start("osci:"+c.Element, "", "Id", c.ID)
		w.start("ds:X509Data", "")
		w.start("ds:X509Certificate", "")
		w.WriteString(xmldsig.CertificateBase64(c.Cert))
		w.end("ds:X509Certificate")
		w.end("ds:X509Data")
		w.end("osci:" + c.Element)
	}
	w.end(name)
	return w
}

// sortNonIntermediary puts certificate entries into schema order, keeping
// the relative order of repeated elements.
func sortNonIntermediary(in []CertEntry) []CertEntry {
	out := make([]CertEntry, 0, len(in))
	for _, el := range nonIntermediaryOrder {
		for _, c := range in {
			if c.Element == el {
				out = append(out, c)
			}
		}
	}
	return out
}

func featureXML(f *FeatureDescription) *xw {
	w := newBlock(768)
	var attrs []string
	if f.ChunkMessageTimeOut > 0 {
		attrs = append(attrs, "ChunkMessageTimeOut", strconv.FormatInt(f.ChunkMessageTimeOut, 10))
	}
	attrs = append(attrs, "Id", idFeatureDescription)
	if f.MaxChunkSize > 0 {
		attrs = append(attrs, "MaxChunkSize", strconv.FormatInt(f.MaxChunkSize, 10))
	}
	if f.MaxMessageSize > 0 {
		attrs = append(attrs, "MaxMessageSize", strconv.FormatInt(f.MaxMessageSize, 10))
	}
	if f.MinChunkSize > 0 {
		attrs = append(attrs, "MinChunkSize", strconv.FormatInt(f.MinChunkSize, 10))
	}
	w.start("osci2017:FeatureDescription", envelopeNS2017, attrs...)
	w.start("osci2017:SupportedFeatures", "")
	for _, ft := range f.Features {
		w.empty("osci2017:Feature", "", "Key", ft.Key, "Version", ft.Version)
	}
	w.end("osci2017:SupportedFeatures")
	w.end("osci2017:FeatureDescription")
	return w
}

// encodeMessageID renders a MessageId as the reference does: base64 of its
// UTF-8 bytes, unwrapped.
func encodeMessageID(id string) string { return base64.StdEncoding.EncodeToString([]byte(id)) }

func writeMessageID(w *xw, id string) { w.text("osci:MessageId", encodeMessageID(id)) }

func writeFeedback(w *xw, name string, f Feedback) {
	w.start(name, "")
	for _, e := range f {
		lang := e.Lang
		if lang == "" {
			lang = "de"
		}
		w.start("osci:Entry", "", "xml:lang", lang)
		w.text("osci:Code", string(e.Code))
		w.text("osci:Text", e.Text)
		w.end("osci:Entry")
	}
	w.end(name)
}

func writeSelection(w *xw, s *Selection, fetchProcessCard bool) {
	if s == nil {
		return
	}
	w.start("osci:SelectionRule", "")
	switch {
	case len(s.MessageIDs) > 0:
		for _, id := range s.MessageIDs {
			writeMessageID(w, id)
		}
	case !s.ReceptionOfDelivery.IsZero():
		w.start("osci:ReceptionOfDelivery", "", selectionAttrs(s, fetchProcessCard)...)
		escapeText(&w.Buffer, formatTime(s.ReceptionOfDelivery))
		w.end("osci:ReceptionOfDelivery")
	case !s.RecentModification.IsZero():
		w.start("osci:RecentModification", "", selectionAttrs(s, fetchProcessCard)...)
		escapeText(&w.Buffer, formatTime(s.RecentModification))
		w.end("osci:RecentModification")
	}
	w.end("osci:SelectionRule")
}

// writeProcessCardSelectionEcho writes the echo of a fetchProcessCard
// selection into responseToFetchProcessCard. The reference copies the
// request's SelectionRule and Quantity, but the response schema only admits
// global osci elements under a strict wildcard: the global SelectionRule
// with one MessageId or one plain ReceptionOfDelivery. So the echo uses that
// vocabulary: one rule per MessageId, a date selection as
// ReceptionOfDelivery with its date, and "no selection" as reception since
// the Unix epoch (which selects everything).
func writeProcessCardSelectionEcho(w *xw, s *Selection) {
	switch {
	case s != nil && len(s.MessageIDs) > 0:
		for _, id := range s.MessageIDs {
			writeSelection(w, &Selection{MessageIDs: []string{id}}, false)
		}
	case s != nil && !s.ReceptionOfDelivery.IsZero():
		writeSelection(w, &Selection{ReceptionOfDelivery: s.ReceptionOfDelivery}, false)
	case s != nil && !s.RecentModification.IsZero():
		writeSelection(w, &Selection{ReceptionOfDelivery: s.RecentModification}, false)
	default:
		writeSelection(w, &Selection{ReceptionOfDelivery: time.Unix(0, 0).UTC()}, false)
	}
}

func selectionAttrs(s *Selection, fetchProcessCard bool) []string {
	if !fetchProcessCard {
		return nil
	}
	var a []string
	if s.NoReception {
		a = append(a, "NoReception", "true")
	}
	if s.Role != "" {
		a = append(a, "Role", s.Role)
	}
	return a
}

func writeChunk(w *xw, c *ChunkInformation) {
	var a []string
	if c.ChunkNumber != 0 {
		a = append(a, "ChunkNumber", strconv.Itoa(c.ChunkNumber))
	}
	if c.ChunkSize != 0 {
		a = append(a, "ChunkSize", strconv.FormatInt(c.ChunkSize, 10))
	}
	if len(c.ReceivedChunks) > 0 {
		parts := make([]string, len(c.ReceivedChunks))
		for i, n := range c.ReceivedChunks {
			parts[i] = strconv.Itoa(n)
		}
		a = append(a, "ReceivedChunks", strings.Join(parts, " "))
	}
	if c.TotalChunkNumbers != 0 {
		a = append(a, "TotalChunkNumbers", strconv.Itoa(c.TotalChunkNumbers))
	}
	if c.TotalMessageSize != 0 {
		a = append(a, "TotalMessageSize", strconv.FormatInt(c.TotalMessageSize, 10))
	}
	w.empty("osci2017:ChunkInformation", "", a...)
}

func writeTimestamp(w *xw, name string, t *Timestamp) {
	if t == nil {
		return
	}
	w.start(name, "")
	if len(t.Cryptographic) > 0 {
		var a []string
		if t.Algorithm != "" {
			a = []string{"Algorithm", t.Algorithm}
		}
		w.b64("osci:Cryptographic", "", t.Cryptographic, a...)
	} else {
		w.text("osci:Plain", formatTime(t.Plain))
	}
	w.end(name)
}

func writeProcessCard(w *xw, name string, p *ProcessCardBundle) {
	w.start(name, "")
	writeMessageID(w, p.MessageID)
	w.start("osci:ProcessCard", "", "RecentModification", formatTime(p.RecentModification))
	writeTimestamp(w, "osci:Creation", p.Creation)
	writeTimestamp(w, "osci:Forwarding", p.Forwarding)
	writeTimestamp(w, "osci:Reception", p.Reception)
	if p.Subject != "" {
		w.text("osci:Subject", p.Subject)
	}
	w.end("osci:ProcessCard")
	w.start("osci:InspectionReport", "")
	for i := range p.Inspections {
		in := &p.Inspections[i]
		w.start("osci:Inspection", "")
		writeTimestamp(w, "osci:Timestamp", &in.Timestamp)
		w.text("osci:X509SubjectName", in.SubjectName)
		w.text("osci:X509IssuerName", in.IssuerName)
		w.text("osci:X509SerialNumber", in.SerialNumber)
		w.empty("osci:CertType", "", "Type", in.CertType)
		w.empty("osci:MathResult", "", "Result", in.MathResult)
		w.empty("osci:OfflineResult", "", "Result", in.OfflineResult)
		if in.OnlineResult != nil {
			res := "revoked"
			if in.OnlineResult.OK {
				res = "ok"
			}
			w.start("osci:OnlineResult", "", "Result", res)
			for _, c := range in.OnlineResult.Check {
				w.text("osci:"+c.Name, c.Value)
			}
			w.end("osci:OnlineResult")
		}
		w.end("osci:Inspection")
	}
	w.end("osci:InspectionReport")
	w.end(name)
}

// writeOrderContent writes the children of the order element of m.Type.
func writeOrderContent(w *xw, m *Message) error {
	needID := func() error {
		if m.MessageID == "" {
			return fmt.Errorf("osci: %s needs a MessageId", m.Type)
		}
		return nil
	}
	subject := func() {
		if m.Subject != "" {
			w.text("osci:Subject", m.Subject)
		}
	}
	switch m.Type {
	case TypeInitDialog, TypeExitDialog, TypeGetMessageID:
		// empty order element
	case TypeStoreDelivery:
		if err := needID(); err != nil {
			return err
		}
		writeMessageID(w, m.MessageID)
		subject()
	case TypeForwardDelivery, TypeMediateDelivery:
		if m.ContentReceiver == "" {
			return fmt.Errorf("osci: %s needs a ContentReceiver URI", m.Type)
		}
		w.empty("osci:ContentReceiver", "", "URI", m.ContentReceiver)
		if m.Type == TypeForwardDelivery {
			if err := needID(); err != nil {
				return err
			}
		}
		if m.MessageID != "" {
			writeMessageID(w, m.MessageID)
			subject()
		}
	case TypeFetchDelivery:
		if m.Selection != nil && len(m.Selection.MessageIDs) > 1 {
			return fmt.Errorf("osci: fetchDelivery selects at most one MessageId")
		}
		writeSelection(w, m.Selection, false)
	case TypeFetchProcessCard:
		writeSelection(w, m.Selection, true)
		if m.QuantityLimit > 0 {
			w.empty("osci:Quantity", "", "Limit", strconv.Itoa(m.QuantityLimit))
		}
	case TypeAcceptDelivery:
		if len(m.ProcessCards) != 1 {
			return fmt.Errorf("osci: acceptDelivery needs exactly one ProcessCardBundle")
		}
		writeProcessCard(w, "osci:ProcessCardBundle", &m.ProcessCards[0])
	case TypeProcessDelivery:
		if m.MessageIDResponse != "" {
			w.text("osci:MessageIdResponse", encodeMessageID(m.MessageIDResponse))
		}
		if len(m.ProcessCards) > 0 {
			writeProcessCard(w, "osci:ProcessCardBundle", &m.ProcessCards[0])
		}
	case TypePartialStoreDelivery:
		if err := needID(); err != nil {
			return err
		}
		writeMessageID(w, m.MessageID)
		subject()
		if m.InfoOnly {
			w.empty("osci2017:InfoOnly", "")
		} else {
			if m.Chunk == nil {
				return fmt.Errorf("osci: partialStoreDelivery needs ChunkInformation or InfoOnly")
			}
			writeChunk(w, m.Chunk)
		}
	case TypePartialFetchDelivery:
		writeSelection(w, m.Selection, false)
		if m.Chunk == nil {
			return fmt.Errorf("osci: partialFetchDelivery needs ChunkInformation")
		}
		writeChunk(w, m.Chunk)

	case TypeResponseToInitDialog, TypeResponseToExitDialog, TypeResponseToAcceptDelivery:
		writeFeedback(w, "osci:Feedback", m.Feedback)
	case TypeResponseToGetMessageID:
		writeFeedback(w, "osci:Feedback", m.Feedback)
		if m.MessageID != "" {
			writeMessageID(w, m.MessageID)
		}
	case TypeResponseToStoreDelivery, TypeResponseToForwardDelivery:
		writeFeedback(w, "osci:Feedback", m.Feedback)
		if len(m.ProcessCards) > 0 {
			writeProcessCard(w, "osci:ProcessCardBundle", &m.ProcessCards[0])
		}
	case TypeResponseToFetchDelivery:
		writeFeedback(w, "osci:Feedback", m.Feedback)
		w.start("osci:fetchDelivery", "")
		writeSelection(w, m.Selection, false)
		w.end("osci:fetchDelivery")
		if len(m.ProcessCards) > 0 {
			writeProcessCard(w, "osci:ProcessCardBundle", &m.ProcessCards[0])
		}
	case TypeResponseToFetchProcessCard:
		writeFeedback(w, "osci:Feedback", m.Feedback)
		w.start("osci:fetchProcessCard", "")
		writeProcessCardSelectionEcho(w, m.Selection)
		w.end("osci:fetchProcessCard")
		for i := range m.ProcessCards {
			writeProcessCard(w, "osci:ProcessCardBundle", &m.ProcessCards[i])
		}
	case TypeResponseToMediateDelivery:
		writeFeedback(w, "osci:Feedback", m.Feedback)
		if len(m.ProcessCards) > 0 {
			writeProcessCard(w, "osci:RequestProcessCardBundle", &m.ProcessCards[0])
			if m.ReplyProcessCard != nil {
				writeProcessCard(w, "osci:ReplyProcessCardBundle", m.ReplyProcessCard)
			}
		}
	case TypeResponseToProcessDelivery:
		writeFeedback(w, "osci:Feedback", m.Feedback)
		if m.MessageID != "" {
			writeMessageID(w, m.MessageID)
			subject()
		}
	case TypeResponseToPartialStoreDelivery:
		if len(m.InsideFeedback) > 0 {
			writeFeedback(w, "osci2017:InsideFeedback", m.InsideFeedback)
		}
		writeFeedback(w, "osci:Feedback", m.Feedback)
		if len(m.ProcessCards) > 0 {
			writeProcessCard(w, "osci:procard", &m.ProcessCards[0])
		}
		c := m.Chunk
		if c == nil {
			c = &ChunkInformation{}
		}
		writeChunk(w, c)
	case TypeResponseToPartialFetchDelivery:
		writeFeedback(w, "osci:Feedback", m.Feedback)
		w.start("osci:fetchDelivery", "")
		writeSelection(w, m.Selection, false)
		w.end("osci:fetchDelivery")
		c := m.Chunk
		if c == nil {
			c = &ChunkInformation{}
		}
		writeChunk(w, c)
		if m.MessageID == "" {
			return fmt.Errorf("osci: responseToPartialFetchDelivery needs a MessageId")
		}
		writeMessageID(w, m.MessageID)
	default:
		return fmt.Errorf("osci: no order content for %s", m.Type)
	}
	return nil
}

package gatewaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"

	"github.com/xagw/xagw/gateway"
	"github.com/xagw/xagw/internal/safexml"
)

// Namespace is the XAusländer 26.11 namespace the test codec expects.
const Namespace = "http://www.osci.de/xauslaender2611"

// Codec reads the XAusländer header the way the real codec does (root
// namespace, Nachrichtenkopf, antragsidentifikation, ausloeserUUID) through
// internal/safexml, but does not validate against the XSDs. It is a test
// stand-in for the xauslaender package; its problems are shaped like real
// validation problems so the API's 422 path is exercised.
type Codec struct {
	// Calls counts ParseXML/FromJSON/ParseReply calls.
	Calls atomic.Int64
}

// ParseXML reads and checks the header of data.
func (c *Codec) ParseXML(ctx context.Context, data []byte) (*gateway.Message, error) {
	c.Calls.Add(1)
	return parseHeader(data)
}

// ParseReply reads a reply's header.
func (c *Codec) ParseReply(ctx context.Context, data []byte) (*gateway.Message, error) {
	c.Calls.Add(1)
	return parseHeader(data)
}

// Application is the JSON shape the test codec maps: a tiny subset of an
// OZG.Antrag, enough to carry personal data through the gateway.
type Application struct {
	Antragsidentifikation string `json:"antragsidentifikation"`
	Antragsdatum          string `json:"antragsdatum"`
	Familienname          string `json:"familienname"`
	Vorname               string `json:"vorname"`
}

// FromJSON maps an Application to an OZG.Antrag addressed to recipient.
func (c *Codec) FromJSON(ctx context.Context, messageType string, data []byte, recipient gateway.Authority) (*gateway.Message, error) {
	c.Calls.Add(1)
	if messageType != "" && messageType != "130101" {
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "/type", Kind: "json", Message: fmt.Sprintf("message type %q cannot be built from JSON by the test codec", messageType)}}}
	}
	var a Application
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Path: "/application", Kind: "json", Message: err.Error()}}}
	}
	var probs []gateway.Problem
	if a.Antragsidentifikation == "" {
		probs = append(probs, gateway.Problem{Path: "/application/antragsidentifikation", Kind: "json", Message: "required"})
	}
	if a.Familienname == "" {
		probs = append(probs, gateway.Problem{Path: "/application/familienname", Kind: "json", Message: "required"})
	}
	if len(probs) > 0 {
		return nil, &gateway.ValidationError{Problems: probs}
	}
	xml := Antrag(AntragOptions{Reader: recipient.Key, ApplicationID: a.Antragsidentifikation, FamilyName: a.Familienname, GivenName: a.Vorname})
	return parseHeader(xml)
}

// AntragOptions fill a sample message.
type AntragOptions struct {
	TypeCode      string // default 130101
	MessageUUID   string // default a new UUID
	Reader        string // leser kennung (ABH key)
	Author        string // autor kennung (default "ev:test")
	ApplicationID string
	TriggerUUID   string // ausloeserUUID (for replies)
	FamilyName    string
	GivenName     string
}

var uuidCounter atomic.Uint64

// Antrag returns a message shaped like an XAusländer OZG message (frame,
// header, antragsidentifikation, optional ausloeserUUID, a person).
func Antrag(o AntragOptions) []byte {
	if o.TypeCode == "" {
		o.TypeCode = "130101"
	}
	if o.MessageUUID == "" {
		o.MessageUUID = fmt.Sprintf("6f1c2d3e-0000-4000-8000-%012d", uuidCounter.Add(1)+uint64(time.Now().UnixNano()%1e9)*1000)
	}
	if o.Author == "" {
		o.Author = "ev:test"
	}
	root := map[string]string{"130101": "OZG.Antrag.130101", "130102": "OZG.RueckkanalFrage.130102", "130104": "OZG.Statusmeldung.130104",
		"130105": "OZG.Terminmitteilung.130105", "130109": "OZG.Unzustaendig.130109", "130110": "OZG.BeabsichtigteAblehnung.130110",
		"130107": "OZG.RuecknahmeReaktion.130107"}[o.TypeCode]
	if root == "" {
		root = "OZG.Nachricht." + o.TypeCode
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<xauslaender:%s xmlns:xauslaender="%s" produkt="xagw-test" produkthersteller="xagw" standard="XAusländer" version="26.11">
  <nachrichtenkopf.g2g>
    <identifikation.nachricht>
      <nachrichtenUUID>%s</nachrichtenUUID>
      <nachrichtentyp listURI="urn:de:xauslaender:codelist:nachrichtentyp" listVersionID="19"><code>%s</code></nachrichtentyp>
      <erstellungszeitpunkt>2026-03-01T10:00:00</erstellungszeitpunkt>
    </identifikation.nachricht>
    <leser><kennung>%s</kennung><name>Ausländerbehörde</name></leser>
    <autor><kennung>%s</kennung><name>Online-Dienst</name></autor>
  </nachrichtenkopf.g2g>
  <xauslaender:antragsidentifikation>%s</xauslaender:antragsidentifikation>
`, root, Namespace, o.MessageUUID, o.TypeCode, esc(o.Reader), esc(o.Author), esc(o.ApplicationID))
	if o.TriggerUUID != "" {
		fmt.Fprintf(&b, "  <xauslaender:ausloeserUUID>%s</xauslaender:ausloeserUUID>\n", esc(o.TriggerUUID))
	}
	if o.FamilyName != "" || o.GivenName != "" {
		fmt.Fprintf(&b, "  <xauslaender:angabenZurPerson><xauslaender:familienname>%s</xauslaender:familienname><xauslaender:vorname>%s</xauslaender:vorname></xauslaender:angabenZurPerson>\n", esc(o.FamilyName), esc(o.GivenName))
	}
	fmt.Fprintf(&b, "</xauslaender:%s>\n", root)
	return []byte(b.String())
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func child(e *etree.Element, name string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == name {
			return c
		}
	}
	return nil
}

func path(e *etree.Element, names ...string) *etree.Element {
	for _, n := range names {
		e = child(e, n)
	}
	return e
}

func text(e *etree.Element) string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.Text())
}

func parseHeader(data []byte) (*gateway.Message, error) {
	doc, err := safexml.Parse(data, safexml.Limits{})
	if err != nil {
		var se *safexml.Error
		line := 0
		if ok := asSafe(err, &se); ok {
			line = se.Line
		}
		return nil, &gateway.ValidationError{Problems: []gateway.Problem{{Kind: "xml", Line: line, Message: err.Error()}}}
	}
	root := doc.Root()
	var probs []gateway.Problem
	if root.NamespaceURI() != Namespace {
		probs = append(probs, gateway.Problem{Path: "/" + root.Tag, Kind: "xsd", Message: fmt.Sprintf("root element is in namespace %q, want %q", root.NamespaceURI(), Namespace)})
	}
	kopf := child(root, "nachrichtenkopf.g2g")
	m := &gateway.Message{XML: data, Version: root.SelectAttrValue("version", "")}
	req := func(p string, names ...string) string {
		v := text(path(kopf, names...))
		if v == "" {
			probs = append(probs, gateway.Problem{Path: "/" + root.Tag + "/nachrichtenkopf.g2g/" + p, Kind: "xsd", Message: "missing required element"})
		}
		return v
	}
	m.MessageUUID = req("identifikation.nachricht/nachrichtenUUID", "identifikation.nachricht", "nachrichtenUUID")
	m.TypeCode = req("identifikation.nachricht/nachrichtentyp/code", "identifikation.nachricht", "nachrichtentyp", "code")
	m.ReaderKey = req("leser/kennung", "leser", "kennung")
	m.AuthorKey = req("autor/kennung", "autor", "kennung")
	if ts := text(path(kopf, "identifikation.nachricht", "erstellungszeitpunkt")); ts != "" {
		m.CreatedAt, _ = time.Parse("2006-01-02T15:04:05", ts)
	}
	m.ApplicationID = text(child(root, "antragsidentifikation"))
	m.TriggerUUID = text(child(root, "ausloeserUUID"))
	if m.ApplicationID == "" {
		probs = append(probs, gateway.Problem{Path: "/" + root.Tag + "/antragsidentifikation", Kind: "xsd", Message: "missing required element"})
	}
	if len(probs) > 0 {
		return nil, &gateway.ValidationError{Problems: probs}
	}
	return m, nil
}

func asSafe(err error, target **safexml.Error) bool {
	for err != nil {
		if e, ok := err.(*safexml.Error); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

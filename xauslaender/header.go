package xauslaender

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Header holds the fields of a message a gateway routes, logs and links
// by. None of them is personal data.
type Header struct {
	NachrichtenUUID      string   `json:"nachrichtenUUID"`
	Nachrichtentyp       string   `json:"nachrichtentyp"`
	Erstellungszeitpunkt string   `json:"erstellungszeitpunkt"`
	Autor                Behoerde `json:"autor"`
	Leser                Behoerde `json:"leser"`
	// Antragsidentifikation is the application id of the OZG frame (the
	// online service's case reference), empty for other messages.
	Antragsidentifikation string `json:"antragsidentifikation,omitempty"`
	// AusloeserUUID is the nachrichtenUUID of the message this one answers
	// (OZG replies), empty otherwise.
	AusloeserUUID string `json:"ausloeserUUID,omitempty"`
	// RejectedUUID is the nachrichtenUUID of the message a Rückweisung
	// rejects (rueckweisung/idNachricht of the XInneres and the synchronous
	// XAusländer Rückweisung), empty for other messages.
	RejectedUUID string `json:"rejectedUUID,omitempty"`
	// Standard and StandardVersion are the root attributes standard and
	// version, e.g. "XAusländer" and "26.11".
	Standard        string `json:"standard,omitempty"`
	StandardVersion string `json:"standardVersion,omitempty"`
}

// Reference returns the nachrichtenUUID of the message this one refers to:
// the one it answers (AusloeserUUID) or the one it rejects (RejectedUUID).
func (h Header) Reference() string {
	if h.AusloeserUUID != "" {
		return h.AusloeserUUID
	}
	return h.RejectedUUID
}

// Behoerde is the author or reader of a message as the header names it.
type Behoerde struct {
	// Verzeichnisdienst is the directory the Kennung is from, e.g. "DVDV".
	Verzeichnisdienst string `json:"verzeichnisdienst"`
	// Kennung is the Behördenkennung: prefix and key, e.g. "abh:000100".
	Kennung string `json:"kennung"`
	Name    string `json:"name"`
}

// Prefix returns the part of the Kennung before the first colon ("abh").
func (b Behoerde) Prefix() string {
	p, _ := SplitKennung(b.Kennung)
	return p
}

// Key returns the part of the Kennung after the first colon ("000100").
func (b Behoerde) Key() string {
	_, k := SplitKennung(b.Kennung)
	return k
}

// SplitKennung splits a Behördenkennung "prefix:key" at the first colon;
// without a colon the whole value is the key.
func SplitKennung(k string) (prefix, key string) {
	k = strings.TrimSpace(k)
	if i := strings.IndexByte(k, ':'); i >= 0 {
		return k[:i], k[i+1:]
	}
	return "", k
}

// HeaderOf reads the header fields of a typed message of any version.
func HeaderOf(m xsd.Message) Header {
	t := func(path ...string) string {
		s, _ := xsd.Text(m, path...)
		return s
	}
	kopf := "nachrichtenkopf.g2g"
	id := "identifikation.nachricht"
	return Header{
		NachrichtenUUID:       t(kopf, id, "nachrichtenUUID"),
		Nachrichtentyp:        t(kopf, id, "nachrichtentyp", "code"),
		Erstellungszeitpunkt:  t(kopf, id, "erstellungszeitpunkt"),
		Autor:                 Behoerde{Verzeichnisdienst: t(kopf, "autor", "verzeichnisdienst", "code"), Kennung: t(kopf, "autor", "kennung"), Name: t(kopf, "autor", "name")},
		Leser:                 Behoerde{Verzeichnisdienst: t(kopf, "leser", "verzeichnisdienst", "code"), Kennung: t(kopf, "leser", "kennung"), Name: t(kopf, "leser", "name")},
		Antragsidentifikation: t("antragsidentifikation"),
		AusloeserUUID:         t("ausloeserUUID"),
		RejectedUUID:          t("rueckweisung", "idNachricht", "nachrichtenUUID"),
		Standard:              t("@standard"),
		StandardVersion:       t("@version"),
	}
}

// ReadHeader reads the header fields of any well-formed document by
// element names (namespaces are ignored), without validating it and
// without a typed model: what an office needs to answer a message it cannot
// accept (a Rückweisung names the rejected message's id) or to route a
// message of a version it does not know. The result has no Body; Code is
// the type code in the root element's name, else the header's
// nachrichtentyp. Fields that are absent are empty. The document is
// untrusted and parsed through safexml.
func ReadHeader(data []byte) (*Message, error) {
	doc, err := safexml.Parse(data, Limits)
	if err != nil {
		return nil, fmt.Errorf("xauslaender: %w", err)
	}
	root := doc.Root()
	t := func(path ...string) string {
		e := root
		for _, p := range path {
			var next *etree.Element
			for _, c := range e.ChildElements() {
				if c.Tag == p {
					next = c
					break
				}
			}
			if next == nil {
				return ""
			}
			e = next
		}
		return strings.TrimSpace(e.Text())
	}
	attr := func(name string) string {
		for _, a := range root.Attr {
			if a.Space == "" && a.Key == name {
				return a.Value
			}
		}
		return ""
	}
	kopf, id := "nachrichtenkopf.g2g", "identifikation.nachricht"
	h := Header{
		NachrichtenUUID:       t(kopf, id, "nachrichtenUUID"),
		Nachrichtentyp:        t(kopf, id, "nachrichtentyp", "code"),
		Erstellungszeitpunkt:  t(kopf, id, "erstellungszeitpunkt"),
		Autor:                 Behoerde{Verzeichnisdienst: t(kopf, "autor", "verzeichnisdienst", "code"), Kennung: t(kopf, "autor", "kennung"), Name: t(kopf, "autor", "name")},
		Leser:                 Behoerde{Verzeichnisdienst: t(kopf, "leser", "verzeichnisdienst", "code"), Kennung: t(kopf, "leser", "kennung"), Name: t(kopf, "leser", "name")},
		Antragsidentifikation: t("antragsidentifikation"),
		AusloeserUUID:         t("ausloeserUUID"),
		RejectedUUID:          t("rueckweisung", "idNachricht", "nachrichtenUUID"),
		Standard:              attr("standard"),
		StandardVersion:       attr("version"),
	}
	code := h.Nachrichtentyp
	if c := typeCodeOf(root.Tag); c != "" {
		code = c
	}
	return &Message{Code: code, Namespace: root.NamespaceURI(), Element: root.Tag, Header: h}, nil
}

// parseUntyped reads a recognised message without a typed model.
func parseUntyped(data []byte, ns, local, note string) (*Message, error) {
	m, err := ReadHeader(data)
	if err != nil {
		return nil, err
	}
	m.Namespace, m.Element, m.Note = ns, local, note
	return m, nil
}

// typeCodeOf returns the digits after the last dot of a root element name.
func typeCodeOf(local string) string {
	i := strings.LastIndexByte(local, '.')
	if i < 0 {
		return ""
	}
	c := local[i+1:]
	for _, r := range c {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return c
}

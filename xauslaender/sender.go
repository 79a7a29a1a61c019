package xauslaender

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Sender describes the authority that writes messages (for OZG
// applications: the online service, "Eingabeverfahren") and fills the
// message frame for it, so that callers supply only the content.
type Sender struct {
	// Produkt, Produkthersteller and Produktversion name the software
	// (root attributes).
	Produkt, Produkthersteller, Produktversion string
	// Test marks messages as test messages (root attribute test="true").
	Test bool
	// Autor is the sender's Behördenkennung and name.
	Autor Behoerde
	// Erreichbarkeit lists at least one way to reach the sender.
	Erreichbarkeit []Erreichbarkeit
	// Anschrift is the sender's postal address (anschrift.autor).
	Anschrift Anschrift
	// Bundle supplies the versions of code lists whose listVersionID the
	// schema leaves open (the newest list in the bundle is used). Optional.
	Bundle *schemas.Bundle
	// Now and NewUUID default to time.Now and random version-4 UUIDs.
	Now     func() time.Time
	NewUUID func() string
}

// Erreichbarkeit is one communication channel (XÖV code list
// urn:de:xoev:codeliste:erreichbarkeit: 01 E-Mail, 02 Telefon, …).
type Erreichbarkeit struct {
	Kanal            string `json:"kanal"`
	KanalListVersion string `json:"kanalListVersion"`
	Kennung          string `json:"kennung"`
	Zusatz           string `json:"zusatz,omitempty"`
}

// Anschrift is a German postal address: a building address, or a post
// office box when Postfach is set.
type Anschrift struct {
	Strasse      string `json:"strasse,omitempty"`
	Hausnummer   string `json:"hausnummer,omitempty"`
	Postleitzahl string `json:"postleitzahl"`
	Ort          string `json:"ort"`
	Postfach     string `json:"postfach,omitempty"`
}

func (a Anschrift) json() map[string]any {
	if a.Postfach != "" {
		return map[string]any{"postfach": map[string]any{"postfach": a.Postfach, "wohnort": a.Ort, "postleitzahl": a.Postleitzahl}}
	}
	g := map[string]any{"postleitzahl": a.Postleitzahl, "strasse": a.Strasse, "wohnort": a.Ort}
	if a.Hausnummer != "" {
		g["hausnummer"] = a.Hausnummer
	}
	return map[string]any{"gebaeude": g}
}

// check names the first missing piece of sender configuration.
func (s *Sender) check() error {
	var missing []string
	need := func(v, name string) {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	need(s.Produkt, "Produkt")
	need(s.Produkthersteller, "Produkthersteller")
	need(s.Autor.Kennung, "Autor.Kennung")
	need(s.Autor.Name, "Autor.Name")
	need(s.Anschrift.Postleitzahl, "Anschrift.Postleitzahl")
	need(s.Anschrift.Ort, "Anschrift.Ort")
	if s.Anschrift.Postfach == "" {
		need(s.Anschrift.Strasse, "Anschrift.Strasse")
	}
	if len(s.Erreichbarkeit) == 0 {
		missing = append(missing, "Erreichbarkeit (at least one)")
	}
	for i, e := range s.Erreichbarkeit {
		need(e.Kanal, fmt.Sprintf("Erreichbarkeit[%d].Kanal", i))
		need(e.KanalListVersion, fmt.Sprintf("Erreichbarkeit[%d].KanalListVersion", i))
		need(e.Kennung, fmt.Sprintf("Erreichbarkeit[%d].Kennung", i))
	}
	if len(missing) > 0 {
		return fmt.Errorf("xauslaender: sender configuration lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// Prepare fills the frame of m: the root attributes (produkt, standard,
// version, test), the Nachrichtenkopf (a new nachrichtenUUID unless one is
// set, the type code, the creation time unless set, leser and autor with
// their directory, Behördenkennung, name and reachability), anschrift.autor,
// and listURI/listVersionID on every coded value. The content (for an
// application: antragsidentifikation, rueckkanalVorhanden and the
// application data) is the caller's.
func (s *Sender) Prepare(m xsd.Message, leser Behoerde) error {
	if err := s.check(); err != nil {
		return err
	}
	if leser.Kennung == "" || leser.Name == "" {
		return errors.New("xauslaender: leser needs Kennung and Name (see ABHDirectory.Leser)")
	}
	ns, local := m.XMLName()
	spec, _ := specByRoot(ns, local)
	if spec == nil {
		return fmt.Errorf("xauslaender: %T is not a message type of the model", m)
	}
	uuid, _ := xsd.Text(m, "nachrichtenkopf.g2g", "identifikation.nachricht", "nachrichtenUUID")
	if uuid == "" {
		uuid = s.uuid()
	}
	when, _ := xsd.Text(m, "nachrichtenkopf.g2g", "identifikation.nachricht", "erstellungszeitpunkt")
	if when == "" {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		when = string(xsd.DateTimeOf(now().Truncate(time.Second)))
	}
	var erreichbar []map[string]any
	for _, e := range s.Erreichbarkeit {
		x := map[string]any{"kanal": map[string]any{"code": e.Kanal, "listVersionID": e.KanalListVersion}, "kennung": e.Kennung}
		if e.Zusatz != "" {
			x["zusatz"] = e.Zusatz
		}
		erreichbar = append(erreichbar, x)
	}
	vd := func(b Behoerde) string {
		if b.Verzeichnisdienst == "" {
			return "DVDV"
		}
		return b.Verzeichnisdienst
	}
	frame := map[string]any{
		"produkt":           s.Produkt,
		"produkthersteller": s.Produkthersteller,
		"nachrichtenkopfG2G": map[string]any{
			"identifikationNachricht": map[string]any{
				"nachrichtenUUID":      uuid,
				"nachrichtentyp":       map[string]any{"code": spec.Code},
				"erstellungszeitpunkt": when,
			},
			"leser": map[string]any{"verzeichnisdienst": map[string]any{"code": vd(leser)}, "kennung": leser.Kennung, "name": leser.Name},
			"autor": map[string]any{"verzeichnisdienst": map[string]any{"code": vd(s.Autor)}, "kennung": s.Autor.Kennung, "name": s.Autor.Name, "erreichbarkeit": erreichbar},
		},
		"anschriftAutor": s.Anschrift.json(),
	}
	if s.Produktversion != "" {
		frame["produktversion"] = s.Produktversion
	}
	if s.Test {
		frame["test"] = "true"
	}
	if err := overlay(m, frame); err != nil {
		return fmt.Errorf("xauslaender: filling the frame of %s: %w", local, err)
	}
	if err := xsd.FillFixed(m); err != nil {
		return err
	}
	return xsd.FillCodeLists(m, s.listVersion)
}

// PrepareReply fills the frame of a reply m to the message in: like
// Prepare with the original author as leser, plus antragsidentifikation and
// ausloeserUUID taken from in.
func (s *Sender) PrepareReply(m xsd.Message, in *Message) error {
	if in.Header.NachrichtenUUID == "" {
		return errors.New("xauslaender: the message replied to has no nachrichtenUUID")
	}
	content := map[string]any{}
	if _, ok := xsd.Node(m, "nachrichtenkopf.g2g"); !ok {
		return fmt.Errorf("xauslaender: %T has no Nachrichtenkopf", m)
	}
	if hasElement(m, "ausloeserUUID") {
		content["ausloeserUUID"] = in.Header.NachrichtenUUID
	}
	if hasElement(m, "antragsidentifikation") && in.Header.Antragsidentifikation != "" {
		content["antragsidentifikation"] = in.Header.Antragsidentifikation
	}
	if err := overlay(m, content); err != nil {
		return err
	}
	return s.Prepare(m, in.Header.Autor)
}

func hasElement(m xsd.Message, name string) bool {
	_, ok := xsd.Text(m, name)
	return ok
}

// overlay decodes v (re-encoded as JSON) over m. Unknown names are an
// error, so a version whose frame differs is noticed instead of silently
// left unfilled.
func overlay(m xsd.Message, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(m)
}

func (s *Sender) listVersion(uri string) string {
	if s.Bundle == nil {
		return ""
	}
	if l, ok := s.Bundle.CodeLists().Latest(uri); ok {
		return l.Version
	}
	return ""
}

func (s *Sender) uuid() string {
	if s.NewUUID != nil {
		return s.NewUUID()
	}
	return NewUUID()
}

// NewUUID returns a random (version 4) UUID in the lower-case form XÖV uses.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("xauslaender: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// SetLeser replaces the reader of a message (Verzeichnisdienst, Kennung,
// Name), e.g. after routing decided the recipient office:
//
//	leser, err := abh.Leser("000100")
//	err = xauslaender.SetLeser(msg, leser)
//
// listVersionID of the Verzeichnisdienst code is kept or, when empty, filled
// from bundle (may be nil).
func SetLeser(m xsd.Message, leser Behoerde, bundle *schemas.Bundle) error {
	if leser.Kennung == "" || leser.Name == "" {
		return errors.New("xauslaender: leser needs Kennung and Name")
	}
	vd := leser.Verzeichnisdienst
	if vd == "" {
		vd = "DVDV"
	}
	frame := map[string]any{"nachrichtenkopfG2G": map[string]any{
		"leser": map[string]any{"verzeichnisdienst": map[string]any{"code": vd}, "kennung": leser.Kennung, "name": leser.Name},
	}}
	if err := overlay(m, frame); err != nil {
		return fmt.Errorf("xauslaender: setting leser: %w", err)
	}
	s := &Sender{Bundle: bundle}
	return xsd.FillCodeLists(m, s.listVersion)
}

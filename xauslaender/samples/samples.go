// Package samples provides complete, valid example messages: at least one
// per OZG message type of the newest XAusländer version, three kinds of
// application (employment, family reunion, Ukraine § 24), and an XInneres
// Rückweisung. They serve as documentation (xagw example, JSON.md), as test
// fixtures and as the benchmark message.
//
// All persons, addresses, document numbers and mail addresses are
// fictitious ("Mustermann" names, example.org/.invalid domains); the
// offices are real entries of the ABH code list. The header of every sample
// is deterministic (fixed creation time, UUIDs derived from the sample
// name), so the output is stable.
package samples

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Sample is a named example message.
type Sample struct {
	// Name is the command-line name, e.g. "antrag-erwerbstaetigkeit".
	Name string
	// Code is the message type code, e.g. "130101".
	Code string
	// Title says what the sample shows.
	Title string
	// Direction is "EV→ABH" or "ABH→EV" (online service / office).
	Direction string

	content func() xsd.Message
	reply   bool // written by the office, answering the application sample
}

var all = map[string]Sample{}

func register(s Sample) {
	if _, dup := all[s.Name]; dup {
		panic("samples: duplicate " + s.Name)
	}
	all[s.Name] = s
}

// List returns every sample, ordered by type code and name.
func List() []Sample {
	out := make([]Sample, 0, len(all))
	for _, s := range all {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Code != out[j].Code {
			return out[i].Code < out[j].Code
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Lookup returns a sample by name.
func Lookup(name string) (Sample, bool) {
	s, ok := all[name]
	return s, ok
}

// Content returns the sample's content only: what a form backend supplies,
// without the frame that Sender.Prepare fills.
func (s Sample) Content() xsd.Message { return s.content() }

// When is the creation time of every sample.
var When = time.Date(2026, 3, 2, 9, 15, 0, 0, time.FixedZone("CET", 3600))

// ABHKey is the office every sample is addressed to or written by.
const ABHKey = "000100"

// AntragsID is the application id (antragsidentifikation) of all samples.
const AntragsID = "OZG-AT-2026-000451"

// UUID returns the deterministic nachrichtenUUID of a sample.
func UUID(name string) string {
	h := sha256.Sum256([]byte("xagw sample " + name))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Online service (Eingabeverfahren): fictitious.
var evBehoerde = xauslaender.Behoerde{Verzeichnisdienst: "DVDV", Kennung: "ozgev:000000000001", Name: "Online-Dienst Aufenthaltstitel (Muster)"}

// EVSender returns the sender used for application samples.
func EVSender(b *schemas.Bundle) *xauslaender.Sender {
	return &xauslaender.Sender{
		Produkt: "xagw", Produkthersteller: "xagw project", Produktversion: "0.1", Test: true,
		Autor:          evBehoerde,
		Erreichbarkeit: []xauslaender.Erreichbarkeit{{Kanal: "01", KanalListVersion: "3", Kennung: "poststelle@online-dienst.example.org"}},
		Anschrift:      xauslaender.Anschrift{Strasse: "Musterallee", Hausnummer: "7", Postleitzahl: "10117", Ort: "Berlin"},
		Bundle:         b,
		Now:            func() time.Time { return When },
	}
}

// ABHSender returns the sender used for the office's reply samples.
func ABHSender(b *schemas.Bundle) (*xauslaender.Sender, error) {
	dir, err := xauslaender.NewABHDirectory(b)
	if err != nil {
		return nil, err
	}
	abh, err := dir.Leser(ABHKey)
	if err != nil {
		return nil, err
	}
	return &xauslaender.Sender{
		Produkt: "Fachverfahren (Muster)", Produkthersteller: "Muster GmbH", Test: true,
		Autor:          abh,
		Erreichbarkeit: []xauslaender.Erreichbarkeit{{Kanal: "01", KanalListVersion: "3", Kennung: "auslaenderbehoerde@aalen.example.org"}},
		Anschrift:      xauslaender.Anschrift{Strasse: "Musterplatz", Hausnummer: "1", Postleitzahl: "73430", Ort: "Aalen"},
		Bundle:         b,
		Now:            func() time.Time { return When },
	}, nil
}

// Build returns the complete sample message: content plus the frame
// (Sender.Prepare), with code-list versions and the office's name taken
// from the bundle.
func (s Sample) Build(b *schemas.Bundle) (xsd.Message, error) {
	m := s.content()
	if err := setUUID(m, UUID(s.Name)); err != nil {
		return nil, err
	}
	dir, err := xauslaender.NewABHDirectory(b)
	if err != nil {
		return nil, err
	}
	if !s.reply {
		leser, err := dir.Leser(ABHKey)
		if err != nil {
			return nil, err
		}
		if err := EVSender(b).Prepare(m, leser); err != nil {
			return nil, fmt.Errorf("sample %s: %w", s.Name, err)
		}
		return m, nil
	}
	abh, err := ABHSender(b)
	if err != nil {
		return nil, err
	}
	// The office answers the employment application sample.
	in := &xauslaender.Message{Header: xauslaender.Header{
		NachrichtenUUID:       UUID("antrag-erwerbstaetigkeit"),
		Antragsidentifikation: AntragsID,
		Autor:                 evBehoerde,
	}}
	if err := abh.PrepareReply(m, in); err != nil {
		return nil, fmt.Errorf("sample %s: %w", s.Name, err)
	}
	return m, nil
}

// XML returns the marshalled sample.
func (s Sample) XML(b *schemas.Bundle) ([]byte, error) {
	m, err := s.Build(b)
	if err != nil {
		return nil, err
	}
	return xsd.Marshal(m)
}

// setUUID presets the nachrichtenUUID (Prepare keeps a set one).
func setUUID(m xsd.Message, uuid string) error {
	data := []byte(`{"nachrichtenkopfG2G":{"identifikationNachricht":{"nachrichtenUUID":"` + uuid + `"}}}`)
	if err := json.Unmarshal(data, m); err != nil {
		return fmt.Errorf("samples: %T: %w", m, err)
	}
	return nil
}

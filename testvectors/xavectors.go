package testvectors

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// XAusländer vectors: every sample message of the project (at least one per
// OZG message type, built by the project's own builders) as a valid vector,
// and negative vectors derived from a valid one by breaking exactly one rule.

// Folders of the XAusländer vectors inside a kit.
const (
	xaValidDir   = "xauslaender/valid"
	xaInvalidDir = "xauslaender/invalid"
)

// xaMutation breaks one rule of a valid sample.
type xaMutation struct {
	name    string // id suffix after "xa.invalid.<class>."
	base    string // sample name
	class   string
	path    string // expected part of the finding's path ("" = not checked)
	purpose string
	// vendor is the reply a conforming case system gives; a document it
	// cannot read has no nachrichtenUUID to name in a Rückweisung.
	vendor string
	// edit changes the parsed document; raw changes the serialized bytes
	// (for defects etree cannot represent).
	edit func(doc *etree.Document) error
	raw  func(data []byte) ([]byte, error)
}

var xaMutations = []xaMutation{
	{
		name: "missing-required-element", base: "antrag-familiennachzug", class: ClassSchema, path: "/OZG.Antrag.130101",
		purpose: "The required element antragsdatum (1..1) is removed from an OZG.Antrag.",
		vendor:  ReplyRejection,
		edit:    remove("antragsdatum"),
	},
	{
		name: "wrong-date-format", base: "antrag-familiennachzug", class: ClassSchema, path: "/OZG.Antrag.130101/antragsdatum",
		purpose: "antragsdatum is written in German notation (20.02.2026) instead of xs:date (2026-02-20).",
		vendor:  ReplyRejection,
		edit:    setText("antragsdatum", "20.02.2026"),
	},
	{
		name: "wrong-element-order", base: "antrag-familiennachzug", class: ClassSchema, path: "/OZG.Antrag.130101",
		purpose: "grundDesAntrags comes before antragsdatum; the XSD sequence requires the opposite order.",
		vendor:  ReplyRejection,
		edit:    swap("antragsdatum", "grundDesAntrags"),
	},
	{
		name: "unknown-code", base: "antrag-familiennachzug", class: ClassCodeList, path: "/OZG.Antrag.130101/grundDesAntrags",
		purpose: "grundDesAntrags carries the code 99, which is not in code list urn:xoev-de:xauslaender:codeliste:ozg.antragsgrund version 4.",
		vendor:  ReplyRejection,
		edit:    setText("grundDesAntrags/code", "99"),
	},
	{
		name: "wrong-list-version", base: "antrag-familiennachzug", class: ClassCodeList, path: "/OZG.Antrag.130101/grundDesAntrags",
		purpose: "grundDesAntrags names listVersionID 3 of the OZG Antragsgrund list; the schema leaves the version open, and only version 4 is published for XAusländer 26.11.",
		vendor:  ReplyRejection,
		edit:    setAttr("grundDesAntrags", "listVersionID", "3"),
	},
	{
		name: "nachrichtentyp-mismatch", base: "ruecknahme", class: ClassHeader, path: "/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp",
		purpose: "An OZG.Ruecknahme.130111 whose header says nachrichtentyp 130101 (OZG.Antrag): schema and code list accept it, the header rule does not.",
		vendor:  ReplyRejection,
		edit:    setText("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtentyp/code", "130101"),
	},
	{
		name: "bad-uuid", base: "ruecknahme", class: ClassHeader, path: "/nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID",
		purpose: "nachrichtenUUID is not a UUID (a case reference was put there). A Rückweisung cannot name such a message, so the expected reaction is not to accept it.",
		vendor:  ReplyNoAcceptance,
		edit:    setText("nachrichtenkopf.g2g/identifikation.nachricht/nachrichtenUUID", "OZG-AT-2026-000451"),
	},
	{
		name: "missing-leser", base: "antrag-familiennachzug", class: ClassHeader, path: "/nachrichtenkopf.g2g/leser",
		purpose: "The Nachrichtenkopf has no leser (the addressed office).",
		vendor:  ReplyRejection,
		edit:    remove("nachrichtenkopf.g2g/leser"),
	},
	{
		name: "unknown-namespace", base: "antrag-familiennachzug", class: ClassNamespace,
		purpose: "The root element is in namespace http://www.osci.de/xauslaender (no version), which no XAusländer version uses.",
		vendor:  ReplyRejection,
		edit:    setRootNamespace("http://www.osci.de/xauslaender"),
	},
	{
		name: "wrong-version-attribute", base: "ruecknahme", class: ClassVersion, path: "/@version",
		purpose: "The root attribute version says 1.21.1 while the namespace is that of XAusländer 26.11.",
		vendor:  ReplyRejection,
		edit:    setRootAttr("version", "1.21.1"),
	},
	{
		name: "wrong-standard-attribute", base: "ruecknahme", class: ClassVersion, path: "/@standard",
		purpose: "The root attribute standard says XInneres instead of XAusländer.",
		vendor:  ReplyRejection,
		edit:    setRootAttr("standard", "XInneres"),
	},
	{
		name: "doctype-external-entity", base: "ruecknahme", class: ClassXML,
		purpose: "A DOCTYPE declares an external entity (XXE) and the message uses it. A reader must refuse DTDs outright and never resolve the entity.",
		vendor:  ReplyNoAcceptance,
		raw:     doctypeEntity,
	},
	{
		name: "truncated", base: "ruecknahme", class: ClassXML,
		purpose: "The document ends in the middle of an element (a transfer cut short).",
		vendor:  ReplyNoAcceptance,
		raw:     func(data []byte) ([]byte, error) { return data[:len(data)*2/3], nil },
	},
}

// xaVectors builds the XAusländer vectors into k.
func xaVectors(k *kit, b *schemas.Bundle) error {
	valid := map[string][]byte{}
	for _, s := range samples.List() {
		data, err := s.XML(b)
		if err != nil {
			return fmt.Errorf("sample %s: %w", s.Name, err)
		}
		valid[s.Name] = data
		p := fmt.Sprintf("%s/%s-%s.xml", xaValidDir, s.Code, s.Name)
		v := Vector{
			ID:      fmt.Sprintf("xa.valid.%s.%s", s.Code, s.Name),
			Kind:    KindXAuslaender,
			Purpose: fmt.Sprintf("%s (%s, %s): a complete, valid message of type %s as the project builds it.", s.Title, s.Direction, s.Name, s.Code),
			Inputs:  []File{k.add(p, data)},
			Expect:  Expect{Outcome: OutcomeAccept, MessageType: s.Code, NachrichtenUUID: samples.UUID(s.Name)},
		}
		if toABH(s) {
			v.Vendor = &VendorExpect{Reply: ReplyNoRejection}
			if initialMessage[s.Code] {
				v.Vendor.Reply = ReplyPositive
			}
		}
		k.vectors = append(k.vectors, v)
	}
	for _, m := range xaMutations {
		base, ok := valid[m.base]
		if !ok {
			return fmt.Errorf("mutation %s: no sample %s", m.name, m.base)
		}
		data, err := m.apply(base)
		if err != nil {
			return fmt.Errorf("mutation %s: %w", m.name, err)
		}
		s, _ := samples.Lookup(m.base)
		id := fmt.Sprintf("xa.invalid.%s.%s", m.class, m.name)
		p := fmt.Sprintf("%s/%s-%s.xml", xaInvalidDir, m.class, m.name)
		v := Vector{
			ID:      id,
			Kind:    KindXAuslaender,
			Purpose: m.purpose,
			Inputs:  []File{k.add(p, data)},
			Expect:  Expect{Outcome: OutcomeReject, Class: m.class, Path: m.path, MessageType: s.Code},
			BasedOn: fmt.Sprintf("xa.valid.%s.%s", s.Code, s.Name),
			Vendor:  &VendorExpect{Reply: m.vendor},
		}
		if m.vendor == ReplyRejection {
			v.Vendor.ReplyTypes = []string{rueckweisungCode}
		}
		k.vectors = append(k.vectors, v)
	}
	return nil
}

// initialMessage are the EV→ABH types that open a case (an application, a
// declaration): a case system answers them. Follow-ups (Rückkanal-Antwort,
// Rücknahme, Rückmeldung, Empfangsbestätigung) refer to a case the kit
// cannot have opened at the vendor, so only a Rückweisung is wrong.
var initialMessage = map[string]bool{"130101": true, "130201": true, "130301": true, "130401": true}

// rueckweisungCode is the type code of the XInneres Rückweisung.
const rueckweisungCode = "0010"

// toABH reports whether a sample is written by the online service to the
// office, i.e. whether a case system receives it.
func toABH(s samples.Sample) bool { return strings.HasPrefix(s.Direction, "EV") }

func (m xaMutation) apply(base []byte) ([]byte, error) {
	if m.raw != nil {
		return m.raw(base)
	}
	doc, err := safexml.Parse(base, xauslaender.Limits)
	if err != nil {
		return nil, err
	}
	if err := m.edit(doc); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := doc.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// find returns the element at a slash-separated path of local names below
// the root.
func find(doc *etree.Document, p string) (*etree.Element, error) {
	e := doc.Root()
	for _, name := range strings.Split(p, "/") {
		next := child(e, name)
		if next == nil {
			return nil, fmt.Errorf("no element %s (path %s)", name, p)
		}
		e = next
	}
	return e, nil
}

// child returns the first child element with that local name (nil-safe).
func child(e *etree.Element, local string) *etree.Element {
	if e == nil {
		return nil
	}
	for _, c := range e.ChildElements() {
		if c.Tag == local {
			return c
		}
	}
	return nil
}

func remove(p string) func(*etree.Document) error {
	return func(doc *etree.Document) error {
		e, err := find(doc, p)
		if err != nil {
			return err
		}
		e.Parent().RemoveChild(e)
		return nil
	}
}

func setText(p, v string) func(*etree.Document) error {
	return func(doc *etree.Document) error {
		e, err := find(doc, p)
		if err != nil {
			return err
		}
		e.SetText(v)
		return nil
	}
}

func setAttr(p, name, v string) func(*etree.Document) error {
	return func(doc *etree.Document) error {
		e, err := find(doc, p)
		if err != nil {
			return err
		}
		if e.SelectAttr(name) == nil {
			return fmt.Errorf("%s has no attribute %s", p, name)
		}
		e.CreateAttr(name, v)
		return nil
	}
}

func setRootAttr(name, v string) func(*etree.Document) error {
	return func(doc *etree.Document) error {
		if doc.Root().SelectAttr(name) == nil {
			return fmt.Errorf("root has no attribute %s", name)
		}
		doc.Root().CreateAttr(name, v)
		return nil
	}
}

// setRootNamespace rebinds the root element's prefix to another namespace.
func setRootNamespace(ns string) func(*etree.Document) error {
	return func(doc *etree.Document) error {
		r := doc.Root()
		a := r.SelectAttr("xmlns:" + r.Space)
		if r.Space == "" || a == nil {
			return errors.New("root element has no prefixed namespace declaration")
		}
		a.Value = ns
		return nil
	}
}

// swap exchanges two sibling elements below the root.
func swap(a, b string) func(*etree.Document) error {
	return func(doc *etree.Document) error {
		ea, err := find(doc, a)
		if err != nil {
			return err
		}
		eb, err := find(doc, b)
		if err != nil {
			return err
		}
		parent := ea.Parent()
		if eb.Parent() != parent {
			return errors.New("not siblings")
		}
		ia, ib := ea.Index(), eb.Index()
		parent.RemoveChildAt(ib)
		parent.InsertChildAt(ib, ea.Copy())
		parent.RemoveChildAt(ia)
		parent.InsertChildAt(ia, eb)
		return nil
	}
}

// doctypeEntity adds a DTD with an external entity after the XML
// declaration and references it in the first text of the message.
func doctypeEntity(data []byte) ([]byte, error) {
	decl := []byte("?>\n")
	i := bytes.Index(data, decl)
	if i < 0 {
		return nil, errors.New("no XML declaration")
	}
	i += len(decl)
	root := "root"
	if p := bytes.Index(data[i:], []byte("<")); p >= 0 {
		if q := bytes.IndexAny(data[i+p:], " >"); q > 0 {
			root = string(data[i+p+1 : i+p+q])
		}
	}
	dtd := fmt.Sprintf("<!DOCTYPE %s [\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n", root)
	out := append([]byte{}, data[:i]...)
	out = append(out, dtd...)
	rest := data[i:]
	// Use the entity in the author's name, so a reader that resolves it
	// would carry the file into the case.
	const name = "<name>Online-Dienst"
	if j := bytes.Index(rest, []byte(name)); j >= 0 {
		rest = append(append(append([]byte{}, rest[:j+len("<name>")]...), "&xxe;"...), rest[j+len("<name>"):]...)
	}
	return append(out, rest...), nil
}

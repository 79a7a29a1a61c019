// Package xsd is the runtime for Go types generated from XML Schemas by
// internal/xsdgen: it marshals them to XML and parses them back (element
// order, namespaces and qualified/unqualified children exactly as the
// schema demands), and holds the value types used for XSD built-ins.
//
// Generated structs describe their XML shape in `xsd` struct tags:
//
//	xsd:"name,ns=URI"        element in namespace URI (no ns: unqualified)
//	xsd:"name,attr"          attribute
//	xsd:",text"              the text of a simpleContent element
//	xsd:"name,min=1"         repeated element with a lower bound
//	xsd:"name,choice=2"      member of required choice group 2 (choice=2? when optional)
//	xsd:"name,attr,fixed=V"  attribute with a fixed value (%-escaped)
//	xsd:"name,nonempty"      mandatory DIN 91379 datatypeC element (must not be empty)
//
// A non-pointer field is required, a pointer field optional, a slice
// repeated. Anonymous embedded structs (XSD extension) are inlined, base
// fields first. The same structs carry json tags, so one model serves XML
// and JSON.
package xsd

import (
	"fmt"
	"strings"
	"time"
)

// Date is an xs:date in its lexical form, e.g. "2026-03-01". The lexical
// form is kept so that parsed documents re-marshal byte for byte.
type Date string

// DateOf formats t as a Date (no time zone, as XÖV "Tagesdatum" requires).
func DateOf(t time.Time) Date { return Date(t.Format("2006-01-02")) }

// Time parses the date; a time zone suffix, if present, is honoured.
func (d Date) Time() (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "2006-01-02Z07:00"} {
		if t, err := time.Parse(layout, string(d)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("xsd: %q is not an xs:date (YYYY-MM-DD)", string(d))
}

// DateTime is an xs:dateTime in its lexical form, e.g. "2026-03-01T10:00:00+01:00".
type DateTime string

// DateTimeOf formats t with seconds and its zone offset.
func DateTimeOf(t time.Time) DateTime {
	if t.Nanosecond() != 0 {
		return DateTime(t.Format("2006-01-02T15:04:05.999Z07:00"))
	}
	return DateTime(t.Format("2006-01-02T15:04:05Z07:00"))
}

// Time parses the value; a value without zone is taken as UTC.
func (d DateTime) Time() (time.Time, error) {
	s := string(d)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("xsd: %q is not an xs:dateTime", s)
}

// Time is an xs:time in its lexical form, e.g. "09:30:00".
type Time string

// TimeOf formats the clock time of t as hh:mm:ss.
func TimeOf(t time.Time) Time { return Time(t.Format("15:04:05")) }

// GYear is an xs:gYear, e.g. "1990".
type GYear string

// GYearMonth is an xs:gYearMonth, e.g. "1990-04".
type GYearMonth string

// Decimal is an xs:decimal in its lexical form (kept as text: no rounding).
type Decimal string

// Duration is an xs:duration in its lexical form, e.g. "P1Y2M".
type Duration string

// Ptr returns a pointer to v, for optional fields:
// msg.SonstigeAnmerkung = xsd.Ptr("…").
func Ptr[T any](v T) *T { return &v }

// Value returns *p, or the zero value for nil.
func Value[T any](p *T) T {
	if p == nil {
		var z T
		return z
	}
	return *p
}

// CodeList describes the code list of a generated XÖV code type.
type CodeList struct {
	// URI is the list's URI: the fixed listURI of the type, else the
	// code list identifier from the schema's appinfo.
	URI string
	// Version is the fixed listVersionID, else the version named in the
	// schema's appinfo, else empty (the document must say it).
	Version string
	// URIFixed/VersionFixed: the schema fixes the attribute to that value.
	URIFixed, VersionFixed bool
	// Enumerated: the schema enumerates the codes, so XSD validation checks them.
	Enumerated bool
	// Name is the list's long name, for messages.
	Name string
}

// Coded is implemented by every generated code type.
type Coded interface {
	// CodeList returns the type's code list (a constant per type).
	CodeList() CodeList
	// CodeValue returns the code and the listURI/listVersionID the value
	// itself carries (empty when absent).
	CodeValue() (code, listURI, listVersionID string)
}

// Message is implemented by generated root element types.
type Message interface {
	// XMLName returns the namespace and local name of the root element.
	XMLName() (ns, local string)
}

var prefixes = map[string]string{}

// RegisterPrefix records the preferred prefix for a namespace (generated
// packages call it from init). The first registration of a namespace wins,
// so the call is safe from several generated packages.
func RegisterPrefix(ns, prefix string) {
	if _, ok := prefixes[ns]; !ok && prefix != "" && !strings.ContainsAny(prefix, ": ") {
		prefixes[ns] = prefix
	}
}

// MessageSpec describes one generated message type (a root element).
type MessageSpec struct {
	// Code is the message type code from the element name, e.g. "130101"
	// for OZG.Antrag.130101 or "0010" for rueckweisung.asynchron.0010.
	Code string
	// Namespace and Element name the root element.
	Namespace string
	Element   string
	// Title, Autor and Leser come from the schema's appinfo.
	Title, Autor, Leser string
	// New returns a new, empty message of this type.
	New func() Message
}

// Source is a schema file with the SHA-256 of its bytes.
type Source struct {
	Path   string // relative to the bundle, forward slashes
	SHA256 string // hex
}

// VersionSpec describes a generated package: one XAusländer version and
// the reply messages generated with it.
type VersionSpec struct {
	// Version is the standard version, e.g. "26.11".
	Version string
	// Namespace is the XAusländer namespace of the version.
	Namespace string
	// Package is the Go package name, e.g. "v2611".
	Package string
	// RootXSD is the root schema file, relative to the bundle.
	RootXSD string
	// Sources are the files the bundle's validator compiled for the
	// package's namespaces when it was generated, with their SHA-256 (the
	// catalog included). What the model knows about the schemas (which
	// elements are plain xs:base64Binary, for instance) holds for a bundle
	// whose compiled files are among these, unchanged.
	Sources []Source
	// Messages lists the generated message types, ordered by namespace and code.
	Messages []MessageSpec
}

// Package xauslaender is the XAusländer message model: typed messages per
// standard version (generated from the official schema bundle into v2611,
// and any later version into its own package), parsing untrusted XML into
// them, building messages so that a caller supplies only the content
// (Sender fills the Nachrichtenkopf), JSON for form backends, validation
// against the official XSDs and code lists, and the header fields a
// gateway routes and links replies by.
//
// Typical use in a gateway:
//
//	msg, err := xauslaender.FromJSON("130101", "", body)      // form backend posted JSON
//	err = sender.Prepare(msg, leser)                            // header, UUID, codes
//	data, err := xauslaender.Marshal(msg)
//	res := validator.Validate(data)                             // XSD + code lists + header rules
//	…
//	res, in, err := validator.ValidateAndParse(posted)          // one pass: result and typed message
//	in.Header.Reference()                                       // the message a reply answers or rejects
//
// The Validator adds to the XSD and the code lists the header rules an
// office applies (problem kinds KindHeader and KindVersion): the
// nachrichtentyp is the root element's type, ids are UUIDs, leser and autor
// carry a Behördenkennung, the creation time has a time zone, the root
// attributes standard/version name the namespace's version.
package xauslaender

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender/xsd"
)

// Versions returns the generated XAusländer versions, newest first.
func Versions() []*xsd.VersionSpec {
	out := append([]*xsd.VersionSpec(nil), generated...)
	sort.SliceStable(out, func(i, j int) bool { return versionLess(out[j].Version, out[i].Version) })
	return out
}

// versionLess orders "1.21.1" < "26.11" numerically by segment.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		var x, y int
		fmt.Sscan(as[i], &x)
		fmt.Sscan(bs[i], &y)
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// Latest returns the newest generated version.
func Latest() *xsd.VersionSpec { return Versions()[0] }

// ErrUnknownVersion and ErrUnknownMessage are returned (wrapped) for
// versions and message types the model does not have.
var (
	ErrUnknownVersion = errors.New("unknown XAusländer version")
	ErrUnknownMessage = errors.New("unknown message type")
)

// Version returns a generated version by its id ("26.11", also "2611" or
// the namespace). An empty id means the newest version.
func Version(id string) (*xsd.VersionSpec, error) {
	if id == "" {
		return Latest(), nil
	}
	for _, v := range generated {
		if v.Version == id || strings.ReplaceAll(v.Version, ".", "") == id || v.Namespace == id || v.Package == id {
			return v, nil
		}
	}
	var have []string
	for _, v := range Versions() {
		have = append(have, v.Version)
	}
	return nil, fmt.Errorf("%w %q (have %s)", ErrUnknownVersion, id, strings.Join(have, ", "))
}

// MessageSpec returns the message type with the given type code ("130101")
// in a version ("" for the newest).
func MessageSpec(code, version string) (*xsd.MessageSpec, *xsd.VersionSpec, error) {
	v, err := Version(version)
	if err != nil {
		return nil, nil, err
	}
	for i := range v.Messages {
		if v.Messages[i].Code == code {
			return &v.Messages[i], v, nil
		}
	}
	return nil, nil, fmt.Errorf("%w %q in XAusländer %s", ErrUnknownMessage, code, v.Version)
}

// specByRoot finds the message type of a root element; with several
// versions carrying the same reply namespace, the newest wins.
func specByRoot(ns, local string) (*xsd.MessageSpec, *xsd.VersionSpec) {
	for _, v := range Versions() {
		for i := range v.Messages {
			if m := &v.Messages[i]; m.Namespace == ns && m.Element == local {
				return m, v
			}
		}
	}
	return nil, nil
}

// New returns an empty message of the given type code and version ("" for
// the newest), e.g. New("130101", "") → *v2611.OZGAntrag130101.
func New(code, version string) (xsd.Message, error) {
	spec, _, err := MessageSpec(code, version)
	if err != nil {
		return nil, err
	}
	return spec.New(), nil
}

// MaxJSON bounds FromJSON input (documents are base64 inside).
const MaxJSON = 64 << 20

// FromJSON decodes a message of the given type from its JSON form (see
// JSON.md). Unknown fields are an error, so a misspelt field never vanishes.
// Codes may be given as strings; dates as "YYYY-MM-DD"; documents as base64.
func FromJSON(code, version string, data []byte) (xsd.Message, error) {
	m, err := New(code, version)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxJSON {
		return nil, fmt.Errorf("xauslaender: JSON for %s larger than %d bytes", code, MaxJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("xauslaender: JSON for message %s: %w", code, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("xauslaender: JSON for message %s: data after the message object", code)
	}
	return m, nil
}

// Marshal writes a message as an XAusländer XML document (see xsd.Marshal).
func Marshal(m xsd.Message) ([]byte, error) { return xsd.Marshal(m) }

// Message is a parsed (or built) message with what a gateway needs to know
// about it.
type Message struct {
	// Version is the XAusländer version of the model that read it.
	Version string
	// Code is the message type code, e.g. "130104" or "0010" (Rückweisung).
	Code string
	// Namespace and Element name the root element.
	Namespace, Element string
	// Body is the typed message (e.g. *v2611.OZGStatusmeldung130104); nil
	// for a recognised but untyped reply (see Note).
	Body xsd.Message
	// Note explains why a recognised message is untyped.
	Note string
	// Header holds the routing and linking fields.
	Header Header
}

// Typed reports whether Body holds a typed message.
func (m *Message) Typed() bool { return m.Body != nil }

// ErrUnsupported is returned (wrapped) by Parse for documents that are not
// a message type of the model.
var ErrUnsupported = errors.New("not a supported XAusländer or XInneres message")

// QuittungNS matches the XInneres Quittung namespaces.
var QuittungNS = regexp.MustCompile(`^http://www\.osci\.de/xinneres/quittung/[0-9]+$`)

const quittungNote = "XInneres Quittung: the schema bundle the model was generated from has no quittung schema, so the message is recognised but not typed; add the XInneres quittung XSD to the bundle and run make generate"

// Limits are applied to every document parsed.
var Limits = safexml.Limits{}

// Parse reads an untrusted XML document into its typed message, dispatching
// on the root element's namespace and name to the generated version. A
// Quittung whose schema is not in the bundle the model was generated from
// is returned untyped (Body nil, Note set) with the header fields read from
// the XML. Parse checks structure, not validity: validate with a Validator.
func Parse(data []byte) (*Message, error) {
	if err := safexml.Check(data, Limits); err != nil {
		return nil, fmt.Errorf("xauslaender: %w", err)
	}
	ns, local, err := schemas.RootName(data)
	if err != nil {
		return nil, fmt.Errorf("xauslaender: %w", err)
	}
	spec, ver := specByRoot(ns, local)
	if spec == nil {
		if QuittungNS.MatchString(ns) {
			return parseUntyped(data, ns, local, quittungNote)
		}
		return nil, fmt.Errorf("xauslaender: root element {%s}%s: %w (known: %s)", ns, local, ErrUnsupported, knownNamespaces())
	}
	body := spec.New()
	if err := xsd.Unmarshal(data, body, Limits); err != nil {
		return nil, fmt.Errorf("xauslaender: %s %s: %w", spec.Element, ver.Version, err)
	}
	return &Message{Version: ver.Version, Code: spec.Code, Namespace: ns, Element: local, Body: body, Header: HeaderOf(body)}, nil
}

func knownNamespaces() string {
	seen := map[string]bool{}
	var out []string
	for _, v := range Versions() {
		for _, m := range v.Messages {
			if !seen[m.Namespace] {
				seen[m.Namespace] = true
				out = append(out, m.Namespace)
			}
		}
	}
	return strings.Join(out, ", ")
}

// ParseAs parses data into a message of the expected type, e.g. for a
// reply whose type the caller already knows. It fails if the root element
// differs.
func ParseAs(data []byte, m xsd.Message) error { return xsd.Unmarshal(data, m, Limits) }

// MarshalJSON returns the JSON form of a message (the shape FromJSON reads).
func MarshalJSON(m xsd.Message) ([]byte, error) { return json.MarshalIndent(m, "", "  ") }

// FrameJSONKeys are the top-level JSON keys of the message frame, which
// Sender.Prepare fills; a form backend leaves them out.
var FrameJSONKeys = []string{"produkt", "produkthersteller", "produktversion", "standard", "version", "test",
	"nachrichtenkopfG2G", "anschriftLeser", "anschriftAutor"}

// ContentJSON returns the JSON form of a message without the frame: what a
// form backend posts. Field order follows the schema.
func ContentJSON(m xsd.Message) ([]byte, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	// Decode into an ordered list of top-level members to drop the frame
	// and keep the schema order of the rest.
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("{")
	first := true
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		key := k.(string)
		skip := false
		for _, f := range FrameJSONKeys {
			skip = skip || f == key
		}
		if skip {
			continue
		}
		if !first {
			out.WriteString(",")
		}
		first = false
		kb, _ := json.Marshal(key)
		out.Write(kb)
		out.WriteString(":")
		out.Write(v)
	}
	out.WriteString("}")
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	return pretty.Bytes(), nil
}

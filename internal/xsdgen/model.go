package xsdgen

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	"github.com/xagw/xagw/internal/safexml"
)

// XSD is the XML Schema namespace.
const XSD = "http://www.w3.org/2001/XMLSchema"

// QName is a namespace-qualified name.
type QName struct{ NS, Local string }

func (q QName) String() string {
	if q.NS == "" {
		return q.Local
	}
	return "{" + q.NS + "}" + q.Local
}

// IsXSD reports whether q names a built-in XML Schema type.
func (q QName) IsXSD() bool { return q.NS == XSD }

// Schema is one loaded schema document.
type Schema struct {
	Path         string
	TargetNS     string
	Version      string
	QualifiedEl  bool // elementFormDefault="qualified"
	QualifiedAtt bool // attributeFormDefault="qualified"
	// Prefix is the prefix this document declares for its own target
	// namespace (used as the preferred prefix when writing XML).
	Prefix string
}

// Type is a named or anonymous simple or complex type definition.
type Type struct {
	Name   QName // Local is empty for anonymous types
	Schema *Schema
	Doc    string
	Simple bool

	// Simple types
	SimpleBase   QName  // restriction base (or list/union → unsupported)
	SimpleInline *Type  // anonymous base simple type
	Enums        []Enum // enumeration facets

	// Complex types
	Derivation    string // "", "extension" or "restriction"
	Base          QName
	SimpleContent bool      // <xs:simpleContent>
	Content       *Particle // local particle (nil: empty content)
	Attrs         []*Attribute
	Abstract      bool
	Mixed         bool
	// CodeList is the appinfo code list description (XÖV code types).
	CodeList *CodeListInfo

	where string // file and component, for error messages
}

// Enum is one enumeration value with its appinfo/documentation text.
type Enum struct {
	Value string
	Doc   string
}

// CodeListInfo is what the XÖV appinfo says about a code type's list.
type CodeListInfo struct {
	URI     string // <kennung>
	Version string // <versionCodeliste><version>, may be empty
	Name    string // <nameLang>
}

// Particle is an element, a sequence, a choice or a wildcard with occurrence bounds.
type Particle struct {
	Kind     string // "element", "sequence", "choice", "any"
	Min, Max int    // Max < 0 means unbounded
	Element  *ElementDecl
	Children []*Particle
	where    string
}

// ElementDecl is a (global or local) element declaration.
type ElementDecl struct {
	Name      QName // NS is the effective namespace ("" for unqualified locals)
	Type      QName
	Anon      *Type // anonymous type
	Fixed     *string
	Default   *string
	Doc       string
	Global    bool
	Schema    *Schema
	Abstract  bool
	Nillable  bool
	SubstHead QName
	// Appinfo holds the XÖV appinfo fields of global elements (title,
	// autor, leser, rechtsgrundlage).
	Appinfo map[string]string
	where   string
}

// Attribute is an attribute use.
type Attribute struct {
	Name    string
	NS      string // non-empty only for qualified attributes
	Type    QName
	Anon    *Type
	Use     string // "optional", "required", "prohibited"
	Fixed   *string
	Default *string
	Doc     string
	where   string
}

// Set is a loaded schema set: every document reachable from the roots by
// include and import, with its global components.
type Set struct {
	Schemas  []*Schema
	Types    map[QName]*Type
	Elements map[QName]*ElementDecl
	loaded   map[string]*Schema
	resolve  func(ref string) (string, error)
	rootOf   func(ns string) (string, bool)
	// unsupported records constructs seen in the set; they are only an
	// error when the generated closure uses them.
	warnings []string
}

// LoadOptions tell the loader how to find files.
type LoadOptions struct {
	// Resolve maps an absolute schemaLocation (or local path) to a file.
	Resolve func(ref string) (string, error)
	// RootOf returns the root file for a namespace, used for imports without
	// schemaLocation.
	RootOf func(ns string) (string, bool)
}

// Load reads the schema documents at paths and everything they include and
// import.
func Load(paths []string, o LoadOptions) (*Set, error) {
	s := &Set{Types: map[QName]*Type{}, Elements: map[QName]*ElementDecl{}, loaded: map[string]*Schema{}, resolve: o.Resolve, rootOf: o.RootOf}
	for _, p := range paths {
		if _, err := s.load(p, ""); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Set) load(path, chameleonNS string) (*Schema, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	key := abs + "|" + chameleonNS
	if sc, ok := s.loaded[key]; ok {
		return sc, nil
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, err
	}
	if err := safexml.Check(data, safexml.Limits{}); err != nil {
		return nil, fmt.Errorf("%s: %w", abs, err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%s: %w", abs, err)
	}
	root := doc.Root()
	if root == nil || root.NamespaceURI() != XSD || root.Tag != "schema" {
		return nil, fmt.Errorf("%s: not an XML Schema document", abs)
	}
	sc := &Schema{
		Path:         abs,
		TargetNS:     root.SelectAttrValue("targetNamespace", ""),
		Version:      root.SelectAttrValue("version", ""),
		QualifiedEl:  root.SelectAttrValue("elementFormDefault", "") == "qualified",
		QualifiedAtt: root.SelectAttrValue("attributeFormDefault", "") == "qualified",
	}
	if sc.TargetNS == "" && chameleonNS != "" {
		sc.TargetNS = chameleonNS
	}
	for _, a := range root.Attr {
		if a.Space == "xmlns" && a.Value == sc.TargetNS {
			sc.Prefix = a.Key
		}
	}
	s.loaded[key] = sc
	s.Schemas = append(s.Schemas, sc)
	p := &parser{set: s, sc: sc}
	for _, c := range root.ChildElements() {
		if c.NamespaceURI() != XSD {
			continue
		}
		where := fmt.Sprintf("%s: xs:%s %s", filepath.Base(abs), c.Tag, c.SelectAttrValue("name", ""))
		switch c.Tag {
		case "annotation":
		case "include", "redefine":
			if c.Tag == "redefine" {
				return nil, fmt.Errorf("%s: xs:redefine is not supported", where)
			}
			loc := c.SelectAttrValue("schemaLocation", "")
			target, err := s.locate(abs, loc)
			if err != nil {
				return nil, fmt.Errorf("%s: include %s: %w", where, loc, err)
			}
			if _, err := s.load(target, sc.TargetNS); err != nil {
				return nil, err
			}
		case "import":
			ns := c.SelectAttrValue("namespace", "")
			loc := c.SelectAttrValue("schemaLocation", "")
			if s.hasNamespace(ns) {
				// Like libxml2: a namespace is imported once; bundles carry
				// copies of base schemas whose relative imports do not resolve.
				continue
			}
			var target string
			if loc != "" {
				target, err = s.locate(abs, loc)
			} else if s.rootOf != nil {
				var ok bool
				if target, ok = s.rootOf(ns); !ok {
					err = fmt.Errorf("no schema for namespace %s", ns)
				}
			} else {
				err = fmt.Errorf("import of %s without schemaLocation", ns)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: import %s: %w", where, loc, err)
			}
			if _, err := s.load(target, ""); err != nil {
				return nil, err
			}
		case "complexType", "simpleType":
			t, err := p.typeDef(c, where)
			if err != nil {
				return nil, err
			}
			t.Name = QName{sc.TargetNS, c.SelectAttrValue("name", "")}
			if old, dup := s.Types[t.Name]; dup && old.Schema.Path != sc.Path {
				// Bundles carry byte-identical copies of base schemas; the
				// first definition wins.
				continue
			}
			s.Types[t.Name] = t
		case "element":
			e, err := p.element(c, true, where)
			if err != nil {
				return nil, err
			}
			if _, dup := s.Elements[e.Name]; !dup {
				s.Elements[e.Name] = e
			}
		case "attribute", "attributeGroup", "group", "notation":
			s.warnings = append(s.warnings, fmt.Sprintf("%s: global xs:%s ignored", where, c.Tag))
		default:
			return nil, fmt.Errorf("%s: unexpected xs:%s", where, c.Tag)
		}
	}
	return sc, nil
}

func (s *Set) hasNamespace(ns string) bool {
	for _, sc := range s.Schemas {
		if sc.TargetNS == ns {
			return true
		}
	}
	return false
}

func (s *Set) locate(from, loc string) (string, error) {
	if loc == "" {
		return "", fmt.Errorf("empty schemaLocation")
	}
	if strings.Contains(loc, "://") {
		return s.resolve(loc)
	}
	p := filepath.Join(filepath.Dir(from), filepath.FromSlash(loc))
	return s.resolve(p)
}

// parser reads components of one schema document.
type parser struct {
	set *Set
	sc  *Schema
}

func (p *parser) qname(e *etree.Element, v string) (QName, error) {
	prefix, local := "", v
	if i := strings.IndexByte(v, ':'); i >= 0 {
		prefix, local = v[:i], v[i+1:]
	}
	for x := e; x != nil; x = x.Parent() {
		for _, a := range x.Attr {
			if (prefix == "" && a.Space == "" && a.Key == "xmlns") || (prefix != "" && a.Space == "xmlns" && a.Key == prefix) {
				return QName{a.Value, local}, nil
			}
		}
	}
	if prefix == "" {
		return QName{"", local}, nil
	}
	return QName{}, fmt.Errorf("undeclared prefix %q in %q", prefix, v)
}

func docOf(e *etree.Element) string {
	var parts []string
	for _, a := range e.ChildElements() {
		if a.Tag != "annotation" {
			continue
		}
		for _, d := range a.ChildElements() {
			if d.Tag == "documentation" {
				if t := strings.TrimSpace(d.Text()); t != "" {
					parts = append(parts, t)
				}
			}
		}
	}
	return strings.Join(parts, "\n")
}

// appinfoTitle returns <xs:appinfo><title> or a code list <name>, used as
// enumeration documentation.
func appinfoText(e *etree.Element, tags ...string) string {
	for _, a := range e.ChildElements() {
		if a.Tag != "annotation" {
			continue
		}
		for _, ai := range a.ChildElements() {
			if ai.Tag != "appinfo" {
				continue
			}
			for _, c := range ai.ChildElements() {
				for _, t := range tags {
					if c.Tag == t {
						return strings.TrimSpace(c.Text())
					}
				}
			}
		}
	}
	return ""
}

func codeListInfo(e *etree.Element) *CodeListInfo {
	for _, a := range e.ChildElements() {
		if a.Tag != "annotation" {
			continue
		}
		for _, ai := range a.ChildElements() {
			if ai.Tag != "appinfo" {
				continue
			}
			var info *CodeListInfo
			for _, c := range ai.ChildElements() {
				switch c.Tag {
				case "codeliste":
					if info == nil {
						info = &CodeListInfo{}
					}
					if k := c.SelectElement("kennung"); k != nil {
						info.URI = strings.TrimSpace(k.Text())
					}
					if n := c.SelectElement("nameLang"); n != nil {
						info.Name = strings.TrimSpace(n.Text())
					}
				case "versionCodeliste":
					if info == nil {
						info = &CodeListInfo{}
					}
					if v := c.SelectElement("version"); v != nil {
						info.Version = strings.TrimSpace(v.Text())
					}
				}
			}
			if info != nil {
				return info
			}
		}
	}
	return nil
}

func occurs(e *etree.Element) (int, int, error) {
	min, max := 1, 1
	if v := e.SelectAttrValue("minOccurs", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, 0, fmt.Errorf("bad minOccurs %q", v)
		}
		min = n
	}
	if v := e.SelectAttrValue("maxOccurs", ""); v != "" {
		if v == "unbounded" {
			max = -1
		} else {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, 0, fmt.Errorf("bad maxOccurs %q", v)
			}
			max = n
		}
	}
	return min, max, nil
}

func optAttr(e *etree.Element, name string) *string {
	if a := e.SelectAttr(name); a != nil && a.Space == "" {
		v := a.Value
		return &v
	}
	return nil
}

func (p *parser) typeDef(e *etree.Element, where string) (*Type, error) {
	t := &Type{Schema: p.sc, Doc: docOf(e), where: where, CodeList: codeListInfo(e)}
	switch e.Tag {
	case "simpleType":
		t.Simple = true
		return t, p.simpleBody(e, t, where)
	case "complexType":
		t.Abstract = e.SelectAttrValue("abstract", "") == "true"
		t.Mixed = e.SelectAttrValue("mixed", "") == "true"
		return t, p.complexBody(e, t, where)
	}
	return nil, fmt.Errorf("%s: xs:%s is not a type definition", where, e.Tag)
}

func (p *parser) simpleBody(e *etree.Element, t *Type, where string) error {
	for _, c := range e.ChildElements() {
		switch c.Tag {
		case "annotation":
		case "restriction":
			if b := c.SelectAttrValue("base", ""); b != "" {
				q, err := p.qname(c, b)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				t.SimpleBase = q
			}
			for _, f := range c.ChildElements() {
				switch f.Tag {
				case "simpleType":
					inner, err := p.typeDef(f, where+" (anonymous base)")
					if err != nil {
						return err
					}
					t.SimpleInline = inner
				case "enumeration":
					doc := appinfoText(f, "name", "Wert", "wert", "title")
					if doc == "" {
						doc = docOf(f)
					}
					t.Enums = append(t.Enums, Enum{Value: f.SelectAttrValue("value", ""), Doc: doc})
				}
			}
		case "list", "union":
			return fmt.Errorf("%s: xs:%s simple types are not supported", where, c.Tag)
		default:
			return fmt.Errorf("%s: unexpected xs:%s in simpleType", where, c.Tag)
		}
	}
	return nil
}

func (p *parser) complexBody(e *etree.Element, t *Type, where string) error {
	for _, c := range e.ChildElements() {
		switch c.Tag {
		case "annotation":
		case "sequence", "choice", "all", "group":
			part, err := p.particle(c, where)
			if err != nil {
				return err
			}
			t.Content = part
		case "attribute":
			a, err := p.attribute(c, where)
			if err != nil {
				return err
			}
			t.Attrs = append(t.Attrs, a)
		case "complexContent", "simpleContent":
			t.SimpleContent = c.Tag == "simpleContent"
			if c.SelectAttrValue("mixed", "") == "true" {
				t.Mixed = true
			}
			for _, d := range c.ChildElements() {
				if d.Tag == "annotation" {
					continue
				}
				if d.Tag != "extension" && d.Tag != "restriction" {
					return fmt.Errorf("%s: unexpected xs:%s in xs:%s", where, d.Tag, c.Tag)
				}
				t.Derivation = d.Tag
				q, err := p.qname(d, d.SelectAttrValue("base", ""))
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				t.Base = q
				for _, x := range d.ChildElements() {
					switch x.Tag {
					case "annotation":
					case "sequence", "choice", "all", "group":
						part, err := p.particle(x, where)
						if err != nil {
							return err
						}
						t.Content = part
					case "attribute":
						a, err := p.attribute(x, where)
						if err != nil {
							return err
						}
						t.Attrs = append(t.Attrs, a)
					case "anyAttribute", "attributeGroup":
						return fmt.Errorf("%s: xs:%s is not supported", where, x.Tag)
					case "enumeration", "pattern", "minLength", "maxLength", "length", "minInclusive", "maxInclusive", "minExclusive", "maxExclusive", "totalDigits", "fractionDigits", "whiteSpace", "simpleType":
						// facets of a simpleContent restriction: checked by the XSD validator
					default:
						return fmt.Errorf("%s: unexpected xs:%s in xs:%s", where, x.Tag, d.Tag)
					}
				}
			}
		case "anyAttribute", "attributeGroup":
			return fmt.Errorf("%s: xs:%s is not supported", where, c.Tag)
		default:
			return fmt.Errorf("%s: unexpected xs:%s in complexType", where, c.Tag)
		}
	}
	return nil
}

func (p *parser) particle(e *etree.Element, where string) (*Particle, error) {
	min, max, err := occurs(e)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	part := &Particle{Kind: e.Tag, Min: min, Max: max, where: where}
	switch e.Tag {
	case "sequence", "choice":
		for _, c := range e.ChildElements() {
			switch c.Tag {
			case "annotation":
			case "element", "sequence", "choice", "any":
				if c.Tag == "element" {
					ed, err := p.element(c, false, where)
					if err != nil {
						return nil, err
					}
					cmin, cmax, err := occurs(c)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", where, err)
					}
					part.Children = append(part.Children, &Particle{Kind: "element", Min: cmin, Max: cmax, Element: ed, where: where + "/" + ed.Name.Local})
					continue
				}
				ch, err := p.particle(c, where)
				if err != nil {
					return nil, err
				}
				part.Children = append(part.Children, ch)
			case "group":
				return nil, fmt.Errorf("%s: xs:group references are not supported", where)
			default:
				return nil, fmt.Errorf("%s: unexpected xs:%s in xs:%s", where, c.Tag, e.Tag)
			}
		}
	case "any":
		// wildcard; namespace/processContents are the validator's business
	case "all", "group":
		return nil, fmt.Errorf("%s: xs:%s is not supported", where, e.Tag)
	}
	return part, nil
}

func (p *parser) element(e *etree.Element, global bool, where string) (*ElementDecl, error) {
	if e.SelectAttrValue("ref", "") != "" {
		return nil, fmt.Errorf("%s: element references (ref=) are not supported", where)
	}
	name := e.SelectAttrValue("name", "")
	if name == "" {
		return nil, fmt.Errorf("%s: element without name", where)
	}
	ed := &ElementDecl{Global: global, Schema: p.sc, Doc: docOf(e), Fixed: optAttr(e, "fixed"), Default: optAttr(e, "default"),
		Abstract: e.SelectAttrValue("abstract", "") == "true", Nillable: e.SelectAttrValue("nillable", "") == "true",
		where: where + "/" + name}
	ns := ""
	switch {
	case global:
		ns = p.sc.TargetNS
	case e.SelectAttrValue("form", "") == "qualified":
		ns = p.sc.TargetNS
	case e.SelectAttrValue("form", "") == "unqualified":
	case p.sc.QualifiedEl:
		ns = p.sc.TargetNS
	}
	ed.Name = QName{ns, name}
	if global {
		ed.Appinfo = map[string]string{}
		for _, k := range []string{"title", "autor", "leser", "rechtsgrundlage"} {
			if v := appinfoText(e, k); v != "" {
				ed.Appinfo[k] = v
			}
		}
	}
	if sg := e.SelectAttrValue("substitutionGroup", ""); sg != "" {
		q, err := p.qname(e, sg)
		if err != nil {
			return nil, err
		}
		ed.SubstHead = q
	}
	if ty := e.SelectAttrValue("type", ""); ty != "" {
		q, err := p.qname(e, ty)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ed.where, err)
		}
		ed.Type = q
	}
	for _, c := range e.ChildElements() {
		if c.Tag == "complexType" || c.Tag == "simpleType" {
			t, err := p.typeDef(c, ed.where)
			if err != nil {
				return nil, err
			}
			ed.Anon = t
		}
	}
	if ed.Type == (QName{}) && ed.Anon == nil {
		ed.Type = QName{XSD, "anyType"}
	}
	return ed, nil
}

func (p *parser) attribute(e *etree.Element, where string) (*Attribute, error) {
	if e.SelectAttrValue("ref", "") != "" {
		return nil, fmt.Errorf("%s: attribute references (ref=) are not supported", where)
	}
	a := &Attribute{Name: e.SelectAttrValue("name", ""), Use: e.SelectAttrValue("use", "optional"), Fixed: optAttr(e, "fixed"), Default: optAttr(e, "default"), Doc: docOf(e)}
	a.where = where + "/@" + a.Name
	if a.Name == "" {
		return nil, fmt.Errorf("%s: attribute without name", where)
	}
	form := e.SelectAttrValue("form", "")
	if form == "qualified" || (form == "" && p.sc.QualifiedAtt) {
		a.NS = p.sc.TargetNS
	}
	if ty := e.SelectAttrValue("type", ""); ty != "" {
		q, err := p.qname(e, ty)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.where, err)
		}
		a.Type = q
	}
	for _, c := range e.ChildElements() {
		if c.Tag == "simpleType" {
			t, err := p.typeDef(c, a.where)
			if err != nil {
				return nil, err
			}
			a.Anon = t
		}
	}
	if a.Type == (QName{}) && a.Anon == nil {
		a.Type = QName{XSD, "anySimpleType"}
	}
	return a, nil
}

// GlobalElements returns the global elements of namespace ns, sorted by name.
func (s *Set) GlobalElements(ns string) []*ElementDecl {
	var out []*ElementDecl
	for q, e := range s.Elements {
		if q.NS == ns {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name.Local < out[j].Name.Local })
	return out
}

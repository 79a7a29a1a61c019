// Package xsdgen generates Go types from an XSD schema set for the
// runtime in package xauslaender/xsd: one struct per complex type reachable
// from the selected root elements, with xsd and json struct tags that give
// the exact XML shape (element order, namespaces, qualified/unqualified
// children, attributes, choices) and a JSON shape for form backends.
//
// It covers the XSD constructs the XÖV bundles use: named and anonymous
// types, extension (embedded base struct) and restriction (a new struct
// with the restricted content and the inherited attributes), simple
// content, xs:choice, form/elementFormDefault, fixed and default values,
// XÖV code types (listURI/listVersionID, code list appinfo), base64Binary
// and the XSD date/time types. Anything else (xs:any, xs:group, xs:all,
// repeated or nested model groups, substitution groups, abstract types) is
// reported as an error naming the schema component, never skipped.
package xsdgen

import (
	"bytes"
	"fmt"
	"go/format"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// CodeNS and CodeLocal name the XÖV code base type.
const (
	CodeNS    = "http://xoev.de/schemata/code/1_0"
	CodeLocal = "Code"
)

// Root selects a root element to generate.
type Root struct {
	Element *ElementDecl
	// Code is the message type code ("130101").
	Code string
}

// Config describes one generated package.
type Config struct {
	Package   string // Go package name, e.g. "v2611"
	Version   string // standard version, e.g. "26.11"
	Namespace string // the standard's main namespace
	RootXSD   string // root schema file relative to the bundle (for docs and the spec)
	Bundle    string // bundle directory (only used to make paths relative in comments)
	Roots     []Root
	// Sources are the schema files used, relative to the bundle, for the header.
	Sources []string
	// Compiled lists the files the bundle's validator compiles for the
	// namespaces of this package (with their SHA-256, the catalog
	// included), recorded in the spec so that a validator can tell whether
	// a bundle is the one the package was generated from.
	Compiled []Source
	// Command is the command line to put in the header.
	Command string
}

// Source is a schema file with the SHA-256 of its bytes.
type Source struct {
	Path   string // relative to the bundle
	SHA256 string // hex
}

var codeRE = regexp.MustCompile(`\.([0-9]{4,6})$`)

// TypeCode returns the message type code in a root element name, e.g.
// "130101" for "OZG.Antrag.130101".
func TypeCode(local string) string {
	if m := codeRE.FindStringSubmatch(local); m != nil {
		return m[1]
	}
	return ""
}

type goField struct {
	name    string
	typ     string // Go type expression
	tag     string // xsd tag content
	json    string
	doc     string
	xsdType string
	embed   bool
}

type goType struct {
	name     string
	doc      string
	origin   string // XSD origin, for the comment
	ns       string
	fields   []*goField
	code     *codeInfo
	root     *Root
	fieldSet map[string]bool // Go field names incl. embedded bases (collision check)
	jsonSet  map[string]bool
	base     *goType
}

type codeInfo struct {
	uri, version       string
	uriFixed, verFixed bool
	enumerated         bool
	name               string
	listURIField       *goField
	listVersionField   *goField
	codeField          string
}

type generator struct {
	set    *Set
	cfg    Config
	types  map[*Type]*goType // named and anonymous complex types
	byName map[string]*goType
	order  []*goType
	// plainNames counts the named complex types of the closure per plain Go name.
	plainNames map[string]int
	nsUsed     map[string]bool
	imports    map[string]bool
	choiceID   int
}

// Generate returns gofmt'ed Go source for cfg.Roots.
func Generate(set *Set, cfg Config) ([]byte, error) {
	g := &generator{set: set, cfg: cfg, types: map[*Type]*goType{}, byName: map[string]*goType{}, nsUsed: map[string]bool{}, imports: map[string]bool{}, plainNames: map[string]int{}}
	for t := range g.closure(cfg.Roots) {
		g.plainNames[goName(t.Name.Local)]++
	}
	roots := append([]Root(nil), cfg.Roots...)
	sort.Slice(roots, func(i, j int) bool {
		if roots[i].Element.Name.NS != roots[j].Element.Name.NS {
			return roots[i].Element.Name.NS < roots[j].Element.Name.NS
		}
		return roots[i].Code < roots[j].Code
	})
	var rootTypes []*goType
	for i := range roots {
		r := &roots[i]
		e := r.Element
		var t *Type
		if e.Anon != nil {
			t = e.Anon
		} else {
			t = set.Types[e.Type]
		}
		if t == nil || t.Simple {
			return nil, fmt.Errorf("%s: root element needs a complex type", e.where)
		}
		gt, err := g.complexType(t, goName(e.Name.Local))
		if err != nil {
			return nil, err
		}
		if e.Anon == nil {
			// A named type used as root: wrap it so the root method does
			// not land on a type used elsewhere.
			return nil, fmt.Errorf("%s: roots with named types are not supported", e.where)
		}
		gt.root = r
		if gt.doc == "" {
			gt.doc = e.Doc
		}
		g.nsUsed[e.Name.NS] = true
		rootTypes = append(rootTypes, gt)
	}
	return g.emit(rootTypes)
}

// typeName picks the Go name of a type. Named types of the main namespace
// keep their plain name; a type of another namespace gets its schema's
// prefix ("Xirts…") when another generated type has the same plain name.
// The names are computed from the whole closure before any is assigned, so
// they do not depend on the order in which types are reached.
func (g *generator) typeName(t *Type, suggested string) string {
	name := suggested
	if t.Name.Local != "" {
		name = goName(t.Name.Local)
		if t.Name.NS != g.cfg.Namespace && g.plainNames[name] > 1 {
			name = goName(t.Schema.Prefix) + name
		}
	}
	base := name
	for i := 2; ; i++ {
		if _, taken := g.byName[name]; !taken {
			break
		}
		name = fmt.Sprintf("%s%d", base, i)
	}
	return name
}

// closure returns the named complex types that will be generated for the
// roots: element types and extension bases, transitively (restriction
// bases contribute attributes only and get no Go type).
func (g *generator) closure(roots []Root) map[*Type]bool {
	out := map[*Type]bool{}
	seen := map[*Type]bool{}
	var visitType func(t *Type)
	var visitParticle func(p *Particle)
	visitType = func(t *Type) {
		if t == nil || t.Simple || seen[t] {
			return
		}
		seen[t] = true
		if t.Name.Local != "" {
			out[t] = true
		}
		if t.Derivation == "extension" && !t.SimpleContent && !t.Base.IsXSD() {
			visitType(g.set.Types[t.Base])
		}
		visitParticle(t.Content)
	}
	visitParticle = func(p *Particle) {
		if p == nil {
			return
		}
		if p.Kind == "element" {
			if p.Element.Anon != nil {
				visitType(p.Element.Anon)
			} else if !p.Element.Type.IsXSD() {
				visitType(g.set.Types[p.Element.Type])
			}
		}
		for _, c := range p.Children {
			visitParticle(c)
		}
	}
	for _, r := range roots {
		if r.Element.Anon != nil {
			visitType(r.Element.Anon)
		} else {
			visitType(g.set.Types[r.Element.Type])
		}
	}
	return out
}

func (g *generator) lookup(q QName, where string) (*Type, error) {
	t := g.set.Types[q]
	if t == nil {
		return nil, fmt.Errorf("%s: type %s is not defined in the schema set", where, q)
	}
	return t, nil
}

// isCodeType reports whether t is xoev-code:Code or derived from it.
func (g *generator) isCodeType(t *Type) bool {
	for x, n := t, 0; x != nil && n < 32; n++ {
		if x.Name.NS == CodeNS && x.Name.Local == CodeLocal {
			return true
		}
		if x.Derivation == "" || x.Base.IsXSD() {
			return false
		}
		x = g.set.Types[x.Base]
	}
	return false
}

// complexType returns (generating on first use) the Go struct for t.
func (g *generator) complexType(t *Type, suggested string) (*goType, error) {
	if gt, ok := g.types[t]; ok {
		return gt, nil
	}
	if t.Abstract {
		return nil, fmt.Errorf("%s: abstract types (xsi:type) are not supported", t.where)
	}
	if t.Mixed {
		return nil, fmt.Errorf("%s: mixed content is not supported", t.where)
	}
	gt := &goType{name: g.typeName(t, suggested), doc: t.Doc, ns: t.Name.NS, fieldSet: map[string]bool{}, jsonSet: map[string]bool{}}
	if t.Name.Local != "" {
		gt.origin = fmt.Sprintf("%s (%s)", t.Name.Local, t.Name.NS)
	} else {
		gt.origin = "anonymous type of " + strings.TrimPrefix(t.where, filepath.Base(t.Schema.Path)+": ")
	}
	g.types[t] = gt
	g.byName[gt.name] = gt
	g.order = append(g.order, gt)
	if err := g.fillStruct(gt, t); err != nil {
		return nil, err
	}
	if g.isCodeType(t) {
		if err := g.codeMethods(gt, t); err != nil {
			return nil, err
		}
	}
	return gt, nil
}

func (g *generator) fillStruct(gt *goType, t *Type) error {
	switch {
	case t.SimpleContent:
		return g.simpleContent(gt, t)
	case t.Derivation == "extension":
		base, err := g.lookup(t.Base, t.where)
		if err != nil {
			return err
		}
		if base.Simple || base.SimpleContent {
			return fmt.Errorf("%s: complexContent extension of a simple type", t.where)
		}
		bt, err := g.complexType(base, "")
		if err != nil {
			return err
		}
		gt.base = bt
		gt.fields = append(gt.fields, &goField{name: bt.name, typ: bt.name, embed: true})
		for n := range bt.fieldSet {
			gt.fieldSet[n] = true
		}
		for n := range bt.jsonSet {
			gt.jsonSet[n] = true
		}
		if err := g.attributes(gt, t.Attrs, nil); err != nil {
			return err
		}
		return g.particle(gt, t.Content, 0, false, gt.name)
	case t.Derivation == "restriction":
		if t.Base.IsXSD() && t.Base.Local == "anyType" {
			if err := g.attributes(gt, t.Attrs, nil); err != nil {
				return err
			}
			return g.particle(gt, t.Content, 0, false, gt.name)
		}
		base, err := g.lookup(t.Base, t.where)
		if err != nil {
			return err
		}
		inherited, err := g.effectiveAttrs(base)
		if err != nil {
			return err
		}
		if err := g.attributes(gt, t.Attrs, inherited); err != nil {
			return err
		}
		// The restriction restates the whole content model.
		return g.particle(gt, t.Content, 0, false, gt.name)
	default:
		if err := g.attributes(gt, t.Attrs, nil); err != nil {
			return err
		}
		return g.particle(gt, t.Content, 0, false, gt.name)
	}
}

// effectiveAttrs returns the attribute uses of t including inherited ones.
func (g *generator) effectiveAttrs(t *Type) ([]*Attribute, error) {
	if t.Simple {
		return nil, nil
	}
	var inherited []*Attribute
	if t.Derivation != "" && !t.Base.IsXSD() {
		base, err := g.lookup(t.Base, t.where)
		if err != nil {
			return nil, err
		}
		if inherited, err = g.effectiveAttrs(base); err != nil {
			return nil, err
		}
	}
	return mergeAttrs(inherited, t.Attrs), nil
}

// mergeAttrs overlays own attribute uses on inherited ones (by name, keeping
// the inherited order), dropping prohibited ones.
func mergeAttrs(inherited, own []*Attribute) []*Attribute {
	var out []*Attribute
	used := map[string]bool{}
	for _, a := range inherited {
		repl := a
		for _, o := range own {
			if o.Name == a.Name && o.NS == a.NS {
				repl = o
				used[o.Name+" "+o.NS] = true
			}
		}
		if repl.Use != "prohibited" {
			out = append(out, repl)
		}
	}
	for _, o := range own {
		if !used[o.Name+" "+o.NS] && o.Use != "prohibited" {
			out = append(out, o)
		}
	}
	return out
}

func (g *generator) attributes(gt *goType, own, inherited []*Attribute) error {
	attrs := own
	if inherited != nil {
		attrs = mergeAttrs(inherited, own)
	} else {
		attrs = mergeAttrs(nil, own)
	}
	for _, a := range attrs {
		typ, xsdType, doc, err := g.simpleGo(a.Type, a.Anon, a.where)
		if err != nil {
			return err
		}
		tag := a.Name + ",attr"
		if a.NS != "" {
			tag += ",ns=" + escapeTag(a.NS)
			g.nsUsed[a.NS] = true
		}
		required := a.Use == "required"
		if a.Fixed != nil {
			tag += ",fixed=" + escapeTag(*a.Fixed)
		}
		if !required {
			typ = "*" + typ
		}
		fdoc := joinDoc(a.Doc, doc)
		if a.Fixed != nil {
			fdoc = joinDoc(fdoc, fmt.Sprintf("Fixed value %q.", *a.Fixed))
		}
		if a.Default != nil {
			fdoc = joinDoc(fdoc, fmt.Sprintf("Default %q.", *a.Default))
		}
		if err := g.addField(gt, &goField{name: goName(a.Name), typ: typ, tag: tag, json: jsonName(a.Name, goName(a.Name)), doc: fdoc, xsdType: xsdType}, required, a.where); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) addField(gt *goType, f *goField, required bool, where string) error {
	if gt.fieldSet[f.name] {
		return fmt.Errorf("%s: Go field %s.%s would be declared twice (an extension repeats a base element?)", where, gt.name, f.name)
	}
	if gt.jsonSet[f.json] {
		return fmt.Errorf("%s: JSON name %q would be used twice in %s", where, f.json, gt.name)
	}
	gt.fieldSet[f.name] = true
	gt.jsonSet[f.json] = true
	if !required && !strings.Contains(f.json, ",") {
		f.json += ",omitempty"
	}
	gt.fields = append(gt.fields, f)
	return nil
}

// particle turns a content model into fields. choice is the id of the
// enclosing choice group (0: none); optional marks an optional enclosing
// group, whose members become optional.
func (g *generator) particle(gt *goType, p *Particle, choice int, optional bool, ctx string) error {
	if p == nil {
		return nil
	}
	switch p.Kind {
	case "sequence":
		if p.Max != 1 {
			return fmt.Errorf("%s: a repeated xs:sequence is not supported", p.where)
		}
		if choice != 0 {
			return fmt.Errorf("%s: an xs:sequence inside an xs:choice is not supported", p.where)
		}
		for _, c := range p.Children {
			if err := g.particle(gt, c, 0, optional || p.Min == 0, ctx); err != nil {
				return err
			}
		}
		return nil
	case "choice":
		if p.Max != 1 {
			return fmt.Errorf("%s: a repeated xs:choice is not supported", p.where)
		}
		if choice != 0 {
			return fmt.Errorf("%s: nested xs:choice is not supported", p.where)
		}
		g.choiceID++
		id := fmt.Sprintf("%d", g.choiceID)
		if p.Min == 0 || optional {
			id += "?"
		}
		for _, c := range p.Children {
			if c.Kind != "element" {
				return fmt.Errorf("%s: only elements are supported inside xs:choice", p.where)
			}
			if err := g.element(gt, c, id, false); err != nil {
				return err
			}
		}
		return nil
	case "element":
		return g.element(gt, p, "", optional)
	case "any":
		return fmt.Errorf("%s: xs:any is not supported", p.where)
	}
	return fmt.Errorf("%s: unsupported particle %s", p.where, p.Kind)
}

func (g *generator) element(gt *goType, p *Particle, choice string, optional bool) error {
	e := p.Element
	if e.SubstHead != (QName{}) || e.Abstract {
		return fmt.Errorf("%s: substitution groups are not supported", e.where)
	}
	fname := goName(e.Name.Local)
	var typ, xsdType, tdoc string
	isStruct := false
	// plainContent: a named complex type that only adds attributes to
	// xs:base64Binary (simpleContent extension), e.g. XInneres Lichtbild.
	plainContent := false
	switch {
	case e.Anon != nil && !e.Anon.Simple:
		ct, err := g.complexType(e.Anon, gt.name+fname)
		if err != nil {
			return err
		}
		typ, isStruct, xsdType = ct.name, true, "anonymous complex type"
	case e.Anon != nil:
		var err error
		typ, xsdType, tdoc, err = g.simpleGo(QName{}, e.Anon, e.where)
		if err != nil {
			return err
		}
	default:
		if e.Type.IsXSD() && e.Type.Local == "anyType" {
			return fmt.Errorf("%s: elements of xs:anyType are not supported", e.where)
		}
		var t *Type
		if !e.Type.IsXSD() {
			var err error
			if t, err = g.lookup(e.Type, e.where); err != nil {
				return err
			}
		}
		if t != nil && !t.Simple {
			ct, err := g.complexType(t, "")
			if err != nil {
				return err
			}
			typ, isStruct, xsdType = ct.name, true, e.Type.Local
			plainContent = t.SimpleContent && t.Derivation == "extension" && t.Base.IsXSD() && t.Base.Local == "base64Binary"
		} else {
			var err error
			typ, xsdType, tdoc, err = g.simpleGo(e.Type, nil, e.where)
			if err != nil {
				return err
			}
		}
	}
	tag := e.Name.Local
	if e.Name.NS != "" {
		tag += ",ns=" + escapeTag(e.Name.NS)
		g.nsUsed[e.Name.NS] = true
	}
	required := false
	switch {
	case p.Max != 1:
		typ = "[]" + typ
		if p.Min > 0 && !optional && choice == "" {
			tag += fmt.Sprintf(",min=%d", p.Min)
			required = true
		}
	case choice != "" || p.Min == 0 || optional:
		typ = "*" + typ
	default:
		required = true
	}
	if choice != "" {
		tag += ",choice=" + choice
	}
	if (plainContent || (e.Anon == nil && e.Type.IsXSD() && e.Type.Local == "base64Binary")) && e.Fixed == nil && e.Default == nil && !e.Nillable {
		// Its text is of type xs:base64Binary itself (directly, or as the
		// simple content a type extends with attributes): no facets, no
		// value constraint, no xsi:nil. The strict base64 check is all
		// there is to validate in the text, so a validator may keep it
		// from libxml2.
		tag += ",plain"
	}
	if required && !isStruct && g.isDatatypeC(e.Type, e.Anon) {
		// XInneres rejects mandatory DIN 91379 datatypeC elements that are
		// empty (error code S030); the validator checks these.
		tag += ",nonempty"
	}
	doc := joinDoc(e.Doc, tdoc)
	if p.Max != 1 || p.Min != 1 {
		max := "unbounded"
		if p.Max >= 0 {
			max = fmt.Sprint(p.Max)
		}
		doc = joinDoc(doc, fmt.Sprintf("Occurs %d..%s.", p.Min, max))
	}
	if choice != "" {
		doc = joinDoc(doc, "Alternative of a choice: set exactly one of the alternatives.")
	}
	if e.Fixed != nil {
		doc = joinDoc(doc, fmt.Sprintf("Fixed value %q.", *e.Fixed))
	}
	if e.Default != nil {
		doc = joinDoc(doc, fmt.Sprintf("Default %q.", *e.Default))
	}
	return g.addField(gt, &goField{name: fname, typ: typ, tag: tag, json: jsonName(e.Name.Local, fname), doc: doc, xsdType: xsdType}, required, e.where)
}

func (g *generator) simpleContent(gt *goType, t *Type) error {
	// Walk to the simple type carrying the value, collecting attributes.
	var attrs []*Attribute
	x := t
	var valueType QName
	var valueAnon *Type
	for n := 0; n < 32; n++ {
		if x.Simple {
			if x.Name.Local == "" {
				valueAnon = x
			} else {
				valueType = x.Name
			}
			break
		}
		if !x.SimpleContent {
			return fmt.Errorf("%s: simpleContent based on a complex type without simple content", t.where)
		}
		if x.Base.IsXSD() {
			valueType = x.Base
			break
		}
		base, err := g.lookup(x.Base, x.where)
		if err != nil {
			return err
		}
		if base.Simple {
			valueType = base.Name
			break
		}
		x = base
	}
	eff, err := g.effectiveAttrs(t)
	if err != nil {
		return err
	}
	attrs = eff
	typ, xsdType, doc, err := g.simpleGo(valueType, valueAnon, t.where)
	if err != nil {
		return err
	}
	if err := g.addField(gt, &goField{name: "Value", typ: typ, tag: ",text", json: "value", doc: joinDoc("Value is the element's text.", doc), xsdType: xsdType}, true, t.where); err != nil {
		return err
	}
	return g.attributes(gt, attrs, nil)
}

// simpleGo maps a simple type to a Go type and collects its enumeration
// for the documentation.
func (g *generator) simpleGo(q QName, anon *Type, where string) (typ, xsdType, doc string, err error) {
	var enums []Enum
	cur, curAnon := q, anon
	for n := 0; n < 64; n++ {
		var t *Type
		if curAnon != nil {
			t = curAnon
		} else if cur.IsXSD() {
			typ, err = builtinGo(cur.Local, where)
			if typ == "" && err == nil {
				err = fmt.Errorf("%s: unsupported built-in type xs:%s", where, cur.Local)
			}
			if strings.HasPrefix(typ, "xsd.") {
				g.imports["xsd"] = true
			}
			if xsdType == "" {
				xsdType = "xs:" + cur.Local
			}
			return typ, xsdType, enumDoc(enums), err
		} else {
			if t, err = g.lookup(cur, where); err != nil {
				return "", "", "", err
			}
		}
		if !t.Simple {
			return "", "", "", fmt.Errorf("%s: %s is not a simple type", where, cur)
		}
		if xsdType == "" && t.Name.Local != "" {
			xsdType = t.Name.Local
		}
		if enums == nil && len(t.Enums) > 0 {
			enums = t.Enums
		}
		if t.SimpleInline != nil {
			cur, curAnon = QName{}, t.SimpleInline
		} else {
			cur, curAnon = t.SimpleBase, nil
		}
	}
	return "", "", "", fmt.Errorf("%s: simple type chain too long", where)
}

// isDatatypeC reports whether a simple type is (derived from) DIN 91379
// datatypeC, the XÖV string type whose mandatory occurrences must not be empty.
func (g *generator) isDatatypeC(q QName, anon *Type) bool {
	cur, curAnon := q, anon
	for n := 0; n < 64; n++ {
		var t *Type
		if curAnon != nil {
			t = curAnon
		} else {
			if strings.HasPrefix(cur.NS, "urn:xoev-de:kosit:xoev:datentyp:din-91379") && cur.Local == "datatypeC" {
				return true
			}
			if cur.IsXSD() || cur.Local == "" {
				return false
			}
			t = g.set.Types[cur]
		}
		if t == nil || !t.Simple {
			return false
		}
		if t.SimpleInline != nil {
			cur, curAnon = QName{}, t.SimpleInline
		} else {
			cur, curAnon = t.SimpleBase, nil
		}
	}
	return false
}

func builtinGo(local, where string) (string, error) {
	switch local {
	case "string", "normalizedString", "token", "anyURI", "language", "Name", "NCName", "NMTOKEN", "ID", "IDREF", "ENTITY", "QName", "anySimpleType":
		return "string", nil
	case "boolean":
		return "bool", nil
	case "integer", "nonNegativeInteger", "positiveInteger", "nonPositiveInteger", "negativeInteger", "long", "int", "short", "byte":
		return "int64", nil
	case "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte":
		return "uint64", nil
	case "decimal":
		return "xsd.Decimal", nil
	case "float", "double":
		return "float64", nil
	case "date":
		return "xsd.Date", nil
	case "dateTime":
		return "xsd.DateTime", nil
	case "time":
		return "xsd.Time", nil
	case "gYear":
		return "xsd.GYear", nil
	case "gYearMonth":
		return "xsd.GYearMonth", nil
	case "duration":
		return "xsd.Duration", nil
	case "gMonth", "gDay", "gMonthDay":
		return "string", nil
	case "base64Binary":
		return "[]byte", nil
	}
	return "", fmt.Errorf("%s: unsupported built-in type xs:%s", where, local)
}

func enumDoc(enums []Enum) string {
	if len(enums) == 0 || len(enums) > 60 {
		if len(enums) > 60 {
			return fmt.Sprintf("One of %d values enumerated in the schema.", len(enums))
		}
		return ""
	}
	var b strings.Builder
	b.WriteString("Allowed values:")
	for _, e := range enums {
		b.WriteString("\n  - ")
		b.WriteString(e.Value)
		if e.Doc != "" {
			b.WriteString(": ")
			b.WriteString(oneLine(e.Doc))
		}
	}
	return b.String()
}

// codeMethods adds the xsd.Coded methods to a code type.
func (g *generator) codeMethods(gt *goType, t *Type) error {
	ci := &codeInfo{}
	for x, n := t, 0; x != nil && n < 32; n++ {
		if x.CodeList != nil {
			if ci.uri == "" {
				ci.uri = x.CodeList.URI
			}
			if ci.version == "" {
				ci.version = x.CodeList.Version
			}
			if ci.name == "" {
				ci.name = x.CodeList.Name
			}
		}
		if x.Derivation == "" || x.Base.IsXSD() {
			break
		}
		x = g.set.Types[x.Base]
	}
	attrs, err := g.effectiveAttrs(t)
	if err != nil {
		return err
	}
	for _, a := range attrs {
		if a.Fixed == nil {
			continue
		}
		switch a.Name {
		case "listURI":
			ci.uri, ci.uriFixed = *a.Fixed, true
		case "listVersionID":
			ci.version, ci.verFixed = *a.Fixed, true
		}
	}
	for _, f := range gt.fields {
		switch {
		case strings.HasPrefix(f.tag, "listURI,attr"):
			ci.listURIField = f
		case strings.HasPrefix(f.tag, "listVersionID,attr"):
			ci.listVersionField = f
		case f.tag == "code" || strings.HasPrefix(f.tag, "code,"):
			ci.codeField = f.name
		}
	}
	if ci.codeField == "" {
		return fmt.Errorf("%s: code type without a code element", t.where)
	}
	// listURI and listVersionID are filled in by Sender.Prepare; in JSON
	// they are optional even where the schema requires them.
	for _, f := range []*goField{ci.listURIField, ci.listVersionField} {
		if f != nil && !strings.HasSuffix(f.json, ",omitempty") {
			f.json += ",omitempty"
		}
	}
	// Enumerated in the schema: the code element's type has enumerations.
	if t.Content != nil {
		for _, c := range t.Content.Children {
			if c.Kind == "element" && c.Element.Name.Local == "code" {
				_, _, doc, err := g.simpleGo(c.Element.Type, c.Element.Anon, c.where)
				if err != nil {
					return err
				}
				ci.enumerated = doc != ""
			}
		}
	}
	gt.code = ci
	g.imports["xsd"] = true
	return nil
}

// emit writes the package source.
func (g *generator) emit(roots []*goType) ([]byte, error) {
	var b bytes.Buffer
	cfg := g.cfg
	fmt.Fprintf(&b, "// Code generated by xsdgen from the XAusländer %s schema bundle. DO NOT EDIT.\n", cfg.Version)
	if cfg.Command != "" {
		fmt.Fprintf(&b, "// Regenerate with: %s\n", cfg.Command)
	}
	if len(cfg.Sources) > 0 {
		b.WriteString("//\n// Schema files read (relative to the bundle):\n")
		for _, s := range cfg.Sources {
			fmt.Fprintf(&b, "//   - %s\n", s)
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "package %s\n\n", cfg.Package)
	b.WriteString("import (\n\t\"github.com/xagw/xagw/xauslaender/xsd\"\n)\n\n")

	fmt.Fprintf(&b, "// Version is the XAusländer version of this package.\nconst Version = %q\n\n", cfg.Version)
	fmt.Fprintf(&b, "// Namespace is the XAusländer %s namespace.\nconst Namespace = %q\n\n", cfg.Version, cfg.Namespace)

	// Prefixes for writing XML.
	var nss []string
	for ns := range g.nsUsed {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	b.WriteString("func init() {\n")
	for _, ns := range nss {
		prefix := ""
		for _, sc := range g.set.Schemas {
			if sc.TargetNS == ns && sc.Prefix != "" {
				prefix = sc.Prefix
				break
			}
		}
		if prefix != "" {
			fmt.Fprintf(&b, "\txsd.RegisterPrefix(%q, %q)\n", ns, prefix)
		}
	}
	b.WriteString("}\n\n")

	// The spec.
	b.WriteString("// Spec describes the message types of this package.\nvar Spec = xsd.VersionSpec{\n")
	fmt.Fprintf(&b, "\tVersion: %q,\n\tNamespace: %q,\n\tPackage: %q,\n\tRootXSD: %q,\n", cfg.Version, cfg.Namespace, cfg.Package, cfg.RootXSD)
	if len(cfg.Compiled) > 0 {
		b.WriteString("\tSources: []xsd.Source{\n")
		for _, src := range cfg.Compiled {
			fmt.Fprintf(&b, "\t\t{Path: %q, SHA256: %q},\n", src.Path, src.SHA256)
		}
		b.WriteString("\t},\n")
	}
	b.WriteString("\tMessages: []xsd.MessageSpec{\n")
	for _, rt := range roots {
		e := rt.root.Element
		fmt.Fprintf(&b, "\t\t{Code: %q, Namespace: %q, Element: %q, Title: %q, Autor: %q, Leser: %q, New: func() xsd.Message { return new(%s) }},\n",
			rt.root.Code, e.Name.NS, e.Name.Local, oneLine(e.Appinfo["title"]), oneLine(e.Appinfo["autor"]), oneLine(e.Appinfo["leser"]), rt.name)
	}
	b.WriteString("\t},\n}\n\n")

	// Type code constants.
	b.WriteString("// Message type codes.\nconst (\n")
	for _, rt := range roots {
		fmt.Fprintf(&b, "\tCode%s = %q\n", rt.name, rt.root.Code)
	}
	b.WriteString(")\n\n")

	// Types: roots first (by code), then the rest by name.
	rest := make([]*goType, 0, len(g.order))
	isRoot := map[*goType]bool{}
	for _, r := range roots {
		isRoot[r] = true
	}
	for _, t := range g.order {
		if !isRoot[t] {
			rest = append(rest, t)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].name < rest[j].name })
	for _, t := range append(append([]*goType(nil), roots...), rest...) {
		g.emitType(&b, t)
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return b.Bytes(), fmt.Errorf("xsdgen: generated code does not format: %w", err)
	}
	return src, nil
}

func (g *generator) emitType(b *bytes.Buffer, t *goType) {
	var doc string
	if t.root != nil {
		e := t.root.Element
		doc = fmt.Sprintf("%s is the message %s (type code %s).", t.name, e.Name.Local, t.root.Code)
		if title := e.Appinfo["title"]; title != "" {
			doc = joinDoc(doc, title+".")
		}
		if a, l := e.Appinfo["autor"], e.Appinfo["leser"]; a != "" || l != "" {
			doc = joinDoc(doc, fmt.Sprintf("Autor: %s. Leser: %s.", oneLine(a), oneLine(l)))
		}
		if r := e.Appinfo["rechtsgrundlage"]; r != "" {
			doc = joinDoc(doc, "Rechtsgrundlage: "+oneLine(r))
		}
	} else {
		doc = fmt.Sprintf("%s is the XSD type %s.", t.name, t.origin)
	}
	if t.code != nil {
		c := t.code
		d := "It is an XÖV code type"
		if c.uri != "" {
			d += " for the code list " + c.uri
			if c.version != "" {
				d += " version " + c.version
			}
		}
		d += `. In JSON it may be given as just the code ("01") or as an object.`
		doc = joinDoc(doc, d)
	}
	doc = joinDoc(doc, t.doc)
	writeComment(b, "", doc)
	fmt.Fprintf(b, "type %s struct {\n", t.name)
	for _, f := range t.fields {
		if f.embed {
			fmt.Fprintf(b, "\t%s\n", f.typ)
			continue
		}
		fd := f.doc
		if f.xsdType != "" {
			fd = joinDoc(fd, "XSD type: "+f.xsdType+".")
		}
		if fd != "" {
			writeComment(b, "\t", f.name+": "+fd)
		}
		fmt.Fprintf(b, "\t%s %s `xsd:\"%s\" json:\"%s\"`\n", f.name, f.typ, f.tag, f.json)
	}
	b.WriteString("}\n\n")
	if t.root != nil {
		e := t.root.Element
		fmt.Fprintf(b, "// XMLName returns the root element name.\nfunc (*%s) XMLName() (string, string) { return %q, %q }\n\n", t.name, e.Name.NS, e.Name.Local)
	}
	if c := t.code; c != nil {
		fmt.Fprintf(b, "// CodeList returns the code list of %s.\n", t.name)
		fmt.Fprintf(b, "func (%s) CodeList() xsd.CodeList {\n\treturn xsd.CodeList{URI: %q, Version: %q, URIFixed: %v, VersionFixed: %v, Enumerated: %v, Name: %q}\n}\n\n",
			t.name, c.uri, c.version, c.uriFixed, c.verFixed, c.enumerated, c.name)
		val := func(f *goField) string {
			if f == nil {
				return `""`
			}
			if strings.HasPrefix(f.typ, "*") {
				return "xsd.Value(c." + f.name + ")"
			}
			return "c." + f.name
		}
		fmt.Fprintf(b, "// CodeValue returns the code and the listURI and listVersionID it carries.\n")
		fmt.Fprintf(b, "func (c %s) CodeValue() (code, listURI, listVersionID string) {\n\treturn c.%s, %s, %s\n}\n\n", t.name, c.codeField, val(c.listURIField), val(c.listVersionField))
		fmt.Fprintf(b, "// UnmarshalJSON accepts the code as a JSON string or the full object.\n")
		fmt.Fprintf(b, "func (c *%s) UnmarshalJSON(data []byte) error {\n\ttype plain %s\n\treturn xsd.UnmarshalCodeJSON(data, (*plain)(c), &c.%s)\n}\n\n", t.name, t.name, c.codeField)
	}
}

// goName turns an XSD name into an exported Go identifier:
// "nachrichtenkopf.g2g" → "NachrichtenkopfG2G", "OZG.Antrag.130101" → "OZGAntrag130101".
func goName(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '.' || r == '-' || r == '_' || r == ' ' })
	var b strings.Builder
	for _, p := range parts {
		switch strings.ToLower(p) {
		case "g2g", "uuid", "id", "uri", "url", "xml", "ve":
			b.WriteString(strings.ToUpper(p))
			continue
		}
		r := []rune(p)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	out := b.String()
	if out == "" || !unicode.IsLetter([]rune(out)[0]) {
		out = "X" + out
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case 'ä':
			return 'a'
		case 'ö':
			return 'o'
		case 'ü':
			return 'u'
		case 'Ä':
			return 'A'
		case 'Ö':
			return 'O'
		case 'Ü':
			return 'U'
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, out)
}

var plainJSON = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// jsonName is the XML name when it is a plain identifier, else the Go
// field name with a lower-case first letter ("anschrift.autor" → "anschriftAutor").
func jsonName(local, gname string) string {
	if plainJSON.MatchString(local) {
		return local
	}
	r := []rune(gname)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// escapeTag escapes what a struct tag option value cannot hold.
func escapeTag(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '%' || r == ',' || r == '"' || r == '`' || r == '\\' || r < 0x20:
			fmt.Fprintf(&b, "%%%02X", r)
		case r > 0x7e:
			for _, c := range []byte(string(r)) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func joinDoc(a, b string) string {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "\n\n" + b
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// writeComment writes doc as a Go comment wrapped at about 100 columns,
// keeping blank lines; list items ("  - x") are kept on their own lines.
func writeComment(b *bytes.Buffer, indent, doc string) {
	for _, para := range strings.Split(strings.TrimSpace(doc), "\n") {
		para = strings.TrimRight(para, " ")
		if strings.TrimSpace(para) == "" {
			b.WriteString(indent + "//\n")
			continue
		}
		if strings.HasPrefix(para, "  - ") {
			b.WriteString(indent + "//   - " + strings.TrimPrefix(para, "  - ") + "\n")
			continue
		}
		line := indent + "//"
		for _, w := range strings.Fields(para) {
			if len(line)+len(w)+1 > 100 && line != indent+"//" {
				b.WriteString(line + "\n")
				line = indent + "//"
			}
			line += " " + w
		}
		b.WriteString(line + "\n")
	}
}

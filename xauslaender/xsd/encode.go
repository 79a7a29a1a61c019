package xsd

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MarshalError says which field could not be written and why.
type MarshalError struct {
	Path string // element path, e.g. "/OZG.Antrag.130101/angabenZurPerson/vorname"
	Msg  string
}

func (e *MarshalError) Error() string { return fmt.Sprintf("xsd: marshal %s: %s", e.Path, e.Msg) }

// Marshal writes a generated root message as an XML document: an XML
// declaration, the root element with every namespace the document uses
// declared once, children indented by two spaces. The output is
// deterministic, so marshal(parse(marshal(m))) == marshal(m).
//
// Required attributes with a fixed value are written with that value when
// the field is empty. Marshal checks structure (choice groups, characters
// XML cannot carry); content validity is the XSD validator's job.
func Marshal(m Message) ([]byte, error) {
	rv := reflect.ValueOf(m)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("xsd: Marshal needs a non-nil pointer to a generated message struct, got %T", m)
	}
	ns, local := m.XMLName()
	e := &encoder{prefix: map[string]string{}}
	e.use(ns)
	var body bytes.Buffer
	e.out = &body
	p, err := planOf(rv.Elem().Type())
	if err != nil {
		return nil, err
	}
	path := "/" + local
	var attrs bytes.Buffer
	if err := e.attrs(&attrs, p, rv.Elem(), path); err != nil {
		return nil, err
	}
	empty, err := e.children(p, rv.Elem(), path, 1)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(body.Len() + 512)
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<")
	out.WriteString(e.qname(ns, local))
	for _, u := range e.order {
		out.WriteString(" xmlns:")
		out.WriteString(e.prefix[u])
		out.WriteString(`="`)
		escapeAttr(&out, u)
		out.WriteByte('"')
	}
	out.Write(attrs.Bytes())
	if empty {
		out.WriteString("/>\n")
		return out.Bytes(), nil
	}
	out.WriteString(">")
	out.Write(body.Bytes())
	out.WriteString("\n</")
	out.WriteString(e.qname(ns, local))
	out.WriteString(">\n")
	return out.Bytes(), nil
}

type encoder struct {
	out    *bytes.Buffer
	prefix map[string]string // namespace → prefix
	order  []string          // namespaces in order of first use
	used   map[string]bool   // prefixes taken
}

// use declares ns (on the root) the first time it is needed.
func (e *encoder) use(ns string) {
	if ns == "" || e.prefix[ns] != "" {
		return
	}
	if e.used == nil {
		e.used = map[string]bool{}
	}
	p := prefixes[ns]
	if p == "" || e.used[p] {
		for i := 1; ; i++ {
			p = "ns" + strconv.Itoa(i)
			if !e.used[p] {
				break
			}
		}
	}
	e.used[p] = true
	e.prefix[ns] = p
	e.order = append(e.order, ns)
}

func (e *encoder) qname(ns, local string) string {
	if ns == "" {
		return local
	}
	e.use(ns)
	return e.prefix[ns] + ":" + local
}

func (e *encoder) attrs(w *bytes.Buffer, p *plan, v reflect.Value, path string) error {
	for _, f := range p.attrs {
		fv := v.FieldByIndex(f.index)
		if f.card == cOpt {
			if fv.IsNil() {
				continue
			}
			fv = fv.Elem()
		}
		s, err := formatSimple(f, fv)
		if err != nil {
			return &MarshalError{Path: path + "/@" + f.local, Msg: err.Error()}
		}
		if s == "" && f.card == cOne && f.hasFixed {
			s = f.fixed
		}
		if err := checkChars(s); err != nil {
			return &MarshalError{Path: path + "/@" + f.local, Msg: err.Error()}
		}
		w.WriteByte(' ')
		w.WriteString(e.qname(f.ns, f.local))
		w.WriteString(`="`)
		escapeAttr(w, s)
		w.WriteByte('"')
	}
	return nil
}

// children writes the element children of v and reports whether there were none.
func (e *encoder) children(p *plan, v reflect.Value, path string, depth int) (bool, error) {
	if p.text != nil {
		fv := v.FieldByIndex(p.text.index)
		if p.text.card == cOpt {
			if fv.IsNil() {
				return true, nil
			}
			fv = fv.Elem()
		}
		s, err := formatSimple(p.text, fv)
		if err != nil {
			return false, &MarshalError{Path: path, Msg: err.Error()}
		}
		if err := checkChars(s); err != nil {
			return false, &MarshalError{Path: path, Msg: err.Error()}
		}
		escapeText(e.out, s)
		return s == "", nil
	}
	for id, members := range p.choices {
		set := 0
		for _, i := range members {
			fv := v.FieldByIndex(p.elems[i].index)
			if !fv.IsNil() && !(fv.Kind() == reflect.Slice && fv.Len() == 0) {
				set++
			}
		}
		if set > 1 {
			names := ""
			for _, i := range members {
				names += " " + p.elems[i].local
			}
			return false, &MarshalError{Path: path, Msg: fmt.Sprintf("choice group %d: only one of%s may be set", id, names)}
		}
	}
	empty := true
	counts := map[string]int{}
	for _, f := range p.elems {
		fv := v.FieldByIndex(f.index)
		switch f.card {
		case cOne:
			empty = false
			if err := e.element(f, fv, path, depth, counts); err != nil {
				return false, err
			}
		case cOpt:
			if fv.IsNil() {
				continue
			}
			empty = false
			if err := e.element(f, fv.Elem(), path, depth, counts); err != nil {
				return false, err
			}
		case cMany:
			for i := 0; i < fv.Len(); i++ {
				empty = false
				if err := e.element(f, fv.Index(i), path, depth, counts); err != nil {
					return false, err
				}
			}
		}
	}
	return empty, nil
}

func (e *encoder) element(f *field, v reflect.Value, parent string, depth int, counts map[string]int) error {
	counts[f.local]++
	path := parent + "/" + f.local
	if f.card == cMany {
		path = fmt.Sprintf("%s[%d]", path, counts[f.local])
	}
	e.out.WriteByte('\n')
	indent(e.out, depth)
	name := e.qname(f.ns, f.local)
	e.out.WriteByte('<')
	e.out.WriteString(name)
	if f.val != vStruct {
		s, err := formatSimple(f, v)
		if err != nil {
			return &MarshalError{Path: path, Msg: err.Error()}
		}
		if err := checkChars(s); err != nil {
			return &MarshalError{Path: path, Msg: err.Error()}
		}
		e.out.WriteByte('>')
		escapeText(e.out, s)
	} else {
		p, err := planOf(f.elemType)
		if err != nil {
			return err
		}
		if err := e.attrs(e.out, p, v, path); err != nil {
			return err
		}
		e.out.WriteByte('>')
		mark := e.out.Len()
		empty, err := e.children(p, v, path, depth+1)
		if err != nil {
			return err
		}
		if empty && e.out.Len() == mark {
			// <x></x> → <x/>: rewrite the '>' just written.
			e.out.Truncate(mark - 1)
			e.out.WriteString("/>")
			return nil
		}
		if p.text == nil {
			e.out.WriteByte('\n')
			indent(e.out, depth)
		}
	}
	e.out.WriteString("</")
	e.out.WriteString(name)
	e.out.WriteByte('>')
	return nil
}

func indent(w *bytes.Buffer, depth int) {
	for i := 0; i < depth; i++ {
		w.WriteString("  ")
	}
}

func formatSimple(f *field, v reflect.Value) (string, error) {
	switch f.val {
	case vString:
		return v.String(), nil
	case vBool:
		if v.Bool() {
			return "true", nil
		}
		return "false", nil
	case vInt:
		return strconv.FormatInt(v.Int(), 10), nil
	case vUint:
		return strconv.FormatUint(v.Uint(), 10), nil
	case vFloat:
		return strconv.FormatFloat(v.Float(), 'G', -1, 64), nil
	case vBytes:
		return base64.StdEncoding.EncodeToString(v.Bytes()), nil
	}
	return "", fmt.Errorf("not a simple value")
}

// checkChars refuses what XML 1.0 cannot carry: invalid UTF-8 and control
// characters other than tab, newline and carriage return.
func checkChars(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return fmt.Errorf("invalid UTF-8 at byte %d", i)
			}
		}
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF) {
			return fmt.Errorf("character U+%04X at byte %d is not allowed in XML", r, i)
		}
	}
	return nil
}

func escapeText(w *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '\r':
			rep = "&#xD;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(rep)
		last = i + 1
	}
	w.WriteString(s[last:])
}

func escapeAttr(w *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '"':
			rep = "&quot;"
		case '\t':
			rep = "&#x9;"
		case '\n':
			rep = "&#xA;"
		case '\r':
			rep = "&#xD;"
		default:
			continue
		}
		w.WriteString(s[last:i])
		w.WriteString(rep)
		last = i + 1
	}
	w.WriteString(s[last:])
}

// Namespaces returns the namespaces a marshalled m declares, sorted.
func Namespaces(m Message) ([]string, error) {
	rv := reflect.ValueOf(m)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("xsd: nil message")
	}
	ns, local := m.XMLName()
	e := &encoder{prefix: map[string]string{}, out: &bytes.Buffer{}}
	e.use(ns)
	p, err := planOf(rv.Elem().Type())
	if err != nil {
		return nil, err
	}
	if _, err := e.children(p, rv.Elem(), "/"+local, 1); err != nil {
		return nil, err
	}
	out := append([]string(nil), e.order...)
	sort.Strings(out)
	return out, nil
}

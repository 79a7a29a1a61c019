package xsd

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"strings"

	"github.com/xagw/xagw/internal/safexml"
)

// ParseError says what is wrong with a document and where.
type ParseError struct {
	Path string // element path, e.g. "/OZG.Antrag.130101/angabenZurPerson"
	Line int    // 1-based, 0 when unknown
	Msg  string
	Err  error // underlying error (for example a *safexml.Error), may be nil
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("xsd: parse")
	if e.Line > 0 {
		fmt.Fprintf(&b, " line %d", e.Line)
	}
	if e.Path != "" {
		b.WriteString(" ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// LogValue keeps document values out of logs: Msg may quote them, so a
// logged ParseError shows only path and line.
func (e *ParseError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("path", e.Path), slog.Int("line", e.Line))
}

// xsiNS is the XML Schema instance namespace.
const xsiNS = "http://www.w3.org/2001/XMLSchema-instance"

// Unmarshal parses an XML document into m, a pointer to a generated root
// message struct. The document is untrusted: it is checked with
// internal/safexml (limits, no DTD or entities) first. Parsing is strict:
// an element or attribute the type does not declare, elements out of
// schema order, a missing required element or attribute and text where
// only elements may appear are errors, so nothing is silently dropped.
// xsi:schemaLocation hints are accepted and ignored; comments and
// processing instructions are not part of the model.
func Unmarshal(data []byte, m Message, limits safexml.Limits) error {
	if err := safexml.Check(data, limits); err != nil {
		var se *safexml.Error
		pe := &ParseError{Msg: err.Error(), Err: err}
		if errors.As(err, &se) {
			pe.Line = se.Line
		}
		return pe
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	return UnmarshalTokens(&normalizingReader{d: d, data: data}, m)
}

// normalizingReader gives encoding/xml's tokens with attribute values
// normalised as XML 1.0 §3.3.3 demands (a literal tab, line end or CR LF
// in a value is a space; a character reference such as &#10; stays what it
// says), which encoding/xml does not do. Conforming parsers (libxml2, and
// safexml for trees) report normalised values, so a message reads the same
// through Unmarshal and through UnmarshalTokens on a validator's tokens.
type normalizingReader struct {
	d    *xml.Decoder
	data []byte
}

func (r *normalizingReader) InputPos() (line, column int) { return r.d.InputPos() }

func (r *normalizingReader) Token() (xml.Token, error) {
	from := r.d.InputOffset()
	tok, err := r.d.Token()
	if err != nil {
		return tok, err
	}
	se, ok := tok.(xml.StartElement)
	if !ok || len(se.Attr) == 0 {
		return tok, nil
	}
	to := r.d.InputOffset()
	if from < 0 || to > int64(len(r.data)) || from >= to {
		return tok, nil
	}
	raw := r.data[from:to]
	if bytes.IndexAny(raw, "\t\n\r") < 0 {
		return tok, nil // nothing to normalise: the common case
	}
	vals := rawAttrValues(raw)
	if len(vals) != len(se.Attr) {
		return tok, nil // cannot happen for a tag encoding/xml accepted
	}
	attrs := make([]xml.Attr, len(se.Attr))
	copy(attrs, se.Attr)
	for i, v := range vals {
		if bytes.IndexAny(v, "\t\n\r") >= 0 {
			attrs[i].Value = safexml.DecodeAttributeValue(v) // Unmarshal ran safexml.Check on data
		}
	}
	se.Attr = attrs
	return se, nil
}

// rawAttrValues returns the raw values of the attributes of a start tag
// ("<name a='v' b=\"w\">"), in order.
func rawAttrValues(tag []byte) [][]byte {
	i := bytes.IndexAny(tag, " \t\n\r")
	if i < 0 {
		return nil
	}
	var out [][]byte
	for i < len(tag) {
		eq := bytes.IndexByte(tag[i:], '=')
		if eq < 0 {
			break
		}
		i += eq + 1
		for i < len(tag) && (tag[i] == ' ' || tag[i] == '\t' || tag[i] == '\n' || tag[i] == '\r') {
			i++
		}
		if i >= len(tag) || (tag[i] != '"' && tag[i] != '\'') {
			break
		}
		end := bytes.IndexByte(tag[i+1:], tag[i])
		if end < 0 {
			break
		}
		out = append(out, tag[i+1:i+1+end])
		i += end + 2
	}
	return out
}

// TokenReader is a source of XML tokens for UnmarshalTokens; *xml.Decoder
// is one. Token returns io.EOF after the last token; InputPos gives the
// current line for error messages. CharData may be reused after the next
// call (UnmarshalTokens copies what it keeps).
type TokenReader interface {
	Token() (xml.Token, error)
	InputPos() (line, column int)
}

// UnmarshalTokens builds m from the tokens of a document that has already
// been read and checked by a conforming parser, for example during schema
// validation, so a message is not parsed twice. It is as strict as
// Unmarshal. The tokens must come from a well-formed document that passed
// safexml's checks: UnmarshalTokens does not check limits itself.
func UnmarshalTokens(r TokenReader, m Message) error {
	rv := reflect.ValueOf(m)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("xsd: Unmarshal needs a non-nil pointer to a generated message struct, got %T", m)
	}
	d := &decoder{d: r}
	wantNS, wantLocal := m.XMLName()
	for {
		tok, err := d.d.Token()
		if err != nil {
			return d.fail(nil, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if se.Name.Space != wantNS || se.Name.Local != wantLocal {
			return &ParseError{Line: d.line(), Path: "/" + se.Name.Local, Msg: fmt.Sprintf("root element is {%s}%s, want {%s}%s", se.Name.Space, se.Name.Local, wantNS, wantLocal)}
		}
		rv.Elem().Set(reflect.Zero(rv.Elem().Type()))
		p, err := planOf(rv.Elem().Type())
		if err != nil {
			return err
		}
		if err := d.structure(p, rv.Elem(), se, &elemPath{name: se.Name.Local}); err != nil {
			return err
		}
		break
	}
	// Nothing but whitespace, comments and PIs may follow the root.
	for {
		tok, err := d.d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return d.fail(nil, err)
		}
		if cd, ok := tok.(xml.CharData); ok && len(bytes.TrimSpace(cd)) > 0 {
			return &ParseError{Line: d.line(), Msg: "text after the root element"}
		}
		if _, ok := tok.(xml.StartElement); ok {
			return &ParseError{Line: d.line(), Msg: "a second root element"}
		}
	}
}

type decoder struct {
	d TokenReader
}

// elemPath is the path of the element being read ("/a/b[2]/c"), turned
// into a string only for an error message.
type elemPath struct {
	parent *elemPath
	name   string
	idx    int // of a repeated element, 1-based; 0 for a single one
}

func (p *elemPath) String() string {
	if p == nil {
		return ""
	}
	s := p.parent.String() + "/" + p.name
	if p.idx > 0 {
		s += "[" + strconv.Itoa(p.idx) + "]"
	}
	return s
}

func (d *decoder) line() int {
	l, _ := d.d.InputPos()
	return l
}

func (d *decoder) fail(path *elemPath, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &ParseError{Path: path.String(), Line: d.line(), Msg: err.Error(), Err: err}
}

func (d *decoder) structure(p *plan, v reflect.Value, se xml.StartElement, path *elemPath) error {
	line := d.line()
	seenAttr := make([]bool, len(p.attrs))
	for _, a := range se.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if a.Name.Space == xsiNS {
			if a.Name.Local == "schemaLocation" || a.Name.Local == "noNamespaceSchemaLocation" {
				continue
			}
			return &ParseError{Path: path.String(), Line: line, Msg: fmt.Sprintf("xsi:%s is not supported", a.Name.Local)}
		}
		i := -1
		for j, f := range p.attrs {
			if f.local == a.Name.Local && f.ns == a.Name.Space {
				i = j
				break
			}
		}
		if i < 0 {
			return &ParseError{Path: path.String(), Line: line, Msg: fmt.Sprintf("unexpected attribute %s", attrName(a.Name))}
		}
		if seenAttr[i] {
			return &ParseError{Path: path.String(), Line: line, Msg: fmt.Sprintf("attribute %s twice", a.Name.Local)}
		}
		seenAttr[i] = true
		f := p.attrs[i]
		fv := v.FieldByIndex(f.index)
		if f.card == cOpt {
			fv.Set(reflect.New(f.elemType))
			fv = fv.Elem()
		}
		if err := setSimple(f, fv, a.Value); err != nil {
			return &ParseError{Path: path.String() + "/@" + a.Name.Local, Line: line, Msg: err.Error()}
		}
	}
	for i, f := range p.attrs {
		if !seenAttr[i] && f.card == cOne {
			return &ParseError{Path: path.String(), Line: line, Msg: fmt.Sprintf("required attribute %s is missing", f.local)}
		}
	}

	if p.text != nil {
		s, err := d.text(path)
		if err != nil {
			return err
		}
		fv := v.FieldByIndex(p.text.index)
		if p.text.card == cOpt {
			fv.Set(reflect.New(p.text.elemType))
			fv = fv.Elem()
		}
		if err := setText(p.text, fv, s); err != nil {
			return &ParseError{Path: path.String(), Line: line, Msg: err.Error()}
		}
		return nil
	}

	seen := make([]int, len(p.elems))
	cursor := 0
	for {
		tok, err := d.d.Token()
		if err != nil {
			return d.fail(path, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return &ParseError{Path: path.String(), Line: d.line(), Msg: fmt.Sprintf("unexpected text %q: this element holds elements only", shorten(string(bytes.TrimSpace(t))))}
			}
		case xml.EndElement:
			return d.finish(p, v, seen, cursor, path, line)
		case xml.StartElement:
			cline := d.line()
			idxs := p.byName[t.Name.Space+" "+t.Name.Local]
			j := -1
			for _, k := range idxs {
				if k >= cursor {
					j = k
					break
				}
			}
			if j < 0 {
				msg := fmt.Sprintf("unexpected element %s", elemName(t.Name))
				if len(idxs) > 0 && seen[idxs[len(idxs)-1]] > 0 && p.elems[idxs[len(idxs)-1]].card != cMany {
					msg = fmt.Sprintf("element %s may occur only once", t.Name.Local)
				} else if len(idxs) > 0 {
					msg += " (out of schema order)"
				} else if want := d.expected(p, cursor, seen); want != "" {
					msg += "; expected " + want
				}
				return &ParseError{Path: path.String(), Line: cline, Msg: msg}
			}
			// Everything skipped over must be optional.
			for k := cursor; k < j; k++ {
				if f := p.elems[k]; seen[k] == 0 && f.card == cOne {
					return &ParseError{Path: path.String(), Line: cline, Msg: fmt.Sprintf("missing element %s before %s", f.local, elemName(t.Name))}
				}
			}
			f := p.elems[j]
			if f.card != cMany && seen[j] > 0 {
				return &ParseError{Path: path.String(), Line: cline, Msg: fmt.Sprintf("element %s may occur only once", f.local)}
			}
			seen[j]++
			cpath := &elemPath{parent: path, name: f.local}
			if f.card == cMany {
				cpath.idx = seen[j]
			}
			if err := d.value(f, v.FieldByIndex(f.index), t, cpath); err != nil {
				return err
			}
			cursor = j
			if f.card != cMany {
				cursor = j + 1
			}
			if f.choice != 0 {
				// The rest of the choice group is no longer possible.
				members := p.choices[f.choice]
				if last := members[len(members)-1]; last >= cursor && f.card != cMany {
					cursor = last + 1
				}
			}
		}
	}
}

// finish checks, once the element has ended, what the model cannot
// represent: a missing required single element (it would be written back
// as an empty element) and two alternatives of one choice. Too few
// repetitions or an empty choice are representable; reporting those is the
// validator's job, so Parse and Marshal agree on every document.
func (d *decoder) finish(p *plan, v reflect.Value, seen []int, cursor int, path *elemPath, line int) error {
	for k, f := range p.elems {
		if f.card == cOne && seen[k] == 0 {
			return &ParseError{Path: path.String(), Line: line, Msg: fmt.Sprintf("required element %s is missing", f.local)}
		}
	}
	for _, members := range p.choices {
		n := 0
		for _, k := range members {
			if seen[k] > 0 {
				n++
			}
		}
		if n > 1 {
			return &ParseError{Path: path.String(), Line: line, Msg: fmt.Sprintf("more than one alternative of the choice %s", choiceNames(p, members))}
		}
	}
	return nil
}

func choiceNames(p *plan, members []int) string {
	names := make([]string, len(members))
	for i, k := range members {
		names[i] = p.elems[k].local
	}
	return "(" + strings.Join(names, " | ") + ")"
}

func (d *decoder) expected(p *plan, cursor int, seen []int) string {
	for k := cursor; k < len(p.elems); k++ {
		if seen[k] == 0 && p.elems[k].card == cOne {
			return p.elems[k].local
		}
	}
	return ""
}

func (d *decoder) value(f *field, fv reflect.Value, se xml.StartElement, path *elemPath) error {
	var target reflect.Value
	switch f.card {
	case cOne:
		target = fv
	case cOpt:
		fv.Set(reflect.New(f.elemType))
		target = fv.Elem()
	case cMany:
		fv.Set(reflect.Append(fv, reflect.Zero(f.elemType)))
		target = fv.Index(fv.Len() - 1)
	}
	if f.val == vStruct {
		p, err := planOf(f.elemType)
		if err != nil {
			return err
		}
		return d.structure(p, target, se, path)
	}
	line := d.line()
	for _, a := range se.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		return &ParseError{Path: path.String(), Line: line, Msg: fmt.Sprintf("unexpected attribute %s", attrName(a.Name))}
	}
	s, err := d.text(path)
	if err != nil {
		return err
	}
	if err := setText(f, target, s); err != nil {
		return &ParseError{Path: path.String(), Line: line, Msg: err.Error()}
	}
	return nil
}

// text reads character data up to the end of the current element.
func (d *decoder) text(path *elemPath) ([]byte, error) {
	var b []byte
	for {
		tok, err := d.d.Token()
		if err != nil {
			return nil, d.fail(path, err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b = append(b, t...)
		case xml.EndElement:
			return b, nil
		case xml.StartElement:
			return nil, &ParseError{Path: path.String(), Line: d.line(), Msg: fmt.Sprintf("unexpected element %s in a simple value", elemName(t.Name))}
		}
	}
}

// setText sets a simple value from element text the decoder owns.
func setText(f *field, v reflect.Value, b []byte) error {
	if f.val == vBytes {
		out, err := decodeBase64Owned(b)
		if err != nil {
			return err
		}
		v.SetBytes(out)
		return nil
	}
	return setSimple(f, v, string(b))
}

func setSimple(f *field, v reflect.Value, s string) error {
	switch f.val {
	case vString:
		v.SetString(s)
	case vBool:
		switch strings.TrimSpace(s) {
		case "true", "1":
			v.SetBool(true)
		case "false", "0":
			v.SetBool(false)
		default:
			return fmt.Errorf("%q is not a boolean (true, false, 1, 0)", shorten(s))
		}
	case vInt:
		n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(s), "+"), 10, 64)
		if err != nil || v.OverflowInt(n) {
			return fmt.Errorf("%q is not an integer in range", shorten(s))
		}
		v.SetInt(n)
	case vUint:
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(s), "+"), 10, 64)
		if err != nil || v.OverflowUint(n) {
			return fmt.Errorf("%q is not a non-negative integer in range", shorten(s))
		}
		v.SetUint(n)
	case vFloat:
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", shorten(s))
		}
		v.SetFloat(n)
	case vBytes:
		b, err := decodeBase64(s)
		if err != nil {
			return err
		}
		v.SetBytes(b)
	default:
		return fmt.Errorf("not a simple value")
	}
	return nil
}

// decodeBase64 accepts xs:base64Binary: whitespace anywhere is ignored.
func decodeBase64(s string) ([]byte, error) {
	return decodeBase64Owned([]byte(s))
}

// decodeBase64Owned is decodeBase64 on a buffer the caller gives away (its
// whitespace is squeezed out in place).
func decodeBase64Owned(b []byte) ([]byte, error) {
	enc := base64.StdEncoding.Strict()
	out := make([]byte, enc.DecodedLen(len(b)))
	// The decoder skips line ends itself; spaces and tabs are rare, so they
	// are squeezed out only when a first attempt fails.
	m, err := enc.Decode(out, b)
	if err != nil {
		n := 0
		for _, c := range b {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				b[n] = c
				n++
			}
		}
		if n < len(b) {
			m, err = enc.Decode(out, b[:n])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("not valid base64: %v", err)
	}
	return out[:m], nil
}

func elemName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

func attrName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

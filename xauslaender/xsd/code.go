package xsd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
)

var codedType = reflect.TypeOf((*Coded)(nil)).Elem()

// UnmarshalCodeJSON decodes a code type from JSON. A form backend may send
// just the code as a string ("01") or the full object
// ({"code": "01", "listVersionID": "4"}); unknown object keys are an error.
// Generated UnmarshalJSON methods call it with obj pointing at a
// method-less copy of the type.
func UnmarshalCodeJSON(data []byte, obj any, code *string) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		return json.Unmarshal(data, code)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return fmt.Errorf("code: %w", err)
	}
	return nil
}

// CodeAt is a coded value found in a message.
type CodeAt struct {
	// Path is the element path with indices where an element repeats,
	// e.g. "/OZG.Antrag.130101/referenzperson[2]/familiaereBeziehung".
	Path  string
	Value Coded
}

// Codes returns every coded value in m in document order.
func Codes(m Message) ([]CodeAt, error) {
	rv := reflect.ValueOf(m)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("xsd: nil message")
	}
	_, local := m.XMLName()
	var out []CodeAt
	err := walkCodes(rv.Elem(), "/"+local, func(path string, v reflect.Value) {
		out = append(out, CodeAt{Path: path, Value: v.Interface().(Coded)})
	})
	return out, err
}

// FillCodeLists sets listURI and listVersionID on every coded value of m
// that leaves them out: to the schema's fixed values, or for lists whose
// version the schema leaves open, to version(uri) (typically the newest
// list version in the schema bundle; an empty answer leaves it unset).
// Messages built this way say which list each code is from.
func FillCodeLists(m Message, version func(uri string) string) error {
	rv := reflect.ValueOf(m)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("xsd: nil message")
	}
	_, local := m.XMLName()
	return walkCodes(rv.Elem(), "/"+local, func(path string, v reflect.Value) {
		cl := v.Interface().(Coded).CodeList()
		p, err := planOf(v.Type())
		if err != nil {
			return
		}
		for _, f := range p.attrs {
			var want string
			switch f.local {
			case "listURI":
				want = cl.URI
			case "listVersionID":
				want = cl.Version
				if want == "" && version != nil {
					want = version(cl.URI)
				}
			default:
				continue
			}
			if want == "" || f.val != vString {
				continue
			}
			fv := v.FieldByIndex(f.index)
			switch f.card {
			case cOpt:
				if fv.IsNil() {
					s := reflect.New(f.elemType)
					s.Elem().SetString(want)
					fv.Set(s)
				}
			case cOne:
				if fv.String() == "" {
					fv.SetString(want)
				}
			}
		}
	})
}

func walkCodes(v reflect.Value, path string, fn func(string, reflect.Value)) error {
	if v.Type().Implements(codedType) {
		fn(path, v)
		return nil
	}
	p, err := planOf(v.Type())
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, f := range p.elems {
		if f.val != vStruct {
			continue
		}
		fv := v.FieldByIndex(f.index)
		switch f.card {
		case cOne:
			if err := walkCodes(fv, path+"/"+f.local, fn); err != nil {
				return err
			}
		case cOpt:
			if !fv.IsNil() {
				if err := walkCodes(fv.Elem(), path+"/"+f.local, fn); err != nil {
					return err
				}
			}
		case cMany:
			for i := 0; i < fv.Len(); i++ {
				counts[f.local]++
				if err := walkCodes(fv.Index(i), fmt.Sprintf("%s/%s[%d]", path, f.local, counts[f.local]), fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

var codePaths sync.Map // reflect.Type → map[string]CodeList

// CodePaths returns, for a generated root message type, the code list of
// every element path (without indices) that holds a coded value. It is the
// table the schemas package needs to check codes whose listURI the
// document leaves out.
func CodePaths(m Message) map[string]CodeList {
	t := reflect.TypeOf(m)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := codePaths.Load(t); ok {
		return v.(map[string]CodeList)
	}
	_, local := m.XMLName()
	out := map[string]CodeList{}
	collectCodePaths(t, "/"+local, out, map[reflect.Type]bool{})
	codePaths.Store(t, out)
	return out
}

func collectCodePaths(t reflect.Type, path string, out map[string]CodeList, onStack map[reflect.Type]bool) {
	if t.Implements(codedType) {
		out[path] = reflect.Zero(t).Interface().(Coded).CodeList()
		return
	}
	if onStack[t] {
		return // recursive types: the table covers one level of recursion
	}
	p, err := planOf(t)
	if err != nil {
		return
	}
	onStack[t] = true
	for _, f := range p.elems {
		if f.val == vStruct {
			collectCodePaths(f.elemType, path+"/"+f.local, out, onStack)
		}
	}
	delete(onStack, t)
}

// FillFixed sets every empty required attribute that has a fixed value in
// the schema (such as standard="XAusländer" and version="26.11" on the
// root) to that value, throughout m.
func FillFixed(m Message) error {
	rv := reflect.ValueOf(m)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("xsd: nil message")
	}
	return fillFixed(rv.Elem())
}

func fillFixed(v reflect.Value) error {
	p, err := planOf(v.Type())
	if err != nil {
		return err
	}
	for _, f := range p.attrs {
		if f.hasFixed && f.card == cOne && f.val == vString {
			if fv := v.FieldByIndex(f.index); fv.String() == "" {
				fv.SetString(f.fixed)
			}
		}
	}
	for _, f := range p.elems {
		if f.val != vStruct {
			continue
		}
		fv := v.FieldByIndex(f.index)
		switch f.card {
		case cOne:
			err = fillFixed(fv)
		case cOpt:
			if !fv.IsNil() {
				err = fillFixed(fv.Elem())
			}
		case cMany:
			for i := 0; i < fv.Len() && err == nil; i++ {
				err = fillFixed(fv.Index(i))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var nonEmptyPaths sync.Map // reflect.Type → []string

// NonEmptyPaths returns the element paths (without indices) of a generated
// root message type that are mandatory DIN 91379 datatypeC elements: an
// empty value there is a reason for an XInneres Rückweisung (error S030).
func NonEmptyPaths(m Message) []string {
	t := reflect.TypeOf(m)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := nonEmptyPaths.Load(t); ok {
		return v.([]string)
	}
	_, local := m.XMLName()
	var out []string
	collectPaths(t, "/"+local, func(f *field) bool { return f.nonEmpty }, &out, map[reflect.Type]bool{})
	nonEmptyPaths.Store(t, out)
	return out
}

// collectPaths appends the paths of the element fields for which want is
// true, below type t.
func collectPaths(t reflect.Type, path string, want func(*field) bool, out *[]string, onStack map[reflect.Type]bool) {
	if onStack[t] {
		return
	}
	p, err := planOf(t)
	if err != nil {
		return
	}
	onStack[t] = true
	for _, f := range p.elems {
		if want(f) {
			*out = append(*out, path+"/"+f.local)
		}
		if f.val == vStruct {
			collectPaths(f.elemType, path+"/"+f.local, want, out, onStack)
		}
	}
	delete(onStack, t)
}

var base64Paths, plainBase64Paths sync.Map // reflect.Type → []string

// PlainBase64Paths returns the subset of Base64Paths whose text is of type
// xs:base64Binary itself (directly, or as simple content extended only by
// attributes; no facets, no default or fixed value, not nillable) in the
// schemas the type was generated from: for those, the strict base64 check
// is the whole check of their text.
func PlainBase64Paths(m Message) []string {
	t := reflect.TypeOf(m)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := plainBase64Paths.Load(t); ok {
		return v.([]string)
	}
	_, local := m.XMLName()
	var out []string
	collectPaths(t, "/"+local, func(f *field) bool {
		if !f.plain {
			return false
		}
		if f.val == vBytes {
			return true
		}
		// An element whose type adds attributes to xs:base64Binary: its
		// text is the base64 value (the Value field of the struct).
		p, err := planOf(f.elemType)
		return err == nil && p.text != nil && p.text.val == vBytes && len(p.elems) == 0
	}, &out, map[reflect.Type]bool{})
	plainBase64Paths.Store(t, out)
	return out
}

// Base64Paths returns the element paths (without indices) of a generated
// root message type whose content is xs:base64Binary (documents), for the
// strict base64 check of package schemas.
func Base64Paths(m Message) []string {
	t := reflect.TypeOf(m)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := base64Paths.Load(t); ok {
		return v.([]string)
	}
	_, local := m.XMLName()
	var out []string
	collectBase64(t, "/"+local, &out, map[reflect.Type]bool{})
	base64Paths.Store(t, out)
	return out
}

func collectBase64(t reflect.Type, path string, out *[]string, onStack map[reflect.Type]bool) {
	if onStack[t] {
		return
	}
	p, err := planOf(t)
	if err != nil {
		return
	}
	onStack[t] = true
	if p.text != nil && p.text.val == vBytes {
		*out = append(*out, path)
	}
	for _, f := range p.elems {
		switch f.val {
		case vBytes:
			*out = append(*out, path+"/"+f.local)
		case vStruct:
			collectBase64(f.elemType, path+"/"+f.local, out, onStack)
		}
	}
	delete(onStack, t)
}

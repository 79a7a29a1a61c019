package xsd

import (
	"reflect"
)

// Text returns the simple value at an element path below m, given as
// local element names (namespaces are ignored; attributes as "@name"),
// e.g. Text(msg, "nachrichtenkopf.g2g", "identifikation.nachricht",
// "nachrichtenUUID"). Pointers are followed, and of a repeated element the
// first occurrence is taken; ok is false when an element on the path is
// absent or the path does not exist in the type. It lets version-independent
// code read fields that every XAusländer version has.
func Text(m any, path ...string) (string, bool) {
	v, f, ok := lookup(reflect.ValueOf(m), path)
	if !ok || f == nil || f.val == vStruct {
		return "", false
	}
	s, err := formatSimple(f, v)
	if err != nil {
		return "", false
	}
	return s, true
}

// Node returns the struct value at an element path below m (see Text),
// for example a code element, as an interface value.
func Node(m any, path ...string) (any, bool) {
	v, f, ok := lookup(reflect.ValueOf(m), path)
	if !ok || (f != nil && f.val != vStruct) || !v.CanAddr() {
		return nil, false
	}
	return v.Addr().Interface(), true
}

func lookup(v reflect.Value, path []string) (reflect.Value, *field, bool) {
	var cur *field
	for _, name := range path {
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				return reflect.Value{}, nil, false
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, nil, false
		}
		p, err := planOf(v.Type())
		if err != nil {
			return reflect.Value{}, nil, false
		}
		var f *field
		if len(name) > 1 && name[0] == '@' {
			for _, a := range p.attrs {
				if a.local == name[1:] {
					f = a
				}
			}
		} else {
			for _, e := range p.elems {
				if e.local == name {
					f = e
					break
				}
			}
		}
		if f == nil {
			return reflect.Value{}, nil, false
		}
		fv := v.FieldByIndex(f.index)
		switch f.card {
		case cOpt:
			if fv.IsNil() {
				return reflect.Value{}, nil, false
			}
			fv = fv.Elem()
		case cMany:
			if fv.Len() == 0 {
				return reflect.Value{}, nil, false
			}
			fv = fv.Index(0)
		}
		v, cur = fv, f
	}
	return v, cur, cur != nil
}

// Bytes returns the binary (xs:base64Binary) value at an element path
// below m (see Text), without copying.
func Bytes(m any, path ...string) ([]byte, bool) {
	v, f, ok := lookup(reflect.ValueOf(m), path)
	if !ok || f == nil || f.val != vBytes {
		return nil, false
	}
	return v.Bytes(), true
}

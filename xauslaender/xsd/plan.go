package xsd

import (
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

type fieldKind uint8

const (
	kElem fieldKind = iota
	kAttr
	kText
)

type card uint8

const (
	cOne  card = iota // value field: required
	cOpt              // pointer field: optional
	cMany             // slice field: repeated
)

type valKind uint8

const (
	vString valKind = iota
	vBool
	vInt
	vUint
	vFloat
	vBytes
	vStruct
)

// field is the plan of one XML item of a struct (embedded structs are
// flattened into their parent's plan).
type field struct {
	goName   string
	index    []int
	kind     fieldKind
	local    string
	ns       string
	card     card
	val      valKind
	elemType reflect.Type // type after stripping pointer/slice
	min      int          // repeated: lower bound
	choice   int          // 0: not in a choice
	choiceOK bool         // the choice group may be empty
	fixed    string
	hasFixed bool
	nonEmpty bool // mandatory DIN 91379 datatypeC: must not be empty (XInneres S030)
	plain    bool // text of type xs:base64Binary itself (no facets, value constraint or nil)
	json     string
}

type plan struct {
	typ   reflect.Type
	elems []*field // in schema order
	attrs []*field
	text  *field
	// choices maps group id → member indexes in elems.
	choices map[int][]int
	// byName finds element fields: key ns + " " + local.
	byName map[string][]int
}

var plans sync.Map // reflect.Type → *plan or error

var bytesType = reflect.TypeOf([]byte(nil))

func planOf(t reflect.Type) (*plan, error) {
	if v, ok := plans.Load(t); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return v.(*plan), nil
	}
	p := &plan{typ: t, choices: map[int][]int{}, byName: map[string][]int{}}
	if err := p.add(t, nil); err != nil {
		plans.Store(t, err)
		return nil, err
	}
	for i, f := range p.elems {
		k := f.ns + " " + f.local
		p.byName[k] = append(p.byName[k], i)
		if f.choice != 0 {
			p.choices[f.choice] = append(p.choices[f.choice], i)
		}
	}
	plans.Store(t, p)
	return p, nil
}

func (p *plan) add(t reflect.Type, prefix []int) error {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		idx := append(append([]int(nil), prefix...), i)
		tag, hasTag := sf.Tag.Lookup("xsd")
		if sf.Anonymous && !hasTag {
			if sf.Type.Kind() != reflect.Struct {
				return fmt.Errorf("xsd: %s.%s: embedded field must be a struct", t, sf.Name)
			}
			if err := p.add(sf.Type, idx); err != nil {
				return err
			}
			continue
		}
		if !hasTag || tag == "-" || !sf.IsExported() {
			continue
		}
		f, err := parseField(sf, tag)
		if err != nil {
			return fmt.Errorf("xsd: %s.%s: %w", t, sf.Name, err)
		}
		f.index = idx
		switch f.kind {
		case kAttr:
			p.attrs = append(p.attrs, f)
		case kText:
			if p.text != nil {
				return fmt.Errorf("xsd: %s: two text fields", t)
			}
			p.text = f
		default:
			p.elems = append(p.elems, f)
		}
	}
	return nil
}

func parseField(sf reflect.StructField, tag string) (*field, error) {
	f := &field{goName: sf.Name, json: strings.Split(sf.Tag.Get("json"), ",")[0]}
	parts := strings.Split(tag, ",")
	f.local = parts[0]
	for _, opt := range parts[1:] {
		k, v, _ := strings.Cut(opt, "=")
		switch k {
		case "attr":
			f.kind = kAttr
		case "text":
			f.kind = kText
		case "ns":
			u, err := url.PathUnescape(v)
			if err != nil {
				return nil, err
			}
			f.ns = u
		case "min":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("bad min %q", v)
			}
			f.min = n
		case "nonempty":
			f.nonEmpty = true
		case "plain":
			f.plain = true
		case "choice":
			f.choiceOK = strings.HasSuffix(v, "?")
			n, err := strconv.Atoi(strings.TrimSuffix(v, "?"))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bad choice %q", v)
			}
			f.choice = n
		case "fixed":
			u, err := url.PathUnescape(v)
			if err != nil {
				return nil, err
			}
			f.fixed, f.hasFixed = u, true
		default:
			return nil, fmt.Errorf("unknown xsd tag option %q", opt)
		}
	}
	if f.kind != kText && f.local == "" {
		return nil, fmt.Errorf("xsd tag without a name")
	}
	t := sf.Type
	switch {
	case t == bytesType:
		f.card = cOne
	case t.Kind() == reflect.Pointer:
		f.card = cOpt
		t = t.Elem()
	case t.Kind() == reflect.Slice:
		f.card = cMany
		t = t.Elem()
		if t.Kind() == reflect.Pointer {
			return nil, fmt.Errorf("slices of pointers are not supported")
		}
	}
	f.elemType = t
	switch {
	case t == bytesType:
		f.val = vBytes
	case t.Kind() == reflect.String:
		f.val = vString
	case t.Kind() == reflect.Bool:
		f.val = vBool
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		f.val = vInt
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uint64:
		f.val = vUint
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		f.val = vFloat
	case t.Kind() == reflect.Struct:
		f.val = vStruct
	default:
		return nil, fmt.Errorf("unsupported field type %s", sf.Type)
	}
	if (f.kind == kAttr || f.kind == kText) && (f.val == vStruct || f.card == cMany) {
		return nil, fmt.Errorf("attribute or text field of type %s", sf.Type)
	}
	if f.plain && f.val != vBytes && f.val != vStruct {
		return nil, fmt.Errorf("plain on a field of type %s (only for xs:base64Binary content)", sf.Type)
	}
	if f.choice != 0 && f.card == cOne {
		return nil, fmt.Errorf("choice member must be a pointer or slice")
	}
	return f, nil
}

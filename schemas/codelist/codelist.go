// Package codelist reads OASIS genericode 1.0 code lists as published on
// XRepository and checks coded values (listURI, listVersionID, code) against
// them.
//
// XÖV messages carry codes as <elem listURI=".." listVersionID=".."><code>..</code></elem>.
// Codes whose values are enumerated in the XSD are checked by schema
// validation; codes of "type 3" lists (values maintained outside the schema,
// such as the ABH keys) can only be checked against the list itself, which is
// what this package does.
package codelist

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/xagw/xagw/internal/safexml"
)

// Namespace is the genericode 1.0 namespace.
const Namespace = "http://docs.oasis-open.org/codelist/ns/genericode/1.0/"

// List is one version of one code list.
type List struct {
	// URI is the canonical URI (what messages put in listURI).
	URI string
	// Version is the list version (what messages put in listVersionID).
	Version string
	// VersionURI is the canonical version URI, e.g. "urn:…:abhkennung_64.0".
	VersionURI string
	ShortName  string
	LongName   string
	// KeyColumn is the column whose values are the codes: the recommended key
	// (xoev "empfohleneCodeSpalte"/"recommendedKeyColumn"), else the first key,
	// else the first column.
	KeyColumn string
	// Columns are the column ids in declaration order.
	Columns []string
	// File is where the list was loaded from, if from a file.
	File string

	rows  []Row
	index map[string]int
}

// Row is one entry of a code list: column id → value.
type Row map[string]string

// Len returns the number of entries.
func (l *List) Len() int { return len(l.rows) }

// Rows returns the entries in list order. The caller must not modify them.
func (l *List) Rows() []Row { return l.rows }

// Lookup returns the entry whose key column equals code.
func (l *List) Lookup(code string) (Row, bool) {
	i, ok := l.index[code]
	if !ok {
		return nil, false
	}
	return l.rows[i], true
}

// Contains reports whether code is a value of the key column.
func (l *List) Contains(code string) bool {
	_, ok := l.index[code]
	return ok
}

// Codes returns all codes in list order.
func (l *List) Codes() []string {
	out := make([]string, len(l.rows))
	for i, r := range l.rows {
		out[i] = r[l.KeyColumn]
	}
	return out
}

// Parse reads a genericode document. data is treated as untrusted (size and
// depth limits, no DTD).
func Parse(data []byte) (*List, error) {
	if err := safexml.Check(data, safexml.Limits{MaxBytes: 64 << 20}); err != nil {
		return nil, fmt.Errorf("genericode: %w", err)
	}
	var doc gcCodeList
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("genericode: %w", err)
	}
	if doc.XMLName.Local != "CodeList" || doc.XMLName.Space != Namespace {
		return nil, fmt.Errorf("genericode: root element {%s}%s is not a genericode CodeList", doc.XMLName.Space, doc.XMLName.Local)
	}
	id := doc.Identification
	l := &List{
		URI:        strings.TrimSpace(id.CanonicalURI),
		Version:    strings.TrimSpace(id.Version),
		VersionURI: strings.TrimSpace(id.CanonicalVersionURI),
		ShortName:  strings.TrimSpace(id.ShortName),
		LongName:   strings.TrimSpace(id.LongName),
		index:      map[string]int{},
	}
	if l.URI == "" {
		return nil, errors.New("genericode: Identification/CanonicalUri is missing")
	}
	if l.Version == "" {
		return nil, fmt.Errorf("genericode %s: Identification/Version is missing", l.URI)
	}
	known := map[string]bool{}
	for _, c := range doc.ColumnSet.Columns {
		if c.ID == "" {
			return nil, fmt.Errorf("genericode %s: column without Id", l.URI)
		}
		l.Columns = append(l.Columns, c.ID)
		known[c.ID] = true
	}
	if len(l.Columns) == 0 {
		return nil, fmt.Errorf("genericode %s: no columns", l.URI)
	}
	for _, k := range doc.ColumnSet.Keys {
		if len(k.ColumnRefs) != 1 {
			continue // composite keys do not identify a single code column
		}
		ref := k.ColumnRefs[0].Ref
		if !known[ref] {
			return nil, fmt.Errorf("genericode %s: key %s refers to unknown column %q", l.URI, k.ID, ref)
		}
		recommended := bytes.Contains(k.Annotation.Inner, []byte("empfohleneCodeSpalte")) ||
			bytes.Contains(k.Annotation.Inner, []byte("recommendedKeyColumn"))
		if recommended {
			l.KeyColumn = ref
			break
		}
		if l.KeyColumn == "" {
			l.KeyColumn = ref
		}
	}
	if l.KeyColumn == "" {
		l.KeyColumn = l.Columns[0]
	}
	for i, r := range doc.SimpleCodeList.Rows {
		row := Row{}
		next := 0 // genericode allows values without ColumnRef: they fill columns in order
		for _, v := range r.Values {
			col := v.ColumnRef
			if col == "" {
				if next >= len(l.Columns) {
					return nil, fmt.Errorf("genericode %s: row %d has more values than columns", l.URI, i+1)
				}
				col = l.Columns[next]
			} else if !known[col] {
				return nil, fmt.Errorf("genericode %s: row %d refers to unknown column %q", l.URI, i+1, col)
			}
			for j, c := range l.Columns {
				if c == col {
					next = j + 1
				}
			}
			row[col] = v.SimpleValue
		}
		code, ok := row[l.KeyColumn]
		if !ok {
			return nil, fmt.Errorf("genericode %s: row %d has no value in key column %s", l.URI, i+1, l.KeyColumn)
		}
		if _, dup := l.index[code]; dup {
			return nil, fmt.Errorf("genericode %s: code %q appears twice (row %d)", l.URI, code, i+1)
		}
		l.index[code] = len(l.rows)
		l.rows = append(l.rows, row)
	}
	return l, nil
}

// Load reads a genericode file.
func Load(path string) (*List, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l.File = path
	return l, nil
}

type gcCodeList struct {
	XMLName        xml.Name
	Identification struct {
		ShortName           string `xml:"ShortName"`
		LongName            string `xml:"LongName"`
		Version             string `xml:"Version"`
		CanonicalURI        string `xml:"CanonicalUri"`
		CanonicalVersionURI string `xml:"CanonicalVersionUri"`
	} `xml:"Identification"`
	ColumnSet struct {
		Columns []struct {
			ID string `xml:"Id,attr"`
		} `xml:"Column"`
		Keys []struct {
			ID         string `xml:"Id,attr"`
			Annotation struct {
				Inner []byte `xml:",innerxml"`
			} `xml:"Annotation"`
			ColumnRefs []struct {
				Ref string `xml:"Ref,attr"`
			} `xml:"ColumnRef"`
		} `xml:"Key"`
	} `xml:"ColumnSet"`
	SimpleCodeList struct {
		Rows []struct {
			Values []struct {
				ColumnRef   string `xml:"ColumnRef,attr"`
				SimpleValue string `xml:"SimpleValue"`
			} `xml:"Value"`
		} `xml:"Row"`
	} `xml:"SimpleCodeList"`
}

// Errors returned (wrapped in *CodeError) by Registry.Check.
var (
	ErrUnknownList    = errors.New("code list not available")
	ErrUnknownVersion = errors.New("code list version not available")
	ErrUnknownCode    = errors.New("code not in code list")
	ErrMissingVersion = errors.New("listVersionID missing and the list has several versions")
)

// CodeError says which coded value failed and why.
type CodeError struct {
	Kind    error // one of the Err* values above
	URI     string
	Version string
	Code    string
	// Have lists the available versions for ErrUnknownVersion.
	Have []string
}

func (e *CodeError) Error() string {
	switch e.Kind {
	case ErrUnknownList:
		return fmt.Sprintf("code list %s is not available (code %q cannot be checked)", e.URI, e.Code)
	case ErrUnknownVersion:
		return fmt.Sprintf("code list %s version %s is not available (have %s)", e.URI, e.Version, strings.Join(e.Have, ", "))
	case ErrMissingVersion:
		return fmt.Sprintf("code list %s: listVersionID missing and versions %s are available", e.URI, strings.Join(e.Have, ", "))
	default:
		return fmt.Sprintf("code %q is not in code list %s version %s", e.Code, e.URI, e.Version)
	}
}

func (e *CodeError) Unwrap() error { return e.Kind }

// Registry holds code lists by URI and version. It is immutable after
// construction and safe for concurrent use.
type Registry struct {
	lists map[string]map[string]*List
}

// NewRegistry builds a registry from lists. Two lists with the same URI and
// version are an error.
func NewRegistry(lists ...*List) (*Registry, error) {
	r := &Registry{lists: map[string]map[string]*List{}}
	for _, l := range lists {
		vs := r.lists[l.URI]
		if vs == nil {
			vs = map[string]*List{}
			r.lists[l.URI] = vs
		}
		if old, dup := vs[l.Version]; dup {
			return nil, fmt.Errorf("code list %s version %s loaded twice (%s and %s)", l.URI, l.Version, old.File, l.File)
		}
		vs[l.Version] = l
	}
	return r, nil
}

// LoadDir loads every genericode file (*.xml whose root is gc:CodeList) below
// dir. Other XML files (such as catalog.xml) are skipped.
func LoadDir(dir string) (*Registry, error) {
	var lists []*List
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".xml") {
			return nil
		}
		head, err := readHead(p, 2048)
		if err != nil {
			return err
		}
		if !bytes.Contains(head, []byte(Namespace)) || !bytes.Contains(head, []byte("CodeList")) {
			return nil
		}
		l, err := Load(p)
		if err != nil {
			return err
		}
		lists = append(lists, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("codelist: %w", err)
	}
	return NewRegistry(lists...)
}

func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	k, _ := f.Read(buf)
	return buf[:k], nil
}

// Get returns a list by URI and version.
func (r *Registry) Get(uri, version string) (*List, error) {
	vs := r.lists[uri]
	if len(vs) == 0 {
		return nil, &CodeError{Kind: ErrUnknownList, URI: uri, Version: version}
	}
	l, ok := vs[version]
	if !ok {
		return nil, &CodeError{Kind: ErrUnknownVersion, URI: uri, Version: version, Have: r.Versions(uri)}
	}
	return l, nil
}

// Latest returns the highest available version of a list.
func (r *Registry) Latest(uri string) (*List, bool) {
	vs := r.Versions(uri)
	if len(vs) == 0 {
		return nil, false
	}
	return r.lists[uri][vs[len(vs)-1]], true
}

// Versions returns the available versions of a list, lowest first.
func (r *Registry) Versions(uri string) []string {
	var out []string
	for v := range r.lists[uri] {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return CompareVersions(out[i], out[j]) < 0 })
	return out
}

// Lists returns every list, ordered by URI and version.
func (r *Registry) Lists() []*List {
	var out []*List
	for _, vs := range r.lists {
		for _, l := range vs {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].URI != out[j].URI {
			return out[i].URI < out[j].URI
		}
		return CompareVersions(out[i].Version, out[j].Version) < 0
	})
	return out
}

// Len returns the number of lists (all versions) in the registry.
func (r *Registry) Len() int {
	n := 0
	for _, vs := range r.lists {
		n += len(vs)
	}
	return n
}

// Has reports whether any version of the list is loaded.
func (r *Registry) Has(uri string) bool { return len(r.lists[uri]) > 0 }

// Check verifies that code is a value of list uri in the given version. An
// empty version is accepted only if exactly one version is loaded. The error
// is a *CodeError.
func (r *Registry) Check(uri, version, code string) error {
	var l *List
	if version == "" {
		vs := r.Versions(uri)
		switch len(vs) {
		case 0:
			return &CodeError{Kind: ErrUnknownList, URI: uri, Code: code}
		case 1:
			l = r.lists[uri][vs[0]]
		default:
			return &CodeError{Kind: ErrMissingVersion, URI: uri, Code: code, Have: vs}
		}
	} else {
		var err error
		if l, err = r.Get(uri, version); err != nil {
			ce := err.(*CodeError)
			ce.Code = code
			return ce
		}
	}
	if !l.Contains(code) {
		return &CodeError{Kind: ErrUnknownCode, URI: uri, Version: l.Version, Code: code}
	}
	return nil
}

// CompareVersions orders list versions such as "4", "1.1" and "64.0"
// numerically segment by segment; non-numeric segments compare as strings.
func CompareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		xi, ex := strconv.Atoi(x)
		yi, ey := strconv.Atoi(y)
		if x == "" {
			xi, ex = 0, nil
		}
		if y == "" {
			yi, ey = 0, nil
		}
		if ex == nil && ey == nil {
			if xi != yi {
				if xi < yi {
					return -1
				}
				return 1
			}
			continue
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

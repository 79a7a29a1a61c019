// Package schemas loads XSD bundles as published on XRepository (a directory
// of schema files, an OASIS catalog.xml and genericode code lists), compiles
// each schema set once, and validates documents against them concurrently:
// XSD validity through libxml2, plus the coded values against the bundle's
// code lists.
//
// Imports in these bundles use absolute URLs; they are resolved through the
// bundle's catalog and nothing is ever fetched over the network. Each bundle
// carries its own resolver, so several bundles (for example XAusländer 26.11
// and 1.21.1) can be used in one process.
//
// Validation fails closed: an internal error is an invalid result with a
// problem of kind "internal", never a pass.
package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/xagw/xagw/internal/safexml"
	"github.com/xagw/xagw/internal/sharedpath"
	"github.com/xagw/xagw/schemas/catalog"
	"github.com/xagw/xagw/schemas/codelist"
	"github.com/xagw/xagw/schemas/internal/libxml"
)

// EnvDir names the environment variable that points at a schema bundle
// directory (for users who download bundles from XRepository).
const EnvDir = "XAGW_SCHEMAS"

// XSDNamespace is the namespace of XML Schema.
const XSDNamespace = "http://www.w3.org/2001/XMLSchema"

// DefaultDir returns the bundle directory: $XAGW_SCHEMAS when set (read
// through getenv, which may be nil for os.Getenv), else ../shared/xrepository.
func DefaultDir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv(EnvDir); d != "" {
		return d, nil
	}
	d, err := sharedpath.Find("xrepository")
	if err != nil {
		return "", fmt.Errorf("schemas: no schema bundle: set %s or provide ../shared/xrepository: %w", EnvDir, err)
	}
	return d, nil
}

// Options tune a Bundle. The zero value is ready to use.
type Options struct {
	// Limits apply to every document validated (size, depth). Zero fields
	// take the safexml defaults.
	Limits safexml.Limits
	// StrictCodeLists turns a coded value whose list is not in the bundle
	// into an error instead of a warning.
	StrictCodeLists bool
}

// Bundle is an opened schema bundle. It is safe for concurrent use; schema
// sets are compiled on first use and cached for the life of the Bundle.
type Bundle struct {
	dir     string
	opts    Options
	catalog *catalog.Catalog
	lists   *codelist.Registry
	files   map[string]*SchemaFile // by absolute path
	byNS    map[string][]*SchemaFile
	roots   map[string]*SchemaFile

	mu   sync.Mutex
	sets map[string]*setEntry // by root path
}

// SchemaFile describes one XSD file of the bundle.
type SchemaFile struct {
	Path            string // absolute
	TargetNamespace string
	Version         string   // the xs:schema version attribute
	Includes        []string // absolute paths of included files
	Imports         []Import
}

// Import is one xs:import of a schema file.
type Import struct {
	Namespace      string
	SchemaLocation string
}

type setEntry struct {
	once   sync.Once
	schema *Schema
	err    error
}

// Open indexes the bundle in dir: it loads catalog.xml (if present), reads
// the head of every *.xsd file (target namespace, includes, imports) and loads every genericode code list. Schemas are compiled lazily.
func Open(dir string, opts Options) (*Bundle, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("schemas: bundle directory %s: not a directory (%v)", abs, err)
	}
	b := &Bundle{dir: abs, opts: opts, files: map[string]*SchemaFile{}, byNS: map[string][]*SchemaFile{}, roots: map[string]*SchemaFile{}, sets: map[string]*setEntry{}}
	catPath := filepath.Join(abs, "catalog.xml")
	if _, err := os.Stat(catPath); err == nil {
		if b.catalog, err = catalog.Load(catPath); err != nil {
			return nil, fmt.Errorf("schemas: %w", err)
		}
	}
	if b.lists, err = codelist.LoadDir(abs); err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".xsd") {
			return nil
		}
		f, err := readSchemaHead(p)
		if err != nil {
			return err
		}
		b.files[p] = f
		b.byNS[f.TargetNamespace] = append(b.byNS[f.TargetNamespace], f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	if len(b.files) == 0 {
		return nil, fmt.Errorf("schemas: no *.xsd files in %s", abs)
	}
	b.pickRoots()
	return b, nil
}

// OpenDefault opens DefaultDir(nil) with default options.
func OpenDefault() (*Bundle, error) {
	dir, err := DefaultDir(nil)
	if err != nil {
		return nil, err
	}
	return Open(dir, Options{})
}

// pickRoots chooses, for every namespace, the file that a schema set for
// that namespace is compiled from: a file not included by another file of
// the same namespace. When copies of a schema sit in several places (bundles
// do that for imported base schemas), the catalog's target wins, then the
// shortest path.
func (b *Bundle) pickRoots() {
	var targets map[string]bool
	if b.catalog != nil {
		targets = map[string]bool{}
		for _, t := range b.catalog.Targets() {
			targets[filepath.Clean(t)] = true
		}
	}
	for ns, files := range b.byNS {
		included := map[string]bool{}
		for _, f := range files {
			for _, inc := range f.Includes {
				included[inc] = true
			}
		}
		var cands []*SchemaFile
		for _, f := range files {
			if !included[f.Path] {
				cands = append(cands, f)
			}
		}
		if len(cands) == 0 { // include cycle: take any
			cands = files
		}
		sort.Slice(cands, func(i, j int) bool {
			ti, tj := targets[cands[i].Path], targets[cands[j].Path]
			if ti != tj {
				return ti
			}
			if len(cands[i].Path) != len(cands[j].Path) {
				return len(cands[i].Path) < len(cands[j].Path)
			}
			return cands[i].Path < cands[j].Path
		})
		b.roots[ns] = cands[0]
	}
}

// Dir returns the bundle directory.
func (b *Bundle) Dir() string { return b.dir }

// Catalog returns the bundle's catalog, or nil if it has none.
func (b *Bundle) Catalog() *catalog.Catalog { return b.catalog }

// CodeLists returns the bundle's code lists.
func (b *Bundle) CodeLists() *codelist.Registry { return b.lists }

// Namespaces returns every target namespace with at least one schema file.
func (b *Bundle) Namespaces() []string {
	out := make([]string, 0, len(b.byNS))
	for ns := range b.byNS {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// Root returns the root schema file of a namespace: the file a schema set
// for documents in that namespace is compiled from.
func (b *Bundle) Root(ns string) (*SchemaFile, bool) {
	f, ok := b.roots[ns]
	return f, ok
}

// Files returns the schema files of a namespace.
func (b *Bundle) Files(ns string) []*SchemaFile { return b.byNS[ns] }

// Resolve maps a resource requested while compiling (a local path, a file:
// URL, or an absolute schemaLocation) to a file inside the bundle. Anything
// not in the catalog and not a local file inside the bundle is refused, so
// compilation never touches the network or files elsewhere.
func (b *Bundle) Resolve(ref string) (string, error) {
	var p string
	u, err := url.Parse(ref)
	switch {
	case filepath.IsAbs(ref):
		p = ref
	case err == nil && u.Scheme == "file":
		p = u.Path
	case b.catalog != nil:
		if p, err = b.catalog.Resolve(ref); err != nil {
			return "", fmt.Errorf("%s is not mapped by %s; the network is never used for schemas", ref, b.catalog.Path())
		}
	default:
		return "", fmt.Errorf("%s cannot be resolved: bundle %s has no catalog.xml and the network is never used", ref, b.dir)
	}
	p = filepath.Clean(p)
	rel, err := filepath.Rel(b.dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s resolves to %s, outside the bundle %s", ref, p, b.dir)
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		return "", fmt.Errorf("%s resolves to %s, which does not exist", ref, p)
	}
	return p, nil
}

// ErrNoSchema is returned (wrapped) when a bundle has no schema for a namespace.
var ErrNoSchema = errors.New("no schema in the bundle for this namespace")

// Schema is a compiled schema set: the root file of one namespace with
// everything it includes and imports. It is safe for concurrent use.
type Schema struct {
	bundle *Bundle
	root   *SchemaFile
	rel    string // root path relative to the bundle
	x      *libxml.Schema

	sources    []Source
	sourcesErr error
}

// Root returns the schema file the set was compiled from.
func (s *Schema) Root() *SchemaFile { return s.root }

// Schema compiles (once) and returns the schema set for documents in
// namespace ns. Concurrent callers share one compilation; a failed
// compilation is remembered and returned to every caller.
func (b *Bundle) Schema(ns string) (*Schema, error) {
	root, ok := b.roots[ns]
	if !ok {
		return nil, fmt.Errorf("schemas: namespace %q: %w %s", ns, ErrNoSchema, b.dir)
	}
	b.mu.Lock()
	e := b.sets[root.Path]
	if e == nil {
		e = &setEntry{}
		b.sets[root.Path] = e
	}
	b.mu.Unlock()
	e.once.Do(func() {
		var mu sync.Mutex
		loaded := map[string]bool{root.Path: true}
		if b.catalog != nil {
			loaded[b.catalog.Path()] = true // it decides which files the imports load
		}
		x, err := libxml.Compile(root.Path, func(ref string) (string, error) {
			p, err := b.Resolve(ref)
			if err == nil {
				mu.Lock()
				loaded[p] = true
				mu.Unlock()
			}
			return p, err
		})
		if err != nil {
			e.err = fmt.Errorf("schemas: %w", err)
			return
		}
		rel, _ := relPath(b.dir, root.Path)
		e.schema = &Schema{bundle: b, root: root, rel: rel, x: x}
		e.schema.sources, e.schema.sourcesErr = b.digest(loaded)
	})
	return e.schema, e.err
}

// Source is a schema file a compiled schema set was built from.
type Source struct {
	// Path is relative to the bundle, with forward slashes.
	Path string
	// SHA256 is the hex SHA-256 of the file's bytes.
	SHA256 string
}

// Sources returns the files the schema set was compiled from (the root,
// everything libxml2 loaded through the resolver, and the catalog that
// resolved the imports), sorted by path. A caller
// that derived knowledge from schema files (a typed model generated from
// them) compares these to find out whether that knowledge applies to this
// bundle. The error is set when a file could not be read again for hashing.
func (s *Schema) Sources() ([]Source, error) { return s.sources, s.sourcesErr }

func (b *Bundle) digest(paths map[string]bool) ([]Source, error) {
	var out []Source
	for p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("schemas: hashing %s: %w", p, err)
		}
		rel, err := relPath(b.dir, p)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		out = append(out, Source{Path: rel, SHA256: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// readSchemaHead reads what the index needs from an XSD file: the xs:schema
// attributes and the includes and imports, which the XSD rules put before
// any declaration, so reading stops at the first declaration. Bundle files
// are configuration, not messages; libxml2 compiles them later through the
// bundle's resolver.
func readSchemaHead(path string) (*SchemaFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f := &SchemaFile{Path: path}
	d := xml.NewDecoder(io.LimitReader(fh, 64<<20))
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("%s: DTDs are not allowed in schema files", path)
		case xml.StartElement:
			depth++
			if depth == 1 {
				if t.Name.Space != XSDNamespace || t.Name.Local != "schema" {
					return nil, fmt.Errorf("%s: root element is not xs:schema", path)
				}
				f.TargetNamespace = attrValue(t, "targetNamespace")
				f.Version = attrValue(t, "version")
				continue
			}
			if depth != 2 {
				continue
			}
			if t.Name.Space != XSDNamespace {
				return nil, fmt.Errorf("%s: unexpected element {%s}%s in xs:schema", path, t.Name.Space, t.Name.Local)
			}
			switch t.Name.Local {
			case "annotation":
			case "include", "redefine":
				if loc := attrValue(t, "schemaLocation"); loc != "" && !strings.Contains(loc, "://") {
					f.Includes = append(f.Includes, filepath.Clean(filepath.Join(filepath.Dir(path), filepath.FromSlash(loc))))
				}
			case "import":
				f.Imports = append(f.Imports, Import{Namespace: attrValue(t, "namespace"), SchemaLocation: attrValue(t, "schemaLocation")})
			default:
				return f, nil // first declaration: the head is over
			}
		case xml.EndElement:
			depth--
		}
	}
	return f, nil
}

func attrValue(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

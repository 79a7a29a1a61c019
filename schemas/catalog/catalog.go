// Package catalog reads OASIS XML catalogs (the catalog.xml that ships with an
// XRepository schema bundle) and resolves absolute schema locations to local
// files, so that schema imports never go to the network.
//
// Supported entries: system, uri, rewriteSystem, rewriteURI, systemSuffix,
// uriSuffix, public, group (with xml:base) and nextCatalog (local files only).
// Delegation entries (delegateSystem, delegatePublic, delegateURI) point at
// further catalogs by prefix; they are followed like nextCatalog, restricted to
// the matching prefix. Anything that would need the network is refused.
package catalog

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/xagw/xagw/internal/safexml"
)

// Namespace is the OASIS catalog namespace.
const Namespace = "urn:oasis:names:tc:entity:xmlns:xml:catalog"

// maxNested bounds nextCatalog chains (and cycles).
const maxNested = 16

// ErrNotFound is returned (wrapped) by Resolve when no entry maps an identifier.
var ErrNotFound = errors.New("catalog: no entry")

// Catalog maps system identifiers and URIs to local files. The zero value is
// an empty catalog. A Catalog is immutable after Load and safe for concurrent use.
type Catalog struct {
	path    string // the file it was loaded from
	system  map[string]string
	uri     map[string]string
	public  map[string]string
	rewSys  []rewrite // longest prefix first
	rewURI  []rewrite
	sufSys  []rewrite // longest suffix first (prefix field holds the suffix)
	sufURI  []rewrite
	next    []*Catalog
	deleg   []delegate
	entries int
}

type rewrite struct {
	prefix string
	target string // absolute file path or directory prefix
}

type delegate struct {
	kind   string // "system", "public" or "uri"
	prefix string
	cat    *Catalog
}

// Path returns the file the catalog was loaded from.
func (c *Catalog) Path() string { return c.path }

// Len returns the number of mapping entries (all files in a nextCatalog chain).
func (c *Catalog) Len() int {
	n := c.entries
	for _, x := range c.next {
		n += x.Len()
	}
	for _, d := range c.deleg {
		n += d.cat.Len()
	}
	return n
}

// Load reads the catalog file at path. Targets are resolved relative to the
// catalog file (or an xml:base in effect) and must be local files; a target
// with a network scheme is an error, because the whole point of the catalog is
// to keep schema loading offline.
func Load(path string) (*Catalog, error) {
	return load(path, 0)
}

func load(path string, depth int) (*Catalog, error) {
	if depth > maxNested {
		return nil, fmt.Errorf("catalog %s: nextCatalog nesting deeper than %d (cycle?)", path, maxNested)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return parse(data, abs, depth)
}

// parse reads catalog data that was loaded from the file abs.
func parse(data []byte, abs string, depth int) (*Catalog, error) {
	// Catalogs are configuration, but they are still XML from outside the
	// process: no DTDs, bounded size.
	if err := safexml.Check(data, safexml.Limits{MaxBytes: 16 << 20}); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", abs, err)
	}
	c := &Catalog{path: abs, system: map[string]string{}, uri: map[string]string{}, public: map[string]string{}}
	d := xml.NewDecoder(strings.NewReader(string(data)))
	bases := []string{filepath.Dir(abs) + string(filepath.Separator)}
	sawRoot := false
	for {
		tok, err := d.Token()
		if err != nil {
			break // Check above proved well-formedness; EOF ends the loop
		}
		switch t := tok.(type) {
		case xml.StartElement:
			base := bases[len(bases)-1]
			if b := attr(t, xml.Name{Space: "http://www.w3.org/XML/1998/namespace", Local: "base"}); b != "" {
				nb, err := resolveTarget(base, b)
				if err != nil {
					return nil, fmt.Errorf("catalog %s: xml:base %q: %w", abs, b, err)
				}
				if !strings.HasSuffix(nb, string(filepath.Separator)) {
					nb += string(filepath.Separator)
				}
				base = nb
			}
			bases = append(bases, base)
			if t.Name.Space != Namespace {
				if !sawRoot {
					return nil, fmt.Errorf("catalog %s: root element {%s}%s is not an OASIS catalog", abs, t.Name.Space, t.Name.Local)
				}
				continue // foreign elements are ignored, as the standard says
			}
			if !sawRoot {
				sawRoot = true
				if t.Name.Local != "catalog" {
					return nil, fmt.Errorf("catalog %s: root element %s, want catalog", abs, t.Name.Local)
				}
				continue
			}
			if err := c.add(t, base, depth); err != nil {
				line, _ := d.InputPos()
				return nil, fmt.Errorf("catalog %s line %d: %w", abs, line, err)
			}
		case xml.EndElement:
			bases = bases[:len(bases)-1]
		}
	}
	if !sawRoot {
		return nil, fmt.Errorf("catalog %s: no catalog element", abs)
	}
	sort.SliceStable(c.rewSys, func(i, j int) bool { return len(c.rewSys[i].prefix) > len(c.rewSys[j].prefix) })
	sort.SliceStable(c.rewURI, func(i, j int) bool { return len(c.rewURI[i].prefix) > len(c.rewURI[j].prefix) })
	sort.SliceStable(c.sufSys, func(i, j int) bool { return len(c.sufSys[i].prefix) > len(c.sufSys[j].prefix) })
	sort.SliceStable(c.sufURI, func(i, j int) bool { return len(c.sufURI[i].prefix) > len(c.sufURI[j].prefix) })
	sort.SliceStable(c.deleg, func(i, j int) bool { return len(c.deleg[i].prefix) > len(c.deleg[j].prefix) })
	return c, nil
}

func (c *Catalog) add(t xml.StartElement, base string, depth int) error {
	need := func(names ...string) ([]string, error) {
		vals := make([]string, len(names))
		for i, n := range names {
			vals[i] = attr(t, xml.Name{Local: n})
			if vals[i] == "" {
				return nil, fmt.Errorf("%s without %s", t.Name.Local, n)
			}
		}
		return vals, nil
	}
	target := func(ref string) (string, error) {
		p, err := resolveTarget(base, ref)
		if err != nil {
			return "", fmt.Errorf("%s target %q: %w", t.Name.Local, ref, err)
		}
		return p, nil
	}
	switch t.Name.Local {
	case "group":
		return nil // its xml:base was taken care of by the caller
	case "system", "uri", "public":
		key := map[string]string{"system": "systemId", "uri": "name", "public": "publicId"}[t.Name.Local]
		v, err := need(key, "uri")
		if err != nil {
			return err
		}
		p, err := target(v[1])
		if err != nil {
			return err
		}
		m := map[string]map[string]string{"system": c.system, "uri": c.uri, "public": c.public}[t.Name.Local]
		id := v[0]
		if t.Name.Local == "public" {
			id = normalizePublic(id)
		}
		if _, dup := m[id]; !dup { // the first matching entry wins
			m[id] = p
		}
	case "rewriteSystem", "rewriteURI":
		key := map[string]string{"rewriteSystem": "systemIdStartString", "rewriteURI": "uriStartString"}[t.Name.Local]
		v, err := need(key, "rewritePrefix")
		if err != nil {
			return err
		}
		p, err := target(v[1])
		if err != nil {
			return err
		}
		if strings.HasSuffix(v[1], "/") && !strings.HasSuffix(p, string(filepath.Separator)) {
			p += string(filepath.Separator)
		}
		r := rewrite{prefix: v[0], target: p}
		if t.Name.Local == "rewriteSystem" {
			c.rewSys = append(c.rewSys, r)
		} else {
			c.rewURI = append(c.rewURI, r)
		}
	case "systemSuffix", "uriSuffix":
		key := map[string]string{"systemSuffix": "systemIdSuffix", "uriSuffix": "uriSuffix"}[t.Name.Local]
		v, err := need(key, "uri")
		if err != nil {
			return err
		}
		p, err := target(v[1])
		if err != nil {
			return err
		}
		r := rewrite{prefix: v[0], target: p}
		if t.Name.Local == "systemSuffix" {
			c.sufSys = append(c.sufSys, r)
		} else {
			c.sufURI = append(c.sufURI, r)
		}
	case "nextCatalog":
		v, err := need("catalog")
		if err != nil {
			return err
		}
		p, err := target(v[0])
		if err != nil {
			return err
		}
		n, err := load(p, depth+1)
		if err != nil {
			return err
		}
		c.next = append(c.next, n)
	case "delegateSystem", "delegatePublic", "delegateURI":
		key := map[string]string{"delegateSystem": "systemIdStartString", "delegatePublic": "publicIdStartString", "delegateURI": "uriStartString"}[t.Name.Local]
		v, err := need(key, "catalog")
		if err != nil {
			return err
		}
		p, err := target(v[1])
		if err != nil {
			return err
		}
		n, err := load(p, depth+1)
		if err != nil {
			return err
		}
		kind := strings.ToLower(strings.TrimPrefix(t.Name.Local, "delegate"))
		c.deleg = append(c.deleg, delegate{kind: kind, prefix: v[0], cat: n})
	default:
		return fmt.Errorf("unsupported catalog entry %s", t.Name.Local)
	}
	c.entries++
	return nil
}

// Targets returns every local file the catalog (and its nextCatalog and
// delegate chain) maps an exact system identifier or URI to, sorted.
func (c *Catalog) Targets() []string {
	seen := map[string]bool{}
	var walk func(*Catalog)
	walk = func(x *Catalog) {
		for _, m := range []map[string]string{x.system, x.uri, x.public} {
			for _, p := range m {
				seen[p] = true
			}
		}
		for _, n := range x.next {
			walk(n)
		}
		for _, d := range x.deleg {
			walk(d.cat)
		}
	}
	walk(c)
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// ResolveSystem maps a system identifier (an import's schemaLocation) to a
// local file path, following the OASIS order: system, rewriteSystem (longest
// prefix), systemSuffix (longest suffix), delegateSystem, nextCatalog.
func (c *Catalog) ResolveSystem(id string) (string, bool) {
	if c == nil {
		return "", false
	}
	id = normalizeURI(id)
	if p, ok := c.system[id]; ok {
		return p, true
	}
	if p, ok := rewriteLookup(c.rewSys, id); ok {
		return p, true
	}
	if p, ok := suffixLookup(c.sufSys, id); ok {
		return p, true
	}
	for _, d := range c.deleg {
		if d.kind == "system" && strings.HasPrefix(id, d.prefix) {
			if p, ok := d.cat.ResolveSystem(id); ok {
				return p, true
			}
		}
	}
	for _, n := range c.next {
		if p, ok := n.ResolveSystem(id); ok {
			return p, true
		}
	}
	return "", false
}

// ResolveURI maps a URI reference to a local file path: uri, rewriteURI,
// uriSuffix, delegateURI, nextCatalog.
func (c *Catalog) ResolveURI(u string) (string, bool) {
	if c == nil {
		return "", false
	}
	u = normalizeURI(u)
	if p, ok := c.uri[u]; ok {
		return p, true
	}
	if p, ok := rewriteLookup(c.rewURI, u); ok {
		return p, true
	}
	if p, ok := suffixLookup(c.sufURI, u); ok {
		return p, true
	}
	for _, d := range c.deleg {
		if d.kind == "uri" && strings.HasPrefix(u, d.prefix) {
			if p, ok := d.cat.ResolveURI(u); ok {
				return p, true
			}
		}
	}
	for _, n := range c.next {
		if p, ok := n.ResolveURI(u); ok {
			return p, true
		}
	}
	return "", false
}

// ResolvePublic maps a public identifier to a local file path.
func (c *Catalog) ResolvePublic(id string) (string, bool) {
	if c == nil {
		return "", false
	}
	id = normalizePublic(id)
	if p, ok := c.public[id]; ok {
		return p, true
	}
	for _, d := range c.deleg {
		if d.kind == "public" && strings.HasPrefix(id, d.prefix) {
			if p, ok := d.cat.ResolvePublic(id); ok {
				return p, true
			}
		}
	}
	for _, n := range c.next {
		if p, ok := n.ResolvePublic(id); ok {
			return p, true
		}
	}
	return "", false
}

// Resolve maps a schema location as libxml2 does: first as a system
// identifier, then as a URI. It fails with ErrNotFound when neither matches.
func (c *Catalog) Resolve(ref string) (string, error) {
	if p, ok := c.ResolveSystem(ref); ok {
		return p, nil
	}
	if p, ok := c.ResolveURI(ref); ok {
		return p, nil
	}
	return "", fmt.Errorf("%w for %q", ErrNotFound, ref)
}

func rewriteLookup(rs []rewrite, id string) (string, bool) {
	for _, r := range rs { // sorted longest prefix first
		if strings.HasPrefix(id, r.prefix) {
			rest := strings.TrimPrefix(id, r.prefix)
			if strings.Contains(rest, "..") || strings.Contains(rest, "?") || strings.Contains(rest, "#") {
				return "", false // never let a rewritten id climb out of the target directory
			}
			return filepath.Join(r.target, filepath.FromSlash(rest)), true
		}
	}
	return "", false
}

func suffixLookup(rs []rewrite, id string) (string, bool) {
	for _, r := range rs {
		if strings.HasSuffix(id, r.prefix) {
			return r.target, true
		}
	}
	return "", false
}

// resolveTarget turns a catalog target reference into an absolute local path.
func resolveTarget(base, ref string) (string, error) {
	u, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "":
		p := filepath.FromSlash(u.Path)
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		if strings.HasSuffix(ref, "/") {
			p += string(filepath.Separator)
		}
		return p, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("file URL with remote host %q", u.Host)
		}
		return filepath.FromSlash(u.Path), nil
	default:
		return "", fmt.Errorf("scheme %q would need the network; catalogs here must map to local files", u.Scheme)
	}
}

func attr(t xml.StartElement, n xml.Name) string {
	for _, a := range t.Attr {
		if a.Name.Local == n.Local && (a.Name.Space == n.Space || (n.Space == "" && a.Name.Space == "")) {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// normalizeURI applies the catalog spec's normalisation: surrounding
// whitespace removed, spaces percent-encoded.
func normalizeURI(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), " ", "%20")
}

func normalizePublic(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package xsdgen

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/xagw/xagw/schemas"
)

// XAuslaenderNS matches the namespace of an XAusländer version, e.g.
// http://www.osci.de/xauslaender2611 (26.11) or …xauslaender1211 (1.21.1).
var XAuslaenderNS = regexp.MustCompile(`^http://www\.osci\.de/xauslaender([0-9]+)$`)

// ReplyNS matches the XInneres reply namespaces whose messages are generated
// with every version: Rückweisung and (when a bundle has it) Quittung.
var ReplyNS = regexp.MustCompile(`^http://www\.osci\.de/xinneres/(rueckweisung|quittung)/[0-9]+$`)

// MessageRoot selects the XAusländer root elements generated: the OZG
// messages between online services and foreign-residents offices, and the
// administrative messages that go with them (document packages for the
// reference form of large documents, synchronous Rückweisung, repeated
// sending, declaration of non-responsibility).
var MessageRoot = regexp.MustCompile(`^(OZG|Administration)\.`)

// VersionInfo is one XAusländer version found in a bundle.
type VersionInfo struct {
	Version   string // e.g. "26.11"
	Namespace string
	Package   string // e.g. "v2611"
	RootXSD   string // absolute path
}

// FindVersions lists the XAusländer versions in a bundle.
func FindVersions(b *schemas.Bundle) ([]VersionInfo, error) {
	var out []VersionInfo
	for _, ns := range b.Namespaces() {
		m := XAuslaenderNS.FindStringSubmatch(ns)
		if m == nil {
			continue
		}
		root, ok := b.Root(ns)
		if !ok {
			continue
		}
		v := root.Version
		if v == "" {
			return nil, fmt.Errorf("%s: xs:schema has no version attribute", root.Path)
		}
		if strings.ReplaceAll(v, ".", "") != m[1] {
			return nil, fmt.Errorf("%s: version %q does not match namespace %s", root.Path, v, ns)
		}
		out = append(out, VersionInfo{Version: v, Namespace: ns, Package: "v" + m[1], RootXSD: root.Path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Package < out[j].Package })
	return out, nil
}

// GenerateVersion generates the Go source for one XAusländer version of a
// bundle: every OZG root element plus the XInneres replies in the bundle.
func GenerateVersion(b *schemas.Bundle, v VersionInfo, command string) ([]byte, error) {
	paths := []string{v.RootXSD}
	var replyNS []string
	for _, ns := range b.Namespaces() {
		if ReplyNS.MatchString(ns) {
			if r, ok := b.Root(ns); ok {
				paths = append(paths, r.Path)
				replyNS = append(replyNS, ns)
			}
		}
	}
	set, err := Load(paths, LoadOptions{
		Resolve: b.Resolve,
		RootOf: func(ns string) (string, bool) {
			r, ok := b.Root(ns)
			if !ok {
				return "", false
			}
			return r.Path, true
		},
	})
	if err != nil {
		return nil, err
	}
	var roots []Root
	for _, e := range set.GlobalElements(v.Namespace) {
		if MessageRoot.MatchString(e.Name.Local) {
			roots = append(roots, Root{Element: e, Code: TypeCode(e.Name.Local)})
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("no OZG messages in %s", v.Namespace)
	}
	for _, ns := range replyNS {
		for _, e := range set.GlobalElements(ns) {
			roots = append(roots, Root{Element: e, Code: TypeCode(e.Name.Local)})
		}
	}
	rel := func(p string) string {
		r, err := filepath.Rel(b.Dir(), p)
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
	var sources []string
	for _, sc := range set.Schemas {
		sources = append(sources, rel(sc.Path))
	}
	sort.Strings(sources)
	compiled, err := compiledSources(b, append([]string{v.Namespace}, replyNS...))
	if err != nil {
		return nil, err
	}
	return Generate(set, Config{
		Package:   v.Package,
		Version:   v.Version,
		Namespace: v.Namespace,
		RootXSD:   rel(v.RootXSD),
		Roots:     roots,
		Sources:   sources,
		Compiled:  compiled,
		Command:   command,
	})
}

// compiledSources compiles the namespaces' schema sets with the bundle's
// validator and returns the union of the files it read (with SHA-256).
func compiledSources(b *schemas.Bundle, namespaces []string) ([]Source, error) {
	seen := map[string]string{}
	for _, ns := range namespaces {
		s, err := b.Schema(ns)
		if err != nil {
			return nil, err
		}
		srcs, err := s.Sources()
		if err != nil {
			return nil, err
		}
		for _, src := range srcs {
			seen[src.Path] = src.SHA256
		}
	}
	out := make([]Source, 0, len(seen))
	for p, h := range seen {
		out = append(out, Source{Path: p, SHA256: h})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// GenerateAll generates every XAusländer version of the bundle into
// outDir/<package>/types_gen.go and writes outDir/versions_gen.go (package
// xauslaender) registering them, so a new version is one generator run.
// It returns the files written.
func GenerateAll(b *schemas.Bundle, outDir, command string) ([]string, error) {
	versions, err := FindVersions(b)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("no XAusländer schemas in %s", b.Dir())
	}
	var written []string
	for _, v := range versions {
		src, err := GenerateVersion(b, v, command)
		if err != nil {
			return nil, fmt.Errorf("XAusländer %s: %w", v.Version, err)
		}
		dir := filepath.Join(outDir, v.Package)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		f := filepath.Join(dir, "types_gen.go")
		if err := writeIfChanged(f, src); err != nil {
			return nil, err
		}
		written = append(written, f)
	}
	var reg bytes.Buffer
	fmt.Fprintf(&reg, "// Code generated by xsdgen. DO NOT EDIT.\n")
	if command != "" {
		fmt.Fprintf(&reg, "// Regenerate with: %s\n", command)
	}
	reg.WriteString("\npackage xauslaender\n\nimport (\n\t\"github.com/xagw/xagw/xauslaender/xsd\"\n")
	for _, v := range versions {
		fmt.Fprintf(&reg, "\t%q\n", "github.com/xagw/xagw/xauslaender/"+v.Package)
	}
	reg.WriteString(")\n\n// generated lists the generated versions, oldest first.\nvar generated = []*xsd.VersionSpec{\n")
	for _, v := range versions {
		fmt.Fprintf(&reg, "\t&%s.Spec,\n", v.Package)
	}
	reg.WriteString("}\n")
	src, err := format.Source(reg.Bytes())
	if err != nil {
		return nil, fmt.Errorf("xsdgen: versions_gen.go does not format: %w", err)
	}
	f := filepath.Join(outDir, "versions_gen.go")
	if err := writeIfChanged(f, src); err != nil {
		return nil, err
	}
	return append(written, f), nil
}

// writeIfChanged leaves an identical file alone (so its time stamp and the
// build cache stay as they are).
func writeIfChanged(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}

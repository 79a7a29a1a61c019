package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
)

func TestBundleCatalogResolvesEveryImport(t *testing.T) {
	dir := sharedpath.MustFind("xrepository")
	c, err := Load(filepath.Join(dir, "catalog.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() < 10 {
		t.Fatalf("only %d entries", c.Len())
	}
	// Every absolute schemaLocation in the bundle must resolve to an existing file.
	n := 0
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".xsd") {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, part := range strings.Split(string(data), `schemaLocation="`)[1:] {
			loc := part[:strings.IndexByte(part, '"')]
			if !strings.Contains(loc, "://") {
				continue
			}
			n++
			got, err := c.Resolve(loc)
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(p), err)
				continue
			}
			if _, err := os.Stat(got); err != nil {
				t.Errorf("%s: %s resolves to missing %s", filepath.Base(p), loc, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no absolute schema locations found in the bundle")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const head = `<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">`

func TestResolutionOrder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "catalog.xml"), head+`
  <system systemId="http://example.org/a/exact.xsd" uri="exact.xsd"/>
  <rewriteSystem systemIdStartString="http://example.org/a/" rewritePrefix="short/"/>
  <rewriteSystem systemIdStartString="http://example.org/a/b/" rewritePrefix="long/"/>
  <systemSuffix systemIdSuffix="/tail.xsd" uri="tail.xsd"/>
  <uri name="urn:x:schema" uri="urn.xsd"/>
  <group xml:base="sub/"><system systemId="http://example.org/grouped.xsd" uri="g.xsd"/></group>
  <nextCatalog catalog="more/next.xml"/>
</catalog>`)
	writeFile(t, filepath.Join(dir, "more", "next.xml"), head+`
  <system systemId="http://example.org/from-next.xsd" uri="n.xsd"/>
</catalog>`)
	c, err := Load(filepath.Join(dir, "catalog.xml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"http://example.org/a/exact.xsd":   filepath.Join(dir, "exact.xsd"),
		"http://example.org/a/x.xsd":       filepath.Join(dir, "short", "x.xsd"),
		"http://example.org/a/b/y.xsd":     filepath.Join(dir, "long", "y.xsd"), // longest prefix wins
		"http://elsewhere.org/q/tail.xsd":  filepath.Join(dir, "tail.xsd"),
		"urn:x:schema":                     filepath.Join(dir, "urn.xsd"),
		"http://example.org/grouped.xsd":   filepath.Join(dir, "sub", "g.xsd"),
		"http://example.org/from-next.xsd": filepath.Join(dir, "more", "n.xsd"),
		" http://example.org/a/exact.xsd ": filepath.Join(dir, "exact.xsd"),
	}
	for in, want := range cases {
		got, err := c.Resolve(in)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := c.Resolve("http://example.org/unknown.xsd"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := c.Resolve("http://example.org/a/../../etc/passwd"); !errors.Is(err, ErrNotFound) {
		t.Errorf("rewrite with .. must not resolve: %v", err)
	}
}

func TestLoadRejects(t *testing.T) {
	cases := map[string]string{
		"network target": head + `<system systemId="http://a/b.xsd" uri="https://evil.example/b.xsd"/></catalog>`,
		"dtd":            `<!DOCTYPE catalog [<!ENTITY x "y">]>` + head + `</catalog>`,
		"not a catalog":  `<foo/>`,
		"missing attr":   head + `<system uri="b.xsd"/></catalog>`,
		"unknown entry":  head + `<frobnicate/></catalog>`,
		"self loop":      head + `<nextCatalog catalog="catalog.xml"/></catalog>`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "catalog.xml"), content)
			_, err := Load(filepath.Join(dir, "catalog.xml"))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "catalog") {
				t.Fatalf("error does not say where: %v", err)
			}
		})
	}
}

// FuzzParse feeds arbitrary catalog documents to the parser. Nested
// catalogs are not followed (the depth is exhausted), so only the parser
// itself is exercised; it must not panic, and whatever it resolves must be
// an absolute local path.
func FuzzParse(f *testing.F) {
	f.Add([]byte(head + `<system systemId="http://a/b.xsd" uri="b.xsd"/><rewriteURI uriStartString="http://a/" rewritePrefix="x/"/></catalog>`))
	f.Add([]byte(head + `<group xml:base="sub/"><uri name="urn:x" uri="y.xsd"/></group></catalog>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, "/bundle/catalog.xml", maxNested)
		if err != nil {
			return
		}
		for _, id := range []string{"http://a/b.xsd", "http://a/c/d.xsd", "urn:x"} {
			if p, err := c.Resolve(id); err == nil && !filepath.IsAbs(p) {
				t.Fatalf("%s resolved to relative %q", id, p)
			}
		}
	})
}

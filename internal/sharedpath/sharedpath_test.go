package sharedpath

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindFromPackageDirectory(t *testing.T) {
	p, err := Find("xrepository/catalog.xml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}

func TestFindHonoursEnvAndNamesMissingPart(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "osci"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvVar, dir)
	if p, err := Find("osci"); err != nil || p != filepath.Join(dir, "osci") {
		t.Fatalf("got %q, %v", p, err)
	}
	if _, err := Find("dvdv"); err == nil {
		t.Fatal("missing sub folder must be an error")
	}
}

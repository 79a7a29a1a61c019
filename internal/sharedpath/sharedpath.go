// Package sharedpath finds the project's shared third-party material (official
// XSDs, OSCI reference captures, the DVDV API) that lives beside the repository
// in ../shared and is never copied into it.
package sharedpath

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar overrides the location of the shared folder.
const EnvVar = "XAGW_SHARED"

// Find returns the path of sub (for example "xrepository" or "osci/captures")
// inside the shared folder. It looks at $XAGW_SHARED first, then for a folder
// named "shared" in the working directory and each of its parents, which
// covers both the repository root (../shared) and any package directory below
// it during tests.
func Find(sub string) (string, error) {
	if root := os.Getenv(EnvVar); root != "" {
		p := filepath.Join(root, sub)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("sharedpath: %s=%s has no %s: %w", EnvVar, root, sub, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("sharedpath: %w", err)
	}
	for {
		p := filepath.Join(dir, "shared", sub)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("sharedpath: no shared/%s found above the working directory; set %s", sub, EnvVar)
		}
		dir = parent
	}
}

// MustFind is Find for tests and examples: it panics when the folder is absent,
// because every test run of this project has the shared material.
func MustFind(sub string) string {
	p, err := Find(sub)
	if err != nil {
		panic(err)
	}
	return p
}

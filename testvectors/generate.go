package testvectors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/xagw/xagw/schemas"
	"github.com/xagw/xagw/xauslaender"
	"github.com/xagw/xagw/xauslaender/samples"
)

// ReferenceTime is the instant the committed kit is made and evaluated at:
// the creation time of the sample messages, the "now" of the test PKI and
// of every OSCI envelope.
var ReferenceTime = samples.When

// GeneratorCommand is the command recorded in the manifest.
const GeneratorCommand = "xagw keys testpki --out testvectors/pki --deterministic-seed " + KitSeed + " --pin-file testvectors/pki/PIN.txt && xagw conformance generate --out testvectors"

// KitSeed is the public seed of the committed kit's test randomness (keys,
// IVs, session keys, OAEP seeds, MIME boundaries, challenges, ids). Anyone
// can rebuild the kit's private keys from it: test material only.
const KitSeed = "xagw-conformance-kit-v1"

// GenerateOptions control Generate.
type GenerateOptions struct {
	// Dir is the kit directory written to. Its pki/ folder must hold the
	// test PKI (written by `xagw keys testpki`); its xauslaender/ and osci/
	// folders and manifest.json are (re)written.
	Dir string
	// Bundle is the schema bundle the XAusländer messages are built with.
	Bundle *schemas.Bundle
	// Large also writes the on-demand files (a 100 MiB attachment); their
	// hashes are recorded either way.
	Large bool
}

// kit collects the files and vectors of a kit in memory; on-demand files
// wait in tmpDir.
type kit struct {
	files    map[string][]byte
	onDemand map[string]onDemandFile
	tmpDir   string
	vectors  []Vector
}

type onDemandFile struct {
	File
	tmp string
}

func (k *kit) add(p string, data []byte) File {
	if _, dup := k.files[p]; dup {
		panic("testvectors: file generated twice: " + p)
	}
	k.files[p] = data
	return HashBytes(p, data)
}

// Generate builds every vector and writes the kit: the vector files and
// manifest.json with the SHA-256 of every file (the PKI's included). The
// result depends only on the PKI, the schema bundle and the code, so
// running it twice gives identical bytes.
func Generate(ctx context.Context, o GenerateOptions) (*Manifest, error) {
	if o.Dir == "" || o.Bundle == nil {
		return nil, errors.New("testvectors: Generate needs Dir and Bundle")
	}
	tmp, err := os.MkdirTemp("", "xagw-generate-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	k := &kit{files: map[string][]byte{}, onDemand: map[string]onDemandFile{}, tmpDir: tmp}
	if err := readPKIFiles(k, o.Dir); err != nil {
		return nil, err
	}
	if err := xaVectors(k, o.Bundle); err != nil {
		return nil, fmt.Errorf("testvectors: XAusländer vectors: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := osciVectors(ctx, k, o); err != nil {
		return nil, fmt.Errorf("testvectors: OSCI vectors: %w", err)
	}
	m := &Manifest{
		Format:             Format,
		Generator:          GeneratorCommand,
		ReferenceTime:      ReferenceTime,
		XAuslaenderVersion: xauslaender.Latest().Version,
		Deterministic:      true,
		Notes: []string{
			"TEST MATERIAL ONLY: every private key of this kit can be rebuilt from the public seed; never trust these certificates outside tests.",
			"Certificates, CRLs and times are judged at referenceTime, not at the time the kit is run.",
		},
		Vectors: k.vectors,
	}
	for p, data := range k.files {
		m.Files = append(m.Files, HashBytes(p, data))
	}
	for _, f := range k.onDemand {
		m.Files = append(m.Files, f.File)
	}
	for _, v := range m.Vectors {
		if v.NotReproducible != "" {
			m.Deterministic = false
		}
	}
	out, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	// Check our own output with the reader vendors use.
	if _, err := ParseManifest(out); err != nil {
		return nil, fmt.Errorf("testvectors: generated manifest does not read back: %w", err)
	}
	if err := writeKit(o.Dir, k.files, out); err != nil {
		return nil, err
	}
	if o.Large {
		for _, f := range k.onDemand {
			dst := filepath.Join(o.Dir, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, err
			}
			if err := moveFile(f.tmp, dst); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// readPKIFiles adds the files of dir/pki to the kit (they are written by
// `xagw keys testpki`, not by Generate, but the manifest hashes them).
func readPKIFiles(k *kit, dir string) error {
	root := filepath.Join(dir, "pki")
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return fmt.Errorf("testvectors: %s is not a directory: generate the test PKI first (xagw keys testpki --out %s --deterministic-seed %s)", root, root, KitSeed)
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("testvectors: %s is not a regular file", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		k.add(filepath.ToSlash(rel), data)
		return nil
	})
}

// writeKit writes the generated files (not pki/, which is read) and the
// manifest, and removes vector files an earlier manifest listed that are
// no longer generated.
func writeKit(dir string, files map[string][]byte, manifest []byte) error {
	if old, err := LoadManifest(dir); err == nil {
		for _, f := range old.Files {
			if _, keep := files[f.Path]; keep || !generatedPath(f.Path) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(f.Path))); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if !generatedPath(p) {
			continue
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := writeIfChanged(full, files[p]); err != nil {
			return err
		}
	}
	return writeIfChanged(filepath.Join(dir, ManifestFile), manifest)
}

// moveFile renames src to dst, copying across file systems.
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// generatedPath reports whether Generate owns the file (pki/ is written by
// `xagw keys testpki`).
func generatedPath(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return first == "xauslaender" || first == "osci"
}

// writeIfChanged leaves identical files alone, so regenerating an
// unchanged kit touches nothing.
func writeIfChanged(p string, data []byte) error {
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

package testvectors

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ManifestFile is the name of the manifest inside a kit directory.
const ManifestFile = "manifest.json"

// Format identifies the manifest format; a reader refuses other values.
const Format = "xagw-conformance-kit/1"

// MaxManifestBytes bounds the manifest a reader accepts.
const MaxManifestBytes = 8 << 20

// Vector kinds.
const (
	KindXAuslaender = "xauslaender"
	KindOSCI        = "osci"
)

// Outcomes a vector expects.
const (
	// OutcomeAccept: the input is valid; a conforming reader processes it.
	OutcomeAccept = "accept"
	// OutcomeReject: the input breaks exactly one rule; a conforming reader
	// rejects it, and Expect.Class names the rule.
	OutcomeReject = "reject"
)

// Manifest describes a kit: every file with its SHA-256, and every vector
// with its inputs, keys and expected outcome. It is the machine-readable
// contract between the kit and a vendor's test harness; see README.md.
type Manifest struct {
	// Format is always [Format].
	Format string `json:"format"`
	// Generator is the command that regenerates the kit bit for bit.
	Generator string `json:"generator"`
	// ReferenceTime is the time every vector is evaluated at: certificate
	// validity (expired, not yet valid), CRL freshness and message times are
	// judged as of this instant, so the kit gives the same answers years
	// after it was made.
	ReferenceTime time.Time `json:"referenceTime"`
	// XAuslaenderVersion is the XAusländer version of the messages.
	XAuslaenderVersion string `json:"xauslaenderVersion"`
	// Deterministic says the whole kit is a pure function of the generator
	// and its fixed test seed. Where a file cannot be reproduced, its
	// vector says so in NotReproducible.
	Deterministic bool `json:"deterministic"`
	// Notes are remarks for the reader of the manifest.
	Notes []string `json:"notes,omitempty"`
	// Files lists every file of the kit except the manifest itself and
	// README.md, sorted by path.
	Files []File `json:"files"`
	// Vectors are sorted by id.
	Vectors []Vector `json:"vectors"`
}

// File is one file of the kit.
type File struct {
	// Path is relative to the kit directory, with forward slashes.
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// OnDemand marks a file too large to commit: the manifest records its
	// hash, `xagw conformance generate --large` makes it (bit for bit), and
	// a kit without it is complete (its vector is skipped).
	OnDemand bool `json:"onDemand,omitempty"`
}

// Vector is one test case.
type Vector struct {
	// ID is stable across kit versions: "xa.valid.130101.antrag-erwerbstaetigkeit".
	ID string `json:"id"`
	// Kind is KindXAuslaender or KindOSCI.
	Kind string `json:"kind"`
	// Purpose says in one or two sentences what the vector proves.
	Purpose string `json:"purpose"`
	// Inputs are the files the vector consists of (paths into Files).
	Inputs []File `json:"inputs"`
	// Keys name the key material a reader needs (paths into Files, with
	// the role each plays).
	Keys []Key `json:"keys,omitempty"`
	// Expect is the outcome a conforming reader arrives at.
	Expect Expect `json:"expect"`
	// Vendor says what `xagw conformance run` expects of a case system the
	// vector is delivered to; nil when it is not delivered.
	Vendor *VendorExpect `json:"vendor,omitempty"`
	// BasedOn names the valid vector a negative vector was derived from.
	BasedOn string `json:"basedOn,omitempty"`
	// NotReproducible explains why the input cannot be regenerated bit for
	// bit (empty: it can).
	NotReproducible string `json:"notReproducible,omitempty"`
}

// Key is key material a vector needs.
type Key struct {
	// Role says what the key is for: "decrypt-content", "decrypt-transport",
	// "trust-anchor", "crl", "signer", ….
	Role string `json:"role"`
	// Entity is the test-PKI entity name, e.g. "addressee-cipher".
	Entity string `json:"entity,omitempty"`
	// Files are paths into the kit (certificate, key, PKCS#12, CRL).
	Files []string `json:"files"`
}

// Expect is the expected outcome of a vector.
type Expect struct {
	// Outcome is OutcomeAccept or OutcomeReject.
	Outcome string `json:"outcome"`
	// Class is the error class of a rejection (see the Class* constants).
	Class string `json:"class,omitempty"`
	// Path, when set, is part of the element path the rejection names.
	Path string `json:"path,omitempty"`
	// MessageType is the XAusländer type code ("130101") or the OSCI
	// message type ("storeDelivery").
	MessageType string `json:"messageType,omitempty"`
	// NachrichtenUUID is the XAusländer message id.
	NachrichtenUUID string `json:"nachrichtenUUID,omitempty"`
	// OSCI holds the OSCI-specific expectations.
	OSCI *OSCIExpect `json:"osci,omitempty"`
}

// VendorExpect is what a case system must do with a delivered vector.
type VendorExpect struct {
	// Reply is "positive" (a reply linked to the message that is not a
	// rejection: OZG.Statusmeldung, a Quittung, …), "rejection" (an XInneres
	// Rückweisung naming the message), "no-rejection" (a valid follow-up
	// message, e.g. a Rücknahme of an application the case system never
	// saw: any reaction but a Rückweisung, including none) or
	// "no-acceptance" (anything but a positive reply; a message that cannot
	// even be opened has no id to reply to).
	Reply string `json:"reply"`
	// ReplyTypes, when set, lists the acceptable reply type codes.
	ReplyTypes []string `json:"replyTypes,omitempty"`
	// Delivery names the storeDelivery shape the runner re-creates for the
	// vendor's key: a delivery variant ("store-attachments") or a content
	// defect ("defect:tampered-cipher-text"). Empty for XAusländer vectors,
	// which travel as a signed, encrypted container.
	Delivery string `json:"delivery,omitempty"`
}

// Vendor reply expectations.
const (
	ReplyPositive     = "positive"
	ReplyRejection    = "rejection"
	ReplyNoRejection  = "no-rejection"
	ReplyNoAcceptance = "no-acceptance"
)

var (
	idRE   = regexp.MustCompile(`^[a-z0-9][A-Za-z0-9.\-_]*$`)
	hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ParseManifest reads a manifest strictly: unknown fields, a wrong format,
// unsafe paths, duplicate ids or paths, and inputs missing from Files are
// errors naming the field.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("manifest: %d bytes, limit %d", len(data), MaxManifestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("manifest: data after the manifest object")
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) check() error {
	if m.Format != Format {
		return fmt.Errorf("manifest: format %q, this reader understands %q", m.Format, Format)
	}
	if m.ReferenceTime.IsZero() {
		return errors.New("manifest: referenceTime is missing")
	}
	files := map[string]File{}
	for i, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("manifest: files[%d]: %w", i, err)
		}
		if !hashRE.MatchString(f.SHA256) {
			return fmt.Errorf("manifest: files[%d] (%s): sha256 %q is not 64 lower-case hex digits", i, f.Path, f.SHA256)
		}
		if f.Size < 0 {
			return fmt.Errorf("manifest: files[%d] (%s): negative size", i, f.Path)
		}
		if _, dup := files[f.Path]; dup {
			return fmt.Errorf("manifest: files[%d]: %s listed twice", i, f.Path)
		}
		files[f.Path] = f
	}
	ids := map[string]bool{}
	for i, v := range m.Vectors {
		where := fmt.Sprintf("manifest: vectors[%d] (%s)", i, v.ID)
		if !idRE.MatchString(v.ID) {
			return fmt.Errorf("%s: id must match %s", where, idRE)
		}
		if ids[v.ID] {
			return fmt.Errorf("%s: id used twice", where)
		}
		ids[v.ID] = true
		if v.Kind != KindXAuslaender && v.Kind != KindOSCI {
			return fmt.Errorf("%s: unknown kind %q", where, v.Kind)
		}
		if len(v.Inputs) == 0 {
			return fmt.Errorf("%s: no inputs", where)
		}
		for j, in := range v.Inputs {
			f, ok := files[in.Path]
			if !ok {
				return fmt.Errorf("%s: inputs[%d] %s is not listed in files", where, j, in.Path)
			}
			if f != in {
				return fmt.Errorf("%s: inputs[%d] %s: hash or size differs from its files entry", where, j, in.Path)
			}
		}
		for j, k := range v.Keys {
			for _, p := range k.Files {
				if _, ok := files[p]; !ok {
					return fmt.Errorf("%s: keys[%d] (%s): %s is not listed in files", where, j, k.Role, p)
				}
			}
		}
		switch v.Expect.Outcome {
		case OutcomeAccept:
			if v.Expect.Class != "" {
				return fmt.Errorf("%s: an accepted vector has no error class", where)
			}
		case OutcomeReject:
			if !KnownClass(v.Expect.Class) {
				return fmt.Errorf("%s: expect.class %q is not a known error class", where, v.Expect.Class)
			}
		default:
			return fmt.Errorf("%s: expect.outcome %q is neither %q nor %q", where, v.Expect.Outcome, OutcomeAccept, OutcomeReject)
		}
		if v.Vendor != nil {
			switch v.Vendor.Reply {
			case ReplyPositive, ReplyRejection, ReplyNoRejection, ReplyNoAcceptance:
			default:
				return fmt.Errorf("%s: vendor.reply %q is unknown", where, v.Vendor.Reply)
			}
		}
	}
	return nil
}

// checkPath refuses paths that could leave the kit directory.
func checkPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.Contains(p, `\`) || strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q: only forward slashes", p)
	case path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path %q is not a clean relative path inside the kit", p)
	case p == ManifestFile:
		return fmt.Errorf("path %q: the manifest does not list itself", p)
	}
	return nil
}

// LoadManifest reads and checks dir/manifest.json.
func LoadManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

// Marshal returns the manifest in its canonical form: files and vectors
// sorted, two-space indentation, a final newline. The same manifest always
// gives the same bytes.
func (m *Manifest) Marshal() ([]byte, error) {
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	sort.Slice(m.Vectors, func(i, j int) bool { return m.Vectors[i].ID < m.Vectors[j].ID })
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Vector returns the vector with that id.
func (m *Manifest) Vector(id string) (*Vector, bool) {
	for i := range m.Vectors {
		if m.Vectors[i].ID == id {
			return &m.Vectors[i], true
		}
	}
	return nil, false
}

// FileProblem is a kit file that does not match the manifest.
type FileProblem struct {
	Path string
	// Problem is "missing", "hash mismatch", "size mismatch", "unlisted"
	// or a read error.
	Problem string
}

// String returns "path: problem".
func (p FileProblem) String() string { return p.Path + ": " + p.Problem }

// CheckFiles hashes every file the manifest lists and reports those that
// are missing or differ. With strict set, files in the kit's data folders
// that the manifest does not list are reported too (a leftover vector
// nobody checks is a gap in the kit).
func (m *Manifest) CheckFiles(dir string, strict bool) []FileProblem {
	var out []FileProblem
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Path] = true
		got, err := HashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		switch {
		case errors.Is(err, fs.ErrNotExist) && f.OnDemand:
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, FileProblem{f.Path, "missing"})
		case err != nil:
			out = append(out, FileProblem{f.Path, err.Error()})
		case got.Size != f.Size:
			out = append(out, FileProblem{f.Path, fmt.Sprintf("size mismatch: manifest %d bytes, file %d bytes", f.Size, got.Size)})
		case got.SHA256 != f.SHA256:
			out = append(out, FileProblem{f.Path, fmt.Sprintf("hash mismatch: manifest sha256 %s, file %s", f.SHA256, got.SHA256)})
		}
	}
	if strict {
		for _, sub := range DataDirs {
			root := filepath.Join(dir, sub)
			filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return nil
				}
				rel, rerr := filepath.Rel(dir, p)
				if rerr != nil {
					return nil
				}
				rel = filepath.ToSlash(rel)
				if !listed[rel] {
					out = append(out, FileProblem{rel, "unlisted: the file is in the kit but not in the manifest"})
				}
				return nil
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// DataDirs are the folders of a kit whose files the manifest lists.
var DataDirs = []string{"pki", "xauslaender", "osci"}

// HashFile returns the SHA-256 and size of a file, with Path left empty.
func HashFile(p string) (File, error) {
	f, err := os.Open(p)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// HashBytes returns the File entry of data stored at path p.
func HashBytes(p string, data []byte) File {
	sum := sha256.Sum256(data)
	return File{Path: p, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
}

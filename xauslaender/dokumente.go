package xauslaender

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/xagw/xagw/xauslaender/xsd"
)

// Large documents are not put into a message inline: the message names
// them by UUID (dokumentOderReferenz/dokumentuuid) and says how they are
// delivered (angabenDokumentenlieferung), and the documents travel in
// Administration.Dokumentenlieferung.Paket.000040 messages. Per the schema
// documentation the documents lie flat in one zip archive (DEFLATE or
// STORE) as "<dokumentuuid>.<format>"; the zip file is split into parts
// when a message would exceed 50 MB, and each part is sent base64-encoded
// in dokumentcontainer, numbered from 1, with the identification of the
// message it belongs to (identifikationFachnachricht).

// PaketCode is the type code of a document package message.
const PaketCode = "000040"

// Document is a document delivered by reference.
type Document struct {
	// UUID is the dokumentuuid the message refers to.
	UUID string
	// Format is the file extension in the archive, e.g. "pdf" or "jpg"
	// (XA.Dokumentformat 1 = PDF, 2 = JPG).
	Format string
	Data   []byte
}

// DefaultPartSize keeps a package message below 50 MB: base64 grows the
// part by 4/3, and the frame needs a few kilobytes.
const DefaultPartSize = 36 << 20

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	formatRE = regexp.MustCompile(`^[A-Za-z0-9]{1,8}$`)
)

// archiveTime is the modification time written into archives, so the same
// documents always give the same archive (and the same archivgroesse).
var archiveTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// BuildArchive returns the zip archive of the documents (DEFLATE, entries
// "<uuid>.<format>" in the given order). The output is deterministic.
func BuildArchive(docs []Document) ([]byte, error) {
	if len(docs) == 0 {
		return nil, errors.New("xauslaender: no documents to pack")
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	seen := map[string]bool{}
	for i, d := range docs {
		if !uuidRE.MatchString(d.UUID) {
			return nil, fmt.Errorf("xauslaender: document %d: %q is not a UUID", i+1, d.UUID)
		}
		if !formatRE.MatchString(d.Format) {
			return nil, fmt.Errorf("xauslaender: document %s: format %q is not a file extension", d.UUID, d.Format)
		}
		key := strings.ToLower(d.UUID)
		if seen[key] {
			return nil, fmt.Errorf("xauslaender: document %s given twice", d.UUID)
		}
		seen[key] = true
		w, err := zw.CreateHeader(&zip.FileHeader{Name: d.UUID + "." + d.Format, Method: zip.Deflate, Modified: archiveTime})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(d.Data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PackDocuments builds the package messages for the documents that the
// message fach refers to by UUID, and sets fach's angabenDokumentenlieferung
// (number of packages, archive size). partSize 0 means DefaultPartSize.
// The packages still need their frame: Sender.Prepare (or PrepareReply)
// each of them as for any message to the same reader.
func PackDocuments(fach xsd.Message, docs []Document, partSize int) ([]xsd.Message, error) {
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	ns, local := fach.XMLName()
	_, ver := specByRoot(ns, local)
	if ver == nil {
		return nil, fmt.Errorf("xauslaender: %T is not a message type of the model", fach)
	}
	id, ok := xsd.Node(fach, "nachrichtenkopf.g2g", "identifikation.nachricht")
	if !ok {
		return nil, fmt.Errorf("xauslaender: %s has no identifikation.nachricht", local)
	}
	idJSON, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	if uuid, _ := xsd.Text(fach, "nachrichtenkopf.g2g", "identifikation.nachricht", "nachrichtenUUID"); uuid == "" {
		return nil, errors.New("xauslaender: prepare the message (nachrichtenUUID) before packing its documents")
	}
	archive, err := BuildArchive(docs)
	if err != nil {
		return nil, err
	}
	n := (len(archive) + partSize - 1) / partSize
	if err := overlay(fach, map[string]any{"angabenDokumentenlieferung": map[string]any{"anzahlDerPakete": n, "archivgroesse": len(archive)}}); err != nil {
		return nil, fmt.Errorf("xauslaender: %s cannot announce a document delivery: %w", local, err)
	}
	var out []xsd.Message
	for i := 0; i < n; i++ {
		part := archive[i*partSize : min((i+1)*partSize, len(archive))]
		p, err := New(PaketCode, ver.Version)
		if err != nil {
			return nil, err
		}
		if err := overlay(p, map[string]any{
			"dokumentcontainer":           part,
			"identifikationFachnachricht": json.RawMessage(idJSON),
			"paketnummer":                 i + 1,
		}); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// UnpackLimits bound what UnpackDocuments accepts from untrusted packages.
type UnpackLimits struct {
	MaxArchive   int64 // bytes of the zip archive (default 1 GiB)
	MaxExtracted int64 // bytes of all documents together (default 1 GiB)
	MaxDocuments int   // default 1000
}

// ErrPackages is returned (wrapped) for incomplete, inconsistent or unsafe
// document packages.
var ErrPackages = errors.New("document packages")

// UnpackDocuments reassembles the archive from the package messages of one
// message (in any order), checks them against the announcement (number of
// packages and archive size from angabenDokumentenlieferung; pass 0, 0 to
// skip), and returns the documents by UUID. Names other than
// "<uuid>.<format>", directories, duplicates and sizes beyond the limits are
// refused: the packages come from outside.
func UnpackDocuments(pakete []xsd.Message, wantPakete, wantSize int64, l UnpackLimits) (map[string]Document, error) {
	if l.MaxArchive <= 0 {
		l.MaxArchive = 1 << 30
	}
	if l.MaxExtracted <= 0 {
		l.MaxExtracted = 1 << 30
	}
	if l.MaxDocuments <= 0 {
		l.MaxDocuments = 1000
	}
	if len(pakete) == 0 {
		return nil, fmt.Errorf("xauslaender: %w: none given", ErrPackages)
	}
	type part struct {
		n    int64
		data []byte
	}
	var parts []part
	fachUUID := ""
	var total int64
	for i, p := range pakete {
		if _, local := p.XMLName(); typeCodeOf(local) != PaketCode {
			return nil, fmt.Errorf("xauslaender: %w: message %d is %s, not a document package", ErrPackages, i+1, local)
		}
		nr, _ := xsd.Text(p, "paketnummer")
		var n int64
		if _, err := fmt.Sscan(nr, &n); err != nil || n < 1 {
			return nil, fmt.Errorf("xauslaender: %w: package %d has paketnummer %q", ErrPackages, i+1, nr)
		}
		u, _ := xsd.Text(p, "identifikationFachnachricht", "nachrichtenUUID")
		if fachUUID == "" {
			fachUUID = u
		} else if u != fachUUID {
			return nil, fmt.Errorf("xauslaender: %w: package %d belongs to message %s, not %s", ErrPackages, n, u, fachUUID)
		}
		data, ok := xsd.Bytes(p, "dokumentcontainer")
		if !ok {
			return nil, fmt.Errorf("xauslaender: %w: package %d has no dokumentcontainer", ErrPackages, n)
		}
		total += int64(len(data))
		if total > l.MaxArchive {
			return nil, fmt.Errorf("xauslaender: %w: archive larger than %d bytes", ErrPackages, l.MaxArchive)
		}
		parts = append(parts, part{n, data})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].n < parts[j].n })
	for i, p := range parts {
		if p.n != int64(i+1) {
			return nil, fmt.Errorf("xauslaender: %w: package numbers are not 1..%d (found %d at position %d)", ErrPackages, len(parts), p.n, i+1)
		}
	}
	if wantPakete > 0 && int64(len(parts)) != wantPakete {
		return nil, fmt.Errorf("xauslaender: %w: %d of %d packages", ErrPackages, len(parts), wantPakete)
	}
	archive := make([]byte, 0, total)
	for _, p := range parts {
		archive = append(archive, p.data...)
	}
	if wantSize > 0 && int64(len(archive)) != wantSize {
		return nil, fmt.Errorf("xauslaender: %w: archive has %d bytes, %d announced", ErrPackages, len(archive), wantSize)
	}
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return nil, fmt.Errorf("xauslaender: %w: not a zip archive: %v", ErrPackages, err)
	}
	if len(zr.File) > l.MaxDocuments {
		return nil, fmt.Errorf("xauslaender: %w: %d documents, limit %d", ErrPackages, len(zr.File), l.MaxDocuments)
	}
	out := map[string]Document{}
	var extracted int64
	for _, f := range zr.File {
		name := f.Name
		dot := strings.LastIndexByte(name, '.')
		if dot < 0 || !uuidRE.MatchString(name[:dot]) || !formatRE.MatchString(name[dot+1:]) {
			return nil, fmt.Errorf("xauslaender: %w: archive entry %q is not <dokumentuuid>.<format>", ErrPackages, name)
		}
		if f.Method != zip.Deflate && f.Method != zip.Store {
			return nil, fmt.Errorf("xauslaender: %w: %s uses compression method %d (DEFLATE or STORE required)", ErrPackages, name, f.Method)
		}
		uuid := strings.ToLower(name[:dot])
		if _, dup := out[uuid]; dup {
			return nil, fmt.Errorf("xauslaender: %w: document %s twice in the archive", ErrPackages, uuid)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("xauslaender: %w: %s: %v", ErrPackages, name, err)
		}
		// Never trust the declared size: read at most what is left.
		data, err := io.ReadAll(io.LimitReader(rc, l.MaxExtracted-extracted+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("xauslaender: %w: %s: %v", ErrPackages, name, err)
		}
		extracted += int64(len(data))
		if extracted > l.MaxExtracted {
			return nil, fmt.Errorf("xauslaender: %w: documents larger than %d bytes together", ErrPackages, l.MaxExtracted)
		}
		out[uuid] = Document{UUID: name[:dot], Format: name[dot+1:], Data: data}
	}
	return out, nil
}

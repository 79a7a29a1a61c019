package wire

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xagw/xagw/internal/sharedpath"
)

// metaMessage mirrors the "message" (and "message.inner") objects of the
// reference *.meta.json files.
type metaMessage struct {
	TopHeaders [][2]string `json:"top_headers"`
	Boundary   string      `json:"boundary"`
	Parts      []struct {
		Headers    [][2]string `json:"headers"`
		BodyLength int64       `json:"body_length"`
		BodySHA256 string      `json:"body_sha256"`
	} `json:"parts"`
	Inner *metaMessage `json:"inner"`
}

type meta struct {
	WireBytes             int64       `json:"wire_bytes"`
	DeclaredContentLength int64       `json:"declared_content_length"`
	Message               metaMessage `json:"message"`
	BodyBytes             int64       `json:"body_bytes"` // http captures
}

func capturesDir(t testing.TB) string {
	t.Helper()
	dir, err := sharedpath.Find("osci/captures")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func readMeta(t testing.TB, path string) meta {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

type readPart struct {
	header Header
	body   []byte
}

// readAll parses a whole message, keeping bodies (fine for the captures).
func readAll(t testing.TB, r *Reader) []readPart {
	t.Helper()
	var parts []readPart
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatalf("NextPart: %v", err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d: %v", p.Index, err)
		}
		if p.Size() != int64(len(body)) {
			t.Fatalf("part %d: Size %d, read %d", p.Index, p.Size(), len(body))
		}
		parts = append(parts, readPart{p.Header, body})
	}
}

// compareWithMeta checks entity headers, boundary, each part's headers in
// order and each body's length and SHA-256 against the reference metadata.
func compareWithMeta(t *testing.T, name string, r *Reader, parts []readPart, want metaMessage) {
	t.Helper()
	if r.Boundary() != want.Boundary {
		t.Errorf("%s: boundary %q, want %q", name, r.Boundary(), want.Boundary)
	}
	if got := fieldsOf(r.Header()); !equalFields(got, want.TopHeaders) {
		t.Errorf("%s: entity headers %v, want %v", name, got, want.TopHeaders)
	}
	if r.Param("type") != "text/xml" {
		t.Errorf("%s: type parameter %q", name, r.Param("type"))
	}
	if len(parts) != len(want.Parts) {
		t.Fatalf("%s: %d parts, want %d", name, len(parts), len(want.Parts))
	}
	for i, p := range parts {
		w := want.Parts[i]
		if got := fieldsOf(p.header); !equalFields(got, w.Headers) {
			t.Errorf("%s part %d: headers %v, want %v", name, i, got, w.Headers)
		}
		sum := sha256.Sum256(p.body)
		if int64(len(p.body)) != w.BodyLength || hex.EncodeToString(sum[:]) != w.BodySHA256 {
			t.Errorf("%s part %d: body %d bytes sha256 %x, want %d bytes %s", name, i, len(p.body), sum, w.BodyLength, w.BodySHA256)
		}
	}
}

func fieldsOf(h Header) [][2]string {
	out := make([][2]string, len(h))
	for i, f := range h {
		out[i] = [2]string{f.Name, f.Value}
	}
	return out
}

func equalFields(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReaderMatchesEveryCapture(t *testing.T) {
	dir := capturesDir(t)
	wires, _ := filepath.Glob(filepath.Join(dir, "*.wire"))
	if len(wires) != 26 {
		t.Fatalf("found %d *.wire captures, want 26", len(wires))
	}
	inner := 0
	for _, path := range wires {
		base := strings.TrimSuffix(path, ".wire")
		name := filepath.Base(base)
		t.Run(name, func(t *testing.T) {
			m := readMeta(t, base+".meta.json")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := NewReader(f, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			parts := readAll(t, r)
			compareWithMeta(t, name, r, parts, m.Message)
			if r.Offset() != m.WireBytes || m.DeclaredContentLength != m.WireBytes {
				t.Errorf("consumed %d bytes, wire %d, declared %d", r.Offset(), m.WireBytes, m.DeclaredContentLength)
			}
			if parts[0].header.Get(HeaderContentID) != "<"+RootContentID+">" {
				t.Errorf("root part Content-ID %q", parts[0].header.Get(HeaderContentID))
			}
			if m.Message.Inner != nil {
				inner++
				data, err := os.ReadFile(base + ".inner.mime")
				if err != nil {
					t.Fatal(err)
				}
				ir, err := NewReader(bytes.NewReader(data), Limits{})
				if err != nil {
					t.Fatal(err)
				}
				compareWithMeta(t, name+" inner", ir, readAll(t, ir), *m.Message.Inner)
			}
		})
	}
	if inner != 13 {
		t.Errorf("%d transport-encrypted captures with inner message, want 13", inner)
	}
}

// The HTTP copies carry real request headers: the body is the MIME entity,
// the HTTP Content-Type only says text/xml.
func TestReaderHTTPCaptures(t *testing.T) {
	dir := filepath.Join(capturesDir(t), "http")
	reqs, _ := filepath.Glob(filepath.Join(dir, "*.http-request"))
	if len(reqs) != 2 {
		t.Fatalf("found %d http captures, want 2", len(reqs))
	}
	for _, path := range reqs {
		base := strings.TrimSuffix(path, ".http-request")
		t.Run(filepath.Base(base), func(t *testing.T) {
			m := readMeta(t, base+".meta.json")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			req, err := http.ReadRequest(bufio.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			if req.Header.Get("Content-Type") != "text/xml" || req.ContentLength != m.BodyBytes {
				t.Errorf("HTTP Content-Type %q, Content-Length %d", req.Header.Get("Content-Type"), req.ContentLength)
			}
			r, err := NewReader(req.Body, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			compareWithMeta(t, filepath.Base(base), r, readAll(t, r), m.Message)
			if r.Offset() != req.ContentLength {
				t.Errorf("consumed %d, Content-Length %d", r.Offset(), req.ContentLength)
			}
		})
	}
}

// The writer, given the parts and boundary of a capture, reproduces it byte
// for byte, using the reference-style part constructors.
func TestWriterReproducesCaptures(t *testing.T) {
	dir := capturesDir(t)
	var files []string
	plain, _ := filepath.Glob(filepath.Join(dir, "*.plain.wire"))
	inner, _ := filepath.Glob(filepath.Join(dir, "*.inner.mime"))
	files = append(append(files, plain...), inner...)
	if len(files) != 26 {
		t.Fatalf("%d plain/inner messages, want 26", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := NewReader(bytes.NewReader(want), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			parts := readAll(t, r)
			msg := Message{Boundary: r.Boundary()}
			for i, p := range parts {
				var src PartSource
				if i == 0 {
					src = RootPart(p.body)
				} else {
					src = AttachmentPart(StripAngles(p.header.Get(HeaderContentID)), bytes.NewReader(p.body), int64(len(p.body)))
				}
				if !equalFields(fieldsOf(src.Header), fieldsOf(p.header)) {
					t.Fatalf("part %d: constructor headers %v, capture %v", i, src.Header, p.header)
				}
				msg.Parts = append(msg.Parts, src)
			}
			n, err := msg.Len()
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			written, err := msg.WriteTo(&out)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(want)) || written != n {
				t.Errorf("Len %d, written %d, capture %d bytes", n, written, len(want))
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from the capture at byte %d", firstDiff(out.Bytes(), want))
			}
		})
	}
}

// Transport envelopes: the reference root part declares Content-Length 2202
// for a 4047-byte body. The writer refuses to send such a lie; without the
// header the output equals the capture minus that one header line.
func TestWriterTransportEnvelope(t *testing.T) {
	dir := capturesDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.transport-encrypted.wire"))
	if len(files) != 13 {
		t.Fatalf("%d transport captures, want 13", len(files))
	}
	for _, path := range files {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewReader(bytes.NewReader(want), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		parts := readAll(t, r)
		root := PartSource{Header: parts[0].header, Body: bytes.NewReader(parts[0].body), Length: int64(len(parts[0].body))}
		cipherPart := TransportCipherPart(bytes.NewReader(parts[1].body), int64(len(parts[1].body)))
		if !equalFields(fieldsOf(cipherPart.Header), fieldsOf(parts[1].header)) {
			t.Fatalf("%s: osci_enc headers %v, capture %v", path, cipherPart.Header, parts[1].header)
		}
		msg := Message{Boundary: r.Boundary(), Parts: []PartSource{root, cipherPart}}
		if _, err := msg.Len(); !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "Content-Length 2202 but body length 4047") {
			t.Fatalf("%s: wrong root Content-Length accepted: %v", path, err)
		}
		root.Header = Header{parts[0].header[0], parts[0].header[1], parts[0].header[2]}
		msg.Parts[0] = root
		var out bytes.Buffer
		if _, err := msg.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		expect := bytes.Replace(want, []byte("Content-ID: <osci@message>\r\nContent-Length: 2202\r\n"), []byte("Content-ID: <osci@message>\r\n"), 1)
		if !bytes.Equal(out.Bytes(), expect) {
			t.Errorf("%s: differs at byte %d", path, firstDiff(out.Bytes(), expect))
		}
	}
}

func TestDeclaredLengths(t *testing.T) {
	dir := capturesDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "storeDelivery-a.transport-encrypted.wire"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, root); err != nil {
		t.Fatal(err)
	}
	if root.DeclaredLength() != 2202 || root.Size() != 4047 {
		t.Errorf("root declared %d size %d", root.DeclaredLength(), root.Size())
	}
	enc, err := r.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if enc.ContentID() != TransportCipherContentID || enc.DeclaredLength() != -1 || enc.TransferEncoding() != EncodingBinary {
		t.Errorf("osci_enc part: id %q declared %d encoding %q", enc.ContentID(), enc.DeclaredLength(), enc.TransferEncoding())
	}

	inner, err := os.ReadFile(filepath.Join(dir, "storeDelivery-a.transport-encrypted.inner.mime"))
	if err != nil {
		t.Fatal(err)
	}
	ir, err := NewReader(bytes.NewReader(inner), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		p, err := ir.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, p)
		if err != nil {
			t.Fatal(err)
		}
		if p.Index > 0 {
			if p.DeclaredLength() != n || p.TransferEncoding() != Encoding8Bit {
				t.Errorf("attachment %s: declared %d, actual %d, encoding %q", p.ContentID(), p.DeclaredLength(), n, p.TransferEncoding())
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

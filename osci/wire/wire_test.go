package wire

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// synthetic builds a message with the given attachment bodies.
func synthetic(boundary string, root []byte, attachments ...[]byte) *Message {
	m := &Message{Boundary: boundary, Parts: []PartSource{RootPart(root)}}
	for i, a := range attachments {
		m.Parts = append(m.Parts, AttachmentPart(fmt.Sprintf("att-%d.bin", i), bytes.NewReader(a), int64(len(a))))
	}
	return m
}

func encode(t testing.TB, m *Message) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := m.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := m.Len(); want != n || int64(b.Len()) != n {
		t.Fatalf("Len %d, WriteTo %d, buffer %d", want, n, b.Len())
	}
	return b.Bytes()
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	boundary := "MIME_boundary_ab+c/d"
	tricky := [][]byte{
		nil,
		[]byte("x"),
		[]byte("\r\n--MIME_boundary_ab+c/"),          // delimiter prefix
		[]byte("--MIME_boundary_ab+c/"),              // start-of-body near miss
		[]byte("ends with CR\r"),                     // CR right before the delimiter
		[]byte("ends with CRLF--\r\n"),               // CRLF before the delimiter
		bytes.Repeat([]byte("\r\n--"), 20000),        // many candidate positions
		bytes.Repeat([]byte{0}, readBufferSize+7),    // larger than the buffer
		bytes.Repeat([]byte("ab"), 3*readBufferSize), // several buffers
	}
	for i := 0; i < 20; i++ {
		b := make([]byte, rng.IntN(200000))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		tricky = append(tricky, b)
	}
	data := encode(t, synthetic(boundary, []byte("<root/>"), tricky...))
	r, err := NewReader(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	parts := readAll(t, r)
	if len(parts) != len(tricky)+1 {
		t.Fatalf("%d parts, want %d", len(parts), len(tricky)+1)
	}
	if string(parts[0].body) != "<root/>" {
		t.Errorf("root %q", parts[0].body)
	}
	for i, want := range tricky {
		if !bytes.Equal(parts[i+1].body, want) {
			t.Errorf("attachment %d: %d bytes, want %d", i, len(parts[i+1].body), len(want))
		}
	}
}

// oneByteReader delivers one byte per Read, to exercise boundary detection
// across every possible split.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestRoundTripOneByteReads(t *testing.T) {
	bodies := [][]byte{[]byte("\r\n--C"), []byte("a\r\n-"), []byte("\r"), []byte("--"), []byte("\r\n--"), nil}
	data := encode(t, synthetic("B", []byte("<r/>"), bodies...))
	r, err := NewReader(oneByteReader{bytes.NewReader(data)}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	parts := readAll(t, r)
	if len(parts) != len(bodies)+1 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, want := range bodies {
		if !bytes.Equal(parts[i+1].body, want) {
			t.Errorf("part %d: %q, want %q", i+1, parts[i+1].body, want)
		}
	}
}

func TestWriterRefusesDelimiterInBody(t *testing.T) {
	for _, body := range []string{"x\r\n--B", "\r\n--B--", "--B\r\n", "\r\n--BX"} {
		m := synthetic("B", []byte("<r/>"), []byte(body))
		if _, err := m.WriteTo(io.Discard); !errors.Is(err, ErrWrite) || !strings.Contains(err.Error(), "delimiter") {
			t.Errorf("body %q: %v", body, err)
		}
	}
	// A delimiter split across two reads is found as well.
	m := &Message{Boundary: "B", Parts: []PartSource{RootPart([]byte("<r/>")),
		{Header: Header{{HeaderContentID, "<a>"}}, Body: oneByteReader{strings.NewReader("ab\r\n--Bc")}, Length: 8}}}
	if _, err := m.WriteTo(io.Discard); !errors.Is(err, ErrWrite) {
		t.Errorf("split delimiter: %v", err)
	}
}

func TestWriterChecksLengthsAndHeaders(t *testing.T) {
	cases := map[string]*Message{
		"short body":     {Boundary: "B", Parts: []PartSource{{Body: strings.NewReader("abc"), Length: 4}}},
		"long body":      {Boundary: "B", Parts: []PartSource{{Body: strings.NewReader("abcde"), Length: 4}}},
		"unknown length": {Boundary: "B", Parts: []PartSource{{Body: strings.NewReader("abc"), Length: -1}}},
		"no parts":       {Boundary: "B"},
		"bad boundary":   {Boundary: "B\r\n", Parts: []PartSource{RootPart(nil)}},
		"header CRLF":    {Boundary: "B", Parts: []PartSource{{Header: Header{{"X", "a\r\nInjected: 1"}}, Body: strings.NewReader(""), Length: 0}}},
		"dup Content-ID": {Boundary: "B", Parts: []PartSource{RootPart(nil), AttachmentPart("osci@message", strings.NewReader(""), 0)}},
		"length header":  {Boundary: "B", Parts: []PartSource{{Header: Header{{HeaderContentLength, "3"}}, Body: strings.NewReader("abcd"), Length: 4}}},
		"entity boundary": {Boundary: "B", Header: EntityHeader("C"),
			Parts: []PartSource{RootPart(nil)}},
	}
	for name, m := range cases {
		if _, err := m.WriteTo(io.Discard); !errors.Is(err, ErrWrite) {
			t.Errorf("%s: got %v, want ErrWrite", name, err)
		}
	}
}

func TestReaderRejectsMalformed(t *testing.T) {
	good := string(encode(t, synthetic("B", []byte("<r/>"), []byte("att"))))
	cases := []struct {
		name string
		data string
		kind error
	}{
		{"no content type", "MIME-Version: 1.0\r\n\r\n--B\r\n", ErrNotMultipart},
		{"not multipart", "Content-Type: text/xml\r\n\r\n", ErrNotMultipart},
		{"no boundary", "Content-Type: Multipart/Related; type=text/xml\r\n\r\n", ErrNotMultipart},
		{"two content types", "Content-Type: Multipart/Related; boundary=B\r\nContent-Type: Multipart/Related; boundary=C\r\n\r\n", ErrNotMultipart},
		{"LF header lines", strings.ReplaceAll(good, "MIME-Version: 1.0\r\n", "MIME-Version: 1.0\n"), ErrHeader},
		{"truncated in header", good[:strings.Index(good, "Content-ID")], ErrTruncated},
		{"truncated in body", good[:len(good)-12], ErrTruncated},
		{"no closing boundary", strings.TrimSuffix(good, "--B--\r\n"), ErrTruncated},
		{"dup Content-ID", strings.Replace(good, "<att-0.bin>", "<osci@message>", 1), ErrHeader},
		{"dup Content-Length", strings.Replace(good, "Content-Length: 3\r\n", "Content-Length: 3\r\nContent-Length: 3\r\n", 1), ErrHeader},
		{"bad Content-Length", strings.Replace(good, "Content-Length: 3\r\n", "Content-Length: 3x\r\n", 1), ErrHeader},
		{"header without colon", strings.Replace(good, "Content-ID: <att-0.bin>", "Content-ID <att-0.bin>", 1), ErrHeader},
		{"close before parts", "Content-Type: Multipart/Related; boundary=B\r\n\r\n--B--\r\n", ErrFraming},
		{"epilogue too long", good + strings.Repeat("x", DefaultMaxEpilogue+1), ErrLimit},
		{"preamble too long", strings.Replace(good, "\r\n\r\n--B\r\n", "\r\n\r\n"+strings.Repeat("p", DefaultMaxPreamble+10)+"\r\n--B\r\n", 1), ErrLimit},
		{"empty", "", ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := readErr(strings.NewReader(c.data), Limits{})
			if !errors.Is(err, c.kind) {
				t.Fatalf("got %v, want %v", err, c.kind)
			}
			var e *Error
			if !errors.As(err, &e) || e.Detail == "" {
				t.Fatalf("error %v is not a detailed *Error", err)
			}
		})
	}
}

func readErr(src io.Reader, l Limits) error {
	r, err := NewReader(src, l)
	if err != nil {
		return err
	}
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			return err
		}
	}
}

func TestReaderLimits(t *testing.T) {
	many := make([][]byte, 10)
	data := encode(t, synthetic("B", []byte("<r/>"), many...))
	if err := readErr(bytes.NewReader(data), Limits{MaxParts: 5}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxParts: %v", err)
	}
	if err := readErr(bytes.NewReader(data), Limits{MaxParts: 11}); err != nil {
		t.Errorf("11 parts within limit: %v", err)
	}
	big := &Message{Boundary: "B", Parts: []PartSource{{Header: Header{{"X-Big", strings.Repeat("v", 2000)}}, Body: strings.NewReader(""), Length: 0}}}
	data = encode(t, big)
	if err := readErr(bytes.NewReader(data), Limits{MaxHeaderBytes: 1024}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxHeaderBytes: %v", err)
	}
	fields := Header{}
	for i := 0; i < 70; i++ {
		fields = append(fields, Field{fmt.Sprintf("X-%d", i), "v"})
	}
	data = encode(t, &Message{Boundary: "B", Parts: []PartSource{{Header: fields, Body: strings.NewReader(""), Length: 0}}})
	if err := readErr(bytes.NewReader(data), Limits{}); !errors.Is(err, ErrLimit) {
		t.Errorf("MaxHeaderFields: %v", err)
	}
	// A header line longer than the read buffer is a limit error, not a panic.
	long := "Content-Type: Multipart/Related; boundary=B\r\nX: " + strings.Repeat("a", 2*readBufferSize) + "\r\n\r\n"
	if err := readErr(strings.NewReader(long), Limits{MaxHeaderBytes: 1 << 30}); !errors.Is(err, ErrLimit) {
		t.Errorf("huge header line: %v", err)
	}
}

func TestReaderToleratesVariants(t *testing.T) {
	// .NET style: quoted parameters, 8bit, folded header, transport padding,
	// a preamble, and the entity type sent outside the body.
	// "\r\n--b1X" is not a boundary line (the boundary continues), so it
	// is body data.
	body := "preamble text\r\n--b1 \t\r\nContent-Type: text/xml;\r\n charset=UTF-8\r\nContent-ID: <osci@message>\r\n\r\n<r/>\r\n--b1X\r\n--b1\r\nContent-ID: <a>\r\nContent-Transfer-Encoding: 8bit\r\n\r\nA\r\n--b1--"
	r, err := NewReaderContentType(strings.NewReader(body), `multipart/related; type="text/xml"; boundary="b1"; start="<osci@message>"`, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	parts := readAll(t, r)
	if len(parts) != 2 || string(parts[0].body) != "<r/>\r\n--b1X" || string(parts[1].body) != "A" {
		t.Fatalf("parts %+v", parts)
	}
	if parts[0].header.Get("content-type") != "text/xml; charset=UTF-8" {
		t.Errorf("unfolded %q", parts[0].header.Get("content-type"))
	}
	if r.Param("start") != "<osci@message>" || r.Param("type") != "text/xml" {
		t.Errorf("params start=%q type=%q", r.Param("start"), r.Param("type"))
	}
}

func TestParseMediaType(t *testing.T) {
	mt, p, err := ParseMediaType("Multipart/Related; boundary=MIME_boundary_X+OM8RXmk01/fqTAVKzTGUz3nuoetJ1z; type=text/xml")
	if err != nil || mt != "multipart/related" || p["boundary"] != "MIME_boundary_X+OM8RXmk01/fqTAVKzTGUz3nuoetJ1z" || p["type"] != "text/xml" {
		t.Fatalf("%q %v %v", mt, p, err)
	}
	mt, p, err = ParseMediaType(`text/xml; charset="UTF-8"; x="a\"b;c";`)
	if err != nil || mt != "text/xml" || p["charset"] != "UTF-8" || p["x"] != `a"b;c` {
		t.Fatalf("%q %v %v", mt, p, err)
	}
	for _, bad := range []string{"", "text", "/xml", "text/xml; a", "text/xml; a=1; A=2", `text/xml; a="x`, "text/xml; a=b c", "te xt/xml"} {
		if _, _, err := ParseMediaType(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestContentIDFromURL(t *testing.T) {
	for in, want := range map[string]string{"cid:attachment-a.txt": "attachment-a.txt", "CID:a%40b": "a@b"} {
		if got, err := ContentIDFromURL(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"#id", "cid:", "cid:%zz", "http://x"} {
		if _, err := ContentIDFromURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNewBoundary(t *testing.T) {
	a, b := NewBoundary(), NewBoundary()
	if a == b || len(a) != len("MIME_boundary_")+32 || !strings.HasPrefix(a, "MIME_boundary_") {
		t.Fatalf("%q %q", a, b)
	}
	if err := checkBoundary(a); err != nil {
		t.Fatal(err)
	}
}

// patternReader yields n bytes with byte i = i % 251 (the reference payload
// pattern) without holding them.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rest := p.n - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) % 251)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// streamThrough writes a message with an n-byte attachment through a pipe
// into the reader and returns the attachment's SHA-256 as received.
func streamThrough(tb testing.TB, n int64) [32]byte {
	m := &Message{Boundary: NewBoundary(), Parts: []PartSource{RootPart([]byte("<r/>")), AttachmentPart("big", &patternReader{n: n}, n)}}
	pr, pw := io.Pipe()
	go func() {
		_, err := m.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	r, err := NewReader(pr, Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.New()
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if p.Index == 1 {
			if _, err := io.Copy(h, p); err != nil {
				tb.Fatal(err)
			}
		}
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// A large attachment passes writer and reader with memory that does not grow
// with its size (the figure for 100 MB comes from BenchmarkStream100MB).
func TestStreamingDoesNotBuffer(t *testing.T) {
	const n = 64 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	sum := streamThrough(t, n)
	runtime.ReadMemStats(&after)
	want := sha256.New()
	io.Copy(want, &patternReader{n: n})
	if !bytes.Equal(sum[:], want.Sum(nil)) {
		t.Fatal("attachment changed in transit")
	}
	// Everything allocated during the whole run, not just the peak: a
	// buffering implementation would allocate at least n bytes.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > n/8 {
		t.Errorf("allocated %d bytes for a %d-byte attachment", alloc, n)
	}
}

func BenchmarkStream100MB(b *testing.B) {
	const n = 100 << 20
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		streamThrough(b, n)
	}
}

func BenchmarkReadCapture(b *testing.B) {
	data := encode(b, synthetic(NewBoundary(), bytes.Repeat([]byte("<a>x</a>"), 2000), bytes.Repeat([]byte{7}, 1<<20)))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := readErr(bytes.NewReader(data), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

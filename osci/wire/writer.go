package wire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// PartSource is one part to be written: its header fields in the order they
// are to appear, and its body. Length is the exact body length; the writer
// fails if Body yields fewer or more bytes, so a declared Content-Length can
// never disagree with what is sent.
type PartSource struct {
	Header Header
	Body   io.Reader
	Length int64
}

// RootPart returns the SOAP root part in the reference layout:
//
//	Content-Type: text/xml; charset=UTF-8
//	Content-Transfer-Encoding: 8bit
//	Content-ID: <osci@message>
//
// without a Content-Length (the reference sends none on the root part).
func RootPart(xml []byte) PartSource {
	return PartSource{
		Header: Header{
			{HeaderContentType, "text/xml; charset=UTF-8"},
			{HeaderContentTransferEncoding, Encoding8Bit},
			{HeaderContentID, "<" + RootContentID + ">"},
		},
		Body:   bytes.NewReader(xml),
		Length: int64(len(xml)),
	}
}

// AttachmentPart returns an attachment part in the reference layout
// (application/octet-stream, the Java library's "8-bit" transfer encoding,
// Content-ID <contentID>, accurate Content-Length). body must yield exactly
// length bytes; it is read only while the message is written.
func AttachmentPart(contentID string, body io.Reader, length int64) PartSource {
	return PartSource{
		Header: Header{
			{HeaderContentType, "application/octet-stream"},
			{HeaderContentTransferEncoding, "8-bit"},
			{HeaderContentID, "<" + contentID + ">"},
			{HeaderContentLength, strconv.FormatInt(length, 10)},
		},
		Body:   body,
		Length: length,
	}
}

// TransportCipherPart returns the part that carries the transport-encrypted
// inner message in the reference layout (Content-ID <osci_enc>,
// application/octet-stream, binary, no Content-Length).
func TransportCipherPart(body io.Reader, length int64) PartSource {
	return PartSource{
		Header: Header{
			{HeaderContentType, "application/octet-stream"},
			{HeaderContentTransferEncoding, EncodingBinary},
			{HeaderContentID, "<" + TransportCipherContentID + ">"},
		},
		Body:   body,
		Length: length,
	}
}

// TransportCipherContentID is the Content-ID of the ciphertext part of a
// transport-encrypted OSCI message.
const TransportCipherContentID = "osci_enc"

// EntityHeader returns the reference entity headers for boundary:
//
//	MIME-Version: 1.0
//	Content-Type: Multipart/Related; boundary=<boundary>; type=text/xml
func EntityHeader(boundary string) Header {
	return Header{
		{HeaderMIMEVersion, "1.0"},
		{HeaderContentType, "Multipart/Related; boundary=" + boundary + "; type=text/xml"},
	}
}

// NewBoundary returns a fresh boundary in the reference style
// ("MIME_boundary_" and 32 random characters). Only letters and digits are
// used, so receivers that follow RFC 2046 strictly accept it too.
func NewBoundary() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	// 62 symbols: reject bytes >= 248 to keep the choice uniform.
	for i := 0; i < len(b); {
		var one [1]byte
		if _, err := rand.Read(one[:]); err != nil {
			panic("wire: crypto/rand failed: " + err.Error())
		}
		if one[0] < 248 {
			b[i] = alphabet[int(one[0])%len(alphabet)]
			i++
		}
	}
	return "MIME_boundary_" + string(b)
}

// Message is a Multipart/Related message to be written. The zero Header
// means [EntityHeader](Boundary).
type Message struct {
	Boundary string
	Header   Header
	Parts    []PartSource
}

// ErrWrite is the kind of every error Message reports about itself.
var ErrWrite = errors.New("cannot write message")

func (m *Message) errorf(format string, args ...any) error {
	return fmt.Errorf("mime: %w: %s", ErrWrite, fmt.Sprintf(format, args...))
}

func (m *Message) entityHeader() Header {
	if m.Header == nil {
		return EntityHeader(m.Boundary)
	}
	return m.Header
}

// check validates everything that can be checked before writing: boundary,
// header syntax (no CR/LF injection), unique Content-IDs, lengths.
func (m *Message) check() error {
	if err := checkBoundary(m.Boundary); err != nil {
		return m.errorf("%v", err)
	}
	if len(m.Parts) == 0 {
		return m.errorf("no parts")
	}
	if err := checkHeader(m.entityHeader()); err != nil {
		return m.errorf("entity header: %v", err)
	}
	if m.Header != nil {
		_, params, err := ParseMediaType(m.Header.Get(HeaderContentType))
		if err != nil || params["boundary"] != m.Boundary {
			return m.errorf("entity Content-Type does not declare boundary %q", m.Boundary)
		}
	}
	ids := map[string]int{}
	for i, p := range m.Parts {
		if err := checkHeader(p.Header); err != nil {
			return m.errorf("part %d: %v", i, err)
		}
		if p.Length < 0 {
			return m.errorf("part %d: length unknown (%d)", i, p.Length)
		}
		if p.Body == nil && p.Length != 0 {
			return m.errorf("part %d: no body", i)
		}
		for _, name := range []string{HeaderContentType, HeaderContentID, HeaderContentLength, HeaderContentTransferEncoding} {
			if p.Header.count(name) > 1 {
				return m.errorf("part %d: %s given more than once", i, name)
			}
		}
		if p.Header.Has(HeaderContentLength) {
			n, err := parseContentLength(p.Header.Get(HeaderContentLength))
			if err != nil {
				return m.errorf("part %d: Content-Length: %v", i, err)
			}
			if n != p.Length {
				return m.errorf("part %d: Content-Length %d but body length %d", i, n, p.Length)
			}
		}
		if p.Header.Has(HeaderContentID) {
			id := StripAngles(p.Header.Get(HeaderContentID))
			if prev, dup := ids[id]; dup {
				return m.errorf("part %d: Content-ID <%s> already used by part %d", i, id, prev)
			}
			ids[id] = i
		}
	}
	return nil
}

func checkHeader(h Header) error {
	for _, f := range h {
		if !validFieldName(f.Name) {
			return fmt.Errorf("invalid field name %q", f.Name)
		}
		if strings.ContainsAny(f.Value, "\r\n") {
			return fmt.Errorf("field %s: value contains CR or LF", f.Name)
		}
	}
	return nil
}

func writeHeader(b *bytes.Buffer, h Header) {
	for _, f := range h {
		b.WriteString(f.Name)
		b.WriteString(": ")
		b.WriteString(f.Value)
		b.WriteString("\r\n")
	}
}

// framing returns the bytes that precede part i (i == len(Parts) gives the
// closing boundary line).
func (m *Message) framing(i int) []byte {
	var b bytes.Buffer
	switch {
	case i == 0:
		writeHeader(&b, m.entityHeader())
		b.WriteString("\r\n--")
	case i == len(m.Parts):
		b.WriteString("\r\n--" + m.Boundary + "--\r\n")
		return b.Bytes()
	default:
		b.WriteString("\r\n--")
	}
	b.WriteString(m.Boundary)
	b.WriteString("\r\n")
	writeHeader(&b, m.Parts[i].Header)
	b.WriteString("\r\n")
	return b.Bytes()
}

// Len returns the exact number of bytes WriteTo will write, for the HTTP
// Content-Length. It validates the message as WriteTo does.
func (m *Message) Len() (int64, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	var n int64
	for i := range m.Parts {
		n += int64(len(m.framing(i))) + m.Parts[i].Length
	}
	return n + int64(len(m.framing(len(m.Parts)))), nil
}

// WriteTo writes the message, streaming each part body. It fails if a body
// yields a different number of bytes than its Length or contains the
// boundary delimiter (which would make the message ambiguous).
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	r, err := m.Reader()
	if err != nil {
		return 0, err
	}
	// io.Copy would hand the stream to io.MultiReader's WriteTo, which
	// allocates a 32 KiB buffer per call; hiding it lets a ReaderFrom
	// destination (an http.ResponseWriter, a bytes.Buffer) or the pooled
	// buffer do the copying.
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	return io.CopyBuffer(w, struct{ io.Reader }{r}, *buf)
}

// copyBuffers recycle the buffers of Message.WriteTo and Spool.ReadFrom.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Reader returns the message as a stream, suitable as an HTTP request body
// together with Len. Part bodies are read only as the stream is consumed.
func (m *Message) Reader() (io.Reader, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	delim := []byte("\r\n--" + m.Boundary)
	readers := make([]io.Reader, 0, 2*len(m.Parts)+1)
	for i, p := range m.Parts {
		readers = append(readers, bytes.NewReader(m.framing(i)))
		body := p.Body
		if body == nil {
			body = bytes.NewReader(nil)
		}
		readers = append(readers, &bodyReader{m: m, index: i, r: body, remaining: p.Length, delim: delim, tail: []byte("\r\n")})
	}
	readers = append(readers, bytes.NewReader(m.framing(len(m.Parts))))
	return io.MultiReader(readers...), nil
}

// bodyReader passes exactly the declared number of bytes through and fails
// on a short or long body or on a delimiter inside it.
type bodyReader struct {
	m         *Message
	index     int
	r         io.Reader
	remaining int64
	delim     []byte
	tail      []byte // last bytes seen, to find a delimiter spanning reads
	done      bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	if b.remaining == 0 {
		// The body must be exhausted now.
		var one [1]byte
		for {
			n, err := b.r.Read(one[:])
			if n > 0 {
				return 0, b.m.errorf("part %d: body longer than its length %d", b.index, b.m.Parts[b.index].Length)
			}
			if err == io.EOF {
				b.done = true
				return 0, io.EOF
			}
			if err != nil {
				return 0, fmt.Errorf("mime: part %d body: %w", b.index, err)
			}
		}
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.r.Read(p)
	b.remaining -= int64(n)
	if n > 0 {
		if derr := b.scan(p[:n]); derr != nil {
			return 0, derr
		}
	}
	if err == io.EOF {
		if b.remaining > 0 {
			return n, b.m.errorf("part %d: body shorter than its length %d", b.index, b.m.Parts[b.index].Length)
		}
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("mime: part %d body: %w", b.index, err)
	}
	return n, nil
}

// scan looks for the delimiter in tail+data, where tail holds the previous
// len(delim)-1 bytes (initially the CRLF that ends the part headers).
func (b *bodyReader) scan(data []byte) error {
	k := len(b.delim) - 1
	head := data
	if len(head) > k {
		head = head[:k]
	}
	joined := append(append([]byte(nil), b.tail...), head...)
	if bytes.Contains(joined, b.delim) || bytes.Contains(data, b.delim) {
		return b.m.errorf("part %d: body contains the boundary delimiter", b.index)
	}
	if len(data) >= k {
		b.tail = append(b.tail[:0], data[len(data)-k:]...)
	} else {
		b.tail = append(b.tail, data...)
		if len(b.tail) > k {
			b.tail = b.tail[len(b.tail)-k:]
		}
	}
	return nil
}

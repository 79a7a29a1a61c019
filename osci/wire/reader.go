package wire

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Limits bound what a [Reader] accepts. Zero fields take the defaults. Part
// bodies are not limited here: they are streamed, and the caller decides how
// much of each it is willing to keep.
type Limits struct {
	// MaxHeaderBytes bounds one header block (the entity headers or the
	// headers of one part), line ends included. Default 16 KiB; values above
	// 48 KiB are lowered to 48 KiB (the read buffer must hold one line).
	MaxHeaderBytes int
	// MaxHeaderFields bounds the number of fields in one header block.
	// Default 64.
	MaxHeaderFields int
	// MaxParts bounds the number of parts, root part included. Default 1024.
	MaxParts int
	// MaxPreamble bounds the bytes before the first boundary. Default 4 KiB.
	MaxPreamble int
	// MaxEpilogue bounds the bytes after the closing boundary. Default 4 KiB.
	MaxEpilogue int
}

// Default limits.
const (
	DefaultMaxHeaderBytes  = 16 << 10
	DefaultMaxHeaderFields = 64
	DefaultMaxParts        = 1024
	DefaultMaxPreamble     = 4 << 10
	DefaultMaxEpilogue     = 4 << 10

	readBufferSize    = 64 << 10
	maxHeaderBytesCap = 48 << 10
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderBytes > maxHeaderBytesCap {
		l.MaxHeaderBytes = maxHeaderBytesCap
	}
	if l.MaxHeaderFields <= 0 {
		l.MaxHeaderFields = DefaultMaxHeaderFields
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	if l.MaxPreamble <= 0 {
		l.MaxPreamble = DefaultMaxPreamble
	}
	if l.MaxEpilogue <= 0 {
		l.MaxEpilogue = DefaultMaxEpilogue
	}
	return l
}

// Error kinds, wrapped in *Error. Callers branch with errors.Is.
var (
	// ErrNotMultipart: the entity is not Multipart/Related or has no usable boundary.
	ErrNotMultipart = errors.New("not a Multipart/Related entity")
	// ErrHeader: a header block is malformed (syntax, duplicates, bad values).
	ErrHeader = errors.New("malformed header")
	// ErrLimit: a configured limit was exceeded.
	ErrLimit = errors.New("limit exceeded")
	// ErrTruncated: the stream ended before the closing boundary.
	ErrTruncated = errors.New("message truncated")
	// ErrFraming: boundary lines or the bytes around them are malformed.
	ErrFraming = errors.New("malformed multipart framing")
)

// Error says what is wrong with a message and where: the byte offset in the
// stream and the part (-1 for the entity headers and framing outside parts).
type Error struct {
	Kind   error
	Offset int64
	Part   int
	Detail string
}

func (e *Error) Error() string {
	where := "entity"
	if e.Part >= 0 {
		where = fmt.Sprintf("part %d", e.Part)
	}
	return fmt.Sprintf("mime: %v (%s, offset %d): %s", e.Kind, where, e.Offset, e.Detail)
}

func (e *Error) Unwrap() error { return e.Kind }

// Reader reads a Multipart/Related message part by part. Part bodies are
// streamed through a fixed 64 KiB buffer, so memory does not grow with the
// size of the message.
type Reader struct {
	br       *bufio.Reader
	lim      Limits
	header   Header
	media    string
	params   map[string]string
	boundary string
	delim    []byte // CRLF "--" boundary

	off     int64 // bytes consumed from the stream
	part    *Part
	nparts  int
	started bool
	closed  bool
	err     error // sticky
	ids     map[string]int

	released bool
}

// NewReader reads the entity headers at the start of r (MIME-Version,
// Content-Type) and returns a Reader for the parts that follow. This is the
// OSCI layout: the HTTP Content-Type is text/xml and the MIME headers are the
// first lines of the body.
func NewReader(r io.Reader, l Limits) (*Reader, error) {
	mr := newReader(r, l)
	h, err := mr.readHeaderBlock(-1)
	if err != nil {
		return nil, err
	}
	mr.header = h
	if n := h.count(HeaderContentType); n != 1 {
		return nil, mr.errorf(ErrNotMultipart, -1, "%d Content-Type fields in the entity headers, want 1", n)
	}
	if err := mr.setContentType(h.Get(HeaderContentType)); err != nil {
		return nil, err
	}
	return mr, nil
}

// NewReaderContentType returns a Reader for a body that starts directly with
// the first boundary, the entity's Content-Type having been sent elsewhere
// (for example as the HTTP Content-Type by implementations that put the
// multipart type there).
func NewReaderContentType(r io.Reader, contentType string, l Limits) (*Reader, error) {
	mr := newReader(r, l)
	mr.header = Header{{HeaderContentType, contentType}}
	if err := mr.setContentType(contentType); err != nil {
		return nil, err
	}
	return mr, nil
}

func newReader(r io.Reader, l Limits) *Reader {
	br := readBuffers.Get().(*bufio.Reader)
	br.Reset(r)
	return &Reader{br: br, lim: l.withDefaults(), ids: map[string]int{}}
}

// readBuffers recycle the 64 KiB read buffers: opening one OSCI message
// takes two readers (outer and inner message), and a delivery opens
// several messages.
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// released stands in for the buffer of a released Reader: every read fails.
type released struct{}

func (released) Read([]byte) (int, error) { return 0, errReleased }

var errReleased = errors.New("wire: reader used after Release")

// Release gives the Reader's buffer back for reuse by later Readers. Call it
// once nothing reads from the Reader or its parts any more; reads after
// Release fail. Not calling it is fine (the buffer is then left to the
// garbage collector).
func (r *Reader) Release() {
	if r.released {
		return
	}
	r.released = true
	r.br.Reset(nil)
	readBuffers.Put(r.br)
	r.br = bufio.NewReaderSize(released{}, 16)
}

func (r *Reader) setContentType(ct string) error {
	media, params, err := ParseMediaType(ct)
	if err != nil {
		return r.errorf(ErrNotMultipart, -1, "Content-Type %q: %v", ct, err)
	}
	if media != "multipart/related" {
		return r.errorf(ErrNotMultipart, -1, "Content-Type is %s, want Multipart/Related", media)
	}
	b, ok := params["boundary"]
	if !ok {
		return r.errorf(ErrNotMultipart, -1, "Content-Type has no boundary parameter")
	}
	if err := checkBoundary(b); err != nil {
		return r.errorf(ErrNotMultipart, -1, "%v", err)
	}
	r.media, r.params, r.boundary = media, params, b
	r.delim = []byte("\r\n--" + b)
	return nil
}

// Header returns the entity header fields in wire order.
func (r *Reader) Header() Header { return r.header }

// Boundary returns the boundary exactly as declared.
func (r *Reader) Boundary() string { return r.boundary }

// Param returns a parameter of the entity Content-Type (lower-case name), e.g.
// "type" (text/xml for OSCI) or "start".
func (r *Reader) Param(name string) string { return r.params[strings.ToLower(name)] }

// Offset returns the number of bytes consumed from the underlying stream.
func (r *Reader) Offset() int64 { return r.off }

// NextPart returns the next part. The unread rest of the previous part is
// skipped. After the closing boundary it returns io.EOF; a message without
// any part is an error.
func (r *Reader) NextPart() (*Part, error) {
	if r.err != nil {
		return nil, r.err
	}
	if r.closed {
		return nil, io.EOF
	}
	if r.part != nil {
		if _, err := io.Copy(io.Discard, r.part); err != nil {
			return nil, r.fail(err)
		}
		r.part = nil
	}
	if !r.started {
		if err := r.skipPreamble(); err != nil {
			return nil, r.fail(err)
		}
		r.started = true
	} else if err := r.consume(len(r.delim)); err != nil { // the delimiter the last part stopped at
		return nil, r.fail(err)
	}
	// After the boundary: "--" closes, otherwise optional padding and CRLF.
	peek, _ := r.peekAtLeast(2)
	if bytes.HasPrefix(peek, []byte("--")) {
		if r.nparts == 0 {
			return nil, r.fail(r.errorf(ErrFraming, -1, "closing boundary before the first part"))
		}
		if err := r.consume(2); err != nil {
			return nil, r.fail(err)
		}
		if err := r.readEpilogue(); err != nil {
			return nil, r.fail(err)
		}
		r.closed = true
		return nil, io.EOF
	}
	if err := r.endBoundaryLine(); err != nil {
		return nil, r.fail(err)
	}
	if r.nparts >= r.lim.MaxParts {
		return nil, r.fail(r.errorf(ErrLimit, r.nparts, "more than %d parts", r.lim.MaxParts))
	}
	idx := r.nparts
	h, err := r.readHeaderBlock(idx)
	if err != nil {
		return nil, r.fail(err)
	}
	p := &Part{Header: h, Index: idx, r: r, declared: -1}
	if err := p.checkHeader(); err != nil {
		return nil, r.fail(err)
	}
	if p.contentID != "" {
		if prev, dup := r.ids[p.contentID]; dup {
			return nil, r.fail(r.errorf(ErrHeader, idx, "Content-ID <%s> already used by part %d", p.contentID, prev))
		}
		r.ids[p.contentID] = idx
	}
	r.nparts++
	r.part = p
	return p, nil
}

// skipPreamble positions the stream just after the first "--boundary".
func (r *Reader) skipPreamble() error {
	first := r.delim[2:] // "--boundary" at the very start: no preceding CRLF
	peek, err := r.peekAtLeast(len(first))
	if bytes.HasPrefix(peek, first) {
		return r.consume(len(first))
	}
	// Preamble: search CRLF--boundary within the allowed window.
	skipped := 0
	for {
		if i := bytes.Index(peek, r.delim); i >= 0 {
			if skipped+i > r.lim.MaxPreamble {
				break
			}
			return r.consume(i + len(r.delim))
		}
		if err != nil {
			if err == io.EOF {
				return r.errorf(ErrTruncated, -1, "no boundary line --%s found", r.boundary)
			}
			return err
		}
		n := len(peek) - len(r.delim) + 1
		if n <= 0 {
			n = 0
		}
		skipped += n
		if skipped > r.lim.MaxPreamble {
			break
		}
		if err := r.consume(n); err != nil {
			return err
		}
		peek, err = r.peekAtLeast(len(r.delim) + 1)
	}
	return r.errorf(ErrLimit, -1, "no boundary within the first %d bytes (preamble limit)", r.lim.MaxPreamble)
}

// endBoundaryLine consumes transport padding (spaces, tabs) and the CRLF that
// end a boundary line.
func (r *Reader) endBoundaryLine() error {
	for pad := 0; ; pad++ {
		peek, err := r.peekAtLeast(2)
		if len(peek) >= 2 && peek[0] == '\r' && peek[1] == '\n' {
			return r.consume(2)
		}
		if len(peek) > 0 && (peek[0] == ' ' || peek[0] == '\t') && pad < 256 {
			if err := r.consume(1); err != nil {
				return err
			}
			continue
		}
		if err != nil && len(peek) < 2 {
			return r.errorf(ErrTruncated, r.nparts, "stream ends after a boundary")
		}
		return r.errorf(ErrFraming, r.nparts, "boundary line not followed by CRLF (found %q)", clip(peek, 16))
	}
}

func (r *Reader) readEpilogue() error {
	n, err := io.Copy(io.Discard, io.LimitReader(r.br, int64(r.lim.MaxEpilogue)+1))
	r.off += n
	if err != nil {
		return err
	}
	if n > int64(r.lim.MaxEpilogue) {
		return r.errorf(ErrLimit, -1, "more than %d bytes after the closing boundary", r.lim.MaxEpilogue)
	}
	return nil
}

// readHeaderBlock reads header lines up to and including the empty line.
// Lines must end in CRLF; folded lines are unfolded.
func (r *Reader) readHeaderBlock(part int) (Header, error) {
	var h Header
	total := 0
	for {
		line, err := r.br.ReadSlice('\n')
		total += len(line)
		r.off += int64(len(line))
		if total > r.lim.MaxHeaderBytes || err == bufio.ErrBufferFull {
			return nil, r.errorf(ErrLimit, part, "header block larger than %d bytes", r.lim.MaxHeaderBytes)
		}
		if err != nil {
			if err == io.EOF {
				return nil, r.errorf(ErrTruncated, part, "stream ends inside a header block")
			}
			return nil, err
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return nil, r.errorf(ErrHeader, part, "header line %q not terminated by CRLF", clip(line, 40))
		}
		line = line[:len(line)-2]
		if len(line) == 0 {
			return h, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(h) == 0 {
				return nil, r.errorf(ErrHeader, part, "continuation line before the first header field")
			}
			h[len(h)-1].Value = strings.TrimSpace(h[len(h)-1].Value + string(line))
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validFieldName(string(line[:colon])) {
			return nil, r.errorf(ErrHeader, part, "header line %q is not Name: value", clip(line, 40))
		}
		if len(h) >= r.lim.MaxHeaderFields {
			return nil, r.errorf(ErrLimit, part, "more than %d header fields", r.lim.MaxHeaderFields)
		}
		h = append(h, Field{Name: headerString(line[:colon]), Value: headerString(bytes.TrimSpace(line[colon+1:]))})
	}
}

// headerString returns b as a string, without allocating for the header
// names and values every OSCI message repeats (several per part, several
// parts per message).
func headerString(b []byte) string {
	switch string(b) { // compared without a conversion
	case HeaderContentType:
		return HeaderContentType
	case HeaderContentID:
		return HeaderContentID
	case HeaderContentLength:
		return HeaderContentLength
	case HeaderContentTransferEncoding:
		return HeaderContentTransferEncoding
	case HeaderMIMEVersion:
		return HeaderMIMEVersion
	case "1.0":
		return "1.0"
	case Encoding8Bit:
		return Encoding8Bit
	case EncodingBinary:
		return EncodingBinary
	case "text/xml; charset=UTF-8":
		return "text/xml; charset=UTF-8"
	case "application/octet-stream":
		return "application/octet-stream"
	case "<" + RootContentID + ">":
		return "<" + RootContentID + ">"
	case "<" + TransportCipherContentID + ">":
		return "<" + TransportCipherContentID + ">"
	}
	return string(b)
}

// peekAtLeast returns all buffered bytes, reading until at least n are
// buffered or the stream ends (then err is io.EOF).
func (r *Reader) peekAtLeast(n int) ([]byte, error) {
	var err error
	if r.br.Buffered() < n {
		_, err = r.br.Peek(n)
		if err == bufio.ErrBufferFull {
			err = nil
		}
	}
	p, _ := r.br.Peek(r.br.Buffered())
	return p, err
}

func (r *Reader) consume(n int) error {
	d, err := r.br.Discard(n)
	r.off += int64(d)
	if err == io.EOF {
		return r.errorf(ErrTruncated, -1, "stream ends unexpectedly")
	}
	return err
}

func (r *Reader) fail(err error) error {
	if r.err == nil {
		r.err = err
	}
	return err
}

func (r *Reader) errorf(kind error, part int, format string, args ...any) *Error {
	return &Error{Kind: kind, Offset: r.off, Part: part, Detail: fmt.Sprintf(format, args...)}
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Part is one body part. Read returns its body exactly as transmitted (no
// transfer decoding): OSCI signs attachments over these raw bytes.
type Part struct {
	// Header holds the part's header fields in wire order.
	Header Header
	// Index is the part's position, 0 for the root part.
	Index int

	r         *Reader
	n         int64
	eof       bool
	contentID string
	declared  int64
}

func (p *Part) checkHeader() error {
	for _, name := range []string{HeaderContentType, HeaderContentID, HeaderContentLength, HeaderContentTransferEncoding} {
		if p.Header.count(name) > 1 {
			return p.r.errorf(ErrHeader, p.Index, "%s given more than once", name)
		}
	}
	if p.Header.Has(HeaderContentID) {
		p.contentID = StripAngles(p.Header.Get(HeaderContentID))
		if p.contentID == "" {
			return p.r.errorf(ErrHeader, p.Index, "empty Content-ID")
		}
	}
	if p.Header.Has(HeaderContentLength) {
		n, err := parseContentLength(p.Header.Get(HeaderContentLength))
		if err != nil {
			return p.r.errorf(ErrHeader, p.Index, "Content-Length: %v", err)
		}
		p.declared = n
	}
	return nil
}

// ContentID returns the Content-ID without angle brackets, "" if absent.
func (p *Part) ContentID() string { return p.contentID }

// ContentType returns the raw Content-Type value, "" if absent.
func (p *Part) ContentType() string { return p.Header.Get(HeaderContentType) }

// TransferEncoding returns the normalised Content-Transfer-Encoding
// ("8-bit" → "8bit", absent → "7bit").
func (p *Part) TransferEncoding() string {
	return NormalizeTransferEncoding(p.Header.Get(HeaderContentTransferEncoding))
}

// DeclaredLength returns the Content-Length header value, or -1 if absent.
// It is informational only: framing is by boundary, and the Java library
// declares a wrong length on the root part of transport-encrypted messages.
// Compare it with Size after reading if a mismatch matters to the caller.
func (p *Part) DeclaredLength() int64 { return p.declared }

// Size returns the number of body bytes read so far; after Read returned
// io.EOF it is the body length.
func (p *Part) Size() int64 { return p.n }

// Read reads raw body bytes. It returns io.EOF at the boundary that ends the
// part, and an *Error of kind ErrTruncated if the stream ends first.
func (p *Part) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	chunk, err := p.chunk()
	if len(chunk) == 0 {
		return 0, err
	}
	n := copy(b, chunk)
	if err := p.advance(n); err != nil {
		return n, err
	}
	return n, nil
}

// WriteTo streams the rest of the body to w without an intermediate copy.
func (p *Part) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		chunk, err := p.chunk()
		if len(chunk) > 0 {
			n, werr := w.Write(chunk)
			total += int64(n)
			if aerr := p.advance(n); aerr != nil {
				return total, aerr
			}
			if werr != nil {
				return total, werr
			}
			continue
		}
		if err == io.EOF {
			return total, nil
		}
		return total, err
	}
}

func (p *Part) advance(n int) error {
	p.n += int64(n)
	return p.r.consume(n)
}

// chunk returns body bytes that are certainly not part of the delimiter,
// without consuming them. It returns io.EOF (and no bytes) at the delimiter.
func (p *Part) chunk() ([]byte, error) {
	if p.eof {
		return nil, io.EOF
	}
	r := p.r
	if r.err != nil {
		return nil, r.err
	}
	if r.part != p {
		return nil, errors.New("mime: part read after NextPart")
	}
	dl := len(r.delim)
	peek, err := r.peekAtLeast(dl + 2)
	if err != nil && err != io.EOF {
		return nil, r.fail(err)
	}
	for from := 0; ; {
		i := bytes.Index(peek[from:], r.delim)
		if i < 0 {
			break
		}
		i += from
		after := peek[i+dl:]
		if len(after) < 2 && err == nil {
			// Cannot tell yet whether this is a real boundary line; i > 0
			// because at least dl+2 bytes were buffered.
			return peek[:i], nil
		}
		if len(after) >= 2 && (after[0] == '-' && after[1] == '-' || after[0] == ' ' || after[0] == '\t' || after[0] == '\r') {
			if i == 0 {
				p.eof = true
				return nil, io.EOF
			}
			return peek[:i], nil
		}
		from = i + 1 // the boundary string continues: body data
	}
	if err == io.EOF {
		if len(peek) > 0 {
			return peek, nil
		}
		return nil, r.fail(r.errorf(ErrTruncated, p.Index, "stream ends inside the part body (no closing boundary)"))
	}
	// Keep back what could be the start of a delimiter plus its two
	// following bytes.
	safe := len(peek) - dl - 1
	if safe <= 0 {
		// Cannot happen: the buffer holds far more than dl+2 bytes unless the
		// stream ended, which is handled above.
		return nil, r.fail(r.errorf(ErrFraming, p.Index, "internal: boundary scan made no progress"))
	}
	return peek[:safe], nil
}

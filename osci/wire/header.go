// Package wire reads and writes the MIME Multipart/Related framing that
// carries OSCI-Transport 1.2 messages over HTTP.
//
// An OSCI HTTP body is a complete MIME entity: it starts with its own
// `MIME-Version` and `Content-Type: Multipart/Related; boundary=…; type=text/xml`
// headers (the HTTP Content-Type is just text/xml), followed by the root part
// (the SOAP envelope, `Content-ID: <osci@message>`) and one part per
// attachment. The reference implementations deviate from RFC 2045/2046 in
// ways a receiver has to tolerate: the `type` parameter is unquoted although
// it contains a slash (mime.ParseMediaType rejects it), boundaries contain
// `+` and `/`, attachments say `Content-Transfer-Encoding: 8-bit` (Java) or
// `8bit` (.NET), and the root part of a transport-encrypted envelope declares
// a Content-Length that is wrong. This package therefore frames parts by
// their boundary only and reports declared lengths without trusting them.
//
// Both directions stream: [Reader] hands out each part as an io.Reader backed
// by a fixed-size buffer, and [Message] writes parts from io.Readers, computing
// the exact total length first because HTTP needs it before the body.
package wire

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Field is one header field as it appeared on the wire (name spelling kept).
type Field struct {
	Name, Value string
}

// Header is an ordered list of header fields. Order and spelling are kept so
// a message can be reproduced byte for byte.
type Header []Field

// Get returns the value of the first field named name (case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether a field named name (case-insensitive) is present.
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// count returns how many fields are named name.
func (h Header) count(name string) int {
	n := 0
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

// Standard header names used by OSCI.
const (
	HeaderContentType             = "Content-Type"
	HeaderContentID               = "Content-ID"
	HeaderContentLength           = "Content-Length"
	HeaderContentTransferEncoding = "Content-Transfer-Encoding"
	HeaderMIMEVersion             = "MIME-Version"
)

// RootContentID is the Content-ID of the SOAP part of every OSCI message.
const RootContentID = "osci@message"

// Transfer encodings after normalisation by [NormalizeTransferEncoding].
const (
	Encoding7Bit   = "7bit"
	Encoding8Bit   = "8bit"
	EncodingBinary = "binary"
	EncodingBase64 = "base64"
	EncodingQP     = "quoted-printable"
)

// NormalizeTransferEncoding lower-cases a Content-Transfer-Encoding value and
// maps the Java library's non-standard "8-bit" to "8bit". An empty value means
// 7bit (RFC 2045), which for our purposes is the identity encoding.
func NormalizeTransferEncoding(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "":
		return Encoding7Bit
	case "8-bit":
		return Encoding8Bit
	case "7-bit":
		return Encoding7Bit
	}
	return v
}

// IsIdentityEncoding reports whether the (normalised) transfer encoding leaves
// the bytes as they are: 7bit, 8bit and binary.
func IsIdentityEncoding(enc string) bool {
	switch NormalizeTransferEncoding(enc) {
	case Encoding7Bit, Encoding8Bit, EncodingBinary:
		return true
	}
	return false
}

// StripAngles removes the angle brackets around a Content-ID value
// ("<osci@message>" → "osci@message"). A value without brackets is returned
// trimmed but otherwise unchanged.
func StripAngles(id string) string {
	id = strings.TrimSpace(id)
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		return id[1 : len(id)-1]
	}
	return id
}

// parseContentLength parses a Content-Length value: decimal digits only.
func parseContentLength(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, errors.New("empty")
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", v)
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", v, err)
	}
	return n, nil
}

// ParseMediaType parses a Content-Type value leniently enough for OSCI:
// parameter values may be unquoted even when they contain tspecials such as
// "/" (type=text/xml) and boundaries may contain "+" and "/". Quoted values
// are unquoted. The media type and parameter names are lower-cased; values
// keep their spelling. A parameter given twice is an error, because two
// receivers could pick different ones.
func ParseMediaType(v string) (mediatype string, params map[string]string, err error) {
	segs, err := splitParams(v)
	if err != nil {
		return "", nil, err
	}
	mediatype = strings.ToLower(strings.TrimSpace(segs[0]))
	if slash := strings.IndexByte(mediatype, '/'); slash <= 0 || slash == len(mediatype)-1 || strings.ContainsAny(mediatype, " \t\"") {
		return "", nil, fmt.Errorf("media type %q is not type/subtype", segs[0])
	}
	params = make(map[string]string, len(segs)-1)
	for _, s := range segs[1:] {
		s = strings.TrimSpace(s)
		if s == "" {
			continue // tolerate "a/b; x=y;"
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", nil, fmt.Errorf("parameter %q has no name=value form", s)
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		if !isToken(name) {
			return "", nil, fmt.Errorf("parameter name %q is not a token", name)
		}
		val := strings.TrimSpace(s[eq+1:])
		if len(val) > 0 && val[0] == '"' {
			val, err = unquote(val)
			if err != nil {
				return "", nil, fmt.Errorf("parameter %s: %w", name, err)
			}
		} else if strings.ContainsAny(val, " \t\"") {
			return "", nil, fmt.Errorf("parameter %s: unquoted value %q contains white space or a quote", name, val)
		}
		if _, dup := params[name]; dup {
			return "", nil, fmt.Errorf("parameter %s given twice", name)
		}
		params[name] = val
	}
	return mediatype, params, nil
}

// splitParams splits on ';' outside quoted strings.
func splitParams(v string) ([]string, error) {
	var segs []string
	start, inQuote := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ';':
			segs = append(segs, v[start:i])
			start = i + 1
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quoted string")
	}
	return append(segs, v[start:]), nil
}

func unquote(q string) (string, error) {
	if len(q) < 2 || q[len(q)-1] != '"' {
		return "", fmt.Errorf("malformed quoted string %s", q)
	}
	var b strings.Builder
	for i := 1; i < len(q)-1; i++ {
		c := q[i]
		if c == '\\' {
			i++
			if i >= len(q)-1 {
				return "", fmt.Errorf("dangling escape in %s", q)
			}
			c = q[i]
		} else if c == '"' {
			return "", fmt.Errorf("quote inside quoted string %s", q)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// checkBoundary enforces what a boundary must be so that framing is
// unambiguous: 1 to 200 printable ASCII characters, no trailing space. RFC
// 2046 caps it at 70 characters of a smaller alphabet; the reference
// implementations use "+" and "/" as well, and other products use longer
// boundaries, so only what would break framing is refused.
func checkBoundary(b string) error {
	if b == "" {
		return errors.New("empty boundary")
	}
	if len(b) > maxBoundaryLen {
		return fmt.Errorf("boundary is %d characters, limit %d", len(b), maxBoundaryLen)
	}
	for i := 0; i < len(b); i++ {
		if b[i] < ' ' || b[i] > '~' {
			return fmt.Errorf("boundary contains byte 0x%02x", b[i])
		}
	}
	if b[len(b)-1] == ' ' {
		return errors.New("boundary ends with a space")
	}
	return nil
}

const maxBoundaryLen = 200

// validFieldName reports whether a header field name is a token (RFC 5322
// ftext minus the colon, which in practice is the token alphabet).
func validFieldName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// ContentIDFromURL turns a "cid:" URL (RFC 2392) into the Content-ID it
// names, undoing percent-encoding: "cid:attachment-a.txt" → "attachment-a.txt".
func ContentIDFromURL(u string) (string, error) {
	if len(u) < 4 || !strings.EqualFold(u[:4], "cid:") {
		return "", fmt.Errorf("%q is not a cid: URL", u)
	}
	id, err := url.PathUnescape(u[4:])
	if err != nil {
		return "", fmt.Errorf("cid URL %q: %w", u, err)
	}
	if id == "" {
		return "", fmt.Errorf("cid URL %q names no Content-ID", u)
	}
	return id, nil
}

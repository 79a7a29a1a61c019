package osci

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/xagw/xagw/osci/xmldsig"
)

// xw writes XML the way the reference implementation does: start and end
// tags always written out (no empty-element tags), attributes in the order
// given (callers pass them in canonical order), and text and attribute
// values escaped exactly as Canonical XML 1.0 escapes them. An element
// written this way is its own inclusive C14N form once its in-scope
// namespaces are declared on it, which is why every signed block repeats
// the envelope's namespace declarations.
type xw struct{ bytes.Buffer }

// start writes "<name" + nsDecl + attributes + ">". attrs alternate name,
// value.
func (w *xw) start(name, nsDecl string, attrs ...string) {
	w.WriteByte('<')
	w.WriteString(name)
	w.WriteString(nsDecl)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.WriteByte(' ')
		w.WriteString(attrs[i])
		w.WriteString(`="`)
		escapeAttr(&w.Buffer, attrs[i+1])
		w.WriteByte('"')
	}
	w.WriteByte('>')
}

func (w *xw) end(name string) {
	w.WriteString("</")
	w.WriteString(name)
	w.WriteByte('>')
}

// empty writes an element without content as a start and an end tag.
func (w *xw) empty(name, nsDecl string, attrs ...string) {
	w.start(name, nsDecl, attrs...)
	w.end(name)
}

// text writes an element with escaped character content.
func (w *xw) text(name, s string) {
	w.start(name, "")
	escapeText(&w.Buffer, s)
	w.end(name)
}

// b64 writes an element whose content is base64 of data, wrapped at 76
// columns with LF as the reference does.
func (w *xw) b64(name, nsDecl string, data []byte, attrs ...string) {
	w.start(name, nsDecl, attrs...)
	writeBase64Wrapped(&w.Buffer, data)
	w.end(name)
}

// writeBase64Wrapped writes base64 of data with a LF after every 76
// characters, including after the last line when it is exactly 76 long (the
// Java MIME encoder's layout, visible in every SignatureValue of the
// captures): xmldsig's rule, written into the envelope's buffer.
func writeBase64Wrapped(buf *bytes.Buffer, data []byte) { xmldsig.WriteBase64Lines(buf, data) }

// base64Wrapped returns writeBase64Wrapped's output as a string.
func base64Wrapped(data []byte) string { return xmldsig.EncodeBase64Lines(data) }

// escapeText escapes character content as C14N does (& < > and CR).
// Invalid UTF-8 is replaced so the document stays well-formed.
func escapeText(buf *bytes.Buffer, s string) {
	for _, r := range validUTF8(s) {
		switch r {
		case '&':
			buf.WriteString("&amp;")
		case '<':
			buf.WriteString("&lt;")
		case '>':
			buf.WriteString("&gt;")
		case '\r':
			buf.WriteString("&#xD;")
		default:
			buf.WriteRune(r)
		}
	}
}

// escapeAttr escapes an attribute value as C14N does (& < " TAB LF CR).
func escapeAttr(buf *bytes.Buffer, s string) {
	for _, r := range validUTF8(s) {
		switch r {
		case '&':
			buf.WriteString("&amp;")
		case '<':
			buf.WriteString("&lt;")
		case '"':
			buf.WriteString("&quot;")
		case '\t':
			buf.WriteString("&#x9;")
		case '\n':
			buf.WriteString("&#xA;")
		case '\r':
			buf.WriteString("&#xD;")
		default:
			buf.WriteRune(r)
		}
	}
}

// validUTF8 drops characters XML 1.0 cannot carry (invalid UTF-8, control
// characters other than TAB/LF/CR) so a caller-supplied subject can never
// make an envelope unparsable.
func validUTF8(s string) string {
	ok := utf8.ValidString(s)
	if ok {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				ok = false
				break
			}
		}
	}
	if ok {
		return s
	}
	var b []rune
	for _, r := range s {
		if r == utf8.RuneError || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF {
			continue
		}
		b = append(b, r)
	}
	return string(b)
}

func itoa(i int) string { return strconv.Itoa(i) }

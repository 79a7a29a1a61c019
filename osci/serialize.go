package osci

import (
	"bytes"

	"github.com/beevik/etree"
)

// serialize writes el exactly as el.WriteTo(w, &writeSettings) would, but
// fast for the common case. etree escapes text rune by rune (UTF-8 decoding
// and a character-range test per rune), which made serialising the base64
// of a content container or CipherValue one of the larger costs of a
// delivery. Here text and attribute values made only of printable ASCII
// that needs no escaping are copied as they are; anything else (markup
// characters, control characters, non-ASCII, CDATA, comments) is handed to
// etree's own writer for that token, so the output is identical by
// construction.
func serialize(el *etree.Element) []byte { return serializeWith(el, nil) }

// serializePlain is serialize that also reports whether everything was
// copied without escaping (only elements, and attribute values and text
// plainText/plainAttrValue accept): then parsing the bytes gives back
// exactly el, which is what the signer relies on when it canonicalises el
// instead of the bytes (canonicalBody).
func serializePlain(el *etree.Element) ([]byte, bool) {
	var b bytes.Buffer
	b.Grow(serializedSizeHint(el))
	plain := writeFast(&b, el, nil)
	return b.Bytes(), plain
}

// serializeWith serialises el as if the attributes extra had been appended
// to it (etree's CreateAttr on a copy of el).
func serializeWith(el *etree.Element, extra []etree.Attr) []byte {
	var b bytes.Buffer
	b.Grow(serializedSizeHint(el))
	writeFast(&b, el, extra)
	return b.Bytes()
}

// plainByte marks bytes that etree writes unescaped in canonical text and
// canonical attribute values alike: printable ASCII except & < > " '.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for _, c := range `&<>"'` {
		t[c] = false
	}
	return t
}()

// notPlainText and notPlainAttr are 1 for the bytes plainText and
// plainAttrValue refuse.
var notPlainText, notPlainAttr = func() (text, attr [256]uint8) {
	for c := range 256 {
		if !plainByte[c] {
			attr[c] = 1
			if c != '\n' && c != '\t' {
				text[c] = 1
			}
		}
	}
	return text, attr
}()

// plainText reports whether s can be copied as character data: plain bytes
// plus TAB and LF (which canonical text leaves alone).
func plainText(s string) bool { return allPlain(s, &notPlainText) }

func plainAttrValue(s string) bool { return allPlain(s, &notPlainAttr) }

// allPlain reports whether no byte of s is marked in not. The texts are
// the base64 of whole content containers, so it looks at eight bytes per
// step without a branch per byte (about twice as fast as a byte loop).
func allPlain(s string, not *[256]uint8) bool {
	for len(s) >= 8 {
		if not[s[0]]|not[s[1]]|not[s[2]]|not[s[3]]|not[s[4]]|not[s[5]]|not[s[6]]|not[s[7]] != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if not[s[i]] != 0 {
			return false
		}
	}
	return true
}

func writeName(b *bytes.Buffer, space, local string) {
	if space != "" {
		b.WriteString(space)
		b.WriteByte(':')
	}
	b.WriteString(local)
}

// writeFast writes e and reports whether every token took the fast path.
func writeFast(b *bytes.Buffer, e *etree.Element, extra []etree.Attr) (plain bool) {
	plain = true
	b.WriteByte('<')
	writeName(b, e.Space, e.Tag)
	for i := range len(e.Attr) + len(extra) {
		var a *etree.Attr
		if i < len(e.Attr) {
			a = &e.Attr[i]
		} else {
			a = &extra[i-len(e.Attr)]
		}
		b.WriteByte(' ')
		if !plainAttrValue(a.Value) {
			a.WriteTo(b, &writeSettings)
			plain = false
			continue
		}
		writeName(b, a.Space, a.Key)
		b.WriteString(`="`)
		b.WriteString(a.Value)
		b.WriteByte('"')
	}
	b.WriteByte('>')
	for _, c := range e.Child {
		switch t := c.(type) {
		case *etree.Element:
			if !writeFast(b, t, nil) {
				plain = false
			}
		case *etree.CharData:
			if !t.IsCData() && plainText(t.Data) {
				b.WriteString(t.Data)
			} else {
				t.WriteTo(b, &writeSettings)
				plain = false
			}
		default:
			c.WriteTo(b, &writeSettings)
			plain = false
		}
	}
	// writeSettings.CanonicalEndTags: an empty element is <a></a> too.
	b.WriteString("</")
	writeName(b, e.Space, e.Tag)
	b.WriteByte('>')
	return plain
}

// serializedSizeHint estimates the output size (text dominates) so the
// buffer grows once.
func serializedSizeHint(e *etree.Element) int {
	n := 2*len(e.Tag) + 8
	for _, a := range e.Attr {
		n += len(a.Key) + len(a.Space) + len(a.Value) + 4
	}
	for _, c := range e.Child {
		switch t := c.(type) {
		case *etree.Element:
			n += serializedSizeHint(t)
		case *etree.CharData:
			n += len(t.Data)
		}
	}
	return n
}

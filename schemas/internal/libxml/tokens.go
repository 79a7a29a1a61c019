package libxml

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// TokenKind says what a Token is.
type TokenKind uint8

// Token kinds; the values are the record tags of the C side's buffer.
const (
	StartElement TokenKind = 'S'
	Text         TokenKind = 'T'
	EndElement   TokenKind = 'E'
)

// Attr is an attribute of a start element (namespace declarations are not
// attributes here).
type Attr struct {
	Space, Local, Value []byte
}

// Token is one item of a validated document as libxml2 read it: names with
// their resolved namespace, attribute values normalised, references in text
// resolved, line ends normalised. Comments and processing instructions are
// not reported. The slices are valid only during the tokens callback of
// Validate.
type Token struct {
	Kind TokenKind
	// Line is the line of a start element.
	Line         int
	Space, Local []byte
	Attrs        []Attr
	// Text is a piece of character data; an element's text may come in
	// several pieces.
	Text []byte
}

// Tokens reads the tokens recorded during a validation. The buffer is
// written by on_start/on_text/on_end in shim.c:
//
//	'S' line:u32 ns:str local:str n:u32 n×(ns:str local:str value:str)
//	'T' text:str
//	'E'
//
// where str is a u32 length (host byte order) followed by the bytes.
type Tokens struct {
	b     []byte
	pos   int
	attrs []Attr
}

var errTokens = errors.New("libxml: token buffer is corrupt")

// Next returns the next token; ok is false after the last one.
func (t *Tokens) Next() (tok Token, ok bool, err error) {
	if t.pos >= len(t.b) {
		return Token{}, false, nil
	}
	kind := TokenKind(t.b[t.pos])
	t.pos++
	switch kind {
	case EndElement:
		return Token{Kind: EndElement}, true, nil
	case Text:
		s, err := t.str()
		return Token{Kind: Text, Text: s}, err == nil, err
	case StartElement:
		tok.Kind = StartElement
		line, err := t.u32()
		if err != nil {
			return Token{}, false, err
		}
		tok.Line = int(line)
		if tok.Space, err = t.str(); err != nil {
			return Token{}, false, err
		}
		if tok.Local, err = t.str(); err != nil {
			return Token{}, false, err
		}
		n, err := t.u32()
		if err != nil || int(n) > len(t.b) {
			return Token{}, false, errTokens
		}
		t.attrs = t.attrs[:0]
		for i := 0; i < int(n); i++ {
			var a Attr
			if a.Space, err = t.str(); err != nil {
				return Token{}, false, err
			}
			if a.Local, err = t.str(); err != nil {
				return Token{}, false, err
			}
			if a.Value, err = t.str(); err != nil {
				return Token{}, false, err
			}
			// libxml2 2.9 hands SAX2 handlers "&" in attribute values as
			// the character reference "&#38;" when it does not substitute
			// entities (it leaves the decoding to its tree builder); every
			// other reference arrives resolved.
			if bytes.Contains(a.Value, amp38) {
				a.Value = bytes.ReplaceAll(a.Value, amp38, []byte("&"))
			}
			t.attrs = append(t.attrs, a)
		}
		tok.Attrs = t.attrs
		return tok, true, nil
	}
	return Token{}, false, errTokens
}

var amp38 = []byte("&#38;")

func (t *Tokens) u32() (uint32, error) {
	if len(t.b)-t.pos < 4 {
		return 0, errTokens
	}
	v := binary.NativeEndian.Uint32(t.b[t.pos:])
	t.pos += 4
	return v, nil
}

func (t *Tokens) str() ([]byte, error) {
	n, err := t.u32()
	if err != nil || int(n) > len(t.b)-t.pos {
		return nil, errTokens
	}
	s := t.b[t.pos : t.pos+int(n) : t.pos+int(n)]
	t.pos += int(n)
	return s, nil
}

package safexml

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// scanner checks a document in one pass without building tokens. Character
// data, the bulk of real messages (base64 documents), is skipped with
// bytes.IndexByte; only markup is looked at byte by byte. It establishes
// everything Check promises: limits, no DTD, one root element, balanced and
// matching tags, attribute syntax without duplicates, valid references,
// UTF-8 text of XML characters.
type scanner struct {
	data     []byte
	pos      int
	maxDepth int
	maxAttrs int
	stack    [][]byte // open element names (slices of data, no copies)

	// When doc is set, the scanner also builds the tree, exactly as etree's
	// own reader (on encoding/xml) would, but without tokenising character
	// data byte by byte. open holds the elements that stack names.
	doc  *etree.Document
	open []*etree.Element

	// The children of the open elements (and of the document) wait in
	// pending until their element ends; marks[i] is where the children of
	// open[i] start. Then they get a Child slice of exactly their number,
	// carved out of toks, instead of a slice grown by appending.
	pending []etree.Token
	marks   []int

	// Allocation helpers for building: names repeat (ds:Reference, Id, …)
	// and are interned (see internPool); elements, text nodes, attribute and
	// child slices are carved out of chunks instead of allocated one by one.
	names   *interner
	elems   []etree.Element
	texts   []etree.CharData
	attrs   []etree.Attr
	toks    []etree.Token
	scratch []pendingAttr
	seen    map[string]struct{} // duplicate check for elements with many attributes
}

type pendingAttr struct {
	name  []byte
	value []byte
}

// internPool keeps the interners of finished parses, so a document finds
// the names of the documents before it (a process reads the same few
// vocabularies over and over: element and attribute names, namespace URIs)
// and does not allocate them again. An interner that has grown past
// maxInterned is emptied before it goes back, so documents full of
// ever-new names cannot make it grow without bound. Interning changes no
// value, only which copy of an equal string the tree holds.
var internPool = sync.Pool{New: func() any {
	return &interner{m: make(map[string]string, 256), q: make(map[string]qname, 256)}
}}

const (
	maxInterned      = 4096
	maxInternedBytes = 256 << 10
	maxInternedText  = 256 // longer strings are not worth a map entry
	maxInternedValue = 64  // attribute values: algorithm URIs, Ids, "1"
)

// interner is a set of strings, and of qualified names split at their
// colon, each map with a small direct-mapped cache in front: most lookups
// are names met a moment ago, and comparing with one cached candidate is
// cheaper than hashing the whole name.
type interner struct {
	m      map[string]string
	cache  [256]string
	q      map[string]qname
	qcache [256]qname
	size   int // bytes of the strings in m

	// The scanner's working stacks travel with the interner, so that a
	// parse does not grow them from nothing again. They are emptied (and
	// their references cleared) before they go back to the pool.
	stack   [][]byte
	open    []*etree.Element
	marks   []int
	pending []etree.Token
	scratch []pendingAttr
}

// acquire gives a building scanner a pooled interner and its stacks.
func (s *scanner) acquire() {
	t := internPool.Get().(*interner)
	s.names = t
	s.stack, s.open, s.marks, s.pending, s.scratch = t.stack[:0], t.open[:0], t.marks[:0], t.pending[:0], t.scratch[:0]
}

// qname is a qualified name as written and its two parts.
type qname struct{ full, prefix, local string }

func cacheSlot(b []byte) uint {
	n := len(b)
	return (uint(n)*0x9e ^ uint(b[0])*0x3b ^ uint(b[n-1])*0x65 ^ uint(b[n>>1])) & 255
}

func (t *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := cacheSlot(b)
	if c := t.cache[h]; c == string(b) { // compared without allocating
		return c
	}
	v, ok := t.m[string(b)] // no allocation for the lookup
	if !ok {
		v = string(b)
		t.m[v] = v
		t.size += len(v)
	}
	t.cache[h] = v
	return v
}

// split returns the prefix and local part of the qualified name b (whose
// form name has checked).
func (t *interner) split(b []byte) (prefix, local string) {
	h := cacheSlot(b)
	if c := t.qcache[h]; c.full == string(b) {
		return c.prefix, c.local
	}
	v, ok := t.q[string(b)]
	if !ok {
		v.full = string(b)
		v.local = v.full
		if i := bytes.IndexByte(b, ':'); i > 0 {
			v.prefix, v.local = t.get(b[:i]), t.get(b[i+1:])
		}
		t.q[v.full] = v
	}
	t.qcache[h] = v
	return v.prefix, v.local
}

func (s *scanner) releaseNames() {
	t := s.names
	if t == nil {
		return
	}
	if len(t.m)+len(t.q) > maxInterned || t.size > maxInternedBytes {
		clear(t.m)
		clear(t.q)
		t.cache, t.qcache = [256]string{}, [256]qname{}
		t.size = 0
	}
	// Keep the stacks' capacity, not what they point to (the document's
	// bytes and tree).
	t.stack, t.open, t.marks = clearedStack(s.stack), clearedStack(s.open), s.marks[:0]
	t.pending, t.scratch = clearedStack(s.pending), clearedStack(s.scratch)
	s.stack, s.open, s.marks, s.pending, s.scratch = nil, nil, nil, nil, nil
	internPool.Put(t)
	s.names = nil
}

// clearedStack returns s emptied, with every element up to its capacity
// zeroed, unless it has grown beyond what is worth keeping.
func clearedStack[T any](s []T) []T {
	if cap(s) > 4096 {
		return nil
	}
	clear(s[:cap(s)])
	return s[:0]
}

func (s *scanner) intern(b []byte) string {
	if s.names == nil {
		s.names = internPool.Get().(*interner)
	}
	return s.names.get(b)
}

// chunkSize grows with the document so small documents stay small.
func chunkSize(have int) int { return min(max(16, have), 512) }

func (s *scanner) newElement(prefix, local string) *etree.Element {
	if len(s.elems) == 0 {
		s.elems = make([]etree.Element, chunkSize(len(s.open)*8))
	}
	el := &s.elems[0]
	s.elems = s.elems[1:]
	el.Space, el.Tag = prefix, local
	s.pending = append(s.pending, el)
	return el
}

func (s *scanner) newText(text string) {
	if len(s.texts) == 0 {
		s.texts = make([]etree.CharData, chunkSize(len(s.open)*8))
	}
	cd := &s.texts[0]
	s.texts = s.texts[1:]
	cd.SetData(text) // also sets etree's whitespace flag as its reader does
	s.pending = append(s.pending, cd)
}

// adopt gives el (the document element for the document level) the
// pending children from index mark on, in order, in a slice of exactly
// their number; AddChild sets their parent and index as etree's reader
// does.
func (s *scanner) adopt(el *etree.Element, mark int) {
	kids := s.pending[mark:]
	if n := len(kids); n > 0 {
		if len(s.toks) < n {
			s.toks = make([]etree.Token, max(n, chunkSize(len(s.pending)*4)))
		}
		el.Child = s.toks[:0:n]
		s.toks = s.toks[n:]
		for _, k := range kids {
			el.AddChild(k)
		}
	}
	clear(kids)
	s.pending = s.pending[:mark]
}

// attrSlice returns an empty slice with room for exactly n attributes.
func (s *scanner) attrSlice(n int) []etree.Attr {
	if len(s.attrs) < n {
		s.attrs = make([]etree.Attr, max(n, 128))
	}
	out := s.attrs[:0:n]
	s.attrs = s.attrs[n:]
	return out
}

func (s *scanner) fail(kind error, at int, format string, args ...any) *Error {
	return &Error{Kind: kind, Line: 1 + bytes.Count(s.data[:min(at, len(s.data))], []byte{'\n'}), Detail: fmt.Sprintf(format, args...)}
}

func (s *scanner) run() error {
	d := s.data
	if err := s.checkChars(); err != nil {
		return err
	}
	s.pos = 0
	if bytes.HasPrefix(d, []byte("\xef\xbb\xbf")) {
		s.pos = 3
		if s.doc != nil {
			s.pending = append(s.pending, etree.NewText("\ufeff")) // encoding/xml reports the BOM as text
		}
	}
	if err := s.xmlDecl(); err != nil {
		return err
	}
	roots := 0
	for s.pos < len(d) {
		lt := bytes.IndexByte(d[s.pos:], '<')
		end := len(d)
		if lt >= 0 {
			end = s.pos + lt
		}
		if err := s.text(s.pos, end); err != nil {
			return err
		}
		if lt < 0 {
			break
		}
		s.pos = end
		rest := d[s.pos:]
		var err error
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			from := s.pos + 4
			if err = s.skipTo(from, "-->", "comment"); err == nil {
				body := d[from : s.pos-3]
				if bytes.Contains(body, []byte("--")) || bytes.HasSuffix(body, []byte("-")) {
					return s.fail(ErrSyntax, from, `"--" is not allowed inside a comment`)
				}
				if s.doc != nil {
					s.pending = append(s.pending, etree.NewComment(string(body)))
				}
			}
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			if len(s.stack) == 0 {
				return s.fail(ErrSyntax, s.pos, "CDATA section outside the root element")
			}
			from := s.pos + 9
			if err = s.skipTo(from, "]]>", "CDATA section"); err == nil && s.doc != nil {
				s.pending = append(s.pending, etree.NewCData(normalizeNewlines(d[from:s.pos-3])))
			}
		case bytes.HasPrefix(rest, []byte("<?")):
			err = s.procInst()
		case bytes.HasPrefix(rest, []byte("<!")):
			return s.fail(ErrDTD, s.pos, "%s", firstWords(string(rest[2:min(len(rest), 60)])))
		case bytes.HasPrefix(rest, []byte("</")):
			err = s.endTag()
		default:
			if len(s.stack) == 0 {
				roots++
				if roots > 1 {
					return s.fail(ErrSyntax, s.pos, "more than one root element")
				}
			}
			err = s.startTag()
		}
		if err != nil {
			return err
		}
	}
	if roots == 0 {
		return &Error{Kind: ErrEmpty}
	}
	if n := len(s.stack); n > 0 {
		return s.fail(ErrSyntax, len(d), "unexpected end of document: <%s> is not closed", s.stack[n-1])
	}
	if s.doc != nil {
		s.adopt(&s.doc.Element, 0)
	}
	return nil
}

// checkChars requires UTF-8 made of XML 1.0 characters. ASCII is checked with
// a tight loop; multi-byte sequences are decoded only where they occur.
func (s *scanner) checkChars() error {
	d := s.data
	for i := 0; i < len(d); {
		// Sixteen, then eight ASCII bytes of at least 0x20 at a time: the
		// common case for base64 and text. An ASCII word with a control
		// byte (the line feeds of wrapped base64) is checked byte by byte
		// and passed as a whole; a word with a non-ASCII byte falls through
		// to the exact check below.
		const high, low = 0x8080808080808080, 0x2020202020202020
		for rest := d[i:]; len(rest) >= 16; rest = rest[16:] {
			w, v := binary.LittleEndian.Uint64(rest[:8]), binary.LittleEndian.Uint64(rest[8:16])
			if (w|v)&high != 0 || ((w-low)&^w|(v-low)&^v)&high != 0 {
				break
			}
			i += 16
		}
		if i == len(d) {
			break
		}
		if i+8 <= len(d) {
			w := binary.LittleEndian.Uint64(d[i:])
			if w&high == 0 {
				if (w-low)&^w&high != 0 {
					for k, c := range d[i : i+8] {
						if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
							return s.fail(ErrSyntax, i+k, "control character 0x%02x is not allowed in XML", c)
						}
					}
				}
				i += 8
				continue
			}
		}
		c := d[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return s.fail(ErrSyntax, i, "control character 0x%02x is not allowed in XML", c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(d[i:])
		if r == utf8.RuneError && n == 1 {
			return s.fail(ErrSyntax, i, "invalid UTF-8 at byte offset %d (documents must be UTF-8)", i)
		}
		if r == 0xFFFE || r == 0xFFFF {
			return s.fail(ErrSyntax, i, "character U+%04X is not allowed in XML", r)
		}
		i += n
	}
	return nil
}

// xmlDecl accepts an XML declaration at the start; a declared encoding other
// than UTF-8 is refused because the bytes are read as UTF-8.
func (s *scanner) xmlDecl() error {
	rest := s.data[s.pos:]
	if !bytes.HasPrefix(rest, []byte("<?xml")) || len(rest) < 6 || !isSpace(rest[5]) {
		return nil
	}
	end := bytes.Index(rest, []byte("?>"))
	if end < 0 {
		return s.fail(ErrSyntax, s.pos, "XML declaration is not closed")
	}
	decl := rest[5:end]
	if v, ok := declAttr(decl, "version"); ok && v != "1.0" {
		return s.fail(ErrSyntax, s.pos, "XML version %q is not supported: send XML 1.0", v)
	}
	if enc, ok := declAttr(decl, "encoding"); ok && !equalFoldASCII(enc, "UTF-8") && !equalFoldASCII(enc, "UTF8") {
		return s.fail(ErrSyntax, s.pos, "encoding %q is not supported: send UTF-8", enc)
	}
	if s.doc != nil {
		s.pending = append(s.pending, etree.NewProcInst("xml", string(trimLeftSpace(rest[5:end]))))
	}
	s.pos += end + 2
	return nil
}

// declAttr reads a pseudo-attribute (name="value") of an XML declaration.
func declAttr(decl []byte, name string) (string, bool) {
	i := bytes.Index(decl, []byte(name))
	if i < 0 {
		return "", false
	}
	v := trimLeftSpace(decl[i+len(name):])
	if len(v) == 0 || v[0] != '=' {
		return "", false
	}
	v = trimLeftSpace(v[1:])
	if len(v) < 2 || (v[0] != '"' && v[0] != '\'') {
		return "", false
	}
	q := bytes.IndexByte(v[1:], v[0])
	if q < 0 {
		return "", false
	}
	return string(v[1 : 1+q]), true
}

// text checks character data between markup: outside the root only
// whitespace, inside valid references and no "]]>".
func (s *scanner) text(from, to int) error {
	seg := s.data[from:to]
	if len(seg) == 0 {
		return nil
	}
	if len(s.stack) == 0 {
		for i, c := range seg {
			if !isSpace(c) {
				return s.fail(ErrSyntax, from+i, "text outside the root element")
			}
		}
	} else {
		if i := bytes.Index(seg, []byte("]]>")); i >= 0 {
			return s.fail(ErrSyntax, from+i, `"]]>" is not allowed in text`)
		}
		if err := s.references(seg, from); err != nil {
			return err
		}
	}
	if s.doc != nil {
		text := ""
		if len(seg) <= 16 && isAllSpace(seg) {
			text = s.intern(seg) // indentation repeats; \r never occurs (isAllSpace)
		} else {
			text = decodeText(seg, false)
		}
		s.newText(text)
	}
	return nil
}

// references validates every '&' in seg: one of the five predefined entities
// or a character reference to an XML character. Without a DTD nothing else
// can be defined.
func (s *scanner) references(seg []byte, base int) error {
	for off := 0; ; {
		i := bytes.IndexByte(seg[off:], '&')
		if i < 0 {
			return nil
		}
		at := off + i
		semi := bytes.IndexByte(seg[at:min(len(seg), at+12)], ';')
		if semi < 0 {
			return s.fail(ErrSyntax, base+at, "'&' must start an entity or character reference (escape it as &amp;)")
		}
		ref := seg[at+1 : at+semi]
		if !validReference(ref) {
			return s.fail(ErrSyntax, base+at, "undefined or invalid reference &%s;", ref)
		}
		off = at + semi + 1
	}
}

func validReference(ref []byte) bool {
	switch string(ref) {
	case "lt", "gt", "amp", "apos", "quot":
		return true
	}
	if len(ref) < 2 || ref[0] != '#' {
		return false
	}
	var v int64
	digits := ref[1:]
	base := int64(10)
	if digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if len(digits) == 0 || len(digits) > 8 {
		return false
	}
	for _, c := range digits {
		var d int64
		switch {
		case c >= '0' && c <= '9':
			d = int64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = int64(c-'A') + 10
		default:
			return false
		}
		v = v*base + d
	}
	return v == 0x9 || v == 0xA || v == 0xD || (v >= 0x20 && v <= 0xD7FF) ||
		(v >= 0xE000 && v <= 0xFFFD) || (v >= 0x10000 && v <= 0x10FFFF)
}

func (s *scanner) skipTo(from int, end, what string) error {
	i := bytes.Index(s.data[from:], []byte(end))
	if i < 0 {
		return s.fail(ErrSyntax, s.pos, "%s is not closed", what)
	}
	s.pos = from + i + len(end)
	return nil
}

func (s *scanner) procInst() error {
	start := s.pos
	name, next := s.name(s.pos + 2)
	if len(name) == 0 {
		return s.fail(ErrSyntax, start, "processing instruction without a target")
	}
	if equalFoldASCII(string(name), "xml") {
		return s.fail(ErrSyntax, start, "XML declaration is only allowed at the very start")
	}
	if next < len(s.data) && !isSpace(s.data[next]) && !bytes.HasPrefix(s.data[next:], []byte("?>")) {
		return s.fail(ErrSyntax, start, "processing instruction target %s must be followed by a space", name)
	}
	if err := s.skipTo(next, "?>", "processing instruction"); err != nil {
		return err
	}
	if s.doc != nil {
		s.pending = append(s.pending, etree.NewProcInst(string(name), string(trimLeftSpace(s.data[next:s.pos-2]))))
	}
	return nil
}

func (s *scanner) endTag() error {
	start := s.pos
	if n := len(s.stack); n > 0 {
		// The common case: the end tag names the open element. Its name
		// was checked at the start tag; only where it ends is to be seen.
		want, at := s.stack[n-1], s.pos+2
		if end := at + len(want); end < len(s.data) && bytes.Equal(s.data[at:end], want) && !nameByte[s.data[end]] {
			if i := s.skipSpace(end); i < len(s.data) && s.data[i] == '>' {
				s.closeElement()
				s.pos = i + 1
				return nil
			}
		}
	}
	name, i := s.name(s.pos + 2)
	if len(name) == 0 {
		return s.fail(ErrSyntax, start, "end tag without a name")
	}
	i = s.skipSpace(i)
	if i >= len(s.data) || s.data[i] != '>' {
		return s.fail(ErrSyntax, start, "end tag </%s> is not closed with '>'", name)
	}
	n := len(s.stack)
	if n == 0 {
		return s.fail(ErrSyntax, start, "end tag </%s> without a start tag", name)
	}
	if !bytes.Equal(s.stack[n-1], name) {
		return s.fail(ErrSyntax, start, "element <%s> is closed by </%s>", s.stack[n-1], name)
	}
	s.closeElement()
	s.pos = i + 1
	return nil
}

// closeElement pops the innermost open element and gives it its children.
func (s *scanner) closeElement() {
	s.stack = s.stack[:len(s.stack)-1]
	if s.doc != nil {
		m := len(s.open) - 1
		s.adopt(s.open[m], s.marks[m])
		s.open, s.marks = s.open[:m], s.marks[:m]
	}
}

func (s *scanner) startTag() error {
	d := s.data
	start := s.pos
	name, i := s.name(s.pos + 1)
	if len(name) == 0 {
		return s.fail(ErrSyntax, start, "'<' must start markup (escape it as &lt;)")
	}
	if len(s.stack)+1 > s.maxDepth {
		return s.fail(ErrTooDeep, start, "limit %d", s.maxDepth)
	}
	build := s.doc != nil
	s.scratch = s.scratch[:0]
	for {
		j := s.skipSpace(i)
		if j >= len(d) {
			return s.fail(ErrSyntax, start, "start tag <%s> is not closed", name)
		}
		switch {
		case d[j] == '>':
			if build {
				s.open = append(s.open, s.buildElement(name))
				s.marks = append(s.marks, len(s.pending))
			}
			s.stack = append(s.stack, name)
			s.pos = j + 1
			return nil
		case d[j] == '/' && j+1 < len(d) && d[j+1] == '>':
			if build {
				s.buildElement(name)
			}
			s.pos = j + 2
			return nil
		}
		if j == i {
			return s.fail(ErrSyntax, j, "expected whitespace before an attribute in <%s>", name)
		}
		attr, k := s.name(j)
		if len(attr) == 0 {
			return s.fail(ErrSyntax, j, "unexpected %q in start tag <%s>", d[j], name)
		}
		if len(s.scratch) >= s.maxAttrs {
			return s.fail(ErrTooManyAttributes, j, "more than %d attributes on <%s>", s.maxAttrs, name)
		}
		if s.duplicateAttr(attr) {
			return s.fail(ErrSyntax, j, "attribute %q appears twice on <%s>", attr, name)
		}
		k = s.skipSpace(k)
		if k >= len(d) || d[k] != '=' {
			return s.fail(ErrSyntax, j, "attribute %s in <%s> has no value", attr, name)
		}
		k = s.skipSpace(k + 1)
		if k >= len(d) || (d[k] != '"' && d[k] != '\'') {
			return s.fail(ErrSyntax, j, "value of attribute %s in <%s> must be quoted", attr, name)
		}
		q := bytes.IndexByte(d[k+1:], d[k])
		if q < 0 {
			return s.fail(ErrSyntax, j, "value of attribute %s in <%s> is not closed", attr, name)
		}
		val := d[k+1 : k+1+q]
		if lt := bytes.IndexByte(val, '<'); lt >= 0 {
			return s.fail(ErrSyntax, k+1+lt, "'<' is not allowed in the value of attribute %s", attr)
		}
		if err := s.references(val, k+1); err != nil {
			return err
		}
		s.scratch = append(s.scratch, pendingAttr{attr, val})
		i = k + 1 + q + 1
	}
}

// name reads an XML name starting at i and returns it with the index after
// it, or nil if there is none.
func (s *scanner) name(i int) ([]byte, int) {
	if i >= len(s.data) {
		return nil, i
	}
	rest := s.data[i:]
	j := ncNameLen(rest)
	if j == 0 {
		return nil, i
	}
	if c := rest[0]; (c >= '0' && c <= '9') || c == '-' || c == '.' {
		return nil, i
	}
	// Namespaces in XML: a qualified name has at most one colon, with a
	// non-empty prefix and local part.
	if j < len(rest) && rest[j] == ':' {
		k := j + 1 + ncNameLen(rest[j+1:])
		if k == j+1 || (k < len(rest) && rest[k] == ':') {
			return nil, i
		}
		j = k
	}
	return rest[:j], i + j
}

// ncNameLen is the length of the run of name bytes other than ':' at the
// start of b.
func ncNameLen(b []byte) int {
	for j, c := range b {
		if !ncNameByte[c] {
			return j
		}
	}
	return len(b)
}

func (s *scanner) skipSpace(i int) int {
	for i < len(s.data) && isSpace(s.data[i]) {
		i++
	}
	return i
}

// nameByte marks the bytes a name may contain: ASCII letters, digits and
// "_:-.", and every byte of a multi-byte UTF-8 character (the parser that
// follows applies the exact Unicode classes). A table because names are the
// most frequent markup.
var nameByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '_' || c == ':' || c == '-' || c == '.'
	}
	return t
}()

// ncNameByte is nameByte without the colon.
var ncNameByte = func() (t [256]bool) {
	t = nameByte
	t[':'] = false
	return t
}()

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// duplicateAttr reports whether attr is already among the attributes of the
// current start tag. A handful is compared directly; beyond that a set keeps
// the check linear, so many attributes cannot make it quadratic.
func (s *scanner) duplicateAttr(attr []byte) bool {
	const direct = 16 // an envelope's header blocks carry nine or ten
	n := len(s.scratch)
	if n < direct {
		for _, a := range s.scratch {
			if bytes.Equal(a.name, attr) {
				return true
			}
		}
		return false
	}
	if n == direct { // switch to the set: fill it with what we have
		if s.seen == nil {
			s.seen = make(map[string]struct{}, 2*direct)
		}
		clear(s.seen)
		for _, a := range s.scratch {
			s.seen[string(a.name)] = struct{}{}
		}
	}
	if _, dup := s.seen[string(attr)]; dup {
		return true
	}
	s.seen[string(attr)] = struct{}{}
	return false
}

// buildElement adds the element of the start tag just scanned, with the
// attributes collected in scratch, to the tree.
func (s *scanner) buildElement(name []byte) *etree.Element {
	prefix, local := s.splitName(name)
	el := s.newElement(prefix, local)
	if n := len(s.scratch); n > 0 {
		el.Attr = s.attrSlice(n)
		for _, a := range s.scratch {
			space, key := s.splitName(a.name)
			var value string
			switch {
			case space == "xmlns" || (space == "" && key == "xmlns"):
				value = s.internValue(a.value) // namespace URIs repeat in every block
			case len(a.value) <= maxInternedValue:
				value = s.internValue(a.value) // algorithm URIs, actors, Ids repeat too
			default:
				value = decodeText(a.value, true)
			}
			// A placeholder key, renamed at once: CreateAttr would treat an
			// unprefixed name as matching a prefixed one and overwrite it.
			at := el.CreateAttr("\x00", value)
			at.Space, at.Key = space, key
		}
	}
	return el
}

// internValue is decodeText for an attribute value, interned when it is
// short and needs no decoding.
func (s *scanner) internValue(b []byte) string {
	if len(b) <= maxInternedText && bytes.IndexByte(b, '&') < 0 && !hasLiteralSpace(b) {
		return s.intern(b)
	}
	return decodeText(b, true)
}

func hasLiteralSpace(b []byte) bool {
	for _, c := range b {
		if c == '\t' || c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}

func isAllSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' {
			return false
		}
	}
	return true
}

// splitName splits a qualified name (name has checked its form) at its
// colon, interning both parts.
func (s *scanner) splitName(n []byte) (prefix, local string) {
	if s.names == nil {
		s.names = internPool.Get().(*interner)
	}
	return s.names.split(n)
}

func trimLeftSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// normalizeNewlines turns CRLF and lone CR into LF (XML 1.0 §2.11).
func normalizeNewlines(b []byte) string {
	if bytes.IndexByte(b, '\r') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\r' {
			out = append(out, '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}

// DecodeAttributeValue returns the value of a raw attribute value (the
// bytes between its quotes) as XML 1.0 §3.3.3 defines it: literal
// whitespace normalised to spaces, then references resolved. The input must
// come from a document Check accepted (its references are then valid).
func DecodeAttributeValue(raw []byte) string { return decodeText(raw, true) }

// decodeText resolves the references in already-checked character data and
// normalises line ends; in attribute values (attr) literal whitespace becomes
// a space as XML 1.0 §3.3.3 demands. References are resolved after
// normalisation, so &#10; stays a line feed.
func decodeText(b []byte, attr bool) string {
	if bytes.IndexByte(b, '&') < 0 && bytes.IndexByte(b, '\r') < 0 &&
		(!attr || (bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\t') < 0)) {
		return string(b) // the common case: nothing to do
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '\r':
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			if attr {
				out = append(out, ' ')
			} else {
				out = append(out, '\n')
			}
		case '\n', '\t':
			if attr {
				out = append(out, ' ')
			} else {
				out = append(out, c)
			}
		case '&':
			semi := bytes.IndexByte(b[i:], ';') // present: references() checked it
			out = appendReference(out, b[i+1:i+semi])
			i += semi
		default:
			out = append(out, c)
		}
	}
	return string(out)
}

func appendReference(out, ref []byte) []byte {
	switch string(ref) {
	case "lt":
		return append(out, '<')
	case "gt":
		return append(out, '>')
	case "amp":
		return append(out, '&')
	case "apos":
		return append(out, '\'')
	case "quot":
		return append(out, '"')
	}
	var v rune
	digits, base := ref[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	for _, c := range digits {
		switch {
		case c >= '0' && c <= '9':
			v = v*base + rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v*base + rune(c-'a') + 10
		default:
			v = v*base + rune(c-'A') + 10
		}
	}
	return utf8.AppendRune(out, v)
}

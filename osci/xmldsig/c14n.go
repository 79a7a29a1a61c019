package xmldsig

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/beevik/etree"
)

// Canonical XML 1.0 (inclusive), as OSCI uses it for SignedInfo and for every
// element referenced by Id.
//
// The input is an element of a parsed document; the output is the canonical
// form of that element's subtree as a document subset: the namespace
// declarations in scope from its ancestors are rendered on the apex element,
// declarations repeated on descendants with the same value are dropped, and
// xml:* attributes of ancestors are inherited by the apex. This is what the
// reference (and lxml, Santuario) produce for a same-document reference.
//
// Known limit: encoding/xml does not normalise literal tab/CR/LF inside
// attribute values to spaces (XML 1.0 §3.3.3), so an attribute containing a
// literal line break canonicalises to &#xA; where a conforming parser yields
// a space. Such a difference makes a digest fail (never pass); OSCI messages
// do not contain such attributes.

const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// Canonicalize returns the inclusive C14N 1.0 form (without comments) of el
// and its descendants, in the namespace context of el's document.
func Canonicalize(el *etree.Element) []byte {
	var b bytes.Buffer
	writeC14N(&b, el, c14nOptions{})
	return b.Bytes()
}

type c14nOptions struct {
	withComments bool
	exclude      *etree.Element // subtree left out (enveloped-signature transform)
}

// canonicalWriter is the subset of bytes.Buffer / bufio.Writer used here.
type canonicalWriter interface {
	io.Writer
	WriteString(string) (int, error)
	WriteByte(byte) error
}

// c14nBuffers are the write buffers between the canonicaliser and a digest:
// a message signature digests a dozen elements, and a fresh 32 KiB buffer
// for each was most of the garbage of signing and verifying.
var c14nBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 32<<10) }}

// digestC14N writes the canonical form of el into d (a hash) through a
// pooled buffer.
func digestC14N(d io.Writer, el *etree.Element, opt c14nOptions) error {
	bw := c14nBuffers.Get().(*bufio.Writer)
	bw.Reset(d)
	writeC14N(bw, el, opt)
	err := bw.Flush()
	bw.Reset(nil)
	c14nBuffers.Put(bw)
	return err
}

func writeC14N(w canonicalWriter, el *etree.Element, opt c14nOptions) {
	scope := inScopeNamespaces(el)
	rendered := map[string]string{} // nothing rendered above the apex
	writeElement(w, el, scope, rendered, inheritedXMLAttrs(el), true, opt)
}

// inScopeNamespaces returns prefix → URI for the declarations visible at el
// ("" is the default namespace; an empty URI means undeclared).
func inScopeNamespaces(el *etree.Element) map[string]string {
	var chain []*etree.Element
	for e := el; e != nil; e = e.Parent() {
		chain = append(chain, e)
	}
	scope := map[string]string{}
	for i := len(chain) - 1; i >= 0; i-- {
		applyDecls(scope, chain[i])
	}
	return scope
}

func applyDecls(scope map[string]string, e *etree.Element) {
	for _, a := range e.Attr {
		if p, ok := nsDeclPrefix(a); ok {
			scope[p] = a.Value
		}
	}
}

// nsDeclPrefix reports whether a is a namespace declaration and for which
// prefix ("" for xmlns="...").
func nsDeclPrefix(a etree.Attr) (string, bool) {
	if a.Space == "xmlns" {
		return a.Key, true
	}
	if a.Space == "" && a.Key == "xmlns" {
		return "", true
	}
	return "", false
}

// inheritedXMLAttrs returns the xml:* attributes of el's ancestors that el
// does not carry itself (the nearest ancestor wins), which inclusive C14N
// renders on the apex element.
func inheritedXMLAttrs(el *etree.Element) []etree.Attr {
	own := map[string]bool{}
	for _, a := range el.Attr {
		if a.Space == "xml" {
			own[a.Key] = true
		}
	}
	var out []etree.Attr
	for e := el.Parent(); e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if a.Space == "xml" && !own[a.Key] {
				own[a.Key] = true
				out = append(out, etree.Attr{Space: a.Space, Key: a.Key, Value: a.Value})
			}
		}
	}
	return out
}

type nsNode struct{ prefix, uri string }

type attrNode struct {
	uri, local, prefix, value string
}

func writeElement(w canonicalWriter, el *etree.Element, parentScope, rendered map[string]string, extra []etree.Attr, apex bool, opt c14nOptions) {
	// The element's own scope: the parent's plus its declarations.
	scope := parentScope
	hasDecl := false
	for _, a := range el.Attr {
		if _, ok := nsDeclPrefix(a); ok {
			hasDecl = true
			break
		}
	}
	if hasDecl {
		scope = make(map[string]string, len(parentScope)+2)
		for k, v := range parentScope {
			scope[k] = v
		}
		applyDecls(scope, el)
	}

	// Namespace nodes to render: those whose value differs from what the
	// nearest rendered ancestor has. Below the apex, an element without
	// declarations has its parent's scope, which is rendered already.
	var nsBuf [8]nsNode
	nss := nsBuf[:0]
	nsScope := scope
	if !apex && !hasDecl {
		nsScope = nil // nothing new in scope: skip the map iteration
	}
	for p, uri := range nsScope {
		if p == "xml" {
			continue
		}
		prev, seen := rendered[p]
		if p == "" {
			if uri == "" && prev == "" { // xmlns="" only to undo a rendered default
				continue
			}
			if uri == prev && seen {
				continue
			}
		} else if seen && prev == uri {
			continue
		}
		if p != "" && uri == "" {
			continue // prefix undeclaration (XML 1.1) has no namespace node
		}
		nss = append(nss, nsNode{p, uri})
	}
	slices.SortFunc(nss, func(a, b nsNode) int { return strings.Compare(a.prefix, b.prefix) })

	childRendered := rendered
	if len(nss) > 0 {
		childRendered = make(map[string]string, len(rendered)+len(nss))
		for k, v := range rendered {
			childRendered[k] = v
		}
		for _, n := range nss {
			childRendered[n.prefix] = n.uri
		}
	}

	// Most elements have a handful of attributes: keep them on the stack.
	var attrBuf [8]attrNode
	attrs := attrBuf[:0]
	addAttr := func(a etree.Attr) {
		uri := ""
		switch a.Space {
		case "":
		case "xml":
			uri = nsXML
		default:
			uri = scope[a.Space]
		}
		attrs = append(attrs, attrNode{uri, a.Key, a.Space, a.Value})
	}
	for _, a := range el.Attr {
		if _, ok := nsDeclPrefix(a); ok {
			continue
		}
		addAttr(a)
	}
	for _, a := range extra {
		addAttr(a)
	}
	slices.SortStableFunc(attrs, func(a, b attrNode) int {
		if c := strings.Compare(a.uri, b.uri); c != 0 {
			return c
		}
		return strings.Compare(a.local, b.local)
	})

	writeName := func() {
		if el.Space != "" {
			w.WriteString(el.Space)
			w.WriteByte(':')
		}
		w.WriteString(el.Tag)
	}
	w.WriteByte('<')
	writeName()
	for _, n := range nss {
		if n.prefix == "" {
			w.WriteString(` xmlns="`)
		} else {
			w.WriteString(" xmlns:")
			w.WriteString(n.prefix)
			w.WriteString(`="`)
		}
		escapeAttr(w, n.uri)
		w.WriteByte('"')
	}
	for _, a := range attrs {
		w.WriteByte(' ')
		if a.prefix != "" {
			w.WriteString(a.prefix)
			w.WriteByte(':')
		}
		w.WriteString(a.local)
		w.WriteString(`="`)
		escapeAttr(w, a.value)
		w.WriteByte('"')
	}
	w.WriteByte('>')
	for _, tok := range el.Child {
		switch t := tok.(type) {
		case *etree.Element:
			if t == opt.exclude {
				continue
			}
			writeElement(w, t, scope, childRendered, nil, false, opt)
		case *etree.CharData:
			escapeText(w, t.Data)
		case *etree.Comment:
			if opt.withComments {
				w.WriteString("<!--")
				w.WriteString(t.Data)
				w.WriteString("-->")
			}
		case *etree.ProcInst:
			w.WriteString("<?")
			w.WriteString(t.Target)
			if t.Inst != "" {
				w.WriteByte(' ')
				w.WriteString(t.Inst)
			}
			w.WriteString("?>")
		}
	}
	w.WriteString("</")
	writeName()
	w.WriteByte('>')
}

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", `"`, "&quot;", "\t", "&#x9;", "\n", "&#xA;", "\r", "&#xD;")
)

// escapeText and escapeAttr write s unchanged when it has nothing to
// escape, which is almost always. Long text (base64 content) is searched
// byte by byte with the vectorised IndexByte, short strings with a table;
// strings.ContainsAny built its character set on every call.
func escapeText(w canonicalWriter, s string) {
	if !needsEscape(s, &textSpecial, "&<>\r") {
		w.WriteString(s)
		return
	}
	textEscaper.WriteString(w, s)
}

func escapeAttr(w canonicalWriter, s string) {
	if !needsEscape(s, &attrSpecial, "&<\"\t\n\r") {
		w.WriteString(s)
		return
	}
	attrEscaper.WriteString(w, s)
}

var textSpecial, attrSpecial = specials("&<>\r"), specials("&<\"\t\n\r")

func specials(chars string) (t [256]bool) {
	for i := 0; i < len(chars); i++ {
		t[chars[i]] = true
	}
	return t
}

func needsEscape(s string, table *[256]bool, chars string) bool {
	if len(s) > 256 {
		for i := 0; i < len(chars); i++ {
			if strings.IndexByte(s, chars[i]) >= 0 {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(s); i++ {
		if table[s[i]] {
			return true
		}
	}
	return false
}

// Package libxml is the cgo layer between the schemas package and libxml2:
// compile an XSD through a Go resolver (so imports follow the bundle's catalog
// and never touch the network), validate in-memory documents against a
// compiled schema from many goroutines, and return libxml2's structured errors
// (message, line, element path) instead of stderr output.
//
// A compiled *Schema is read-only after compilation and shared; every
// validation uses its own parser and validation context, which is the
// threading model libxml2 supports.
package libxml

/*
#cgo pkg-config: libxml-2.0
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

var initOnce sync.Once

func ensureInit() { initOnce.Do(func() { C.xagw_init() }) }

// Diag is one error reported by libxml2.
type Diag struct {
	Line    int
	Path    string // element path in the instance ("/a/b[2]/c"), empty if unknown
	File    string // schema file (compile errors), empty if unknown
	Message string
	Code    int // libxml2 error code
	Domain  int // libxml2 error domain
}

// CodeExtraCheck is the Code of errors from the checks this package adds
// to libxml2's (strict base64, non-empty text).
const CodeExtraCheck = 1000

// Domain numbers used to tell parse errors from validity errors.
const (
	DomainParser  = 1  // XML_FROM_PARSER
	DomainSchemas = 16 // XML_FROM_SCHEMASP (schema parser)
	DomainSchemav = 17 // XML_FROM_SCHEMASV (validation)
)

// Resolver maps a resource URL requested by libxml2 while compiling a schema
// (an absolute file path, a file: URL, or an http(s) schemaLocation) to a
// local file path. Returning an error makes the load fail.
type Resolver func(url string) (string, error)

type resolverState struct {
	fn   Resolver
	mu   sync.Mutex
	errs []string
}

//export xagwResolveEntity
func xagwResolveEntity(h C.uintptr_t, url *C.char) *C.char {
	st := cgo.Handle(h).Value().(*resolverState)
	u := C.GoString(url)
	p, err := st.fn(u)
	if err != nil {
		st.mu.Lock()
		st.errs = append(st.errs, err.Error())
		st.mu.Unlock()
		return nil
	}
	return C.CString(p) // freed by the C loader
}

// Schema is a compiled XSD schema set.
type Schema struct {
	ptr C.xmlSchemaPtr
	// ctxs pools parser/validation contexts: creating them per document
	// costs more than validating a small message. Bounded, so idle
	// contexts beyond it are freed rather than kept.
	ctxs  chan *C.xagw_ctx
	mu    sync.Mutex // guards freed
	freed bool
	// lists caches the C form of check lists (see checkList).
	lists  sync.Map
	nlists atomic.Int64
}

// maxDiags bounds the errors kept per call; a pathological document cannot
// make us allocate without limit.
const maxDiags = 100

// Compile compiles the schema whose root file is path. Every resource is
// loaded through resolve. On failure the error lists libxml2's messages and
// the resolver's refusals.
func Compile(path string, resolve Resolver) (*Schema, error) {
	ensureInit()
	st := &resolverState{fn: resolve}
	h := cgo.NewHandle(st)
	defer h.Delete()
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var d C.xagw_diags
	d.max = maxDiags
	ptr := C.xagw_compile(cpath, C.uintptr_t(h), &d)
	diags := takeDiags(&d)
	if ptr == nil || len(diags) > 0 {
		if ptr != nil {
			C.xagw_schema_free(ptr)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "compiling %s failed", path)
		for _, e := range st.errs {
			b.WriteString("\n  ")
			b.WriteString(e)
		}
		for _, dg := range diags {
			b.WriteString("\n  ")
			if dg.File != "" {
				fmt.Fprintf(&b, "%s:%d: ", dg.File, dg.Line)
			}
			b.WriteString(dg.Message)
		}
		return nil, errors.New(b.String())
	}
	s := &Schema{ptr: ptr, ctxs: make(chan *C.xagw_ctx, 2*runtime.GOMAXPROCS(0))}
	runtime.SetFinalizer(s, (*Schema).Free)
	return s, nil
}

// Free releases the compiled schema and its pooled contexts. It must not
// be used afterwards (nor concurrently with Free).
func (s *Schema) Free() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.freed {
		return
	}
	s.freed = true
	for {
		select {
		case c := <-s.ctxs:
			C.xagw_ctx_free(c)
			continue
		default:
		}
		break
	}
	C.xagw_schema_free(s.ptr)
	s.ptr = nil
}

func (s *Schema) getCtx() *C.xagw_ctx {
	select {
	case c := <-s.ctxs:
		return c
	default:
		return C.xagw_ctx_new(s.ptr)
	}
}

func (s *Schema) putCtx(c *C.xagw_ctx) {
	C.xagw_ctx_trim(c)
	if C.xagw_ctx_spent(c) != 0 {
		C.xagw_ctx_free(c)
		return
	}
	select {
	case s.ctxs <- c:
	default:
		C.xagw_ctx_free(c)
	}
}

// Code is a coded value found in a validated document.
type Code struct {
	Path          string // element path with indices
	Line          int
	ListURI       string
	HasListURI    bool
	ListVersionID string
	HasVersion    bool
	Value         string // text of the <code> child, as written
}

// Capture is the value found at a path of Request.Capture.
type Capture struct {
	// Present reports that the element (or attribute) occurs.
	Present bool
	// Line is the element's start line.
	Line int
	// Value is the element's own text (or the attribute value), at most
	// MaxCapture bytes.
	Value string
	// Truncated reports that the text was longer than MaxCapture bytes.
	Truncated bool
}

// MaxCapture is the number of bytes of a captured value kept.
const MaxCapture = 1024

// maxChecks is the size of the C check table (XAGW_MAX_CHECKS).
const maxChecks = 1024

// Request says what a validation does besides validating. The typed model
// of a message type hands out the same slices for every document of that
// type, which lets their C form be cached.
type Request struct {
	// Codes collects the coded values (elements shaped
	// <x listURI listVersionID><code/><name/></x>).
	Codes bool
	// Base64 lists element paths without indices ("/a/b") whose text must
	// be strict xs:base64Binary (libxml2 2.9 skips characters outside the
	// base64 alphabet).
	Base64 []string
	// PlainBase64 are Base64 paths whose element type is xs:base64Binary
	// itself (no facets, no default or fixed value): their text is checked
	// strictly here and not handed to libxml2's validator, whose own base64
	// check could find nothing more.
	PlainBase64 []string
	// NonEmpty lists element paths whose text must not be empty.
	NonEmpty []string
	// Capture lists paths without indices whose first occurrence is read:
	// "/a/b" for the text of an element, "/a/@x" for attribute x of the
	// first /a (unqualified attributes only).
	Capture []string
}

// Outcome is the result of one validation.
type Outcome struct {
	// Codes are the document's coded values, when asked for.
	Codes []Code
	// CodesDropped counts coded values beyond the per-call limit.
	CodesDropped int
	// Captures has one entry per Request.Capture path, in that order.
	Captures []Capture
	// Status is 0 when valid, >0 when invalid or not well-formed, <0 on an
	// internal error (which includes any allocation failure on our side).
	Status int
	Diags  []Diag
	// Dropped counts errors beyond the per-call limit.
	Dropped int
}

// Validate parses data (no DTD loading, no entity substitution, no network)
// and validates it, doing what req asks for in the same pass. Callers must
// have checked data with internal/safexml.
//
// When tokens is not nil and the document is valid, tokens is called with
// the document's tokens before Validate returns (the reader is valid only
// during the call): a typed model can be built from them without parsing
// the document again.
func (s *Schema) Validate(data []byte, req *Request, tokens func(*Tokens)) Outcome {
	if req == nil {
		req = &Request{}
	}
	if s.ptr == nil {
		return Outcome{Status: -1, Diags: []Diag{{Message: "schema has been freed"}}}
	}
	if n := len(req.Base64) + len(req.PlainBase64) + len(req.NonEmpty) + len(req.Capture); n > maxChecks/2 {
		// Half: attribute captures may add a table entry for their element.
		return Outcome{Status: -1, Diags: []Diag{{Message: fmt.Sprintf("%d element checks requested; at most %d", n, maxChecks/2)}}}
	}
	if len(data) == 0 || len(data) > 1<<30 {
		return Outcome{Status: 1, Diags: []Diag{{Message: "document empty or larger than 1 GiB"}}}
	}
	cx := s.getCtx()
	if cx == nil {
		return Outcome{Status: -1, Diags: []Diag{{Message: "libxml2 could not allocate a validation context"}}}
	}
	defer s.putCtx(cx)
	var d C.xagw_diags
	d.max = maxDiags
	var checks *C.char
	if len(req.Base64)+len(req.PlainBase64)+len(req.NonEmpty)+len(req.Capture) > 0 {
		var cached bool
		checks, cached = s.checkList(req)
		if !cached {
			defer C.free(unsafe.Pointer(checks))
		}
	}
	var out C.xagw_out
	st := C.xagw_validate(cx, (*C.char)(unsafe.Pointer(&data[0])), C.int(len(data)), &d, cbool(req.Codes), cbool(tokens != nil), checks, &out)
	runtime.KeepAlive(data)
	runtime.KeepAlive(s)
	o := Outcome{Status: int(st), Dropped: int(d.dropped), CodesDropped: int(out.codes_dropped)}
	o.Diags = takeDiags(&d)
	if out.oom != 0 {
		o.Status = -1
		o.Diags = append(o.Diags, Diag{Message: "out of memory while validating"})
		return o
	}
	arena := unsafe.Slice((*byte)(unsafe.Pointer(out.arena)), int(out.arena_len))
	o.Codes = takeCodes(&out, arena)
	o.Captures = takeCaptures(&out, req.Capture)
	if tokens != nil && o.Status == 0 && out.events_len > 0 {
		tokens(&Tokens{b: unsafe.Slice((*byte)(unsafe.Pointer(out.events)), int(out.events_len))})
	}
	return o
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// checkKey identifies a request's check lists by their backing arrays: the
// typed model hands out the same slices for every message of a type.
type checkKey struct {
	b64, plain, ne, capt     *string
	nb64, nplain, nne, ncapt int
}

func first(s []string) *string {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

// maxCachedCheckLists bounds the cache (one entry per message type in
// practice; callers building fresh slices each time are not cached).
const maxCachedCheckLists = 256

// checkList returns the C form of the request's lists ("b/path", "p/path",
// "n/path", "t/path", NUL-separated), cached per list set; cached lists
// live as long as the process and must not be freed.
func (s *Schema) checkList(r *Request) (*C.char, bool) {
	k := checkKey{first(r.Base64), first(r.PlainBase64), first(r.NonEmpty), first(r.Capture),
		len(r.Base64), len(r.PlainBase64), len(r.NonEmpty), len(r.Capture)}
	if v, ok := s.lists.Load(k); ok {
		return v.(*C.char), true
	}
	var b strings.Builder
	for _, l := range []struct {
		kind  string
		paths []string
	}{{"b", r.Base64}, {"p", r.PlainBase64}, {"n", r.NonEmpty}, {"t", r.Capture}} {
		for _, p := range l.paths {
			b.WriteString(l.kind + strings.ReplaceAll(p, "\x00", "") + "\x00")
		}
	}
	cs := C.CString(b.String())
	if s.nlists.Add(1) > maxCachedCheckLists {
		return cs, false
	}
	if prev, loaded := s.lists.LoadOrStore(k, cs); loaded {
		C.free(unsafe.Pointer(cs))
		return prev.(*C.char), true
	}
	return cs, true
}

func takeDiags(d *C.xagw_diags) []Diag {
	defer C.xagw_diags_free(d)
	if d.n == 0 {
		return nil
	}
	items := unsafe.Slice(d.items, int(d.n))
	out := make([]Diag, 0, len(items))
	for _, it := range items {
		dg := Diag{
			Line:    int(it.line),
			Code:    int(it.code),
			Domain:  int(it.domain),
			Message: strings.TrimSpace(C.GoString(it.msg)),
		}
		if it.path != nil {
			dg.Path = C.GoString(it.path)
		}
		if it.file != nil {
			dg.File = C.GoString(it.file)
		}
		out = append(out, dg)
	}
	return out
}

// arenaString returns the NUL-terminated string at off (ok false for -1).
func arenaString(arena []byte, off C.int) (string, bool) {
	if off < 0 || int(off) >= len(arena) {
		return "", false
	}
	b := arena[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), true
}

func takeCodes(out *C.xagw_out, arena []byte) []Code {
	if out.ncodes == 0 {
		return nil
	}
	items := unsafe.Slice(out.codes, int(out.ncodes))
	codes := make([]Code, len(items))
	for i, it := range items {
		c := &codes[i]
		c.Line = int(it.line)
		c.Path, _ = arenaString(arena, it.path)
		c.Value, _ = arenaString(arena, it.code)
		c.ListURI, c.HasListURI = arenaString(arena, it.uri)
		c.ListVersionID, c.HasVersion = arenaString(arena, it.ver)
	}
	return codes
}

func takeCaptures(out *C.xagw_out, paths []string) []Capture {
	if len(paths) == 0 {
		return nil
	}
	caps := make([]Capture, len(paths))
	if int(out.ncaps) < len(paths) {
		return caps // nothing was captured (the table could not be built)
	}
	items := unsafe.Slice(out.caps, int(out.ncaps))
	for i := range caps {
		it := items[i]
		if it.present == 0 {
			continue
		}
		caps[i] = Capture{Present: true, Line: int(it.line), Truncated: it.truncated != 0}
		if it.len > 0 {
			caps[i].Value = C.GoStringN(it.value, it.len)
			if strings.Contains(paths[i], "/@") {
				caps[i].Value = strings.ReplaceAll(caps[i].Value, "&#38;", "&") // see Tokens.Next
			}
		}
	}
	return caps
}

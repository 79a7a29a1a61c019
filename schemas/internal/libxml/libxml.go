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

// maxChecks is the size of the C check table (XAGW_MAX_CHECKS).
const maxChecks = 1024

// maxCodes bounds the coded values collected per document.
const maxCodes = 20000

// Outcome is the result of one validation.
type Outcome struct {
	// Codes are the document's coded values, when asked for.
	Codes []Code
	// CodesDropped counts coded values beyond the per-call limit.
	CodesDropped int
	// Status is 0 when valid, >0 when invalid or not well-formed, <0 on an
	// internal libxml2 error.
	Status int
	Diags  []Diag
	// Dropped counts errors beyond the per-call limit.
	Dropped int
}

// Validate parses data (no DTD loading, no entity substitution, no network)
// and validates it. Callers must have checked data with internal/safexml.
//
// With collectCodes, the coded values (elements shaped <x listURI listVersionID><code/><name/></x>)
// are returned as well, found in the same parse. base64Paths lists element
// paths without indices ("/a/b") whose text must be strict xs:base64Binary
// (libxml2 2.9 skips characters outside the base64 alphabet); nonEmptyPaths
// lists elements whose text must not be empty.
func (s *Schema) Validate(data []byte, collectCodes bool, base64Paths, nonEmptyPaths []string) Outcome {
	if s.ptr == nil {
		return Outcome{Status: -1, Diags: []Diag{{Message: "schema has been freed"}}}
	}
	cx := s.getCtx()
	if cx == nil {
		return Outcome{Status: -1, Diags: []Diag{{Message: "libxml2 could not allocate a validation context"}}}
	}
	defer s.putCtx(cx)
	if len(base64Paths)+len(nonEmptyPaths) > maxChecks {
		return Outcome{Status: -1, Diags: []Diag{{Message: fmt.Sprintf("more than %d element checks requested", maxChecks)}}}
	}
	if len(data) == 0 || len(data) > 1<<30 {
		return Outcome{Status: 1, Diags: []Diag{{Message: "document empty or larger than 1 GiB"}}}
	}
	var d C.xagw_diags
	d.max = maxDiags
	var codes C.xagw_codes
	codes.max = maxCodes
	cp := (*C.xagw_codes)(nil)
	if collectCodes {
		cp = &codes
	}
	var checks *C.char
	if len(base64Paths)+len(nonEmptyPaths) > 0 {
		var cached bool
		checks, cached = s.checkList(base64Paths, nonEmptyPaths)
		if !cached {
			defer C.free(unsafe.Pointer(checks))
		}
	}
	st := C.xagw_validate(cx, (*C.char)(unsafe.Pointer(&data[0])), C.int(len(data)), &d, cp, checks)
	runtime.KeepAlive(data)
	runtime.KeepAlive(s)
	out := Outcome{Status: int(st), Dropped: int(d.dropped), CodesDropped: int(codes.dropped)}
	out.Diags = takeDiags(&d)
	out.Codes = takeCodes(&codes)
	return out
}

// checkKey identifies a pair of check lists by their backing arrays: the
// typed model hands out the same slices for every message of a type.
type checkKey struct {
	b64, ne   *string
	nb64, nne int
}

// maxCachedCheckLists bounds the cache (one entry per message type in
// practice; callers building fresh slices each time are not cached).
const maxCachedCheckLists = 256

// checkList returns the C form of the check lists ("b/path", "n/path",
// NUL-separated), cached per list pair; cached lists live as long as the
// process and must not be freed.
func (s *Schema) checkList(b64, ne []string) (*C.char, bool) {
	k := checkKey{nb64: len(b64), nne: len(ne)}
	if len(b64) > 0 {
		k.b64 = &b64[0]
	}
	if len(ne) > 0 {
		k.ne = &ne[0]
	}
	if v, ok := s.lists.Load(k); ok {
		return v.(*C.char), true
	}
	var b strings.Builder
	for _, p := range b64 {
		b.WriteString("b" + p + "\x00")
	}
	for _, p := range ne {
		b.WriteString("n" + p + "\x00")
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

func takeCodes(c *C.xagw_codes) []Code {
	defer C.xagw_codes_free(c)
	if c.n == 0 {
		return nil
	}
	items := unsafe.Slice(c.items, int(c.n))
	out := make([]Code, len(items))
	for i, it := range items {
		out[i] = Code{Line: int(it.line), Value: C.GoString(it.code)}
		if it.path != nil {
			out[i].Path = C.GoString(it.path)
		}
		if it.uri != nil {
			out[i].ListURI, out[i].HasListURI = C.GoString(it.uri), true
		}
		if it.ver != nil {
			out[i].ListVersionID, out[i].HasVersion = C.GoString(it.ver), true
		}
	}
	return out
}

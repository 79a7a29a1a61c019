// Small C layer over libxml2 for the schemas package: compiling XSDs with a
// per-call (thread-local) entity resolver, validating documents in memory, and
// collecting structured errors with line numbers and element paths instead of
// letting libxml2 print to stderr.
#ifndef XAGW_SHIM_H
#define XAGW_SHIM_H

#include <stdint.h>
#include <libxml/xmlschemas.h>

typedef struct {
	int level;   // xmlErrorLevel
	int domain;  // xmlErrorDomain
	int code;    // libxml2 error code
	int line;    // 1-based, 0 if unknown
	char *msg;   // malloc'd, never NULL
	char *path;  // malloc'd element path, or NULL
	char *file;  // malloc'd file name (compile errors), or NULL
} xagw_diag;

typedef struct {
	xagw_diag *items;
	int n, cap, max;
	int dropped;   // errors beyond max
	int warnings;  // warnings seen (not stored)
	void *stream;  // the streaming validation in progress (paths for errors)
} xagw_diags;

// A coded value found in an instance: an element whose element children are
// an unqualified <code> and optionally <name> (the XÖV code shape). The
// strings are offsets into the validation's string arena (see xagw_out);
// -1 means absent.
typedef struct {
	int path;  // element path with indices
	int line;
	int uri;   // listURI attribute
	int ver;   // listVersionID attribute
	int code;  // text of <code> (at most XAGW_MAX_CODE bytes)
} xagw_code;

// A captured value: the text of the first occurrence of an element (or the
// value of an attribute) whose path the caller asked for.
typedef struct {
	int present;
	int line;
	char *value;   // NUL-terminated, in a buffer of the context
	int len;
	int truncated; // the text was longer than XAGW_MAX_CAPTURE bytes
} xagw_capture;

// What one validation found besides errors. Everything lives in buffers
// owned by the context and stays valid until the context's next use.
typedef struct {
	xagw_code *codes;
	int ncodes;
	int codes_dropped;  // coded values beyond XAGW_MAX_CODES
	xagw_capture *caps;
	int ncaps;
	char *arena;        // NUL-terminated strings referenced by offset
	size_t arena_len;
	char *events;       // the document's tokens, when asked for (see xagw_validate)
	size_t events_len;
	int oom;            // an allocation failed: the outcome is incomplete
} xagw_out;

void xagw_init(void);
void xagw_diags_free(xagw_diags *d);

// xagw_compile compiles the schema at path. resolver is an opaque handle
// passed back to the Go resolver for every external resource libxml2 loads.
xmlSchemaPtr xagw_compile(const char *path, uintptr_t resolver, xagw_diags *d);

// xagw_ctx is a parser and validation context pair for one schema, reused
// across validations by one goroutine at a time.
typedef struct {
	xmlSchemaValidCtxtPtr vc;
	xmlParserCtxtPtr pc;  // push parser with our SAX handlers
	int uses;
	void *w;              // streaming state (stack, check table, buffers), reused
	char *checks;         // copy of the check list the table was built from
	size_t checks_len;
} xagw_ctx;

xagw_ctx *xagw_ctx_new(xmlSchemaPtr s);
void xagw_ctx_free(xagw_ctx *c);
// xagw_ctx_trim releases buffers that grew unusually large for one document.
void xagw_ctx_trim(xagw_ctx *c);
// xagw_ctx_spent reports that a context should be retired (bounded reuse).
int xagw_ctx_spent(xagw_ctx *c);

// xagw_validate parses buf and validates it with the context's schema. It
// returns 0 when valid, a positive number when invalid (or not well-formed)
// and a negative number on an internal error. Errors are appended to d.
//
// checks (NUL-separated entries ending with an empty one, or NULL) name
// element paths without indices, each prefixed by what to do there:
//   'b' the text must be strict xs:base64Binary;
//   'p' the same, and the element is of type xs:base64Binary itself (no
//       facets, no default or fixed value), so its text is not handed to
//       libxml2's validator: the strict check is the whole lexical check;
//   'n' the text must not be empty;
//   't' capture the text of the first occurrence ("/a/@x": attribute x of
//       the first /a); captures are numbered in the order of these entries.
// With codes set, coded values are collected; with events set, the
// document's tokens are recorded (see libxml.go for the format).
int xagw_validate(xagw_ctx *cx, const char *buf, int len, xagw_diags *d, int codes, int events, const char *checks, xagw_out *out);

void xagw_schema_free(xmlSchemaPtr s);

#endif

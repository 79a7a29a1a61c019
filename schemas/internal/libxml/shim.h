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
// an unqualified <code> and optionally <name> (the XÖV code shape).
typedef struct {
	char *path;  // element path with indices
	int line;
	char *uri;   // listURI attribute or NULL
	char *ver;   // listVersionID attribute or NULL
	char *code;  // text of <code>
} xagw_code;

typedef struct {
	xagw_code *items;
	int n, cap, max;
	int dropped;
} xagw_codes;

void xagw_codes_free(xagw_codes *c);

void xagw_init(void);
void xagw_diags_free(xagw_diags *d);

// xagw_compile compiles the schema at path. resolver is an opaque handle
// passed back to the Go resolver for every external resource libxml2 loads.
xmlSchemaPtr xagw_compile(const char *path, uintptr_t resolver, xagw_diags *d);

// xagw_validate parses buf and validates it with the context's schema. It returns 0 when
// valid, a positive number when invalid (or not well-formed) and a negative
// number on an internal error. Errors are appended to d.
// xagw_ctx is a parser and validation context pair for one schema, reused
// across validations by one goroutine at a time.
typedef struct {
	xmlSchemaValidCtxtPtr vc;
	xmlParserCtxtPtr pc;  // push parser with our SAX handlers
	int uses;
	void *w;              // streaming state (stack, check table), reused
	char *checks;         // copy of the check list the table was built from
	size_t checks_len;
} xagw_ctx;

xagw_ctx *xagw_ctx_new(xmlSchemaPtr s);
void xagw_ctx_free(xagw_ctx *c);
// xagw_ctx_spent reports that a context should be retired (bounded reuse).
int xagw_ctx_spent(xagw_ctx *c);

// When codes is not NULL, the coded values of the document are collected too.
// checks (NUL-separated entries ending with an empty one, or NULL) name
// element paths without indices, each prefixed by its check: 'b' the text
// must be strict xs:base64Binary, 'n' the text must not be empty.
// Violations are reported as errors.
int xagw_validate(xagw_ctx *cx, const char *buf, int len, xagw_diags *d, xagw_codes *codes, const char *checks);

void xagw_schema_free(xmlSchemaPtr s);

#endif

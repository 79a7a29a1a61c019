#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/tree.h>
#include "shim.h"
#include "_cgo_export.h"

// The resolver handle of the compile running on this thread, and whether
// this thread is validating an instance (when every external load is refused).
static __thread uintptr_t tls_resolver = 0;
static __thread int tls_deny = 0;
static xmlExternalEntityLoader prev_loader = NULL;

static void b64_init(void);

static xmlParserInputPtr xagw_loader(const char *URL, const char *ID, xmlParserCtxtPtr ctxt) {
	uintptr_t h = tls_resolver;
	if (h == 0) {
		if (tls_deny || prev_loader == NULL) {
			return NULL; // instance documents never load anything
		}
		return prev_loader(URL, ID, ctxt); // someone else's libxml2 use in this process
	}
	if (URL == NULL) {
		return NULL;
	}
	char *p = xagwResolveEntity(h, (char *)URL);
	if (p == NULL) {
		return NULL;
	}
	xmlParserInputPtr in = xmlNewInputFromFile(ctxt, p);
	free(p);
	return in;
}

void xagw_init(void) {
	b64_init();
	xmlInitParser();
	prev_loader = xmlGetExternalEntityLoader();
	xmlSetExternalEntityLoader(xagw_loader);
}

static char *dupstr(const char *s) {
	if (s == NULL) return NULL;
	size_t n = strlen(s);
	char *p = malloc(n + 1);
	if (p) memcpy(p, s, n + 1);
	return p;
}

// node_path builds "/a/b[2]/c" from local names; the index is given only when
// an element has siblings of the same name, so paths stay readable.
static char *node_path(xmlNodePtr node) {
	const char *attr = NULL;
	if (node == NULL) return NULL;
	if (node->type == XML_ATTRIBUTE_NODE) {
		attr = (const char *)node->name;
		node = node->parent;
	}
	char *segs[512];
	int nseg = 0;
	for (xmlNodePtr n = node; n != NULL && n->type == XML_ELEMENT_NODE && nseg < 512; n = n->parent) {
		int idx = 1, more = 0;
		for (xmlNodePtr s = n->prev; s; s = s->prev)
			if (s->type == XML_ELEMENT_NODE && xmlStrEqual(s->name, n->name)) idx++;
		for (xmlNodePtr s = n->next; s; s = s->next)
			if (s->type == XML_ELEMENT_NODE && xmlStrEqual(s->name, n->name)) { more = 1; break; }
		size_t len = strlen((const char *)n->name) + 16;
		char *seg = malloc(len);
		if (!seg) break;
		if (idx > 1 || more)
			snprintf(seg, len, "%s[%d]", (const char *)n->name, idx);
		else
			snprintf(seg, len, "%s", (const char *)n->name);
		segs[nseg++] = seg;
	}
	size_t total = 1 + (attr ? strlen(attr) + 2 : 0);
	for (int i = 0; i < nseg; i++) total += strlen(segs[i]) + 1;
	char *out = malloc(total);
	if (!out) { for (int i = 0; i < nseg; i++) free(segs[i]); return NULL; }
	out[0] = 0;
	for (int i = nseg - 1; i >= 0; i--) {
		strcat(out, "/");
		strcat(out, segs[i]);
		free(segs[i]);
	}
	if (attr) { strcat(out, "/@"); strcat(out, attr); }
	return out;
}

static void collect(void *ud, xmlErrorPtr e) {
	xagw_diags *d = ud;
	if (d == NULL || e == NULL) return;
	if (e->level == XML_ERR_WARNING) { d->warnings++; return; }
	if (d->n >= d->max) { d->dropped++; return; }
	if (d->n == d->cap) {
		int nc = d->cap ? d->cap * 2 : 8;
		xagw_diag *ni = realloc(d->items, nc * sizeof(xagw_diag));
		if (!ni) { d->dropped++; return; }
		d->items = ni; d->cap = nc;
	}
	xagw_diag *it = &d->items[d->n++];
	memset(it, 0, sizeof *it);
	it->level = e->level;
	it->domain = e->domain;
	it->code = e->code;
	it->line = e->line;
	it->msg = dupstr(e->message ? e->message : "unknown libxml2 error");
	it->file = dupstr(e->file);
	if (e->node != NULL) {
		xmlNodePtr n = (xmlNodePtr)e->node;
		it->path = node_path(n);
		if (it->line <= 0) it->line = (int)xmlGetLineNo(n->type == XML_ATTRIBUTE_NODE ? n->parent : n);
	}
}

void xagw_diags_free(xagw_diags *d) {
	for (int i = 0; i < d->n; i++) {
		free(d->items[i].msg);
		free(d->items[i].path);
		free(d->items[i].file);
	}
	free(d->items);
	d->items = NULL;
	d->n = d->cap = 0;
}

xmlSchemaPtr xagw_compile(const char *path, uintptr_t resolver, xagw_diags *d) {
	tls_resolver = resolver;
	xmlSetStructuredErrorFunc(d, (xmlStructuredErrorFunc)collect);
	xmlSchemaPtr s = NULL;
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
	if (pc != NULL) {
		xmlSchemaSetParserStructuredErrors(pc, (xmlStructuredErrorFunc)collect, d);
		s = xmlSchemaParse(pc);
		xmlSchemaFreeParserCtxt(pc);
	}
	xmlSetStructuredErrorFunc(NULL, NULL);
	tls_resolver = 0;
	return s;
}

void xagw_codes_free(xagw_codes *c) {
	for (int i = 0; i < c->n; i++) {
		free(c->items[i].path);
		free(c->items[i].uri);
		free(c->items[i].ver);
		free(c->items[i].code);
	}
	free(c->items);
	c->items = NULL;
	c->n = c->cap = 0;
}

static char *attr_dup(xmlNodePtr n, const char *name) {
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	if (v == NULL) return NULL;
	char *out = dupstr((const char *)v);
	xmlFree(v);
	return out;
}

static int is_code_shaped(xmlNodePtr n, xmlNodePtr *codeElem) {
	xmlNodePtr code = NULL;
	int kids = 0;
	for (xmlNodePtr c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE) continue;
		kids++;
		if (c->ns != NULL) return 0;
		if (xmlStrEqual(c->name, (const xmlChar *)"code")) {
			if (code != NULL || kids != 1) return 0;
			code = c;
		} else if (!xmlStrEqual(c->name, (const xmlChar *)"name") || kids != 2) {
			return 0;
		}
	}
	*codeElem = code;
	return code != NULL;
}

// b64 classifies bytes: 0..63 alphabet value, 64 '=', 65 whitespace,
// 66 anything else.
static unsigned char b64class[256];

static void b64_init(void) {
	for (int i = 0; i < 256; i++) b64class[i] = 66;
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (int i = 0; i < 64; i++) b64class[(unsigned char)alpha[i]] = (unsigned char)i;
	b64class['='] = 64;
	b64class[' '] = b64class['\t'] = b64class['\n'] = b64class['\r'] = 65;
}

typedef struct {
	size_t n;   // significant characters seen
	int pad;    // '=' seen
	int last;   // value of the last alphabet character, -1 if none
	const char *err;
} b64state;

static void b64_feed(b64state *st, const unsigned char *p) {
	for (; *p && st->err == NULL; p++) {
		unsigned char v = b64class[*p];
		if (v < 64) {
			if (st->pad) { st->err = "data after '=' padding"; return; }
			st->last = v;
			st->n++;
		} else if (v == 64) {
			if (++st->pad > 2) { st->err = "more than two '=' padding characters"; return; }
			st->n++;
		} else if (v == 66) {
			st->err = "character outside the base64 alphabet";
		}
	}
}

// b64_check reports why the text of element e is not a valid
// xs:base64Binary lexical value (whitespace removed: groups of four
// alphabet characters, '=' padding only at the end, unused bits zero), or
// NULL when it is valid. libxml2 2.9 silently skips characters outside the
// alphabet, so this runs on every element the caller marks as base64Binary.
// It reads the text nodes in place (no copy of what may be megabytes).
static const char *b64_check(xmlNodePtr e) {
	b64state st = {0, 0, -1, NULL};
	for (xmlNodePtr t = e->children; t && st.err == NULL; t = t->next) {
		if (t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE) {
			if (t->content) b64_feed(&st, t->content);
		} else if (t->type == XML_ELEMENT_NODE) {
			return "element content where base64 text is expected";
		}
	}
	if (st.err) return st.err;
	if (st.n % 4 != 0) return "length is not a multiple of four";
	if (st.pad == 1 && st.last >= 0 && (st.last & 0x03) != 0) return "non-zero bits before '=' padding";
	if (st.pad == 2 && st.last >= 0 && (st.last & 0x0f) != 0) return "non-zero bits before '==' padding";
	return NULL;
}

#define XAGW_MAX_CHECKS 1024
#define XAGW_CHECK_SLOTS 4096 // open-addressing table, > 2 * XAGW_MAX_CHECKS, power of two

typedef struct {
	const char *path;
	size_t len;
	char kind; // 'b' base64, 'n' non-empty; 0 = empty slot
} check_slot;

typedef struct {
	xagw_codes *codes;
	check_slot slots[XAGW_CHECK_SLOTS];
	int nchk;
	xagw_diags *diags;
	char path[4096];
	size_t len;
	uint32_t hash; // FNV-1a of path[0:len], kept incrementally
	int overflow;  // > 0 inside a subtree whose path did not fit
} walker;

#define FNV_OFFSET 2166136261u

static uint32_t fnv1a_more(uint32_t h, const char *p, size_t n) {
	for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 16777619u; }
	return h;
}

static uint32_t fnv1a(const char *p, size_t n) { return fnv1a_more(FNV_OFFSET, p, n); }

static void check_add(walker *w, char kind, const char *path, size_t len) {
	uint32_t i = fnv1a(path, len) & (XAGW_CHECK_SLOTS - 1);
	while (w->slots[i].kind != 0) {
		if (w->slots[i].len == len && memcmp(w->slots[i].path, path, len) == 0) return;
		i = (i + 1) & (XAGW_CHECK_SLOTS - 1);
	}
	w->slots[i] = (check_slot){path, len, kind};
	w->nchk++;
}

// check_kind returns the kind of check for the current path, or 0.
static char check_kind(walker *w) {
	uint32_t i = w->hash & (XAGW_CHECK_SLOTS - 1);
	while (w->slots[i].kind != 0) {
		if (w->slots[i].len == w->len && memcmp(w->slots[i].path, w->path, w->len) == 0) return w->slots[i].kind;
		i = (i + 1) & (XAGW_CHECK_SLOTS - 1);
	}
	return 0;
}

static void add_diag(xagw_diags *d, xmlNodePtr n, const char *msg) {
	xmlError e;
	memset(&e, 0, sizeof e);
	e.level = XML_ERR_ERROR;
	e.domain = XML_FROM_SCHEMASV;
	e.code = 1000; // ours: not a libxml2 code
	e.message = (char *)msg;
	e.node = n;
	e.line = (int)xmlGetLineNo(n);
	collect(d, &e);
}

static void walk(xmlNodePtr n, walker *w) {
	for (xmlNodePtr c = n; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE) continue;
		size_t keep = w->len;
		uint32_t keephash = w->hash;
		size_t nl = strlen((const char *)c->name);
		int over = 0;
		if (w->len + nl + 2 < sizeof w->path) {
			w->path[w->len++] = '/';
			memcpy(w->path + w->len, c->name, nl);
			w->len += nl;
			w->path[w->len] = 0;
			w->hash = fnv1a_more(w->hash, w->path + keep, nl + 1);
		} else {
			// Too long for the buffer: no schema path is this long, so
			// the subtree cannot match a check (and fails the XSD anyway).
			over = 1;
			w->overflow++;
		}
		xmlNodePtr code = NULL;
		if (w->codes && is_code_shaped(c, &code)) {
			xagw_codes *out = w->codes;
			if (out->n >= out->max) {
				out->dropped++;
			} else {
				if (out->n == out->cap) {
					int nc = out->cap ? out->cap * 2 : 16;
					xagw_code *ni = realloc(out->items, nc * sizeof(xagw_code));
					if (ni) { out->items = ni; out->cap = nc; }
				}
				if (out->n < out->cap) {
					xagw_code *it = &out->items[out->n++];
					memset(it, 0, sizeof *it);
					it->path = node_path(c);
					it->line = (int)xmlGetLineNo(c);
					it->uri = attr_dup(c, "listURI");
					it->ver = attr_dup(c, "listVersionID");
					xmlChar *txt = xmlNodeGetContent(code);
					it->code = dupstr(txt ? (const char *)txt : "");
					if (txt) xmlFree(txt);
				} else {
					out->dropped++;
				}
			}
		} else {
			char kind = (w->nchk > 0 && w->overflow == 0) ? check_kind(w) : 0;
			if (kind == 'b') {
				const char *why = b64_check(c);
				if (why) {
					char msg[256];
					snprintf(msg, sizeof msg, "Element '%s': not a valid value of the atomic type 'xs:base64Binary': %s.", (const char *)c->name, why);
					add_diag(w->diags, c, msg);
				}
			} else if (kind == 'n') {
				int empty = 1;
				for (xmlNodePtr t = c->children; t && empty; t = t->next)
					if (t->type == XML_ELEMENT_NODE || ((t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE) && t->content && t->content[0])) empty = 0;
				if (empty) {
					char msg[256];
					snprintf(msg, sizeof msg, "Element '%s': a mandatory element of type din91379:datatypeC is empty (XInneres error code S030).", (const char *)c->name);
					add_diag(w->diags, c, msg);
				}
			}
			walk(c->children, w);
		}
		if (over) w->overflow--;
		w->len = keep;
		w->hash = keephash;
		w->path[keep] = 0;
	}
}

xagw_ctx *xagw_ctx_new(xmlSchemaPtr s) {
	xagw_ctx *c = calloc(1, sizeof(xagw_ctx));
	if (c == NULL) return NULL;
	c->vc = xmlSchemaNewValidCtxt(s);
	c->pc = xmlNewParserCtxt();
	if (c->vc == NULL || c->pc == NULL) {
		xagw_ctx_free(c);
		return NULL;
	}
	return c;
}

void xagw_ctx_free(xagw_ctx *c) {
	if (c == NULL) return;
	free(c->w);
	free(c->checks);
	if (c->vc) xmlSchemaFreeValidCtxt(c->vc);
	if (c->pc) xmlFreeParserCtxt(c->pc);
	free(c);
}

// Contexts are reused for speed; their dictionaries collect the names of
// every document parsed, so a context is retired after this many uses to
// keep memory bounded whatever names attackers send.
#define XAGW_CTX_MAX_USES 2000

int xagw_validate(xagw_ctx *cx, const char *buf, int len, xagw_diags *d, xagw_codes *codes, const char *checks) {
	int ret = -1;
	tls_deny = 1;
	cx->uses++;
	xmlParserCtxtPtr pc = cx->pc;
	// No NOENT (entities are never substituted), no DTDLOAD/DTDATTR/DTDVALID,
	// NONET as a second lock behind the refusing loader.
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA | XML_PARSE_COMPACT;
	xmlDocPtr doc = xmlCtxtReadMemory(pc, buf, len, "message.xml", NULL, opts);
	if (doc == NULL) {
		xmlErrorPtr e = xmlCtxtGetLastError(pc);
		if (e != NULL) collect(d, e);
		ret = 1;
		goto out;
	}
	if (doc->intSubset != NULL || doc->extSubset != NULL) {
		xmlFreeDoc(doc);
		ret = 2; // the Go side has already refused DTDs; this is defence in depth
		goto out;
	}
	xmlSchemaValidCtxtPtr vc = cx->vc;
	xmlSchemaSetValidStructuredErrors(vc, (xmlStructuredErrorFunc)collect, d);
	ret = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaSetValidStructuredErrors(vc, NULL, NULL);
	if (codes != NULL || checks != NULL) {
		walker *w = cx->w;
		if (w == NULL) {
			w = cx->w = calloc(1, sizeof(walker));
			if (w == NULL) { ret = -1; xmlFreeDoc(doc); goto out; }
		}
		// The check table is rebuilt only when the list changes (it is the
		// same for every message of one type).
		size_t clen = 0;
		if (checks) {
			const char *p = checks;
			while (*p) p += strlen(p) + 1;
			clen = (size_t)(p - checks) + 1;
		}
		if (clen != cx->checks_len || (clen && memcmp(cx->checks, checks, clen) != 0)) {
			free(cx->checks);
			cx->checks = NULL;
			cx->checks_len = 0;
			memset(w->slots, 0, sizeof w->slots);
			w->nchk = 0;
			if (clen) {
				cx->checks = malloc(clen);
				if (cx->checks == NULL) { ret = -1; xmlFreeDoc(doc); goto out; }
				memcpy(cx->checks, checks, clen);
				cx->checks_len = clen;
				for (const char *p = cx->checks; *p && w->nchk < XAGW_MAX_CHECKS; p += strlen(p) + 1)
					check_add(w, p[0], p + 1, strlen(p + 1));
			}
		}
		w->codes = codes;
		w->diags = d;
		w->len = 0;
		w->path[0] = 0;
		w->hash = FNV_OFFSET;
		w->overflow = 0;
		walk(xmlDocGetRootElement(doc), w);
		if (ret == 0 && d->n > 0) ret = 3; // a check of ours failed
	}
	xmlFreeDoc(doc);
out:
	tls_deny = 0;
	return ret;
}

int xagw_ctx_spent(xagw_ctx *cx) { return cx->uses >= XAGW_CTX_MAX_USES; }

void xagw_schema_free(xmlSchemaPtr s) {
	if (s) xmlSchemaFree(s);
}

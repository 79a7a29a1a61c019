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
static char *stream_path(void *stream, int *line);

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
	} else if (d->stream != NULL) {
		// Streaming validation: the error concerns the element on top of
		// the stream's stack (see stream_path); report its start line, as
		// for a tree.
		int line = 0;
		it->path = stream_path(d->stream, &line);
		if (line > 0) it->line = line;
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


// ---------------------------------------------------------------------------
// Streaming validation. The document is parsed with SAX and validated with
// libxml2's schema SAX plug, without building a tree (building and freeing
// the tree was about half of libxml2's time). Our SAX handlers keep a stack
// of open elements, which gives errors their element path and start line,
// collects coded values and runs the element checks (strict base64,
// non-empty text).
//
// The plug calls our end-element handler before the validator's, so an
// element is popped lazily (at our next event): errors the validator raises
// while ending an element still see that element on top.
// ---------------------------------------------------------------------------

static unsigned char b64class[256];

static void b64_init(void) {
	for (int i = 0; i < 256; i++) b64class[i] = 66;
	const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (int i = 0; i < 64; i++) b64class[(unsigned char)alpha[i]] = (unsigned char)i;
	b64class['='] = 64;
	b64class[' '] = b64class['\t'] = b64class['\n'] = b64class['\r'] = 65;
}

// b64state checks xs:base64Binary text fed in pieces: whitespace ignored,
// groups of four alphabet characters, '=' padding only at the end, unused
// bits zero. libxml2 2.9 silently skips characters outside the alphabet.
typedef struct {
	size_t n;
	int pad;
	int last;
	const char *err;
} b64state;

static void b64_feed(b64state *st, const unsigned char *p, int len) {
	for (int i = 0; i < len && st->err == NULL; i++) {
		unsigned char v = b64class[p[i]];
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

static const char *b64_done(b64state *st) {
	if (st->err) return st->err;
	if (st->n % 4 != 0) return "length is not a multiple of four";
	if (st->pad == 1 && st->last >= 0 && (st->last & 0x03) != 0) return "non-zero bits before '=' padding";
	if (st->pad == 2 && st->last >= 0 && (st->last & 0x0f) != 0) return "non-zero bits before '==' padding";
	return NULL;
}

#define XAGW_MAX_CHECKS 1024
#define XAGW_CHECK_SLOTS 4096 // open addressing, > 2 * XAGW_MAX_CHECKS, power of two
#define XAGW_MAX_DEPTH 1024
#define XAGW_MAX_CODE 4096    // bytes of a <code> text kept

typedef struct {
	const char *path;
	size_t len;
	char kind; // 'b' base64, 'n' non-empty; 0 = empty slot
} check_slot;

typedef struct {
	const xmlChar *name;
	int n;
} kidcount;

typedef struct {
	const xmlChar *name; // local name (parser dictionary)
	int line;
	int idx;             // among same-named siblings, 1-based
	size_t plen;         // path length before this element
	uint32_t phash;      // path hash before this element
	int over;            // this element's path did not fit the buffer
	char kind;           // element check
	b64state b64;
	int content;         // 'n' check: text or child seen
	int code_state;      // 0 no child yet, 1 <code>, 2 <code><name>, -1 not a code
	int is_code_child;   // this is the <code> of a code-shaped parent
	char *list_uri, *list_ver;
	char *code; size_t code_len;
	kidcount *kids; int nkids, capkids;
} frame;

typedef struct {
	xagw_diags *diags;
	xagw_codes *codes;
	xmlParserCtxtPtr pc;
	check_slot slots[XAGW_CHECK_SLOTS];
	int nchk;
	frame *st; int depth, cap;
	int pending;         // elements ended but not yet popped (0 or 1)
	char path[4096];
	size_t len;
	uint32_t hash;
	int overflow;
	int dtd;
} stream;

#define FNV_OFFSET 2166136261u

static uint32_t fnv1a_more(uint32_t h, const char *p, size_t n) {
	for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 16777619u; }
	return h;
}

static void check_add(stream *w, char kind, const char *path, size_t len) {
	uint32_t i = fnv1a_more(FNV_OFFSET, path, len) & (XAGW_CHECK_SLOTS - 1);
	while (w->slots[i].kind != 0) {
		if (w->slots[i].len == len && memcmp(w->slots[i].path, path, len) == 0) return;
		i = (i + 1) & (XAGW_CHECK_SLOTS - 1);
	}
	w->slots[i] = (check_slot){path, len, kind};
	w->nchk++;
}

static char check_kind(stream *w) {
	uint32_t i = w->hash & (XAGW_CHECK_SLOTS - 1);
	while (w->slots[i].kind != 0) {
		if (w->slots[i].len == w->len && memcmp(w->slots[i].path, w->path, w->len) == 0) return w->slots[i].kind;
		i = (i + 1) & (XAGW_CHECK_SLOTS - 1);
	}
	return 0;
}

// stream_path returns "/a/b[2]/c" for the open elements (an index from the
// second same-named sibling on) and the top element's start line.
static char *stream_path(void *sp, int *line) {
	stream *w = sp;
	if (w->depth == 0) return NULL;
	size_t total = 1;
	for (int i = 0; i < w->depth; i++) total += strlen((const char *)w->st[i].name) + 14;
	char *out = malloc(total);
	if (!out) return NULL;
	size_t n = 0;
	for (int i = 0; i < w->depth; i++) {
		frame *f = &w->st[i];
		if (f->idx > 1)
			n += (size_t)snprintf(out + n, total - n, "/%s[%d]", (const char *)f->name, f->idx);
		else
			n += (size_t)snprintf(out + n, total - n, "/%s", (const char *)f->name);
	}
	*line = w->st[w->depth - 1].line;
	return out;
}

static void frame_free(frame *f) {
	free(f->list_uri);
	free(f->list_ver);
	free(f->code);
	free(f->kids);
	memset(f, 0, sizeof *f);
}

static void stream_pop(stream *w) {
	if (w->depth == 0) return;
	frame *f = &w->st[--w->depth];
	if (f->over) w->overflow--;
	w->len = f->plen;
	w->hash = f->phash;
	w->path[w->len] = 0;
	frame_free(f);
}

static void settle(stream *w) {
	while (w->pending > 0) {
		stream_pop(w);
		w->pending--;
	}
}

static void add_error(stream *w, const char *msg) {
	xmlError e;
	memset(&e, 0, sizeof e);
	e.level = XML_ERR_ERROR;
	e.domain = XML_FROM_SCHEMASV;
	e.code = 1000; // ours, not a libxml2 code
	e.message = (char *)msg;
	collect(w->diags, &e); // path and line from the stack
}

static char *attr_value(const xmlChar **a, int nb, const char *name) {
	for (int i = 0; i < nb; i++, a += 5) {
		if (a[2] == NULL && xmlStrEqual(a[0], (const xmlChar *)name)) {
			size_t n = (size_t)(a[4] - a[3]);
			char *v = malloc(n + 1);
			if (v) { memcpy(v, a[3], n); v[n] = 0; }
			return v;
		}
	}
	return NULL;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI,
		int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted, const xmlChar **attributes) {
	stream *w = ctx;
	(void)prefix; (void)nb_namespaces; (void)namespaces; (void)nb_defaulted;
	settle(w);
	frame *parent = w->depth > 0 ? &w->st[w->depth - 1] : NULL;
	int idx = 1, is_code_child = 0;
	if (parent) {
		parent->content = 1;
		if (parent->code_state >= 0) {
			if (URI == NULL && parent->code_state == 0 && xmlStrEqual(localname, (const xmlChar *)"code")) {
				parent->code_state = 1;
				is_code_child = 1;
			} else if (URI == NULL && parent->code_state == 1 && xmlStrEqual(localname, (const xmlChar *)"name")) {
				parent->code_state = 2;
			} else {
				parent->code_state = -1;
			}
		}
		int k;
		for (k = 0; k < parent->nkids; k++)
			if (parent->kids[k].name == localname) break;
		if (k == parent->nkids) {
			if (parent->nkids == parent->capkids) {
				int nc = parent->capkids ? parent->capkids * 2 : 8;
				kidcount *nk = realloc(parent->kids, nc * sizeof(kidcount));
				if (nk) { parent->kids = nk; parent->capkids = nc; }
			}
			if (parent->nkids < parent->capkids) parent->kids[parent->nkids++] = (kidcount){localname, 0};
		}
		if (k < parent->nkids) idx = ++parent->kids[k].n;
	}
	if (w->depth == w->cap) {
		int nc = w->cap ? w->cap * 2 : 64;
		if (nc > XAGW_MAX_DEPTH) nc = XAGW_MAX_DEPTH;
		frame *ns = w->cap < XAGW_MAX_DEPTH ? realloc(w->st, nc * sizeof(frame)) : NULL;
		if (ns == NULL) { xmlStopParser(w->pc); return; }
		w->st = ns; w->cap = nc;
	}
	frame *f = &w->st[w->depth++];
	memset(f, 0, sizeof *f);
	f->name = localname;
	f->line = w->pc && w->pc->input ? w->pc->input->line : 0;
	f->idx = idx;
	f->plen = w->len;
	f->phash = w->hash;
	f->is_code_child = is_code_child;
	f->b64.last = -1;
	size_t nl = strlen((const char *)localname);
	if (w->len + nl + 2 < sizeof w->path) {
		w->path[w->len++] = '/';
		memcpy(w->path + w->len, localname, nl);
		w->len += nl;
		w->path[w->len] = 0;
		w->hash = fnv1a_more(w->hash, w->path + f->plen, nl + 1);
	} else {
		f->over = 1; // no schema path is this long: no check can match below
		w->overflow++;
	}
	if (w->nchk > 0 && w->overflow == 0) f->kind = check_kind(w);
	if (w->codes) {
		f->list_uri = attr_value(attributes, nb_attributes, "listURI");
		f->list_ver = attr_value(attributes, nb_attributes, "listVersionID");
	}
}

static void on_text(void *ctx, const xmlChar *ch, int len) {
	stream *w = ctx;
	settle(w);
	if (w->depth == 0 || len <= 0) return;
	frame *f = &w->st[w->depth - 1];
	if (f->kind == 'b') b64_feed(&f->b64, ch, len);
	if (f->kind == 'n') f->content = 1;
	if (f->is_code_child && w->depth >= 2) {
		frame *p = &w->st[w->depth - 2];
		size_t room = XAGW_MAX_CODE - p->code_len;
		size_t n = (size_t)len < room ? (size_t)len : room;
		if (n > 0) {
			char *nc = realloc(p->code, p->code_len + n + 1);
			if (nc) {
				memcpy(nc + p->code_len, ch, n);
				p->code_len += n;
				nc[p->code_len] = 0;
				p->code = nc;
			}
		}
	}
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI) {
	stream *w = ctx;
	(void)localname; (void)prefix; (void)URI;
	settle(w);
	if (w->depth == 0) return;
	frame *f = &w->st[w->depth - 1];
	char msg[256];
	if (f->kind == 'b') {
		const char *why = b64_done(&f->b64);
		if (why) {
			snprintf(msg, sizeof msg, "Element '%s': not a valid value of the atomic type 'xs:base64Binary': %s.", (const char *)f->name, why);
			add_error(w, msg);
		}
	} else if (f->kind == 'n' && !f->content) {
		snprintf(msg, sizeof msg, "Element '%s': a mandatory element of type din91379:datatypeC is empty (XInneres error code S030).", (const char *)f->name);
		add_error(w, msg);
	}
	if (w->codes && f->code_state >= 1) {
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
				int line = 0;
				it->path = stream_path(w, &line);
				it->line = line;
				it->uri = f->list_uri; f->list_uri = NULL;
				it->ver = f->list_ver; f->list_ver = NULL;
				it->code = f->code ? f->code : dupstr("");
				f->code = NULL;
			} else {
				out->dropped++;
			}
		}
	}
	w->pending = 1; // popped at our next event, after the validator's end handler
}

static void on_dtd(void *ctx, const xmlChar *name, const xmlChar *ExternalID, const xmlChar *SystemID) {
	stream *w = ctx;
	(void)name; (void)ExternalID; (void)SystemID;
	w->dtd = 1;
	xmlStopParser(w->pc);
}

static xmlEntityPtr on_entity(void *ctx, const xmlChar *name) {
	(void)name;
	// Only the predefined entities exist; a document asking for any other
	// one is stopped (safexml refuses DTDs before we get here).
	stream *w = ctx;
	xmlEntityPtr e = xmlGetPredefinedEntity(name);
	if (e == NULL) {
		w->dtd = 1;
		xmlStopParser(w->pc);
	}
	return e;
}

xagw_ctx *xagw_ctx_new(xmlSchemaPtr s) {
	xagw_ctx *c = calloc(1, sizeof(xagw_ctx));
	if (c == NULL) return NULL;
	xmlSAXHandler sax;
	memset(&sax, 0, sizeof sax);
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.cdataBlock = on_text;
	sax.internalSubset = on_dtd;
	sax.externalSubset = on_dtd;
	sax.getEntity = on_entity;
	c->w = calloc(1, sizeof(stream));
	c->vc = xmlSchemaNewValidCtxt(s);
	if (c->w != NULL)
		c->pc = xmlCreatePushParserCtxt(&sax, c->w, NULL, 0, "message.xml");
	if (c->vc == NULL || c->pc == NULL || c->w == NULL) {
		xagw_ctx_free(c);
		return NULL;
	}
	((stream *)c->w)->pc = c->pc;
	return c;
}

void xagw_ctx_free(xagw_ctx *c) {
	if (c == NULL) return;
	stream *w = c->w;
	if (w) {
		while (w->depth > 0) stream_pop(w);
		free(w->st);
		free(w);
	}
	free(c->checks);
	if (c->vc) xmlSchemaFreeValidCtxt(c->vc);
	if (c->pc) xmlFreeParserCtxt(c->pc);
	free(c);
}

// Contexts are reused for speed; the parser's dictionary collects the names
// of every document parsed, so a context is retired after this many uses to
// keep memory bounded whatever names attackers send.
#define XAGW_CTX_MAX_USES 2000

int xagw_validate(xagw_ctx *cx, const char *buf, int len, xagw_diags *d, xagw_codes *codes, const char *checks) {
	int ret = -1;
	tls_deny = 1;
	cx->uses++;
	stream *w = cx->w;
	xmlParserCtxtPtr pc = cx->pc;
	// The check table is rebuilt only when the list changes (it is the same
	// for every message of one type).
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
			if (cx->checks == NULL) goto out;
			memcpy(cx->checks, checks, clen);
			cx->checks_len = clen;
			for (const char *p = cx->checks; *p && w->nchk < XAGW_MAX_CHECKS; p += strlen(p) + 1)
				check_add(w, p[0], p + 1, strlen(p + 1));
		}
	}
	w->diags = d;
	w->codes = codes;
	w->depth = 0;
	w->pending = 0;
	w->len = 0;
	w->path[0] = 0;
	w->hash = FNV_OFFSET;
	w->overflow = 0;
	w->dtd = 0;
	d->stream = w;

	if (xmlCtxtResetPush(pc, NULL, 0, "message.xml", NULL) != 0) goto out;
	// No NOENT (entities are never substituted), no DTDLOAD/DTDATTR/DTDVALID;
	// NONET as a second lock behind the refusing loader.
	xmlCtxtUseOptions(pc, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES);
	xmlSchemaValidCtxtPtr vc = cx->vc;
	xmlSchemaSetValidStructuredErrors(vc, (xmlStructuredErrorFunc)collect, d);
	xmlSchemaSAXPlugPtr plug = xmlSchemaSAXPlug(vc, &pc->sax, &pc->userData);
	if (plug == NULL) {
		xmlSchemaSetValidStructuredErrors(vc, NULL, NULL);
		goto out;
	}
	xmlParseChunk(pc, buf, len, 1);
	int wellFormed = pc->wellFormed;
	xmlSchemaSAXUnplug(plug);
	settle(w);
	if (w->dtd) {
		add_error(w, "document type declarations (DTD, entities) are not allowed");
		ret = 2; // the Go side has already refused DTDs; this is defence in depth
	} else if (!wellFormed) {
		xmlErrorPtr e = xmlCtxtGetLastError(pc);
		if (e != NULL) collect(d, e);
		ret = 1;
	} else {
		int v = xmlSchemaIsValid(vc);
		ret = v == 1 ? 0 : (v == 0 ? 1 : -1);
		if (ret == 0 && d->n > 0) ret = 3; // a check of ours failed
	}
	xmlSchemaSetValidStructuredErrors(vc, NULL, NULL);
	while (w->depth > 0) stream_pop(w);
out:
	d->stream = NULL;
	tls_deny = 0;
	return ret;
}

int xagw_ctx_spent(xagw_ctx *cx) { return cx->uses >= XAGW_CTX_MAX_USES; }

void xagw_schema_free(xmlSchemaPtr s) {
	if (s) xmlSchemaFree(s);
}

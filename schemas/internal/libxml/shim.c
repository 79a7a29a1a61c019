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

// ---------------------------------------------------------------------------
// Streaming validation. The document is parsed with SAX and validated with
// libxml2's schema SAX plug, without building a tree (building and freeing
// the tree was about half of libxml2's time). Our SAX handlers keep a stack
// of open elements, which gives errors their element path and start line,
// and do in the same pass what the caller asked for: collect coded values,
// run the element checks (strict base64, non-empty text), capture values
// (header fields) and record the document's tokens (to build a typed model
// without parsing again).
//
// The plug calls our end-element handler before the validator's, so an
// element is popped lazily (at our next event): errors the validator raises
// while ending an element still see that element on top.
//
// Nothing here allocates per element in the steady state: frames, their
// sibling counters and code buffers, the output arena and the token buffer
// keep their capacity across the validations of a context.
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
	if (st->err) return;
	int i = 0;
	while (i < len) {
		// The bulk of a document is alphabet characters: count them in a
		// tight loop and look only at what ends a run.
		int from = i;
		// Eight at a time: a class of 64 or more (padding, space, foreign)
		// has bit 6 set, alphabet classes (0..63) do not.
		while (i + 8 <= len && ((b64class[p[i]] | b64class[p[i + 1]] | b64class[p[i + 2]] | b64class[p[i + 3]] |
				b64class[p[i + 4]] | b64class[p[i + 5]] | b64class[p[i + 6]] | b64class[p[i + 7]]) & 64) == 0)
			i += 8;
		while (i < len && b64class[p[i]] < 64) i++;
		if (i > from) {
			if (st->pad) { st->err = "data after '=' padding"; return; }
			st->n += (size_t)(i - from);
			st->last = b64class[p[i - 1]];
		}
		if (i >= len) return;
		unsigned char v = b64class[p[i]];
		if (v == 64) {
			if (++st->pad > 2) { st->err = "more than two '=' padding characters"; return; }
			st->n++;
		} else if (v == 66) {
			st->err = "character outside the base64 alphabet";
			return;
		}
		i++;
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
#define XAGW_MAX_CAPTURE 1024 // bytes of a captured value kept
#define XAGW_MAX_CODES 20000  // coded values kept per document
#define XAGW_KEEP_BUFFER (4u << 20) // larger buffers are released after use

// Element flags from the check list.
#define F_B64 1      // strict base64
#define F_PLAIN 2    // strict base64, text not handed to the validator
#define F_NONEMPTY 4 // must not be empty
#define F_ATTRS 8    // some attribute of this element is captured

typedef struct {
	const char *path; // NULL: empty slot
	size_t len;
	int flags;
	int cap;          // capture index, -1 when not captured
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
	int flags;           // F_*
	int cap;             // capture receiving this element's text, -1 none
	b64state b64;
	int content;         // 'n' check: text or child seen
	int code_state;      // 0 no child yet, 1 <code>, 2 <code><name>, -1 not a code
	int is_code_child;   // this is the <code> of a code-shaped parent
	int list_uri, list_ver; // arena offsets, -1 when absent
	int nkids;
	// Kept across uses of the frame slot:
	char *code; size_t code_len, code_cap;
	kidcount *kids; int capkids;
} frame;

typedef struct {
	xagw_diags *diags;
	xmlParserCtxtPtr pc;
	check_slot slots[XAGW_CHECK_SLOTS];
	int nchk;
	int ncaps;
	frame *st; int depth, cap;
	int pending;         // elements ended but not yet popped (0 or 1)
	char path[4096];
	size_t len;
	uint32_t hash;
	int overflow;
	int dtd;
	int stopped;         // we stopped the parser (depth): never a pass
	int want_codes, want_events;
	// Outputs, reused across validations.
	xagw_code *codes; size_t capcodes; int ncodes, codes_dropped;
	xagw_capture *caps; char *capmem;
	char *arena; size_t alen, acap;
	char *ev; size_t elen, ecap;
	int oom;
	// The schema plug's text handlers: ours run first (see front_text).
	charactersSAXFunc plug_chars, plug_cdata;
} stream;

static __thread stream *tls_stream = NULL;

#define FNV_OFFSET 2166136261u

static uint32_t fnv1a_more(uint32_t h, const char *p, size_t n) {
	for (size_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 16777619u; }
	return h;
}

static check_slot *check_find(stream *w, const char *path, size_t len, uint32_t h, int create) {
	uint32_t i = h & (XAGW_CHECK_SLOTS - 1);
	while (w->slots[i].path != NULL) {
		if (w->slots[i].len == len && memcmp(w->slots[i].path, path, len) == 0) return &w->slots[i];
		i = (i + 1) & (XAGW_CHECK_SLOTS - 1);
	}
	if (!create || w->nchk >= XAGW_MAX_CHECKS) return NULL;
	w->slots[i] = (check_slot){path, len, 0, -1};
	w->nchk++;
	return &w->slots[i];
}

// check_add adds one check-list entry; it returns 0 when the table is full.
static int check_add(stream *w, char kind, const char *path, size_t len) {
	check_slot *s = check_find(w, path, len, fnv1a_more(FNV_OFFSET, path, len), 1);
	if (s == NULL) return 0;
	switch (kind) {
	case 'b': s->flags |= F_B64; break;
	case 'p': s->flags |= F_B64 | F_PLAIN; break;
	case 'n': s->flags |= F_NONEMPTY; break;
	case 't': {
		int idx = w->ncaps++; // numbered by entry, even when a path repeats
		if (s->cap < 0) s->cap = idx;
		for (size_t k = len; k >= 2; k--) {
			if (path[k - 2] == '/' && path[k - 1] == '@') {
				check_slot *el = check_find(w, path, k - 2, fnv1a_more(FNV_OFFSET, path, k - 2), 1);
				if (el == NULL) return 0;
				el->flags |= F_ATTRS;
				break;
			}
		}
		break;
	}
	}
	return 1;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
	if (need <= *cap) return 1;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need) nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (np == NULL) return 0;
	*p = np;
	*cap = nc;
	return 1;
}

// arena_put appends a NUL-terminated copy of s[0:n] and returns its offset.
static int arena_put(stream *w, const char *s, size_t n) {
	if (w->alen + n + 1 > (size_t)0x7fffffff || !grow((void **)&w->arena, &w->acap, w->alen + n + 1, 1)) {
		w->oom = 1;
		return -1;
	}
	int off = (int)w->alen;
	if (n) memcpy(w->arena + w->alen, s, n);
	w->arena[w->alen + n] = 0;
	w->alen += n + 1;
	return off;
}

static void ev_put(stream *w, const void *p, size_t n) {
	if (w->oom) return;
	if (!grow((void **)&w->ev, &w->ecap, w->elen + n, 1)) {
		w->oom = 1;
		return;
	}
	memcpy(w->ev + w->elen, p, n);
	w->elen += n;
}

static void ev_u32(stream *w, size_t v) {
	uint32_t x = (uint32_t)v;
	ev_put(w, &x, 4);
}

static void ev_str(stream *w, const xmlChar *s, size_t n) {
	ev_u32(w, n);
	if (n) ev_put(w, s, n);
}

static size_t put_int(char *out, int v) {
	char tmp[16];
	size_t n = 0;
	if (v <= 0) { out[0] = '0'; return 1; }
	while (v > 0 && n < sizeof tmp) { tmp[n++] = (char)('0' + v % 10); v /= 10; }
	for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
	return n;
}

// path_into writes "/a/b[2]/c" for the open elements (an index from the
// second same-named sibling on) into out, which has room for total bytes
// (see path_size), and returns the length.
static size_t path_size(stream *w) {
	size_t total = 1;
	for (int i = 0; i < w->depth; i++) total += strlen((const char *)w->st[i].name) + 14;
	return total;
}

static size_t path_into(stream *w, char *out) {
	size_t n = 0;
	for (int i = 0; i < w->depth; i++) {
		frame *f = &w->st[i];
		size_t l = strlen((const char *)f->name);
		out[n++] = '/';
		memcpy(out + n, f->name, l);
		n += l;
		if (f->idx > 1) {
			out[n++] = '[';
			n += put_int(out + n, f->idx);
			out[n++] = ']';
		}
	}
	out[n] = 0;
	return n;
}

// stream_path returns the path of the open elements (malloc'd) and the top
// element's start line; used for errors.
static char *stream_path(void *sp, int *line) {
	stream *w = sp;
	if (w->depth == 0) return NULL;
	char *out = malloc(path_size(w));
	if (!out) return NULL;
	path_into(w, out);
	*line = w->st[w->depth - 1].line;
	return out;
}

// arena_path appends the path of the open elements to the arena.
static int arena_path(stream *w) {
	size_t need = path_size(w);
	if (!grow((void **)&w->arena, &w->acap, w->alen + need, 1)) {
		w->oom = 1;
		return -1;
	}
	int off = (int)w->alen;
	w->alen += path_into(w, w->arena + w->alen) + 1;
	return off;
}

static void stream_pop(stream *w) {
	if (w->depth == 0) return;
	frame *f = &w->st[--w->depth];
	if (f->over) w->overflow--;
	w->len = f->plen;
	w->hash = f->phash;
	w->path[w->len] = 0;
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

static void capture_append(stream *w, int cap, const xmlChar *p, size_t n) {
	xagw_capture *c = &w->caps[cap];
	char *dst = w->capmem + (size_t)cap * (XAGW_MAX_CAPTURE + 1);
	size_t room = XAGW_MAX_CAPTURE - (size_t)c->len;
	if (n > room) {
		n = room;
		c->truncated = 1;
	}
	memcpy(dst + c->len, p, n);
	c->len += (int)n;
	dst[c->len] = 0;
}

// kid_slot returns the sibling counter of a child name in the parent's
// table (open addressing on the dictionary pointer, which identifies the
// name: libxml2 interns names). A list scanned per child would make a
// document with many differently named children quadratic.
static uint32_t kid_hash(const xmlChar *name) {
	uint64_t x = (uint64_t)(uintptr_t)name;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint32_t)x;
}

static kidcount *kid_slot(frame *f, const xmlChar *name) {
	if (f->nkids == 0 && f->capkids > 0) {
		memset(f->kids, 0, (size_t)f->capkids * sizeof(kidcount)); // the slot's table from an earlier element
	}
	if ((f->nkids + 1) * 2 > f->capkids) {
		int nc = f->capkids ? f->capkids * 2 : 16;
		kidcount *nk = calloc((size_t)nc, sizeof(kidcount));
		if (nk == NULL) return NULL;
		for (int i = 0; i < f->capkids; i++) {
			if (f->kids[i].name == NULL) continue;
			uint32_t j = kid_hash(f->kids[i].name) & (uint32_t)(nc - 1);
			while (nk[j].name != NULL) j = (j + 1) & (uint32_t)(nc - 1);
			nk[j] = f->kids[i];
		}
		free(f->kids);
		f->kids = nk;
		f->capkids = nc;
	}
	uint32_t mask = (uint32_t)(f->capkids - 1);
	uint32_t j = kid_hash(name) & mask;
	while (f->kids[j].name != NULL) {
		if (f->kids[j].name == name) return &f->kids[j];
		j = (j + 1) & mask;
	}
	f->kids[j] = (kidcount){name, 0};
	f->nkids++;
	return &f->kids[j];
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
		kidcount *kc = kid_slot(parent, localname);
		if (kc == NULL) { w->oom = 1; xmlStopParser(w->pc); return; }
		idx = ++kc->n;
	}
	if (w->depth == w->cap) {
		int nc = w->cap ? w->cap * 2 : 64;
		if (nc > XAGW_MAX_DEPTH) nc = XAGW_MAX_DEPTH;
		frame *ns = w->cap < XAGW_MAX_DEPTH ? realloc(w->st, nc * sizeof(frame)) : NULL;
		if (ns == NULL) { w->stopped = 1; xmlStopParser(w->pc); return; }
		memset(ns + w->cap, 0, (size_t)(nc - w->cap) * sizeof(frame));
		w->st = ns;
		w->cap = nc;
	}
	frame *f = &w->st[w->depth++];
	f->name = localname;
	f->line = w->pc && w->pc->input ? w->pc->input->line : 0;
	f->idx = idx;
	f->plen = w->len;
	f->phash = w->hash;
	f->over = 0;
	f->flags = 0;
	f->cap = -1;
	f->b64 = (b64state){0, 0, -1, NULL};
	f->content = 0;
	f->code_state = 0;
	f->is_code_child = is_code_child;
	f->list_uri = f->list_ver = -1;
	f->nkids = 0;
	f->code_len = 0;
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
	if (w->nchk > 0 && w->overflow == 0) {
		check_slot *s = check_find(w, w->path, w->len, w->hash, 0);
		if (s != NULL) {
			f->flags = s->flags;
			if (s->cap >= 0 && !w->caps[s->cap].present) {
				w->caps[s->cap].present = 1;
				w->caps[s->cap].line = f->line;
				f->cap = s->cap;
			}
		}
	}
	const xmlChar **a = attributes;
	for (int i = 0; i < nb_attributes; i++, a += 5) {
		if (a[2] != NULL) continue; // qualified attributes are never codes' or captured ones
		size_t vn = (size_t)(a[4] - a[3]);
		if (w->want_codes) {
			if (xmlStrEqual(a[0], (const xmlChar *)"listURI")) f->list_uri = arena_put(w, (const char *)a[3], vn);
			else if (xmlStrEqual(a[0], (const xmlChar *)"listVersionID")) f->list_ver = arena_put(w, (const char *)a[3], vn);
		}
		if (f->flags & F_ATTRS) {
			size_t an = strlen((const char *)a[0]);
			if (w->len + an + 3 < sizeof w->path) {
				size_t save = w->len;
				w->path[w->len++] = '/';
				w->path[w->len++] = '@';
				memcpy(w->path + w->len, a[0], an);
				w->len += an;
				uint32_t h = fnv1a_more(w->hash, w->path + save, an + 2);
				check_slot *s = check_find(w, w->path, w->len, h, 0);
				w->len = save;
				w->path[save] = 0;
				if (s != NULL && s->cap >= 0 && !w->caps[s->cap].present) {
					w->caps[s->cap].present = 1;
					w->caps[s->cap].line = f->line;
					capture_append(w, s->cap, a[3], vn);
				}
			}
		}
	}
	if (w->want_events) {
		char op = 'S';
		ev_put(w, &op, 1);
		ev_u32(w, (size_t)f->line);
		ev_str(w, URI, URI ? strlen((const char *)URI) : 0);
		ev_str(w, localname, nl);
		ev_u32(w, (size_t)nb_attributes);
		a = attributes;
		for (int i = 0; i < nb_attributes; i++, a += 5) {
			ev_str(w, a[2], a[2] ? strlen((const char *)a[2]) : 0);
			ev_str(w, a[0], strlen((const char *)a[0]));
			ev_str(w, a[3], (size_t)(a[4] - a[3]));
		}
	}
}

static void on_text(stream *w, const xmlChar *ch, int len) {
	settle(w);
	if (w->depth == 0 || len <= 0) return;
	frame *f = &w->st[w->depth - 1];
	if (f->flags & F_B64) b64_feed(&f->b64, ch, len);
	if (f->flags & F_NONEMPTY) f->content = 1;
	if (f->cap >= 0) capture_append(w, f->cap, ch, (size_t)len);
	if (f->is_code_child && w->depth >= 2) {
		frame *p = &w->st[w->depth - 2];
		size_t room = XAGW_MAX_CODE - p->code_len;
		size_t n = (size_t)len < room ? (size_t)len : room;
		if (n > 0) {
			if (!grow((void **)&p->code, &p->code_cap, p->code_len + n + 1, 1)) {
				w->oom = 1;
			} else {
				memcpy(p->code + p->code_len, ch, n);
				p->code_len += n;
			}
		}
	}
	if (w->want_events) {
		char op = 'T';
		ev_put(w, &op, 1);
		ev_str(w, ch, (size_t)len);
	}
}

// Our own SAX text handlers do nothing: text reaches us through front_text,
// which the validation installs in front of the schema plug's handler, so
// that it can keep plain base64 text away from libxml2's validator.
static void noop_text(void *ctx, const xmlChar *ch, int len) {
	(void)ctx; (void)ch; (void)len;
}

static void front_text(void *ctx, const xmlChar *ch, int len) {
	stream *w = tls_stream;
	if (w == NULL) return;
	on_text(w, ch, len);
	if (w->depth > 0 && (w->st[w->depth - 1].flags & F_PLAIN)) return; // checked strictly by us
	w->plug_chars(ctx, ch, len);
}

static void front_cdata(void *ctx, const xmlChar *ch, int len) {
	stream *w = tls_stream;
	if (w == NULL) return;
	on_text(w, ch, len);
	if (w->depth > 0 && (w->st[w->depth - 1].flags & F_PLAIN)) return;
	w->plug_cdata(ctx, ch, len);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI) {
	stream *w = ctx;
	(void)localname; (void)prefix; (void)URI;
	settle(w);
	if (w->depth == 0) return;
	frame *f = &w->st[w->depth - 1];
	char msg[256];
	if (f->flags & F_B64) {
		const char *why = b64_done(&f->b64);
		if (why) {
			snprintf(msg, sizeof msg, "Element '%s': not a valid value of the atomic type 'xs:base64Binary': %s.", (const char *)f->name, why);
			add_error(w, msg);
		}
	}
	if ((f->flags & F_NONEMPTY) && !f->content) {
		snprintf(msg, sizeof msg, "Element '%s': a mandatory element of type din91379:datatypeC is empty (XInneres error code S030).", (const char *)f->name);
		add_error(w, msg);
	}
	if (w->want_codes && f->code_state >= 1) {
		if (w->ncodes >= XAGW_MAX_CODES) {
			w->codes_dropped++;
		} else if (!grow((void **)&w->codes, &w->capcodes, (size_t)w->ncodes + 1, sizeof(xagw_code))) {
			w->oom = 1;
		} else {
			xagw_code *it = &w->codes[w->ncodes++];
			it->line = f->line;
			it->path = arena_path(w);
			it->uri = f->list_uri;
			it->ver = f->list_ver;
			it->code = arena_put(w, f->code ? f->code : "", f->code_len);
		}
	}
	if (w->want_events) {
		char op = 'E';
		ev_put(w, &op, 1);
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
	sax.characters = noop_text;
	sax.cdataBlock = noop_text;
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
		for (int i = 0; i < w->cap; i++) {
			free(w->st[i].code);
			free(w->st[i].kids);
		}
		free(w->st);
		free(w->codes);
		free(w->caps);
		free(w->capmem);
		free(w->arena);
		free(w->ev);
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

// build_checks rebuilds the check table from a new check list; it returns
// 0 on failure (allocation, too many entries).
static int build_checks(xagw_ctx *cx, const char *checks, size_t clen) {
	stream *w = cx->w;
	free(cx->checks);
	cx->checks = NULL;
	cx->checks_len = 0;
	memset(w->slots, 0, sizeof w->slots);
	w->nchk = 0;
	w->ncaps = 0;
	free(w->caps);
	free(w->capmem);
	w->caps = NULL;
	w->capmem = NULL;
	if (clen == 0) return 1;
	cx->checks = malloc(clen);
	if (cx->checks == NULL) return 0;
	memcpy(cx->checks, checks, clen);
	cx->checks_len = clen;
	for (const char *p = cx->checks; *p; p += strlen(p) + 1) {
		if (!check_add(w, p[0], p + 1, strlen(p + 1))) goto fail;
	}
	if (w->ncaps > 0) {
		w->caps = calloc((size_t)w->ncaps, sizeof(xagw_capture));
		w->capmem = malloc((size_t)w->ncaps * (XAGW_MAX_CAPTURE + 1));
		if (w->caps == NULL || w->capmem == NULL) goto fail;
	}
	return 1;
fail:
	// Leave no half-built table behind: the next call rebuilds.
	free(cx->checks);
	cx->checks = NULL;
	cx->checks_len = 0;
	memset(w->slots, 0, sizeof w->slots);
	w->nchk = 0;
	w->ncaps = 0;
	return 0;
}

int xagw_validate(xagw_ctx *cx, const char *buf, int len, xagw_diags *d, int codes, int events, const char *checks, xagw_out *out) {
	int ret = -1;
	stream *w = cx->w;
	xmlParserCtxtPtr pc = cx->pc;
	memset(out, 0, sizeof *out);
	tls_deny = 1;
	tls_stream = w;
	cx->uses++;
	// The check table is rebuilt only when the list changes (it is the same
	// for every message of one type).
	size_t clen = 0;
	if (checks) {
		const char *p = checks;
		while (*p) p += strlen(p) + 1;
		clen = (size_t)(p - checks) + 1;
	}
	if (clen != cx->checks_len || (clen && memcmp(cx->checks, checks, clen) != 0)) {
		if (!build_checks(cx, checks, clen)) goto out;
	}
	w->diags = d;
	w->want_codes = codes;
	w->want_events = events;
	w->depth = 0;
	w->pending = 0;
	w->len = 0;
	w->path[0] = 0;
	w->hash = FNV_OFFSET;
	w->overflow = 0;
	w->dtd = 0;
	w->stopped = 0;
	w->ncodes = 0;
	w->codes_dropped = 0;
	w->alen = 0;
	w->elen = 0;
	w->oom = 0;
	for (int i = 0; i < w->ncaps; i++) {
		w->caps[i] = (xagw_capture){0, 0, NULL, 0, 0};
		w->caps[i].value = w->capmem + (size_t)i * (XAGW_MAX_CAPTURE + 1);
		w->caps[i].value[0] = 0;
	}
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
	// Put our text handler in front of the plug's (pc->sax is now the
	// plug's own handler table, restored by xmlSchemaSAXUnplug).
	w->plug_chars = pc->sax->characters;
	w->plug_cdata = pc->sax->cdataBlock;
	if (w->plug_chars == NULL || w->plug_cdata == NULL) {
		// The plug would not pass text to the validator: fail closed.
		xmlSchemaSAXUnplug(plug);
		xmlSchemaSetValidStructuredErrors(vc, NULL, NULL);
		goto out;
	}
	pc->sax->characters = front_text;
	pc->sax->cdataBlock = front_cdata;
	xmlParseChunk(pc, buf, len, 1);
	int wellFormed = pc->wellFormed;
	xmlSchemaSAXUnplug(plug);
	settle(w);
	if (w->dtd) {
		add_error(w, "document type declarations (DTD, entities) are not allowed");
		ret = 2; // the Go side has already refused DTDs; this is defence in depth
	} else if (w->stopped) {
		add_error(w, "elements nested too deeply");
		ret = 2;
	} else if (!wellFormed) {
		xmlErrorPtr e = xmlCtxtGetLastError(pc);
		if (e != NULL) collect(d, e);
		ret = 1;
	} else {
		int v = xmlSchemaIsValid(vc);
		ret = v == 1 ? 0 : (v == 0 ? 1 : -1);
		if (ret == 0 && d->n > 0) ret = 3; // a check of ours failed
	}
	if (w->oom) ret = -1;
	xmlSchemaSetValidStructuredErrors(vc, NULL, NULL);
	while (w->depth > 0) stream_pop(w);
	out->codes = w->codes;
	out->ncodes = w->ncodes;
	out->codes_dropped = w->codes_dropped;
	out->caps = w->caps;
	out->ncaps = w->ncaps;
	out->arena = w->arena;
	out->arena_len = w->alen;
	out->events = w->ev;
	out->events_len = w->elen;
	out->oom = w->oom;
out:
	d->stream = NULL;
	tls_deny = 0;
	tls_stream = NULL;
	return ret;
}

// xagw_ctx_trim releases buffers that grew unusually large for one
// document, so a pooled context does not keep them.
void xagw_ctx_trim(xagw_ctx *cx) {
	stream *w = cx->w;
	if (w->ecap > XAGW_KEEP_BUFFER) { free(w->ev); w->ev = NULL; w->ecap = w->elen = 0; }
	if (w->acap > XAGW_KEEP_BUFFER) { free(w->arena); w->arena = NULL; w->acap = w->alen = 0; }
	if (w->capcodes * sizeof(xagw_code) > XAGW_KEEP_BUFFER) { free(w->codes); w->codes = NULL; w->capcodes = 0; w->ncodes = 0; }
	// An element with very many differently named children (a hostile
	// document) grows its frame's sibling table; do not keep that.
	for (int i = 0; i < w->cap; i++) {
		if ((size_t)w->st[i].capkids * sizeof(kidcount) > 4096) {
			free(w->st[i].kids);
			w->st[i].kids = NULL;
			w->st[i].capkids = 0;
		}
	}
}

int xagw_ctx_spent(xagw_ctx *cx) { return cx->uses >= XAGW_CTX_MAX_USES; }

void xagw_schema_free(xmlSchemaPtr s) {
	if (s) xmlSchemaFree(s);
}

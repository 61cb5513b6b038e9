/* tokenize: the last stage. Documents become token ids (byte-level BPE, pipeline/bpe.c),
 * optionally rewritten as fill-in-the-middle in SPM order, with an EOD token, written as
 * Megatron indexed datasets under <workdir>/tokenize/ cut at a configured token count.
 * Documents can be split into groups (by a field, or by named match rules), each its own
 * dataset <workdir>/tokenize/<group>/ with its own FIM rate, EOD, shuffle and shard size;
 * a group whose definition and input are unchanged is kept from the last run. Layout is
 * the same for any rank count: the document order (input order, or a seeded shuffle) and
 * the cut points depend only on the data; see docs/tokenize.md. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blend.h"
#include "bpe.h"
#include "log.h"
#include "megatron.h"
#include "par.h"
#include "phase.h"
#include "schedule.h"
#include "stages.h"
#include "tokenize.h"
#include "xchg.h"

static const struct opt_def tokenize_opts[] = {
	{"tokenizer", OPT_STR, "", 0, 0, NULL,
	 "The tokenizer: a Hugging Face tokenizer.json (byte-level BPE) or a .tiktoken rank file."},
	{"encoding", OPT_STR, "", 0, 0, NULL,
	 "For a .tiktoken file: cl100k_base, o200k_base, p50k_base or r50k_base (default: from "
	 "the file name)."},
	{"eod", OPT_STR, "<|endoftext|>", 0, 0, NULL,
	 "Token appended to every document (must be in the vocabulary); empty for none."},
	{"fim.rate", OPT_FLOAT, "0.5", 0, 1, NULL,
	 "Share of documents rewritten as fill-in-the-middle (SPM order, character-level split)."},
	{"fim.prefix", OPT_STR, "<|fim_prefix|>", 0, 0, NULL, "FIM prefix sentinel token."},
	{"fim.middle", OPT_STR, "<|fim_middle|>", 0, 0, NULL, "FIM middle sentinel token."},
	{"fim.suffix", OPT_STR, "<|fim_suffix|>", 0, 0, NULL, "FIM suffix sentinel token."},
	{"seed", OPT_INT, "0", 0, 9e15, NULL,
	 "Seed of the per-document FIM draws and of the shuffle."},
	{"shuffle", OPT_BOOL, "false", 0, 0, NULL,
	 "Order documents by a seeded hash of their id instead of input order."},
	{"shard_tokens", OPT_INT, "268435456", 1, 9e15, NULL,
	 "Tokens per output shard: a document goes to shard floor(first token offset / this)."},
	{"group_by", OPT_STR, "", 0, 0, NULL,
	 "One dataset per value of this field (source, id or metadata.KEY, e.g. metadata.lang), "
	 "under tokenize/<value>/; empty: the groups below, or one dataset for everything."},
	{"groups.*.match", OPT_LIST, "[]", 0, 0, NULL,
	 "Group NAME's documents: every rule holds (FIELD=A|B, FIELD!=A, FIELD, bytes>=N, "
	 "bytes<N; FIELD is source, id or metadata.KEY). A document goes to every group it "
	 "matches. With group_by, NAME is a value and match stays empty."},
	{"groups.*.fim.rate", OPT_FLOAT, "0.5", 0, 1, NULL,
	 "Group NAME's FIM rate (unset: tokenize.fim.rate)."},
	{"groups.*.eod", OPT_STR, "<|endoftext|>", 0, 0, NULL,
	 "Group NAME's EOD token (unset: tokenize.eod)."},
	{"groups.*.shuffle", OPT_BOOL, "false", 0, 0, NULL,
	 "Group NAME's order (unset: tokenize.shuffle)."},
	{"groups.*.shard_tokens", OPT_INT, "268435456", 1, 9e15, NULL,
	 "Group NAME's shard size (unset: tokenize.shard_tokens)."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* ---- per-document randomness and FIM ---- */

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27, h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static uint64_t id_hash(uint64_t seed, const char *id, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ mix64(seed + 0x9e3779b97f4a7c15ull);
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)id[i]) * 0x100000001b3ull;
	return mix64(h);
}

/* splitmix64 stream */
static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

/* Byte offset of code point k in s (s is valid UTF-8 or any bytes: continuation bytes
 * never start a character). */
static size_t char_offset(const char *s, size_t n, uint64_t k)
{
	size_t i = 0;
	for (; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && k-- == 0)
			break;
	return i;
}

static void ids_push(struct bpe_ids *out, uint32_t id)
{
	if (out->n == out->cap) {
		out->cap = out->cap ? out->cap * 2 : 256;
		out->v = xrealloc(out->v, out->cap * sizeof *out->v);
	}
	out->v[out->n++] = id;
}

/* The document's FIM draw: u in [0,1) decides whether it is FIM'd at a rate (u < rate, so
 * the documents FIM'd at 0.1 are among those FIM'd at 0.5), st continues the stream. */
static double fim_draw(uint64_t seed, const struct doc *d, uint64_t *st)
{
	*st = id_hash(seed, d->id.p ? d->id.p : "", d->id.len);
	return (double)(rng_next(st) >> 11) / 9007199254740992.0;
}

/* `<suf>SUFFIX<pre>PREFIX<mid>MIDDLE` without EOD; st is the stream after fim_draw. */
static void encode_fim(struct bpe *b, const int64_t sent[3], const struct doc *d, uint64_t st,
		       struct bpe_ids *out)
{
	const char *s = d->text.p ? d->text.p : "";
	size_t n = d->text.len;
	uint64_t chars = 0;
	for (size_t i = 0; i < n; i++)
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
	uint64_t a = rng_next(&st) % (chars + 1), c = rng_next(&st) % (chars + 1);
	if (a > c) {
		uint64_t x = a;
		a = c, c = x;
	}
	size_t pa = char_offset(s, n, a), pc = char_offset(s, n, c);
	const char *part[3] = {s + pc, s, s + pa};
	size_t plen[3] = {n - pc, pa, pc - pa};
	out->n = 0;
	for (int k = 0; k < 3; k++) {
		ids_push(out, (uint32_t)sent[k]);
		bpe_encode(b, part[k], plen[k], out);
	}
}

/* ---- groups: which documents go into which dataset ---- */

enum rule_field { F_SOURCE, F_ID, F_META, F_BYTES };
enum rule_op { OP_EQ, OP_NE, OP_HAS, OP_GE, OP_LT };

struct rule {
	enum rule_field field;
	enum rule_op op;
	char *path;   /* F_META: the key below metadata, dotted */
	char **alt;   /* OP_EQ / OP_NE: the values, '|'-separated in the rule */
	size_t nalt;
	uint64_t num; /* OP_GE / OP_LT */
};

struct group {
	char *name;
	struct rule *rules;
	size_t nrules;
};

/* One output dataset: a group, or a group at a phase's other FIM rate ("code.fim0.1"), or
 * the single dataset of a run without groups (name ""). */
struct dataset {
	char *name;
	const struct group *group; /* NULL: every document (or a group_by value) */
	double fim_rate;
	int64_t eod;
	bool shuffle;
	uint64_t shard_tokens;
	char fp[SHA256_HEX];
	json_t *kept; /* group.json of an up-to-date dataset: not tokenized again */
	/* this rank's counts in this run */
	uint64_t docs, tokens, fim_docs;
	json_t *by_lang;
	/* phase 2 */
	uint64_t total, nraw, base, nout, out_base;
};

struct tok {
	struct bpe *bpe;
	int64_t sent[3]; /* suffix, prefix, middle */
	uint64_t seed;
	const struct config *cfg;
	const char *dir;
	bool force;
	char tokenizer_sha[SHA256_HEX];
	char *input_id; /* the inputs' names and checksums, for the datasets' fingerprints */
	const char *group_by; /* "" for none */
	enum rule_field group_field; /* what group_by names */
	struct group *groups;
	size_t ngroups;
	struct blend_variant *variants; /* (group, FIM rate) pairs the phases ask for */
	size_t nvariants;
	struct buf *why; /* while tok_init makes the named groups' datasets: their errors */
	struct dataset **ds; /* this rank's datasets, in the order it met them */
	size_t nds;
	struct stage_run *run;
	const struct task_list *in;
};

static void rules_free(struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].path);
		for (size_t k = 0; k < r[i].nalt; k++)
			free(r[i].alt[k]);
		free(r[i].alt);
	}
	free(r);
}

/* "source=github|repo", "metadata.lang!=json", "metadata.license", "bytes>=32768". */
static int rule_parse(const char *s, struct rule *r, struct buf *why)
{
	memset(r, 0, sizeof *r);
	size_t flen = strcspn(s, "=!<>");
	const char *op = s + flen;
	if (!flen) {
		buf_printf(why, "'%s': a rule starts with a field", s);
		return -1;
	}
	if (!strncmp(s, "source", flen) && flen == 6)
		r->field = F_SOURCE;
	else if (!strncmp(s, "id", flen) && flen == 2)
		r->field = F_ID;
	else if (!strncmp(s, "bytes", flen) && flen == 5)
		r->field = F_BYTES;
	else if (flen > 9 && !strncmp(s, "metadata.", 9))
		r->field = F_META, r->path = xstrndup(s + 9, flen - 9);
	else {
		buf_printf(why, "'%s': the field is source, id, bytes or metadata.KEY", s);
		return -1;
	}
	const char *val;
	if (!*op)
		r->op = OP_HAS, val = NULL;
	else if (op[0] == '=')
		r->op = OP_EQ, val = op + 1;
	else if (!strncmp(op, "!=", 2))
		r->op = OP_NE, val = op + 2;
	else if (!strncmp(op, ">=", 2))
		r->op = OP_GE, val = op + 2;
	else if (op[0] == '<' && op[1] != '=')
		r->op = OP_LT, val = op + 1;
	else {
		buf_printf(why, "'%s': the operator is =, != (with bytes: >= or <), or none", s);
		return -1;
	}
	if ((r->field == F_BYTES) != (r->op == OP_GE || r->op == OP_LT)) {
		buf_printf(why, "'%s': bytes takes >= or <, the other fields = or !=", s);
		return -1;
	}
	if (r->field == F_BYTES) {
		char *end;
		errno = 0;
		r->num = strtoull(val, &end, 10);
		if (!*val || *end || errno) {
			buf_printf(why, "'%s': expected a byte count", s);
			return -1;
		}
	} else if (val) {
		for (const char *p = val;; p++) {
			size_t len = strcspn(p, "|");
			r->alt = xrealloc(r->alt, (r->nalt + 1) * sizeof *r->alt);
			r->alt[r->nalt++] = xstrndup(p, len);
			p += len;
			if (!*p)
				break;
		}
	}
	return 0;
}

/* The field's value as text (numbers and booleans as JSON writes them); NULL if absent. */
static const char *field_value(const struct doc *d, enum rule_field f, const char *path,
			       char *tmp, size_t tmplen)
{
	if (f == F_SOURCE)
		return d->source.len ? d->source.p : NULL;
	if (f == F_ID)
		return d->id.p ? d->id.p : "";
	json_t *v = d->meta;
	for (const char *p = path; v && *p;) {
		size_t len = strcspn(p, ".");
		char key[128];
		if (len >= sizeof key)
			return NULL;
		memcpy(key, p, len), key[len] = 0;
		v = json_is_object(v) ? json_object_get(v, key) : NULL;
		p += len + (p[len] == '.');
	}
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(tmp, tmplen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_boolean(v))
		snprintf(tmp, tmplen, "%s", json_is_true(v) ? "true" : "false");
	else if (json_is_real(v))
		snprintf(tmp, tmplen, "%.17g", json_real_value(v));
	else
		return NULL;
	return tmp;
}

static bool rule_holds(const struct rule *r, const struct doc *d)
{
	if (r->field == F_BYTES)
		return r->op == OP_GE ? d->text.len >= r->num : d->text.len < r->num;
	char tmp[64];
	const char *v = field_value(d, r->field, r->path, tmp, sizeof tmp);
	if (r->op == OP_HAS)
		return v && *v;
	bool in = false;
	for (size_t k = 0; v && k < r->nalt && !in; k++)
		in = !strcmp(v, r->alt[k]);
	return r->op == OP_EQ ? in : !in;
}

static bool group_matches(const struct group *g, const struct doc *d)
{
	for (size_t i = 0; i < g->nrules; i++)
		if (!rule_holds(&g->rules[i], d))
			return false;
	return true;
}

/* A group_by value as a directory name: letters, digits, '-', '_' and '+' kept, anything
 * else '_', at most 32 bytes; absent or empty is "unknown". */
static void value_name(const char *v, char out[48])
{
	size_t n = 0;
	for (; v && v[n] && n < 32; n++) {
		unsigned char c = (unsigned char)v[n];
		out[n] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				 c == '-' || c == '_' || c == '+'
			 ? (char)c : '_';
	}
	out[n] = 0;
	if (!n)
		strcpy(out, "unknown");
}

/* An option of group g: its own when the config sets it, else the tokenize-wide one. */
static const char *group_key(const char *g, const char *opt, char *key, size_t len)
{
	snprintf(key, len, "tokenize.groups.%s.%s", g, opt);
	return key;
}

static bool group_sets(const struct config *cfg, const char *g, const char *opt)
{
	char key[256];
	return config_is_set(cfg, group_key(g, opt, key, sizeof key));
}

#define GROUP_OPT(type, cfg, g, opt)                                                        \
	(g && group_sets(cfg, g, opt) ? config_##type(cfg, group_key(g, opt, kbuf, sizeof kbuf)) \
				      : config_##type(cfg, "tokenize." opt))

double tokenize_group_fim_rate(const struct config *cfg, const char *g)
{
	char kbuf[256];
	return GROUP_OPT(float, cfg, g, "fim.rate");
}

/* Looks a token up; "" means none (-1) where allowed. */
static int token_id(struct bpe *b, const char *tokenizer, const char *what, const char *s,
		    bool needed, int64_t *id)
{
	*id = -1;
	if (!*s && !needed)
		return 0;
	*id = bpe_token_id(b, s);
	if (*id < 0) {
		err_set("%s: the token '%s' is not in the vocabulary of %s", what, s, tokenizer);
		return -1;
	}
	return 0;
}

/* group.json of dir when its fingerprint is fp and every file it lists is on disk at its
 * size; else NULL. */
static json_t *load_kept(const char *dir, const char *fp)
{
	char *p = xasprintf("%s/group.json", dir);
	json_t *j = json_load_file(p, 0, NULL);
	free(p);
	const char *f = j ? json_string_value(json_object_get(j, "fingerprint")) : NULL;
	bool ok = f && !strcmp(f, fp) && json_is_array(json_object_get(j, "shards"));
	size_t i;
	json_t *s;
	json_array_foreach(ok ? json_object_get(j, "shards") : NULL, i, s) {
		for (int k = 0; k < 2 && ok; k++) {
			json_t *f2 = json_object_get(s, k ? "idx" : "bin");
			const char *name = json_string_value(json_object_get(f2, "name"));
			char *path = name ? xasprintf("%s/%s", dir, name) : NULL;
			struct stat st;
			ok = path && !stat(path, &st) &&
			     (json_int_t)st.st_size == json_integer_value(json_object_get(f2, "bytes"));
			free(path);
		}
	}
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static char *ds_dir(const struct tok *t, const char *name)
{
	return *name ? xasprintf("%s/%s", t->dir, name) : xstrdup(t->dir);
}

/* The dataset `name` of group g (NULL: all documents, or a group_by value name) at FIM rate
 * fim (< 0: the group's own). */
static struct dataset *ds_make(struct tok *t, const char *name, const struct group *g,
			       const char *gname, double fim, struct buf *why)
{
	const struct config *cfg = t->cfg;
	char kbuf[256];
	struct dataset *d = xcalloc(1, sizeof *d);
	d->name = xstrdup(name);
	d->group = g;
	d->fim_rate = fim >= 0 ? fim : GROUP_OPT(float, cfg, gname, "fim.rate");
	d->shuffle = GROUP_OPT(bool, cfg, gname, "shuffle");
	d->shard_tokens = (uint64_t)GROUP_OPT(int, cfg, gname, "shard_tokens");
	const char *eod = GROUP_OPT(str, cfg, gname, "eod");
	d->by_lang = json_object();
	if (token_id(t->bpe, config_str(cfg, "tokenize.tokenizer"),
		     gname && group_sets(cfg, gname, "eod") ? group_key(gname, "eod", kbuf, sizeof kbuf)
							    : "tokenize.eod",
		     eod, false, &d->eod) < 0) {
		buf_puts(why, err_get());
		return d;
	}
	if (d->fim_rate > 0 && t->sent[0] < 0) {
		buf_printf(why, "%s: FIM rate %g needs the sentinels: %s", *name ? name : "tokenize",
			   d->fim_rate, err_get());
		return d;
	}
	struct buf s = BUF_INIT;
	buf_printf(&s, "curate-tokenize-dataset/1\nname %s\ntokenizer %s\nencoding %s\nseed %" PRIu64
		       "\nsentinels %" PRId64 " %" PRId64 " %" PRId64 "\neod %" PRId64
		       "\nfim %.17g\nshuffle %d\nshard_tokens %" PRIu64 "\n",
		   name, t->tokenizer_sha, config_str(cfg, "tokenize.encoding"), t->seed,
		   d->fim_rate > 0 ? t->sent[0] : -1, d->fim_rate > 0 ? t->sent[1] : -1,
		   d->fim_rate > 0 ? t->sent[2] : -1, d->eod, d->fim_rate, d->shuffle,
		   d->shard_tokens);
	if (*t->group_by)
		buf_printf(&s, "group_by %s\n", t->group_by);
	for (size_t i = 0; g && i < g->nrules; i++) {
		const struct rule *r = &g->rules[i];
		buf_printf(&s, "rule %d %d %s %" PRIu64, r->field, r->op, r->path ? r->path : "",
			   r->num);
		for (size_t k = 0; k < r->nalt; k++)
			buf_printf(&s, " [%s]", r->alt[k]);
		buf_putc(&s, '\n');
	}
	buf_puts(&s, t->input_id);
	unsigned char dig[SHA256_LEN];
	sha256(s.p, s.len, dig);
	sha256_hexstr(dig, d->fp);
	buf_release(&s);
	if (!t->force) {
		char *dir = ds_dir(t, name);
		d->kept = load_kept(dir, d->fp);
		free(dir);
	}
	return d;
}

static void ds_free(struct dataset *d)
{
	if (!d)
		return;
	free(d->name);
	json_decref(d->kept);
	json_decref(d->by_lang);
	free(d);
}

/* This rank's dataset `name`, made on first use (group_by values appear as they come). */
static struct dataset *ds_get(struct tok *t, const char *name, const struct group *g,
			      const char *gname, double fim)
{
	for (size_t i = 0; i < t->nds; i++)
		if (!strcmp(t->ds[i]->name, name))
			return t->ds[i];
	struct buf why = BUF_INIT;
	struct dataset *d = ds_make(t, name, g, gname, fim, &why);
	if (why.len && !t->why)
		DIE("tokenize: %s (checked before the run)", why.p); /* tok_init checked it */
	if (why.len && !t->why->len)
		buf_puts(t->why, why.p);
	buf_release(&why);
	t->ds = xrealloc(t->ds, (t->nds + 1) * sizeof *t->ds);
	t->ds[t->nds++] = d;
	return d;
}

/* The variants of group g (the phases' other FIM rates), by name. */
static void ds_with_variants(struct tok *t, const struct group *g, const char *gname,
			     struct dataset **out, size_t *n)
{
	out[(*n)++] = ds_get(t, gname, g, gname, -1);
	for (size_t i = 0; i < t->nvariants; i++) {
		if (strcmp(t->variants[i].group, gname))
			continue;
		char name[96];
		blend_variant_name(gname, t->variants[i].fim_rate, name, sizeof name);
		out[(*n)++] = ds_get(t, name, g, gname, t->variants[i].fim_rate);
	}
}

static int tok_init(struct tok *t, const struct config *cfg, const char *dir, bool force,
		    const struct task_list *in)
{
	memset(t, 0, sizeof *t);
	t->cfg = cfg, t->dir = dir, t->force = force;
	t->sent[0] = t->sent[1] = t->sent[2] = -1;
	const char *path = config_str(cfg, "tokenize.tokenizer");
	if (!*path) {
		err_set("tokenize.tokenizer is not set: name a tokenizer.json or .tiktoken file");
		return -1;
	}
	if (sha256_file_hex(path, t->tokenizer_sha) < 0)
		return -1;
	t->bpe = bpe_load(path, config_str(cfg, "tokenize.encoding"));
	if (!t->bpe)
		return -1;
	t->seed = (uint64_t)config_int(cfg, "tokenize.seed");
	t->group_by = config_str(cfg, "tokenize.group_by");
	t->group_field = !strcmp(t->group_by, "source") ? F_SOURCE
			 : !strcmp(t->group_by, "id")   ? F_ID
							: F_META;
	struct buf ids = BUF_INIT;
	for (size_t i = 0; i < in->n; i++) { /* by name, so a moved workdir keeps its groups */
		const char *slash = strrchr(in->v[i].arg.p, '/');
		buf_printf(&ids, "input %zu %s %s\n", i, in->v[i].input_sha256,
			   slash ? slash + 1 : in->v[i].arg.p);
	}
	t->input_id = buf_detach(&ids, NULL);
	/* the sentinels, when any group FIMs: an error names the token */
	static const char *const skey[3] = {"tokenize.fim.suffix", "tokenize.fim.prefix",
					    "tokenize.fim.middle"};
	for (int k = 0; k < 3; k++)
		if (token_id(t->bpe, path, skey[k], config_str(cfg, skey[k]), true, &t->sent[k]) < 0) {
			t->sent[0] = t->sent[1] = t->sent[2] = -1;
			break;
		}
	/* the groups' names and rules as curate run checked them before any stage (a caller
	 * that did not gets the same lines) */
	struct buf why = BUF_INIT;
	if (tokenize_check(cfg, &why) && why.len && why.p[why.len - 1] == '\n')
		why.p[--why.len] = 0;
	char **names;
	size_t n = config_names(cfg, "tokenize.groups", &names);
	t->groups = xcalloc(n + 1, sizeof *t->groups);
	for (size_t i = 0; i < n && !why.len; i++) {
		char key[256];
		const char *const *rules;
		size_t nr = config_list(cfg, group_key(names[i], "match", key, sizeof key), &rules);
		struct group *g = &t->groups[t->ngroups++];
		g->name = xstrdup(names[i]);
		g->rules = xcalloc(nr + 1, sizeof *g->rules);
		for (size_t r = 0; r < nr; r++, g->nrules++) {
			struct buf rw = BUF_INIT;
			if (rule_parse(rules[r], &g->rules[r], &rw) < 0)
				DIE("tokenize: %s: a rule tokenize_check passed: %s", key, rw.p);
			buf_release(&rw);
		}
	}
	config_names_free(names);
	blend_variants(cfg, &t->variants, &t->nvariants);
	/* named groups (and the single dataset) exist before any document: made now, each
	 * checked (tokens, sentinels) once */
	t->why = &why;
	for (size_t i = 0; i < t->ngroups && !why.len && !*t->group_by; i++) {
		struct dataset **tmp = xmalloc((t->nvariants + 1) * sizeof *tmp);
		size_t k = 0;
		ds_with_variants(t, &t->groups[i], t->groups[i].name, tmp, &k);
		free(tmp);
	}
	t->why = NULL;
	for (size_t i = 0; i < t->nvariants && !why.len && t->ngroups && !*t->group_by; i++) {
		size_t g = 0;
		while (g < t->ngroups && strcmp(t->groups[g].name, t->variants[i].group))
			g++;
		if (g == t->ngroups)
			buf_printf(&why, "phases: a phase asks for group '%s' at FIM rate %g, but "
					 "tokenize.groups has no group '%s'", t->variants[i].group,
				   t->variants[i].fim_rate, t->variants[i].group);
	}
	if (!why.len && !t->ngroups && !*t->group_by) {
		struct buf w2 = BUF_INIT;
		struct dataset *d = ds_make(t, "", NULL, NULL, -1, &w2);
		if (w2.len)
			buf_puts(&why, w2.p), ds_free(d);
		else
			t->ds = xmalloc(sizeof *t->ds), t->ds[t->nds++] = d;
		buf_release(&w2);
	}
	if (!why.len && *t->group_by) { /* one value's settings, checked before the run */
		struct buf w2 = BUF_INIT;
		ds_free(ds_make(t, "unknown", NULL, NULL, -1, &w2));
		for (size_t i = 0; i < t->ngroups && !w2.len; i++)
			ds_free(ds_make(t, t->groups[i].name, NULL, t->groups[i].name, -1, &w2));
		buf_puts(&why, w2.p ? w2.p : "");
		buf_release(&w2);
	}
	int rc = why.len ? -1 : 0;
	if (rc)
		err_set("%s", why.p);
	buf_release(&why);
	return rc;
}

static void tok_release(struct tok *t)
{
	bpe_free(t->bpe);
	for (size_t i = 0; i < t->ngroups; i++) {
		free(t->groups[i].name);
		rules_free(t->groups[i].rules, t->groups[i].nrules);
	}
	free(t->groups);
	for (size_t i = 0; i < t->nds; i++)
		ds_free(t->ds[i]);
	free(t->ds);
	blend_variants_free(t->variants, t->nvariants);
	free(t->input_id);
}

/* The datasets document d goes to (at most `cap`). */
static size_t route_doc(struct tok *t, const struct doc *d, struct dataset **out, size_t cap)
{
	size_t n = 0;
	if (*t->group_by) {
		char tmp[64], name[48];
		const char *path = t->group_field == F_META ? t->group_by + 9 : NULL;
		value_name(field_value(d, t->group_field, path, tmp, sizeof tmp), name);
		ds_with_variants(t, NULL, name, out, &n);
	} else if (!t->ngroups) {
		out[n++] = t->ds[0];
	} else {
		for (size_t i = 0; i < t->ngroups && n + t->nvariants + 1 <= cap; i++)
			if (group_matches(&t->groups[i], d))
				ds_with_variants(t, &t->groups[i], t->groups[i].name, out, &n);
	}
	return n;
}

int tokenize_check(const struct config *cfg, struct buf *why)
{
	int bad = 0;
	const char *gb = config_str(cfg, "tokenize.group_by");
	if (*gb && strcmp(gb, "source") && strcmp(gb, "id") && strncmp(gb, "metadata.", 9)) {
		buf_printf(why, "%s: tokenize.group_by: '%s' is not source, id or metadata.KEY\n",
			   config_origin(cfg, "tokenize.group_by"), gb);
		bad++;
	}
	char **names;
	size_t n = config_names(cfg, "tokenize.groups", &names);
	for (size_t i = 0; i < n; i++) {
		char key[256];
		const char *const *rules;
		size_t nr = config_list(cfg, group_key(names[i], "match", key, sizeof key), &rules);
		if (strlen(names[i]) > 32 || *names[i] == '.' || strchr(names[i], '/')) {
			buf_printf(why, "%s: tokenize.groups.%s: a group name is at most 32 bytes, not "
					"hidden, without '/'\n", config_origin(cfg, key), names[i]);
			bad++;
		}
		if (*gb && nr) {
			buf_printf(why, "%s: %s: with group_by the groups are its values; match rules "
					"are for named groups\n", config_origin(cfg, key), key);
			bad++;
		}
		for (size_t r = 0; r < nr; r++) {
			struct rule *rl = xcalloc(1, sizeof *rl);
			struct buf rw = BUF_INIT;
			if (rule_parse(rules[r], rl, &rw) < 0) {
				buf_printf(why, "%s: %s: %s\n", config_origin(cfg, key), key, rw.p);
				bad++;
			}
			rules_free(rl, 1);
			buf_release(&rw);
		}
	}
	config_names_free(names);
	return bad + blend_check(cfg, why);
}

/* ---- phase 1: tokenize each input shard into .phases/tokens/in-NNNNN.{tok,len} ---- */

struct doc_entry { /* one per (document, dataset) in in-NNNNN.len */
	uint64_t key;    /* shuffle hash */
	uint32_t ntok;
	uint32_t ds;     /* the dataset's place in the shard's own list (its record's info) */
};

/* One input shard's datasets, in the order it met them, with its counts in each. */
struct shard_ds {
	struct dataset **ds;
	uint64_t *docs, *tokens, *fim;
	json_t **lang;
	size_t n;
};

static uint32_t shard_ds_index(struct shard_ds *s, struct dataset *d)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ds[i] == d)
			return (uint32_t)i;
	size_t n = s->n + 1;
	s->ds = xrealloc(s->ds, n * sizeof *s->ds), s->ds[s->n] = d;
	s->docs = xrealloc(s->docs, n * sizeof *s->docs), s->docs[s->n] = 0;
	s->tokens = xrealloc(s->tokens, n * sizeof *s->tokens), s->tokens[s->n] = 0;
	s->fim = xrealloc(s->fim, n * sizeof *s->fim), s->fim[s->n] = 0;
	s->lang = xrealloc(s->lang, n * sizeof *s->lang), s->lang[s->n] = json_object();
	return (uint32_t)s->n++;
}

/* The record's info: the shard's datasets with their counts, the kept datasets it left out,
 * and its input statistics. Takes s's counts. */
static json_t *shard_info(struct shard_ds *s, json_t *kept, const struct stats *st)
{
	json_t *a = json_array();
	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I,s:o}", "name", s->ds[i]->name,
						   "docs", (json_int_t)s->docs[i], "tokens",
						   (json_int_t)s->tokens[i], "fim", (json_int_t)s->fim[i],
						   "lang", s->lang[i]));
	free(s->ds), free(s->docs), free(s->tokens), free(s->fim), free(s->lang);
	memset(s, 0, sizeof *s);
	return json_pack("{s:o,s:o,s:o}", "datasets", a, "kept", kept, "stats", stats_to_json(st));
}

static int tokenize_input(struct tok *t, const struct task *in, const char *tp, const char *lp,
			  struct stats *st, struct shard_ds *sds, json_t *kept)
{
	FILE *tf = fopen(tp, "wb"), *lf = fopen(lp, "wb");
	int verify = config_bool(t->cfg, "verify_inputs");
	struct shard_reader *r = tf && lf ? shard_reader_open(in->arg.p, verify ? in->input_sha256 : NULL)
					  : NULL;
	if (!tf || !lf)
		err_set("%s: %s", tf ? lp : tp, strerror(errno));
	struct doc d;
	doc_init(&d);
	struct bpe_ids plain = {0}, fim = {0};
	const char *line;
	size_t len;
	int got = r ? 0 : -1;
	size_t cap = (t->ngroups + 1) * (t->nvariants + 1) + 1;
	struct dataset **to = xmalloc(cap * sizeof *to);
	uint64_t ungrouped = 0;
	while (r && (got = shard_reader_next_line(r, &line, &len)) == 1) {
		if (phase_stopping()) {
			err_set("a stop was asked");
			got = -1;
			break;
		}
		st->docs_in++;
		if (doc_parse(&d, line, len) < 0) {
			log_warn("tokenize: %s: record %llu: %s; skipped", in->arg.p,
				 (unsigned long long)shard_reader_records(r), err_get());
			stats_drop(st, "bad_record", len);
			st->bytes_in += len;
			continue;
		}
		st->bytes_in += d.text.len;
		stage_progress_add(t->run, 1, len);
		size_t n = route_doc(t, &d, to, cap);
		ungrouped += !n;
		uint64_t fst;
		double u = fim_draw(t->seed, &d, &fst);
		bool have_plain = false, have_fim = false;
		uint64_t key = id_hash(t->seed ^ 0x5348554646ull, d.id.p ? d.id.p : "", d.id.len);
		for (size_t k = 0; k < n && got >= 0; k++) {
			struct dataset *ds = to[k];
			if (ds->kept) {
				json_t *nm = json_string(ds->name);
				size_t ki;
				json_t *v;
				bool have = false;
				json_array_foreach(kept, ki, v) have = have || json_equal(v, nm);
				if (!have)
					json_array_append(kept, nm);
				json_decref(nm);
				continue;
			}
			bool f = ds->fim_rate > 0 && u < ds->fim_rate;
			if (f && !have_fim)
				encode_fim(t->bpe, t->sent, &d, fst, &fim), have_fim = true;
			if (!f && !have_plain) {
				plain.n = 0;
				bpe_encode(t->bpe, d.text.p ? d.text.p : "", d.text.len, &plain);
				have_plain = true;
			}
			struct bpe_ids *ids = f ? &fim : &plain;
			uint64_t ntok = ids->n + (ds->eod >= 0);
			if (ntok > INT32_MAX) {
				log_warn("tokenize: %s: record %llu: %" PRIu64 " tokens exceed "
					 "Megatron's int32 length; skipped in %s", in->arg.p,
					 (unsigned long long)shard_reader_records(r), ntok,
					 *ds->name ? ds->name : "the dataset");
				stats_drop(st, "too_many_tokens", d.text.len);
				continue;
			}
			uint32_t eod = (uint32_t)ds->eod, li = shard_ds_index(sds, ds);
			struct doc_entry e = {key, (uint32_t)ntok, li};
			if ((ids->n && fwrite(ids->v, sizeof *ids->v, ids->n, tf) != ids->n) ||
			    (ds->eod >= 0 && fwrite(&eod, sizeof eod, 1, tf) != 1) ||
			    fwrite(&e, sizeof e, 1, lf) != 1) {
				err_set("%s: write: %s", tp, strerror(errno));
				got = -1;
				break;
			}
			sds->docs[li]++, sds->tokens[li] += ntok, sds->fim[li] += f;
			json_t *lv = json_object_get(d.meta, "lang");
			const char *lang = json_is_string(lv) ? json_string_value(lv) : "unknown";
			json_t *c = json_object_get(sds->lang[li], lang);
			json_object_set_new(sds->lang[li], lang,
					    json_integer(json_integer_value(c) + (json_int_t)ntok));
		}
		if (got < 0)
			break;
		if (n)
			st->docs_out++, st->bytes_out += d.text.len;
	}
	if (ungrouped)
		stats_count(st, "ungrouped_docs", ungrouped);
	shard_reader_close(r);
	int rc = got < 0 ? -1 : 0;
	if (tf && fclose(tf) != 0)
		rc = -1;
	if (lf && fclose(lf) != 0)
		rc = -1;
	bpe_ids_release(&plain), bpe_ids_release(&fim);
	doc_release(&d);
	free(to);
	return rc;
}

/* The phase's work on input shard i. */
static int tokenize_one(struct phase *ph, size_t i, json_t **info, void *ud)
{
	struct tok *t = ud;
	char *tp = phase_tmp_path(ph, i, "tok"), *lp = phase_tmp_path(ph, i, "len");
	struct stats st;
	stats_init(&st);
	struct shard_ds sds = {0};
	json_t *kept = json_array();
	int rc = tokenize_input(t, &t->in->v[i], tp, lp, &st, &sds, kept);
	phase_count(ph, st.docs_in);
	*info = shard_info(&sds, kept, &st);
	stats_release(&st);
	free(tp), free(lp);
	return rc;
}

static struct dataset *remote_dataset(struct tok *t, const char *name);

/* Adds counts as a shard's record or a rank's line has them ({docs, tokens, fim, lang}). */
static void ds_add_counts(struct dataset *d, json_t *j)
{
	d->docs += (uint64_t)json_integer_value(json_object_get(j, "docs"));
	d->tokens += (uint64_t)json_integer_value(json_object_get(j, "tokens"));
	d->fim_docs += (uint64_t)json_integer_value(json_object_get(j, "fim"));
	const char *lang;
	json_t *c;
	json_object_foreach(json_object_get(j, "lang"), lang, c) {
		json_t *o = json_object_get(d->by_lang, lang);
		json_object_set_new(d->by_lang, lang,
				    json_integer(json_integer_value(o) + json_integer_value(c)));
	}
}

/* This rank's dataset `name`: one of its own, or made from the name (a group_by value met
 * in a shard another rank tokenized). */
static struct dataset *ds_by_name(struct tok *t, const char *name)
{
	for (size_t i = 0; i < t->nds; i++)
		if (!strcmp(t->ds[i]->name, name))
			return t->ds[i];
	struct dataset *d = remote_dataset(t, name);
	t->ds = xrealloc(t->ds, (t->nds + 1) * sizeof *t->ds);
	t->ds[t->nds++] = d;
	return d;
}

/* A kept record holds when the datasets it left out as kept are still kept: else their
 * documents are missing from its files. */
static int tokens_accept(json_t *info, size_t index, void *ud)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(info, "kept"), i, v) {
		const char *name = json_string_value(v);
		if (!name || !ds_by_name(ud, name)->kept)
			return 0;
	}
	json_t *list = json_object_get(info, "datasets");
	json_array_foreach(list, i, v)
		if (!json_is_string(json_object_get(v, "name")))
			return 0; /* not what tokenize writes: redone */
	return json_is_array(list) && json_is_object(json_object_get(info, "stats"));
}

/* Adds input shard i's counts (its record's info) to this rank's datasets and stats. */
static int merge_shard(struct tok *t, struct phase *ph, size_t i, struct stats *st)
{
	json_t *info = phase_info(ph, i);
	if (!info)
		return -1;
	size_t k;
	json_t *e;
	json_array_foreach(json_object_get(info, "datasets"), k, e) {
		ds_add_counts(ds_by_name(t, json_string_value(json_object_get(e, "name"))), e);
	}
	int rc = stats_from_json(st, json_object_get(info, "stats"));
	json_decref(info);
	if (rc < 0)
		err_set("%s: input shard %zu: its record's stats are malformed", t->run->dir, i);
	return rc;
}

/* ---- the datasets of all ranks ---- */

static int cmp_cstr_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_ds_name(const void *a, const void *b)
{
	return strcmp((*(struct dataset *const *)a)->name, (*(struct dataset *const *)b)->name);
}

/* A dataset another rank met (a group_by value this rank never saw), made from its name:
 * "VALUE" or the variant "VALUE.fimR". */
static struct dataset *remote_dataset(struct tok *t, const char *name)
{
	struct buf why = BUF_INIT;
	const char *dot = strchr(name, '.');
	char *base = dot ? xstrndup(name, (size_t)(dot - name)) : xstrdup(name);
	double fim = -1;
	for (size_t i = 0; dot && i < t->nvariants; i++) {
		char vn[96];
		blend_variant_name(base, t->variants[i].fim_rate, vn, sizeof vn);
		if (!strcmp(t->variants[i].group, base) && !strcmp(vn, name))
			fim = t->variants[i].fim_rate;
	}
	struct dataset *d = ds_make(t, name, NULL, base, fim, &why);
	if (why.len)
		DIE("tokenize: %s (checked before the run)", why.p);
	free(base);
	return d;
}

/* Every rank's datasets, by name, with their counts summed. The union is the same on every
 * rank, in name order. */
static struct dataset **gather_datasets(struct tok *t, size_t *nall)
{
	struct buf mine = BUF_INIT, all = BUF_INIT;
	for (size_t i = 0; i < t->nds; i++) {
		const struct dataset *d = t->ds[i];
		json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:O}", "name", d->name, "docs",
				      (json_int_t)d->docs, "tokens", (json_int_t)d->tokens, "fim",
				      (json_int_t)d->fim_docs, "lang", d->by_lang);
		char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		buf_puts(&mine, s);
		buf_putc(&mine, '\n');
		free(s), json_decref(j);
	}
	par_allgather_bytes(mine.p ? mine.p : "", mine.len, &all);
	buf_release(&mine);
	struct dataset **v = NULL;
	size_t n = 0;
	for (char *line = all.p, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = 0;
		json_t *j = json_loads(line, 0, NULL);
		const char *name = json_string_value(json_object_get(j, "name"));
		struct dataset *d = NULL;
		for (size_t i = 0; i < n && !d; i++)
			if (!strcmp(v[i]->name, name))
				d = v[i];
		if (!d) {
			/* the same settings as the rank that made it: made again from the name */
			struct dataset *src = NULL;
			for (size_t i = 0; i < t->nds && !src; i++)
				if (!strcmp(t->ds[i]->name, name))
					src = t->ds[i];
			if (src) {
				d = xcalloc(1, sizeof *d);
				*d = *src;
				d->name = xstrdup(src->name);
				d->kept = json_incref(src->kept);
			} else {
				d = remote_dataset(t, name);
				json_decref(d->by_lang); /* its counts come from the lines */
			}
			d->docs = d->tokens = d->fim_docs = 0;
			d->by_lang = json_object();
			v = xrealloc(v, (n + 1) * sizeof *v);
			v[n++] = d;
		}
		ds_add_counts(d, j);
		json_decref(j);
	}
	buf_release(&all);
	/* languages in name order: the lines came in rank order, which must not show */
	for (size_t i = 0; i < n; i++) {
		json_t *sorted = json_object();
		const char **keys = xmalloc((json_object_size(v[i]->by_lang) + 1) * sizeof *keys);
		size_t k = 0;
		const char *lang;
		json_t *c;
		json_object_foreach(v[i]->by_lang, lang, c)
			keys[k++] = lang;
		qsort(keys, k, sizeof *keys, cmp_cstr_ptr);
		for (size_t j = 0; j < k; j++)
			json_object_set(sorted, keys[j], json_object_get(v[i]->by_lang, keys[j]));
		free(keys);
		json_decref(v[i]->by_lang);
		v[i]->by_lang = sorted;
	}
	qsort(v, n, sizeof *v, cmp_ds_name);
	*nall = n;
	return v;
}

/* ---- phase 2: order, cut and write ---- */

/* A document's place: [input u32][record u32][token offset in its input u64][ntok u32]. */
#define LOC_LEN 20

/* Routes every (document, dataset) of this rank's inputs to the rank that holds its range
 * of the dataset's order: key = dataset + order key (shuffle hash or input number) + input +
 * record. Kept datasets' entries are not routed. */
static int route_order(struct stage_run *run, struct xchg *x, const struct phase *ph, size_t nin,
		       struct dataset **all, size_t nall)
{
	for (size_t i = 0; i < nin; i++) {
		if (phase_owner(ph, i) != run->rank)
			continue;
		/* the shard's own dataset list, by name to the global numbering */
		json_t *info = phase_info(ph, i), *list = json_object_get(info, "datasets");
		if (!info)
			return -1;
		size_t nl = json_array_size(list);
		uint32_t *map = xmalloc((nl + 1) * sizeof *map);
		for (size_t k = 0; k < nl; k++) {
			const char *name = json_string_value(json_object_get(json_array_get(list, k), "name"));
			map[k] = UINT32_MAX;
			for (size_t g = 0; g < nall && name; g++)
				if (!strcmp(all[g]->name, name))
					map[k] = (uint32_t)g;
		}
		json_decref(info);
		char *lp = phase_path(ph, i, "len");
		FILE *f = fopen(lp, "rb");
		int rc = f ? 0 : -1;
		if (!f)
			err_set("%s: %s", lp, strerror(errno));
		struct doc_entry e;
		uint64_t off = 0;
		for (uint32_t rec = 0; f && fread(&e, sizeof e, 1, f) == 1; rec++) {
			uint32_t g = e.ds < nl ? map[e.ds] : UINT32_MAX;
			if (g == UINT32_MAX) {
				err_set("%s: entry %u: dataset %u is not in its record", lp, rec, e.ds);
				rc = -1;
				break;
			}
			const struct dataset *d = all[g];
			unsigned char key[20], loc[LOC_LEN];
			uint64_t order = d->shuffle ? e.key : (uint64_t)i;
			be_put(key, g, 4);
			be_put(key + 4, order, 8);
			be_put(key + 12, i, 4);
			be_put(key + 16, rec, 4);
			be_put(loc, i, 4);
			be_put(loc + 4, rec, 4);
			be_put(loc + 8, off, 8);
			be_put(loc + 16, e.ntok, 4);
			off += e.ntok;
			if (d->kept) /* kept since these files were made (a killed run's group.json) */
				continue;
			/* range placement keeps the order: rank r holds the r-th slice of each */
			int dest = d->shuffle ? (int)(((e.key >> 32) * (uint64_t)run->nranks) >> 32)
					      : (int)((uint64_t)i * (uint64_t)run->nranks / nin);
			if ((rc = xchg_put(x, dest, key, sizeof key, loc, sizeof loc)) < 0)
				break;
		}
		if (f)
			fclose(f);
		free(lp), free(map);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Reads this rank's ordered slices, finds each document's token offset in its dataset and
 * sends it to the owner of its shard: key [raw shard u32][offset u64], value the location.
 * Raw shards are numbered over all datasets: dataset g's are base .. base + nraw - 1. */
static int route_shards(struct stage_run *run, struct xchg *in, struct xchg *out,
			struct dataset **all, size_t nall, unsigned char *used)
{
	const void *k, *v;
	size_t kl, vl;
	uint64_t *mine = xcalloc(nall + 1, sizeof *mine), *start = xcalloc(nall + 1, sizeof *start);
	struct buf locs = BUF_INIT; /* [dataset u32][location] */
	int got;
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		uint32_t g = (uint32_t)be_get(k, 4);
		buf_append(&locs, k, 4);
		buf_append(&locs, v, vl);
		mine[g] += be_get((const unsigned char *)v + 16, 4);
	}
	int rc = got < 0 ? -1 : 0;
	if (!rc) {
		/* the exclusive prefix over ranks, per dataset */
		MPI_CHECK(MPI_Exscan(mine, start, (int)nall, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
		if (run->rank == 0)
			memset(start, 0, (nall + 1) * sizeof *start);
	}
	for (size_t p = 0; p + 4 + LOC_LEN <= locs.len && !rc; p += 4 + LOC_LEN) {
		const unsigned char *e = (const unsigned char *)locs.p + p, *loc = e + 4;
		uint32_t g = (uint32_t)be_get(e, 4);
		uint64_t s = all[g]->base + start[g] / all[g]->shard_tokens;
		unsigned char key[12];
		be_put(key, s, 4);
		be_put(key + 4, start[g], 8);
		used[s] = 1;
		rc = xchg_put(out, (int)(s % (uint64_t)run->nranks), key, sizeof key, loc, LOC_LEN);
		start[g] += be_get(loc + 16, 4);
	}
	buf_release(&locs);
	free(mine), free(start);
	return rc;
}

struct token_file {
	int fd;
	size_t idx;
};

/* A shard file for group.json, named relative to its dataset's directory ("part-00000.bin"). */
static json_t *shard_file_json(const struct stage_file *f)
{
	const char *slash = strchr(f->name, '/');
	return json_pack("{s:s,s:I,s:I,s:s}", "name", slash ? slash + 1 : f->name, "bytes",
			 (json_int_t)f->bytes, "records", (json_int_t)f->records, "sha256", f->sha256);
}

/* Records shard `index` (its .bin and .idx described by f[2]) for the manifest. */
static int write_part(struct stage_run *run, uint32_t index, const struct stage_file *f,
		      uint64_t tokens, uint64_t docs, const struct stats *add, double seconds)
{
	struct stats st;
	stats_init(&st);
	if (add)
		stats_merge(&st, add);
	stats_count(&st, "tokens", tokens);
	stats_count(&st, "token_docs", docs);
	int rc = stage_write_part_files(run, index, f, 2, &st, seconds);
	stats_release(&st);
	return rc;
}

/* Copies document tokens from the per-input files into shard `num` of dataset d, part
 * `index` of the stage; appends the shard's description to `done`. */
static int write_shard(struct stage_run *run, const struct dataset *d, uint32_t num,
		       uint32_t index, int dtype, struct xchg *x, int *have, const void **k,
		       const void **v, size_t *kl, size_t *vl, uint32_t raw_shard,
		       struct token_file *tf, size_t nin, const struct phase *ph,
		       const struct stats *add, struct buf *done)
{
	double t0 = now_seconds();
	char rel[64];
	snprintf(rel, sizeof rel, "%s%spart-%05u", d->name, *d->name ? "/" : "", num);
	char *prefix = xasprintf("%s/%s", run->dir, rel);
	struct megatron_writer *w = megatron_writer_open(prefix, dtype);
	free(prefix);
	if (!w)
		return -1;
	struct bpe_ids ids = {0};
	int rc = 0;
	while (*have == 1 && be_get(*k, 4) == raw_shard && !rc) {
		const unsigned char *loc = *v;
		size_t in = (size_t)be_get(loc, 4), n = (size_t)be_get(loc + 16, 4);
		uint64_t off = be_get(loc + 8, 8);
		if (in >= nin) {
			err_set("tokenize: input index %zu out of range", in);
			rc = -1;
			break;
		}
		if (tf[in].fd < 0) {
			char *tp = phase_path(ph, in, "tok");
			tf[in].fd = open(tp, O_RDONLY | O_CLOEXEC);
			if (tf[in].fd < 0)
				err_set("%s: %s", tp, strerror(errno)), rc = -1;
			free(tp);
			if (rc)
				break;
		}
		if (ids.cap < n + 1) {
			ids.cap = n + 1;
			ids.v = xrealloc(ids.v, ids.cap * sizeof *ids.v);
		}
		ssize_t got = pread(tf[in].fd, ids.v, n * sizeof *ids.v, (off_t)(off * sizeof *ids.v));
		if (got < 0 || (size_t)got != n * sizeof *ids.v) {
			err_set("tokenize: short read of input %zu's tokens", in);
			rc = -1;
			break;
		}
		rc = megatron_writer_add(w, ids.v, n);
		*have = xchg_next(x, k, kl, v, vl);
	}
	if (*have < 0)
		rc = -1;
	bpe_ids_release(&ids);
	struct megatron_info info;
	if (rc < 0) {
		megatron_writer_abort(w);
		return -1;
	}
	if (megatron_writer_close(w, &info) < 0)
		return -1;
	struct stage_file files[2];
	snprintf(files[0].name, sizeof files[0].name, "%s.bin", rel);
	snprintf(files[1].name, sizeof files[1].name, "%s.idx", rel);
	files[0].bytes = info.bin_bytes, files[1].bytes = info.idx_bytes;
	files[0].records = files[1].records = info.docs;
	memcpy(files[0].sha256, info.bin_sha256, SHA256_HEX);
	memcpy(files[1].sha256, info.idx_sha256, SHA256_HEX);
	rc = write_part(run, index, files, info.tokens, info.docs, add, now_seconds() - t0);
	json_t *j = json_pack("{s:s,s:I,s:o,s:o,s:I,s:I}", "ds", d->name, "num", (json_int_t)num,
			      "bin", shard_file_json(&files[0]), "idx", shard_file_json(&files[1]),
			      "tokens", (json_int_t)info.tokens, "docs", (json_int_t)info.docs);
	char *line = json_dumps(j, JSON_COMPACT);
	buf_puts(done, line);
	buf_putc(done, '\n');
	free(line), json_decref(j);
	return rc;
}

/* Input statistics summed over ranks, for part 0's record. */
static void reduce_stats(struct stats *st)
{
	uint64_t v[7] = {st->docs_in, st->bytes_in, st->docs_out, st->bytes_out,
			 stats_drop_docs(st, "bad_record"), stats_drop_docs(st, "too_many_tokens"),
			 stats_counter(st, "ungrouped_docs")};
	uint64_t s[7];
	MPI_CHECK(MPI_Allreduce(v, s, 7, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	stats_release(st);
	stats_init(st);
	st->docs_in = s[0], st->bytes_in = s[1], st->docs_out = s[2], st->bytes_out = s[3];
	for (uint64_t i = 0; i < s[4]; i++)
		stats_drop(st, "bad_record", 0);
	for (uint64_t i = 0; i < s[5]; i++)
		stats_drop(st, "too_many_tokens", 0);
	if (s[6])
		stats_count(st, "ungrouped_docs", s[6]);
}

/* Removes token shards numbered at or above n in dir (left by an earlier, larger run). */
static void remove_extra_shards(const char *dir, uint32_t n)
{
	for (uint32_t i = n;; i++) {
		char *b = xasprintf("%s/part-%05u.bin", dir, i), *x = xasprintf("%s/part-%05u.idx", dir, i);
		int any = file_exists(b) || file_exists(x);
		unlink(b), unlink(x);
		free(b), free(x);
		if (!any)
			break;
	}
}

/* Phase 1: every input shard tokenized (or reused), then each rank's shards' counts merged
 * into its datasets and stats. */
static struct phase *tokenize_phase1(struct stage_run *run, struct tok *t,
				     const struct task_list *in, struct stats *st, int *ok)
{
	static const char *const exts[] = {"tok", "len", NULL};
	struct phase_def def = {"tokens", exts, false, tokens_accept, t};
	/* the token files depend on everything the stage's output does: its fingerprint */
	struct phase *ph = phase_open(run, in, &def, run->fingerprint);
	*ok = ph && phase_run(ph, tokenize_one, t) == 0;
	for (size_t i = 0; i < in->n && *ok; i++)
		if (phase_owner(ph, i) == run->rank && merge_shard(t, ph, i, st) < 0) {
			log_error("stage tokenize: %s", err_get());
			*ok = 0;
		}
	return ph;
}

/* What each dataset holds, for group.json and stats.json. */
static json_t *ds_summary(const struct dataset *d, json_t *shards)
{
	return json_pack("{s:s,s:I,s:I,s:I,s:f,s:b,s:I,s:I,s:O,s:o}", "name", d->name, "docs",
			 (json_int_t)d->docs, "tokens", (json_int_t)d->tokens, "fim_docs",
			 (json_int_t)d->fim_docs, "fim_rate", d->fim_rate, "shuffle", d->shuffle,
			 "shard_tokens", (json_int_t)d->shard_tokens, "eod", (json_int_t)d->eod,
			 "tokens_by_lang", d->by_lang, "shards", shards);
}

/* Rank 0, after every shard is written: part records of kept datasets, group.json of the
 * tokenized ones, stale directories removed, and the per-group stats. */
static int finish_datasets(struct stage_run *run, struct tok *t, struct dataset **all,
			   size_t nall, const char *done_text, const struct stats *st)
{
	json_t *groups = json_object();
	int rc = 0;
	uint64_t reused = 0;
	for (size_t g = 0; g < nall && !rc; g++) {
		struct dataset *d = all[g];
		char *dir = ds_dir(t, d->name);
		json_t *summary;
		if (d->kept) {
			reused++;
			json_t *shards = json_object_get(d->kept, "shards"), *s;
			size_t i;
			json_array_foreach(shards, i, s) {
				struct stage_file f[2];
				for (int k = 0; k < 2; k++) {
					json_t *o = json_object_get(s, k ? "idx" : "bin");
					snprintf(f[k].name, sizeof f[k].name, "%s%s%s", d->name,
						 *d->name ? "/" : "",
						 json_string_value(json_object_get(o, "name")));
					f[k].bytes = (uint64_t)json_integer_value(json_object_get(o, "bytes"));
					f[k].records =
						(uint64_t)json_integer_value(json_object_get(o, "records"));
					snprintf(f[k].sha256, sizeof f[k].sha256, "%s",
						 json_string_value(json_object_get(o, "sha256")));
				}
				uint32_t index = (uint32_t)(d->out_base + i);
				rc = rc ? rc : write_part(run, index, f,
						  (uint64_t)json_integer_value(json_object_get(s, "tokens")),
						  (uint64_t)json_integer_value(json_object_get(s, "docs")),
						  index == 0 ? st : NULL, 0);
			}
			summary = json_deep_copy(d->kept);
			json_object_del(summary, "fingerprint");
			json_object_set_new(summary, "reused", json_true());
		} else {
			json_t *shards = json_array();
			for (uint64_t n = 0; n < d->nout; n++)
				json_array_append_new(shards, json_null());
			for (const char *line = done_text, *nl; line && *line; line = nl + 1) {
				nl = strchr(line, '\n');
				json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
				if (j && !strcmp(json_string_value(json_object_get(j, "ds")), d->name)) {
					size_t num = (size_t)json_integer_value(json_object_get(j, "num"));
					json_object_del(j, "ds");
					json_object_del(j, "num");
					json_array_set(shards, num, j);
				}
				json_decref(j);
			}
			json_t *gj = ds_summary(d, shards);
			json_object_set_new(gj, "fingerprint", json_string(d->fp));
			char *text = json_dumps(gj, JSON_INDENT(2) | JSON_SORT_KEYS);
			char *path = xasprintf("%s/group.json", dir);
			rc = write_file_atomic(path, text, strlen(text));
			free(path), free(text);
			remove_extra_shards(dir, (uint32_t)d->nout);
			summary = gj;
			json_object_del(summary, "fingerprint");
			json_object_set_new(summary, "reused", json_false());
		}
		json_object_set_new(summary, "shards",
				    json_integer((json_int_t)json_array_size(json_object_get(summary, "shards"))));
		json_object_del(summary, "name");
		json_object_set_new(groups, *d->name ? d->name : "all", summary);
		free(dir);
	}
	/* what an earlier run with other groups left: group directories and top-level shards */
	bool single = nall == 1 && !*all[0]->name;
	if (!single) {
		remove_extra_shards(t->dir, 0);
		char *p = xasprintf("%s/group.json", t->dir);
		unlink(p);
		free(p);
	}
	DIR *dd = opendir(t->dir);
	struct dirent *e;
	while (dd && (e = readdir(dd))) {
		if (e->d_name[0] == '.')
			continue;
		bool listed = false;
		for (size_t g = 0; g < nall && !listed; g++)
			listed = !strcmp(all[g]->name, e->d_name);
		char *gp = xasprintf("%s/%s/group.json", t->dir, e->d_name);
		if (!listed && file_exists(gp)) {
			char *sub = xasprintf("%s/%s", t->dir, e->d_name);
			remove_tree(sub);
			free(sub);
		}
		free(gp);
	}
	if (dd)
		closedir(dd);
	stage_stats_object(run, "groups", groups);
	json_t *by_group = json_object();
	for (size_t g = 0; g < nall; g++)
		json_object_set_new(by_group, *all[g]->name ? all[g]->name : "all",
				    json_integer((json_int_t)all[g]->tokens));
	stage_stats_object(run, "tokens_by_group", by_group);
	log_info("tokenize: %zu dataset%s, %" PRIu64 " tokenized, %" PRIu64 " kept (unchanged)",
		 nall, nall == 1 ? "" : "s", (uint64_t)nall - reused, reused);
	return rc;
}

static int tokenize_phase2(struct stage_run *run, struct tok *t, const struct task_list *in,
			   const struct phase *ph, int dtype, struct stats *st)
{
	size_t nall;
	struct dataset **all = gather_datasets(t, &nall);
	/* kept datasets take their totals and shard counts from group.json */
	uint64_t nraw = 0, nout = 0, worked = 0;
	for (size_t g = 0; g < nall; g++) {
		struct dataset *d = all[g];
		if (d->kept) {
			d->docs = (uint64_t)json_integer_value(json_object_get(d->kept, "docs"));
			d->tokens = (uint64_t)json_integer_value(json_object_get(d->kept, "tokens"));
			d->fim_docs = (uint64_t)json_integer_value(json_object_get(d->kept, "fim_docs"));
			continue;
		}
		worked++;
		d->base = nraw;
		d->nraw = d->tokens / d->shard_tokens + 1;
		nraw += d->nraw;
	}
	stats_count(st, "groups_tokenized", worked);
	stats_count(st, "groups_reused", nall - worked);
	char *tmp = stage_tmpdir(run);
	uint64_t budget = config_size(run->cfg, "memory_budget") / 2;
	struct xchg *order = xchg_new(MPI_COMM_WORLD, budget, tmp);
	struct xchg *cut = order ? xchg_new(MPI_COMM_WORLD, budget, tmp) : NULL;
	free(tmp);
	unsigned char *used = xcalloc(nraw + 1, 1), *any = xcalloc(nraw + 1, 1);
	int ok = order && cut;
	ok = ok && route_order(run, order, ph, in->n, all, nall) == 0;
	ok = par_all_ok(ok) && xchg_finish(order) == 0;
	ok = par_all_ok(ok) && route_shards(run, order, cut, all, nall, used) == 0;
	ok = par_all_ok(ok) && xchg_finish(cut) == 0;
	ok = par_all_ok(ok);
	if (ok && nraw)
		MPI_CHECK(MPI_Allreduce(used, any, (int)nraw, MPI_UNSIGNED_CHAR, MPI_BOR,
					MPI_COMM_WORLD));
	/* per dataset, used raw shards are numbered in order (a document longer than
	 * shard_tokens leaves an empty slot, skipped); a dataset without documents gets one
	 * empty shard, so it exists */
	uint32_t *number = xcalloc(nraw + 1, sizeof *number);
	for (size_t g = 0; g < nall; g++) {
		struct dataset *d = all[g];
		d->out_base = nout;
		if (d->kept) {
			d->nout = json_array_size(json_object_get(d->kept, "shards"));
		} else {
			d->nout = 0;
			for (uint64_t s = d->base; s < d->base + d->nraw; s++)
				number[s] = any[s] ? (uint32_t)d->nout++ : UINT32_MAX;
			if (!d->nout)
				number[d->base] = 0, d->nout = 1;
		}
		nout += d->nout;
	}
	run->out_shards = (uint32_t)nout;
	struct token_file *tf = xmalloc((in->n + 1) * sizeof *tf);
	for (size_t i = 0; i < in->n; i++)
		tf[i].fd = -1;
	const void *k = NULL, *v = NULL;
	size_t kl = 0, vl = 0;
	int have = ok ? xchg_next(cut, &k, &kl, &v, &vl) : 0;
	struct buf done = BUF_INIT, alldone = BUF_INIT;
	/* the directories of the datasets to write; their old group.json goes first, so a
	 * killed run never leaves one that vouches for half-written shards */
	for (size_t g = 0; g < nall && ok && run->rank == 0; g++) {
		if (all[g]->kept)
			continue;
		char *dir = ds_dir(t, all[g]->name), *gj = xasprintf("%s/group.json", dir);
		ok = mkdir_p(dir) == 0;
		unlink(gj);
		free(dir), free(gj);
	}
	ok = par_all_ok(ok);
	for (size_t g = 0; g < nall && ok; g++) {
		struct dataset *d = all[g];
		if (d->kept)
			continue;
		for (uint64_t s = d->base; s < d->base + d->nraw && ok; s++) {
			if (number[s] == UINT32_MAX || s % (uint64_t)run->nranks != (uint64_t)run->rank)
				continue;
			uint32_t index = (uint32_t)(d->out_base + number[s]);
			ok = write_shard(run, d, number[s], index, dtype, cut, &have, &k, &v, &kl, &vl,
					 (uint32_t)s, tf, in->n, ph, index == 0 ? st : NULL, &done) == 0;
		}
	}
	if (!ok)
		log_error("stage tokenize: %s", err_get());
	ok = par_all_ok(ok);
	par_allgather_bytes(done.p ? done.p : "", done.len, &alldone);
	if (ok && run->rank == 0 && finish_datasets(run, t, all, nall, alldone.p, st) < 0) {
		log_error("stage tokenize: %s", err_get());
		ok = 0;
	}
	buf_release(&done), buf_release(&alldone);
	for (size_t i = 0; i < in->n; i++)
		if (tf[i].fd >= 0)
			close(tf[i].fd);
	for (size_t g = 0; g < nall; g++)
		ds_free(all[g]);
	free(all);
	free(tf), free(number), free(used), free(any);
	xchg_free(order);
	xchg_free(cut);
	return ok;
}

static int tokenize_run(struct stage_run *run, const struct task_list *in)
{
	struct tok t;
	int ok = tok_init(&t, run->cfg, run->dir, run->force, in) == 0;
	if (!ok)
		log_error("stage tokenize: %s", err_get());
	t.run = run, t.in = in;
	/* (what curate before phases kept its token files in) */
	char *tdir = xasprintf("%s/.tmp", run->dir);
	if (run->rank == 0)
		remove_tree(tdir);
	free(tdir);
	if (!par_all_ok(ok)) {
		tok_release(&t);
		return -1;
	}
	struct stats st;
	stats_init(&st);
	struct phase *ph = tokenize_phase1(run, &t, in, &st, &ok);
	int dtype = megatron_dtype_for_vocab(bpe_vocab_size(t.bpe));
	reduce_stats(&st);
	if (par_all_ok(ok))
		ok = tokenize_phase2(run, &t, in, ph, dtype, &st);
	ok = par_all_ok(ok);
	phase_close(ph, ok);
	tok_release(&t);
	stats_release(&st);
	return ok ? 0 : -1;
}

/* The tokenizer file is an input: its checksum joins the fingerprint, so a replaced
 * tokenizer.json at the same path reruns the stage. The datasets the phases add (a group
 * at another FIM rate) are part of the output too; the phases' weights are not. */
static int tokenize_signature(struct stage_run *run, struct buf *sig)
{
	const char *path = config_str(run->cfg, "tokenize.tokenizer");
	char hex[SHA256_HEX] = "";
	if (*path && sha256_file_hex(path, hex) < 0)
		return -1;
	buf_printf(sig, "tokenizer %s\n", hex);
	struct blend_variant *v;
	size_t n;
	blend_variants(run->cfg, &v, &n);
	for (size_t i = 0; i < n; i++)
		buf_printf(sig, "variant %s %.17g\n", v[i].group, v[i].fim_rate);
	blend_variants_free(v, n);
	return 0;
}

static int tokenize_finish(struct stage_run *run)
{
	return blend_write(run->cfg, run->workdir);
}

const struct stage_def stage_tokenize = {
	.name = "tokenize",
	.kind = STAGE_GLOBAL,
	.summary = "BPE-tokenize documents (FIM, EOD) into Megatron .bin/.idx token shards, "
		   "per group",
	.opts = tokenize_opts,
	.version = 1,
	.run = tokenize_run,
	.signature = tokenize_signature,
	.finish = tokenize_finish,
};

/* ---- commands ---- */

const struct cli_opt tokenize_tokenizer_opts[] = {
	{"tokenizer", 't', "FILE", "tokenizer.json or .tiktoken file"},
	{"encoding", 'e', "NAME", "for .tiktoken: cl100k_base, o200k_base, p50k_base, r50k_base"},
	{"time", 0, NULL, "print the encode or decode seconds (no loading, no output) to stderr"},
	{NULL, 0, NULL, NULL},
};

const struct cli_opt tokenize_tokens_opts[] = {
	{"doc", 'd', "N", "the document to decode (0-based)"},
	{"tokenizer", 't', "FILE", "tokenizer to decode with (default: tokenize.tokenizer of -c)"},
	{"config", 'c', "FILE", "the YAML config naming the tokenizer"},
	{NULL, 0, NULL, NULL},
};

static int parse_ids(const char *path, const char *s, size_t n, struct bpe_ids *ids)
{
	size_t i = 0;
	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i == n)
			break;
		uint64_t v = 0;
		size_t st = i;
		while (i < n && s[i] >= '0' && s[i] <= '9' && v <= UINT32_MAX)
			v = v * 10 + (uint64_t)(s[i++] - '0');
		if (i == st || v > UINT32_MAX || (i < n && s[i] != ' ' && s[i] != '\n' &&
						   s[i] != '\t' && s[i] != '\r')) {
			err_set("%s: offset %zu: expected a token id", path, st);
			return -1;
		}
		if (ids->n == ids->cap) {
			ids->cap = ids->cap ? ids->cap * 2 : 1024;
			ids->v = xrealloc(ids->v, ids->cap * sizeof *ids->v);
		}
		ids->v[ids->n++] = (uint32_t)v;
	}
	return 0;
}

static int print_ids(const struct bpe_ids *ids)
{
	struct buf o = BUF_INIT;
	for (size_t i = 0; i < ids->n; i++) {
		buf_printf(&o, i ? " %u" : "%u", ids->v[i]);
		if (o.len > (1u << 16)) {
			fwrite(o.p, 1, o.len, stdout);
			buf_reset(&o);
		}
	}
	buf_putc(&o, '\n');
	fwrite(o.p, 1, o.len, stdout);
	buf_release(&o);
	return ferror(stdout) ? -1 : 0;
}

int tokenize_cmd_tokenizer(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (par_rank() != 0)
		return 0;
	const char *tp = cli_get(cmd, a, "tokenizer");
	if (a->npos != 2 || !tp || (strcmp(a->pos[0], "encode") && strcmp(a->pos[0], "decode"))) {
		fprintf(stderr, "curate tokenizer: expected 'encode|decode -t TOKENIZER FILE'; see "
				"'curate tokenizer --help'\n");
		return 2;
	}
	struct bpe *b = bpe_load(tp, cli_get(cmd, a, "encoding"));
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct bpe_ids ids = {0};
	int rc = !b || read_file(a->pos[1], &in) < 0 ? -1 : 0;
	double t0 = now_seconds(), t1 = t0;
	if (!rc && !strcmp(a->pos[0], "encode")) {
		bpe_encode(b, in.p ? in.p : "", in.len, &ids);
		t1 = now_seconds();
		rc = print_ids(&ids);
	} else if (!rc) {
		rc = parse_ids(a->pos[1], in.p ? in.p : "", in.len, &ids);
		t0 = now_seconds();
		if (!rc)
			rc = bpe_decode(b, ids.v, ids.n, &out);
		t1 = now_seconds();
		if (!rc)
			fwrite(out.p ? out.p : "", 1, out.len, stdout);
	}
	if (rc)
		fprintf(stderr, "curate tokenizer: %s\n", err_get());
	else if (cli_get(cmd, a, "time"))
		fprintf(stderr, "%s_seconds %.4f\n", a->pos[0], t1 - t0);
	bpe_free(b);
	buf_release(&in), buf_release(&out);
	bpe_ids_release(&ids);
	return rc ? 1 : 0;
}

static int tokens_decode(const struct cli_cmd *cmd, struct cli_args *a,
			 struct megatron_reader *r)
{
	const char *tp = cli_get(cmd, a, "tokenizer"), *ds = cli_get(cmd, a, "doc");
	struct config *cfg = NULL;
	if (!tp) {
		size_t nsec;
		const struct config_section *sec = stage_config_sections(&nsec);
		cfg = config_load(cli_get(cmd, a, "config"), sec, nsec, NULL, 0);
		tp = cfg ? config_str(cfg, "tokenize.tokenizer") : NULL;
	}
	char *end = NULL;
	/* strtoull takes "-1" as 2^64-1: a document number is digits only */
	unsigned long long n = ds && *ds >= '0' && *ds <= '9' ? strtoull(ds, &end, 10) : 0;
	int rc = 0;
	if (!ds || !end || *end || !tp || !*tp) {
		err_set("decode needs --doc N (a document number from 0) and a tokenizer (-t FILE, "
			"or -c CONFIG)");
		rc = -1;
	} else if (n >= megatron_docs(r)) {
		err_set("--doc %llu: the dataset has %" PRIu64 " documents (0..%" PRIu64 ")", n,
			megatron_docs(r), megatron_docs(r) ? megatron_docs(r) - 1 : 0);
		rc = -1;
	}
	struct bpe *b = rc ? NULL : bpe_load(tp, cfg ? config_str(cfg, "tokenize.encoding") : NULL);
	struct bpe_ids ids = {0};
	struct buf out = BUF_INIT;
	if (!rc && (!b || megatron_read_doc(r, n, &ids) < 0 || bpe_decode(b, ids.v, ids.n, &out) < 0))
		rc = -1;
	if (!rc)
		fwrite(out.p ? out.p : "", 1, out.len, stdout);
	bpe_free(b);
	bpe_ids_release(&ids);
	buf_release(&out);
	config_free(cfg);
	return rc;
}

int tokenize_cmd_tokens(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (par_rank() != 0)
		return 0;
	if (a->npos != 2 || (strcmp(a->pos[0], "info") && strcmp(a->pos[0], "decode"))) {
		fprintf(stderr, "curate tokens: expected 'info PREFIX|DIR' or 'decode PREFIX --doc "
				"N'; see 'curate tokens --help'\n");
		return 2;
	}
	struct stat st;
	if (!strcmp(a->pos[0], "info") && !stat(a->pos[1], &st) && S_ISDIR(st.st_mode)) {
		int rc = blend_tokens_info_dir(a->pos[1]);
		if (rc)
			fprintf(stderr, "curate tokens: %s\n", err_get());
		return rc ? 1 : 0;
	}
	/* PREFIX.bin or PREFIX.idx name the same dataset as PREFIX */
	char *prefix = xstrdup(a->pos[1]);
	if (str_ends_with(prefix, ".bin") || str_ends_with(prefix, ".idx"))
		prefix[strlen(prefix) - 4] = 0;
	struct megatron_reader *r = megatron_open(prefix);
	free(prefix);
	int rc = r ? 0 : -1;
	if (r && !strcmp(a->pos[0], "info"))
		printf("documents %" PRIu64 "\ntokens %" PRIu64 "\ndtype %s\n", megatron_docs(r),
		       megatron_tokens(r), megatron_dtype(r) == MEGATRON_UINT16 ? "uint16" : "int32");
	else if (r)
		rc = tokens_decode(cmd, a, r);
	if (rc)
		fprintf(stderr, "curate tokens: %s\n", err_get());
	megatron_close(r);
	return rc ? 1 : 0;
}

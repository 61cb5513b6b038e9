/* oracle: the labelling half of the model-centric loop (docs/oracle.md). A side stage: it
 * reads the documents of its input stage and writes label shards, never documents, so the
 * stage after it in `stages` reads the same input it did.
 *
 * 1. Sample. Every rank scans its share of the input shards and keeps, per stratum
 *    (metadata.lang for code, metadata.category for web pages), the documents with the
 *    smallest seeded hashes of their ids, at most the cap; rank 0 merges these and takes the
 *    `sample` smallest hashes overall under the cap. The sample depends on ids and the seed
 *    only, never on the rank count or the shard layout's assignment to ranks.
 * 2. Label. The sample, in input order, is cut into `shards` contiguous runs; each rank
 *    labels the runs it is given: renders prompts, takes what the cache holds, asks the
 *    engine the rest, parses ratings and writes a label shard (answers that carry no usable
 *    rating go to rejected/ with their reason).
 * 3. Report. Rank 0 reads the label shards back: the rating histograms of stats.json and,
 *    when asked, the fastText training files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "oracle.h"
#include "par.h"
#include "schedule.h"
#include "stages.h"

static const struct opt_def oracle_opts[] = {
	{"input", OPT_STR, "", 0, 0, NULL,
	 "The stage whose documents are sampled (\"\": the stage before oracle in `stages`). "
	 "The oracle writes labels, not documents: the stage after it reads this same input."},
	{"template", OPT_STR, "code-quality", 0, 0, NULL,
	 "The prompt: a shipped template (code-quality, web-relevance, web-quality; `curate "
	 "oracle-template NAME` prints one) or the path of a template file with {content} and "
	 "optionally {language}, {url}, {category}."},
	{"kind", OPT_ENUM, "auto", 0, 0, "auto|code|web",
	 "Which documents are sampled: code (every source but web, stratified by metadata.lang) "
	 "or web (source web, stratified by metadata.category); auto: web for templates named "
	 "web-*."},
	{"sample", OPT_INT, "1000", 1, 1e9, NULL, "Documents to rate in all."},
	{"per_stratum", OPT_INT, "0", 0, 1e9, NULL,
	 "At most this many documents of one language or category (0: no cap)."},
	{"seed", OPT_INT, "0", 0, 9e15, NULL, "Seed of the sample (a new seed is a new sample)."},
	{"max_chars", OPT_SIZE, "12KiB", 64, 1e9, NULL,
	 "Content longer than this many bytes is cut (at a UTF-8 boundary) and marked."},
	{"truncation_marker", OPT_STR, "\n[... truncated]", 0, 0, NULL,
	 "Put after cut content."},
	{"shards", OPT_INT, "4", 1, 100000, NULL, "Label shards."},
	{"engine", OPT_ENUM, "http", 0, 0, "http|builtin",
	 "http: an OpenAI-compatible server (vLLM, SGLang, llama.cpp, TGI, OpenAI); builtin: "
	 "curate's own forward pass of a Llama-architecture causal LM, reading the digit "
	 "tokens' probabilities."},
	{"model", OPT_STR, "", 0, 0, NULL,
	 "http: the model name the server serves; builtin: the checkpoint directory "
	 "(config.json, safetensors, tokenizer.json)."},
	{"base_url", OPT_LIST, "[http://127.0.0.1:8000/v1]", 0, 0, NULL,
	 "http: the servers' OpenAI API roots; rank r uses entry r modulo their count."},
	{"api_key_env", OPT_STR, "", 0, 0, NULL,
	 "http: the NAME of the environment variable holding the API key (sent as a Bearer "
	 "token; the key itself never goes in a config, log or manifest)."},
	{"temperature", OPT_FLOAT, "0", 0, 2, NULL, "http: sampling temperature."},
	{"max_tokens", OPT_INT, "512", 1, 1e6, NULL, "http: the longest answer, in tokens."},
	{"request_seed", OPT_INT, "-1", -1, 9e15, NULL, "http: `seed` sent to the server (-1: none)."},
	{"logprobs", OPT_BOOL, "false", 0, 0, NULL,
	 "http: ask for top_logprobs and record the probability-weighted rating over the digit "
	 "tokens as rating_expected."},
	{"top_logprobs", OPT_INT, "20", 1, 20, NULL, "http: alternatives per token with logprobs."},
	{"concurrency", OPT_INT, "32", 1, 4096, NULL, "http: requests in flight per rank."},
	{"timeout", OPT_FLOAT, "600", 0.1, 86400, NULL, "http: seconds one request may take."},
	{"retries", OPT_INT, "8", 0, 1000, NULL,
	 "http: retries of a request on connection errors, timeouts, 429 and 5xx."},
	{"backoff", OPT_FLOAT, "1", 0, 3600, NULL,
	 "http: seconds before the first retry, doubling after (with jitter)."},
	{"backoff_max", OPT_FLOAT, "60", 0, 86400, NULL,
	 "http: the cap of the doubling (a server's Retry-After is honoured)."},
	{"chat_template", OPT_STR, "chatml", 0, 0, NULL,
	 "builtin: chatml, llama3, or a text with a {prompt} slot; the assistant turn is opened "
	 "on \"Rating: [[\"."},
	{"device", OPT_ENUM, "auto", 0, 0, "auto|cpu|cuda", "builtin: where the model runs."},
	{"threads", OPT_INT, "0", 0, 4096, NULL, "builtin: CPU threads (0: all)."},
	{"context", OPT_INT, "4096", 16, 1e7, NULL,
	 "builtin: the longest prompt in tokens; a longer one is counted as truncated."},
	{"cache_dir", OPT_STR, "", 0, 0, NULL,
	 "The answer cache (SQLite, one file per rank); \"\": <workdir>/oracle-cache. Share it "
	 "between workdirs to never ask one question twice."},
	{"fasttext", OPT_BOOL, "false", 0, 0, NULL,
	 "Write fasttext.train.txt and fasttext.valid.txt (70/30) from the labels, "
	 "__label__code at or above fasttext_threshold, __label__other below."},
	{"fasttext_threshold", OPT_FLOAT, "5", 0, 10, NULL, "The rating that makes a page code."},
	{"fasttext_train", OPT_FLOAT, "0.7", 0, 1, NULL, "The training share of the split."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const char *const oracle_runtime[] = {
	"base_url", "api_key_env", "concurrency", "timeout", "retries", "backoff",
	"backoff_max", "device", "threads", "cache_dir", NULL,
};

/* ---- sampling ---- */

struct cand {
	uint64_t key, ord; /* hash of the id; the record's place in its shard */
	uint32_t shard, stratum;
};

struct strata {
	char **names; /* in first-seen order; index = stratum id */
	uint64_t *population;
	struct cand **c;
	size_t *n, *cap;
	size_t count;
};

static uint32_t strata_id(struct strata *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++) /* languages and categories: tens, not millions */
		if (!strcmp(s->names[i], name))
			return (uint32_t)i;
	size_t i = s->count++;
	s->names = xrealloc(s->names, s->count * sizeof *s->names);
	s->population = xrealloc(s->population, s->count * sizeof *s->population);
	s->c = xrealloc(s->c, s->count * sizeof *s->c);
	s->n = xrealloc(s->n, s->count * sizeof *s->n);
	s->cap = xrealloc(s->cap, s->count * sizeof *s->cap);
	s->names[i] = xstrdup(name);
	s->population[i] = 0;
	s->c[i] = NULL, s->n[i] = s->cap[i] = 0;
	return (uint32_t)i;
}

static void strata_free(struct strata *s)
{
	for (size_t i = 0; i < s->count; i++)
		free(s->names[i]), free(s->c[i]);
	free(s->names), free(s->population), free(s->c), free(s->n), free(s->cap);
	memset(s, 0, sizeof *s);
}

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

static int cand_pos_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->ord < y->ord ? -1 : x->ord > y->ord;
}

/* Keeps the `keep` smallest of stratum i's candidates. */
static void strata_prune(struct strata *s, size_t i, size_t keep)
{
	qsort(s->c[i], s->n[i], sizeof **s->c, cand_cmp);
	if (s->n[i] > keep)
		s->n[i] = keep;
}

static void strata_add(struct strata *s, uint32_t i, struct cand c, size_t keep)
{
	if (s->n[i] == s->cap[i]) {
		s->cap[i] = s->cap[i] ? 2 * s->cap[i] : 64;
		s->c[i] = xrealloc(s->c[i], s->cap[i] * sizeof **s->c);
	}
	s->c[i][s->n[i]++] = c;
	if (s->n[i] >= 2 * keep && s->n[i] >= 64)
		strata_prune(s, i, keep);
}

struct oracle {
	struct oracle_template tpl;
	bool web;
	uint64_t sample, keep, seed;
	uint32_t nshards;
};

/* Whether d is sampled, and its stratum's name. */
static const char *stratum_of(const struct oracle *o, const struct doc *d)
{
	bool is_web = d->source.p && !strcmp(d->source.p, "web");
	if (is_web != o->web)
		return NULL;
	const char *v = json_string_value(json_object_get(d->meta, o->web ? "category" : "lang"));
	return v && *v ? v : o->web ? "uncategorized" : "unknown";
}

struct scan {
	const struct oracle *o;
	struct strata *s;
};

/* One document of the input: a candidate of its stratum, when sampled at all. */
static int scan_one(const struct doc *d, const char *line, size_t len, uint32_t shard,
		    uint64_t ord, void *ud)
{
	struct scan *sc = ud;
	const char *name = stratum_of(sc->o, d);
	if (!name)
		return 0;
	uint32_t k = strata_id(sc->s, name);
	sc->s->population[k]++;
	struct cand c = {hash64_seeded(sc->o->seed, d->id.p, d->id.len), ord, shard, k};
	strata_add(sc->s, k, c, sc->o->keep);
	return 0;
}

/* This rank's strata as bytes: per stratum [name\0][population u64][n u64][cands]. */
static void strata_pack(struct strata *s, size_t keep, struct buf *b)
{
	for (size_t i = 0; i < s->count; i++) {
		strata_prune(s, i, keep);
		buf_append(b, s->names[i], strlen(s->names[i]) + 1);
		uint64_t hdr[2] = {s->population[i], s->n[i]};
		buf_append(b, hdr, sizeof hdr);
		buf_append(b, s->c[i], s->n[i] * sizeof **s->c);
	}
}

/* Rank 0: every rank's strata merged, with stratum ids of the merged table. */
static void strata_unpack(struct strata *s, const char *p, size_t len, size_t keep)
{
	const char *end = p + len;
	while (p < end) {
		const char *name = p;
		p += strlen(name) + 1;
		uint64_t hdr[2];
		memcpy(hdr, p, sizeof hdr);
		p += sizeof hdr;
		uint32_t k = strata_id(s, name);
		s->population[k] += hdr[0];
		for (uint64_t j = 0; j < hdr[1]; j++, p += sizeof(struct cand)) {
			struct cand c;
			memcpy(&c, p, sizeof c);
			c.stratum = k;
			strata_add(s, k, c, keep);
		}
	}
}

static int name_order(const void *a, const void *b, void *names)
{
	char **n = names;
	return strcmp(n[*(const uint32_t *)a], n[*(const uint32_t *)b]);
}

/* Rank 0: the sample, in input order, and the sample's stats object. The strata get ids in
 * name order so the result does not depend on which rank saw a stratum first. */
static struct cand *choose(struct strata *s, const struct oracle *o, size_t *n, json_t **stats,
			   char ***names_out, size_t *nnames)
{
	uint32_t *order = xmalloc((s->count + 1) * sizeof *order), *rank = xmalloc((s->count + 1) * sizeof *rank);
	for (uint32_t i = 0; i < s->count; i++)
		order[i] = i;
	qsort_r(order, s->count, sizeof *order, name_order, s->names);
	for (uint32_t i = 0; i < s->count; i++)
		rank[order[i]] = i;
	size_t total = 0;
	for (size_t i = 0; i < s->count; i++) {
		strata_prune(s, i, o->keep);
		total += s->n[i];
	}
	struct cand *all = xmalloc((total + 1) * sizeof *all);
	size_t m = 0;
	for (size_t i = 0; i < s->count; i++)
		for (size_t j = 0; j < s->n[i]; j++) {
			all[m] = s->c[i][j];
			all[m++].stratum = rank[i];
		}
	qsort(all, m, sizeof *all, cand_cmp);
	if (m > o->sample)
		m = o->sample;
	qsort(all, m, sizeof *all, cand_pos_cmp);
	json_t *pop = json_object(), *got = json_object();
	uint64_t *per = xcalloc(s->count + 1, sizeof *per);
	for (size_t i = 0; i < m; i++)
		per[all[i].stratum]++;
	char **names = xcalloc(s->count + 1, sizeof *names);
	for (uint32_t i = 0; i < s->count; i++) {
		uint32_t k = order[i];
		names[i] = xstrdup(s->names[k]);
		json_object_set_new(pop, s->names[k], json_integer((json_int_t)s->population[k]));
		json_object_set_new(got, s->names[k], json_integer((json_int_t)per[i]));
	}
	*stats = json_pack("{s:I,s:o,s:o}", "sampled", (json_int_t)m, "population", pop,
			   "per_stratum", got);
	*names_out = names;
	*nnames = s->count;
	free(per), free(order), free(rank);
	*n = m;
	return all;
}

/* ---- labelling ---- */

struct labeller {
	struct stage_run *run;
	const struct oracle *o;
	struct oracle_engine *engine;
	struct oracle_cache *cache;
	char *const *names; /* strata, by id */
	size_t max_bytes;
	const char *marker;
	unsigned char model_id[SHA256_LEN]; /* of the engine's identity and the template */
};

struct pending {
	struct doc d;
	struct buf prompt;
	struct oracle_item it;
	int cached;
	struct pending *same; /* an earlier item of this shard with the same key */
};

/* The cache key: the engine's identity (model, parameters), the template and the prompt. */
static void item_key(const struct labeller *L, struct pending *p)
{
	sha256_ctx *c = sha256_new();
	sha256_update(c, L->model_id, SHA256_LEN);
	sha256_update(c, p->prompt.p, p->prompt.len);
	char hex[SHA256_HEX];
	sha256_final_hex(c, hex);
	for (int i = 0; i < SHA256_LEN; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		p->it.key[i] = (unsigned char)v;
	}
}

static const char *meta_str(const struct doc *d, const char *k)
{
	const char *v = json_string_value(json_object_get(d->meta, k));
	return v ? v : "";
}

/* Reads the sampled records of sel[0..n) (in input order) from the input shards. */
static int read_sampled(struct labeller *L, const struct task_list *in, const struct cand *sel,
			size_t n, struct pending *ps)
{
	int verify = config_bool(L->run->cfg, "verify_inputs");
	size_t k = 0;
	while (k < n) {
		const struct task *t = &in->v[sel[k].shard];
		struct shard_reader *r = shard_reader_open(t->arg.p, verify ? t->input_sha256 : NULL);
		if (!r)
			return -1;
		const char *line;
		size_t len;
		int got = 0;
		uint32_t shard = sel[k].shard;
		while (k < n && sel[k].shard == shard && (got = shard_reader_next_line(r, &line, &len)) == 1) {
			if (shard_reader_records(r) - 1 != sel[k].ord)
				continue;
			struct pending *p = &ps[k];
			if (doc_parse(&p->d, line, len) < 0) {
				err_set("%s: record %llu: %s", t->arg.p,
					(unsigned long long)sel[k].ord + 1, err_get());
				got = -1;
				break;
			}
			k++;
		}
		shard_reader_close(r);
		if (got < 0)
			return -1;
		if (k < n && sel[k].shard == shard) {
			err_set("%s: ended before record %llu (changed since it was planned?)", t->arg.p,
				(unsigned long long)sel[k].ord + 1);
			return -1;
		}
	}
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct pending *x = *(struct pending *const *)a, *y = *(struct pending *const *)b;
	int c = memcmp(x->it.key, y->it.key, SHA256_LEN);
	return c ? c : (x < y ? -1 : x > y);
}

static void copy_answer(struct oracle_answer *to, const struct oracle_answer *from)
{
	*to = *from;
	to->content = from->content ? xstrdup(from->content) : NULL;
	to->finish = from->finish ? xstrdup(from->finish) : NULL;
	to->model = from->model ? xstrdup(from->model) : NULL;
}

/* One label record: the document (id, text, source, metadata) and, beside it, the score,
 * the rating, the status and the oracle's details. */
static void label_record(const struct labeller *L, struct pending *p, const char *stratum,
			 enum oracle_status st, double rating, size_t explain_len,
			 struct buf *line)
{
	const struct oracle_answer *a = &p->it.a;
	json_t *o = json_object();
	json_object_set_new(o, "engine", json_string(L->engine->name));
	json_object_set_new(o, "model", json_string(config_str(L->run->cfg, "oracle.model")));
	if (a->model)
		json_object_set_new(o, "served_model", json_string(a->model));
	json_object_set_new(o, "template", json_string(L->o->tpl.name));
	json_object_set_new(o, "template_sha256", json_string(L->o->tpl.sha256));
	json_object_set_new(o, "stratum", json_string(stratum));
	unsigned char d[SHA256_LEN];
	char hex[SHA256_HEX];
	sha256(p->prompt.p, p->prompt.len, d);
	sha256_hexstr(d, hex);
	json_object_set_new(o, "prompt_sha256", json_string(hex)); /* to match a server's log */
	if (a->content) {
		size_t n = st == ORACLE_OK || st == ORACLE_OUT_OF_RANGE ? explain_len
									 : strlen(a->content);
		json_object_set_new(o, st == ORACLE_OK ? "explanation" : "answer",
				    json_stringn(a->content, n));
	}
	if (a->finish)
		json_object_set_new(o, "finish_reason", json_string(a->finish));
	json_object_set_new(o, "prompt_tokens", json_integer(a->prompt_tokens));
	json_object_set_new(o, "completion_tokens", json_integer(a->completion_tokens));
	if (a->expected >= 0) {
		json_object_set_new(o, "rating_expected", json_real(a->expected));
		json_t *pr = json_array();
		for (int i = 0; i <= 10; i++)
			json_array_append_new(pr, json_real(a->probs[i]));
		json_object_set_new(o, "rating_probs", pr);
	}
	if (a->mode >= 0) {
		json_object_set_new(o, "rating_mode", json_integer(a->mode));
		json_object_set_new(o, "rating_entropy", json_real(a->entropy));
	}
	json_t *extra = json_object();
	json_object_set_new(extra, "score", st == ORACLE_OK ? json_real(rating / 10) : json_null());
	json_object_set_new(extra, "rating", st == ORACLE_OK || st == ORACLE_OUT_OF_RANGE
						     ? json_real(rating)
						     : json_null());
	json_object_set_new(extra, "status", json_string(oracle_status_names[st]));
	json_object_set_new(extra, "oracle", o);
	json_t *keep = p->d.extra;
	p->d.extra = extra;
	buf_reset(line);
	doc_serialize(&p->d, line);
	p->d.extra = keep;
	json_decref(extra);
}

/* The rating of an answered item. */
static enum oracle_status judge(const struct oracle_item *it, double *rating, size_t *explain)
{
	*rating = -1, *explain = 0;
	if (it->failed != ORACLE_OK)
		return it->failed;
	const struct oracle_answer *a = &it->a;
	if (!a->content) { /* builtin: the digit distribution is the answer */
		if (a->expected < 0)
			return a->finish && !strcmp(a->finish, "length") ? ORACLE_TRUNCATED
									 : ORACLE_BAD_RESPONSE;
		*rating = a->expected;
		return ORACLE_OK;
	}
	return oracle_parse_rating(a->content, strlen(a->content), a->finish, rating, explain);
}

/* Label shard j: sel[0..n) of the sample. 0, -1, or -2 when the engine failed (a refusing
 * or vanished server), which stops the rank's other shards too. */
static int label_shard(struct labeller *L, const struct task_list *in, uint32_t j,
		       const struct cand *sel, size_t n)
{
	double t0 = now_seconds();
	struct stage_run *run = L->run;
	int zl = (int)config_int(run->cfg, "zstd_level");
	struct pending *ps = xcalloc(n + 1, sizeof *ps);
	for (size_t i = 0; i < n; i++)
		doc_init(&ps[i].d), oracle_answer_release(&ps[i].it.a);
	struct stats st;
	stats_init(&st);
	int rc = read_sampled(L, in, sel, n, ps);
	/* prompts and keys; the cache first */
	struct oracle_item **ask = xcalloc(n + 1, sizeof *ask);
	struct pending **by_key = xcalloc(n + 1, sizeof *by_key);
	size_t nask = 0, ndup = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct pending *p = &ps[i];
		struct oracle_slots sl = {meta_str(&p->d, "lang"), meta_str(&p->d, "url"),
					  meta_str(&p->d, "category"), p->d.text.p ? p->d.text.p : "",
					  p->d.text.len};
		if (!*sl.language)
			sl.language = "an unknown language";
		oracle_render(&L->o->tpl, &sl, L->max_bytes, L->marker, &p->prompt);
		p->it.prompt = p->prompt.p;
		p->it.prompt_len = p->prompt.len;
		item_key(L, p);
		by_key[i] = p;
	}
	qsort(by_key, rc ? 0 : n, sizeof *by_key, key_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		struct pending *p = by_key[i];
		if (i && !memcmp(by_key[i - 1]->it.key, p->it.key, SHA256_LEN)) {
			p->same = by_key[i - 1]->same ? by_key[i - 1]->same : by_key[i - 1];
			ndup++;
			stage_progress_add(run, 1, p->prompt.len);
			continue;
		}
		int got = oracle_cache_get(L->cache, p->it.key, &p->it.a);
		if (got < 0)
			rc = -1;
		else if (got)
			p->cached = 1, stage_progress_add(run, 1, p->prompt.len);
		else
			ask[nask++] = &p->it;
	}
	if (!rc) {
		stats_count(&st, "asked", nask);
		stats_count(&st, "cache_hits", n - nask - ndup);
		stats_count(&st, "same_prompt", ndup);
		L->engine->progress = run->progress;
		if (nask && L->engine->answer(L->engine, ask, nask, L->cache, &st) < 0)
			rc = -2; /* the engine's error: the rank's other shards would meet it too */
	}
	/* the records, in input order */
	char *path = stage_shard_path(run->dir, j);
	char *rdir = xasprintf("%s/rejected", run->dir);
	char *rpath = stage_shard_path(rdir, j);
	struct shard_writer *w = rc ? NULL : shard_writer_open(path, zl);
	struct shard_writer *rw = w ? shard_writer_open(rpath, zl) : NULL;
	if (!rw && !rc)
		rc = -1;
	struct buf line = BUF_INIT;
	for (size_t i = 0; i < n && !rc; i++) {
		struct pending *p = &ps[i];
		if (p->same)
			copy_answer(&p->it.a, &p->same->it.a), p->it.failed = p->same->it.failed;
		double rating;
		size_t explain;
		enum oracle_status s = judge(&p->it, &rating, &explain);
		label_record(L, p, L->names[sel[i].stratum], s, rating, explain, &line);
		st.docs_in++, st.bytes_in += p->d.text.len;
		if (s == ORACLE_OK) {
			st.docs_out++, st.bytes_out += p->d.text.len;
			rc = shard_writer_put_line(w, line.p, line.len);
		} else {
			stats_drop(&st, oracle_status_names[s], p->d.text.len);
			rc = shard_writer_put_line(rw, line.p, line.len);
		}
	}
	buf_release(&line);
	struct shard_info info, rinfo;
	if (rc < 0) {
		shard_writer_abort(rw);
		shard_writer_abort(w);
	} else if (shard_writer_close(rw, &rinfo) < 0) {
		rc = -1;
		shard_writer_abort(w);
	} else if (shard_writer_close(w, &info) < 0 ||
		   stage_write_part(run, j, &info, &rinfo, &st, now_seconds() - t0) < 0) {
		rc = -1;
	}
	if (rc < 0)
		log_error("stage oracle: label shard %u failed: %s", j, err_get());
	int engine_failed = rc == -2;
	for (size_t i = 0; i < n; i++) {
		doc_release(&ps[i].d);
		buf_release(&ps[i].prompt);
		oracle_answer_release(&ps[i].it.a);
	}
	stats_release(&st);
	free(ps), free(ask), free(by_key);
	free(path), free(rpath), free(rdir);
	return engine_failed ? -2 : rc;
}

/* ---- after the labels: histograms and the fastText files (rank 0) ---- */

struct hist {
	char *name;
	uint64_t n[11];
};

static void hist_add(struct hist **h, size_t *nh, const char *name, double rating)
{
	size_t i = 0;
	while (i < *nh && strcmp((*h)[i].name, name))
		i++;
	if (i == *nh) {
		*h = xrealloc(*h, (*nh + 1) * sizeof **h);
		memset(&(*h)[i], 0, sizeof **h);
		(*h)[i].name = xstrdup(name);
		(*nh)++;
	}
	int b = (int)lround(rating);
	(*h)[i].n[b < 0 ? 0 : b > 10 ? 10 : b]++;
}

static int hist_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hist *)a)->name, ((const struct hist *)b)->name);
}

static json_t *hist_json(struct hist *h, size_t nh)
{
	if (nh)
		qsort(h, nh, sizeof *h, hist_cmp);
	json_t *o = json_object();
	for (size_t i = 0; i < nh; i++) {
		json_t *a = json_array();
		for (int b = 0; b <= 10; b++)
			json_array_append_new(a, json_integer((json_int_t)h[i].n[b]));
		json_object_set_new(o, h[i].name, a);
		free(h[i].name);
	}
	free(h);
	return o;
}

/* One line of fastText input: the label, then the text with every run of whitespace made a
 * single space. */
static void fasttext_line(struct buf *b, const char *label, const struct doc *d)
{
	buf_printf(b, "%s", label);
	int space = 1;
	for (size_t i = 0; i < d->text.len; i++) {
		char c = d->text.p[i];
		if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || !c) {
			space = 1;
			continue;
		}
		if (space)
			buf_putc(b, ' ');
		space = 0;
		buf_putc(b, c);
	}
	buf_putc(b, '\n');
}

static int report(struct stage_run *run, const struct oracle *o)
{
	const char *field = o->web ? "category" : "lang";
	struct hist *h = NULL;
	size_t nh = 0;
	struct buf train = BUF_INIT, valid = BUF_INIT;
	int ft = config_bool(run->cfg, "oracle.fasttext");
	double thr = config_float(run->cfg, "oracle.fasttext_threshold");
	double share = config_float(run->cfg, "oracle.fasttext_train");
	uint64_t ntrain = 0, nvalid = 0, ncode = 0;
	struct doc d;
	doc_init(&d);
	int rc = 0;
	for (uint32_t j = 0; j < o->nshards && !rc; j++) {
		char *path = stage_shard_path(run->dir, j);
		struct shard_reader *r = shard_reader_open(path, NULL);
		int got = r ? 0 : -1;
		while (r && (got = shard_reader_next(r, &d)) == 1) {
			double rating = json_number_value(json_object_get(d.extra, "rating"));
			const char *name = json_string_value(json_object_get(d.meta, field));
			hist_add(&h, &nh, name && *name ? name : o->web ? "uncategorized" : "unknown",
				 rating);
			if (!ft)
				continue;
			int code = rating >= thr;
			ncode += code;
			/* the split by a hash of the id: the same for any rank count */
			uint64_t k = hash64_seeded(o->seed ^ 0x5eed, d.id.p, d.id.len);
			int is_train = (double)(k >> 11) / 9007199254740992.0 < share;
			fasttext_line(is_train ? &train : &valid, code ? "__label__code" : "__label__other", &d);
			is_train ? ntrain++ : nvalid++;
		}
		rc = got < 0 ? -1 : 0;
		shard_reader_close(r);
		free(path);
	}
	doc_release(&d);
	stage_stats_object(run, o->web ? "ratings_by_category" : "ratings_by_lang",
			   hist_json(h, nh));
	if (!ft) { /* a former run's files would say what this one did not */
		char *tp = xasprintf("%s/fasttext.train.txt", run->dir);
		char *vp = xasprintf("%s/fasttext.valid.txt", run->dir);
		unlink(tp), unlink(vp);
		free(tp), free(vp);
	}
	if (ft && !rc) {
		char *tp = xasprintf("%s/fasttext.train.txt", run->dir);
		char *vp = xasprintf("%s/fasttext.valid.txt", run->dir);
		if (write_file_atomic(tp, train.p ? train.p : "", train.len) < 0 ||
		    write_file_atomic(vp, valid.p ? valid.p : "", valid.len) < 0)
			rc = -1;
		char th[SHA256_HEX] = "", vh[SHA256_HEX] = "";
		if (!rc && (sha256_file_hex(tp, th) < 0 || sha256_file_hex(vp, vh) < 0))
			rc = -1;
		stage_stats_object(run, "fasttext",
				   json_pack("{s:I,s:I,s:I,s:f,s:s,s:s}", "train", (json_int_t)ntrain,
					     "valid", (json_int_t)nvalid, "code", (json_int_t)ncode,
					     "threshold", thr, "train_sha256", th, "valid_sha256", vh));
		free(tp), free(vp);
	}
	buf_release(&train), buf_release(&valid);
	return rc;
}

/* ---- the stage ---- */

static int oracle_signature(struct stage_run *run, struct buf *sig)
{
	struct oracle_template t;
	if (oracle_template_load(config_str(run->cfg, "oracle.template"),
				 config_str(run->cfg, "oracle.kind"), &t) < 0)
		return -1;
	buf_printf(sig, "template %s %s\n", t.name, t.sha256);
	oracle_template_release(&t);
	if (!strcmp(config_str(run->cfg, "oracle.engine"), "builtin")) {
		/* the checkpoint by its config and file sizes: hashing gigabytes of weights at
		 * every plan would cost more than it tells */
		char *cp = xasprintf("%s/config.json", config_str(run->cfg, "oracle.model"));
		char h[SHA256_HEX];
		int rc = sha256_file_hex(cp, h);
		if (rc == 0)
			buf_printf(sig, "model config %s\n", h);
		free(cp);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int oracle_run(struct stage_run *run, const struct task_list *in)
{
	const struct config *cfg = run->cfg;
	struct oracle o = {0};
	o.sample = (uint64_t)config_int(cfg, "oracle.sample");
	o.keep = (uint64_t)config_int(cfg, "oracle.per_stratum");
	if (!o.keep || o.keep > o.sample)
		o.keep = o.sample;
	o.seed = (uint64_t)config_int(cfg, "oracle.seed");
	o.nshards = (uint32_t)config_int(cfg, "oracle.shards");
	run->out_shards = o.nshards;
	int ok = oracle_template_load(config_str(cfg, "oracle.template"),
				      config_str(cfg, "oracle.kind"), &o.tpl) == 0;
	o.web = o.tpl.web;

	/* 0. the engine and the cache first: a server that is down, a bad key or model, or a
	 * missing checkpoint fails before the corpus is read */
	struct labeller L = {run, &o, NULL, NULL, NULL, config_size(cfg, "oracle.max_chars"),
			     config_str(cfg, "oracle.truncation_marker"), {0}};
	if (ok)
		L.engine = !strcmp(config_str(cfg, "oracle.engine"), "http")
				   ? oracle_http_new(cfg, run->rank)
				   : oracle_builtin_new(cfg, run->rank);
	const char *cdir = config_str(cfg, "oracle.cache_dir");
	char *cache_dir = *cdir ? xstrdup(cdir) : xasprintf("%s/oracle-cache", run->workdir);
	if (L.engine)
		L.cache = oracle_cache_open(cache_dir, run->rank);
	free(cache_dir);
	ok = L.engine && L.cache;
	if (!ok)
		log_error("stage oracle: %s", err_get());
	ok = par_all_ok(ok);
	if (ok && oracle_cache_open_others(L.cache) < 0) {
		log_error("stage oracle: %s", err_get());
		ok = 0;
	}
	if (!par_all_ok(ok)) {
		if (L.engine)
			L.engine->free(L.engine);
		oracle_cache_close(L.cache);
		oracle_template_release(&o.tpl);
		return -1;
	}

	/* 1. sample */
	uint64_t *sizes = xmalloc((in->n + 1) * sizeof *sizes), total = 0;
	int *owner = xmalloc((in->n + 1) * sizeof *owner);
	for (size_t i = 0; i < in->n; i++)
		sizes[i] = in->v[i].size, total += sizes[i];
	schedule_assign(sizes, in->n, run->nranks, owner);
	struct strata s = {0};
	stage_progress_begin(run, total);
	struct scan sc = {&o, &s};
	if (ok && stage_scan_inputs(run, in, owner, scan_one, &sc) < 0)
		ok = 0;
	stage_progress_end(run);
	if (!ok)
		log_error("stage oracle: %s", err_get());
	free(sizes), free(owner);
	struct buf mine = BUF_INIT;
	strata_pack(&s, o.keep, &mine);
	strata_free(&s);
	int len = (int)mine.len, *lens = NULL, *offs = NULL;
	if (mine.len > (size_t)1 << 30)
		DIE("oracle: a rank's sample candidates exceed 1 GiB; lower oracle.sample");
	if (run->rank == 0)
		lens = xcalloc((size_t)run->nranks, sizeof *lens), offs = xcalloc((size_t)run->nranks, sizeof *offs);
	MPI_CHECK(MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD));
	char *all = NULL;
	size_t alln = 0;
	if (run->rank == 0) {
		for (int r = 0; r < run->nranks; r++)
			offs[r] = (int)alln, alln += (size_t)lens[r];
		if (alln > (size_t)1 << 31)
			DIE("oracle: the sample candidates exceed 2 GiB; lower oracle.sample");
		all = xmalloc(alln + 1);
	}
	MPI_CHECK(MPI_Gatherv(mine.p ? mine.p : "", len, MPI_BYTE, all, lens, offs, MPI_BYTE, 0,
			      MPI_COMM_WORLD));
	buf_release(&mine);
	free(lens), free(offs);
	ok = par_all_ok(ok);

	/* the sample and the strata names to every rank */
	struct cand *sel = NULL;
	size_t nsel = 0, nnames = 0;
	char **names = NULL;
	json_t *sample_stats = NULL;
	char *plan = NULL;
	size_t plen = 0;
	struct buf pb = BUF_INIT;
	if (run->rank == 0 && ok) {
		struct strata m = {0};
		strata_unpack(&m, all, alln, o.keep);
		sel = choose(&m, &o, &nsel, &sample_stats, &names, &nnames);
		strata_free(&m);
		uint64_t hdr[2] = {nsel, nnames};
		buf_append(&pb, hdr, sizeof hdr);
		buf_append(&pb, sel, nsel * sizeof *sel);
		for (size_t i = 0; i < nnames; i++)
			buf_append(&pb, names[i], strlen(names[i]) + 1);
		plan = pb.p, plen = pb.len;
	}
	free(all);
	if (!ok) {
		L.engine->free(L.engine);
		oracle_cache_close(L.cache);
		oracle_template_release(&o.tpl);
		return -1;
	}
	par_bcast_bytes(&plan, &plen);
	if (run->rank != 0) {
		uint64_t hdr[2];
		memcpy(hdr, plan, sizeof hdr);
		nsel = hdr[0], nnames = hdr[1];
		sel = xmalloc((nsel + 1) * sizeof *sel);
		memcpy(sel, plan + sizeof hdr, nsel * sizeof *sel);
		const char *p = plan + sizeof hdr + nsel * sizeof *sel;
		names = xcalloc(nnames + 1, sizeof *names);
		for (size_t i = 0; i < nnames; i++, p += strlen(p) + 1)
			names[i] = xstrdup(p);
		free(plan);
	}
	buf_release(&pb);
	if (run->rank == 0) {
		log_info("stage oracle: %zu documents sampled from %zu %s", nsel, nnames,
			 o.web ? "categories" : "languages");
		stage_stats_object(run, "sample", sample_stats);
	}

	/* 2. label: shard j is sel[j*n/S .. (j+1)*n/S) */
	L.names = names;
	if (ok) {
		sha256_ctx *c = sha256_new();
		sha256_update(c, L.engine->identity.p, L.engine->identity.len);
		sha256_update(c, o.tpl.sha256, SHA256_HEX - 1);
		char hex[SHA256_HEX];
		sha256_final_hex(c, hex);
		memcpy(L.model_id, hex, SHA256_LEN); /* the first half of the hex is plenty */
		uint64_t *counts = xmalloc((o.nshards + 1) * sizeof *counts);
		int *own = xmalloc((o.nshards + 1) * sizeof *own);
		for (uint32_t j = 0; j < o.nshards; j++)
			counts[j] = (j + 1) * nsel / o.nshards - j * nsel / o.nshards;
		schedule_assign(counts, o.nshards, run->nranks, own);
		stage_progress_begin(run, 0);
		static const char *const extra[PROGRESS_EXTRA] = {"tokens in", "tokens out",
								  "retries"};
		progress_extra_names(run->progress, extra);
		progress_total_docs(run->progress, nsel);
		for (uint32_t j = 0; j < o.nshards; j++) {
			size_t a = j * nsel / o.nshards, b = (j + 1) * nsel / o.nshards;
			int r = own[j] == run->rank ? label_shard(&L, in, j, sel + a, b - a) : 0;
			if (r < 0)
				ok = 0;
			if (r == -2)
				break;
		}
		stage_progress_end(run);
		free(counts), free(own);
		ok = par_all_ok(ok);
	}
	if (L.engine)
		L.engine->free(L.engine);
	oracle_cache_close(L.cache);

	/* 3. report */
	if (ok && run->rank == 0 && report(run, &o) < 0) {
		log_error("stage oracle: %s", err_get());
		ok = 0;
	}
	ok = par_all_ok(ok);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names), free(sel);
	oracle_template_release(&o.tpl);
	return ok ? 0 : -1;
}

const struct stage_def stage_oracle = {
	.name = "oracle",
	.kind = STAGE_GLOBAL,
	.summary = "rate a stratified sample with an LLM (OpenAI-compatible server or built-in) "
		   "into label shards for `scorer train` and fastText",
	.opts = oracle_opts,
	.version = 1,
	.runtime_opts = oracle_runtime,
	.side = true,
	.signature = oracle_signature,
	.run = oracle_run,
};

/* tokenize: the last stage. Documents become token ids (byte-level BPE, pipeline/bpe.c),
 * optionally rewritten as fill-in-the-middle in SPM order, with an EOD token, written as
 * Megatron indexed datasets under <workdir>/tokenize/ cut at a configured token count.
 * Layout is the same for any rank count: the document order (input order, or a seeded
 * shuffle) and the cut points depend only on the data; see docs/tokenize.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "log.h"
#include "megatron.h"
#include "par.h"
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

struct tok {
	struct bpe *bpe;
	int64_t eod, fim_pre, fim_mid, fim_suf;
	double fim_rate;
	uint64_t seed;
};

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

/* The ids of one document: plain, or `<suf>SUFFIX<pre>PREFIX<mid>MIDDLE`, then EOD. */
static void encode_doc(struct tok *t, const struct doc *d, struct bpe_ids *out)
{
	out->n = 0;
	const char *s = d->text.p ? d->text.p : "";
	size_t n = d->text.len;
	uint64_t st = id_hash(t->seed, d->id.p ? d->id.p : "", d->id.len);
	double u = (double)(rng_next(&st) >> 11) / 9007199254740992.0;
	if (t->fim_rate > 0 && u < t->fim_rate) {
		uint64_t chars = 0;
		for (size_t i = 0; i < n; i++)
			chars += ((unsigned char)s[i] & 0xc0) != 0x80;
		uint64_t a = rng_next(&st) % (chars + 1), b = rng_next(&st) % (chars + 1);
		if (a > b) {
			uint64_t x = a;
			a = b, b = x;
		}
		size_t pa = char_offset(s, n, a), pb = char_offset(s, n, b);
		uint32_t sent[3] = {(uint32_t)t->fim_suf, (uint32_t)t->fim_pre, (uint32_t)t->fim_mid};
		const char *part[3] = {s + pb, s, s + pa};
		size_t plen[3] = {n - pb, pa, pb - pa};
		for (int k = 0; k < 3; k++) {
			if (out->n == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 256;
				out->v = xrealloc(out->v, out->cap * sizeof *out->v);
			}
			out->v[out->n++] = sent[k];
			bpe_encode(t->bpe, part[k], plen[k], out);
		}
	} else {
		bpe_encode(t->bpe, s, n, out);
	}
	if (t->eod >= 0) {
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 256;
			out->v = xrealloc(out->v, out->cap * sizeof *out->v);
		}
		out->v[out->n++] = (uint32_t)t->eod;
	}
}

/* Looks a configured token up; "" means none (-1) where allowed. */
static int token_option(const struct config *cfg, struct bpe *b, const char *key, bool needed,
			int64_t *id)
{
	const char *s = config_str(cfg, key);
	*id = -1;
	if (!*s && !needed)
		return 0;
	*id = bpe_token_id(b, s);
	if (*id < 0) {
		err_set("tokenize.%s: the token '%s' is not in the vocabulary of %s", key + 9, s,
			config_str(cfg, "tokenize.tokenizer"));
		return -1;
	}
	return 0;
}

static int tok_init(struct tok *t, const struct config *cfg)
{
	memset(t, 0, sizeof *t);
	const char *path = config_str(cfg, "tokenize.tokenizer");
	if (!*path) {
		err_set("tokenize.tokenizer is not set: name a tokenizer.json or .tiktoken file");
		return -1;
	}
	t->bpe = bpe_load(path, config_str(cfg, "tokenize.encoding"));
	if (!t->bpe)
		return -1;
	t->fim_rate = config_float(cfg, "tokenize.fim.rate");
	t->seed = (uint64_t)config_int(cfg, "tokenize.seed");
	bool fim = t->fim_rate > 0;
	if (token_option(cfg, t->bpe, "tokenize.eod", false, &t->eod) < 0 ||
	    (fim && (token_option(cfg, t->bpe, "tokenize.fim.prefix", true, &t->fim_pre) < 0 ||
		     token_option(cfg, t->bpe, "tokenize.fim.middle", true, &t->fim_mid) < 0 ||
		     token_option(cfg, t->bpe, "tokenize.fim.suffix", true, &t->fim_suf) < 0))) {
		bpe_free(t->bpe);
		t->bpe = NULL;
		return -1;
	}
	return 0;
}

/* ---- phase 1: tokenize each input shard into .tmp/in-NNNNN.{tok,len} ---- */

struct input_counts {
	uint64_t docs, tokens;
};

static char *tmp_path(const struct stage_run *run, size_t i, const char *ext)
{
	return xasprintf("%s/.tmp/in-%05zu.%s", run->dir, i, ext);
}

struct doc_entry { /* one per document in in-NNNNN.len */
	uint64_t key;    /* shuffle hash */
	uint32_t ntok;
	uint32_t pad;
};

static int tokenize_input(struct stage_run *run, struct tok *t, const struct task *in,
			  size_t idx, struct input_counts *c, struct stats *st)
{
	char *tp = tmp_path(run, idx, "tok"), *lp = tmp_path(run, idx, "len");
	FILE *tf = fopen(tp, "wb"), *lf = fopen(lp, "wb");
	int verify = config_bool(run->cfg, "verify_inputs");
	struct shard_reader *r = tf && lf ? shard_reader_open(in->arg.p, verify ? in->input_sha256 : NULL)
					  : NULL;
	if (!tf || !lf)
		err_set("%s: %s", tf ? lp : tp, strerror(errno));
	struct doc d;
	doc_init(&d);
	struct bpe_ids ids = {0};
	const char *line;
	size_t len;
	int got = r ? 0 : -1;
	uint64_t seed = (uint64_t)config_int(run->cfg, "tokenize.seed");
	while (r && (got = shard_reader_next_line(r, &line, &len)) == 1) {
		st->docs_in++, st->bytes_in += len;
		if (doc_parse(&d, line, len) < 0) {
			log_warn("tokenize: %s: record %llu: %s; skipped", in->arg.p,
				 (unsigned long long)shard_reader_records(r), err_get());
			stats_drop(st, "bad_record", len);
			continue;
		}
		encode_doc(t, &d, &ids);
		if (ids.n > INT32_MAX) {
			log_warn("tokenize: %s: record %llu: %zu tokens exceed Megatron's int32 "
				 "length; skipped", in->arg.p,
				 (unsigned long long)shard_reader_records(r), ids.n);
			stats_drop(st, "too_many_tokens", d.text.len);
			continue;
		}
		struct doc_entry e = {id_hash(seed ^ 0x5348554646ull, d.id.p ? d.id.p : "", d.id.len),
				      (uint32_t)ids.n, 0};
		if (fwrite(ids.v, sizeof *ids.v, ids.n, tf) != ids.n || fwrite(&e, sizeof e, 1, lf) != 1) {
			err_set("%s: write: %s", tp, strerror(errno));
			got = -1;
			break;
		}
		st->docs_out++, st->bytes_out += d.text.len;
		c->docs++, c->tokens += ids.n;
		stage_progress_add(run, 1, len);
	}
	shard_reader_close(r);
	int rc = got < 0 ? -1 : 0;
	if (tf && fclose(tf) != 0)
		rc = -1;
	if (lf && fclose(lf) != 0)
		rc = -1;
	if (rc < 0)
		log_error("stage tokenize: %s", err_get());
	bpe_ids_release(&ids);
	doc_release(&d);
	free(tp), free(lp);
	return rc;
}

/* ---- phase 2: order, cut and write ---- */

/* A document's place: [input u32][record u32][token offset in its input u64][ntok u32]. */
#define LOC_LEN 20

/* Routes every document of this rank's inputs to the rank that holds its range of the
 * global order: key = order key (shuffle hash or input number) + input + record. */
static int route_order(struct stage_run *run, struct xchg *x, const int *owner, size_t nin,
		       bool shuffle)
{
	for (size_t i = 0; i < nin; i++) {
		if (owner[i] != run->rank)
			continue;
		char *lp = tmp_path(run, i, "len");
		FILE *f = fopen(lp, "rb");
		if (!f) {
			err_set("%s: %s", lp, strerror(errno));
			free(lp);
			return -1;
		}
		struct doc_entry e;
		uint64_t off = 0;
		for (uint32_t rec = 0; fread(&e, sizeof e, 1, f) == 1; rec++) {
			unsigned char key[16], loc[LOC_LEN];
			uint64_t order = shuffle ? e.key : (uint64_t)i;
			be_put(key, order, 8);
			be_put(key + 8, i, 4);
			be_put(key + 12, rec, 4);
			be_put(loc, i, 4);
			be_put(loc + 4, rec, 4);
			be_put(loc + 8, off, 8);
			be_put(loc + 16, e.ntok, 4);
			off += e.ntok;
			/* range placement keeps the global order: rank r holds the r-th slice */
			int dest = shuffle ? (int)(((e.key >> 32) * (uint64_t)run->nranks) >> 32)
					   : (int)((uint64_t)i * (uint64_t)run->nranks / nin);
			if (xchg_put(x, dest, key, sizeof key, loc, sizeof loc) < 0) {
				fclose(f), free(lp);
				return -1;
			}
		}
		fclose(f);
		free(lp);
	}
	return 0;
}

/* Reads this rank's ordered slice, finds each document's global token offset and sends it
 * to the owner of its shard: key [shard u32][global offset u64], value the location. */
static int route_shards(struct stage_run *run, struct xchg *in, struct xchg *out,
			uint64_t shard_tokens, unsigned char *used, uint64_t nshards)
{
	const void *k, *v;
	size_t kl, vl;
	uint64_t mine = 0;
	/* first pass: this rank's token total, for the exclusive prefix over ranks */
	struct buf locs = BUF_INIT;
	int got;
	while ((got = xchg_next(in, &k, &kl, &v, &vl)) == 1) {
		buf_append(&locs, v, vl);
		mine += be_get((const unsigned char *)v + 16, 4);
	}
	if (got < 0) {
		buf_release(&locs);
		return -1;
	}
	uint64_t start = 0;
	MPI_CHECK(MPI_Exscan(&mine, &start, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	if (run->rank == 0)
		start = 0;
	int rc = 0;
	for (size_t p = 0; p + LOC_LEN <= locs.len && !rc; p += LOC_LEN) {
		const unsigned char *loc = (const unsigned char *)locs.p + p;
		uint64_t s = start / shard_tokens;
		unsigned char key[12];
		be_put(key, s, 4);
		be_put(key + 4, start, 8);
		if (s < nshards)
			used[s] = 1;
		rc = xchg_put(out, (int)(s % (uint64_t)run->nranks), key, sizeof key, loc, LOC_LEN);
		start += be_get(loc + 16, 4);
	}
	buf_release(&locs);
	return rc;
}

struct token_file {
	int fd;
	size_t idx;
};

/* Copies document tokens from the per-input files into one Megatron shard. */
static int write_shard(struct stage_run *run, uint32_t out_index, int dtype, struct xchg *x,
		       int *have, const void **k, const void **v, size_t *kl, size_t *vl,
		       uint32_t raw_shard, struct token_file *tf, size_t nin, const struct stats *add)
{
	double t0 = now_seconds();
	char *prefix = xasprintf("%s/part-%05u", run->dir, out_index);
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
			char *tp = tmp_path(run, in, "tok");
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
	struct stats st;
	stats_init(&st);
	if (add)
		stats_merge(&st, add);
	stats_count(&st, "tokens", info.tokens);
	stats_count(&st, "token_docs", info.docs);
	struct stage_file files[2];
	snprintf(files[0].name, sizeof files[0].name, "part-%05u.bin", out_index);
	snprintf(files[1].name, sizeof files[1].name, "part-%05u.idx", out_index);
	files[0].bytes = info.bin_bytes, files[1].bytes = info.idx_bytes;
	files[0].records = files[1].records = info.docs;
	memcpy(files[0].sha256, info.bin_sha256, SHA256_HEX);
	memcpy(files[1].sha256, info.idx_sha256, SHA256_HEX);
	rc = stage_write_part_files(run, out_index, files, 2, &st, now_seconds() - t0);
	stats_release(&st);
	return rc;
}

/* Input statistics summed over ranks, for shard 0's part record. */
static void reduce_stats(struct stats *st)
{
	uint64_t v[6] = {st->docs_in, st->bytes_in, st->docs_out, st->bytes_out,
			 stats_drop_docs(st, "bad_record"), stats_drop_docs(st, "too_many_tokens")};
	uint64_t s[6];
	MPI_CHECK(MPI_Allreduce(v, s, 6, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	stats_release(st);
	stats_init(st);
	st->docs_in = s[0], st->bytes_in = s[1], st->docs_out = s[2], st->bytes_out = s[3];
	for (uint64_t i = 0; i < s[4]; i++)
		stats_drop(st, "bad_record", 0);
	for (uint64_t i = 0; i < s[5]; i++)
		stats_drop(st, "too_many_tokens", 0);
}

/* Removes token shards numbered at or above n (left by an earlier, larger run). */
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

static int tokenize_phase1(struct stage_run *run, struct tok *t, const struct task_list *in,
			   int *owner, struct input_counts *counts, struct stats *st)
{
	uint64_t *sizes = xmalloc((in->n + 1) * sizeof *sizes), total = 0;
	for (size_t i = 0; i < in->n; i++)
		sizes[i] = in->v[i].size, total += sizes[i];
	schedule_assign(sizes, in->n, run->nranks, owner);
	free(sizes);
	int ok = 1;
	stage_progress_begin(run, total);
	for (size_t i = 0; i < in->n && ok; i++)
		if (owner[i] == run->rank)
			ok = tokenize_input(run, t, &in->v[i], i, &counts[i], st) == 0;
	stage_progress_end(run);
	return ok;
}

static int tokenize_phase2(struct stage_run *run, const struct task_list *in, const int *owner,
			   uint64_t total_tokens, int dtype, const struct stats *st)
{
	uint64_t shard_tokens = (uint64_t)config_int(run->cfg, "tokenize.shard_tokens");
	bool shuffle = config_bool(run->cfg, "tokenize.shuffle");
	uint64_t nraw = total_tokens / shard_tokens + 1;
	char *tmp = stage_tmpdir(run);
	uint64_t budget = config_size(run->cfg, "memory_budget") / 2;
	struct xchg *order = xchg_new(MPI_COMM_WORLD, budget, tmp);
	struct xchg *cut = order ? xchg_new(MPI_COMM_WORLD, budget, tmp) : NULL;
	free(tmp);
	unsigned char *used = xcalloc(nraw + 1, 1), *all = xcalloc(nraw + 1, 1);
	int ok = order && cut;
	ok = ok && route_order(run, order, owner, in->n, shuffle) == 0;
	ok = par_all_ok(ok) && xchg_finish(order) == 0;
	ok = par_all_ok(ok) && route_shards(run, order, cut, shard_tokens, used, nraw) == 0;
	ok = par_all_ok(ok) && xchg_finish(cut) == 0;
	ok = par_all_ok(ok);
	if (ok)
		MPI_CHECK(MPI_Allreduce(used, all, (int)nraw, MPI_UNSIGNED_CHAR, MPI_BOR,
					MPI_COMM_WORLD));
	/* empty raw shards (a document longer than shard_tokens) are skipped in the numbering */
	uint32_t *number = xcalloc(nraw + 1, sizeof *number), nout = 0;
	for (uint64_t s = 0; s < nraw; s++)
		number[s] = all[s] ? nout++ : UINT32_MAX;
	if (!nout)
		nout = 1; /* no documents: one empty shard, so the output exists */
	run->out_shards = nout;
	struct token_file *tf = xmalloc((in->n + 1) * sizeof *tf);
	for (size_t i = 0; i < in->n; i++)
		tf[i].fd = -1;
	const void *k = NULL, *v = NULL;
	size_t kl = 0, vl = 0;
	int have = ok ? xchg_next(cut, &k, &kl, &v, &vl) : 0;
	for (uint64_t s = 0; s < nraw && ok; s++) {
		if (number[s] == UINT32_MAX || (uint64_t)s % (uint64_t)run->nranks != (uint64_t)run->rank)
			continue;
		ok = write_shard(run, number[s], dtype, cut, &have, &k, &v, &kl, &vl, (uint32_t)s, tf,
				 in->n, number[s] == 0 ? st : NULL) == 0;
	}
	if (ok && !all[0] && nout == 1 && run->rank == 0)
		ok = write_shard(run, 0, dtype, cut, &have, &k, &v, &kl, &vl, 0, tf, in->n, st) == 0;
	if (!ok)
		log_error("stage tokenize: %s", err_get());
	for (size_t i = 0; i < in->n; i++)
		if (tf[i].fd >= 0)
			close(tf[i].fd);
	free(tf), free(number), free(used), free(all);
	xchg_free(order);
	xchg_free(cut);
	return ok;
}

static int tokenize_run(struct stage_run *run, const struct task_list *in)
{
	struct tok t;
	int ok = tok_init(&t, run->cfg) == 0;
	if (!ok)
		log_error("stage tokenize: %s", err_get());
	char *tdir = xasprintf("%s/.tmp", run->dir);
	if (run->rank == 0 && ok)
		ok = remove_tree(tdir) == 0 && mkdir_p(tdir) == 0;
	if (!par_all_ok(ok)) {
		bpe_free(t.bpe);
		free(tdir);
		return -1;
	}
	int *owner = xmalloc((in->n + 1) * sizeof *owner);
	struct input_counts *counts = xcalloc(in->n + 1, sizeof *counts);
	struct stats st;
	stats_init(&st);
	ok = tokenize_phase1(run, &t, in, owner, counts, &st);
	int dtype = megatron_dtype_for_vocab(bpe_vocab_size(t.bpe));
	bpe_free(t.bpe);
	uint64_t total = 0;
	for (size_t i = 0; i < in->n; i++)
		total += counts[i].tokens;
	total = par_sum_u64(total);
	reduce_stats(&st);
	if (par_all_ok(ok))
		ok = tokenize_phase2(run, in, owner, total, dtype, &st);
	ok = par_all_ok(ok);
	if (ok && run->rank == 0)
		remove_extra_shards(run->dir, run->out_shards);
	if (run->rank == 0)
		remove_tree(tdir);
	stats_release(&st);
	free(owner), free(counts), free(tdir);
	return ok ? 0 : -1;
}

/* The tokenizer file is an input: its checksum joins the fingerprint, so a replaced
 * tokenizer.json at the same path reruns the stage. */
static int tokenize_signature(struct stage_run *run, struct buf *sig)
{
	const char *path = config_str(run->cfg, "tokenize.tokenizer");
	char hex[SHA256_HEX] = "";
	if (*path && sha256_file_hex(path, hex) < 0)
		return -1;
	buf_printf(sig, "tokenizer %s\n", hex);
	return 0;
}

const struct stage_def stage_tokenize = {
	.name = "tokenize",
	.kind = STAGE_GLOBAL,
	.summary = "BPE-tokenize documents (FIM, EOD) into Megatron .bin/.idx token shards",
	.opts = tokenize_opts,
	.version = 1,
	.run = tokenize_run,
	.signature = tokenize_signature,
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
	unsigned long long n = ds ? strtoull(ds, &end, 10) : 0;
	int rc = 0;
	if (!ds || *end || !tp || !*tp) {
		err_set("decode needs --doc N and a tokenizer (-t FILE, or -c CONFIG)");
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
		fprintf(stderr, "curate tokens: expected 'info PREFIX' or 'decode PREFIX --doc N'; "
				"see 'curate tokens --help'\n");
		return 2;
	}
	struct megatron_reader *r = megatron_open(a->pos[1]);
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

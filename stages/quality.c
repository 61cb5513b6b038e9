/* quality: a global stage that scores every document with the Llama regression scorer
 * (scorer/), records metadata.quality, and drops the bottom fraction by an exact global
 * quantile over all ranks (or by fixed thresholds), with separate thresholds per web page
 * category. Scoring is a phase (phase.h): each input shard's scores (5 bytes a document) are
 * committed to a file, so a killed run rescoring only the unscored shards, and a change of
 * thresholds alone re-decides from the kept scores without scoring. The writing pass reads
 * the documents again rather than holding them. docs/quality.md has the choices. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpe.h"
#include "log.h"
#include "par.h"
#include "phase.h"
#include "schedule.h"
#include "scorer.h"
#include "stages.h"

static const struct opt_def quality_opts[] = {
	{"model", OPT_STR, "", 0, 0, NULL,
	 "The scorer checkpoint directory (LlamaForSequenceClassification, one label: "
	 "config.json, safetensors, tokenizer.json). Required."},
	{"device", OPT_ENUM, "auto", 0, 0, "auto|cpu|cuda",
	 "Where to score: auto uses the rank's GPU when there is one, else the CPU (and says so)."},
	{"threads", OPT_INT, "0", 0, 4096, NULL,
	 "CPU threads per rank; 0: the online CPUs divided by the ranks on the node."},
	{"max_tokens", OPT_INT, "2048", 1, 1048576, NULL,
	 "Documents are truncated to this many tokens (the first ones) before scoring."},
	{"add_bos", OPT_BOOL, "true", 0, 0, NULL,
	 "Prepend the checkpoint's bos_token_id, as its Hugging Face tokenizer would."},
	{"batch", OPT_INT, "512", 1, 65536, NULL,
	 "Documents per scorer call: a GPU packs them into batches of up to 16384 tokens, two in flight, so larger calls keep it busier; scores do not depend on it."},
	{"mode", OPT_ENUM, "quantile", 0, 0, "quantile|fixed",
	 "quantile: drop the lowest-scoring fraction over all ranks; fixed: drop below a score."},
	{"drop_fraction", OPT_FLOAT, "0.1", 0, 1, NULL,
	 "quantile: the fraction of documents (other than web pages) to drop (low_quality)."},
	{"min_score", OPT_FLOAT, "0.5", -1e30, 1e30, NULL,
	 "fixed: documents other than web pages scoring below this are dropped."},
	{"web_drop_fraction.documentation", OPT_FLOAT, "0.1", 0, 1, NULL,
	 "quantile: fraction of web pages of category documentation to drop."},
	{"web_drop_fraction.blog", OPT_FLOAT, "0.1", 0, 1, NULL, "The same for blog pages."},
	{"web_drop_fraction.forum", OPT_FLOAT, "0.1", 0, 1, NULL, "The same for forum pages."},
	{"web_drop_fraction.qa", OPT_FLOAT, "0.1", 0, 1, NULL, "The same for Q&A pages."},
	{"web_drop_fraction.other", OPT_FLOAT, "0.1", 0, 1, NULL,
	 "The same for other web pages (and pages without a known metadata.category)."},
	{"web_min_score.documentation", OPT_FLOAT, "0.5", -1e30, 1e30, NULL,
	 "fixed: web pages of category documentation scoring below this are dropped."},
	{"web_min_score.blog", OPT_FLOAT, "0.5", -1e30, 1e30, NULL, "The same for blog pages."},
	{"web_min_score.forum", OPT_FLOAT, "0.5", -1e30, 1e30, NULL, "The same for forum pages."},
	{"web_min_score.qa", OPT_FLOAT, "0.5", -1e30, 1e30, NULL, "The same for Q&A pages."},
	{"web_min_score.other", OPT_FLOAT, "0.5", -1e30, 1e30, NULL,
	 "The same for other web pages."},
	{"histogram_bins", OPT_INT, "20", 1, 1000, NULL,
	 "Bins of the score histogram in stats (between the lowest and highest score)."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Groups with their own threshold: everything but web pages, then the web categories. */
static const char *const groups[] = {"default", "documentation", "blog", "forum", "qa", "other"};
enum { NGROUPS = 6 };
/* Records that get no score carry one of these instead of a group. */
enum { G_BAD = 250, G_EMPTY, G_NAN };

struct shard_scores {
	float *score;
	unsigned char *group;
	size_t n, cap;
	uint64_t tokenized_bytes; /* bytes BPE merged: what scoring read of the texts */
};

struct quality {
	struct scorer *scorer;
	char *model_dir;
	struct bpe *bpe;
	int64_t bos;
	size_t max_tokens, batch;
	struct shard_scores *shards; /* per input shard; filled for this rank's shards */
	double threshold[NGROUPS];
	float lo, hi; /* the global score range, for the histogram */
	int bins;
};

static int group_of(const struct doc *d)
{
	if (!d->source.p || strcmp(d->source.p, "web"))
		return 0;
	const char *c = json_string_value(json_object_get(d->meta, "category"));
	for (int g = 1; c && g < NGROUPS; g++)
		if (!strcmp(c, groups[g]))
			return g;
	return NGROUPS - 1;
}

static void scores_push(struct shard_scores *s, float v, unsigned char g)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->score = xrealloc(s->score, s->cap * sizeof *s->score);
		s->group = xrealloc(s->group, s->cap);
	}
	s->score[s->n] = v, s->group[s->n++] = g;
}

/* ---- pass 1: scoring ---- */

struct pending {
	struct bpe_ids *ids; /* one per slot */
	size_t *idx, n;
	const uint32_t **ptr;
	size_t *len;
	float *out;
};

static int flush(struct quality *q, struct pending *p, struct shard_scores *s)
{
	if (!p->n)
		return 0;
	for (size_t i = 0; i < p->n; i++)
		p->ptr[i] = p->ids[i].v, p->len[i] = p->ids[i].n;
	if (scorer_score(q->scorer, p->ptr, p->len, p->n, p->out) < 0)
		return -1;
	for (size_t i = 0; i < p->n; i++)
		s->score[p->idx[i]] = p->out[i];
	p->n = 0;
	return 0;
}

static int score_shard(struct stage_run *run, struct quality *q, const struct task *t,
		       struct shard_scores *s, struct pending *p)
{
	int verify = config_bool(run->cfg, "verify_inputs");
	struct shard_reader *r = shard_reader_open(t->arg.p, verify ? t->input_sha256 : NULL);
	if (!r)
		return -1;
	struct doc d;
	doc_init(&d);
	const char *line;
	size_t len;
	int got, rc = 0;
	while ((got = shard_reader_next_line(r, &line, &len)) == 1) {
		if (phase_stopping()) {
			err_set("a stop was asked");
			rc = -1;
			break;
		}
		if (doc_parse(&d, line, len) < 0) {
			log_warn("stage quality: %s: record %llu: %s (dropped as bad_record)", t->arg.p,
				 (unsigned long long)shard_reader_records(r), err_get());
			scores_push(s, 0, G_BAD);
			continue;
		}
		stage_progress_add(run, 1, d.text.len);
		struct bpe_ids *ids = &p->ids[p->n];
		ids->n = 0;
		if (q->bos >= 0) {
			ids->v = xrealloc(ids->v, (ids->cap = ids->cap ? ids->cap : 16) * sizeof *ids->v);
			ids->v[ids->n++] = (uint32_t)q->bos;
		}
		/* only what the scorer reads is tokenized */
		size_t start = ids->n;
		uint64_t before = bpe_merged_bytes(q->bpe);
		bpe_encode_max(q->bpe, d.text.p ? d.text.p : "", d.text.len,
			       q->max_tokens > start ? q->max_tokens - start : 0, ids);
		s->tokenized_bytes += bpe_merged_bytes(q->bpe) - before;
		if (!ids->n) {
			scores_push(s, 0, G_EMPTY);
			continue;
		}
		p->idx[p->n++] = s->n;
		scores_push(s, 0, (unsigned char)group_of(&d));
		if (p->n == q->batch && (rc = flush(q, p, s)) < 0)
			break;
	}
	if (!rc && got == 0)
		rc = flush(q, p, s);
	if (got < 0)
		rc = -1;
	for (size_t i = 0; i < s->n; i++) /* NaN has no place in an order, inf none in JSON */
		if (s->group[i] < NGROUPS && !isfinite(s->score[i]))
			s->group[i] = G_NAN;
	doc_release(&d);
	shard_reader_close(r);
	return rc;
}

/* The scores file: per record, its score (float, little-endian) and its group byte. */
enum { SCORE_REC = 5 };

static int write_scores(const char *path, const struct shard_scores *s)
{
	FILE *f = fopen(path, "wb");
	int rc = f ? 0 : -1;
	for (size_t i = 0; i < s->n && !rc; i++) {
		unsigned char b[SCORE_REC];
		uint32_t u;
		memcpy(&u, &s->score[i], 4);
		for (int k = 0; k < 4; k++)
			b[k] = (unsigned char)(u >> 8 * k);
		b[4] = s->group[i];
		rc = fwrite(b, 1, SCORE_REC, f) == SCORE_REC ? 0 : -1;
	}
	if (f && fclose(f))
		rc = -1;
	if (rc)
		err_set("%s: %s", path, strerror(errno));
	return rc;
}

static int read_scores(const char *path, struct shard_scores *s)
{
	struct buf b = BUF_INIT;
	if (read_file(path, &b) < 0)
		return -1;
	if (b.len % SCORE_REC) {
		err_set("%s: %zu bytes, not a whole number of scores", path, b.len);
		buf_release(&b);
		return -1;
	}
	for (size_t i = 0; i < b.len; i += SCORE_REC) {
		const unsigned char *p = (const unsigned char *)b.p + i;
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;
		float v;
		memcpy(&v, &u, 4);
		scores_push(s, v, p[4]);
	}
	buf_release(&b);
	return 0;
}

struct score_job {
	struct stage_run *run;
	struct quality *q;
	const struct task_list *in;
	struct pending *p;
	int opened; /* the scorer is loaded only when a shard needs scoring */
};

static int open_scorer(struct stage_run *run, struct quality *q);

/* The phase's work on input shard i: scores into in-NNNNN.scores. */
static int score_one(struct phase *ph, size_t i, json_t **info, void *ud)
{
	struct score_job *j = ud;
	if (!j->opened)
		j->opened = open_scorer(j->run, j->q) == 0 ? 1 : -1;
	if (j->opened < 0)
		return -2; /* this rank cannot score: the others take the shards */
	struct shard_scores s = {0};
	int rc = score_shard(j->run, j->q, &j->in->v[i], &s, j->p);
	char *path = phase_tmp_path(ph, i, "scores");
	if (!rc)
		rc = write_scores(path, &s);
	free(path);
	size_t scored = 0;
	for (size_t k = 0; k < s.n; k++)
		scored += s.group[k] < NGROUPS;
	phase_count(ph, scored);
	*info = json_pack("{s:I,s:I,s:I,s:s}", "records", (json_int_t)s.n, "scored",
			  (json_int_t)scored, "tokenized_bytes", (json_int_t)s.tokenized_bytes,
			  "device", scorer_device_name(j->q->scorer));
	free(s.score), free(s.group);
	return rc;
}

/* ---- the global threshold ---- */

/* An unsigned key whose order is the float order. */
static uint32_t fkey(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u & 0x80000000u ? ~u : u | 0x80000000u;
}

static float unkey(uint32_t k)
{
	uint32_t u = k & 0x80000000u ? k & 0x7fffffffu : ~k;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* The value at 0-based rank k[g] of each group's scores over all ranks, found by four
 * rounds of 256-bucket counts (an MPI radix select): exact, and the same for any rank
 * count, with O(1) memory. */
static void global_select(const struct quality *q, size_t nshards, const uint64_t *k,
			  float *value)
{
	uint32_t prefix[NGROUPS] = {0};
	uint64_t rank[NGROUPS];
	memcpy(rank, k, sizeof rank);
	for (int round = 0; round < 4; round++) {
		int shift = 24 - 8 * round;
		uint64_t cnt[NGROUPS][256] = {{0}};
		for (size_t i = 0; i < nshards; i++) {
			const struct shard_scores *s = &q->shards[i];
			for (size_t j = 0; j < s->n; j++) {
				int g = s->group[j];
				if (g >= NGROUPS)
					continue;
				uint32_t key = fkey(s->score[j]);
				if (round && key >> (shift + 8) != prefix[g])
					continue;
				cnt[g][key >> shift & 255]++;
			}
		}
		MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, cnt, NGROUPS * 256, MPI_UINT64_T, MPI_SUM,
					MPI_COMM_WORLD));
		for (int g = 0; g < NGROUPS; g++) {
			int b = 0;
			while (b < 255 && rank[g] >= cnt[g][b])
				rank[g] -= cnt[g][b++];
			prefix[g] = prefix[g] << 8 | (uint32_t)b;
		}
	}
	for (int g = 0; g < NGROUPS; g++)
		value[g] = unkey(prefix[g]);
}

static void set_thresholds(struct stage_run *run, struct quality *q, size_t nshards)
{
	uint64_t n[NGROUPS] = {0}, k[NGROUPS];
	float lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < nshards; i++)
		for (size_t j = 0; j < q->shards[i].n; j++) {
			int g = q->shards[i].group[j];
			float v = q->shards[i].score[j];
			if (g >= NGROUPS)
				continue;
			n[g]++;
			lo = v < lo ? v : lo, hi = v > hi ? v : hi;
		}
	MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, n, NGROUPS, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_FLOAT, MPI_MIN, MPI_COMM_WORLD));
	MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD));
	if (lo > hi) /* nothing was scored */
		lo = hi = 0;
	q->lo = lo, q->hi = hi;
	int fixed = !strcmp(config_str(run->cfg, "quality.mode"), "fixed");
	double frac[NGROUPS];
	for (int g = 0; g < NGROUPS; g++) {
		char key[80];
		const char *opt = fixed ? "min_score" : "drop_fraction";
		if (g)
			snprintf(key, sizeof key, "quality.web_%s.%s", opt, groups[g]);
		else
			snprintf(key, sizeof key, "quality.%s", opt);
		frac[g] = config_float(run->cfg, key);
		/* drop floor(f * n) documents: the threshold is the value at that rank */
		k[g] = fixed ? 0 : (uint64_t)floor(frac[g] * (double)n[g]);
	}
	float value[NGROUPS];
	if (!fixed)
		global_select(q, nshards, k, value);
	for (int g = 0; g < NGROUPS; g++) {
		if (fixed)
			q->threshold[g] = frac[g];
		else
			q->threshold[g] = k[g] == 0 ? -INFINITY : k[g] >= n[g] ? INFINITY : value[g];
		if (n[g])
			log_info("stage quality: %s: %llu documents, threshold %.6g", groups[g],
				 (unsigned long long)n[g], q->threshold[g]);
	}
}

/* ---- pass 2: writing ---- */

static int bin_of(const struct quality *q, float v)
{
	if (!(q->hi > q->lo))
		return 0;
	int b = (int)((double)(v - q->lo) / ((double)q->hi - q->lo) * q->bins);
	return b < 0 ? 0 : b >= q->bins ? q->bins - 1 : b;
}

static int write_shard(struct stage_run *run, struct quality *q, const struct task *t,
		       uint32_t index)
{
	double t0 = now_seconds();
	int level = (int)config_int(run->cfg, "zstd_level");
	char *path = stage_shard_path(run->dir, index);
	struct shard_writer *w = shard_writer_open(path, level), *rw = NULL;
	free(path);
	if (!w)
		return -1;
	if (config_bool(run->cfg, "keep_rejected")) {
		char *rdir = xasprintf("%s/rejected", run->dir);
		char *rpath = stage_shard_path(rdir, index);
		if (mkdir_p(rdir) == 0)
			rw = shard_writer_open(rpath, level);
		shard_writer_ids_only(rw, !config_bool(run->cfg, "keep_rejected_text"));
		free(rdir), free(rpath);
		if (!rw) {
			shard_writer_abort(w);
			return -1;
		}
	}
	struct shard_reader *r = shard_reader_open(t->arg.p, NULL);
	const struct shard_scores *s = &q->shards[index];
	struct stats st;
	stats_init(&st);
	struct doc d;
	doc_init(&d);
	const char *line;
	size_t len, i = 0;
	int got = r ? 0 : -1, rc = 0;
	static const char *const why[] = {"bad_record", "no_tokens", "score_nan"};
	stats_count(&st, "tokenized_bytes", s->tokenized_bytes);
	while (r && (got = shard_reader_next_line(r, &line, &len)) == 1 && i < s->n) {
		int g = s->group[i];
		float v = s->score[i++];
		st.docs_in++;
		if (g == G_BAD) {
			stats_drop(&st, why[0], len);
			continue;
		}
		if (doc_parse(&d, line, len) < 0) {
			rc = -1;
			break;
		}
		st.bytes_in += d.text.len;
		const char *reason = g >= NGROUPS ? why[g - G_BAD] : NULL;
		if (g < NGROUPS) {
			json_object_set_new(d.meta, "quality", json_real(v));
			char name[32];
			int b = bin_of(q, v);
			snprintf(name, sizeof name, "quality_bin_%03d", b);
			stats_count(&st, name, 1);
			if ((double)v < q->threshold[g])
				reason = "low_quality";
		}
		if (reason) {
			stats_drop(&st, reason, d.text.len);
			json_object_set_new(d.meta, "drop_reason", json_string(reason));
			if (rw && shard_writer_put(rw, &d) < 0)
				rc = -1;
		} else {
			st.docs_out++, st.bytes_out += d.text.len;
			if (shard_writer_put(w, &d) < 0)
				rc = -1;
		}
		if (rc)
			break;
	}
	if (!rc && got >= 0 && (got == 1 || i != s->n)) {
		err_set("%s: changed between the scoring and the writing pass", t->arg.p);
		rc = -1;
	}
	if (got < 0)
		rc = -1;
	shard_reader_close(r);
	doc_release(&d);
	struct shard_info info, rinfo;
	if (rc < 0) {
		shard_writer_abort(w), shard_writer_abort(rw);
	} else {
		int a = shard_writer_close(w, &info), b = rw ? shard_writer_close(rw, &rinfo) : 0;
		if (a < 0 || b < 0 ||
		    stage_write_part(run, index, &info, rw ? &rinfo : NULL, &st, now_seconds() - t0) < 0)
			rc = -1;
	}
	stats_release(&st);
	return rc;
}

/* The score histogram over all ranks and the thresholds, as objects of stats.json, in the
 * shape `curate report` reads. */
static void stats_histogram(struct stage_run *run, const struct quality *q, uint64_t *hist)
{
	MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, hist, q->bins, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	json_t *e = json_array(), *c = json_array(), *th = json_object();
	double span = q->hi > q->lo ? (double)q->hi - q->lo : 0;
	for (int b = 0; b <= q->bins; b++)
		json_array_append_new(e, json_real(q->lo + span * b / q->bins));
	for (int b = 0; b < q->bins; b++)
		json_array_append_new(c, json_integer((json_int_t)hist[b]));
	for (int g = 0; g < NGROUPS; g++)
		if (isfinite(q->threshold[g]))
			json_object_set_new(th, groups[g], json_real(q->threshold[g]));
	stage_stats_object(run, "quality_histogram", json_pack("{s:o,s:o}", "edges", e, "counts", c));
	stage_stats_object(run, "quality_thresholds", th);
}

/* ---- setup and the stage ---- */

/* quality.model, or with it empty and scorer-train in `stages`, what scorer-train made. */
static char *quality_model_dir(const struct stage_run *run)
{
	const char *dir = config_str(run->cfg, "quality.model");
	const char *const *list;
	size_t n = config_list(run->cfg, "stages", &list);
	for (size_t i = 0; !*dir && i < n; i++)
		if (!strcmp(list[i], "scorer-train"))
			return xasprintf("%s/scorer-train/model", run->workdir);
	return xstrdup(dir);
}

static int open_scorer(struct stage_run *run, struct quality *q)
{
	const char *dir = q->model_dir = quality_model_dir(run), *dev;
	if (!*dir) {
		err_set("quality.model: no scorer checkpoint given (nor scorer-train in stages)");
		return -1;
	}
	struct scorer_params p = scorer_default_params();
	dev = config_str(run->cfg, "quality.device");
	p.device = !strcmp(dev, "cpu") ? SCORER_CPU : !strcmp(dev, "cuda") ? SCORER_CUDA : SCORER_AUTO;
	p.max_tokens = q->max_tokens;
	p.threads = (int)config_int(run->cfg, "quality.threads");
	if (!p.threads) /* share the node's CPUs among its ranks */
		p.threads = par_cpu_share();
	q->scorer = scorer_open(dir, &p);
	if (!q->scorer)
		return -1;
	if (!scorer_on_gpu(q->scorer) && p.device == SCORER_AUTO && run->rank == 0)
		log_warn("stage quality: no GPU, scoring on the CPU: %s (fine for tests and small "
			 "runs; production scoring wants one GPU per rank)",
			 scorer_device_name(q->scorer));
	log_info("stage quality: scorer on %s", scorer_device_name(q->scorer));
	char *tpath = xasprintf("%s/tokenizer.json", dir);
	q->bpe = bpe_load(tpath, NULL);
	free(tpath);
	if (!q->bpe)
		return -1;
	q->bos = config_bool(run->cfg, "quality.add_bos") ? scorer_get_config(q->scorer)->bos_id : -1;
	return 0;
}

static void quality_free(struct quality *q, size_t nshards)
{
	scorer_free(q->scorer);
	free(q->model_dir);
	bpe_free(q->bpe);
	for (size_t i = 0; i < nshards; i++)
		free(q->shards[i].score), free(q->shards[i].group);
	free(q->shards);
}

/* What the scores depend on: the checkpoint (as the stage's signature sees it), the
 * truncation, the BOS token and the device asked for; never the thresholds. */
static int scores_signature(struct stage_run *run, struct buf *sig)
{
	char *dir = quality_model_dir(run);
	int rc = scorer_checkpoint_signature(dir, sig);
	free(dir);
	buf_printf(sig, "max_tokens %lld\nadd_bos %d\ndevice %s\n",
		   (long long)config_int(run->cfg, "quality.max_tokens"),
		   config_bool(run->cfg, "quality.add_bos"), config_str(run->cfg, "quality.device"));
	return rc;
}

/* This rank's share of the scores for the decision and the writing pass (the static plan
 * over all input shards, whoever scored them), from the phase's files. */
static int load_scores(struct quality *q, struct phase *ph, const struct task_list *in,
		       const int *owner, int rank)
{
	for (size_t i = 0; i < in->n; i++) {
		if (owner[i] != rank)
			continue;
		char *path = phase_path(ph, i, "scores");
		json_t *info = phase_info(ph, i);
		int rc = info ? read_scores(path, &q->shards[i]) : -1;
		q->shards[i].tokenized_bytes =
			(uint64_t)json_integer_value(json_object_get(info, "tokenized_bytes"));
		if (!rc && (json_int_t)q->shards[i].n !=
				   json_integer_value(json_object_get(info, "records"))) {
			err_set("%s: %zu scores where its record says %lld", path, q->shards[i].n,
				(long long)json_integer_value(json_object_get(info, "records")));
			rc = -1;
		}
		json_decref(info);
		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int quality_run(struct stage_run *run, const struct task_list *in)
{
	struct quality q = {0};
	q.max_tokens = (size_t)config_int(run->cfg, "quality.max_tokens");
	q.batch = (size_t)config_int(run->cfg, "quality.batch");
	q.bins = (int)config_int(run->cfg, "quality.histogram_bins");
	q.shards = xcalloc(in->n + 1, sizeof *q.shards);
	run->out_shards = (uint32_t)in->n;
	struct buf sig = BUF_INIT;
	int ok = run->rank != 0 || scores_signature(run, &sig) == 0;
	static const char *const exts[] = {"scores", NULL};
	static const struct phase_def scores = {"scores", exts, true, NULL, NULL};
	struct phase *ph = par_all_ok(ok) ? phase_open(run, in, &scores, sig.p) : NULL;
	buf_release(&sig);
	struct pending p = {xcalloc(q.batch, sizeof(struct bpe_ids)), xcalloc(q.batch, sizeof(size_t)),
			    0, xcalloc(q.batch, sizeof(uint32_t *)), xcalloc(q.batch, sizeof(size_t)),
			    xcalloc(q.batch, sizeof(float))};
	struct score_job job = {run, &q, in, &p, 0};
	ok = ph && phase_run(ph, score_one, &job) == 0;
	for (size_t i = 0; i < q.batch; i++)
		bpe_ids_release(&p.ids[i]);
	free(p.ids), free(p.idx), free(p.ptr), free(p.len), free(p.out);

	uint64_t *sizes = xmalloc((in->n + 1) * sizeof *sizes);
	int *owner = xmalloc((in->n + 1) * sizeof *owner);
	for (size_t i = 0; i < in->n; i++)
		sizes[i] = in->v[i].size;
	schedule_assign(sizes, in->n, run->nranks, owner);
	if (ok && load_scores(&q, ph, in, owner, run->rank) < 0) {
		log_error("stage quality: %s", err_get());
		ok = 0;
	}
	/* the collectives below run on every rank, so a failure must be agreed first */
	if (!par_all_ok(ok))
		goto out;
	set_thresholds(run, &q, in->n);
	uint64_t *hist = xcalloc((size_t)q.bins, sizeof *hist);
	for (size_t i = 0; i < in->n; i++)
		for (size_t j = 0; j < q.shards[i].n; j++)
			if (q.shards[i].group[j] < NGROUPS)
				hist[bin_of(&q, q.shards[i].score[j])]++;
	for (size_t i = 0; i < in->n && ok; i++) {
		if (owner[i] != run->rank || stage_part_done(run, (uint32_t)i))
			continue;
		stage_test_part_delay(run->rank);
		if (stage_stop_requested())
			break;
		if (write_shard(run, &q, &in->v[i], (uint32_t)i) < 0) {
			log_error("stage quality: %s", err_get());
			ok = 0;
		}
	}
	if (stage_stop_anywhere()) {
		ok = 0;
		if (run->rank == 0)
			log_warn("stage quality: stopped on request (SIGTERM or SIGINT) while writing; "
				 "the scores and the shards that were written are kept: run the same "
				 "command again to resume");
	}
	stats_histogram(run, &q, hist);
	free(hist);
	ok = par_all_ok(ok);
out:
	phase_close(ph, ok);
	quality_free(&q, in->n);
	free(sizes), free(owner);
	return ok ? 0 : -1;
}

/* The checkpoint is part of what defines the output: config and tokenizer by content, the
 * weights (gigabytes) by name, size and modification time. */
static int quality_signature(struct stage_run *run, struct buf *sig)
{
	char *dir = quality_model_dir(run);
	int rc = scorer_checkpoint_signature(dir, sig);
	free(dir);
	return rc;
}

/* how the scoring runs, never what it gives (the CPU path sums in one order for any thread
 * count; the GPU path keeps one GEMM algorithm for any batch) */
static const char *const quality_runtime_opts[] = {"threads", "batch", NULL};

const struct stage_def stage_quality = {
	.name = "quality",
	.kind = STAGE_GLOBAL,
	.summary = "score documents with the Llama quality scorer; drop the bottom fraction",
	.opts = quality_opts,
	.version = 2, /* 2: the histogram moved into stats.json */
	.runtime_opts = quality_runtime_opts,
	.resume_parts = true,
	.run = quality_run,
	.signature = quality_signature,
};

/* cmd: `curate scorer init|score|bench|train`, the command-line face of the scorer: make a
 * random checkpoint, score files one line each (or print a causal LM's next-token logits of
 * chosen tokens: --lm), measure tokens/s and MFU (on rank 0), and train one from rated
 * documents (on every rank: scorer/train.c). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "cli.h"
#include "par.h"
#include "scorer.h"
#include "stage.h"
#include "train.h"
#include "util.h"

const struct cli_opt scorer_cmd_opts[] = {
	{"model", 'm', "DIR", "the checkpoint directory (score, bench; train: the base)"},
	{"device", 0, "DEV", "auto, cpu or cuda (default auto: the GPU when there is one)"},
	{"max-tokens", 0, "N", "truncate documents to N tokens (default 2048)"},
	{"threads", 0, "N", "CPU threads (default: all CPUs)"},
	{"no-bos", 0, NULL, "do not prepend the config's bos_token_id (score)"},
	{"ids", 0, NULL, "score: each FILE holds token ids (decimal, space-separated), not text"},
	{"preset", 0, "NAME", "init: tiny or 1.3b"},
	{"seed", 0, "S", "init: the random seed (default 0)"},
	{"output", 'o', "DIR", "init, train: where the checkpoint goes"},
	{"tokenizer", 't', "FILE", "init: the tokenizer.json to copy beside the weights"},
	{"dtype", 0, "T", "init: f32 or bf16 (default f32 for tiny, bf16 for 1.3b)"},
	{"tokens", 0, "N", "bench: tokens per sequence (default max-tokens); 0: a length mix"},
	{"seqs", 0, "N", "bench: sequences to score (default 4)"},
	{"lengths", 0, "FILE", "bench: the sequence lengths to score, one number each (overrides --tokens, --seqs)"},
	{"peak-tflops", 0, "X", "bench: the device's peak for MFU (default: known GPUs only)"},
	{"lm", 0, "X", "init: a LlamaForCausalLM, X = untied (with lm_head.weight) or tied (to "
		       "the embedding); score, bench: DIR is a causal LM: output the next-token "
		       "logits of the token ids X (comma-separated), one column each"},
	{"config", 'c', "FILE", "train: take the scorer-train options of this pipeline config"},
	{"restart", 0, NULL, "train: start over, ignoring a training state in OUT/checkpoint"},
	{"dump-grads", 0, "FILE", "train: write the first step's gradient (safetensors) and stop"},
	{NULL, 0, NULL, NULL},
};
/* cli_args holds the values of CLI_MAX_OPTS options */
_Static_assert(ARRAY_LEN(scorer_cmd_opts) - 1 <= CLI_MAX_OPTS, "too many scorer options");

static long opt_long(const struct cli_cmd *cmd, struct cli_args *a, const char *name, long def)
{
	const char *v = cli_get(cmd, a, name);
	char *end;
	long x = v ? strtol(v, &end, 10) : def;
	if (v && (*end || x < 0)) {
		fprintf(stderr, "curate scorer: --%s %s: not a non-negative integer\n", name, v);
		exit(2);
	}
	return x;
}

/* --lm's token ids: decimal, comma-separated, at least one. NULL with a message. */
static uint32_t *parse_token_list(const char *v, size_t *n)
{
	uint32_t *t = xcalloc(strlen(v) / 2 + 1, sizeof *t); /* "1,2,3": at most half, rounded up */
	*n = 0;
	for (const char *p = v;;) {
		char *end = (char *)p;
		unsigned long x = isdigit((unsigned char)*p) ? strtoul(p, &end, 10) : 0;
		if (end == p || x > UINT32_MAX || (*end && *end != ',')) {
			fprintf(stderr, "curate scorer: --lm %s: not a comma-separated list of token "
					"ids\n", v);
			free(t);
			return NULL;
		}
		t[(*n)++] = (uint32_t)x;
		if (!*end)
			return t;
		p = end + 1;
	}
}

/* The checkpoint of -m: a regression scorer, or with --lm a causal LM's chosen logits. */
static struct scorer *open_model(const struct cli_cmd *cmd, struct cli_args *a)
{
	const char *dir = cli_get(cmd, a, "model"), *dev = cli_get(cmd, a, "device");
	if (!dir) {
		fprintf(stderr, "curate scorer: -m DIR (the checkpoint) is required\n");
		return NULL;
	}
	struct scorer_params p = scorer_default_params();
	p.max_tokens = (size_t)opt_long(cmd, a, "max-tokens", 2048);
	p.threads = (int)opt_long(cmd, a, "threads", 0);
	if (dev && strcmp(dev, "auto")) {
		if (strcmp(dev, "cpu") && strcmp(dev, "cuda")) {
			fprintf(stderr, "curate scorer: --device %s: auto, cpu or cuda\n", dev);
			return NULL;
		}
		p.device = !strcmp(dev, "cpu") ? SCORER_CPU : SCORER_CUDA;
	}
	if (!p.max_tokens) {
		fprintf(stderr, "curate scorer: --max-tokens must be positive\n");
		return NULL;
	}
	const char *lm = cli_get(cmd, a, "lm");
	size_t ntokens = 0;
	uint32_t *tokens = lm ? parse_token_list(lm, &ntokens) : NULL;
	if (lm && !tokens)
		return NULL;
	struct scorer *s = lm ? scorer_open_lm(dir, &p, tokens, ntokens) : scorer_open(dir, &p);
	if (!s)
		fprintf(stderr, "curate scorer: %s\n", err_get());
	free(tokens);
	return s;
}

static int cmd_init(const struct cli_cmd *cmd, struct cli_args *a)
{
	const char *preset = cli_get(cmd, a, "preset"), *out = cli_get(cmd, a, "output");
	const char *tok = cli_get(cmd, a, "tokenizer"), *dtype = cli_get(cmd, a, "dtype");
	if (!preset || !out || !tok) {
		fprintf(stderr, "curate scorer init: --preset, -o DIR and -t TOKENIZER are "
				"required\n");
		return 2;
	}
	if (!dtype)
		dtype = strcmp(preset, "tiny") ? "bf16" : "f32";
	const char *lm = cli_get(cmd, a, "lm");
	enum scorer_head head = SCORER_HEAD_SCORE;
	if (lm && strcmp(lm, "untied") && strcmp(lm, "tied")) {
		fprintf(stderr, "curate scorer init: --lm %s: untied or tied\n", lm);
		return 2;
	}
	if (lm)
		head = strcmp(lm, "tied") ? SCORER_HEAD_LM : SCORER_HEAD_TIED;
	if (scorer_init_checkpoint(out, preset, (uint64_t)opt_long(cmd, a, "seed", 0), tok,
				   dtype, head) < 0) {
		fprintf(stderr, "curate scorer init: %s\n", err_get());
		return 1;
	}
	return 0;
}

/* The ids the scorer sees for a document: [bos] + tokens, truncated to max. */
static void doc_ids(struct bpe *b, int64_t bos, const char *text, size_t len, size_t max,
		    struct bpe_ids *ids)
{
	ids->n = 0;
	if (bos >= 0) {
		if (ids->cap < 1)
			ids->v = xrealloc(ids->v, 16 * sizeof *ids->v), ids->cap = 16;
		ids->v[ids->n++] = (uint32_t)bos;
	}
	bpe_encode(b, text, len, ids);
	if (ids->n > max)
		ids->n = max;
}

/* A file of decimal numbers, as `curate tokenizer encode` prints token ids; what names one in
 * the error. */
static int parse_ids(const char *path, const char *text, struct bpe_ids *ids, const char *what)
{
	ids->n = 0;
	for (const char *p = text; *p;) {
		while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
			p++;
		if (!*p)
			break;
		char *end;
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || v > UINT32_MAX) {
			err_set("%s: byte %zu: not %s", path, (size_t)(p - text), what);
			return -1;
		}
		if (ids->n == ids->cap)
			ids->cap = ids->cap ? 2 * ids->cap : 256,
			ids->v = xrealloc(ids->v, ids->cap * sizeof *ids->v);
		ids->v[ids->n++] = (uint32_t)v;
		p = end;
	}
	return 0;
}

static int cmd_score(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (!a->npos) {
		fprintf(stderr, "curate scorer score: no FILE given\n");
		return 2;
	}
	struct scorer *s = open_model(cmd, a);
	if (!s)
		return 1;
	int raw_ids = cli_get(cmd, a, "ids") != NULL;
	char *tpath = xasprintf("%s/tokenizer.json", cli_get(cmd, a, "model"));
	struct bpe *b = raw_ids ? NULL : bpe_load(tpath, NULL);
	free(tpath);
	if (!b && !raw_ids) {
		fprintf(stderr, "curate scorer: %s\n", err_get());
		scorer_free(s);
		return 1;
	}
	int64_t bos = cli_get(cmd, a, "no-bos") ? -1 : scorer_get_config(s)->bos_id;
	size_t max = (size_t)opt_long(cmd, a, "max-tokens", 2048), K = scorer_outputs(s);
	bool logits = cli_get(cmd, a, "lm") != NULL;
	/* read every file first and score them in one call, so that a GPU packs them together;
	 * a file that cannot be read or tokenized is reported and left out */
	struct bpe_ids *ids = xcalloc((size_t)a->npos, sizeof *ids);
	const uint32_t **ptr = xcalloc((size_t)a->npos, sizeof *ptr);
	size_t *lens = xcalloc((size_t)a->npos, sizeof *lens), n = 0;
	int *file = xcalloc((size_t)a->npos, sizeof *file);
	float *score = xcalloc((size_t)a->npos * K, sizeof *score);
	struct buf text = BUF_INIT;
	int rc = 0;
	for (int i = 0; i < a->npos; i++) {
		struct bpe_ids *d = &ids[n];
		if (read_file(a->pos[i], &text) < 0 ||
		    (raw_ids && parse_ids(a->pos[i], text.p ? text.p : "", d, "a token id") < 0)) {
			fprintf(stderr, "curate scorer: %s\n", err_get());
			rc = 1;
			continue;
		}
		if (raw_ids && d->n > max)
			d->n = max;
		if (!raw_ids)
			doc_ids(b, bos, text.p ? text.p : "", text.len, max, d);
		if (!d->n) {
			fprintf(stderr, "curate scorer: %s: no tokens to score (empty file)\n",
				a->pos[i]);
			rc = 1;
			continue;
		}
		ptr[n] = d->v, lens[n] = d->n, file[n++] = i;
	}
	/* when the batch fails, each file alone, to name the one at fault */
	bool whole = n && scorer_score(s, ptr, lens, n, score) == 0;
	for (size_t k = 0; k < n; k++) {
		if (!whole && scorer_score(s, &ptr[k], &lens[k], 1, &score[k * K]) < 0) {
			fprintf(stderr, "curate scorer: %s: %s\n", a->pos[file[k]], err_get());
			rc = 1;
			continue;
		}
		if (!logits)
			printf("%.6f\t%s\n", score[k], a->pos[file[k]]);
		else { /* every digit of a float */
			for (size_t j = 0; j < K; j++)
				printf("%.9g\t", score[k * K + j]);
			printf("%s\n", a->pos[file[k]]);
		}
	}
	for (int i = 0; i < a->npos; i++)
		bpe_ids_release(&ids[i]);
	free(ids), free(ptr), free(lens), free(file), free(score);
	buf_release(&text);
	bpe_free(b);
	scorer_free(s);
	return rc;
}

/* A length mix like source files: log-normal around 600 tokens, clipped to [16, max]. */
static size_t mix_length(uint64_t *state, size_t max)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	double u1 = ((double)(*state >> 11) + 1) / 9007199254740993.0;
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	double u2 = (double)(*state >> 11) / 9007199254740992.0;
	double z = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
	double n = exp(log(600.0) + 1.0 * z);
	return n < 16 ? 16 : n > (double)max ? max : (size_t)n;
}

/* --lengths: positive numbers in the format of an ids file, so that another tool can be timed
 * on the very same lengths. */
static int read_lengths(const char *path, size_t **out, size_t *n)
{
	struct buf text = BUF_INIT;
	struct bpe_ids v = {0};
	int rc = read_file(path, &text) < 0 || parse_ids(path, text.p ? text.p : "", &v, "a positive length") < 0 ? -1 : 0;
	if (rc == 0 && !v.n)
		err_set("%s: no lengths", path), rc = -1;
	*n = v.n;
	*out = xcalloc(v.n + 1, sizeof **out);
	for (size_t i = 0; rc == 0 && i < v.n; i++)
		if (!((*out)[i] = v.v[i]))
			err_set("%s: length %zu is zero", path, i + 1), rc = -1;
	buf_release(&text);
	bpe_ids_release(&v);
	if (rc < 0)
		free(*out), *out = NULL;
	return rc;
}

static int cmd_bench(const struct cli_cmd *cmd, struct cli_args *a)
{
	struct scorer *s = open_model(cmd, a);
	if (!s)
		return 1;
	const struct scorer_config *c = scorer_get_config(s);
	size_t max = (size_t)opt_long(cmd, a, "max-tokens", 2048);
	size_t len = (size_t)opt_long(cmd, a, "tokens", (long)max);
	size_t n = (size_t)opt_long(cmd, a, "seqs", 4);
	size_t *given = NULL;
	if (cli_get(cmd, a, "lengths") && read_lengths(cli_get(cmd, a, "lengths"), &given, &n) < 0) {
		fprintf(stderr, "curate scorer bench: %s\n", err_get());
		scorer_free(s);
		return 1;
	}
	uint32_t **ids = xcalloc(n + 1, sizeof *ids);
	size_t *lens = xcalloc(n + 1, sizeof *lens), total = 0;
	float *out = xcalloc((n + 1) * scorer_outputs(s), sizeof *out);
	uint64_t st = 42;
	double flops = 0;
	for (size_t i = 0; i < n; i++) {
		lens[i] = given ? given[i] : len ? len : mix_length(&st, max);
		lens[i] = lens[i] > max ? max : lens[i];
		ids[i] = xmalloc(lens[i] * sizeof **ids);
		for (size_t t = 0; t < lens[i]; t++)
			ids[i][t] = (uint32_t)((st = st * 6364136223846793005ull + 1) >> 33) %
				    (uint32_t)c->vocab;
		total += lens[i];
		flops += scorer_flops(c, lens[i]);
	}
	/* one warm-up sequence: first-touch page faults and GPU start-up are not the model */
	const uint32_t *w0 = ids[0];
	int rc = scorer_score(s, &w0, &lens[0], 1, out);
	double t0 = now_seconds();
	if (!rc)
		rc = scorer_score(s, (const uint32_t *const *)ids, lens, n, out);
	double dt = now_seconds() - t0;
	if (rc < 0)
		fprintf(stderr, "curate scorer bench: %s\n", err_get());
	else {
		const char *pk = cli_get(cmd, a, "peak-tflops");
		double peak = pk ? atof(pk) : 0;
		if (!pk && scorer_on_gpu(s) && strstr(scorer_device_name(s), "H100"))
			peak = 989; /* dense bf16, SXM */
		if (!pk && scorer_on_gpu(s) && strstr(scorer_device_name(s), "H200"))
			peak = 989;
		printf("device\t%s\nsequences\t%zu\ntokens\t%zu\nseconds\t%.3f\ntokens_per_s\t%.1f\n"
		       "tflops\t%.4f\n",
		       scorer_device_name(s), n, total, dt, (double)total / dt, flops / dt / 1e12);
		if (peak > 0)
			printf("mfu\t%.4f\n", flops / dt / 1e12 / peak);
		else
			printf("mfu\tn/a (give --peak-tflops)\n");
	}
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids), free(lens), free(out), free(given);
	scorer_free(s);
	return rc < 0;
}

/* `scorer train -m BASE -o OUT LABELS... [KEY=VALUE...]`: KEY is an option of the
 * scorer-train section (`curate config defaults`), "scorer-train." optional. */
static int cmd_train(const struct cli_cmd *cmd, struct cli_args *a)
{
	const char *base = cli_get(cmd, a, "model"), *out = cli_get(cmd, a, "output");
	if (!base || !out) {
		if (par_rank() == 0)
			fprintf(stderr, "curate scorer train: -m BASE and -o OUT are required\n");
		return 2;
	}
	char **over = xcalloc((size_t)a->npos + 4, sizeof *over);
	const char **labels = xcalloc((size_t)a->npos + 1, sizeof *labels);
	size_t nover = 0, nlabels = 0;
	for (int i = 0; i < a->npos; i++) {
		const char *x = a->pos[i];
		if (!strchr(x, '='))
			labels[nlabels++] = x;
		else
			over[nover++] = strncmp(x, "scorer-train.", 13) ? xasprintf("scorer-train.%s", x)
								       : xstrdup(x);
	}
	static const char *const flags[][2] = {{"device", "device"}, {"threads", "threads"},
					       {"max-tokens", "max_tokens"}};
	for (size_t i = 0; i < ARRAY_LEN(flags); i++)
		if (cli_get(cmd, a, flags[i][0]))
			over[nover++] = xasprintf("scorer-train.%s=%s", flags[i][1],
						  cli_get(cmd, a, flags[i][0]));
	size_t nsec;
	const struct config_section *sec = stage_config_sections(&nsec);
	struct config *cfg = config_load(cli_get(cmd, a, "config"), sec, nsec, over, nover);
	int rc = 2;
	if (!cfg) {
		if (par_rank() == 0)
			fprintf(stderr, "curate scorer train: %s\n", err_get());
	} else if (!nlabels) {
		if (par_rank() == 0)
			fprintf(stderr, "curate scorer train: no label files (JSONL of id, text and "
					"score)\n");
	} else {
		struct train_io io = {base, out, labels, nlabels, cli_get(cmd, a, "dump-grads"),
				      cli_get(cmd, a, "restart") != NULL, false};
		rc = scorer_train(cfg, &io) < 0;
		if (rc && par_rank() == 0)
			fprintf(stderr, "curate scorer train: %s\n", err_get());
	}
	config_free(cfg);
	for (size_t i = 0; i < nover; i++)
		free(over[i]);
	free(over), free(labels);
	return rc;
}

int scorer_cmd(const struct cli_cmd *cmd, struct cli_args *a)
{
	const char *verb = a->npos ? a->pos[0] : "";
	if (!strcmp(verb, "train")) { /* every rank trains */
		a->pos++, a->npos--;
		int rc = cmd_train(cmd, a);
		a->pos--, a->npos++;
		return rc;
	}
	if (par_rank() != 0)
		return 0; /* one process does the work; the others have nothing to score */
	a->pos++, a->npos--;
	int rc;
	if (!strcmp(verb, "init"))
		rc = cmd_init(cmd, a);
	else if (!strcmp(verb, "score"))
		rc = cmd_score(cmd, a);
	else if (!strcmp(verb, "bench"))
		rc = cmd_bench(cmd, a);
	else {
		fprintf(stderr, "curate scorer: unknown verb '%s' (init, score, bench or train)\n",
			verb);
		rc = 2;
	}
	a->pos--, a->npos++;
	return rc;
}

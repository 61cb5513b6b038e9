/* langid: a map stage of natural-language identification with a fastText model (lid.176,
 * GlotLID: same format), as datatrove's LanguageFilter, Dolma and NeMo Curator run it on web
 * text. The prose of a page is what lies outside its Markdown code fences (crawl-web writes
 * code blocks as fences), newlines read as spaces, one example a page; the best label and its
 * probability go to metadata.language and metadata.language_score. Documents of other sources
 * pass untouched. docs/langid.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasttext/fasttext.h"
#include "log.h"
#include "stages.h"
#include "web/fence.h"

static const struct opt_def langid_opts[] = {
	{"model", OPT_STR, "", 0, 0, NULL,
	 "fastText language-ID model (.bin or .ftz: lid.176, GlotLID); required. scripts/lid176.sh "
	 "fetches lid.176.ftz."},
	{"languages", OPT_LIST, "[]", 0, 0, NULL,
	 "Keep only pages whose best label is one of these (\"en\", or \"__label__en\"; reason "
	 "language); empty: every language."},
	{"threshold", OPT_FLOAT, "0.65", 0, 1, NULL,
	 "Drop a page whose best label's probability is below this (reason language_score); "
	 "datatrove's LanguageFilter default. 0: off."},
	{"action", OPT_ENUM, "drop", 0, 0, "drop|tag",
	 "drop: apply languages and threshold; tag: only write the metadata, keep every page."},
	{"sources", OPT_LIST, "[web]", 0, 0, NULL,
	 "Document sources the stage identifies; documents of other sources pass untouched."},
	{"code_fences", OPT_BOOL, "true", 0, 0, NULL,
	 "Leave Markdown code fences (```) out of the text identified, so code does not vote."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct langid {
	struct ft_model *model;
	struct ft_state *state;
	int *keep; /* per label id: 1 when listed (all 1 with an empty list) */
	double threshold;
	int tag_only, fences;
	const char *const *sources;
	size_t nsources;
	struct buf text; /* the page's prose on one line */
};

/* The model file's content is part of what defines the output. */
static int langid_signature(struct stage_run *run, struct buf *sig)
{
	const char *path = config_str(run->cfg, "langid.model");
	char hex[SHA256_HEX];
	if (!*path) {
		err_set("langid.model is empty: name a fastText language-ID model (.bin or .ftz)");
		return -1;
	}
	if (sha256_file_hex(path, hex) < 0)
		return -1;
	buf_printf(sig, "model %s\n", hex);
	return 0;
}

static void langid_teardown(struct stage_run *run)
{
	struct langid *l = run->state;
	if (!l)
		return;
	ft_state_free(l->state);
	ft_model_free(l->model);
	free(l->keep);
	buf_release(&l->text);
	free(l);
	run->state = NULL;
}

/* A label without fastText's prefix: "__label__en" -> "en". */
static const char *bare_label(const char *label)
{
	return strncmp(label, "__label__", 9) ? label : label + 9;
}

static int langid_setup(struct stage_run *run)
{
	const struct config *c = run->cfg;
	struct langid *l = xcalloc(1, sizeof *l);
	run->state = l;
	const char *path = config_str(c, "langid.model");
	if (!*path) {
		err_set("langid.model is empty: name a fastText language-ID model (.bin or .ftz)");
		goto fail;
	}
	if (!(l->model = ft_model_open(path)))
		goto fail;
	int nl = ft_model_nlabels(l->model);
	const char *const *langs;
	size_t nlangs = config_list(c, "langid.languages", &langs);
	l->keep = xcalloc((size_t)nl, sizeof *l->keep);
	for (int i = 0; i < nl; i++)
		l->keep[i] = nlangs == 0;
	for (size_t j = 0; j < nlangs; j++) {
		int found = 0;
		for (int i = 0; i < nl; i++)
			if (!strcmp(bare_label(ft_model_label(l->model, i)), bare_label(langs[j])))
				l->keep[i] = found = 1;
		if (!found) {
			err_set("langid.languages: %s: the model %s has no such label", langs[j], path);
			goto fail;
		}
	}
	l->state = ft_state_new(l->model);
	l->threshold = config_float(c, "langid.threshold");
	l->tag_only = !strcmp(config_str(c, "langid.action"), "tag");
	l->fences = config_bool(c, "langid.code_fences");
	l->nsources = config_list(c, "langid.sources", &l->sources);
	log_info("langid: model %s: %d labels; %s", path, nl,
		 l->tag_only ? "tagging only" : "dropping by language and score");
	return 0;
fail:
	/* on failure the driver does not call teardown */
	langid_teardown(run);
	return -1;
}

/* The text fastText reads into l->text: the lines outside fences (an unclosed fence runs to
 * the end, as in CommonMark), newlines as spaces, one newline at the end. Returns the number
 * of bytes of prose that are not blanks. */
static size_t langid_prose(struct buf *out, const char *p, size_t n, int fences)
{
	struct md_fences f = {0};
	size_t words = 0;
	const char *end = p + n;
	buf_reset(out);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		/* the opening line (``` and an info string) is markup, not prose */
		if (!fences || !md_fence_line(&f, p, len)) {
			buf_append(out, p, len);
			buf_putc(out, ' ');
			for (size_t i = 0; i < len; i++)
				words += p[i] != ' ' && p[i] != '\t' && p[i] != '\r';
		}
		p = nl ? nl + 1 : end;
	}
	if (out->len)
		out->len--; /* the space after the last line */
	buf_putc(out, '\n'); /* the end of line fastText (and its Python predict) reads */
	return words;
}

static int langid_map(struct stage_run *run, struct doc *d, const char **reason)
{
	struct langid *l = run->state;
	struct stats *st = stage_stats(run);
	if (!str_listed(d->source.p ? d->source.p : "", l->sources, l->nsources)) {
		stats_count(st, "other_source", 1);
		return 1;
	}
	if (!langid_prose(&l->text, d->text.p ? d->text.p : "", d->text.len, l->fences)) {
		/* nothing but code (or blanks): no language to judge, the page is kept */
		stats_count(st, "no_prose", 1);
		return 1;
	}
	struct ft_pred best;
	if (ft_predict(l->model, l->state, l->text.p, l->text.len, 1, 0.0f, &best) < 1) {
		stats_count(st, "no_prose", 1);
		return 1;
	}
	/* the probability as fastText prints it: six significant digits, at most 1 */
	char s[32], name[64];
	double pr = ft_pred_prob(&best);
	snprintf(s, sizeof s, "%.6g", pr > 1 ? 1.0 : pr);
	double p = strtod(s, NULL);
	const char *lang = bare_label(ft_model_label(l->model, best.label));
	json_object_set_new(d->meta, "language", json_string(lang));
	json_object_set_new(d->meta, "language_score", json_real(p));
	stats_count(st, "identified", 1);
	snprintf(name, sizeof name, "lang_%s", lang);
	stats_count(st, name, 1);
	if (l->tag_only)
		return 1;
	if (!l->keep[best.label])
		return *reason = "language", 0;
	if (p < l->threshold)
		return *reason = "language_score", 0;
	return 1;
}

const struct stage_def stage_langid = {
	.name = "langid",
	.kind = STAGE_MAP,
	.summary = "identify the natural language of web pages (fastText lid.176), keep chosen ones",
	.opts = langid_opts,
	.version = 1,
	.signature = langid_signature,
	.setup = langid_setup,
	.teardown = langid_teardown,
	.map = langid_map,
};

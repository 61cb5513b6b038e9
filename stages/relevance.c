/* relevance: a map stage that keeps code-related web pages, as Seed-Coder recalls them: pages
 * that crawl-web found with code markup pass, the other web pages are classified with a
 * fastText model and kept when P(code label) >= threshold (recorded as metadata.relevance);
 * documents from other sources pass untouched. docs/relevance.md; the classifier is
 * stages/fasttext/, memory-mapped so ranks on one node share the model's pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasttext/fasttext.h"
#include "log.h"
#include "stages.h"

static const struct opt_def relevance_opts[] = {
	{"model", OPT_STR, "", 0, 0, NULL,
	 "fastText model (.bin or .ftz) that scores pages; required. Train one with `curate "
	 "fasttext supervised` or `curate fasttext split-eval` (docs/relevance.md)."},
	{"label", OPT_STR, "__label__code", 0, 0, NULL,
	 "The model's label for code-related pages; its probability is compared with threshold."},
	{"threshold", OPT_FLOAT, "0.5", 0, 1, NULL,
	 "Keep a classified page when P(label) >= this (reason below_threshold); choose it for a "
	 "target recall with `curate fasttext split-eval`."},
	{"sources", OPT_LIST, "[web]", 0, 0, NULL,
	 "Document sources the stage classifies; documents of other sources pass untouched."},
	{"markup_field", OPT_STR, "has_code_markup", 0, 0, NULL,
	 "Metadata flag set by crawl-web on pages with <pre>/<code>: such pages pass unscored."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct relevance {
	struct ft_model *model;
	struct ft_state *state;
	struct ft_pred *preds;
	int label;
	double threshold;
	const char *const *sources;
	size_t nsources;
	const char *markup;
	struct buf text; /* the page on one line */
};

/* The model file's content is part of what defines the output. */
static int relevance_signature(struct stage_run *run, struct buf *sig)
{
	const char *path = config_str(run->cfg, "relevance.model");
	char hex[SHA256_HEX];
	if (!*path) {
		err_set("relevance.model is empty: name a fastText model (.bin or .ftz)");
		return -1;
	}
	if (sha256_file_hex(path, hex) < 0)
		return -1;
	buf_printf(sig, "model %s\n", hex);
	return 0;
}

static void relevance_teardown(struct stage_run *run)
{
	struct relevance *r = run->state;
	if (!r)
		return;
	ft_state_free(r->state);
	ft_model_free(r->model);
	free(r->preds);
	buf_release(&r->text);
	free(r);
	run->state = NULL;
}

/* On failure the driver does not call teardown, so setup cleans up itself. */
static int relevance_setup_fail(struct stage_run *run)
{
	relevance_teardown(run);
	return -1;
}

static int relevance_setup(struct stage_run *run)
{
	const struct config *c = run->cfg;
	struct relevance *r = xcalloc(1, sizeof *r);
	run->state = r;
	const char *path = config_str(c, "relevance.model");
	const char *label = config_str(c, "relevance.label");
	if (!*path) {
		err_set("relevance.model is empty: name a fastText model (.bin or .ftz)");
		return relevance_setup_fail(run);
	}
	if (!(r->model = ft_model_open(path)))
		return relevance_setup_fail(run);
	r->label = ft_model_label_id(r->model, label);
	if (r->label < 0) {
		err_set("%s: the model has no label '%s' (relevance.label)", path, label);
		return relevance_setup_fail(run);
	}
	r->state = ft_state_new(r->model);
	r->preds = xcalloc((size_t)ft_model_nlabels(r->model) + 1, sizeof *r->preds);
	r->threshold = config_float(c, "relevance.threshold");
	r->nsources = config_list(c, "relevance.sources", &r->sources);
	r->markup = config_str(c, "relevance.markup_field");
	log_info("relevance: model %s: %d labels, dim %d; keeping %s at P >= %g", path,
		 ft_model_nlabels(r->model), ft_model_dim(r->model), label, r->threshold);
	return 0;
}

/* P(label) of the page as fastText gives it, newlines read as spaces and one newline at
 * the end (one example per page, as datatrove and DCLM feed pages to fastText), clamped to 1 and rounded to the six
 * digits fastText prints. */
static double page_prob(struct relevance *r, const struct doc *d)
{
	buf_set(&r->text, d->text.p ? d->text.p : "", d->text.len);
	for (size_t i = 0; i < r->text.len; i++)
		if (r->text.p[i] == '\n')
			r->text.p[i] = ' ';
	buf_putc(&r->text, '\n'); /* the end of line fastText (and its Python predict) reads */
	int n = ft_predict(r->model, r->state, r->text.p, r->text.len, -1, 0.0f, r->preds);
	double p = 0;
	for (int i = 0; i < n; i++)
		if (r->preds[i].label == r->label)
			p = ft_pred_prob(&r->preds[i]);
	char s[32];
	snprintf(s, sizeof s, "%.6g", p > 1 ? 1.0 : p);
	return strtod(s, NULL);
}

static int relevance_map(struct stage_run *run, struct doc *d, const char **reason)
{
	struct relevance *r = run->state;
	struct stats *st = stage_stats(run);
	if (!str_listed(d->source.p ? d->source.p : "", r->sources, r->nsources)) {
		stats_count(st, "other_source", 1);
		return 1;
	}
	if (json_is_true(json_object_get(d->meta, r->markup))) {
		stats_count(st, "code_markup", 1);
		return 1;
	}
	double p = page_prob(r, d);
	stats_count(st, "classified", 1);
	json_object_set_new(d->meta, "relevance", json_real(p));
	if (p < r->threshold)
		return *reason = "below_threshold", 0;
	stats_count(st, "classified_kept", 1);
	return 1;
}

const struct stage_def stage_relevance = {
	.name = "relevance",
	.kind = STAGE_MAP,
	.summary = "keep code-related web pages: code markup, or a fastText score >= threshold",
	.opts = relevance_opts,
	.version = 1,
	.signature = relevance_signature,
	.setup = relevance_setup,
	.teardown = relevance_teardown,
	.map = relevance_map,
};

/* filter: a map stage of basic document filters by length, line length, alphanumeric share,
 * source and required metadata, with a drop reason each. Language-aware code filters belong
 * to crawl-github; this is the generic gate users put after `import`. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"

static const struct opt_def filter_opts[] = {
	{"min_chars", OPT_INT, "1", 0, 1e12, NULL,
	 "Drop documents with fewer bytes of text than this (reason too_short; 1 drops empty)."},
	{"max_chars", OPT_INT, "0", 0, 1e12, NULL,
	 "Drop documents with more bytes of text than this (reason too_long); 0: no limit."},
	{"max_line_length", OPT_INT, "0", 0, 1e12, NULL,
	 "Drop documents with a line longer than this many bytes (reason long_line); 0: off."},
	{"min_alnum_fraction", OPT_FLOAT, "0", 0, 1, NULL,
	 "Drop documents whose share of ASCII letters and digits is below this (low_alnum)."},
	{"sources", OPT_LIST, "[]", 0, 0, NULL,
	 "Keep only documents whose source is one of these (reason source); empty: all."},
	{"require_metadata", OPT_LIST, "[]", 0, 0, NULL,
	 "Drop documents lacking any of these metadata fields (reason missing_metadata)."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct filter {
	int64_t min_chars, max_chars, max_line;
	double min_alnum;
	const char *const *sources, *const *required;
	size_t nsources, nrequired;
};

static int filter_setup(struct stage_run *run)
{
	struct filter *f = xcalloc(1, sizeof *f);
	f->min_chars = config_int(run->cfg, "filter.min_chars");
	f->max_chars = config_int(run->cfg, "filter.max_chars");
	f->max_line = config_int(run->cfg, "filter.max_line_length");
	f->min_alnum = config_float(run->cfg, "filter.min_alnum_fraction");
	f->nsources = config_list(run->cfg, "filter.sources", &f->sources);
	f->nrequired = config_list(run->cfg, "filter.require_metadata", &f->required);
	run->state = f;
	return 0;
}

static void filter_teardown(struct stage_run *run) { free(run->state); }

/* The longest line in bytes, by memchr over the newlines. */
static size_t longest_line(const char *p, size_t n)
{
	size_t best = 0;
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		best = len > best ? len : best;
		p = nl ? nl + 1 : end;
	}
	return best;
}

static double alnum_fraction(const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += isalnum((unsigned char)p[i]) != 0;
	return n ? (double)k / (double)n : 0;
}

static int filter_map(struct stage_run *run, struct doc *d, const char **reason)
{
	const struct filter *f = run->state;
	size_t n = d->text.len;
	if ((int64_t)n < f->min_chars)
		return *reason = "too_short", 0;
	if (f->max_chars && (int64_t)n > f->max_chars)
		return *reason = "too_long", 0;
	if (f->nsources && !str_listed(d->source.p ? d->source.p : "", f->sources, f->nsources))
		return *reason = "source", 0;
	for (size_t i = 0; i < f->nrequired; i++)
		if (!json_object_get(d->meta, f->required[i]))
			return *reason = "missing_metadata", 0;
	if (f->max_line && (int64_t)longest_line(d->text.p, n) > f->max_line)
		return *reason = "long_line", 0;
	if (f->min_alnum > 0 && alnum_fraction(d->text.p, n) < f->min_alnum)
		return *reason = "low_alnum", 0;
	return 1;
}

const struct stage_def stage_filter = {
	.name = "filter",
	.kind = STAGE_MAP,
	.summary = "drop documents by length, line length, alphanumeric share, source, metadata",
	.opts = filter_opts,
	.version = 1,
	.setup = filter_setup,
	.teardown = filter_teardown,
	.map = filter_map,
};

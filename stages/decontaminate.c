/* decontaminate: a map stage that drops documents sharing a word n-gram (10 by default) with
 * the evaluation sets users bring (HumanEval, MBPP, ...), as Seed-Coder does. Every rank loads
 * the same files into the same index in setup; docs/decontaminate.md has the rules. */
#include <stdlib.h>
#include <string.h>

#include "decontaminate/evalset.h"
#include "log.h"
#include "stages.h"

static const struct opt_def decon_opts[] = {
	{"evalsets", OPT_LIST, "[]", 0, 0, NULL,
	 "Evaluation sets, each NAME=PATH[:FIELD,FIELD...]: NAME names the benchmark in reports "
	 "and drop reasons; PATH is JSONL (.jsonl/.ndjson/.json, optionally .gz/.zst) read for "
	 "the listed fields (else `fields`), or plain text split by `text_unit`. Required."},
	{"fields", OPT_LIST,
	 "[prompt, canonical_solution, test, text, code, test_list, complete_prompt, "
	 "instruct_prompt, question_content]",
	 0, 0, NULL,
	 "JSONL fields whose text forms an item, for files that name none; absent fields are "
	 "skipped, a record with none of them is an error."},
	{"id_fields", OPT_LIST, "[task_id, question_id, id]", 0, 0, NULL,
	 "JSONL fields giving an item's id (first present wins); else the id is line:N."},
	{"text_unit", OPT_ENUM, "file", 0, 0, "file|block|line",
	 "Plain text evaluation files: the whole file is one item, or each blank-line-separated "
	 "block, or each non-blank line."},
	{"n", OPT_INT, "10", 1, 64, NULL, "Words per n-gram."},
	{"threshold", OPT_INT, "1", 1, 1000, NULL,
	 "Drop a document when at least this many distinct n-grams of the evaluation sets "
	 "occur in it (1: any)."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct decon {
	struct evalset *es;
	uint32_t threshold;
	struct buf hit_buf, scratch;
};

static void log_evalsets(const struct evalset *es, unsigned n)
{
	char size[32];
	format_size(evalset_bytes(es), size, sizeof size);
	log_info("decontaminate: %zu items in %zu benchmarks, %zu distinct %u-grams, %s",
		 evalset_items(es), evalset_benchmarks(es), evalset_grams(es), n, size);
	for (size_t b = 0; b < evalset_benchmarks(es); b++)
		if (evalset_benchmark_short(es, b))
			log_warn("decontaminate: %s: %zu of %zu items have fewer than %u words and "
				 "cannot match", evalset_benchmark_name(es, b),
				 evalset_benchmark_short(es, b), evalset_benchmark_items(es, b), n);
}

/* The evaluation files' contents define the output as much as their paths do: their SHA-256
 * joins the fingerprint, so editing an evaluation set reruns the stage. */
static int decon_signature(struct stage_run *run, struct buf *sig)
{
	const char *const *specs;
	size_t nspecs = config_list(run->cfg, "decontaminate.evalsets", &specs);
	for (size_t i = 0; i < nspecs; i++) {
		char *name, *path, *fields, hex[SHA256_HEX];
		if (evalset_parse_spec(specs[i], &name, &path, &fields) < 0)
			return -1;
		int rc = sha256_file_hex(path, hex);
		if (!rc)
			buf_printf(sig, "evalset %s %s\n", specs[i], hex);
		free(name), free(path), free(fields);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int decon_setup(struct stage_run *run)
{
	const struct config *c = run->cfg;
	struct evalset_opts o = {0};
	const char *const *specs;
	size_t nspecs = config_list(c, "decontaminate.evalsets", &specs);
	if (!nspecs) {
		err_set("decontaminate.evalsets is empty: name the evaluation sets to check "
			"against (NAME=PATH[:FIELDS])");
		return -1;
	}
	o.n = (unsigned)config_int(c, "decontaminate.n");
	o.nfields = config_list(c, "decontaminate.fields", &o.fields);
	o.nid_fields = config_list(c, "decontaminate.id_fields", &o.id_fields);
	const char *unit = config_str(c, "decontaminate.text_unit");
	o.unit = !strcmp(unit, "block") ? EVALSET_BLOCK
		 : !strcmp(unit, "line") ? EVALSET_LINE
					 : EVALSET_FILE;
	struct evalset *es = evalset_new(&o);
	for (size_t i = 0; i < nspecs; i++)
		if (evalset_load(es, specs[i]) < 0) {
			evalset_free(es);
			return -1;
		}
	evalset_build(es);
	log_evalsets(es, o.n);
	struct decon *d = xcalloc(1, sizeof *d);
	d->es = es;
	d->threshold = (uint32_t)config_int(c, "decontaminate.threshold");
	run->state = d;
	return 0;
}

static void decon_teardown(struct stage_run *run)
{
	struct decon *d = run->state;
	evalset_free(d->es);
	buf_release(&d->hit_buf);
	buf_release(&d->scratch);
	free(d);
}

/* Ids and words of plain text evaluation files may hold invalid UTF-8; JSON may not. */
static json_t *utf8_json(struct buf *scratch, const char *s)
{
	buf_reset(scratch);
	utf8_repair(scratch, s, strlen(s));
	return json_stringn(scratch->p ? scratch->p : "", scratch->len);
}

static int decon_map(struct stage_run *run, struct doc *d, const char **reason)
{
	struct decon *dc = run->state;
	struct evalset_hit h;
	if (!evalset_check(dc->es, d->text.p ? d->text.p : "", d->text.len, dc->threshold, &h,
			   &dc->hit_buf))
		return 1;
	json_t *c = json_object();
	json_object_set_new(c, "benchmark", json_string(h.benchmark)); /* a checked name */
	json_object_set_new(c, "item", utf8_json(&dc->scratch, h.item));
	json_object_set_new(c, "ngram", utf8_json(&dc->scratch, h.ngram));
	json_object_set_new(c, "offset", json_integer((json_int_t)h.offset));
	json_object_set_new(c, "matches", json_integer((json_int_t)h.matches));
	json_object_set_new(d->meta, "contamination", c);
	*reason = h.reason;
	return 0;
}

const struct stage_def stage_decontaminate = {
	.name = "decontaminate",
	.kind = STAGE_MAP,
	.summary = "drop documents sharing a word n-gram with the evaluation sets (benchmark leaks)",
	.opts = decon_opts,
	.version = 1,
	.signature = decon_signature,
	.setup = decon_setup,
	.teardown = decon_teardown,
	.map = decon_map,
};

/* curate: the command-line driver. Every command is an MPI program: alone it is one rank,
 * under mpiexec or srun it is N. Commands come from the table below; stage commands are
 * generated from the stage table (stages/stages.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "fasttext/fasttext.h"
#include "inspect.h"
#include "lock.h"
#include "log.h"
#include "oracle/oracle.h"
#include "par.h"
#include "report.h"
#include "scorer.h"
#include "stage.h"
#include "stages.h"
#include "syntax.h"
#include "tokenize.h"
#include "xchg.h"

#ifndef CURATE_VERSION
#define CURATE_VERSION "0.1.0"
#endif

static int quiet(void) { return par_rank() != 0; }

static const struct cli_opt stage_opts[] = {
	{"config", 'c', "FILE", "the YAML config (default: built-in defaults)"},
	{"force", 0, NULL, "rerun from scratch even if up to date"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_opt config_only_opts[] = {
	{"config", 'c', "FILE", "the YAML config (default: built-in defaults)"},
	{"origin", 0, NULL, "comment each value with where it came from"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_opt status_opts[] = {
	{"config", 'c', "FILE", "the YAML config (default: built-in defaults)"},
	{"verify", 0, NULL, "also compare every output's SHA-256 with its manifest"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_opt inspect_opts[] = {
	{"records", 'n', "N", "print the first N records (default 3)"},
	{"raw", 0, NULL, "print records as their JSON lines, whole"},
	{"summary", 's', NULL, "print only the counts and metadata summary"},
	{NULL, 0, NULL, NULL},
};

static const struct cli_opt no_opts[] = {{NULL, 0, NULL, NULL}};

static const struct cli_opt unlock_opts[] = {
	{"config", 'c', "FILE", "the YAML config (default: built-in defaults)"},
	{NULL, 0, NULL, NULL},
};

/* Loads the config named by -c (or defaults) with the KEY=VALUE positionals applied. */
static struct config *load_config(const struct cli_cmd *cmd, struct cli_args *a)
{
	size_t nsec;
	const struct config_section *sec = stage_config_sections(&nsec);
	for (int i = 0; i < a->npos; i++) {
		if (!strchr(a->pos[i], '=')) {
			if (!quiet())
				fprintf(stderr, "curate %s: unexpected argument '%s' (overrides are "
						"KEY=VALUE); see 'curate %s --help'\n",
					cmd->name, a->pos[i], cmd->name);
			return NULL;
		}
	}
	struct config *cfg = config_load(cli_get(cmd, a, "config"), sec, nsec, a->pos,
					 (size_t)a->npos);
	if (!cfg) {
		if (!quiet())
			fprintf(stderr, "curate %s: %s\n", cmd->name, err_get());
		return NULL;
	}
	log_max_level = log_parse_level(config_str(cfg, "log_level"));
	return cfg;
}

/* The command line, for the workdir lock's description of its holder. */
static char *command_line;

/* Takes the workdir lock for a command that writes the workdir, then removes the spill
 * files killed runs left (docs/operations.md, "One run per workdir"). 0, or -1 with the
 * error printed. */
static int begin_writing(const struct cli_cmd *cmd, const struct config *cfg)
{
	const char *workdir = config_str(cfg, "workdir");
	/* before the lock, whose own handler then stays out of the way */
	stage_catch_stop(config_float(cfg, "stop_grace"));
	if (lock_take(workdir, command_line) < 0) {
		if (!quiet())
			fprintf(stderr, "curate %s: %s\n", cmd->name, err_get());
		return -1;
	}
	/* <workdir>/tmp is this workdir's alone, and the lock says no other run is live:
	 * every spill there is a leftover. A tmpdir of the user's may be shared with other
	 * workdirs: only spills of this host's dead processes go, on every node. */
	const char *t = config_str(cfg, "tmpdir");
	char *dir = stage_spill_dir(cfg);
	uint64_t bytes = 0;
	int n = 0;
	if (*t || par_rank() == 0)
		n = xchg_remove_stale(dir, !*t, &bytes);
	if (n)
		log_warn("removed %d spill director%s of earlier runs from %s (%.1f MiB)", n,
			 n == 1 ? "y" : "ies", dir, (double)bytes / (1 << 20));
	free(dir);
	par_barrier(); /* no rank spills before rank 0 has swept */
	return 0;
}

/* `stages` as a YAML flow list, items joined by sep. Caller frees. */
static char *stages_text(const char *const *list, size_t n, const char *sep)
{
	struct buf b = BUF_INIT;
	buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? sep : "", list[i]);
	buf_putc(&b, ']');
	return b.p;
}

static size_t pipeline_index(const char *name)
{
	for (size_t i = 0; i < stage_count; i++)
		if (!strcmp(stage_table[i]->name, name))
			return i;
	return stage_count;
}

/* The error for a stage that `stages` does not place after another: the command line that
 * runs it on the output it should read, with `stages` as the pipeline order puts it. */
static void say_no_upstream(const struct cli_cmd *cmd, const struct cli_args *a,
			    const struct config *cfg, const char *name)
{
	const char *const *list;
	size_t n = config_list(cfg, "stages", &list), at = n, k = 0;
	int listed = 0;
	for (size_t i = 0; i < n; i++)
		listed |= !strcmp(list[i], name);
	for (size_t i = n; !listed && i-- > 0;)
		if (pipeline_index(list[i]) > pipeline_index(name))
			at = i;
	const char **with = xcalloc(n + 2, sizeof *with);
	if (listed || at == 0) /* nothing before it: a source must come first */
		with[k++] = "import";
	for (size_t i = 0; i < n; i++) {
		if (i == at)
			with[k++] = name;
		with[k++] = list[i];
	}
	if (!listed && at == n)
		with[k++] = name;
	struct buf again = BUF_INIT;
	buf_printf(&again, "curate %s", cmd->name);
	if (cli_get(cmd, a, "config"))
		buf_printf(&again, " -c %s", cli_get(cmd, a, "config"));
	for (int i = 0; i < a->npos; i++)
		if (strncmp(a->pos[i], "stages=", 7))
			buf_printf(&again, " %s", a->pos[i]);
	char *have = stages_text(list, n, ", "), *want = stages_text(with, k, ",");
	if (!quiet())
		fprintf(stderr,
			"curate %s: stage %s reads the output of the stage before it in `stages`, "
			"but `stages` (%s) is %s, which %s; pass `stages` with it after the stage "
			"it should read: %s stages=%s\n",
			cmd->name, name, config_origin(cfg, "stages"), have,
			listed ? "has no stage before it" : "does not list it", again.p, want);
	free(have), free(want), free(with);
	buf_release(&again);
}

/* Checks `stages` before anything runs: known stages, each once; for `run` (all) at least
 * one, and each stage that reads another's output placed after one. 0, or -1 with the
 * error printed. */
static int check_stages(const struct cli_cmd *cmd, const struct cli_args *a,
			const struct config *cfg, int all)
{
	const char *const *list;
	size_t n = config_list(cfg, "stages", &list);
	const char *where = config_origin(cfg, "stages");
	for (size_t i = 0; i < n; i++) {
		const char *e = !stage_find(list[i]) ? "unknown stage" : NULL;
		for (size_t j = 0; j < i && !e; j++)
			if (!strcmp(list[i], list[j]))
				e = "listed twice (a stage runs once; its output is one directory)";
		if (e && !quiet())
			fprintf(stderr, "curate %s: %s: stages: '%s' %s\n", cmd->name, where,
				list[i], e);
		if (e)
			return -1;
	}
	if (all && !n) {
		if (!quiet())
			fprintf(stderr, "curate %s: %s: stages: the list is empty, nothing to run; "
					"name the stages to run, e.g. stages=[import]\n",
				cmd->name, where);
		return -1;
	}
	for (size_t i = 0; i < (all ? n : 1); i++) {
		const struct stage_def *d = all ? stage_find(list[i]) : cmd->stage;
		if (d->kind != STAGE_SOURCE && !stage_upstream(cfg, d->name)) {
			say_no_upstream(cmd, a, cfg, d->name);
			return -1;
		}
	}
	/* what the stages name, before the first one runs: an error in the last stage costs
	 * a second, not the hours of the stages before it */
	struct buf why = BUF_INIT;
	const char *one = all ? NULL : cmd->stage->name;
	int bad = stage_check_config(cfg, all ? list : &one, all ? n : 1, &why);
	if (bad && !quiet())
		fprintf(stderr, "curate %s: the config has %d problem%s%s:\n%s", cmd->name, bad,
			bad == 1 ? "" : "s", strcmp(cmd->name, "config") ? "; nothing was run" : "",
			why.p);
	buf_release(&why);
	return bad ? -1 : 0;
}

static int cmd_stage(const struct cli_cmd *cmd, struct cli_args *a)
{
	struct config *cfg = load_config(cmd, a);
	if (!cfg)
		return 2;
	if (check_stages(cmd, a, cfg, 0) < 0) {
		config_free(cfg);
		return 2;
	}
	int rc = 1;
	if (begin_writing(cmd, cfg) == 0) {
		struct stage_opts o = {cli_get(cmd, a, "force") != NULL};
		rc = stage_execute(cmd->stage, cfg, &o) ? 1 : 0;
		lock_release();
	}
	config_free(cfg);
	return rc;
}

static int cmd_run(const struct cli_cmd *cmd, struct cli_args *a)
{
	struct config *cfg = load_config(cmd, a);
	if (!cfg)
		return 2;
	if (check_stages(cmd, a, cfg, 1) < 0) {
		config_free(cfg);
		return 2;
	}
	if (begin_writing(cmd, cfg) < 0) {
		config_free(cfg);
		return 1;
	}
	const char *const *list;
	size_t n = config_list(cfg, "stages", &list);
	struct stage_opts o = {cli_get(cmd, a, "force") != NULL};
	double t0 = now_seconds();
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (i && stage_stop_anywhere()) { /* after a global stage that ran to its end */
			if (par_rank() == 0)
				log_warn("run: stopped on request before stage %s; run the same command "
					 "again to resume", list[i]);
			rc = 1;
			break;
		}
		rc = stage_execute(stage_find(list[i]), cfg, &o);
	}
	if (!rc)
		log_info("run: %zu stages complete in %.1fs; outputs under %s/", n,
			 now_seconds() - t0, config_str(cfg, "workdir"));
	lock_release();
	config_free(cfg);
	return rc ? 1 : 0;
}

static int cmd_unlock(const struct cli_cmd *cmd, struct cli_args *a)
{
	struct config *cfg = load_config(cmd, a);
	if (!cfg)
		return 2;
	int rc = 0;
	if (!quiet()) {
		char *holder = NULL;
		const char *workdir = config_str(cfg, "workdir");
		int r = lock_clear(workdir, &holder);
		if (r < 0)
			fprintf(stderr, "curate unlock: %s\n", err_get());
		else if (r == 0)
			printf("curate unlock: %s is not locked\n", workdir);
		else
			printf("curate unlock: removed the lock of %s from %s\n", holder, workdir);
		rc = r < 0;
		free(holder);
	}
	config_free(cfg);
	return par_all_ok(!rc) ? 0 : 1;
}

static int cmd_status(const struct cli_cmd *cmd, struct cli_args *a)
{
	struct config *cfg = load_config(cmd, a);
	if (!cfg)
		return 2;
	static const char *names[] = {"not run", "partial", "stale", "done", "done?"};
	const char *const *list;
	size_t n = config_list(cfg, "stages", &list);
	if (log_max_level == LOG_INFO)
		log_max_level = LOG_WARN; /* planning chatter is not a status */
	verify_outputs = cli_get(cmd, a, "verify") != NULL;
	const char *first_pending = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct stage_def *def = stage_find(list[i]);
		if (!def)
			continue;
		uint32_t done, total;
		struct buf why = BUF_INIT;
		enum stage_state s = stage_status(def, cfg, &done, &total, &why);
		/* a stage after one that will run reruns too: its input will change */
		if (s == STATE_DONE && first_pending) {
			s = STATE_STALE;
			buf_printf(&why, "%sstage %s before it will run first", why.len ? "; " : "",
				   first_pending);
		}
		if (s != STATE_DONE && s != STATE_UNCHECKED && !first_pending)
			first_pending = def->name;
		char shards[48];
		if (s == STATE_PARTIAL && !total)
			snprintf(shards, sizeof shards, "%u parts", done);
		else
			snprintf(shards, sizeof shards, "%u/%u shards", done, total);
		if (!quiet())
			printf("%-14s %-8s %-*s%s\n", def->name, names[s], why.len ? 17 : 0,
			       shards, why.len ? why.p : "");
		buf_release(&why);
	}
	struct buf why = BUF_INIT;
	int bad = stage_check_config(cfg, list, n, &why);
	if (bad && !quiet())
		printf("config: %d problem%s a run would stop at:\n%s", bad, bad == 1 ? "" : "s",
		       why.p);
	buf_release(&why);
	config_free(cfg);
	return 0;
}

static int cmd_config(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (a->npos < 1 || (strcmp(a->pos[0], "show") && strcmp(a->pos[0], "defaults") &&
			    strcmp(a->pos[0], "reference") && strcmp(a->pos[0], "check"))) {
		if (!quiet())
			fprintf(stderr, "curate config: expected 'show', 'check', 'defaults' or "
					"'reference'; see 'curate config --help'\n");
		return 2;
	}
	if (!strcmp(a->pos[0], "check")) {
		struct cli_args rest = *a;
		rest.pos++, rest.npos--;
		struct config *cfg = load_config(cmd, &rest);
		if (!cfg)
			return 2;
		const char *const *list;
		size_t n = config_list(cfg, "stages", &list);
		int rc = check_stages(cmd, &rest, cfg, 1);
		if (!rc && !quiet())
			printf("%s: %zu stages checked, no problems\n",
			       config_path(cfg) ? config_path(cfg) : "the defaults", n);
		config_free(cfg);
		return rc ? 1 : 0;
	}
	if (!strcmp(a->pos[0], "reference")) {
		size_t nsec;
		const struct config_section *sec = stage_config_sections(&nsec);
		static const char *const kind[] = {"source stage", "map stage", "global stage"};
		const char **kinds = xcalloc(nsec, sizeof *kinds);
		for (size_t i = 1; i < nsec; i++)
			kinds[i] = i <= stage_count ? kind[stage_table[i - 1]->kind] : "Not a stage";
		if (!quiet())
			config_write_reference(sec, nsec, kinds, stdout);
		free(kinds);
		return 0;
	}
	if (!strcmp(a->pos[0], "defaults")) {
		size_t nsec;
		const struct config_section *sec = stage_config_sections(&nsec);
		if (!quiet())
			config_write_defaults(sec, nsec, stdout);
		return 0;
	}
	struct cli_args rest = *a;
	rest.pos++, rest.npos--;
	struct config *cfg = load_config(cmd, &rest);
	if (!cfg)
		return 2;
	if (!quiet())
		config_show(cfg, stdout, cli_get(cmd, a, "origin") != NULL);
	config_free(cfg);
	return 0;
}

static int cmd_inspect(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (a->npos < 1) {
		if (!quiet())
			fprintf(stderr, "curate inspect: expected a shard or stage directory; see "
					"'curate inspect --help'\n");
		return 2;
	}
	struct inspect_opts o = {3, cli_get(cmd, a, "raw") != NULL};
	const char *n = cli_get(cmd, a, "records");
	if (n) {
		char *end;
		o.records = strtol(n, &end, 10);
		if (*end || o.records < 0) {
			if (!quiet())
				fprintf(stderr, "curate inspect: -n expects a count, got '%s'\n", n);
			return 2;
		}
	}
	if (cli_get(cmd, a, "summary"))
		o.records = 0;
	if (quiet())
		return 0;
	int rc = 0;
	for (int i = 0; i < a->npos; i++)
		rc |= inspect_path(a->pos[i], &o, stdout) < 0;
	return rc ? 1 : 0;
}

static int cmd_version(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (!quiet())
		printf("curate %s\n", CURATE_VERSION);
	return 0;
}

static const struct cli_cmd fixed_cmds[] = {
	{"run", "[-c FILE] [--force] [KEY=VALUE...]",
	 "run the configured stages in order",
	 "Runs every stage of `stages` in order. Stages whose config section and input are\n"
	 "unchanged are skipped; a stage that was killed resumes at its unfinished shards.",
	 stage_opts, cmd_run, NULL},
	{"status", "[-c FILE] [--verify] [KEY=VALUE...]", "show each configured stage's state",
	 "Each stage: not run, partial (some shards done, or an interrupted global stage),\n"
	 "stale (its config or input changed), done (complete, every output on disk at its\n"
	 "size; --verify: and checksum), or done? (complete on disk, but what it needs to\n"
	 "plan is missing), with what a run would redo. Then the config's problems, if any.",
	 status_opts, cmd_status, NULL},
	{"unlock", "[-c FILE] [KEY=VALUE...]", "remove the workdir lock a killed run left",
	 "A run (and a stage command) holds <workdir>/.lock while it writes the workdir. A\n"
	 "stale lock on this host clears itself; one taken on another host cannot be\n"
	 "checked from here: once that run is surely gone, this removes it. A holder alive\n"
	 "on this host is never removed.",
	 unlock_opts, cmd_unlock, NULL},
	{"config", "show|check|defaults|reference [-c FILE] [--origin] [KEY=VALUE...]",
	 "print the effective config, check it, or print the documented defaults",
	 "'show' prints the effective config with defaults filled in; 'check' checks what\n"
	 "the configured stages need (options set, files that exist, options that agree)\n"
	 "as run does before its first stage, and exits 1 naming each problem; 'defaults' prints\n"
	 "every option with its documentation (configs/default.yaml); 'reference' prints\n"
	 "the stage reference as markdown (docs/stages.md).",
	 config_only_opts, cmd_config, NULL},
	{"inspect", "[-n N] [--raw] [--summary] PATH...",
	 "print records, counts and a metadata summary of shards",
	 "PATH is a shard (part-NNNNN.jsonl.zst) or a stage directory; a stage directory's\n"
	 "shards are checked against the SHA-256 in its manifest.",
	 inspect_opts, cmd_inspect, NULL},
	{"tokenizer", "encode|decode -t TOKENIZER [-e ENCODING] FILE",
	 "encode a file to token ids, or decode ids back to bytes",
	 "'encode' prints the ids of FILE's whole content as decimal integers separated by\n"
	 "spaces; 'decode' reads such ids from FILE and writes the bytes they stand for.\n"
	 "TOKENIZER is a tokenizer.json (byte-level BPE) or a .tiktoken rank file.",
	 tokenize_tokenizer_opts, tokenize_cmd_tokenizer, NULL},
	{"tokens", "info PREFIX|DIR | decode PREFIX --doc N [-t TOKENIZER | -c FILE]",
	 "describe Megatron token shards, or print one of their documents as text",
	 "PREFIX names PREFIX.bin and PREFIX.idx (e.g. work/tokenize/code/part-00000; a\n"
	 "name ending in .bin or .idx works too). 'info' prints the documents, tokens and\n"
	 "dtype; given a directory (work/tokenize, or one group's), every dataset in it with\n"
	 "its shards and the total. 'decode' prints document N decoded.",
	 tokenize_tokens_opts, tokenize_cmd_tokens, NULL},
	{"syntax-check", "[--lang L] [--timeout-ms MS] [--list] [--parse-only] FILE...",
	 "parse files with Tree-sitter: ok, or the first error's line and column",
	 "Shows why the syntax stage drops a file. The language comes from the file name\n"
	 "unless --lang names it. Exit 0 when every file is ok (or has no grammar), 1 if not.",
	 syntax_check_opts, syntax_check_cmd, NULL},
	{"report", "WORKDIR [-o FILE] [--no-languages]", "write an HTML report with charts of a workdir", "Writes one self-contained HTML page (inline SVG charts): documents and bytes through\nevery stage, drop reasons, languages, dedup cluster sizes, quality scores, tokens per\nshard. The default FILE is WORKDIR/report.html.", report_opts, report_cmd, NULL},
	{"scorer", "init|score|bench|train [-m DIR] [OPTIONS] [FILE...] [KEY=VALUE...]", "the quality scorer: make a random checkpoint, score files, measure tokens/s, train one", "'init --preset tiny|1.3b --seed S -t TOKENIZER -o DIR' writes a random checkpoint;\n'score -m DIR FILE...' prints one line per file: the score (six decimals), a tab, the path;\n'bench -m DIR' reports tokens/s and MFU;\n'train -m BASE -o OUT LABELS... [KEY=VALUE...]' fine-tunes BASE on rated documents\n(JSONL with id, text, score in [0, 1]: the oracle's labels) into a scorer in OUT; KEY is\nan option of the scorer-train section ('curate config defaults'), e.g. mode=head lr=1e-4.\nRun it under mpiexec for data-parallel training. docs/scorer-train.md.", scorer_cmd_opts, scorer_cmd, NULL},
	{"fasttext", "supervised|test|predict|predict-prob|quantize|split-eval ...", "fastText-compatible classifier: train, test, predict, quantize (curate fasttext help)", "Takes fastText's own options (-input, -output, -dim, ...); 'curate fasttext help'\nlists the verbs and options; docs/fasttext.md.", NULL, ft_cmd, NULL},
	{"oracle-template", "[NAME]", "print a shipped oracle prompt template, or list them",
	 "Prints the text of the shipped template NAME (code-quality, web-relevance,\n"
	 "web-quality) to copy and edit; oracle.template takes the edited file's path.\n"
	 "Without NAME lists them. docs/oracle.md explains the slots.",
	 no_opts, oracle_template_cmd, NULL},
	{"version", "", "print the version", NULL, no_opts, cmd_version, NULL},
};

static struct cli_cmd *commands;
static size_t ncommands;

static void build_commands(void)
{
	ncommands = ARRAY_LEN(fixed_cmds) + stage_count;
	commands = xcalloc(ncommands, sizeof *commands);
	size_t k = 0;
	/* stages first, in pipeline order: they are what users run */
	for (size_t i = 0; i < stage_count; i++) {
		const struct stage_def *s = stage_table[i];
		commands[k++] = (struct cli_cmd){
			s->name, "[-c FILE] [--force] [KEY=VALUE...]", s->summary,
			"Runs this stage alone. Its options are the config section of the same name\n"
			"(see 'curate config defaults'); KEY=VALUE overrides any option.",
			stage_opts, cmd_stage, s};
	}
	memcpy(commands + k, fixed_cmds, sizeof fixed_cmds);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: curate <command> [options] [KEY=VALUE...]\n\n"
		     "curate builds code pretraining corpora: crawl, deduplicate, filter, score and\n"
		     "tokenize, as MPI ranks (alone, or under mpiexec / srun).\n\n"
		     "stages:\n");
	int w = 12; /* the names in one column, as wide as the longest */
	for (size_t i = 0; i < ncommands; i++)
		if ((int)strlen(commands[i].name) > w)
			w = (int)strlen(commands[i].name);
	for (size_t i = 0; i < ncommands; i++) {
		if (i == stage_count)
			fprintf(out, "\ncommands:\n");
		fprintf(out, "  %-*s %s\n", w, commands[i].name, commands[i].summary);
	}
	fprintf(out, "\n'curate <command> --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	par_init(&argc, &argv);
	log_init(par_rank(), par_size());
	build_commands();
	struct buf line = BUF_INIT;
	buf_puts(&line, "curate");
	for (int i = 1; i < argc; i++)
		buf_printf(&line, " %s", argv[i]);
	command_line = line.p;
	int rc = 0;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		const struct cli_cmd *c = NULL;
		for (size_t i = 0; argc > 2 && i < ncommands; i++)
			if (!strcmp(commands[i].name, argv[2]))
				c = &commands[i];
		if (!quiet())
			c ? cli_help_command(c, stdout) : usage(argc < 2 ? stderr : stdout);
		rc = argc < 2 ? 2 : 0;
	} else if (!strcmp(argv[1], "--version")) {
		rc = cmd_version(NULL, NULL);
	} else {
		const struct cli_cmd *c = NULL;
		for (size_t i = 0; i < ncommands; i++)
			if (!strcmp(commands[i].name, argv[1]))
				c = &commands[i];
		if (!c) {
			if (!quiet())
				fprintf(stderr, "curate: unknown command '%s'; see 'curate --help'\n",
					argv[1]);
			rc = 2;
		} else {
			struct cli_args a;
			int p = cli_parse(c, argc - 2, argv + 2, &a, quiet());
			rc = p < 0 ? 2 : p > 0 ? 0 : c->fn(c, &a);
			free(a.pos);
		}
	}
	free(commands);
	buf_release(&line);
	fflush(stdout);
	par_finalize();
	return rc;
}

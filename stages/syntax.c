/* syntax: a map stage that parses each code document with its language's Tree-sitter grammar
 * and drops files with syntax errors (Seed-Coder's policy: any ERROR or MISSING node), plus
 * the `curate syntax-check` command that shows where a file fails. Languages come from
 * grammars/ (registry.h); documents in a language without a grammar pass unchecked. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "par.h"
#include "stages.h"
#include "syntax.h"

/* ---- the checker ---- */

struct syntax_checker {
	TSParser *p;
	const struct grammar *cur; /* the grammar last set on p, its ABI checked */
	const TSLanguage *lang;
	uint64_t timeout_us;
};

struct syntax_checker *syntax_checker_new(uint64_t timeout_us)
{
	struct syntax_checker *c = xcalloc(1, sizeof *c);
	c->p = ts_parser_new();
	if (!c->p)
		DIE("ts_parser_new failed");
	c->timeout_us = timeout_us;
	ts_parser_set_timeout_micros(c->p, timeout_us);
	return c;
}

void syntax_checker_free(struct syntax_checker *c)
{
	if (!c)
		return;
	ts_parser_delete(c->p);
	free(c);
}

/* Sets g on the parser before every parse, even when it is already set: that recreates the
 * external scanner, and some scanners keep state that deserialize(NULL, 0) does not reset
 * (Swift 0.7.1: an open raw string's '#' count), so otherwise a verdict could depend on the
 * file parsed before it, that is on which rank parsed what. */
static int use_grammar(struct syntax_checker *c, const struct grammar *g)
{
	const TSLanguage *l = c->cur == g ? c->lang : grammar_language(g);
	if (!l)
		return -1;
	if (!ts_parser_set_language(c->p, l)) {
		err_set("grammar %s (%s): rejected by libtree-sitter", g->name, g->package);
		return -1;
	}
	c->cur = g;
	c->lang = l;
	return 0;
}

static void renew_parser(struct syntax_checker *c, int free_old)
{
	if (free_old)
		ts_parser_delete(c->p);
	c->p = ts_parser_new();
	if (!c->p)
		DIE("ts_parser_new failed");
	ts_parser_set_timeout_micros(c->p, c->timeout_us);
	c->cur = NULL;
}

/* libtree-sitter 0.20.7 can dereference NULL inside ts_parser_parse when the time limit
 * stops a parse at an unlucky point (fuzz_syntax found a Dart input the grammar never
 * finishes; test_syntax replays it). Bad input must not kill a rank, so a fault inside the
 * parse call jumps back here; that parser is abandoned (leaked: its state is unknown). */
static _Thread_local sigjmp_buf fault_jmp;
static void on_fault(int sig) { siglongjmp(fault_jmp, sig); }

static TSTree *guarded_parse(struct syntax_checker *c, const char *text, uint32_t n,
			     int *faulted)
{
	struct sigaction sa, old_segv, old_bus;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	TSTree *volatile t = NULL;
	*faulted = 0;
	if (sigsetjmp(fault_jmp, 1) == 0)
		t = ts_parser_parse_string(c->p, NULL, text, n);
	else
		*faulted = 1;
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return t;
}

/* NULL with *status SYNTAX_TIMEOUT or SYNTAX_FAULT when no tree came back for the text. */
static TSTree *parse(struct syntax_checker *c, const struct grammar *g, const char *text,
		     size_t n, enum syntax_status *status)
{
	*status = SYNTAX_OK;
	if (n > UINT32_MAX) {
		err_set("text of %zu bytes: Tree-sitter reads at most 4 GiB", n);
		return NULL;
	}
	if (use_grammar(c, g) < 0)
		return NULL;
	int faulted;
	TSTree *t = guarded_parse(c, text, (uint32_t)n, &faulted);
	if (faulted) {
		renew_parser(c, 0);
		*status = SYNTAX_FAULT;
	} else if (!t) {
		/* a new parser rather than ts_parser_reset: nothing of a stopped parse survives */
		renew_parser(c, 1);
		*status = SYNTAX_TIMEOUT;
		if (!c->timeout_us)
			err_set("grammar %s: the parser returned no tree", g->name);
	}
	return t;
}

static void note_first(struct syntax_result *r, TSNode n, const char *missing_what)
{
	if (r->errors + r->missing != 1)
		return;
	TSPoint pt = ts_node_start_point(n);
	r->line = pt.row + 1;
	r->column = pt.column + 1;
	r->missing_what = missing_what;
}

/* Preorder walk that enters only subtrees holding an error, so a clean tree costs one
 * ts_node_has_error on the root; ERROR nodes are counted whole, without their insides. */
static void count_errors(TSNode root, struct syntax_result *r)
{
	if (!ts_node_has_error(root))
		return;
	TSTreeCursor cur = ts_tree_cursor_new(root);
	for (;;) {
		TSNode n = ts_tree_cursor_current_node(&cur);
		int enter = 0;
		if (ts_node_symbol(n) == (TSSymbol)-1) {
			r->errors++;
			r->error_bytes += ts_node_end_byte(n) - ts_node_start_byte(n);
			note_first(r, n, NULL);
		} else if (ts_node_is_missing(n)) {
			r->missing++;
			r->error_bytes++;
			note_first(r, n, ts_node_type(n));
		} else {
			enter = ts_node_has_error(n);
		}
		if (enter && ts_tree_cursor_goto_first_child(&cur))
			continue;
		while (!ts_tree_cursor_goto_next_sibling(&cur))
			if (!ts_tree_cursor_goto_parent(&cur))
				goto done;
	}
done:
	ts_tree_cursor_delete(&cur);
}

static int check_here(struct syntax_checker *c, const struct grammar *g, const char *text,
		      size_t n, struct syntax_result *r)
{
	memset(r, 0, sizeof *r);
	enum syntax_status st;
	TSTree *t = parse(c, g, text, n, &st);
	if (!t) {
		r->status = st;
		return st == SYNTAX_FAULT || (st == SYNTAX_TIMEOUT && c->timeout_us) ? 0 : -1;
	}
	count_errors(ts_tree_root_node(t), r);
	ts_tree_delete(t);
	r->status = r->errors + r->missing ? SYNTAX_ERRORS : SYNTAX_OK;
	return 0;
}

/* libtree-sitter 0.20.7 (Debian 12's) corrupts its heap on some large inputs, a node with 2^16
 * children or more (tree-sitter#2134, fixed in 0.20.8): 65,535 unclosed '[' in JSON, 21,845
 * times "[1," , 'f(a, ' repeated in Python, C, Go, Rust, Lua, YAML or shell. The crash comes
 * later, in free(), where no signal guard can help, and it took the whole rank (and its
 * stage) down. Such a node needs about 2^16 tokens, nearly all at least a byte long (65,535
 * '[' crash, 65,534 do not), so a text of at least SYNTAX_ISOLATE_BYTES (56 KiB: room for
 * 8,000 zero-width tokens) is checked in a child process: the parent waits for its result
 * through a pipe, and a child that dies is a parser fault (the document is dropped as
 * parser_fault, the rank goes on). Smaller texts, nearly all files, are parsed in place; a
 * fork costs a few milliseconds (the child faults in the grammar's tables again), which is why
 * the bound is not lower. The child only parses and _exits. */
#define SYNTAX_ISOLATE_BYTES (56 << 10)

struct isolated {
	int rc;
	struct syntax_result r; /* missing_what points into the grammar: valid in the parent */
	char err[512];
};

static int check_isolated(struct syntax_checker *c, const struct grammar *g, const char *text,
			  size_t n, struct syntax_result *r)
{
	int fd[2];
	if (pipe(fd))
		return check_here(c, g, text, n, r);
	pid_t pid = fork(); /* the child _exits: it never flushes the parent's stdio buffers */
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return check_here(c, g, text, n, r);
	}
	if (pid == 0) {
		close(fd[0]);
		/* a crash's own report (glibc's, UCX's backtrace, ASan's) would only be noise: the
		 * parent reports the fault, naming the document */
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDERR_FILENO);
		struct isolated out = {0};
		out.rc = check_here(c, g, text, n, &out.r);
		if (out.rc)
			snprintf(out.err, sizeof out.err, "%s", err_get());
		_exit(write_all(fd[1], &out, sizeof out, "the result pipe") ? 1 : 0);
	}
	close(fd[1]);
	struct isolated in;
	size_t got = 0;
	while (got < sizeof in) {
		ssize_t k = read(fd[0], (char *)&in + got, sizeof in - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got < sizeof in || !WIFEXITED(status) || WEXITSTATUS(status)) {
		memset(r, 0, sizeof *r);
		r->status = SYNTAX_FAULT; /* the child died inside libtree-sitter */
		return 0;
	}
	*r = in.r; /* the parent's parser never saw the text: nothing of it to renew */
	if (in.rc)
		err_set("%s", in.err);
	return in.rc;
}

int syntax_check(struct syntax_checker *c, const struct grammar *g, const char *text,
		 size_t n, struct syntax_result *r)
{
	if (n >= SYNTAX_ISOLATE_BYTES)
		return check_isolated(c, g, text, n, r);
	return check_here(c, g, text, n, r);
}

/* ---- the stage ---- */

static const struct opt_def syntax_opts[] = {
	{"max_error_ratio", OPT_FLOAT, "0", 0, 1, NULL,
	 "0 drops every file with an ERROR or MISSING node (the Seed-Coder policy); above 0, "
	 "drops a file when its error bytes (ERROR node bytes + 1 per MISSING node) over its "
	 "bytes exceed this (reason syntax_error)."},
	{"max_bytes", OPT_SIZE, "4MiB", 0, 4e9, NULL,
	 "Files larger than this are dropped unparsed (reason too_large); 0: up to 4 GB."},
	{"timeout_ms", OPT_INT, "5000", 0, 3.6e6, NULL,
	 "Parse time limit per file in milliseconds (reason timeout); 0: none."},
	{"languages", OPT_LIST, "[]", 0, 0, NULL,
	 "Check only these languages (names or aliases, see `curate syntax-check --list`); "
	 "empty: every grammar. Others pass with metadata.syntax_checked=false."},
	{"skip_sources", OPT_LIST, "[web, commit, repo]", 0, 0, NULL,
	 "Documents of these sources pass unchecked: web pages, commit patches and "
	 "concatenated repositories are not files of one language."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

enum { C_CHECKED, C_PASSED, C_DROPPED, C_BYTES, C_PARSE_US, C_N };
static const char *const counter_suffix[C_N] = {"checked", "passed", "dropped", "bytes",
						"parse_us"};

struct syntax {
	struct syntax_checker *chk;
	double max_ratio;
	uint64_t max_bytes;
	const char *const *skip;
	size_t nskip;
	unsigned char *enabled; /* per grammar index */
	char *(*names)[C_N];    /* counter names per grammar index */
};

static int syntax_setup(struct stage_run *run)
{
	struct syntax *s = xcalloc(1, sizeof *s);
	run->state = s;
	size_t ng = grammar_count();
	int64_t ms = config_int(run->cfg, "syntax.timeout_ms");
	s->chk = syntax_checker_new((uint64_t)ms * 1000);
	s->max_ratio = config_float(run->cfg, "syntax.max_error_ratio");
	s->max_bytes = config_size(run->cfg, "syntax.max_bytes");
	if (!s->max_bytes || s->max_bytes > UINT32_MAX)
		s->max_bytes = UINT32_MAX;
	s->nskip = config_list(run->cfg, "syntax.skip_sources", &s->skip);
	s->enabled = xcalloc(ng + 1, 1);
	s->names = xcalloc(ng + 1, sizeof *s->names);
	const char *const *langs;
	size_t nl = config_list(run->cfg, "syntax.languages", &langs);
	for (size_t i = 0; i < nl; i++) {
		const struct grammar *g = grammar_find(langs[i]);
		if (!g) {
			err_set("%s: syntax.languages: no grammar for '%s' (see curate syntax-check "
				"--list)", config_origin(run->cfg, "syntax.languages"), langs[i]);
			return -1;
		}
		s->enabled[g - grammar_at(0)] = 1;
	}
	for (size_t i = 0; i < ng; i++) {
		const struct grammar *g = grammar_at(i);
		s->enabled[i] |= !nl;
		if (s->enabled[i] && !grammar_language(g))
			return -1;
		for (int k = 0; k < C_N; k++)
			s->names[i][k] = xasprintf("syntax.%s.%s", g->name, counter_suffix[k]);
	}
	return 0;
}

static void syntax_teardown(struct stage_run *run)
{
	struct syntax *s = run->state;
	if (!s)
		return;
	for (size_t i = 0; i < grammar_count(); i++)
		for (int k = 0; k < C_N; k++)
			free(s->names[i][k]);
	free(s->names);
	free(s->enabled);
	syntax_checker_free(s->chk);
	free(s);
}

static const char *meta_str(const struct doc *d, const char *key)
{
	const char *v = json_string_value(json_object_get(d->meta, key));
	return v && *v ? v : NULL;
}

/* metadata.lang (or .language) names the language; else the file name of metadata.path,
 * else of the id. NULL: no grammar. */
static const struct grammar *doc_grammar(const struct doc *d)
{
	const char *lang = meta_str(d, "lang");
	if (!lang)
		lang = meta_str(d, "language");
	if (lang)
		return grammar_find(lang);
	const char *path = meta_str(d, "path");
	if (path)
		return grammar_for_path(path);
	return d->id.p && !memchr(d->id.p, 0, d->id.len) ? grammar_for_path(d->id.p) : NULL;
}

static int skipped_source(const struct syntax *s, const struct doc *d)
{
	const char *src = d->source.p ? d->source.p : "";
	for (size_t i = 0; i < s->nskip; i++)
		if (!strcmp(src, s->skip[i]))
			return 1;
	return 0;
}

static void set_meta(struct doc *d, const struct syntax_result *r, int ok)
{
	json_object_set_new(d->meta, "syntax_checked", json_true());
	json_object_set_new(d->meta, "syntax_ok", json_boolean(ok));
	if (r->errors + r->missing) {
		json_object_set_new(d->meta, "syntax_errors",
				    json_integer((json_int_t)(r->errors + r->missing)));
		char at[32];
		snprintf(at, sizeof at, "%u:%u", r->line, r->column);
		json_object_set_new(d->meta, "syntax_first_error", json_string(at));
	}
}

static int syntax_map(struct stage_run *run, struct doc *d, const char **reason)
{
	struct syntax *s = run->state;
	struct stats *st = stage_stats(run);
	const struct grammar *g = skipped_source(s, d) ? NULL : doc_grammar(d);
	size_t gi = g ? (size_t)(g - grammar_at(0)) : 0;
	if (!g || !s->enabled[gi]) {
		json_object_set_new(d->meta, "syntax_checked", json_false());
		stats_count(st, "syntax.unchecked", 1);
		return 1;
	}
	char **name = s->names[gi];
	size_t n = d->text.len;
	stats_count(st, name[C_CHECKED], 1);
	stats_count(st, name[C_BYTES], n);
	if (n > s->max_bytes) {
		stats_count(st, name[C_DROPPED], 1);
		return *reason = "too_large", 0;
	}
	struct syntax_result r;
	double t0 = now_seconds();
	int rc = syntax_check(s->chk, g, d->text.p ? d->text.p : "", n, &r);
	stats_count(st, name[C_PARSE_US], (uint64_t)((now_seconds() - t0) * 1e6));
	if (rc < 0)
		return -1;
	if (r.status == SYNTAX_TIMEOUT || r.status == SYNTAX_FAULT) {
		stats_count(st, name[C_DROPPED], 1);
		if (r.status == SYNTAX_FAULT)
			log_warn("syntax: %.*s: libtree-sitter faulted parsing it as %s; dropped "
				 "(parser_fault)", (int)(d->id.len < 200 ? d->id.len : 200),
				 d->id.p ? d->id.p : "", g->name);
		return *reason = r.status == SYNTAX_TIMEOUT ? "timeout" : "parser_fault", 0;
	}
	int bad = r.status == SYNTAX_ERRORS &&
		  (s->max_ratio <= 0 || (double)r.error_bytes > s->max_ratio * (double)n);
	set_meta(d, &r, r.status == SYNTAX_OK);
	stats_count(st, name[bad ? C_DROPPED : C_PASSED], 1);
	if (bad)
		return *reason = "syntax_error", 0;
	return 1;
}

const struct stage_def stage_syntax = {
	.name = "syntax",
	.kind = STAGE_MAP,
	.summary = "drop code files with syntax errors (Tree-sitter), per-language stats",
	.opts = syntax_opts,
	.version = 1,
	.setup = syntax_setup,
	.teardown = syntax_teardown,
	.map = syntax_map,
};

/* ---- curate syntax-check ---- */

const struct cli_opt syntax_check_opts[] = {
	{"lang", 'l', "LANG", "parse every file as LANG (default: by file name or extension)"},
	{"timeout-ms", 0, "MS", "parse time limit per file (default 5000; 0: none)"},
	{"list", 0, NULL, "list the grammars: language, npm package, aliases, extensions, names"},
	{"parse-only", 0, NULL,
	 "benchmark: read the files, then time only ts_parser_parse_string over them"},
	{NULL, 0, NULL, NULL},
};

static void list_grammars(void)
{
	for (size_t i = 0; i < grammar_count(); i++) {
		const struct grammar *g = grammar_at(i);
		printf("%-16s %-48s aliases: %s; extensions: %s; names: %s\n", g->name, g->package,
		       *g->aliases ? g->aliases : "-", *g->extensions ? g->extensions : "-",
		       *g->filenames ? g->filenames : "-");
	}
}

/* Prints one line for path; returns 0 when ok or unchecked, 1 otherwise. */
static int check_file(struct syntax_checker *c, const struct grammar *forced, const char *path,
		      struct buf *b)
{
	const struct grammar *g = forced ? forced : grammar_for_path(path);
	if (read_file(path, b) < 0) {
		printf("%s: error: %s\n", path, err_get());
		return 1;
	}
	if (!g) {
		printf("%s: unchecked (no grammar for this file name; use --lang)\n", path);
		return 0;
	}
	struct syntax_result r;
	if (syntax_check(c, g, b->p ? b->p : "", b->len, &r) < 0) {
		printf("%s: error: %s\n", path, err_get());
		return 1;
	}
	if (r.status == SYNTAX_OK) {
		printf("%s: ok (%s)\n", path, g->name);
		return 0;
	}
	if (r.status == SYNTAX_TIMEOUT) {
		printf("%s: timeout (%s): parse exceeded %llu ms\n", path, g->name,
		       (unsigned long long)(c->timeout_us / 1000));
		return 1;
	}
	if (r.status == SYNTAX_FAULT) {
		printf("%s: parser fault (%s): libtree-sitter crashed on it\n", path, g->name);
		return 1;
	}
	printf("%s:%u:%u: %s%s%s (%s; %llu errors, %llu missing, %llu error bytes)\n", path,
	       r.line, r.column, r.missing_what ? "missing '" : "syntax error",
	       r.missing_what ? r.missing_what : "", r.missing_what ? "'" : "", g->name,
	       (unsigned long long)r.errors, (unsigned long long)r.missing,
	       (unsigned long long)r.error_bytes);
	return 1;
}

/* Reads every file, then times the bare parse loop: what the stage is compared with. */
static int parse_only(struct syntax_checker *c, const struct grammar *forced, char **paths,
		      int n)
{
	struct buf *texts = xcalloc((size_t)n + 1, sizeof *texts);
	const struct grammar **gs = xcalloc((size_t)n + 1, sizeof *gs);
	uint64_t bytes = 0, files = 0;
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		gs[i] = forced ? forced : grammar_for_path(paths[i]);
		if (gs[i] && read_file(paths[i], &texts[i]) < 0)
			rc = 1, fprintf(stderr, "curate syntax-check: %s\n", err_get());
		else if (texts[i].len > UINT32_MAX)
			rc = 1, fprintf(stderr, "curate syntax-check: %s: above 4 GiB\n", paths[i]);
	}
	/* bare: the language is set only when it changes, no fault guard, no error walk */
	const struct grammar *cur = NULL;
	double t0 = now_seconds(), c0 = cpu_seconds();
	for (int i = 0; i < n && !rc; i++) {
		if (!gs[i])
			continue;
		if (gs[i] != cur && use_grammar(c, gs[i]) < 0) {
			rc = 1, fprintf(stderr, "curate syntax-check: %s\n", err_get());
			break;
		}
		cur = gs[i];
		TSTree *t = ts_parser_parse_string(c->p, NULL, texts[i].p ? texts[i].p : "",
						   (uint32_t)texts[i].len);
		if (!t) { /* the time limit: a new parser, as the stage does */
			renew_parser(c, 1);
			cur = NULL;
		}
		else
			ts_tree_delete(t);
		bytes += texts[i].len, files++;
	}
	double dt = now_seconds() - t0, cpu = cpu_seconds() - c0;
	if (!rc)
		printf("parse-only: %llu files, %llu bytes, %.3f s, %.2f MB/s, cpu %.3f s\n",
		       (unsigned long long)files, (unsigned long long)bytes, dt,
		       dt > 0 ? (double)bytes / dt / 1e6 : 0.0, cpu);
	for (int i = 0; i < n; i++)
		buf_release(&texts[i]);
	free(texts), free(gs);
	return rc;
}

int syntax_check_cmd(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (par_rank() != 0) /* a command of one process: the other ranks have nothing to do */
		return 0;
	if (cli_get(cmd, a, "list")) {
		list_grammars();
		return 0;
	}
	const char *lang = cli_get(cmd, a, "lang"), *ms = cli_get(cmd, a, "timeout-ms");
	const struct grammar *forced = lang ? grammar_find(lang) : NULL;
	if (lang && !forced) {
		fprintf(stderr, "curate syntax-check: no grammar for '%s'; see 'curate "
				"syntax-check --list'\n", lang);
		return 2;
	}
	char *end = NULL;
	long long t = ms ? strtoll(ms, &end, 10) : 5000;
	if ((ms && *end) || t < 0) {
		fprintf(stderr, "curate syntax-check: --timeout-ms expects milliseconds, got '%s'\n",
			ms);
		return 2;
	}
	if (a->npos < 1) {
		fprintf(stderr, "curate syntax-check: expected files; see 'curate syntax-check "
				"--help'\n");
		return 2;
	}
	struct syntax_checker *c = syntax_checker_new((uint64_t)t * 1000);
	int rc = 0;
	if (cli_get(cmd, a, "parse-only")) {
		rc = parse_only(c, forced, a->pos, a->npos);
	} else {
		struct buf b = BUF_INIT;
		for (int i = 0; i < a->npos; i++)
			rc |= check_file(c, forced, a->pos[i], &b);
		buf_release(&b);
	}
	syntax_checker_free(c);
	return rc;
}

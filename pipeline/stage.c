/* stage: the driver every stage runs under (see stage.h and docs/architecture.md).
 * Rank 0 plans and decides (what is up to date, which shards are done); the decision is
 * broadcast, so every rank acts on the same view of the workdir. */
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "par.h"
#include "progress.h"
#include "queue.h"
#include "schedule.h"

/* Global options: the top level of the config file. */
static const struct opt_def global_opts[] = {
	{"workdir", OPT_STR, "work", 0, 0, NULL,
	 "Directory holding every stage's output: <workdir>/<stage>/part-NNNNN.jsonl.zst."},
	{"stages", OPT_LIST, "[import]", 0, 0, NULL,
	 "Stages run by `curate run`, in order; each reads the output of the one before it."},
	{"log_level", OPT_ENUM, "info", 0, 0, "error|warn|info|debug", "How much to log."},
	{"progress_interval", OPT_FLOAT, "10", 0.1, 86400, NULL,
	 "Seconds between progress lines in a batch log (a terminal refreshes every second)."},
	{"memory_budget", OPT_SIZE, "1GiB", 65536, 4398046511104.0, NULL,
	 "Memory per rank for the exchanges of global stages; beyond it they spill to disk."},
	{"tmpdir", OPT_STR, "", 0, 0, NULL,
	 "Where spill files go; empty means <workdir>/tmp. Node-local disk is best."},
	{"zstd_level", OPT_INT, "3", 1, 19, NULL, "zstd level of document shards."},
	{"keep_rejected", OPT_BOOL, "true", 0, 0, NULL,
	 "Write dropped documents to <stage>/rejected/ with metadata.drop_reason, for audit."},
	{"keep_rejected_text", OPT_BOOL, "false", 0, 0, NULL,
	 "With keep_rejected: keep the dropped documents' texts too; without it their ids, "
	 "source, metadata and metadata.text_bytes (a tree's binaries would outweigh its code)."},
	{"verify_inputs", OPT_BOOL, "true", 0, 0, NULL,
	 "Check each input shard's SHA-256 against its manifest while reading it."},
	{"schedule", OPT_ENUM, "queue", 0, 0, "queue|static",
	 "How map and source stages give shards to ranks: queue (each rank asks rank 0 for the "
	 "next, largest first, when it is done with one, so a slow rank takes fewer) or static "
	 "(the same longest-first plan on every rank, fixed up front). Outputs are the same."},
	{"stop_grace", OPT_FLOAT, "60", 0.1, 86400, NULL,
	 "After SIGTERM or SIGINT, seconds a rank may take to finish or abandon its shard (a "
	 "global stage, a wait on the network) before it ends anyway, its lock released; "
	 "keep it under Slurm's KillWait or the --signal lead time."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Globals whose value changes the bytes of a stage's output, hence its fingerprint. */
static const char *const output_globals[] = {"zstd_level", "keep_rejected",
					      "keep_rejected_text"};

const struct config_section *stage_config_sections(size_t *n)
{
	static struct config_section *sections;
	if (!sections) {
		sections = xcalloc(stage_count + 1 + stage_extra_count, sizeof *sections);
		sections[0] = (struct config_section){NULL, global_opts, "global options"};
		for (size_t i = 0; i < stage_count; i++)
			sections[i + 1] = (struct config_section){
				stage_table[i]->name, stage_table[i]->opts, stage_table[i]->summary};
		for (size_t i = 0; i < stage_extra_count; i++)
			sections[stage_count + 1 + i] = stage_extra_sections[i];
	}
	*n = stage_count + 1 + stage_extra_count;
	return sections;
}

const struct stage_def *stage_find(const char *name)
{
	for (size_t i = 0; i < stage_count; i++)
		if (!strcmp(stage_table[i]->name, name))
			return stage_table[i];
	return NULL;
}

/* A side stage's `input` option, or "" */
static const char *side_input(const struct config *cfg, const struct stage_def *d)
{
	if (!d || !d->side)
		return "";
	char key[96];
	snprintf(key, sizeof key, "%s.input", d->name);
	return config_str(cfg, key);
}

const char *stage_upstream(const struct config *cfg, const char *name)
{
	const char *const *list;
	size_t n = config_list(cfg, "stages", &list);
	const struct stage_def *d = stage_find(name);
	if (*side_input(cfg, d))
		return side_input(cfg, d);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i], name))
			continue;
		/* side stages write no documents: the stage after one reads past it */
		for (size_t j = i; j-- > 0;) {
			const struct stage_def *u = stage_find(list[j]);
			if (!u || !u->side)
				return list[j];
		}
		return NULL;
	}
	return NULL;
}

char *stage_spill_dir(const struct config *cfg)
{
	const char *t = config_str(cfg, "tmpdir");
	return *t ? xstrdup(t) : xasprintf("%s/tmp", config_str(cfg, "workdir"));
}

char *stage_tmpdir(const struct stage_run *run) { return stage_spill_dir(run->cfg); }

int stage_scan_inputs(struct stage_run *run, const struct task_list *in, const int *owner,
		      stage_scan_fn fn, void *ud)
{
	int verify = config_bool(run->cfg, "verify_inputs");
	struct doc d;
	doc_init(&d);
	int rc = 0;
	for (size_t i = 0; i < in->n && !rc; i++) {
		if (owner[i] != run->rank)
			continue;
		const struct task *t = &in->v[i];
		struct shard_reader *r = shard_reader_open(t->arg.p, verify ? t->input_sha256 : NULL);
		const char *line;
		size_t len;
		int got = r ? 0 : -1;
		while (r && (got = shard_reader_next_line(r, &line, &len)) == 1) {
			uint64_t ord = shard_reader_records(r) - 1;
			if (doc_parse(&d, line, len) < 0) {
				err_set("%s: record %llu: %s", t->arg.p, (unsigned long long)ord + 1,
					err_get());
				got = -1;
				break;
			}
			if (run->progress)
				progress_add(run->progress, 1, d.text.len);
			if (fn(&d, line, len, (uint32_t)i, ord, ud) < 0) {
				got = -1;
				break;
			}
		}
		shard_reader_close(r);
		rc = got < 0 ? -1 : 0;
	}
	doc_release(&d);
	return rc;
}

void stage_progress_begin(struct stage_run *run, uint64_t total_bytes)
{
	run->progress = progress_new(run->def->name, total_bytes,
				     config_float(run->cfg, "progress_interval"));
}

static void serve(void);

void stage_progress_add(struct stage_run *run, uint64_t docs, uint64_t bytes)
{
	serve();
	progress_add(run->progress, docs, bytes);
}

void stage_progress_end(struct stage_run *run)
{
	progress_finish(run->progress);
	run->progress = NULL;
}

char *stage_shard_path(const char *dir, uint32_t index)
{
	return xasprintf("%s/part-%05u.jsonl.zst", dir, index);
}

static char *part_record_path(const char *dir, uint32_t index)
{
	return xasprintf("%s/.parts/part-%05u.json", dir, index);
}

struct task *task_list_add(struct task_list *l, uint64_t size)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	struct task *t = &l->v[l->n];
	memset(t, 0, sizeof *t);
	t->index = (uint32_t)l->n++;
	t->size = size;
	return t;
}

void task_list_release(struct task_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		buf_release(&l->v[i].arg);
	free(l->v);
	memset(l, 0, sizeof *l);
}

void task_runs_init(struct task_runs *r, struct task_list *l, uint64_t shards, size_t inputs,
		    uint64_t total_weight)
{
	if (shards > inputs)
		shards = inputs ? inputs : 1;
	*r = (struct task_runs){l, shards, total_weight ? total_weight : 1, 0, inputs, 0, 0};
	for (uint64_t k = 0; k < shards; k++)
		task_list_add(l, 0);
}

/* An input goes to the shard its weight's midpoint falls in, but never skips a shard and
 * always leaves one input for each shard after it: no shard is empty (there are at least as
 * many inputs as shards), and a large input no longer pulls the small ones before it into its
 * shard (by start offset, three small repositories and a large one all went to shard 0). */
struct task *task_runs_next(struct task_runs *r, uint64_t weight)
{
	uint64_t k = (uint64_t)((unsigned __int128)(r->before + weight / 2) * r->shards / r->total);
	uint64_t left = r->inputs > r->seen ? r->inputs - r->seen : 1; /* this one included */
	uint64_t lo = r->seen ? r->prev : 0, hi = r->seen ? r->prev + 1 : 0;
	if (r->shards > left && r->shards - left > lo)
		lo = r->shards - left;
	if (hi > r->shards - 1)
		hi = r->shards - 1;
	k = k < lo ? lo : k > hi ? hi : k;
	r->before += weight;
	r->prev = k;
	r->seen++;
	return &r->l->v[k];
}

/* ---- the plan: tasks and fingerprint, made on rank 0 and broadcast ---- */

struct plan {
	struct task_list tasks;
	char fingerprint[SHA256_HEX], config_sha[SHA256_HEX], input_sha[SHA256_HEX];
	/* rank 0 only: the inputs alone, without how a source cuts them into shards */
	char files_sha[SHA256_HEX];
	int error;
	/* rank 0 only, to say why a stage reruns: the upstream stage and its fingerprint */
	const char *upstream;
	char upstream_fp[SHA256_HEX];
};

static void put_u64(struct buf *b, uint64_t v) { buf_append(b, &v, sizeof v); }

static uint64_t get_u64(const char **p)
{
	uint64_t v;
	memcpy(&v, *p, sizeof v);
	*p += sizeof v;
	return v;
}

static void plan_serialize(const struct plan *pl, struct buf *b)
{
	put_u64(b, (uint64_t)pl->error);
	buf_append(b, pl->fingerprint, SHA256_HEX);
	buf_append(b, pl->config_sha, SHA256_HEX);
	buf_append(b, pl->input_sha, SHA256_HEX);
	put_u64(b, pl->tasks.n);
	for (size_t i = 0; i < pl->tasks.n; i++) {
		const struct task *t = &pl->tasks.v[i];
		put_u64(b, t->size);
		put_u64(b, t->arg.len);
		buf_append(b, t->arg.p, t->arg.len);
		buf_append(b, t->input_sha256, SHA256_HEX);
	}
}

static void plan_deserialize(struct plan *pl, const char *p)
{
	pl->error = (int)get_u64(&p);
	memcpy(pl->fingerprint, p, SHA256_HEX), p += SHA256_HEX;
	memcpy(pl->config_sha, p, SHA256_HEX), p += SHA256_HEX;
	memcpy(pl->input_sha, p, SHA256_HEX), p += SHA256_HEX;
	uint64_t n = get_u64(&p);
	for (uint64_t i = 0; i < n; i++) {
		struct task *t = task_list_add(&pl->tasks, 0);
		t->size = get_u64(&p);
		uint64_t len = get_u64(&p);
		buf_set(&t->arg, p, len);
		p += len;
		memcpy(t->input_sha256, p, SHA256_HEX), p += SHA256_HEX;
	}
}

static json_t *load_json(const char *path, int quiet)
{
	json_error_t e;
	json_t *j = json_load_file(path, 0, &e);
	if (!j && !quiet)
		err_set("%s:%d: %s", path, e.line, e.text);
	return j;
}

/* ---- reading a manifest ---- */

static int is_sha256_hex(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* The non-negative integer obj[key] into *v; -1 with err_set when absent or otherwise. */
static int manifest_count(const char *path, const char *where, json_t *obj, const char *key,
			  uint64_t *v)
{
	json_t *j = json_object_get(obj, key);
	if (!json_is_integer(j) || json_integer_value(j) < 0) {
		err_set("%s: %s\"%s\" is %s", path, where, key,
			j ? "not a non-negative integer" : "missing");
		return -1;
	}
	*v = (uint64_t)json_integer_value(j);
	return 0;
}

static int cmp_shard_name(const void *a, const void *b)
{
	return strcmp((*(const struct manifest_shard *const *)a)->name,
		      (*(const struct manifest_shard *const *)b)->name);
}

static int manifest_check(json_t *j, const char *path, struct manifest *m)
{
	if (!json_is_object(j)) {
		err_set("%s: not a manifest (a JSON object is expected)", path);
		return -1;
	}
	const char *stage = json_string_value(json_object_get(j, "stage"));
	const char *fp = json_string_value(json_object_get(j, "fingerprint"));
	json_t *shards = json_object_get(j, "shards"), *files = json_object_get(j, "files");
	if (!stage || !*stage) {
		err_set("%s: \"stage\" is missing or not a name", path);
		return -1;
	}
	if (!is_sha256_hex(fp)) {
		err_set("%s: \"fingerprint\" is missing or not a SHA-256", path);
		return -1;
	}
	if (!json_is_array(shards)) {
		err_set("%s: \"shards\" is missing or not an array", path);
		return -1;
	}
	if (files && !json_is_array(files)) {
		err_set("%s: \"files\" is not an array", path);
		return -1;
	}
	if (manifest_count(path, "", j, "shard_count", &m->shard_count))
		return -1;
	m->stage = xstrdup(stage);
	memcpy(m->fingerprint, fp, SHA256_HEX);
	m->shards = xcalloc(json_array_size(shards) + 1, sizeof *m->shards);
	size_t i;
	json_t *s;
	json_array_foreach(shards, i, s) {
		struct manifest_shard *ms = &m->shards[m->nshards];
		const char *name = json_string_value(json_object_get(s, "name"));
		const char *sha = json_string_value(json_object_get(s, "sha256"));
		char where[48];
		snprintf(where, sizeof where, "shard %zu: ", i);
		if (!name) {
			err_set("%s: %s\"name\" is missing or not a string", path, where);
			return -1;
		}
		if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
			err_set("%s: %sname \"%.64s\" is not a file name in the stage's directory",
				path, where, name);
			return -1;
		}
		if (!is_sha256_hex(sha)) {
			err_set("%s: %s\"sha256\" is missing or not a SHA-256", path, where);
			return -1;
		}
		if (manifest_count(path, where, s, "records", &ms->records) ||
		    manifest_count(path, where, s, "bytes", &ms->bytes) ||
		    manifest_count(path, where, s, "raw_bytes", &ms->raw_bytes))
			return -1;
		ms->name = xstrdup(name);
		memcpy(ms->sha256, sha, SHA256_HEX);
		m->nshards++;
	}
	/* a stage whose parts are other files (token shards) lists fewer JSONL shards */
	if (json_array_size(files) ? m->nshards > m->shard_count : m->nshards != m->shard_count) {
		err_set("%s: \"shard_count\" is %llu but %zu shards are listed", path,
			(unsigned long long)m->shard_count, m->nshards);
		return -1;
	}
	const struct manifest_shard **by_name = xmalloc((m->nshards + 1) * sizeof *by_name);
	for (i = 0; i < m->nshards; i++)
		by_name[i] = &m->shards[i];
	qsort(by_name, m->nshards, sizeof *by_name, cmp_shard_name);
	for (i = 1; i < m->nshards && strcmp(by_name[i - 1]->name, by_name[i]->name); i++)
		;
	if (i < m->nshards)
		err_set("%s: shard %s is listed twice", path, by_name[i]->name);
	free(by_name);
	return i < m->nshards ? -1 : 0;
}

/* text parsed and checked: its JSON (the caller's) and its fields in m; NULL on error, with
 * err_set and m released */
static json_t *manifest_json(const char *text, size_t len, const char *path, struct manifest *m)
{
	memset(m, 0, sizeof *m);
	json_error_t e;
	json_t *j = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		err_set("%s:%d:%d: %s", path, e.line, e.column, e.text);
		return NULL;
	}
	if (manifest_check(j, path, m) < 0) {
		json_decref(j);
		manifest_release(m);
		return NULL;
	}
	return j;
}

/* The same for the file at path. */
static json_t *manifest_read(const char *path, struct manifest *m)
{
	struct buf b = BUF_INIT;
	memset(m, 0, sizeof *m);
	json_t *j = read_file(path, &b) < 0 ? NULL : manifest_json(b.p, b.len, path, m);
	buf_release(&b);
	return j;
}

int manifest_parse(const char *text, size_t len, const char *path, struct manifest *m)
{
	json_t *j = manifest_json(text, len, path, m);
	json_decref(j);
	return j ? 0 : -1;
}

int manifest_load(const char *path, struct manifest *m)
{
	json_t *j = manifest_read(path, m);
	json_decref(j);
	return j ? 0 : -1;
}

void manifest_release(struct manifest *m)
{
	for (size_t i = 0; i < m->nshards; i++)
		free(m->shards[i].name);
	free(m->shards);
	free(m->stage);
	memset(m, 0, sizeof *m);
}

/* Map and global stages read the upstream manifest: one task per upstream shard. */
static int plan_from_upstream(struct stage_run *run, struct plan *pl, struct buf *sig)
{
	const char *up = stage_upstream(run->cfg, run->def->name);
	if (!up) {
		err_set("stage %s reads the output of the stage before it in `stages`, but it is "
			"not listed after another stage there", run->def->name);
		return -1;
	}
	run->input_dir = xasprintf("%s/%s", run->workdir, up);
	char *mpath = xasprintf("%s/manifest.json", run->input_dir);
	struct manifest m = {0};
	int rc = -1;
	if (!file_exists(mpath))
		err_set("stage %s needs the finished output of stage %s (%s is missing): run "
			"`curate %s` first", run->def->name, up, mpath, up);
	else if (manifest_load(mpath, &m) < 0)
		err_set("stage %s cannot read the output of stage %s: %s (run `curate %s` to "
			"rebuild it)", run->def->name, up, err_get(), up);
	else if (strcmp(m.stage, up))
		err_set("%s: written by stage %s, not %s", mpath, m.stage, up);
	else
		rc = 0;
	free(mpath);
	if (rc < 0) {
		manifest_release(&m);
		return -1;
	}
	buf_printf(sig, "upstream %s %s\n", up, m.fingerprint);
	pl->upstream = up;
	memcpy(pl->upstream_fp, m.fingerprint, SHA256_HEX);
	for (size_t i = 0; i < m.nshards; i++) {
		const struct manifest_shard *s = &m.shards[i];
		struct task *t = task_list_add(&pl->tasks, s->raw_bytes);
		buf_printf(&t->arg, "%s/%s", run->input_dir, s->name);
		memcpy(t->input_sha256, s->sha256, SHA256_HEX);
		buf_printf(sig, "%s %s\n", s->name, s->sha256);
	}
	manifest_release(&m);
	return 0;
}

/* A source listed after another stage adds its documents to that stage's, as datatrove's
 * readers do, so that several sources (crawl-github, crawl-web, import) feed one pipeline:
 * the upstream shards pass through unchanged as the first tasks (marked by their checksum),
 * then come the source's own. */
static int plan_source(struct stage_run *run, struct plan *pl, struct buf *sig)
{
	if (stage_upstream(run->cfg, run->def->name) && plan_from_upstream(run, pl, sig) < 0)
		return -1;
	struct task_list own = {0};
	int rc = run->def->plan(run, &own, sig);
	for (size_t i = 0; i < own.n && rc == 0; i++) {
		struct task *t = task_list_add(&pl->tasks, own.v[i].size);
		buf_set(&t->arg, own.v[i].arg.p, own.v[i].arg.len);
	}
	task_list_release(&own);
	return rc;
}

static void output_options_text(const struct stage_def *def, const struct config *cfg,
				struct buf *out);

static void make_plan(struct stage_run *run, struct plan *pl, int quiet)
{
	struct buf sig = BUF_INIT;
	int rc;
	if (run->def->kind == STAGE_SOURCE)
		rc = plan_source(run, pl, &sig);
	else
		rc = plan_from_upstream(run, pl, &sig);
	if (rc == 0 && run->def->signature)
		rc = run->def->signature(run, &sig);
	if (rc < 0) {
		if (!quiet)
			log_error("%s", err_get());
		pl->error = 1;
		buf_release(&sig);
		return;
	}
	unsigned char d[SHA256_LEN];
	sha256(sig.p ? sig.p : "", sig.len, d);
	sha256_hexstr(d, pl->files_sha);
	/* a source's task list is part of what defines its input; upstream shards are named
	 * in sig by name and checksum, so a moved workdir keeps its fingerprints */
	for (size_t i = 0; i < pl->tasks.n && run->def->kind == STAGE_SOURCE; i++) {
		if (pl->tasks.v[i].input_sha256[0])
			continue; /* an upstream shard carried through */
		put_u64(&sig, pl->tasks.v[i].arg.len);
		buf_append(&sig, pl->tasks.v[i].arg.p, pl->tasks.v[i].arg.len);
	}
	sha256(sig.p, sig.len, d);
	sha256_hexstr(d, pl->input_sha);
	buf_release(&sig);

	struct buf opts = BUF_INIT;
	output_options_text(run->def, run->cfg, &opts);
	sha256(opts.p ? opts.p : "", opts.len, d);
	sha256_hexstr(d, pl->config_sha);
	buf_release(&opts);
	struct buf fp = BUF_INIT;
	buf_printf(&fp, "curate-stage/1\n%s\n%u\n%s\n%s\n", run->def->name, run->def->version,
		   pl->config_sha, pl->input_sha);
	for (size_t i = 0; i < ARRAY_LEN(output_globals); i++) {
		if (!strcmp(output_globals[i], "zstd_level"))
			buf_printf(&fp, "zstd_level=%lld\n",
				   (long long)config_int(run->cfg, "zstd_level"));
		else
			buf_printf(&fp, "%s=%d\n", output_globals[i],
				   config_bool(run->cfg, output_globals[i]));
	}
	sha256(fp.p, fp.len, d);
	sha256_hexstr(d, pl->fingerprint);
	buf_release(&fp);
}

/* Plans on rank 0 and broadcasts the plan; collective. */
static void plan_broadcast(struct stage_run *run, struct plan *pl, int quiet)
{
	char *data = NULL;
	size_t len = 0;
	struct buf b = BUF_INIT;
	if (run->rank == 0) {
		make_plan(run, pl, quiet);
		plan_serialize(pl, &b);
		data = b.p;
		len = b.len;
	}
	par_bcast_bytes(&data, &len);
	if (run->rank != 0) {
		plan_deserialize(pl, data);
		free(data);
		const char *up = stage_upstream(run->cfg, run->def->name);
		if (run->def->kind != STAGE_SOURCE && up)
			run->input_dir = xasprintf("%s/%s", run->workdir, up);
	}
	buf_release(&b);
}

/* ---- part records: one small JSON per finished shard ---- */

static json_t *info_to_json(const char *name, const struct shard_info *in)
{
	return json_pack("{s:s,s:I,s:I,s:I,s:s}", "name", name, "records",
			 (json_int_t)in->records, "bytes", (json_int_t)in->bytes, "raw_bytes",
			 (json_int_t)in->raw_bytes, "sha256", in->sha256);
}

static json_t *files_to_json(const struct stage_file *f, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:s}", "name", f[i].name, "records",
						   (json_int_t)f[i].records, "bytes",
						   (json_int_t)f[i].bytes, "sha256", f[i].sha256));
	return a;
}

static int write_part_record(struct stage_run *run, const char *fingerprint, uint32_t index,
			     const struct shard_info *info, const struct shard_info *rej,
			     const struct stats *st, double seconds, const struct stage_file *files,
			     size_t nfiles)
{
	char name[64], rname[80];
	snprintf(name, sizeof name, "part-%05u.jsonl.zst", index);
	snprintf(rname, sizeof rname, "rejected/%s", name);
	json_t *j = json_object();
	json_object_set_new(j, "fingerprint", json_string(fingerprint));
	json_object_set_new(j, "index", json_integer(index));
	json_object_set_new(j, "shard", info ? info_to_json(name, info) : json_null());
	if (nfiles)
		json_object_set_new(j, "files", files_to_json(files, nfiles));
	json_object_set_new(j, "rejected", rej ? info_to_json(rname, rej) : json_null());
	json_object_set_new(j, "stats", stats_to_json(st));
	json_object_set_new(j, "seconds", json_real(seconds));
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	char *path = part_record_path(run->dir, index);
	int rc = write_file_atomic(path, text, strlen(text));
	free(path);
	free(text);
	return rc;
}

static char *current_fingerprint; /* of the stage running on this rank */

int stage_write_part(struct stage_run *run, uint32_t index, const struct shard_info *info,
		     const struct shard_info *rejected, const struct stats *st, double seconds)
{
	return write_part_record(run, current_fingerprint, index, info, rejected, st, seconds,
				 NULL, 0);
}

int stage_write_part_files(struct stage_run *run, uint32_t index, const struct stage_file *files,
			   size_t nfiles, const struct stats *st, double seconds)
{
	return write_part_record(run, current_fingerprint, index, NULL, NULL, st, seconds, files,
				 nfiles);
}

/* A file name relative to the stage directory: a plain name, or one subdirectory level
 * ("code/part-00000.bin"), never hidden, never "..". */
int stage_file_name_ok(const char *name)
{
	const char *slash = strchr(name, '/');
	if (!*name || *name == '.' || (slash && (strchr(slash + 1, '/') || slash[1] == '.' ||
						 !slash[1])))
		return 0;
	return 1;
}

/* Every file of a part record is on disk at its recorded size (none: the JSONL shard is). */
static int part_files_present(const char *dir, json_t *files)
{
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		if (!name || !stage_file_name_ok(name))
			return 0;
		char *p = xasprintf("%s/%s", dir, name);
		struct stat st;
		int ok = !stat(p, &st) &&
			 (json_int_t)st.st_size == json_integer_value(json_object_get(f, "bytes"));
		free(p);
		if (!ok)
			return 0;
	}
	return 1;
}

/* A part record that matches the plan and whose shard is on disk at the recorded size. */
static json_t *load_part(const char *dir, uint32_t index, const char *fingerprint)
{
	char *path = part_record_path(dir, index);
	json_t *j = load_json(path, 1);
	free(path);
	if (!j)
		return NULL;
	const char *fp = json_string_value(json_object_get(j, "fingerprint"));
	json_t *shard = json_object_get(j, "shard");
	char *spath = stage_shard_path(dir, index);
	struct stat st;
	int ok = fp && !strcmp(fp, fingerprint) &&
		 (json_is_null(shard) ? part_files_present(dir, json_object_get(j, "files"))
				      : !stat(spath, &st) && (json_int_t)st.st_size ==
								     json_integer_value(json_object_get(shard, "bytes")));
	free(spath);
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- rank 0's decision: skip the stage, or which shards are already done ---- */

static int parse_part_index(const char *name, const char *suffix, uint32_t *index)
{
	unsigned v;
	int used = 0;
	if (sscanf(name, "part-%u%n", &v, &used) != 1 || strcmp(name + used, suffix))
		return -1;
	*index = v;
	return 0;
}

/* Removes shards, rejected shards and part records that the plan does not account for,
 * and temporary files a killed run left behind. */
static void remove_stale(const char *dir, const char *suffix, const unsigned char *done,
			 size_t n)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		uint32_t idx;
		int temp = strstr(e->d_name, ".tmp.") != NULL;
		int part = !parse_part_index(e->d_name, suffix, &idx);
		if (temp || (part && (idx >= n || !done[idx]))) {
			char *p = xasprintf("%s/%s", dir, e->d_name);
			unlink(p);
			free(p);
		}
	}
	closedir(d);
}

/* The stage's options that define its output, one "key=canonical value" line each: its
 * config section less its runtime_opts. */
static void output_options_text(const struct stage_def *def, const struct config *cfg,
				struct buf *out)
{
	struct buf all = BUF_INIT;
	config_section_text(cfg, def->name, &all);
	for (char *line = all.p, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break; /* every line ends with one */
		size_t key = strcspn(line, "=");
		bool runtime = false;
		for (const char *const *r = def->runtime_opts; r && *r; r++)
			runtime |= strlen(*r) == key && !strncmp(line, *r, key);
		if (!runtime)
			buf_append(out, line, (size_t)(nl - line) + 1);
	}
	buf_release(&all);
}

/* The options that define the stage's output as {"key": "canonical value"}, kept in the
 * manifest so that a rerun can say which option changed. */
static json_t *options_json(const struct stage_def *def, const struct config *cfg)
{
	struct buf b = BUF_INIT;
	output_options_text(def, cfg, &b);
	json_t *o = json_object();
	for (char *line = b.p, *nl; line && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = 0;
		char *eq = strchr(line, '=');
		*eq = 0;
		json_object_set_new(o, line, json_string(eq + 1));
	}
	buf_release(&b);
	return o;
}

/* Names the options whose values differ between the manifest and now, up to a few. */
static void options_diff(const struct stage_run *run, json_t *old, struct buf *why)
{
	json_t *now = options_json(run->def, run->cfg);
	const char *key;
	json_t *v;
	int n = 0;
	json_object_foreach(now, key, v) {
		const char *was = json_string_value(json_object_get(old, key));
		if (was && !strcmp(was, json_string_value(v)))
			continue;
		if (n++ < 4)
			buf_printf(why, "%s%s.%s changed (%s -> %s)", n > 1 ? ", " : "",
				   run->def->name, key, was ? was : "unset", json_string_value(v));
	}
	if (n > 4)
		buf_printf(why, " and %d more options", n - 4);
	if (!n) /* a manifest from before options were recorded */
		buf_printf(why, "its %s options changed", run->def->name);
	json_decref(now);
}

/* Why a stage with manifest m (NULL: none) is not up to date, for the log and `curate
 * status`: what differs between its last complete run and the current plan. */
static void stale_reason(const struct stage_run *run, const struct plan *pl, json_t *m,
			 struct buf *why)
{
	if (!m) {
		buf_puts(why, "no complete output yet");
		return;
	}
	size_t start = why->len;
	json_int_t ver = json_integer_value(json_object_get(m, "version"));
	const char *csha = json_string_value(json_object_get(m, "config_sha256"));
	const char *isha = json_string_value(json_object_get(m, "input_sha256"));
	const char *ufp = json_string_value(
		json_object_get(json_object_get(m, "upstream"), "fingerprint"));
	if (ver != (json_int_t)run->def->version)
		buf_printf(why, "stage version changed (%lld -> %u)", (long long)ver,
			   run->def->version);
	if (!csha || strcmp(csha, pl->config_sha)) {
		buf_puts(why, why->len > start ? "; " : "");
		options_diff(run, json_object_get(m, "options"), why);
	}
	const char *fsha = json_string_value(json_object_get(m, "files_sha256"));
	bool cut_only = run->def->kind == STAGE_SOURCE && fsha && !strcmp(fsha, pl->files_sha);
	if ((!isha || strcmp(isha, pl->input_sha)) && !(cut_only && why->len > start)) {
		/* a source whose files are the same but cut differently (import.shards) says
		 * so through its options alone */
		buf_puts(why, why->len > start ? "; " : "");
		if (cut_only)
			buf_puts(why, "its inputs are cut into shards differently");
		else if (pl->upstream && (!ufp || strcmp(ufp, pl->upstream_fp)))
			buf_printf(why, "its input changed (stage %s was rebuilt)", pl->upstream);
		else if (run->def->kind == STAGE_SOURCE)
			buf_puts(why, "its inputs changed (files added, removed or modified)");
		else
			buf_puts(why, "its input or a file its options name changed");
	}
	if (why->len == start)
		buf_puts(why, "a global option that changes output bytes (zstd_level, "
			      "keep_rejected, keep_rejected_text) changed");
}

/* `curate status --verify`: stage_status also compares checksums. */
bool verify_outputs;

/* Whether every file a manifest lists (shards, rejected shards, other files) is on disk at
 * its recorded size; the first that is not is named in why. With verify, also its SHA-256. */
static int outputs_present(const char *dir, json_t *m, bool verify, struct buf *why,
			   size_t *nmissing)
{
	static const char *const lists[] = {"shards", "rejected", "files"};
	size_t bad = 0;
	for (size_t l = 0; l < ARRAY_LEN(lists); l++) {
		size_t i;
		json_t *f;
		json_array_foreach(json_object_get(m, lists[l]), i, f) {
			const char *name = json_string_value(json_object_get(f, "name"));
			const char *sha = json_string_value(json_object_get(f, "sha256"));
			if (!name || !stage_file_name_ok(name))
				continue;
			char *p = xasprintf("%s/%s", dir, name);
			struct stat st;
			const char *what = NULL;
			char hex[SHA256_HEX];
			if (stat(p, &st))
				what = "is missing";
			else if ((json_int_t)st.st_size != json_integer_value(json_object_get(f, "bytes")))
				what = "has another size than the manifest records";
			else if (verify && sha && (sha256_file_hex(p, hex) < 0 || strcmp(hex, sha)))
				what = "has another SHA-256 than the manifest records";
			if (what && !bad++ && why)
				buf_printf(why, "%s %s", name, what);
			free(p);
		}
	}
	if (nmissing)
		*nmissing = bad;
	return bad == 0;
}

struct decision {
	int skip;
	unsigned char *done; /* per task */
	size_t ndone;
};

/* The stage's manifest, or NULL when there is none or it is damaged: a damaged manifest
 * cannot vouch for the stage, nor feed the next one (unless quiet, a warning says why). */
static json_t *load_own_manifest(const struct stage_run *run, const char *mpath, int quiet)
{
	struct manifest mf;
	if (!file_exists(mpath))
		return NULL;
	json_t *j = manifest_read(mpath, &mf);
	if (!j) {
		if (!quiet)
			log_warn("stage %s: rerunning, its manifest is unusable: %s",
				 run->def->name, err_get());
		return NULL;
	}
	manifest_release(&mf);
	return j;
}

static void decide(struct stage_run *run, const struct plan *pl, const struct stage_opts *o,
		   struct decision *dec)
{
	size_t n = pl->tasks.n;
	dec->done = xcalloc(n + 1, 1);
	char *mpath = xasprintf("%s/manifest.json", run->dir);
	json_t *m = load_own_manifest(run, mpath, 0);
	const char *fp = m ? json_string_value(json_object_get(m, "fingerprint")) : NULL;
	struct buf gone = BUF_INIT;
	size_t ngone = 0;
	bool same = fp && !strcmp(fp, pl->fingerprint) && !o->force;
	if (same && outputs_present(run->dir, m, false, &gone, &ngone)) {
		dec->skip = 1;
		json_decref(m);
		free(mpath);
		return;
	}
	if (o->force) {
		log_info("stage %s: --force: rerunning from scratch", run->def->name);
	} else if (same) {
		/* up to date by its config, but what it wrote is not all there: the finished
		 * shards that are still intact are kept, the rest redone */
		log_warn("stage %s: %s (%zu output file%s damaged or gone): rerunning what is "
			 "missing", run->def->name, gone.p, ngone, ngone == 1 ? "" : "s");
	} else if (m) {
		struct buf why = BUF_INIT;
		stale_reason(run, pl, m, &why);
		log_info("stage %s: rerunning: %s", run->def->name, why.p);
		buf_release(&why);
	}
	buf_release(&gone);
	json_decref(m);
	/* the stage will run: it is not complete until a new manifest says so */
	unlink(mpath);
	free(mpath);
	char *spath = xasprintf("%s/stats.json", run->dir);
	unlink(spath);
	free(spath);

	int parts = run->def->kind != STAGE_GLOBAL || run->def->resume_parts;
	for (size_t i = 0; i < n && !o->force && parts; i++) {
		json_t *j = load_part(run->dir, (uint32_t)i, pl->fingerprint);
		if (j) {
			dec->done[i] = 1;
			dec->ndone++;
			json_decref(j);
		}
	}
	remove_stale(run->dir, ".jsonl.zst", dec->done, n);
	char *rdir = xasprintf("%s/rejected", run->dir);
	remove_stale(rdir, ".jsonl.zst", dec->done, n);
	free(rdir);
	char *pdir = xasprintf("%s/.parts", run->dir);
	remove_stale(pdir, ".json", dec->done, n);
	free(pdir);
}

static void decide_broadcast(struct stage_run *run, const struct plan *pl,
			     const struct stage_opts *o, struct decision *dec)
{
	struct buf b = BUF_INIT;
	char *data = NULL;
	size_t len = 0;
	if (run->rank == 0) {
		decide(run, pl, o, dec);
		put_u64(&b, (uint64_t)dec->skip);
		put_u64(&b, dec->ndone);
		buf_append(&b, dec->done, pl->tasks.n);
		data = b.p;
		len = b.len;
	}
	par_bcast_bytes(&data, &len);
	if (run->rank != 0) {
		const char *p = data;
		dec->skip = (int)get_u64(&p);
		dec->ndone = get_u64(&p);
		dec->done = xmalloc(pl->tasks.n + 1);
		memcpy(dec->done, p, pl->tasks.n);
		free(data);
	}
	buf_release(&b);
}

/* ---- running tasks ---- */

struct emit {
	struct stage_run *run;
	struct shard_writer *out, *rej;
	struct stats *st;
	struct progress *prog;
};

/* ---- the shard queue (queue.h) ---- */

static struct task_queue *serving; /* rank 0's queue while its tasks run */
static pthread_t serving_thread;

void stage_queue_serving(struct task_queue *q)
{
	serving = q;
	serving_thread = pthread_self();
}

/* Between documents: rank 0 answers the other ranks' requests for shards, every 16th
 * document (a probe of MPI costs about what a small document does). */
static void serve(void)
{
	static unsigned calls;
	if (serving && !(++calls & 15) && pthread_equal(pthread_self(), serving_thread))
		queue_serve(serving);
}

/* ---- graceful stop ---- */

static volatile sig_atomic_t stop_sig;
static unsigned stop_grace = 60;

/* The end of a stop that did not come in time, or a second signal: the lock goes, then the
 * process, by the signal that asked. */
static void stop_now(int sig)
{
	lock_release_on_signal();
	signal(stop_sig, SIG_DFL);
	raise(stop_sig);
}

static void on_stop(int sig)
{
	if (stop_sig) { /* the second: now */
		stop_now(sig);
		return;
	}
	stop_sig = sig;
	alarm(stop_grace);
}

void stage_catch_stop(double grace)
{
	static const int sigs[] = {SIGTERM, SIGINT};
	stop_grace = grace < 1 ? 1 : (unsigned)(grace + 0.5);
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		struct sigaction sa = {0};
		sa.sa_handler = on_stop;
		sa.sa_flags = SA_RESTART; /* reads and writes go on; the loops look at the flag */
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
	struct sigaction al = {0};
	al.sa_handler = stop_now;
	sigemptyset(&al.sa_mask);
	sigaction(SIGALRM, &al, NULL);
}

int stage_stop_anywhere(void) { return !par_all_ok(!stop_sig); }

int stage_stop_requested(void) { return stop_sig != 0; }

/* The error of a shard abandoned for a stop; stop_sig is set. */
static int stopping(void)
{
	err_set("a stop was asked (%s)", stop_sig == SIGTERM ? "SIGTERM" : "SIGINT");
	return -1;
}

int emit_keep(struct emit *e, const struct doc *d)
{
	if (stop_sig)
		return stopping(); /* produce() gives up its shard */
	serve();
	e->st->docs_out++;
	e->st->bytes_out += d->text.len;
	if (shard_writer_put(e->out, d) < 0)
		return -1;
	return 0;
}

int emit_drop(struct emit *e, struct doc *d, const char *reason, uint64_t bytes)
{
	if (stop_sig)
		return stopping();
	stats_drop(e->st, reason, bytes);
	if (!e->rej || !d)
		return 0;
	json_object_set_new(d->meta, "drop_reason", json_string(reason));
	return shard_writer_put(e->rej, d);
}

void emit_input(struct emit *e, uint64_t bytes)
{
	e->st->docs_in++;
	e->st->bytes_in += bytes;
	progress_add(e->prog, 1, bytes);
}

struct stats *stage_stats(struct stage_run *run) { return run->stats; }

bool stage_part_done(const struct stage_run *run, uint32_t index)
{
	return run->def->resume_parts && run->parts_done && index < run->nparts &&
	       run->parts_done[index];
}

/* The map driver: input shard i through def->map into output shard i (a source's carried
 * upstream shard: through unchanged). */
static int map_task(struct stage_run *run, const struct task *t, struct emit *e)
{
	int verify = config_bool(run->cfg, "verify_inputs");
	struct shard_reader *r =
		shard_reader_open(t->arg.p, verify && t->input_sha256[0] ? t->input_sha256 : NULL);
	if (!r)
		return -1;
	struct doc d;
	doc_init(&d);
	const char *line;
	size_t len;
	int rc;
	while ((rc = shard_reader_next_line(r, &line, &len)) == 1) {
		if (stop_sig) {
			rc = stopping();
			break;
		}
		serve();
		if (doc_parse(&d, line, len) < 0) {
			err_set("%s: record %llu: %s", t->arg.p,
				(unsigned long long)shard_reader_records(r), err_get());
			rc = -1;
			break;
		}
		/* stats count text bytes; progress counts shard bytes, as its total does */
		e->st->docs_in++;
		e->st->bytes_in += d.text.len;
		progress_add(e->prog, 1, len + 1);
		const char *reason = "dropped";
		uint64_t bytes = d.text.len;
		int keep = run->def->kind == STAGE_SOURCE ? 1 : run->def->map(run, &d, &reason);
		if (keep < 0) {
			rc = -1;
			break;
		}
		if ((keep ? emit_keep(e, &d) : emit_drop(e, &d, reason, bytes)) < 0) {
			rc = -1;
			break;
		}
	}
	doc_release(&d);
	shard_reader_close(r);
	return rc;
}

/* So that a test can stop a run halfway (tests/e2e/stop.sh), or make one rank slow (the
 * queue's benchmark). */
static void delay_by(const char *var, int rank)
{
	const char *v = getenv(var), *r = getenv("CURATE_TEST_SLOW_RANK");
	if (r && atoi(r) != rank)
		v = NULL;
	double end = v ? now_seconds() + atof(v) : 0;
	while (v && !stop_sig && now_seconds() < end) {
		usleep(10000);
		if (serving && pthread_equal(pthread_self(), serving_thread))
			queue_serve(serving); /* rank 0's wait must not hold the others up */
	}
}

void stage_test_delay(int rank) { delay_by("CURATE_TEST_SHARD_DELAY", rank); }

void stage_test_part_delay(int rank) { delay_by("CURATE_TEST_PART_DELAY", rank); }

static int run_task(struct stage_run *run, const struct task *t, struct progress *prog)
{
	stage_test_delay(run->rank);
	double t0 = now_seconds();
	int zl = (int)config_int(run->cfg, "zstd_level");
	char *path = stage_shard_path(run->dir, t->index);
	char *rdir = xasprintf("%s/rejected", run->dir);
	char *rpath = stage_shard_path(rdir, t->index);
	struct stats st;
	stats_init(&st);
	struct emit e = {run, shard_writer_open(path, zl), NULL, &st, prog};
	int rc = e.out ? 0 : -1;
	if (!rc && config_bool(run->cfg, "keep_rejected")) {
		e.rej = shard_writer_open(rpath, zl);
		shard_writer_ids_only(e.rej, !config_bool(run->cfg, "keep_rejected_text"));
		rc = e.rej ? 0 : -1;
	}
	run->stats = &st;
	if (!rc)
		rc = run->def->kind == STAGE_SOURCE && !t->input_sha256[0]
			     ? run->def->produce(run, t, &e)
			     : map_task(run, t, &e);
	run->stats = NULL;
	struct shard_info info = {0}, rinfo = {0};
	if (rc < 0) {
		shard_writer_abort(e.out);
		shard_writer_abort(e.rej);
	} else {
		/* the rejected shard first: the output shard's rename is the commit point */
		if (e.rej && shard_writer_close(e.rej, &rinfo) < 0)
			rc = -1, shard_writer_abort(e.out);
		else if (shard_writer_close(e.out, &info) < 0)
			rc = -1;
	}
	if (!rc) {
		stats_count(&st, "utf8_repaired", info.utf8_repaired);
		rc = write_part_record(run, current_fingerprint, t->index, &info,
				       e.rej ? &rinfo : NULL, &st, now_seconds() - t0, NULL, 0);
	}
	if (rc < 0 && stop_sig)
		log_info("stage %s: shard %u abandoned: %s", run->def->name, t->index, err_get());
	else if (rc < 0)
		log_error("stage %s: shard %u failed: %s", run->def->name, t->index, err_get());
	stats_release(&st);
	free(path);
	free(rpath);
	free(rdir);
	return rc;
}

/* ---- the manifest ---- */

/* What the driver writes into stats.json itself; a stage's objects must not shadow it. */
static const char *const driver_stats_keys[] = {
	"docs_in", "bytes_in", "docs_out", "bytes_out", "drops", "counters", "stage", "shards",
	"resumed_shards", "ranks", "wall_seconds", "task_seconds",
};

void stage_stats_object(struct stage_run *run, const char *name, json_t *obj)
{
	for (size_t i = 0; i < ARRAY_LEN(driver_stats_keys); i++)
		if (!strcmp(name, driver_stats_keys[i]))
			DIE("stage %s: stats object '%s' would replace the driver's", run->def->name,
			    name);
	if (!run->stats_objects)
		run->stats_objects = json_object();
	json_object_set_new(run->stats_objects, name, obj);
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The stage's own objects after the driver's fields, in name order. */
static void add_stats_objects(json_t *st, json_t *objects)
{
	size_t n = json_object_size(objects), k = 0;
	const char **keys = xmalloc((n + 1) * sizeof *keys);
	const char *key;
	json_t *v;
	json_object_foreach(objects, key, v)
		keys[k++] = key;
	qsort(keys, n, sizeof *keys, cmp_cstr);
	for (size_t i = 0; i < n; i++)
		json_object_set(st, keys[i], json_object_get(objects, keys[i]));
	free(keys);
}

static int write_manifest(struct stage_run *run, const struct plan *pl, size_t nshards,
			  double wall, size_t resumed)
{
	json_t *shards = json_array(), *rejected = json_array(), *files = json_array();
	struct stats total;
	stats_init(&total);
	uint64_t records = 0, bytes = 0, raw = 0;
	double cpu = 0;
	for (size_t i = 0; i < nshards; i++) {
		json_t *j = load_part(run->dir, (uint32_t)i, pl->fingerprint);
		if (!j) {
			err_set("%s: part record of shard %zu is missing or stale", run->dir, i);
			json_decref(shards), json_decref(rejected), json_decref(files);
			stats_release(&total);
			return -1;
		}
		json_array_extend(files, json_object_get(j, "files"));
		json_t *s = json_object_get(j, "shard");
		records += (uint64_t)json_integer_value(json_object_get(s, "records"));
		bytes += (uint64_t)json_integer_value(json_object_get(s, "bytes"));
		raw += (uint64_t)json_integer_value(json_object_get(s, "raw_bytes"));
		if (json_is_object(s))
			json_array_append(shards, s);
		if (json_is_object(json_object_get(j, "rejected")))
			json_array_append(rejected, json_object_get(j, "rejected"));
		stats_from_json(&total, json_object_get(j, "stats"));
		cpu += json_real_value(json_object_get(j, "seconds"));
		json_decref(j);
	}
	json_t *m = json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:o}", "stage",
			      run->def->name, "version", (int)run->def->version, "fingerprint",
			      pl->fingerprint, "config_sha256", pl->config_sha, "input_sha256",
			      pl->input_sha, "shard_count", (json_int_t)nshards, "records",
			      (json_int_t)records, "bytes", (json_int_t)bytes, "raw_bytes",
			      (json_int_t)raw, "shards", shards, "rejected", rejected);
	if (json_array_size(files))
		json_object_set(m, "files", files);
	json_decref(files);
	json_object_set_new(m, "files_sha256", json_string(pl->files_sha));
	json_object_set_new(m, "options", options_json(run->def, run->cfg));
	json_object_set_new(m, "upstream", pl->upstream ? json_pack("{s:s,s:s}", "stage",
			pl->upstream, "fingerprint", pl->upstream_fp) : json_null());
	json_t *st = stats_to_json(&total);
	json_object_set_new(st, "stage", json_string(run->def->name));
	json_object_set_new(st, "shards", json_integer((json_int_t)nshards));
	json_object_set_new(st, "resumed_shards", json_integer((json_int_t)resumed));
	json_object_set_new(st, "ranks", json_integer(run->nranks));
	json_object_set_new(st, "wall_seconds", json_real(wall));
	json_object_set_new(st, "task_seconds", json_real(cpu));
	add_stats_objects(st, run->stats_objects);

	char *spath = xasprintf("%s/stats.json", run->dir);
	char *mpath = xasprintf("%s/manifest.json", run->dir);
	char *stext = json_dumps(st, JSON_INDENT(2));
	char *mtext = json_dumps(m, JSON_INDENT(2));
	/* stats first: a manifest on disk means the stage is complete */
	int rc = write_file_atomic(spath, stext, strlen(stext));
	if (!rc)
		rc = write_file_atomic(mpath, mtext, strlen(mtext));
	log_info("stage %s: %llu docs in, %llu out, %llu dropped; %zu shards (%zu resumed) in "
		 "%.1fs", run->def->name, (unsigned long long)total.docs_in,
		 (unsigned long long)total.docs_out,
		 (unsigned long long)(total.docs_in - total.docs_out), nshards, resumed, wall);
	for (size_t i = 0; i < total.ndrops; i++)
		log_info("  dropped %s: %llu", total.drops[i].name,
			 (unsigned long long)total.drops[i].docs);
	free(spath), free(mpath), free(stext), free(mtext);
	json_decref(m), json_decref(st);
	stats_release(&total);
	return rc;
}

/* ---- the driver ---- */

static void run_init(struct stage_run *run, const struct stage_def *def,
		     const struct config *cfg)
{
	memset(run, 0, sizeof *run);
	run->def = def;
	run->cfg = cfg;
	run->workdir = config_str(cfg, "workdir");
	run->dir = xasprintf("%s/%s", run->workdir, def->name);
	run->rank = par_rank();
	run->nranks = par_size();
}

static void run_release(struct stage_run *run)
{
	free(run->dir);
	free(run->input_dir);
	json_decref(run->stats_objects);
}

static int make_dirs(struct stage_run *run)
{
	int ok = 1;
	if (run->rank == 0) {
		char *p = xasprintf("%s/.parts", run->dir), *r = xasprintf("%s/rejected", run->dir);
		ok = !mkdir_p(p) && !mkdir_p(r);
		if (!ok)
			log_error("%s", err_get());
		free(p), free(r);
	}
	return par_all_ok(ok);
}

static void log_resumed(const struct stage_def *def, const struct decision *dec, size_t n)
{
	if (!dec->ndone)
		return;
	struct buf b = BUF_INIT;
	size_t listed = 0;
	for (size_t i = 0; i < n && listed < 20; i++)
		if (dec->done[i])
			buf_printf(&b, "%spart-%05zu", listed++ ? ", " : "", i);
	log_info("stage %s: resuming: %zu of %zu shards already finished, skipped: %s%s",
		 def->name, dec->ndone, n, b.p, dec->ndone > listed ? ", ..." : "");
	buf_release(&b);
}

static int run_tasks(struct stage_run *run, const struct plan *pl, const struct decision *dec)
{
	size_t n = pl->tasks.n, npending = 0;
	uint64_t *sizes = xmalloc((n + 1) * sizeof *sizes);
	size_t *which = xmalloc((n + 1) * sizeof *which);
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (dec->done[i])
			continue;
		which[npending] = i;
		sizes[npending++] = pl->tasks.v[i].size;
		total += pl->tasks.v[i].size;
	}
	int dynamic = run->nranks > 1 && !strcmp(config_str(run->cfg, "schedule"), "queue");
	/* the queue hands out tasks largest first; the static plan fixes their owners */
	int *owner = xmalloc((npending + 1) * sizeof *owner);
	size_t *order = xmalloc((npending + 1) * sizeof *order);
	if (dynamic)
		schedule_order(sizes, npending, order);
	else
		schedule_assign(sizes, npending, run->nranks, owner);

	int ready = !run->def->setup || run->def->setup(run) == 0;
	if (!ready)
		log_error("stage %s: setup failed: %s", run->def->name, err_get());
	int ok = ready;
	struct progress *prog =
		progress_new(run->def->name, total, config_float(run->cfg, "progress_interval"));
	/* a failed shard does not stop the others: their work is kept for the rerun; a stop
	 * does, before the next shard */
	if (dynamic) {
		struct task_queue *q = queue_open(npending);
		if (run->rank == 0)
			stage_queue_serving(q);
		long k;
		while (ready && (k = queue_next(q, stop_sig != 0)) >= 0)
			if (run_task(run, &pl->tasks.v[which[order[k]]], prog) < 0)
				ok = 0;
		serving = NULL;
		queue_close(q);
	} else {
		for (size_t k = 0; k < npending && ready && !stop_sig; k++)
			if (owner[k] == run->rank && run_task(run, &pl->tasks.v[which[k]], prog) < 0)
				ok = 0;
	}
	progress_finish(prog);
	if (stage_stop_anywhere()) {
		ok = 0;
		if (run->rank == 0)
			log_warn("stage %s: stopped on request (SIGTERM or SIGINT); the shards that "
				 "were finished are kept: run the same command again to resume",
				 run->def->name);
	}
	if (run->def->teardown && ready)
		run->def->teardown(run);
	free(sizes), free(which), free(owner), free(order);
	return par_all_ok(ok);
}

int stage_execute(const struct stage_def *def, const struct config *cfg,
		  const struct stage_opts *opts)
{
	double t0 = now_seconds();
	struct stage_run run;
	run_init(&run, def, cfg);
	struct plan pl = {0};
	struct decision dec = {0};
	int rc = -1;

	if (!make_dirs(&run))
		goto out;
	plan_broadcast(&run, &pl, 0);
	if (pl.error)
		goto out;
	decide_broadcast(&run, &pl, opts, &dec);
	run.force = opts->force;
	if (dec.skip) {
		log_info("stage %s: up to date (config and input unchanged), skipped",
			 def->name);
		rc = 0;
		goto finish;
	}
	log_info("stage %s: %zu %sshards on %d rank%s", def->name, pl.tasks.n,
		 def->kind == STAGE_GLOBAL ? "input " : "", run.nranks, run.nranks > 1 ? "s" : "");
	log_resumed(def, &dec, pl.tasks.n);
	current_fingerprint = pl.fingerprint;
	run.parts_done = dec.done;
	run.fingerprint = pl.fingerprint;
	run.nparts = pl.tasks.n;

	int ok;
	if (def->kind == STAGE_GLOBAL) {
		ok = par_all_ok(def->run(&run, &pl.tasks) == 0);
	} else {
		ok = run_tasks(&run, &pl, &dec);
	}
	if (!ok) {
		log_error("stage %s failed; finished shards are kept and a rerun redoes only the "
			  "rest", def->name);
		goto out;
	}
	size_t nshards = def->kind == STAGE_GLOBAL ? run.out_shards : pl.tasks.n;
	int wrote = 1;
	if (run.rank == 0 && write_manifest(&run, &pl, nshards, now_seconds() - t0, dec.ndone)) {
		log_error("stage %s: %s", def->name, err_get());
		wrote = 0;
	}
	rc = par_all_ok(wrote) ? 0 : -1;
finish:
	if (!rc && def->finish) {
		int fin = run.rank != 0 || def->finish(&run) == 0;
		if (!fin)
			log_error("stage %s: %s", def->name, err_get());
		rc = par_all_ok(fin) ? 0 : -1;
	}
out:
	current_fingerprint = NULL;
	task_list_release(&pl.tasks);
	free(dec.done);
	run_release(&run);
	return rc;
}

enum stage_state stage_status(const struct stage_def *def, const struct config *cfg,
			      uint32_t *done, uint32_t *total, struct buf *why)
{
	struct stage_run run;
	run_init(&run, def, cfg);
	struct plan pl = {0};
	plan_broadcast(&run, &pl, 1);
	enum stage_state state = STATE_MISSING;
	*done = 0;
	*total = (uint32_t)pl.tasks.n;
	char *mpath = xasprintf("%s/manifest.json", run.dir);
	json_t *m = run.rank == 0 ? load_own_manifest(&run, mpath, 1) : NULL;
	free(mpath);
	const char *fp = m ? json_string_value(json_object_get(m, "fingerprint")) : NULL;
	uint32_t outputs = (uint32_t)json_integer_value(json_object_get(m, "shard_count"));
	if (run.rank != 0) {
		/* only rank 0 looks */
	} else if (pl.error) {
		/* the plan needs something that is missing (a model, a list): what is on disk is
		 * still shown, but whether it is current cannot be told */
		if (fp) {
			state = STATE_UNCHECKED;
			*done = *total = outputs;
		}
		if (why)
			buf_printf(why, "cannot check: %s", err_get());
	} else if (fp) {
		size_t gone = 0;
		struct buf miss = BUF_INIT;
		state = strcmp(fp, pl.fingerprint) ? STATE_STALE : STATE_DONE;
		if (state == STATE_STALE && why)
			stale_reason(&run, &pl, m, why);
		if (!outputs_present(run.dir, m, verify_outputs, &miss, &gone)) {
			if (state == STATE_DONE)
				state = STATE_PARTIAL;
			if (why)
				buf_printf(why, "%s%s (%zu file%s)%s", why->len ? "; " : "", miss.p, gone,
					   gone == 1 ? "" : "s",
					   def->kind == STAGE_GLOBAL ? ": a run redoes the whole stage"
					   : ": a run redoes those shards");
		}
		buf_release(&miss);
		/* what it wrote: a global stage's outputs are its own count, not its inputs' */
		*done = outputs;
		if (def->kind == STAGE_GLOBAL || state == STATE_STALE)
			*total = outputs;
		if (state == STATE_PARTIAL && def->kind != STAGE_GLOBAL)
			*done = outputs - (uint32_t)(gone < outputs ? gone : outputs);
	} else {
		for (size_t i = 0; i < pl.tasks.n; i++) {
			json_t *j = load_part(run.dir, (uint32_t)i, pl.fingerprint);
			*done += j != NULL;
			json_decref(j);
		}
		state = *done ? STATE_PARTIAL : STATE_MISSING;
		if (def->kind == STAGE_GLOBAL && *done) {
			/* a global stage resumes from its phases' files and, with resume_parts,
			 * its finished parts; its collectives run again */
			*total = 0;
			if (why)
				buf_puts(why, "interrupted; a rerun keeps what its phases finished and redoes the rest");
		}
	}
	json_decref(m);
	task_list_release(&pl.tasks);
	run_release(&run);
	return state;
}

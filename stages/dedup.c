/* dedup: the frame both deduplication stages run in (see dedup.h): the shard plan, keep
 * keys, reading with bad records skipped, decisions routed to the shard's rank, and the 1:1
 * rewrite with rejected documents and per-shard stats. */
#include "dedup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "par.h"
#include "phase.h"
#include "schedule.h"

void dedup_init(struct dedup *d, struct stage_run *run, const struct task_list *in)
{
	memset(d, 0, sizeof *d);
	d->run = run;
	d->in = in;
	uint64_t *sizes = xmalloc((in->n + 1) * sizeof *sizes);
	for (size_t i = 0; i < in->n; i++)
		sizes[i] = in->v[i].size;
	d->owner = xmalloc((in->n + 1) * sizeof *d->owner);
	schedule_assign(sizes, in->n, run->nranks, d->owner);
	free(sizes);
	char *key = xasprintf("%s.repo_sources", run->def->name);
	d->nrepo = config_list(run->cfg, key, &d->repo_sources);
	free(key);
	d->budget = config_size(run->cfg, "memory_budget");
	d->tmpdir = stage_tmpdir(run);
	run->out_shards = (uint32_t)in->n;
	/* Shards are the unit of reading and rewriting, most of the work: a rank without one
	 * only takes its part of the exchanges and waits for the others. */
	if (run->rank == 0 && in->n < (size_t)run->nranks)
		log_warn("stage %s: %zu input shard%s on %d ranks: %zu rank%s will have nothing to "
			 "read or rewrite and only wait; give the upstream stage at least one shard "
			 "per rank (import never splits a JSONL file: split it, or run reshard "
			 "first)", run->def->name, in->n, in->n == 1 ? "" : "s", run->nranks,
			 (size_t)run->nranks - in->n, (size_t)run->nranks - in->n == 1 ? "" : "s");
	d->mark_wall = now_seconds();
	d->mark_cpu = cpu_seconds();
}

void dedup_release(struct dedup *d)
{
	free(d->owner);
	free(d->tmpdir);
}

void dedup_phase(struct dedup *d, const char *name)
{
	double w = now_seconds(), c = cpu_seconds();
	unsigned i = 0;
	while (i < d->nphases && strcmp(d->phase_name[i], name))
		i++;
	if (i == d->nphases && i < DEDUP_MAX_PHASES) {
		d->phase_name[d->nphases++] = name;
		d->phase_wall[i] = d->phase_cpu[i] = 0;
	}
	if (i < d->nphases) { /* a repeated phase (one per round) adds up */
		d->phase_wall[i] += w - d->mark_wall;
		d->phase_cpu[i] += c - d->mark_cpu;
	}
	log_debug("stage %s: %s took %.2fs (%.2fs CPU)", d->run->def->name, name,
		  w - d->mark_wall, c - d->mark_cpu);
	d->mark_wall = w, d->mark_cpu = c;
}

/* Each rank's values of one phase, from the gathered rows of per values. */
static json_t *per_rank(const double *all, int n, size_t per, size_t at)
{
	json_t *a = json_array();
	for (int r = 0; r < n; r++)
		json_array_append_new(a, json_real(all[(size_t)r * per + at]));
	return a;
}

void dedup_phases_report(struct dedup *d)
{
	int n = d->run->nranks;
	size_t k = d->nphases, per = 2 * k + 1; /* a rank's walls, CPUs, commit wall */
	double *mine = xmalloc(per * sizeof *mine), *all = xmalloc(per * (size_t)n * sizeof *all);
	memcpy(mine, d->phase_wall, k * sizeof *mine);
	memcpy(mine + k, d->phase_cpu, k * sizeof *mine);
	mine[2 * k] = d->commit_wall;
	/* every rank ran the same phases, so the rows line up */
	MPI_CHECK(MPI_Allgather(mine, (int)per, MPI_DOUBLE, all, (int)per, MPI_DOUBLE,
				MPI_COMM_WORLD));
	json_t *o = json_object();
	for (size_t i = 0; i < k; i++)
		json_object_set_new(o, d->phase_name[i],
				    json_pack("{s:o,s:o}", "wall", per_rank(all, n, per, i), "cpu",
					      per_rank(all, n, per, k + i)));
	json_object_set_new(o, "rewrite_commit",
			    json_pack("{s:o}", "wall", per_rank(all, n, per, 2 * k)));
	stage_stats_object(d->run, "phase_seconds", o);
	free(mine), free(all);
}

int dedup_level(const struct dedup *d, const struct doc *doc)
{
	for (size_t i = 0; i < d->nrepo; i++)
		if (doc->source.len == strlen(d->repo_sources[i]) &&
		    !memcmp(doc->source.p, d->repo_sources[i], doc->source.len))
			return 1;
	return 0;
}

static uint64_t stars_of(const struct doc *doc)
{
	json_t *s = json_object_get(doc->meta, "stars");
	double v = json_is_number(s) ? json_number_value(s) : 0;
	return v > 0 ? (v < 1.8e19 ? (uint64_t)v : UINT64_MAX) : 0;
}

/* 0 for a permissive copy, which The Stack v2 keeps when it deduplicates; 1 for the rest. */
static unsigned char licence_rank(const struct doc *doc)
{
	const char *t = json_string_value(json_object_get(doc->meta, "license_type"));
	return !(t && !strcmp(t, "permissive"));
}

void dedup_keep_key(struct buf *out, const struct doc *doc, uint32_t shard, uint64_t record,
		    int prefer_permissive)
{
	unsigned char b[12];
	buf_putc(out, (char)(prefer_permissive ? licence_rank(doc) : 0));
	be_put(b, ~stars_of(doc), 8);
	buf_append(out, b, 8);
	/* escaping keeps memcmp order of ids and lets the terminator sort first */
	for (size_t i = 0; i < doc->id.len; i++) {
		buf_putc(out, doc->id.p[i]);
		if (!doc->id.p[i])
			buf_putc(out, (char)0xff);
	}
	buf_append(out, "\0\0", 2);
	be_put(b, shard, 4);
	be_put(b + 4, record, 8);
	buf_append(out, b, 12);
}

void dedup_key_id(const void *key, size_t n, struct buf *out)
{
	const unsigned char *k = key;
	buf_reset(out);
	for (size_t i = 9; i + 14 <= n; i++) {
		if (!k[i] && k[i + 1] == 0xff)
			buf_putc(out, 0), i++;
		else if (!k[i])
			break;
		else
			buf_putc(out, (char)k[i]);
	}
	buf_append(out, "", 0);
}

void dedup_key_place(const void *key, size_t n, uint32_t *shard, uint64_t *record)
{
	const unsigned char *k = key;
	*shard = (uint32_t)be_get(k + n - 12, 4);
	*record = be_get(k + n - 8, 8);
}

struct xchg *dedup_xchg(struct dedup *d, unsigned share)
{
	uint64_t b = d->budget / (share ? share : 1);
	return xchg_new(MPI_COMM_WORLD, b < 65536 ? 65536 : b, d->tmpdir);
}

int dedup_read_shard(struct dedup *d, size_t i, dedup_doc_fn fn, void *arg)
{
	struct stage_run *run = d->run;
	const struct task *t = &d->in->v[i];
	int verify = config_bool(run->cfg, "verify_inputs");
	struct shard_reader *r =
		shard_reader_open(t->arg.p, verify && t->input_sha256[0] ? t->input_sha256 : NULL);
	struct doc doc;
	doc_init(&doc);
	const char *line;
	size_t len;
	int got = r ? 0 : -1;
	d->shard = (uint32_t)i;
	for (d->record = 0; r && (got = shard_reader_next_line(r, &line, &len)) == 1; d->record++) {
		stage_progress_add(run, 1, len + 1);
		if (stage_stop_requested()) {
			err_set("a stop was asked");
			got = -1;
			break;
		}
		if (doc_parse(&doc, line, len) < 0) {
			log_warn("stage %s: %s: record %llu: %s (skipped, counted as bad_record)",
				 run->def->name, t->arg.p, (unsigned long long)d->record + 1, err_get());
			continue;
		}
		if (fn(d, &doc, arg) < 0) {
			got = -1;
			break;
		}
	}
	shard_reader_close(r);
	doc_release(&doc);
	return got < 0 ? -1 : 0;
}

int dedup_phase_shard(struct phase *ph, size_t i, json_t **info, void *job)
{
	struct dedup_job *j = job;
	struct dedup *d = j->d;
	int rc = 0;
	for (size_t k = 0; k < DEDUP_MAX_FILES && j->exts[k] && !rc; k++) {
		d->out_path[k] = phase_tmp_path(ph, i, j->exts[k]);
		if (!(d->out[k] = fopen(d->out_path[k], "wb"))) {
			err_set("%s: %s", d->out_path[k], strerror(errno));
			rc = -1;
		}
	}
	if (!rc)
		rc = dedup_read_shard(d, i, j->fn, j->arg);
	for (size_t k = 0; k < DEDUP_MAX_FILES; k++) {
		if (d->out[k] && fclose(d->out[k]) && !rc) {
			err_set("%s: %s", d->out_path[k], strerror(errno));
			rc = -1;
		}
		d->out[k] = NULL;
		free(d->out_path[k]);
		d->out_path[k] = NULL;
	}
	phase_count(ph, d->record);
	*info = json_pack("{s:I}", "records", (json_int_t)d->record);
	return rc;
}

int dedup_decide(struct dedup *d, struct xchg *x, uint32_t shard, uint64_t record,
		 const void *val, size_t vlen)
{
	unsigned char k[12];
	be_put(k, shard, 4);
	be_put(k + 4, record, 8);
	return xchg_put(x, d->owner[shard], k, sizeof k, val, vlen);
}

/* The decision stream, read alongside the shards in (shard, record) order. */
struct pending {
	struct xchg *x;
	int have;
	const void *k, *v;
	size_t kl, vl;
};

/* The decision for (shard, record), or NULL; -1 on a read error. */
static int pending_find(struct pending *p, uint32_t shard, uint64_t record, const void **v,
			size_t *vl)
{
	*v = NULL;
	while (p->have == 1) {
		uint64_t s = be_get(p->k, 4), r = be_get((const char *)p->k + 4, 8);
		if (s > shard || (s == shard && r > record))
			return 0;
		if (s == shard && r == record) {
			*v = p->v, *vl = p->vl;
			return 0;
		}
		/* a decision for a record that is not there would be a bug upstream of here */
		DIE("decision for shard %llu record %llu that was never read",
		    (unsigned long long)s, (unsigned long long)r);
	}
	return p->have < 0 ? -1 : 0;
}

static void pending_next(struct pending *p)
{
	p->have = xchg_next(p->x, &p->k, &p->kl, &p->v, &p->vl);
}

struct writers {
	struct shard_writer *out, *rej;
};

static int rewrite_records(struct dedup *d, struct shard_reader *r, struct writers *w,
			   struct pending *p, struct stats *st, dedup_apply_fn fn, void *arg)
{
	struct doc doc;
	doc_init(&doc);
	const char *line;
	size_t len;
	int got;
	for (d->record = 0; (got = shard_reader_next_line(r, &line, &len)) == 1; d->record++) {
		st->docs_in++;
		if (doc_parse(&doc, line, len) < 0) {
			stats_drop(st, "bad_record", len);
			continue;
		}
		st->bytes_in += doc.text.len;
		const void *v;
		size_t vl = 0;
		if (pending_find(p, d->shard, d->record, &v, &vl) < 0) {
			got = -1;
			break;
		}
		const char *reason = "dropped";
		uint64_t bytes = doc.text.len;
		int keep = fn(d, &doc, v, vl, &reason, st, arg);
		if (v)
			pending_next(p);
		if (keep) {
			st->docs_out++, st->bytes_out += bytes;
			got = shard_writer_put(w->out, &doc);
		} else {
			stats_drop(st, reason, bytes);
			json_object_set_new(doc.meta, "drop_reason", json_string(reason));
			got = w->rej ? shard_writer_put(w->rej, &doc) : 0;
		}
		if (got < 0)
			break;
	}
	doc_release(&doc);
	return got < 0 ? -1 : 0;
}

static int rewrite_shard(struct dedup *d, struct pending *p, dedup_apply_fn fn, void *arg,
			 const struct stats *extra)
{
	struct stage_run *run = d->run;
	const struct task *t = &d->in->v[d->shard];
	double t0 = now_seconds();
	int zl = (int)config_int(run->cfg, "zstd_level");
	char *path = stage_shard_path(run->dir, d->shard);
	char *rdir = xasprintf("%s/rejected", run->dir);
	char *rpath = stage_shard_path(rdir, d->shard);
	struct writers w = {shard_writer_open(path, zl), NULL};
	int rc = w.out ? 0 : -1;
	if (!rc && config_bool(run->cfg, "keep_rejected"))
		rc = (w.rej = shard_writer_open(rpath, zl)) ? 0 : -1;
	shard_writer_ids_only(w.rej, !config_bool(run->cfg, "keep_rejected_text"));
	int verify = config_bool(run->cfg, "verify_inputs");
	struct shard_reader *r = rc ? NULL
		: shard_reader_open(t->arg.p, verify && t->input_sha256[0] ? t->input_sha256 : NULL);
	struct stats st;
	stats_init(&st);
	if (!r || rewrite_records(d, r, &w, p, &st, fn, arg) < 0)
		rc = -1;
	shard_reader_close(r);
	struct shard_info info = {0}, rinfo = {0};
	double tc = now_seconds();
	if (rc < 0) {
		shard_writer_abort(w.out);
		shard_writer_abort(w.rej);
	} else if (w.rej && shard_writer_close(w.rej, &rinfo) < 0) {
		rc = -1, shard_writer_abort(w.out); /* the output's rename is the commit point */
	} else if (shard_writer_close(w.out, &info) < 0) {
		rc = -1;
	}
	if (!rc) {
		stats_count(&st, "utf8_repaired", info.utf8_repaired);
		if (extra && d->shard == 0)
			stats_merge(&st, extra);
		rc = stage_write_part(run, d->shard, &info, w.rej ? &rinfo : NULL, &st,
				      now_seconds() - t0);
	}
	d->commit_wall += now_seconds() - tc;
	stats_release(&st);
	free(path), free(rdir), free(rpath);
	return rc;
}

int dedup_rewrite(struct dedup *d, struct xchg *decisions, dedup_apply_fn fn, void *arg,
		  const struct stats *extra)
{
	struct pending p = {.x = decisions};
	pending_next(&p);
	int rc = 0;
	for (size_t i = 0; i < d->in->n && !rc; i++) {
		if (d->owner[i] != d->run->rank)
			continue;
		d->shard = (uint32_t)i;
		if (stage_part_done(d->run, (uint32_t)i)) {
			/* written by a killed run with this fingerprint: its decisions are the same */
			while (p.have == 1 && be_get(p.k, 4) == i)
				pending_next(&p);
			rc = p.have < 0 ? -1 : 0;
			continue;
		}
		stage_test_part_delay(d->run->rank);
		if (stage_stop_requested()) {
			err_set("a stop was asked while rewriting");
			rc = -1;
			break;
		}
		rc = rewrite_shard(d, &p, fn, arg, extra);
	}
	if (!rc && p.have != 0) {
		err_set("stage %s: decisions left after the last shard", d->run->def->name);
		rc = -1;
	}
	return rc;
}

/* reshard: a global stage that redistributes documents into a configured number of shards
 * of even size, each document placed and ordered by a seeded hash of its id. It fixes the
 * shard layout a source left (one huge JSONL file in one shard) and gives a stable shuffled
 * order, the same for any rank count. Records move between ranks through xchg, in bounded
 * memory; a rank writes the output shards it owns (shard % ranks). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "par.h"
#include "schedule.h"
#include "stages.h"
#include "xchg.h"

static const struct opt_def reshard_opts[] = {
	{"shards", OPT_INT, "16", 1, 1000000, NULL, "Output shards."},
	{"seed", OPT_INT, "0", 0, 9e15, NULL,
	 "Seed of the hash that places and orders documents (a new seed is a new shuffle)."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

/* Routes every record of the input shards this rank was given: the key is
 * [shard u32][hash u64][id][text bytes u64], the value the record's JSON line with its
 * newline. The text size rides in the key so the writer need not parse records again. */
struct route {
	struct stage_run *run;
	struct xchg *x;
	uint32_t nshards;
	uint64_t seed;
	struct buf key, val;
};

static int route_one(const struct doc *d, const char *line, size_t len, uint32_t shard,
		     uint64_t ord, void *ud)
{
	struct route *rt = ud;
	uint64_t h = hash64_seeded(rt->seed, d->id.p, d->id.len);
	unsigned char head[12];
	be_put(head, h % rt->nshards, 4);
	be_put(head + 4, h, 8);
	buf_set(&rt->key, head, sizeof head);
	buf_append(&rt->key, d->id.p, d->id.len);
	unsigned char tail[8];
	be_put(tail, d->text.len, 8);
	buf_append(&rt->key, tail, 8);
	buf_set(&rt->val, line, len);
	buf_putc(&rt->val, '\n');
	return xchg_put(rt->x, (int)((h % rt->nshards) % (uint64_t)rt->run->nranks), rt->key.p,
			rt->key.len, rt->val.p, rt->val.len);
}

static int route_inputs(struct stage_run *run, const struct task_list *in, struct xchg *x,
			uint32_t nshards, uint64_t seed)
{
	uint64_t *sizes = xmalloc((in->n + 1) * sizeof *sizes), total = 0;
	int *owner = xmalloc((in->n + 1) * sizeof *owner);
	for (size_t i = 0; i < in->n; i++)
		sizes[i] = in->v[i].size, total += sizes[i];
	schedule_assign(sizes, in->n, run->nranks, owner);
	struct route rt = {run, x, nshards, seed, BUF_INIT, BUF_INIT};
	stage_progress_begin(run, total);
	int rc = stage_scan_inputs(run, in, owner, route_one, &rt);
	stage_progress_end(run);
	if (rc < 0)
		log_error("stage reshard: %s", err_get());
	buf_release(&rt.key);
	buf_release(&rt.val);
	free(sizes), free(owner);
	return rc;
}

/* Writes shard s from the sorted stream; *pending holds a record already read that belongs
 * to a later shard. */
static int write_shard(struct stage_run *run, struct xchg *x, uint32_t s, int *have,
		       const void **k, size_t *kl, const void **v, size_t *vl)
{
	double t0 = now_seconds();
	char *path = stage_shard_path(run->dir, s);
	struct shard_writer *w = shard_writer_open(path, (int)config_int(run->cfg, "zstd_level"));
	free(path);
	if (!w)
		return -1;
	struct stats st;
	stats_init(&st);
	int rc = 0;
	while (*have == 1) {
		if (be_get(*k, 4) != s)
			break;
		if (shard_writer_put_line(w, *v, *vl) < 0) {
			rc = -1;
			break;
		}
		uint64_t text = be_get((const unsigned char *)*k + *kl - 8, 8);
		st.docs_in++, st.docs_out++;
		st.bytes_in += text, st.bytes_out += text;
		*have = xchg_next(x, k, kl, v, vl);
	}
	if (*have < 0)
		rc = -1;
	struct shard_info info;
	if (rc < 0)
		shard_writer_abort(w);
	else if (shard_writer_close(w, &info) < 0 ||
		 stage_write_part(run, s, &info, NULL, &st, now_seconds() - t0) < 0)
		rc = -1;
	stats_release(&st);
	return rc;
}

static int reshard_run(struct stage_run *run, const struct task_list *in)
{
	uint32_t nshards = (uint32_t)config_int(run->cfg, "reshard.shards");
	uint64_t seed = (uint64_t)config_int(run->cfg, "reshard.seed");
	run->out_shards = nshards;
	char *tmp = stage_tmpdir(run);
	struct xchg *x = xchg_new(MPI_COMM_WORLD, config_size(run->cfg, "memory_budget"), tmp);
	free(tmp);
	if (!x) {
		log_error("stage reshard: %s", err_get());
		return -1;
	}
	int ok = route_inputs(run, in, x, nshards, seed) == 0;
	/* finish is collective: every rank calls it even after a local failure */
	if (xchg_finish(x) < 0 || !par_all_ok(ok)) {
		log_error("stage reshard: %s", err_get());
		xchg_free(x);
		return -1;
	}
	const void *k, *v;
	size_t kl, vl;
	int have = xchg_next(x, &k, &kl, &v, &vl), rc = 0;
	for (uint32_t s = (uint32_t)run->rank; s < nshards && !rc; s += (uint32_t)run->nranks)
		rc = write_shard(run, x, s, &have, &k, &kl, &v, &vl);
	if (rc < 0)
		log_error("stage reshard: %s", err_get());
	xchg_free(x);
	return rc;
}

const struct stage_def stage_reshard = {
	.name = "reshard",
	.kind = STAGE_GLOBAL,
	.summary = "redistribute documents into N even shards in a stable, seeded shuffled order",
	.opts = reshard_opts,
	.version = 1,
	.run = reshard_run,
};

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

/* 64-bit FNV-1a over the seed and the id, then a final avalanche (splitmix64). */
static uint64_t id_hash(uint64_t seed, const char *id, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)id[i]) * 0x100000001b3ull;
	h ^= h >> 30, h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27, h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

/* Reads the input shards this rank was given and routes every record: the key is
 * [shard u32][hash u64][id][text bytes u64], the value the record's JSON line with its
 * newline. The text size rides in the key so the writer need not parse records again. */
static int route_inputs(struct stage_run *run, const struct task_list *in, struct xchg *x,
			uint32_t nshards, uint64_t seed)
{
	uint64_t *sizes = xmalloc((in->n + 1) * sizeof *sizes), total = 0;
	int *owner = xmalloc((in->n + 1) * sizeof *owner);
	for (size_t i = 0; i < in->n; i++)
		sizes[i] = in->v[i].size, total += sizes[i];
	schedule_assign(sizes, in->n, run->nranks, owner);
	int verify = config_bool(run->cfg, "verify_inputs");
	struct doc d;
	doc_init(&d);
	struct buf key = BUF_INIT, val = BUF_INIT;
	int rc = 0;
	stage_progress_begin(run, total);
	for (size_t i = 0; i < in->n && !rc; i++) {
		if (owner[i] != run->rank)
			continue;
		const struct task *t = &in->v[i];
		struct shard_reader *r = shard_reader_open(t->arg.p, verify ? t->input_sha256 : NULL);
		const char *line;
		size_t len;
		int got = r ? 0 : -1;
		while (r && (got = shard_reader_next_line(r, &line, &len)) == 1) {
			if (doc_parse(&d, line, len) < 0) {
				err_set("%s: record %llu: %s", t->arg.p,
					(unsigned long long)shard_reader_records(r), err_get());
				got = -1;
				break;
			}
			uint64_t h = id_hash(seed, d.id.p, d.id.len);
			unsigned char head[12];
			be_put(head, h % nshards, 4);
			be_put(head + 4, h, 8);
			buf_set(&key, head, sizeof head);
			buf_append(&key, d.id.p, d.id.len);
			unsigned char tail[8];
			be_put(tail, d.text.len, 8);
			buf_append(&key, tail, 8);
			buf_set(&val, line, len);
			buf_putc(&val, '\n');
			if (xchg_put(x, (int)((h % nshards) % (uint64_t)run->nranks), key.p, key.len,
				     val.p, val.len) < 0) {
				got = -1;
				break;
			}
			stage_progress_add(run, 1, d.text.len);
		}
		shard_reader_close(r);
		rc = got < 0 ? -1 : 0;
	}
	stage_progress_end(run);
	if (rc < 0)
		log_error("stage reshard: %s", err_get());
	buf_release(&key);
	buf_release(&val);
	doc_release(&d);
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

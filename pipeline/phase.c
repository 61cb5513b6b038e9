/* phase: per-input-shard work of a global stage, committed with checksums and reused by a
 * rerun (phase.h). */
#include "phase.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "par.h"
#include "progress.h"
#include "queue.h"
#include "schedule.h"

enum { MAX_EXTS = 8 };

struct phase {
	struct stage_run *run;
	const struct task_list *in;
	struct phase_def def; /* a copy */
	char *dir;
	char fp[SHA256_HEX];
	size_t n, next;
	unsigned char *done; /* per shard: reused from an earlier run */
	int *maker;          /* per shard: the rank that made it in this run, or -1 */
	int *owner;          /* phase_owner */
	uint64_t reused, damaged, work;
	uint64_t total_redone, total_work; /* over all ranks, once phase_run is done */
	double seconds;
	bool ran; /* phase_run finished (its counts are summed) */
};

static char *record_path(const struct phase *ph, size_t i)
{
	return xasprintf("%s/in-%05zu.json", ph->dir, i);
}

char *phase_path(const struct phase *ph, size_t i, const char *ext)
{
	return xasprintf("%s/in-%05zu.%s", ph->dir, i, ext);
}

char *phase_tmp_path(const struct phase *ph, size_t i, const char *ext)
{
	return xasprintf("%s/in-%05zu.%s.tmp.%d", ph->dir, i, ext, ph->run->rank);
}

int phase_stopping(void) { return stage_stop_requested(); }

void phase_count(struct phase *ph, uint64_t n) { ph->work += n; }

bool phase_reused(const struct phase *ph, size_t i) { return ph->done[i]; }

int phase_owner(const struct phase *ph, size_t i) { return ph->owner[i]; }

json_t *phase_info(const struct phase *ph, size_t i)
{
	char *p = record_path(ph, i);
	json_error_t e;
	json_t *j = json_load_file(p, 0, &e);
	if (!j)
		err_set("%s: %s", p, e.text);
	free(p);
	json_t *info = json_incref(json_object_get(j, "info"));
	json_decref(j);
	return info;
}

/* ---- checking a record ---- */

/* 1 when shard i's record is this phase's, for this input, and every file it names is on
 * disk with its size and SHA-256. 0 otherwise; *damaged is set (and a warning names the
 * file) when the record or a file is there but wrong, as opposed to absent or outdated. */
static int record_ok(struct phase *ph, size_t i, int *damaged)
{
	*damaged = 0;
	char *rp = record_path(ph, i);
	if (!file_exists(rp)) {
		free(rp);
		return 0;
	}
	json_error_t e;
	json_t *j = json_load_file(rp, 0, &e);
	const char *name = ph->run->def->name, *why = NULL;
	char *bad = NULL;
	int ok = 0;
	const char *fp = json_string_value(json_object_get(j, "fingerprint"));
	const char *in = json_string_value(json_object_get(j, "input_sha256"));
	json_t *files = json_object_get(j, "files");
	if (!j || !fp || !in || !json_is_array(files) ||
	    json_integer_value(json_object_get(j, "index")) != (json_int_t)i) {
		why = j ? "is not a phase record" : e.text;
		bad = xstrdup(rp);
	} else if (strcmp(fp, ph->fp) || strcmp(in, ph->in->v[i].input_sha256)) {
		/* another run's (other options, another input shard): simply redone */
	} else {
		size_t k;
		json_t *f;
		ok = json_array_size(files) > 0;
		json_array_foreach(files, k, f) {
			const char *ext = json_string_value(json_object_get(f, "ext"));
			const char *sha = json_string_value(json_object_get(f, "sha256"));
			if (!ext || !sha || strchr(ext, '/')) {
				why = "names a file wrongly", bad = xstrdup(rp), ok = 0;
				break;
			}
			char *p = phase_path(ph, i, ext), hex[SHA256_HEX];
			struct stat st;
			if (stat(p, &st))
				why = "is missing";
			else if ((json_int_t)st.st_size != json_integer_value(json_object_get(f, "bytes")))
				why = "has another size than its record says";
			else if (sha256_file_hex(p, hex) < 0 || strcmp(hex, sha))
				why = "has another SHA-256 than its record says";
			if (why) {
				bad = p, ok = 0;
				break;
			}
			free(p);
		}
		if (ok && ph->def.accept && !ph->def.accept(json_object_get(j, "info"), i,
							      ph->def.ud))
			ok = 0;
	}
	if (bad) {
		log_warn("stage %s: phase %s: %s %s: input shard %zu is redone, not trusted", name,
			 ph->def.name, bad, why, i);
		*damaged = 1;
	}
	free(bad);
	free(rp);
	json_decref(j);
	return ok;
}

/* Whether name is a file of a valid shard (kept), anything else being removed. */
static int keep_file(const struct phase *ph, const char *name)
{
	char *end;
	if (strncmp(name, "in-", 3) || name[3] < '0' || name[3] > '9')
		return 0;
	unsigned long i = strtoul(name + 3, &end, 10);
	char canon[32];
	snprintf(canon, sizeof canon, "in-%05lu.", i);
	if (*end != '.' || strncmp(name, canon, strlen(canon)) || i >= ph->n || !ph->done[i])
		return 0;
	const char *rest = end + 1;
	if (!strcmp(rest, "json"))
		return 1;
	for (const char *const *e = ph->def.exts; *e; e++)
		if (!strcmp(rest, *e))
			return 1;
	return 0;
}

static void remove_others(const struct phase *ph)
{
	DIR *d = opendir(ph->dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || keep_file(ph, e->d_name))
			continue;
		char *p = xasprintf("%s/%s", ph->dir, e->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
}

struct phase *phase_open(struct stage_run *run, const struct task_list *in,
			 const struct phase_def *def, const char *sig)
{
	struct phase *ph = xcalloc(1, sizeof *ph);
	ph->run = run, ph->in = in, ph->def = *def, ph->n = in->n;
	ph->dir = xasprintf("%s/.phases/%s", run->dir, def->name);
	ph->done = xcalloc(ph->n + 1, 1);
	ph->maker = xmalloc((ph->n + 1) * sizeof *ph->maker);
	ph->owner = xmalloc((ph->n + 1) * sizeof *ph->owner);
	for (size_t i = 0; i < ph->n; i++)
		ph->maker[i] = ph->owner[i] = -1;
	/* the fingerprint, from rank 0's sig */
	char *fp = NULL;
	size_t len = 0;
	int ok = 1;
	if (run->rank == 0) {
		struct buf s = BUF_INIT;
		buf_printf(&s, "curate-phase/1\nstage %s %u\nphase %s\n", run->def->name,
			   run->def->version, def->name);
		buf_puts(&s, sig ? sig : "");
		unsigned char d[SHA256_LEN];
		sha256(s.p, s.len, d);
		buf_release(&s);
		fp = xmalloc(SHA256_HEX);
		sha256_hexstr(d, fp);
		len = SHA256_HEX;
		if (run->force)
			remove_tree(ph->dir);
		ok = mkdir_p(ph->dir) == 0;
		if (!ok)
			log_error("stage %s: %s", run->def->name, err_get());
	}
	par_bcast_bytes(&fp, &len);
	memcpy(ph->fp, fp, SHA256_HEX);
	free(fp);
	if (!par_all_ok(ok)) {
		err_set("%s: cannot make the phase directory", ph->dir);
		phase_close(ph, false);
		return NULL;
	}
	/* every rank checks its share of the records (reading every file: checksums) */
	unsigned char *mine = xcalloc(ph->n + 1, 2);
	for (size_t i = run->rank; i < ph->n && !run->force; i += (size_t)run->nranks) {
		int damaged;
		mine[i] = (unsigned char)record_ok(ph, i, &damaged);
		mine[ph->n + i] = (unsigned char)damaged;
	}
	unsigned char *all = xcalloc(ph->n + 1, 2);
	if (ph->n)
		MPI_CHECK(MPI_Allreduce(mine, all, (int)(2 * ph->n), MPI_UNSIGNED_CHAR, MPI_BOR,
					MPI_COMM_WORLD));
	for (size_t i = 0; i < ph->n; i++) {
		ph->done[i] = all[i];
		ph->reused += all[i];
		ph->damaged += all[ph->n + i];
	}
	free(mine), free(all);
	if (run->rank == 0)
		remove_others(ph);
	par_barrier(); /* nothing is written before the old is gone */
	return ph;
}

/* ---- running ---- */

/* fsyncs and renames each of shard i's files into place, then writes its record. */
static int commit(struct phase *ph, size_t i, json_t *info, double seconds)
{
	json_t *files = json_array();
	int rc = 0;
	for (const char *const *e = ph->def.exts; *e && !rc; e++) {
		char *tp = phase_tmp_path(ph, i, *e), *p = phase_path(ph, i, *e), hex[SHA256_HEX];
		struct stat st;
		int fd = open(tp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) || fstat(fd, &st))
			rc = -1, err_set("%s: %s", tp, strerror(errno));
		else if (sha256_file_hex(tp, hex) < 0)
			rc = -1;
		else if (rename(tp, p))
			rc = -1, err_set("%s: rename: %s", tp, strerror(errno));
		else
			json_array_append_new(files, json_pack("{s:s,s:I,s:s}", "ext", *e, "bytes",
							       (json_int_t)st.st_size, "sha256", hex));
		if (fd >= 0)
			close(fd);
		free(tp), free(p);
	}
	/* the record's atomic write syncs the directory, and with it these renames */
	json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:o,s:o,s:f}", "phase", ph->def.name,
			      "fingerprint", ph->fp, "index", (json_int_t)i, "input_sha256",
			      ph->in->v[i].input_sha256, "files", files, "info",
			      info ? info : json_object(), "seconds", seconds);
	if (!rc) {
		char *text = json_dumps(j, JSON_COMPACT), *rp = record_path(ph, i);
		rc = write_file_atomic(rp, text, strlen(text));
		free(text), free(rp);
	}
	json_decref(j);
	return rc;
}

static int run_one(struct phase *ph, size_t i, phase_fn fn, void *ud)
{
	stage_test_delay(ph->run->rank);
	if (phase_stopping())
		return -1;
	double t0 = now_seconds();
	json_t *info = NULL;
	int rc = fn(ph, i, &info, ud), fatal = rc == -2;
	if (!rc)
		rc = commit(ph, i, info, now_seconds() - t0);
	else
		json_decref(info);
	if (rc < 0) {
		for (const char *const *e = ph->def.exts; *e; e++) {
			char *tp = phase_tmp_path(ph, i, *e);
			unlink(tp);
			free(tp);
		}
		if (phase_stopping())
			log_info("stage %s: phase %s: input shard %zu abandoned: %s",
				 ph->run->def->name, ph->def.name, i, err_get());
		else
			log_error("stage %s: phase %s: input shard %zu: %s", ph->run->def->name,
				  ph->def.name, i, err_get());
		return fatal ? -2 : -1;
	}
	ph->maker[i] = ph->run->rank;
	return 0;
}

int phase_run(struct phase *ph, phase_fn fn, void *ud)
{
	struct stage_run *run = ph->run;
	double t0 = now_seconds();
	size_t npend = 0;
	uint64_t total = 0;
	size_t *which = xmalloc((ph->n + 1) * sizeof *which);
	uint64_t *sizes = xmalloc((ph->n + 1) * sizeof *sizes);
	for (size_t i = 0; i < ph->n; i++)
		if (!ph->done[i]) {
			which[npend] = i;
			sizes[npend++] = ph->in->v[i].size;
			total += ph->in->v[i].size;
		}
	int dynamic = run->nranks > 1 && !strcmp(config_str(run->cfg, "schedule"), "queue");
	int *owner = xmalloc((npend + 1) * sizeof *owner);
	size_t *order = xmalloc((npend + 1) * sizeof *order);
	if (dynamic)
		schedule_order(sizes, npend, order); /* largest first */
	else
		schedule_assign(sizes, npend, run->nranks, owner);
	int ok = 1;
	stage_progress_begin(run, total);
	/* a failed shard does not stop the others (their work is kept); a stop does */
	if (dynamic) {
		struct task_queue *q = queue_open(npend);
		if (run->rank == 0)
			stage_queue_serving(q);
		long k;
		int rc = 0;
		/* a rank that cannot go on (-2) takes no more; the others take the rest */
		while (rc != -2 && (k = queue_next(q, phase_stopping())) >= 0)
			if ((rc = run_one(ph, which[order[k]], fn, ud)) < 0)
				ok = 0;
		stage_queue_serving(NULL);
		queue_close(q);
	} else {
		int rc = 0;
		for (size_t k = 0; k < npend && !phase_stopping() && rc != -2; k++)
			if (owner[k] == run->rank && (rc = run_one(ph, which[k], fn, ud)) < 0)
				ok = 0;
	}
	stage_progress_end(run);
	free(owner), free(order);
	int stopped = stage_stop_anywhere();
	ok = par_all_ok(ok) && !stopped;
	if (stopped && run->rank == 0)
		log_warn("stage %s: stopped on request (SIGTERM or SIGINT) in phase %s; the input "
			 "shards that were finished are kept: run the same command again to resume",
			 run->def->name, ph->def.name);
	/* who holds what: the makers, then the reused shards by the static plan */
	if (ph->n)
		MPI_CHECK(MPI_Allreduce(ph->maker, ph->owner, (int)ph->n, MPI_INT, MPI_MAX,
					MPI_COMM_WORLD));
	size_t nre = 0;
	for (size_t i = 0; i < ph->n; i++)
		if (ph->done[i])
			which[nre] = i, sizes[nre++] = ph->in->v[i].size;
	int *ro = xmalloc((nre + 1) * sizeof *ro);
	schedule_assign(sizes, nre, run->nranks, ro);
	for (size_t k = 0; k < nre; k++)
		ph->owner[which[k]] = ro[k];
	free(ro), free(which), free(sizes);
	uint64_t redone = 0;
	for (size_t i = 0; i < ph->n; i++)
		redone += ph->maker[i] >= 0;
	uint64_t v[2] = {redone, ph->work}, s[2];
	MPI_CHECK(MPI_Allreduce(v, s, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
	ph->total_redone = s[0], ph->total_work = s[1];
	ph->ran = true;
	ph->seconds = now_seconds() - t0;
	return ok ? 0 : -1;
}

void phase_close(struct phase *ph, bool complete)
{
	if (!ph)
		return;
	struct stage_run *run = ph->run;
	uint64_t s[2] = {ph->total_redone, ph->total_work};
	if (run->rank == 0 && ph->ran) {
		log_info("stage %s: phase %s: %zu input shards: %llu reused, %llu done now (%llu "
			 "units of work), %llu damaged, in %.1fs", run->def->name, ph->def.name,
			 ph->n, (unsigned long long)ph->reused, (unsigned long long)s[0],
			 (unsigned long long)s[1], (unsigned long long)ph->damaged, ph->seconds);
		json_t *all = json_deep_copy(json_object_get(run->stats_objects, "phases"));
		if (!all)
			all = json_object();
		json_object_set_new(all, ph->def.name,
				    json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "shards", (json_int_t)ph->n,
					      "reused", (json_int_t)ph->reused, "redone",
					      (json_int_t)s[0], "damaged", (json_int_t)ph->damaged,
					      "work", (json_int_t)s[1], "seconds", ph->seconds));
		stage_stats_object(run, "phases", all);
		if (complete && !ph->def.keep)
			remove_tree(ph->dir);
	}
	free(ph->dir), free(ph->done), free(ph->maker), free(ph->owner);
	free(ph);
}

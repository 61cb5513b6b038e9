/* lock: see lock.h. The lock file is made whole under a private name and hard-linked to
 * <workdir>/.lock: link() fails with EEXIST when a lock exists, atomically, on local disks,
 * NFS and Lustre alike, and a reader never sees a half-written holder. It does not stop
 * a curate that predates it, nor a process that removes the file by hand. */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "par.h"
#include "util.h"

/* The lock this process holds, for lock_release, exit and the signal handlers. */
static char held_path[4096];
static volatile sig_atomic_t held;
static pid_t held_by; /* a forked child that exits must not release its parent's lock */

struct holder {
	const char *host, *started, *command, *slurm_job;
	long long pid, proc_start, slurm_restart;
};

/* Process pid's state letter and start time in clock ticks since boot (fields 3 and 22
 * of /proc/PID/stat): 0, or -1 when it cannot be read. With the PID the start time names one
 * process, so a PID reused since is told apart. */
static int proc_stat(long long pid, char *state, long long *start)
{
	char path[64], text[1024];
	snprintf(path, sizeof path, "/proc/%lld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = 0;
	char *p = strrchr(text, ')'); /* the command name may hold spaces */
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	*state = p[2];
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -1;
	*start = strtoll(p + 1, NULL, 10);
	return 0;
}

static long long proc_start_ticks(long long pid)
{
	char state;
	long long start;
	return proc_stat(pid, &state, &start) == 0 ? start : -1;
}

static void host_name(char *out, size_t n)
{
	if (gethostname(out, n) < 0)
		snprintf(out, n, "unknown");
	out[n - 1] = 0;
}

static long long env_ll(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? strtoll(v, NULL, 10) : -1;
}

static char *lock_text(const char *command)
{
	char host[256], started[64];
	host_name(host, sizeof host);
	time_t now = time(NULL);
	strftime(started, sizeof started, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
	json_t *j = json_object();
	json_object_set_new(j, "host", json_string(host));
	json_object_set_new(j, "pid", json_integer(getpid()));
	json_object_set_new(j, "started", json_string(started));
	json_object_set_new(j, "command", json_string(command));
	json_object_set_new(j, "ranks", json_integer(par_size()));
	json_object_set_new(j, "proc_start", json_integer(proc_start_ticks(getpid())));
	/* a requeued Slurm job keeps its id and counts up SLURM_RESTART_COUNT */
	if (getenv("SLURM_JOB_ID")) {
		json_object_set_new(j, "slurm_job", json_string(getenv("SLURM_JOB_ID")));
		json_object_set_new(j, "slurm_restart",
				    json_integer(env_ll("SLURM_RESTART_COUNT") < 0
							 ? 0 : env_ll("SLURM_RESTART_COUNT")));
	}
	char *s = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	char *text = xasprintf("%s\n", s);
	free(s);
	return text;
}

/* Fills h from the lock's JSON (kept alive by j). 0, or -1 when it is not a lock file. */
static int holder_parse(json_t *j, struct holder *h)
{
	memset(h, 0, sizeof *h);
	h->host = json_string_value(json_object_get(j, "host"));
	h->started = json_string_value(json_object_get(j, "started"));
	h->command = json_string_value(json_object_get(j, "command"));
	h->slurm_job = json_string_value(json_object_get(j, "slurm_job"));
	h->pid = json_integer_value(json_object_get(j, "pid"));
	json_t *ps = json_object_get(j, "proc_start"), *sr = json_object_get(j, "slurm_restart");
	h->proc_start = ps ? json_integer_value(ps) : -1;
	h->slurm_restart = sr ? json_integer_value(sr) : -1;
	if (!h->host || !h->started || h->pid <= 0)
		return -1;
	if (!h->command)
		h->command = "?";
	return 0;
}

static char *holder_describe(const struct holder *h)
{
	return xasprintf("PID %lld on host %s, started %s (%s)", h->pid, h->host, h->started,
			 h->command);
}

enum verdict { LIVE, STALE, FOREIGN };

/* Whether the holder is still running, as far as this host can tell; why says it, for a
 * stale one. */
static enum verdict judge(const struct holder *h, const char **why)
{
	char host[256];
	host_name(host, sizeof host);
	const char *job = getenv("SLURM_JOB_ID");
	long long restart = env_ll("SLURM_RESTART_COUNT");
	/* Slurm runs one incarnation of a job at a time, wherever it lands */
	if (h->slurm_job && job && !strcmp(h->slurm_job, job) && restart > h->slurm_restart) {
		*why = "an earlier run of this Slurm job, which was requeued";
		return STALE;
	}
	if (strcmp(h->host, host))
		return FOREIGN;
	if (h->pid == getpid())
		return LIVE;
	if (kill((pid_t)h->pid, 0) < 0 && errno == ESRCH) {
		*why = "that process is gone";
		return STALE;
	}
	char state;
	long long start;
	if (proc_stat(h->pid, &state, &start) < 0)
		return LIVE; /* no /proc: kill() said it exists */
	/* a killed rank whose parent died first may stay a zombie until init reaps it */
	if (state == 'Z' || state == 'X') {
		*why = "that process is gone (a zombie)";
		return STALE;
	}
	if (h->proc_start >= 0 && start != h->proc_start) {
		*why = "its PID now belongs to another process";
		return STALE;
	}
	return LIVE;
}

/* Removes a stale lock whose content is text. It is renamed away first and compared, so
 * that a lock another run took in between is put back, not deleted. 1 when removed. */
static int clear_stale(const char *path, const char *text)
{
	char *aside = xasprintf("%s.stale.%ld", path, (long)getpid());
	struct buf b = BUF_INIT;
	int removed = 0;
	if (rename(path, aside) == 0) {
		if (read_file(aside, &b) == 0 && b.len == strlen(text) && !memcmp(b.p, text, b.len))
			removed = 1;
		else if (link(aside, path) < 0)
			log_warn("%s: a lock taken while a stale one was cleared was lost", path);
		unlink(aside);
	}
	buf_release(&b);
	free(aside);
	return removed;
}

void lock_release_on_signal(void)
{
	if (held && getpid() == held_by)
		unlink(held_path);
	held = 0;
}

static void on_signal(int sig)
{
	lock_release_on_signal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void release_at_exit(void) { lock_release(); }

/* From now on the lock goes with the process: at exit and on the signals that end a job
 * (Slurm sends SIGTERM before it kills or requeues one). Handlers set by others stay. */
static void hold(const char *path)
{
	static int once;
	snprintf(held_path, sizeof held_path, "%s", path);
	held_by = getpid();
	held = 1;
	if (once++)
		return;
	atexit(release_at_exit);
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++) {
		struct sigaction old, sa = {0};
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
	}
}

/* Writes the holder file under a private name. 0, or -1 with err_set. */
static int write_private(const char *tmp, const char *text)
{
	unlink(tmp); /* ours from an earlier try, or of a dead process with our PID */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_set("%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	int rc = write_all(fd, text, strlen(text), tmp);
	if (!rc && fsync(fd) < 0) {
		err_set("%s: fsync failed: %s", tmp, strerror(errno));
		rc = -1;
	}
	close(fd);
	return rc;
}

/* One look at an existing lock: 1 cleared (try again), 0 gone meanwhile (try again), -1
 * held (err_set says by whom and what to do). */
static int existing(const char *path)
{
	struct buf b = BUF_INIT;
	if (read_file(path, &b) < 0) {
		buf_release(&b);
		if (!file_exists(path))
			return 0;
		err_set("%s: the workdir is locked, but the lock cannot be read: %s", path,
			err_get());
		return -1;
	}
	json_t *j = json_loadb(b.p, b.len, 0, NULL);
	struct holder h;
	if (!j || holder_parse(j, &h) < 0) {
		err_set("%s: the workdir is locked, but the lock does not say by whom; if no curate "
			"run uses this workdir, remove it (`curate unlock -c CONFIG`, or rm %s)",
			path, path);
		json_decref(j);
		buf_release(&b);
		return -1;
	}
	const char *why = NULL;
	enum verdict v = judge(&h, &why);
	char *who = holder_describe(&h), me[256];
	host_name(me, sizeof me);
	int rc = -1;
	if (v == STALE && clear_stale(path, b.p)) {
		log_warn("%s: cleared the stale lock of %s: %s", path, who, why);
		rc = 1;
	} else if (v == STALE) {
		rc = 0; /* someone else cleared it or took it: look again */
	} else if (v == LIVE) {
		err_set("the workdir is in use by another run: %s; two runs on one workdir "
			"delete each other's files, so wait for it to end or stop it (kill %lld); "
			"lock: %s", who, h.pid, path);
	} else {
		err_set("the workdir is in use by another run: %s; from host %s it cannot be "
			"checked whether it still runs: if it is gone (killed, or its node failed), "
			"clear the lock with `curate unlock -c CONFIG` (or rm %s) and rerun",
			who, me, path);
	}
	free(who);
	json_decref(j);
	buf_release(&b);
	return rc;
}

/* Rank 0's part of lock_take. */
static int take(const char *workdir, const char *command)
{
	if (mkdir_p(workdir) < 0)
		return -1;
	char host[256];
	host_name(host, sizeof host);
	char *path = xasprintf("%s/.lock", workdir);
	char *tmp = xasprintf("%s/.lock.%s.%ld", workdir, host, (long)getpid());
	char *text = lock_text(command);
	int rc = write_private(tmp, text);
	for (int tries = 0; rc == 0; tries++) {
		struct stat st;
		if (link(tmp, path) == 0)
			break;
		int e = errno;
		/* NFS may report a failed link that was made: the link count tells */
		if (e != EEXIST && !stat(tmp, &st) && st.st_nlink == 2)
			break;
		if (e != EEXIST) {
			err_set("%s: cannot create the lock: %s", path, strerror(e));
			rc = -1;
		} else if (tries == 5) {
			err_set("%s: the lock changed hands too often while it was taken", path);
			rc = -1;
		} else if (existing(path) < 0) {
			rc = -1;
		}
	}
	unlink(tmp);
	if (rc == 0)
		hold(path);
	free(text), free(tmp), free(path);
	return rc;
}

int lock_take(const char *workdir, const char *command)
{
	int ok = par_rank() != 0 || take(workdir, command) == 0;
	if (!par_all_ok(ok)) {
		if (ok) { /* rank 0 took it: a collective cannot fail on one rank only, but be sure */
			lock_release();
			err_set("another rank could not take the workdir lock");
		}
		return -1;
	}
	return 0;
}

void lock_release(void)
{
	if (held && getpid() == held_by)
		unlink(held_path);
	held = 0;
}

int lock_clear(const char *workdir, char **holder)
{
	char *path = xasprintf("%s/.lock", workdir);
	struct buf b = BUF_INIT;
	int rc = 0;
	*holder = NULL;
	if (read_file(path, &b) < 0) {
		rc = file_exists(path) ? -1 : 0;
		goto out;
	}
	json_t *j = json_loadb(b.p, b.len, 0, NULL);
	struct holder h;
	const char *why;
	if (j && holder_parse(j, &h) == 0) {
		*holder = holder_describe(&h);
		if (judge(&h, &why) == LIVE) {
			err_set("%s is held by a run that is still alive: %s; stop it first "
				"(kill %lld)", path, *holder, h.pid);
			rc = -1;
		}
	} else {
		*holder = xstrdup("a holder it does not name");
	}
	json_decref(j);
	if (rc == 0 && unlink(path) < 0 && errno != ENOENT) {
		err_set("%s: cannot remove: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = 1;
out:
	buf_release(&b);
	free(path);
	if (rc <= 0 && *holder) {
		free(*holder);
		*holder = NULL;
	}
	return rc;
}

/* The oracle's answer cache: SQLite files in one directory. Each rank writes only its own
 * (rank-NNNNN.sqlite) so no two processes of a run write one file, which matters on the
 * network file systems of clusters where SQLite's locks are unreliable; every rank reads all
 * the files present when it opens the cache, so a rerun with another rank count finds every
 * answer. Each answer is committed as it arrives (WAL, synchronous=NORMAL: durable when the
 * process is killed). */
#include <dirent.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

struct db {
	sqlite3 *h;
	sqlite3_stmt *get;
};

struct oracle_cache {
	char *path; /* this rank's file */
	struct db own;
	sqlite3_stmt *put;
	struct db *others;
	size_t nothers;
};

static int db_fail(sqlite3 *h, const char *path, const char *what)
{
	err_set("%s: %s: %s", path, what, h ? sqlite3_errmsg(h) : "out of memory");
	return -1;
}

static int db_open(struct db *d, const char *path, int writable)
{
	int flags = writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	if (sqlite3_open_v2(path, &d->h, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return db_fail(d->h, path, "cannot open the oracle cache");
	sqlite3_busy_timeout(d->h, 60000);
	if (writable) {
		const char *setup = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
				    "CREATE TABLE IF NOT EXISTS answers (key BLOB PRIMARY KEY, "
				    "answer TEXT NOT NULL, created INTEGER NOT NULL)";
		if (sqlite3_exec(d->h, setup, NULL, NULL, NULL) != SQLITE_OK)
			return db_fail(d->h, path, "cannot set up the oracle cache");
	}
	if (sqlite3_prepare_v2(d->h, "SELECT answer FROM answers WHERE key = ?", -1, &d->get,
			       NULL) != SQLITE_OK)
		return db_fail(d->h, path, "not an oracle cache");
	return 0;
}

static void db_close(struct db *d)
{
	sqlite3_finalize(d->get);
	sqlite3_close(d->h);
	memset(d, 0, sizeof *d);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct oracle_cache *oracle_cache_open(const char *dir, int rank)
{
	if (mkdir_p(dir) < 0)
		return NULL;
	struct oracle_cache *c = xcalloc(1, sizeof *c);
	char own[64];
	snprintf(own, sizeof own, "rank-%05d.sqlite", rank);
	c->path = xasprintf("%s/%s", dir, own);
	if (db_open(&c->own, c->path, 1) < 0 ||
	    sqlite3_prepare_v2(c->own.h, "INSERT OR REPLACE INTO answers VALUES (?, ?, "
			       "strftime('%s','now'))", -1, &c->put, NULL) != SQLITE_OK) {
		if (c->own.h && !c->put)
			db_fail(c->own.h, c->path, "cannot prepare");
		oracle_cache_close(c);
		return NULL;
	}
	return c;
}

int oracle_cache_open_others(struct oracle_cache *c)
{
	char *slash = strrchr(c->path, '/');
	char *dir = xstrndup(c->path, (size_t)(slash - c->path));
	const char *own = slash + 1;
	/* the other ranks' files, in name order */
	DIR *dh = opendir(dir);
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while (dh && (e = readdir(dh))) {
		if (!str_ends_with(e->d_name, ".sqlite") || !strcmp(e->d_name, own))
			continue;
		names = xrealloc(names, (n + 1) * sizeof *names);
		names[n++] = xstrdup(e->d_name);
	}
	if (dh)
		closedir(dh);
	if (n)
		qsort(names, n, sizeof *names, name_cmp);
	c->others = xcalloc(n + 1, sizeof *c->others);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		if (!rc && db_open(&c->others[c->nothers], p, 0) == 0)
			c->nothers++;
		else if (!rc)
			rc = -1, db_close(&c->others[c->nothers]);
		free(p);
		free(names[i]);
	}
	free(names);
	free(dir);
	return rc;
}

void oracle_cache_close(struct oracle_cache *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->put);
	db_close(&c->own);
	for (size_t i = 0; i < c->nothers; i++)
		db_close(&c->others[i]);
	free(c->others);
	free(c->path);
	free(c);
}

static int db_get(struct db *d, const unsigned char *key, struct oracle_answer *a)
{
	sqlite3_reset(d->get);
	sqlite3_bind_blob(d->get, 1, key, SHA256_LEN, SQLITE_STATIC);
	int s = sqlite3_step(d->get);
	if (s == SQLITE_DONE)
		return 0;
	if (s != SQLITE_ROW)
		return db_fail(d->h, sqlite3_db_filename(d->h, "main"), "cannot read");
	const char *text = (const char *)sqlite3_column_text(d->get, 0);
	int rc = text && oracle_answer_from_json(text, a) == 0 ? 1 : 0; /* a bad row: ask again */
	sqlite3_reset(d->get);
	return rc;
}

int oracle_cache_get(struct oracle_cache *c, const unsigned char key[SHA256_LEN],
		     struct oracle_answer *a)
{
	int rc = db_get(&c->own, key, a);
	for (size_t i = 0; i < c->nothers && rc == 0; i++)
		rc = db_get(&c->others[i], key, a);
	return rc;
}

int oracle_cache_put(struct oracle_cache *c, const unsigned char key[SHA256_LEN],
		     const struct oracle_answer *a)
{
	char *text = oracle_answer_to_json(a);
	sqlite3_reset(c->put);
	sqlite3_bind_blob(c->put, 1, key, SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_text(c->put, 2, text, -1, SQLITE_TRANSIENT);
	int s = sqlite3_step(c->put);
	sqlite3_reset(c->put);
	free(text);
	return s == SQLITE_DONE ? 0 : db_fail(c->own.h, c->path, "cannot store an answer");
}

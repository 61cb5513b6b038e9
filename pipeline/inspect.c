/* inspect: see inspect.h. The summary keeps at most FIELD_VALUES_MAX distinct values per
 * string field, so inspecting a huge stage stays in bounded memory. */
#include "inspect.h"

#include <dirent.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shard.h"
#include "stage.h"

#define FIELD_VALUES_MAX 10000
#define FIELDS_MAX 256

struct field {
	char *name;
	uint64_t docs, strings, numbers, bools, others;
	double min, max, sum;
	json_t *values; /* string value -> count, capped */
	int capped;
};

struct summary {
	uint64_t records, text_bytes, shards;
	json_t *sources; /* source -> count */
	struct field fields[FIELDS_MAX];
	size_t nfields;
};

static struct field *field_get(struct summary *s, const char *name)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (!strcmp(s->fields[i].name, name))
			return &s->fields[i];
	if (s->nfields == FIELDS_MAX)
		return NULL;
	struct field *f = &s->fields[s->nfields++];
	memset(f, 0, sizeof *f);
	f->name = xstrdup(name);
	f->min = DBL_MAX;
	f->max = -DBL_MAX;
	f->values = json_object();
	return f;
}

static void count_in(json_t *map, const char *key, int *capped)
{
	json_t *v = json_object_get(map, key);
	if (v) {
		json_integer_set(v, json_integer_value(v) + 1);
	} else if (json_object_size(map) < FIELD_VALUES_MAX) {
		json_object_set_new(map, key, json_integer(1));
	} else if (capped) {
		*capped = 1;
	}
}

static void summarize(struct summary *s, const struct doc *d)
{
	s->records++;
	s->text_bytes += d->text.len;
	count_in(s->sources, d->source.p ? d->source.p : "", NULL);
	const char *key;
	json_t *v;
	json_object_foreach(d->meta, key, v) {
		struct field *f = field_get(s, key);
		if (!f)
			continue;
		f->docs++;
		if (json_is_string(v)) {
			f->strings++;
			count_in(f->values, json_string_value(v), &f->capped);
		} else if (json_is_number(v)) {
			double x = json_number_value(v);
			f->numbers++;
			f->sum += x;
			f->min = x < f->min ? x : f->min;
			f->max = x > f->max ? x : f->max;
		} else if (json_is_boolean(v)) {
			f->bools++;
			count_in(f->values, json_is_true(v) ? "true" : "false", NULL);
		} else {
			f->others++;
		}
	}
}

struct kv {
	const char *k;
	json_int_t n;
};

static int by_count(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->k, y->k);
}

static void print_top(FILE *out, json_t *map, size_t top)
{
	size_t n = json_object_size(map), i = 0;
	struct kv *v = xmalloc((n + 1) * sizeof *v);
	const char *key;
	json_t *val;
	json_object_foreach(map, key, val) v[i++] = (struct kv){key, json_integer_value(val)};
	qsort(v, n, sizeof *v, by_count);
	for (i = 0; i < n && i < top; i++) {
		int len = (int)strlen(v[i].k);
		fprintf(out, "%s%.*s%s %lld", i ? ", " : "", len > 40 ? 40 : len, v[i].k,
			len > 40 ? "..." : "", (long long)v[i].n);
	}
	if (n > top)
		fprintf(out, ", ... (%zu distinct)", n);
	free(v);
}

static void print_summary(FILE *out, struct summary *s)
{
	char size[32];
	format_size(s->text_bytes, size, sizeof size);
	fprintf(out, "summary: %llu shard%s, %llu records, %s of text\n",
		(unsigned long long)s->shards, s->shards == 1 ? "" : "s",
		(unsigned long long)s->records, size);
	fprintf(out, "  source: ");
	print_top(out, s->sources, 8);
	fprintf(out, "\n  metadata fields:\n");
	for (size_t i = 0; i < s->nfields; i++) {
		struct field *f = &s->fields[i];
		fprintf(out, "    %-20s %8llu docs ", f->name, (unsigned long long)f->docs);
		if (f->numbers)
			fprintf(out, " number min %g mean %g max %g", f->min,
				f->sum / (double)f->numbers, f->max);
		if (f->strings || f->bools) {
			fprintf(out, " %s: ", f->strings ? "string" : "bool");
			print_top(out, f->values, 5);
			if (f->capped)
				fprintf(out, " (more than %d distinct)", FIELD_VALUES_MAX);
		}
		if (f->others)
			fprintf(out, " other %llu", (unsigned long long)f->others);
		fputc('\n', out);
		free(f->name);
		json_decref(f->values);
	}
	json_decref(s->sources);
}

static void print_record(FILE *out, const struct doc *d, uint64_t n)
{
	fprintf(out, "record %llu: id=%s source=%s text=%zu bytes\n", (unsigned long long)n,
		d->id.p ? d->id.p : "", d->source.p ? d->source.p : "", d->text.len);
	struct buf b = BUF_INIT;
	size_t show = d->text.len < 200 ? d->text.len : 200;
	json_escape(&b, d->text.p ? d->text.p : "", show);
	fprintf(out, "  text: %s%s\n", b.p, show < d->text.len ? " ..." : "");
	buf_release(&b);
	char *m = json_dumps(d->meta, JSON_COMPACT);
	fprintf(out, "  metadata: %s\n", m ? m : "{}");
	free(m);
}

static int inspect_shard(const char *path, const char *sha, const struct inspect_opts *o,
			 struct summary *s, FILE *out)
{
	struct shard_reader *r = shard_reader_open(path, sha);
	if (!r) {
		fprintf(stderr, "curate inspect: %s\n", err_get());
		return -1;
	}
	struct doc d;
	doc_init(&d);
	uint64_t n = 0;
	int rc;
	const char *line;
	size_t len;
	while (1) {
		if (o->raw && (long)s->records < o->records) {
			rc = shard_reader_next_line(r, &line, &len);
			if (rc == 1) {
				fwrite(line, 1, len, out), fputc('\n', out);
				if (doc_parse(&d, line, len) == 0)
					summarize(s, &d);
				n++;
			}
		} else {
			rc = shard_reader_next(r, &d);
			if (rc == 1) {
				if ((long)s->records < o->records)
					print_record(out, &d, s->records);
				summarize(s, &d);
				n++;
			}
		}
		if (rc != 1)
			break;
	}
	doc_release(&d);
	shard_reader_close(r);
	if (rc < 0) {
		fprintf(stderr, "curate inspect: %s\n", err_get());
		return -1;
	}
	s->shards++;
	fprintf(out, "%s: %llu records%s\n", path, (unsigned long long)n,
		sha ? ", checksum ok" : "");
	return 0;
}

static int inspect_dir(const char *dir, const struct inspect_opts *o, struct summary *s,
		       FILE *out)
{
	char *mpath = xasprintf("%s/manifest.json", dir);
	struct manifest m;
	int rc = 0;
	if (file_exists(mpath)) {
		if (manifest_load(mpath, &m) < 0) {
			fprintf(stderr, "curate inspect: %s\n", err_get());
			rc = -1;
		}
		for (size_t i = 0; i < m.nshards; i++) {
			char *p = xasprintf("%s/%s", dir, m.shards[i].name);
			rc |= inspect_shard(p, m.shards[i].sha256, o, s, out);
			free(p);
		}
		manifest_release(&m);
	} else {
		struct dirent **names;
		int n = scandir(dir, &names, NULL, alphasort), found = 0;
		for (int i = 0; i < n; i++) {
			const char *nm = names[i]->d_name;
			size_t l = strlen(nm);
			if (!strncmp(nm, "part-", 5) && l > 10 && !strcmp(nm + l - 10, ".jsonl.zst")) {
				char *p = xasprintf("%s/%s", dir, nm);
				if (!found++)
					fprintf(out, "%s: no manifest.json (stage not finished); reading "
						     "its shards\n", dir);
				rc |= inspect_shard(p, NULL, o, s, out);
				free(p);
			}
			free(names[i]);
		}
		free(n >= 0 ? names : NULL);
		if (!found) {
			fprintf(stderr, "curate inspect: %s: not a stage directory (no manifest.json "
					"and no part-NNNNN.jsonl.zst shards)\n", dir);
			rc = -1;
		}
	}
	free(mpath);
	return rc;
}

int inspect_path(const char *path, const struct inspect_opts *o, FILE *out)
{
	struct stat st;
	if (stat(path, &st)) {
		fprintf(stderr, "curate inspect: %s: no such file or directory\n", path);
		return -1;
	}
	struct summary s = {0};
	s.sources = json_object();
	int rc = S_ISDIR(st.st_mode) ? inspect_dir(path, o, &s, out)
				     : inspect_shard(path, NULL, o, &s, out);
	print_summary(out, &s);
	return rc;
}

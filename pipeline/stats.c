/* stats: see stats.h. The lists are short (a handful of reasons), so lookups are linear. */
#include "stats.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void stats_init(struct stats *s) { memset(s, 0, sizeof *s); }

static void free_counts(struct stat_count *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

void stats_release(struct stats *s)
{
	free_counts(s->drops, s->ndrops);
	free_counts(s->counters, s->ncounters);
	stats_init(s);
}

static struct stat_count *find_or_add(struct stat_count **v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].name, name))
			return &(*v)[i];
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	struct stat_count *c = &(*v)[(*n)++];
	c->name = xstrdup(name);
	c->docs = c->bytes = 0;
	return c;
}

static const struct stat_count *find(const struct stat_count *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

void stats_drop(struct stats *s, const char *reason, uint64_t bytes)
{
	struct stat_count *c = find_or_add(&s->drops, &s->ndrops, reason);
	c->docs++;
	c->bytes += bytes;
}

void stats_count(struct stats *s, const char *name, uint64_t n)
{
	find_or_add(&s->counters, &s->ncounters, name)->docs += n;
}

uint64_t stats_drop_docs(const struct stats *s, const char *reason)
{
	const struct stat_count *c = find(s->drops, s->ndrops, reason);
	return c ? c->docs : 0;
}

uint64_t stats_counter(const struct stats *s, const char *name)
{
	const struct stat_count *c = find(s->counters, s->ncounters, name);
	return c ? c->docs : 0;
}

void stats_merge(struct stats *into, const struct stats *from)
{
	into->docs_in += from->docs_in;
	into->bytes_in += from->bytes_in;
	into->docs_out += from->docs_out;
	into->bytes_out += from->bytes_out;
	for (size_t i = 0; i < from->ndrops; i++) {
		struct stat_count *c = find_or_add(&into->drops, &into->ndrops, from->drops[i].name);
		c->docs += from->drops[i].docs;
		c->bytes += from->drops[i].bytes;
	}
	for (size_t i = 0; i < from->ncounters; i++)
		find_or_add(&into->counters, &into->ncounters, from->counters[i].name)->docs +=
			from->counters[i].docs;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct stat_count *)a)->name, ((const struct stat_count *)b)->name);
}

json_t *stats_to_json(const struct stats *s)
{
	json_t *j = json_object();
	json_object_set_new(j, "docs_in", json_integer((json_int_t)s->docs_in));
	json_object_set_new(j, "bytes_in", json_integer((json_int_t)s->bytes_in));
	json_object_set_new(j, "docs_out", json_integer((json_int_t)s->docs_out));
	json_object_set_new(j, "bytes_out", json_integer((json_int_t)s->bytes_out));

	struct stat_count *sorted = xmalloc((s->ndrops + 1) * sizeof *sorted);
	if (s->ndrops) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(sorted, s->drops, s->ndrops * sizeof *sorted);
	qsort(sorted, s->ndrops, sizeof *sorted, by_name);
	json_t *drops = json_object();
	for (size_t i = 0; i < s->ndrops; i++)
		json_object_set_new(drops, sorted[i].name,
				    json_pack("{s:I,s:I}", "docs", (json_int_t)sorted[i].docs,
					      "bytes", (json_int_t)sorted[i].bytes));
	free(sorted);
	json_object_set_new(j, "drops", drops);

	sorted = xmalloc((s->ncounters + 1) * sizeof *sorted);
	if (s->ncounters)
		memcpy(sorted, s->counters, s->ncounters * sizeof *sorted);
	qsort(sorted, s->ncounters, sizeof *sorted, by_name);
	json_t *counters = json_object();
	for (size_t i = 0; i < s->ncounters; i++)
		json_object_set_new(counters, sorted[i].name,
				    json_integer((json_int_t)sorted[i].docs));
	free(sorted);
	json_object_set_new(j, "counters", counters);
	return j;
}

static uint64_t get_u64(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

int stats_from_json(struct stats *s, const json_t *j)
{
	if (!json_is_object(j))
		return -1;
	s->docs_in += get_u64(j, "docs_in");
	s->bytes_in += get_u64(j, "bytes_in");
	s->docs_out += get_u64(j, "docs_out");
	s->bytes_out += get_u64(j, "bytes_out");
	const char *name;
	json_t *v;
	json_object_foreach(json_object_get(j, "drops"), name, v) {
		struct stat_count *c = find_or_add(&s->drops, &s->ndrops, name);
		c->docs += get_u64(v, "docs");
		c->bytes += get_u64(v, "bytes");
	}
	json_object_foreach(json_object_get(j, "counters"), name, v)
		find_or_add(&s->counters, &s->ncounters, name)->docs +=
			json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
	return 0;
}

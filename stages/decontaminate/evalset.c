/* evalset: see evalset.h. Each spec's file is read line by line (lines.h, so .gz and .zst
 * work as they are distributed, e.g. HumanEval.jsonl.gz); an item's text goes into the n-gram
 * index and its benchmark and id into parallel arrays indexed by the item number. */
#include "evalset.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"
#include "ngram.h"

struct bench {
	char *name, *reason;
	size_t items, short_items;
};

struct evalset {
	struct evalset_opts o;
	struct ngram_index *ix;
	struct bench *b;
	size_t nb;
	uint32_t *item_bench;
	size_t *item_id;   /* offset of the item's id in ids */
	size_t cap;
	struct buf ids;    /* NUL-terminated ids */
};

struct evalset *evalset_new(const struct evalset_opts *o)
{
	struct evalset *es = xcalloc(1, sizeof *es);
	es->o = *o;
	es->ix = ngram_index_new(o->n);
	return es;
}

void evalset_free(struct evalset *es)
{
	if (!es)
		return;
	ngram_index_free(es->ix);
	for (size_t i = 0; i < es->nb; i++)
		free(es->b[i].name), free(es->b[i].reason);
	free(es->b);
	free(es->item_bench);
	free(es->item_id);
	buf_release(&es->ids);
	free(es);
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
			return false;
	return true;
}

int evalset_parse_spec(const char *spec, char **name, char **path, char **fields)
{
	const char *eq = strchr(spec, '=');
	*name = *path = *fields = NULL;
	if (!eq) {
		err_set("evaluation set \"%s\": expected NAME=PATH[:FIELD,FIELD...]", spec);
		return -1;
	}
	*name = xstrndup(spec, (size_t)(eq - spec));
	const char *p = eq + 1, *colon = strrchr(p, ':');
	*path = colon ? xstrndup(p, (size_t)(colon - p)) : xstrdup(p);
	*fields = colon ? xstrdup(colon + 1) : NULL;
	const char *what = !valid_name(*name) ? "the name must be letters, digits, '_', '.', '-'"
			   : !**path		  ? "the path is empty"
						  : NULL;
	if (what) {
		err_set("evaluation set \"%s\": %s", spec, what);
		free(*name), free(*path), free(*fields);
		*name = *path = *fields = NULL;
		return -1;
	}
	return 0;
}

static bool is_jsonl(const char *path)
{
	static const char *const ext[] = {".jsonl", ".ndjson", ".json"};
	static const char *const comp[] = {"", ".gz", ".zst"};
	char buf[32];
	for (size_t i = 0; i < ARRAY_LEN(ext); i++)
		for (size_t j = 0; j < ARRAY_LEN(comp); j++) {
			snprintf(buf, sizeof buf, "%s%s", ext[i], comp[j]);
			if (str_ends_with(path, buf))
				return true;
		}
	return false;
}

static size_t bench_index(struct evalset *es, const char *name)
{
	for (size_t i = 0; i < es->nb; i++)
		if (!strcmp(es->b[i].name, name))
			return i;
	es->b = xrealloc(es->b, (es->nb + 1) * sizeof *es->b);
	es->b[es->nb] = (struct bench){xstrdup(name), xasprintf("contaminated:%s", name), 0, 0};
	return es->nb++;
}

static int add_item(struct evalset *es, size_t b, const char *id, const struct buf *text)
{
	int64_t k = ngram_index_add(es->ix, text->p ? text->p : "", text->len);
	if (k < 0)
		return -1;
	if ((size_t)k >= es->cap) {
		es->cap = es->cap ? 2 * es->cap : 64;
		es->item_bench = xrealloc(es->item_bench, es->cap * sizeof *es->item_bench);
		es->item_id = xrealloc(es->item_id, es->cap * sizeof *es->item_id);
	}
	es->item_bench[k] = (uint32_t)b;
	es->item_id[k] = es->ids.len;
	buf_append(&es->ids, id, strlen(id) + 1);
	es->b[b].items++;
	es->b[b].short_items += ngram_index_item_words(es->ix, (size_t)k) < es->o.n;
	return 0;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\f\v", s[i]))
			return false;
	return true;
}

/* The list of fields to read: the spec's own, else the configured defaults. */
struct fieldlist {
	char *own;
	const char *v[64];
	size_t n;
};

static int fieldlist_init(struct fieldlist *fl, const char *spec_fields,
			  const struct evalset_opts *o, const char *path)
{
	memset(fl, 0, sizeof *fl);
	if (!spec_fields || !*spec_fields) {
		fl->n = o->nfields < ARRAY_LEN(fl->v) ? o->nfields : ARRAY_LEN(fl->v);
		memcpy(fl->v, o->fields, fl->n * sizeof *fl->v);
	} else {
		fl->own = xstrdup(spec_fields);
		for (char *save, *f = strtok_r(fl->own, ",", &save); f;
		     f = strtok_r(NULL, ",", &save))
			if (fl->n < ARRAY_LEN(fl->v))
				fl->v[fl->n++] = f;
	}
	if (!fl->n) {
		err_set("%s: no fields to read (give them after ':' or in decontaminate.fields)",
			path);
		free(fl->own);
		return -1;
	}
	return 0;
}

/* Appends a field's text (a string, or an array of strings one per line); -1 if neither. */
static int field_text(json_t *v, struct buf *out, const char *field, const char *where)
{
	if (json_is_string(v)) {
		if (out->len)
			buf_putc(out, '\n');
		buf_append(out, json_string_value(v), json_string_length(v));
		return 0;
	}
	size_t i;
	json_t *e;
	if (json_is_array(v)) {
		json_array_foreach(v, i, e) {
			if (!json_is_string(e)) {
				err_set("%s: field \"%s\": element %zu is not a string", where,
					field, i);
				return -1;
			}
			if (out->len)
				buf_putc(out, '\n');
			buf_append(out, json_string_value(e), json_string_length(e));
		}
		return 0;
	}
	err_set("%s: field \"%s\" is not a string or an array of strings", where, field);
	return -1;
}

/* The item id: the first id field that is a string or an integer, else "line:N". */
static void record_id(const struct evalset_opts *o, json_t *j, uint64_t line, struct buf *id)
{
	buf_reset(id);
	for (size_t i = 0; i < o->nid_fields; i++) {
		json_t *v = json_object_get(j, o->id_fields[i]);
		if (json_is_string(v)) {
			buf_puts(id, json_string_value(v)); /* an id stops at a NUL */
			return;
		}
		if (json_is_integer(v)) {
			buf_printf(id, "%lld", (long long)json_integer_value(v));
			return;
		}
	}
	buf_printf(id, "line:%llu", (unsigned long long)line);
}

/* One JSONL record into an item; -1 with err_set naming where. */
static int jsonl_record(struct evalset *es, size_t b, const struct fieldlist *fl,
			const char *line, size_t len, const char *where, uint64_t lineno,
			struct buf *text, struct buf *id)
{
	json_error_t e;
	json_t *j = json_loadb(line, len, JSON_ALLOW_NUL, &e);
	if (!j) {
		err_set("%s: invalid JSON at column %d: %s", where, e.column, e.text);
		return -1;
	}
	int rc = 0, found = 0;
	if (!json_is_object(j)) {
		err_set("%s: the record is not a JSON object", where);
		rc = -1;
	}
	buf_reset(text);
	for (size_t i = 0; !rc && i < fl->n; i++) {
		json_t *v = json_object_get(j, fl->v[i]);
		if (!v || json_is_null(v))
			continue;
		found = 1;
		rc = field_text(v, text, fl->v[i], where);
	}
	if (!rc && !found) {
		struct buf names = BUF_INIT;
		for (size_t i = 0; i < fl->n; i++)
			buf_printf(&names, "%s%s", i ? ", " : "", fl->v[i]);
		err_set("%s: the record has none of the fields %s", where, names.p);
		buf_release(&names);
		rc = -1;
	}
	if (!rc) {
		record_id(&es->o, j, lineno, id);
		rc = add_item(es, b, id->p, text);
	}
	json_decref(j);
	return rc;
}

static int load_jsonl(struct evalset *es, size_t b, struct lines *r, const char *path,
		      const struct fieldlist *fl)
{
	struct buf text = BUF_INIT, id = BUF_INIT;
	const char *line;
	size_t len;
	int rc;
	while ((rc = lines_next(r, &line, &len)) == 1) {
		if (blank(line, len))
			continue;
		char *where = xasprintf("%s:%llu", path, (unsigned long long)lines_lineno(r));
		rc = jsonl_record(es, b, fl, line, len, where, lines_lineno(r), &text, &id);
		free(where);
		if (rc < 0)
			break;
	}
	buf_release(&text), buf_release(&id);
	return rc;
}

/* Plain text: the whole file, blank-line-separated blocks, or lines, as items. */
static int load_text(struct evalset *es, size_t b, struct lines *r, const char *path)
{
	struct buf text = BUF_INIT, id = BUF_INIT;
	const char *line;
	size_t len;
	int rc;
	uint64_t first = 0;
	while ((rc = lines_next(r, &line, &len)) == 1) {
		bool split = es->o.unit != EVALSET_FILE && blank(line, len);
		if (!split) {
			if (!text.len)
				first = lines_lineno(r);
			buf_append(&text, line, len);
			buf_putc(&text, '\n');
		}
		if ((split || es->o.unit == EVALSET_LINE) && text.len) {
			buf_reset(&id);
			buf_printf(&id, "line:%llu", (unsigned long long)first);
			if ((rc = add_item(es, b, id.p, &text)) < 0)
				break;
			buf_reset(&text);
		}
	}
	if (!rc && text.len) {
		buf_reset(&id);
		if (es->o.unit == EVALSET_FILE)
			buf_puts(&id, path);
		else
			buf_printf(&id, "line:%llu", (unsigned long long)first);
		rc = add_item(es, b, id.p, &text);
	}
	buf_release(&text), buf_release(&id);
	return rc;
}

int evalset_load(struct evalset *es, const char *spec)
{
	char *name, *path, *fields;
	if (evalset_parse_spec(spec, &name, &path, &fields) < 0)
		return -1;
	int rc = -1, jsonl = is_jsonl(path);
	struct fieldlist fl = {0};
	struct lines *r = NULL;
	if (fields && *fields && !jsonl) {
		err_set("evaluation set \"%s\": fields are given but %s is not JSONL (.jsonl, "
			".ndjson or .json, optionally .gz or .zst)", spec, path);
		goto out;
	}
	if (jsonl && fieldlist_init(&fl, fields, &es->o, path) < 0)
		goto out;
	if (!(r = lines_open(path, 0)))
		goto out;
	size_t b = bench_index(es, name), before = es->b[b].items;
	rc = jsonl ? load_jsonl(es, b, r, path, &fl) : load_text(es, b, r, path);
	if (!rc && es->b[b].items == before) {
		err_set("%s: no evaluation items in the file", path);
		rc = -1;
	}
out:
	lines_close(r);
	free(fl.own);
	free(name), free(path), free(fields);
	return rc;
}

void evalset_build(struct evalset *es) { ngram_index_build(es->ix); }

size_t evalset_benchmarks(const struct evalset *es) { return es->nb; }
const char *evalset_benchmark_name(const struct evalset *es, size_t b) { return es->b[b].name; }
size_t evalset_benchmark_items(const struct evalset *es, size_t b) { return es->b[b].items; }
size_t evalset_benchmark_short(const struct evalset *es, size_t b)
{
	return es->b[b].short_items;
}
size_t evalset_items(const struct evalset *es) { return ngram_index_items(es->ix); }
size_t evalset_grams(const struct evalset *es) { return ngram_index_grams(es->ix); }

size_t evalset_bytes(const struct evalset *es)
{
	return ngram_index_bytes(es->ix) + es->ids.cap +
	       es->cap * (sizeof *es->item_bench + sizeof *es->item_id);
}

int evalset_check(const struct evalset *es, const char *text, size_t len, uint32_t threshold,
		  struct evalset_hit *hit, struct buf *hit_buf)
{
	struct ngram_match m;
	uint32_t k = ngram_index_scan(es->ix, text, len, threshold, &m);
	if (!k || k < threshold)
		return 0;
	const struct bench *b = &es->b[es->item_bench[m.item]];
	buf_reset(hit_buf);
	ngram_index_gram_text(es->ix, m.gram, hit_buf);
	*hit = (struct evalset_hit){b->name, b->reason, es->ids.p + es->item_id[m.item],
				    hit_buf->p, m.offset, k};
	return 1;
}

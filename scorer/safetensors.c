/* safetensors: the header parser and validator, file mapping, sharded index loading and the
 * writer used by `scorer init`. Tensors are never copied here. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* A header larger than this is not a model header but a broken or hostile file. */
#define ST_MAX_HEADER (100u << 20)

struct st_map {
	char *path;
	void *base;
	size_t len;
};

struct st_set {
	struct st_tensor *v;
	size_t n, cap;
	struct st_map *maps;
	size_t nmaps;
};

static const struct {
	const char *name;
	size_t size;
} dtypes[] = {[ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}};

const char *st_dtype_name(enum st_dtype t) { return dtypes[t].name; }
size_t st_dtype_size(enum st_dtype t) { return dtypes[t].size; }

static struct st_tensor *set_add(struct st_set *s)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	struct st_tensor *t = &s->v[s->n++];
	memset(t, 0, sizeof *t);
	return t;
}

static int cmp_off(const void *a, const void *b)
{
	const struct st_tensor *x = a, *y = b;
	const char *px = x->data, *py = y->data;
	return px < py ? -1 : px > py;
}

/* One header entry into t; 0 or -1 with err_set. */
static int parse_entry(const char *name, const char *key, json_t *e, const char *data,
		       size_t dlen, struct st_tensor *t)
{
	const char *dt = json_string_value(json_object_get(e, "dtype"));
	json_t *shape = json_object_get(e, "shape"), *off = json_object_get(e, "data_offsets");
	if (!json_is_object(e) || !dt || !json_is_array(shape) || !json_is_array(off) ||
	    json_array_size(off) != 2) {
		err_set("%s: tensor '%s': needs dtype, shape and data_offsets [begin, end]", name,
			key);
		return -1;
	}
	int found = -1;
	for (size_t i = 0; i < ARRAY_LEN(dtypes); i++)
		if (!strcmp(dt, dtypes[i].name))
			found = (int)i;
	if (found < 0) {
		err_set("%s: tensor '%s': dtype %s is not supported (F32, F16 or BF16)", name, key,
			dt);
		return -1;
	}
	t->dtype = (enum st_dtype)found;
	if (json_array_size(shape) > ST_MAX_DIMS) {
		err_set("%s: tensor '%s': %zu dimensions (at most %d)", name, key,
			json_array_size(shape), ST_MAX_DIMS);
		return -1;
	}
	t->ndim = (int)json_array_size(shape);
	uint64_t count = 1;
	for (int d = 0; d < t->ndim; d++) {
		json_t *x = json_array_get(shape, (size_t)d);
		json_int_t v = json_is_integer(x) ? json_integer_value(x) : -1;
		if (v < 0 || v > ((json_int_t)1 << 40) || (v && count > (UINT64_C(1) << 40) / (uint64_t)v)) {
			err_set("%s: tensor '%s': bad shape dimension %d", name, key, d);
			return -1;
		}
		t->shape[d] = v;
		count *= (uint64_t)v;
	}
	json_t *b = json_array_get(off, 0), *en = json_array_get(off, 1);
	json_int_t beg = json_is_integer(b) ? json_integer_value(b) : -1;
	json_int_t end = json_is_integer(en) ? json_integer_value(en) : -1;
	if (beg < 0 || end < beg || (uint64_t)end > dlen) {
		err_set("%s: tensor '%s': data_offsets [%lld, %lld] outside the %zu data bytes", name,
			key, (long long)beg, (long long)end, dlen);
		return -1;
	}
	if ((uint64_t)(end - beg) != count * dtypes[found].size) {
		err_set("%s: tensor '%s': %lld bytes for %llu elements of %s", name, key,
			(long long)(end - beg), (unsigned long long)count, dt);
		return -1;
	}
	t->data = data + beg;
	t->nbytes = (size_t)(end - beg);
	return 0;
}

/* Appends the tensors of one image to s. */
static int parse_into(struct st_set *s, const void *mem, size_t len, const char *name)
{
	const unsigned char *p = mem;
	if (len < 8) {
		err_set("%s: %zu bytes: too short for a safetensors header", name, len);
		return -1;
	}
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | p[i];
	if (hlen > ST_MAX_HEADER || hlen > len - 8) {
		err_set("%s: header length %llu does not fit the %zu-byte file", name,
			(unsigned long long)hlen, len);
		return -1;
	}
	json_error_t je;
	json_t *h = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(h)) {
		err_set("%s: header is not a JSON object (%s at byte %d)", name,
			h ? "not an object" : je.text, h ? 8 : 8 + je.position);
		json_decref(h);
		return -1;
	}
	const char *data = (const char *)p + 8 + hlen;
	size_t dlen = len - 8 - (size_t)hlen, first = s->n;
	const char *key;
	json_t *e;
	json_object_foreach(h, key, e) {
		if (!strcmp(key, "__metadata__"))
			continue;
		struct st_tensor *t = set_add(s);
		t->name = xstrdup(key);
		if (parse_entry(name, key, e, data, dlen, t) < 0) {
			json_decref(h);
			return -1;
		}
	}
	json_decref(h);
	/* overlapping tensors mean a corrupt or hand-crafted file */
	size_t n = s->n - first;
	struct st_tensor *sorted = xmalloc((n + 1) * sizeof *sorted);
	if (n) /* s->v is NULL while the set is empty */
		memcpy(sorted, s->v + first, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, cmp_off);
	for (size_t i = 1; i < n; i++) {
		if ((const char *)sorted[i - 1].data + sorted[i - 1].nbytes >
		    (const char *)sorted[i].data) {
			err_set("%s: tensors '%s' and '%s' overlap", name, sorted[i - 1].name,
				sorted[i].name);
			free(sorted);
			return -1;
		}
	}
	free(sorted);
	return 0;
}

struct st_set *st_parse_mem(const void *data, size_t len, const char *name)
{
	struct st_set *s = xcalloc(1, sizeof *s);
	if (parse_into(s, data, len, name) < 0) {
		st_free(s);
		return NULL;
	}
	return s;
}

static int map_file(struct st_set *s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_set("%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		err_set("%s: not a regular file", path);
		close(fd);
		return -1;
	}
	void *base = sb.st_size ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
				: NULL;
	close(fd);
	if (base == MAP_FAILED) {
		err_set("%s: mmap: %s", path, strerror(errno));
		return -1;
	}
	s->maps = xrealloc(s->maps, (s->nmaps + 1) * sizeof *s->maps);
	s->maps[s->nmaps++] = (struct st_map){xstrdup(path), base, (size_t)sb.st_size};
	size_t first = s->n;
	if (parse_into(s, base ? base : "", (size_t)sb.st_size, path) < 0)
		return -1;
	for (size_t i = first; i < s->n; i++)
		s->v[i].file = s->maps[s->nmaps - 1].path;
	return 0;
}

/* Loads the shards an index names and checks every listed tensor is in its file. */
static int open_index(struct st_set *s, const char *dir, const char *ipath)
{
	json_error_t je;
	json_t *j = json_load_file(ipath, JSON_REJECT_DUPLICATES, &je);
	json_t *wm = json_object_get(j, "weight_map");
	if (!json_is_object(wm)) {
		err_set("%s: %s", ipath, j ? "no \"weight_map\" object" : je.text);
		json_decref(j);
		return -1;
	}
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(wm, key, v) {
		const char *f = json_string_value(v);
		if (!f || strchr(f, '/') || !strcmp(f, "..")) {
			err_set("%s: weight_map[\"%s\"]: not a file name beside the index", ipath, key);
			rc = -1;
			break;
		}
		char *path = xasprintf("%s/%s", dir, f);
		int seen = 0;
		for (size_t i = 0; i < s->nmaps; i++)
			seen |= !strcmp(s->maps[i].path, path);
		rc = seen ? 0 : map_file(s, path);
		free(path);
		if (rc < 0)
			break;
		const struct st_tensor *t = st_find(s, key);
		if (!t || strcmp(strrchr(t->file, '/') + 1, f)) {
			err_set("%s: tensor '%s' is not in %s as the index says", ipath, key, f);
			rc = -1;
			break;
		}
	}
	json_decref(j);
	return rc;
}

struct st_set *st_open_dir(const char *dir)
{
	struct st_set *s = xcalloc(1, sizeof *s);
	char *one = xasprintf("%s/model.safetensors", dir);
	char *idx = xasprintf("%s/model.safetensors.index.json", dir);
	int rc;
	if (file_exists(one))
		rc = map_file(s, one);
	else if (file_exists(idx))
		rc = open_index(s, dir, idx);
	else {
		err_set("%s: neither model.safetensors nor model.safetensors.index.json", dir);
		rc = -1;
	}
	free(one), free(idx);
	/* the same name in two shards is ambiguous */
	for (size_t i = 0; rc == 0 && i < s->n; i++)
		for (size_t k = i + 1; rc == 0 && k < s->n && s->nmaps > 1; k++)
			if (!strcmp(s->v[i].name, s->v[k].name)) {
				err_set("%s: tensor '%s' is in both %s and %s", dir, s->v[i].name,
					s->v[i].file, s->v[k].file);
				rc = -1;
			}
	if (rc < 0) {
		st_free(s);
		return NULL;
	}
	return s;
}

void st_free(struct st_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	for (size_t i = 0; i < s->nmaps; i++) {
		if (s->maps[i].base)
			munmap(s->maps[i].base, s->maps[i].len);
		free(s->maps[i].path);
	}
	free(s->maps);
	free(s->v);
	free(s);
}

size_t st_count(const struct st_set *s) { return s->n; }
const struct st_tensor *st_at(const struct st_set *s, size_t i) { return &s->v[i]; }

const struct st_tensor *st_find(const struct st_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static float half_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
	if (e == 31)
		u = sign | 0x7f800000u | m << 13;
	else if (e)
		u = sign | (e + 112) << 23 | m << 13;
	else if (!m)
		u = sign;
	else { /* subnormal: normalise */
		e = 113;
		while (!(m & 1024))
			m <<= 1, e--;
		u = sign | e << 23 | (m & 1023) << 13;
	}
	float f;
	memcpy(&f, &u, 4);
	return f;
}

void st_to_f32(enum st_dtype t, const void *src, size_t n, float *dst)
{
	const unsigned char *p = src;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		if (t == ST_F32) {
			memcpy(&dst[i], p + 4 * i, 4);
			continue;
		}
		uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
		if (t == ST_F16) {
			dst[i] = half_to_f32(h);
			continue;
		}
		u = (uint32_t)h << 16;
		memcpy(&dst[i], &u, 4);
	}
}

uint16_t st_f32_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(u >> 16 | 0x40);
	u += 0x7fffu + (u >> 16 & 1);
	return (uint16_t)(u >> 16);
}

int st_write(const char *path, const struct st_tensor *t, size_t n)
{
	json_t *h = json_object();
	json_object_set_new(h, "__metadata__", json_pack("{s:s}", "format", "pt"));
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *shape = json_array();
		for (int d = 0; d < t[i].ndim; d++)
			json_array_append_new(shape, json_integer(t[i].shape[d]));
		json_object_set_new(h, t[i].name,
				    json_pack("{s:s,s:o,s:[I,I]}", "dtype", dtypes[t[i].dtype].name,
					      "shape", shape, "data_offsets", (json_int_t)off,
					      (json_int_t)(off + t[i].nbytes)));
		off += t[i].nbytes;
	}
	struct buf hb = BUF_INIT;
	char *text = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(h);
	buf_puts(&hb, text);
	free(text);
	while (hb.len % 8) /* data starts 8-aligned, as the reference writer does */
		buf_putc(&hb, ' ');
	unsigned char len8[8];
	for (int i = 0; i < 8; i++)
		len8[i] = (unsigned char)(hb.len >> (8 * i));
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = fd < 0 ? -1 : 0;
	if (fd < 0)
		err_set("%s: %s", tmp, strerror(errno));
	if (!rc)
		rc = write_all(fd, len8, 8, tmp);
	if (!rc)
		rc = write_all(fd, hb.p, hb.len, tmp);
	for (size_t i = 0; i < n && !rc; i++)
		rc = write_all(fd, t[i].data, t[i].nbytes, tmp);
	if (!rc && fsync(fd) < 0)
		err_set("%s: fsync: %s", tmp, strerror(errno)), rc = -1;
	if (fd >= 0)
		close(fd);
	if (!rc && rename(tmp, path) < 0)
		err_set("%s: rename: %s", path, strerror(errno)), rc = -1;
	if (rc)
		unlink(tmp);
	free(tmp);
	buf_release(&hb);
	return rc;
}

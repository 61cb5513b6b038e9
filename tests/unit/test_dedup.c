/* test_dedup: the keep key both dedup stages name documents by. Its memcmp order must be the
 * keep rule (with prefer_permissive a permissive licence first; most stars, then the smallest id bytewise, a prefix first, then shard and
 * record), and the id, shard and record must read back from it, NUL bytes included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dedup.h"

static void key_lic(struct buf *k, const char *id, size_t idlen, const char *stars,
		    uint32_t shard, uint64_t rec, const char *license_type, int prefer)
{
	struct doc d;
	doc_init(&d);
	buf_set(&d.id, id, idlen);
	if (stars)
		json_object_set_new(d.meta, "stars", json_loads(stars, JSON_DECODE_ANY, NULL));
	if (license_type)
		json_object_set_new(d.meta, "license_type", json_string(license_type));
	buf_reset(k);
	dedup_keep_key(k, &d, shard, rec, prefer);
	doc_release(&d);
}

static void key_of(struct buf *k, const char *id, size_t idlen, const char *stars,
		   uint32_t shard, uint64_t rec)
{
	key_lic(k, id, idlen, stars, shard, rec, NULL, 0);
}

static int cmp(const struct buf *a, const struct buf *b)
{
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* prefer_permissive: a permissive copy first whatever its stars; without it, the licence
 * counts for nothing; the id reads back either way. */
static void test_prefer_permissive(void **state)
{
	(void)state;
	struct buf a = BUF_INIT, b = BUF_INIT, id = BUF_INIT;
	key_lic(&a, "mit", 3, "0", 0, 0, "permissive", 1);
	key_lic(&b, "gpl", 3, "1e6", 0, 0, "copyleft", 1);
	assert_true(cmp(&a, &b) < 0);
	key_lic(&b, "none", 4, "1e6", 0, 0, NULL, 1);
	assert_true(cmp(&a, &b) < 0);
	key_lic(&a, "mit", 3, "0", 0, 0, "permissive", 0);
	key_lic(&b, "gpl", 3, "1e6", 0, 0, "copyleft", 0);
	assert_true(cmp(&b, &a) < 0);
	dedup_key_id(a.p, a.len, &id);
	assert_int_equal(id.len, 3);
	assert_memory_equal(id.p, "mit", 3);
	key_lic(&a, "x\0y", 3, "5", 7, 8, "permissive", 1);
	dedup_key_id(a.p, a.len, &id);
	assert_int_equal(id.len, 3);
	assert_memory_equal(id.p, "x\0y", 3);
	buf_release(&a), buf_release(&b), buf_release(&id);
}

static void test_order_is_keep_rule(void **state)
{
	(void)state;
	/* in keep order: each sorts before the next */
	struct {
		const char *id;
		size_t len;
		const char *stars;
		uint32_t shard;
		uint64_t rec;
	} order[] = {
		{"zzz", 3, "1e6", 9, 9},     /* most stars wins whatever the id */
		{"b", 1, "70000", 0, 0},
		{"a", 1, "12", 5, 5},
		{"a", 1, "12.9", 5, 6},      /* 12.9 stars count as 12; then the place */
		{"a", 1, "12", 6, 0},
		{"", 0, "3", 0, 0},          /* the empty id first */
		{"a", 1, NULL, 3, 0},        /* missing stars = 0 */
		{"a\0", 2, NULL, 0, 0},      /* a prefix before its extensions */
		{"a\0b", 3, "\"many\"", 0, 0}, /* stars not a number = 0 */
		{"a\x01", 2, "-5", 0, 0},    /* negative = 0 */
		{"ab", 2, "0", 0, 0},
	};
	struct buf prev = BUF_INIT, cur = BUF_INIT, id = BUF_INIT;
	for (size_t i = 0; i < ARRAY_LEN(order); i++) {
		key_of(&cur, order[i].id, order[i].len, order[i].stars, order[i].shard,
		       order[i].rec);
		if (i)
			assert_true(cmp(&prev, &cur) < 0);
		dedup_key_id(cur.p, cur.len, &id);
		assert_int_equal(id.len, order[i].len);
		assert_memory_equal(id.p, order[i].id, order[i].len);
		uint32_t s;
		uint64_t r;
		dedup_key_place(cur.p, cur.len, &s, &r);
		assert_int_equal(s, order[i].shard);
		assert_int_equal(r, order[i].rec);
		buf_set(&prev, cur.p, cur.len);
	}
	buf_release(&prev), buf_release(&cur), buf_release(&id);
}

static void test_big_endian_helpers(void **state)
{
	(void)state;
	unsigned char b[8];
	be_put(b, 0x0102030405060708ull, 8);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[7], 8);
	assert_true(be_get(b, 8) == 0x0102030405060708ull);
	be_put(b, 0xabcd, 2);
	assert_int_equal(be_get(b, 2), 0xabcd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_is_keep_rule),
		cmocka_unit_test(test_big_endian_helpers),
		cmocka_unit_test(test_prefer_permissive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

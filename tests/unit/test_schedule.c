/* Tests of schedule_assign (LPT), of a source's contiguous runs (task_runs), and of stats
 * merging and its JSON form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "stage.h"
#include "stats.h"

static void loads(const uint64_t *sizes, size_t n, int nranks, const int *owner, uint64_t *out)
{
	memset(out, 0, (size_t)nranks * sizeof *out);
	for (size_t i = 0; i < n; i++) {
		assert_true(owner[i] >= 0 && owner[i] < nranks);
		out[owner[i]] += sizes[i] ? sizes[i] : 1;
	}
}

static void test_balanced_uneven_sizes(void **state)
{
	/* one big task and many small: the big one gets a rank of its own */
	uint64_t sizes[41] = {1000};
	for (int i = 1; i < 41; i++)
		sizes[i] = 25;
	int owner[41];
	uint64_t makespan = schedule_assign(sizes, 41, 2, owner);
	uint64_t l[2];
	loads(sizes, 41, 2, owner, l);
	assert_int_equal(l[0] + l[1], 2000);
	assert_int_equal(makespan, 1000);
	assert_int_equal(l[0], 1000);
	assert_int_equal(l[1], 1000);
}

static void test_lpt_bound(void **state)
{
	/* LPT is within 4/3 of optimal; the optimum is at least the mean and the largest task */
	srand(7);
	for (int trial = 0; trial < 200; trial++) {
		size_t n = 1 + (size_t)(rand() % 60);
		int nranks = 1 + rand() % 7;
		uint64_t sizes[64], total = 0, largest = 0;
		for (size_t i = 0; i < n; i++) {
			sizes[i] = (uint64_t)(rand() % 1000);
			total += sizes[i] ? sizes[i] : 1;
			largest = sizes[i] > largest ? sizes[i] : largest;
		}
		int owner[64];
		uint64_t makespan = schedule_assign(sizes, n, nranks, owner);
		uint64_t l[8], mx = 0;
		loads(sizes, n, nranks, owner, l);
		for (int r = 0; r < nranks; r++)
			mx = l[r] > mx ? l[r] : mx;
		assert_int_equal(mx, makespan);
		double lower = (double)total / nranks > (double)largest ? (double)total / nranks
									: (double)largest;
		assert_true((double)makespan <= 4.0 / 3.0 * lower + 1000);
	}
}

static void test_deterministic_ties(void **state)
{
	uint64_t sizes[6] = {5, 5, 5, 5, 5, 5};
	int a[6], b[6];
	schedule_assign(sizes, 6, 3, a);
	schedule_assign(sizes, 6, 3, b);
	assert_memory_equal(a, b, sizeof a);
	/* equal sizes go round-robin by index then rank */
	int expect[6] = {0, 1, 2, 0, 1, 2};
	assert_memory_equal(a, expect, sizeof a);
}

static void test_more_ranks_than_tasks(void **state)
{
	uint64_t sizes[2] = {10, 20};
	int owner[2];
	schedule_assign(sizes, 2, 5, owner);
	assert_int_equal(owner[1], 0);
	assert_int_equal(owner[0], 1);
	schedule_assign(NULL, 0, 3, owner); /* nothing to do is fine */
}

static void test_stats_merge_and_json(void **state)
{
	struct stats a, b, c;
	stats_init(&a), stats_init(&b), stats_init(&c);
	a.docs_in = 10, a.docs_out = 7, a.bytes_in = 100, a.bytes_out = 70;
	stats_drop(&a, "too_short", 5);
	stats_drop(&a, "binary", 20);
	stats_drop(&a, "binary", 5);
	stats_count(&a, "utf8_repaired", 3);
	b.docs_in = 5, b.docs_out = 5;
	stats_drop(&b, "too_short", 1);
	stats_merge(&a, &b);
	assert_int_equal(a.docs_in, 15);
	assert_int_equal(a.docs_out, 12);
	assert_int_equal(stats_drop_docs(&a, "too_short"), 2);
	assert_int_equal(stats_drop_docs(&a, "binary"), 2);
	assert_int_equal(stats_drop_docs(&a, "none"), 0);
	json_t *j = stats_to_json(&a);
	char *text = json_dumps(j, JSON_COMPACT);
	/* reasons sorted by name, whatever order they were seen in */
	assert_non_null(strstr(text, "\"drops\":{\"binary\":{\"docs\":2,\"bytes\":25},"
				     "\"too_short\":{\"docs\":2,\"bytes\":6}}"));
	assert_int_equal(stats_from_json(&c, j), 0);
	assert_int_equal(c.docs_in, 15);
	assert_int_equal(stats_counter(&c, "utf8_repaired"), 3);
	assert_int_equal(stats_drop_docs(&c, "binary"), 2);
	assert_int_equal(stats_from_json(&c, json_integer(3)), -1);
	free(text);
	json_decref(j);
	stats_release(&a), stats_release(&b), stats_release(&c);
}

/* The shard of each input under task_runs (into shard), checking that `tasks` tasks were made
 * and that the runs are contiguous (never decreasing, never skipping) with none empty. */
static void runs(const uint64_t *w, size_t n, uint64_t want_shards, size_t tasks, size_t *shard)
{
	struct task_list l = {0};
	struct task_runs r;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += w[i];
	task_runs_init(&r, &l, want_shards, n, total);
	for (size_t i = 0; i < n; i++)
		shard[i] = (size_t)(task_runs_next(&r, w[i]) - l.v);
	assert_int_equal(l.n, tasks);
	task_list_release(&l);
	assert_int_equal(shard[0], 0);
	for (size_t i = 1; i < n; i++)
		assert_true(shard[i] == shard[i - 1] || shard[i] == shard[i - 1] + 1);
	assert_int_equal(shard[n - 1], tasks - 1);
}

static void test_task_runs(void **state)
{
	size_t s[100];
	/* three small repositories, then a large one (issue 25: all went to shard 0) */
	const uint64_t a[] = {41, 34, 35, 375};
	runs(a, 4, 4, 4, s);
	const uint64_t b[] = {375, 41, 34, 35};
	runs(b, 4, 4, 4, s);
	/* a WARC list: one large file among small ones, 6 shards */
	const uint64_t c[] = {5120, 261, 3816, 284490928, 300, 400};
	runs(c, 6, 6, 6, s);
	/* two shards over the same: the large file is alone with what follows it */
	runs(c, 6, 2, 2, s);
	assert_int_equal(s[2], 0);
	/* equal weights: equal runs */
	uint64_t e[100];
	for (int i = 0; i < 100; i++)
		e[i] = 7;
	runs(e, 100, 4, 4, s);
	for (int i = 0; i < 100; i++)
		assert_int_equal(s[i], (size_t)(i / 25));
	/* more shards than inputs: one each */
	runs(a, 4, 16, 4, s);
	/* a zero-weight tail still fills the last shards */
	const uint64_t z[] = {100, 0, 0, 0};
	runs(z, 4, 4, 4, s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_balanced_uneven_sizes),
		cmocka_unit_test(test_lpt_bound),
		cmocka_unit_test(test_deterministic_ties),
		cmocka_unit_test(test_more_ranks_than_tasks),
		cmocka_unit_test(test_task_runs),
		cmocka_unit_test(test_stats_merge_and_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

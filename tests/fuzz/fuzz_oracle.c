/* fuzz_oracle: the oracle's parsers over any bytes: a chat-completions response (with
 * logprobs), the rating in a completion, and a cached answer record. Each must end, keep a
 * rating it reports inside 0..10 (or say out_of_range), an explanation inside the text, and
 * probabilities that sum to 1 whenever an expected rating is given. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle/oracle.h"

static void check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_oracle: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	double rating;
	size_t explain;
	enum oracle_status st = oracle_parse_rating(s, size, size & 1 ? "length" : "stop", &rating,
						    &explain);
	check(st < ORACLE_STATUSES, "status out of range");
	check(explain <= size, "explanation past the text");
	if (st == ORACLE_OK)
		check(rating >= 0 && rating <= 10, "ok rating outside 0..10");
	if (st == ORACLE_OUT_OF_RANGE)
		check(!(rating >= 0 && rating <= 10), "out_of_range rating inside 0..10");

	struct oracle_answer a = {0};
	if (oracle_parse_chat(s, size, &a) == 0) {
		check(a.content != NULL, "parsed response without content");
		if (a.expected >= 0) {
			double sum = 0;
			for (int i = 0; i <= 10; i++)
				sum += a.probs[i];
			check(fabs(sum - 1) < 1e-9, "probabilities do not sum to 1");
			check(a.expected <= 10, "expected rating above 10");
		}
		/* what the cache stores reads back the same */
		char *j = oracle_answer_to_json(&a);
		struct oracle_answer b = {0};
		check(oracle_answer_from_json(j, &b) == 0, "cached answer does not read back");
		check(!strcmp(a.content, b.content), "cached content differs");
		free(j);
		oracle_answer_release(&b);
	}
	oracle_answer_release(&a);

	char *z = malloc(size + 1);
	memcpy(z, data, size);
	z[size] = 0;
	if (oracle_answer_from_json(z, &a) == 0)
		oracle_answer_release(&a);
	free(z);
	return 0;
}

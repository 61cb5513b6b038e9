/* Tests of the oracle's parsers and templates: the last well-formed "Rating: [[X]]" wins and
 * is range-checked; empty, truncated, refused and unparseable answers are told apart; the
 * probability-weighted rating from logprobs (a single-digit vocabulary writing 10 as "1" "0"
 * included); a cached answer reads back; rendering fills the slots and cuts content at a
 * UTF-8 boundary with the marker; a template without {content} is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "oracle/oracle.h"

static enum oracle_status rate(const char *text, const char *finish, double *r, size_t *e)
{
	return oracle_parse_rating(text, strlen(text), finish, r, e);
}

static void test_rating(void **state)
{
	double r;
	size_t e;
	assert_int_equal(rate("Clean code.\nRating: [[7]]", "stop", &r, &e), ORACLE_OK);
	assert_true(r == 7 && e == 11);
	/* the last one wins; case, spaces and a decimal part are accepted */
	assert_int_equal(rate("Rating: [[2]] on second thought rating :  [[ 8.5 ]]", "stop", &r, &e),
			 ORACLE_OK);
	assert_true(r == 8.5);
	/* a malformed last marker does not hide a good earlier one */
	assert_int_equal(rate("Rating: [[6]] then Rating: [[six]]", "stop", &r, &e), ORACLE_OK);
	assert_true(r == 6);
	assert_int_equal(rate("Rating: [[12]]", "stop", &r, &e), ORACLE_OUT_OF_RANGE);
	assert_true(r == 12);
	assert_int_equal(rate("Rating: [[-1]]", "stop", &r, &e), ORACLE_OUT_OF_RANGE);
	assert_int_equal(rate("  \n ", "stop", &r, &e), ORACLE_EMPTY);
	assert_int_equal(rate("", "stop", &r, &e), ORACLE_EMPTY);
	assert_int_equal(rate("The code is long and\nRating:", "length", &r, &e), ORACLE_TRUNCATED);
	assert_int_equal(rate("I'm sorry, but I can't help with rating this.", "stop", &r, &e),
			 ORACLE_REFUSED);
	assert_int_equal(rate("Nice code, I give it [[7]]", "stop", &r, &e), ORACLE_UNPARSEABLE);
	assert_int_equal(rate("Score: 7/10", "stop", &r, &e), ORACLE_UNPARSEABLE);
	assert_true(r == -1);
}

/* A response whose content is "ok\nRating: [[R]]" tokenized one character per token, with
 * the digit alternatives given. */
static char *response(const char *rating, const char *alts, const char *next)
{
	char toks[4096] = "";
	const char *content_head = "ok\nRating: [[";
	char content[64];
	snprintf(content, sizeof content, "%s%s]]", content_head, rating);
	for (const char *p = content; *p; p++) {
		char t[8];
		if (*p == '\n')
			strcpy(t, "\\n");
		else
			t[0] = *p, t[1] = 0;
		const char *top = "[]";
		if (p - content == (long)strlen(content_head))
			top = alts;
		else if (p - content == (long)strlen(content_head) + 1 && next)
			top = next;
		snprintf(toks + strlen(toks), sizeof toks - strlen(toks),
			 "%s{\"token\":\"%s\",\"logprob\":-0.1,\"top_logprobs\":%s}", p == content ? "" : ",",
			 t, top);
	}
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	fprintf(f, "{\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		   "\"content\":\"ok\\nRating: [[%s]]\"},\"logprobs\":{\"content\":[%s]},"
		   "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":12,"
		   "\"completion_tokens\":3}}", rating, toks);
	fclose(f);
	return s;
}

static void test_chat_logprobs(void **state)
{
	struct oracle_answer a = {0};
	/* P(7) = 0.5, P(8) = 0.25, P(x) ignored (not a digit), P(3) = 0.25 */
	char *body = response("7", "[{\"token\":\"7\",\"logprob\":-0.6931471805599453},"
				   "{\"token\":\"8\",\"logprob\":-1.3862943611198906},"
				   "{\"token\":\"x\",\"logprob\":-0.5},"
				   "{\"token\":\"3\",\"logprob\":-1.3862943611198906}]", NULL);
	assert_int_equal(oracle_parse_chat(body, strlen(body), &a), 0);
	assert_string_equal(a.content, "ok\nRating: [[7]]");
	assert_string_equal(a.finish, "stop");
	assert_string_equal(a.model, "m");
	assert_int_equal(a.prompt_tokens, 12);
	assert_int_equal(a.completion_tokens, 3);
	assert_true(fabs(a.expected - (0.5 * 7 + 0.25 * 8 + 0.25 * 3)) < 1e-12);
	assert_true(fabs(a.probs[7] - 0.5) < 1e-12);
	free(body);
	/* 10 as "1" "0": the second token's P("0") = 0.8 moves that share of P("1") to 10 */
	body = response("10", "[{\"token\":\"1\",\"logprob\":-0.2231435513142097},"
				"{\"token\":\"9\",\"logprob\":-1.6094379124341003}]",
			"[{\"token\":\"0\",\"logprob\":-0.2231435513142097}]");
	assert_int_equal(oracle_parse_chat(body, strlen(body), &a), 0);
	assert_true(fabs(a.probs[10] - 0.8 * 0.8) < 1e-12);
	assert_true(fabs(a.probs[1] - 0.8 * 0.2) < 1e-12);
	assert_true(fabs(a.probs[9] - 0.2) < 1e-12);
	assert_true(fabs(a.expected - (6.4 + 0.16 + 1.8)) < 1e-12);
	/* the cache's form reads back */
	char *j = oracle_answer_to_json(&a);
	struct oracle_answer b = {0};
	assert_int_equal(oracle_answer_from_json(j, &b), 0);
	assert_string_equal(b.content, a.content);
	assert_true(b.expected == a.expected && b.probs[10] == a.probs[10]);
	assert_int_equal(b.completion_tokens, 3);
	free(j);
	oracle_answer_release(&b);
	free(body);
	/* malformed responses */
	assert_int_equal(oracle_parse_chat("{\"choices\":[]}", 14, &a), -1);
	assert_int_equal(oracle_parse_chat("{\"choices\":[{\"message\":{\"content\":5}}]}", 40, &a), -1);
	assert_int_equal(oracle_parse_chat("{\"choices\":[{\"message\"", 22, &a), -1);
	/* a null content is an empty answer */
	const char *nul = "{\"choices\":[{\"message\":{\"content\":null},\"finish_reason\":\"stop\"}]}";
	assert_int_equal(oracle_parse_chat(nul, strlen(nul), &a), 0);
	assert_string_equal(a.content, "");
	assert_true(a.expected == -1);
	oracle_answer_release(&a);
}

static void test_render(void **state)
{
	struct oracle_template t;
	assert_int_equal(oracle_template_load("code-quality", "auto", &t), 0);
	assert_false(t.web);
	assert_string_equal(t.name, "code-quality");
	oracle_template_release(&t);
	assert_int_equal(oracle_template_load("web-quality", "auto", &t), 0);
	assert_true(t.web);
	oracle_template_release(&t);

	char path[] = "/tmp/test_oracle_XXXXXX";
	int fd = mkstemp(path);
	const char *text = "{language} at {url} ({category}) {x}: {content}|";
	assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	char tpath[64];
	snprintf(tpath, sizeof tpath, "%s.txt", path);
	assert_int_equal(rename(path, tpath), 0);
	assert_int_equal(oracle_template_load(tpath, "web", &t), 0);
	assert_true(t.web);
	struct buf out = BUF_INIT;
	/* "é" is two bytes: a cut inside it keeps "a" only */
	struct oracle_slots s = {"python", "http://x", "blog", "a\xc3\xa9" "bcd", 6};
	oracle_render(&t, &s, 2, "[cut]", &out);
	assert_string_equal(out.p, "python at http://x (blog) {x}: a[cut]|");
	oracle_render(&t, &s, 3, "[cut]", &out);
	assert_string_equal(out.p, "python at http://x (blog) {x}: a\xc3\xa9[cut]|");
	oracle_render(&t, &s, 6, "[cut]", &out);
	assert_string_equal(out.p, "python at http://x (blog) {x}: a\xc3\xa9" "bcd|");
	buf_release(&out);
	oracle_template_release(&t);

	fd = open(tpath, O_WRONLY | O_TRUNC);
	assert_true(write(fd, "no slot", 7) == 7);
	close(fd);
	assert_int_equal(oracle_template_load(tpath, "auto", &t), -1);
	assert_non_null(strstr(err_get(), "no {content} slot"));
	assert_non_null(strstr(err_get(), tpath));
	unlink(tpath);
	assert_int_equal(oracle_template_load("no-such-template", "auto", &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rating),
		cmocka_unit_test(test_chat_logprobs),
		cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The oracle's parsers: the rating in a completion, an OpenAI chat-completions response, and
 * the answer record the cache stores. */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oracle.h"

const char *const oracle_status_names[ORACLE_STATUSES] = {
	"ok", "empty", "truncated", "refused", "unparseable", "out_of_range", "bad_response",
};

void oracle_answer_release(struct oracle_answer *a)
{
	free(a->content);
	free(a->finish);
	free(a->model);
	memset(a, 0, sizeof *a);
	a->expected = a->entropy = -1;
	a->mode = -1;
}

/* The value of the last well-formed "Rating: [[X]]" in s: 1 with *v and the offset of X,
 * 0 when there is none. "Rating" is matched without case; spaces may surround ':' and X. */
static int last_rating(const char *s, size_t n, double *v, size_t *at, size_t *marker)
{
	for (size_t i = n; i-- > 1;) {
		if (s[i - 1] != '[' || s[i] != '[')
			continue;
		size_t j = i - 1; /* s[j] is the first '[' */
		while (j > 0 && (s[j - 1] == ' ' || s[j - 1] == '\t'))
			j--;
		if (j < 7 || s[j - 1] != ':')
			continue;
		size_t k = j - 1;
		while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\t'))
			k--;
		if (k < 6 || strncasecmp(s + k - 6, "rating", 6))
			continue;
		size_t p = i + 1;
		while (p < n && s[p] == ' ')
			p++;
		size_t x = p;
		if (p < n && (s[p] == '-' || s[p] == '+'))
			p++;
		size_t digits = p;
		while (p < n && isdigit((unsigned char)s[p]))
			p++;
		if (p == digits)
			continue;
		if (p + 1 < n && s[p] == '.' && isdigit((unsigned char)s[p + 1]))
			for (p++; p < n && isdigit((unsigned char)s[p]);)
				p++;
		size_t end = p;
		while (p < n && s[p] == ' ')
			p++;
		if (p + 1 >= n || s[p] != ']' || s[p + 1] != ']')
			continue;
		char num[64];
		size_t len = end - x < sizeof num - 1 ? end - x : sizeof num - 1;
		memcpy(num, s + x, len);
		num[len] = 0;
		*v = strtod(num, NULL);
		*at = x;
		*marker = k - 6;
		return 1;
	}
	return 0;
}

static int is_refusal(const char *s, size_t n)
{
	static const char *const phrases[] = {"i'm sorry", "i am sorry", "i cannot", "i can't",
					      "i can not", "i won't", "i will not", "as an ai",
					      "i'm unable", "i am unable", "i’m sorry"};
	size_t lim = n < 240 ? n : 240;
	for (size_t i = 0; i < lim; i++)
		for (size_t k = 0; k < ARRAY_LEN(phrases); k++) {
			size_t pl = strlen(phrases[k]);
			if (i + pl <= n && !strncasecmp(s + i, phrases[k], pl))
				return 1;
		}
	return 0;
}

enum oracle_status oracle_parse_rating(const char *text, size_t len, const char *finish,
				       double *rating, size_t *explain_len)
{
	*rating = -1;
	*explain_len = 0;
	size_t b = 0;
	while (b < len && isspace((unsigned char)text[b]))
		b++;
	if (b == len)
		return ORACLE_EMPTY;
	double v;
	size_t at, marker;
	if (last_rating(text, len, &v, &at, &marker)) {
		size_t e = marker;
		while (e > 0 && isspace((unsigned char)text[e - 1]))
			e--;
		*explain_len = e;
		*rating = v;
		return v >= 0 && v <= 10 ? ORACLE_OK : ORACLE_OUT_OF_RANGE;
	}
	*explain_len = len;
	if (finish && !strcmp(finish, "length"))
		return ORACLE_TRUNCATED;
	if (is_refusal(text + b, len - b))
		return ORACLE_REFUSED;
	return ORACLE_UNPARSEABLE;
}

static char *dup_str(json_t *v) { return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL; }

/* With logprobs: the tokens concatenate to the content; find the token holding the rating's
 * first character and weigh the digit alternatives its top_logprobs offer (renormalized over
 * those). Leaves a->expected at -1 when the tokens do not line up or no digit is offered. */
static void rating_from_logprobs(json_t *lp, struct oracle_answer *a)
{
	json_t *toks = json_object_get(lp, "content");
	const char *text = a->content;
	double v;
	size_t n = text ? strlen(text) : 0, at, marker;
	if (!json_is_array(toks) || !text || !last_rating(text, n, &v, &at, &marker))
		return;
	size_t off = 0, i;
	json_t *tok = NULL;
	for (i = 0; i < json_array_size(toks); i++) {
		tok = json_array_get(toks, i);
		const char *t = json_string_value(json_object_get(tok, "token"));
		if (!t)
			return;
		size_t tl = strlen(t);
		if (off + tl > n || memcmp(text + off, t, tl))
			return; /* the tokens are not the content's bytes */
		if (at >= off && at < off + tl)
			break;
		off += tl;
	}
	if (i == json_array_size(toks))
		return;
	size_t pre = at - off; /* the token's bytes before the rating */
	json_t *top = json_object_get(tok, "top_logprobs");
	double mass = 0, sum = 0, p[11] = {0};
	for (size_t k = 0; k < json_array_size(top); k++) {
		json_t *alt = json_array_get(top, k);
		const char *t = json_string_value(json_object_get(alt, "token"));
		json_t *l = json_object_get(alt, "logprob");
		if (!t || !json_is_number(l) || strlen(t) < pre + 1 || memcmp(t, text + off, pre))
			continue;
		const char *d = t + pre;
		char *end;
		long r = strtol(d, &end, 10);
		if (!isdigit((unsigned char)*d) || *end || r < 0 || r > 10 || (d[0] == '0' && d[1]))
			continue;
		double pr = exp(json_number_value(l));
		p[r] += pr;
		mass += pr;
	}
	if (!(mass > 0))
		return;
	/* a vocabulary of single digits writes 10 as "1" "0": when it did, the next token's
	 * distribution splits P("1") between 10 and 1 (when it wrote another digit, P(10) stays
	 * folded into P(1): what would have followed a "1" is unknown) */
	json_t *next = json_array_get(toks, i + 1);
	const char *nt = json_string_value(json_object_get(next, "token"));
	const char *t = json_string_value(json_object_get(tok, "token"));
	if (p[1] > 0 && nt && !strcmp(nt, "0") && !strcmp(t + pre, "1")) {
		json_t *ntop = json_object_get(next, "top_logprobs");
		double q0 = 0;
		for (size_t k = 0; k < json_array_size(ntop); k++) {
			json_t *alt = json_array_get(ntop, k);
			const char *at0 = json_string_value(json_object_get(alt, "token"));
			if (at0 && !strcmp(at0, "0"))
				q0 = exp(json_number_value(json_object_get(alt, "logprob")));
		}
		p[10] += p[1] * q0;
		p[1] *= 1 - q0;
	}
	for (int r = 0; r <= 10; r++) {
		a->probs[r] = p[r] / mass;
		sum += a->probs[r] * r;
	}
	a->expected = sum;
}

int oracle_parse_chat(const char *body, size_t len, struct oracle_answer *a)
{
	oracle_answer_release(a);
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je);
	if (!j) {
		err_set("the response is not JSON (%s at byte %d)", je.text, je.position);
		return -1;
	}
	json_t *choices = json_object_get(j, "choices");
	json_t *c0 = json_array_get(choices, 0);
	json_t *msg = json_object_get(c0, "message");
	json_t *content = json_object_get(msg, "content");
	int rc = -1;
	if (!json_is_object(c0))
		err_set("the response has no choices[0]");
	else if (!json_is_object(msg))
		err_set("the response has no choices[0].message");
	else if (content && !json_is_string(content) && !json_is_null(content))
		err_set("choices[0].message.content is not a string");
	else
		rc = 0;
	if (rc == 0) {
		a->content = xstrdup(json_is_string(content) ? json_string_value(content) : "");
		a->finish = dup_str(json_object_get(c0, "finish_reason"));
		a->model = dup_str(json_object_get(j, "model"));
		json_t *u = json_object_get(j, "usage");
		json_t *pt = json_object_get(u, "prompt_tokens"), *ct = json_object_get(u, "completion_tokens");
		a->prompt_tokens = json_is_integer(pt) ? json_integer_value(pt) : 0;
		a->completion_tokens = json_is_integer(ct) ? json_integer_value(ct) : 0;
		json_t *lp = json_object_get(c0, "logprobs");
		if (json_is_object(lp))
			rating_from_logprobs(lp, a);
	}
	json_decref(j);
	return rc;
}

char *oracle_answer_to_json(const struct oracle_answer *a)
{
	json_t *j = json_object();
	json_object_set_new(j, "content", a->content ? json_string(a->content) : json_null());
	json_object_set_new(j, "finish", a->finish ? json_string(a->finish) : json_null());
	json_object_set_new(j, "model", a->model ? json_string(a->model) : json_null());
	json_object_set_new(j, "prompt_tokens", json_integer(a->prompt_tokens));
	json_object_set_new(j, "completion_tokens", json_integer(a->completion_tokens));
	json_object_set_new(j, "expected", json_real(a->expected));
	json_object_set_new(j, "mode", json_integer(a->mode));
	json_object_set_new(j, "entropy", json_real(a->entropy));
	json_t *p = json_array();
	for (int i = 0; i <= 10; i++)
		json_array_append_new(p, json_real(a->probs[i]));
	json_object_set_new(j, "probs", p);
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(j);
	if (!s)
		DIE("json_dumps failed");
	return s;
}

static double get_real(json_t *j, const char *key, double def)
{
	json_t *v = json_object_get(j, key);
	return json_is_number(v) ? json_number_value(v) : def;
}

int oracle_answer_from_json(const char *text, struct oracle_answer *a)
{
	oracle_answer_release(a);
	json_t *j = json_loads(text, 0, NULL);
	json_t *p = json_object_get(j, "probs");
	if (!json_is_object(j) || !json_is_array(p) || json_array_size(p) != 11) {
		json_decref(j);
		err_set("a cached answer is not an answer record");
		return -1;
	}
	a->content = dup_str(json_object_get(j, "content"));
	a->finish = dup_str(json_object_get(j, "finish"));
	a->model = dup_str(json_object_get(j, "model"));
	a->prompt_tokens = (int64_t)get_real(j, "prompt_tokens", 0);
	a->completion_tokens = (int64_t)get_real(j, "completion_tokens", 0);
	a->expected = get_real(j, "expected", -1);
	a->mode = (int)get_real(j, "mode", -1);
	a->entropy = get_real(j, "entropy", -1);
	for (int i = 0; i <= 10; i++)
		a->probs[i] = json_number_value(json_array_get(p, (size_t)i));
	json_decref(j);
	return 0;
}

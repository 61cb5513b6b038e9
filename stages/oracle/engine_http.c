/* The oracle's `http` engine: any server that speaks OpenAI's chat completions (vLLM, SGLang,
 * llama.cpp's server, TGI, OpenAI). Each rank talks to one base URL of oracle.base_url
 * (rank modulo their count), with oracle.concurrency requests in flight through the shared
 * HTTP client (pipeline/http.c). The API key is read from the environment variable that
 * oracle.api_key_env names and only ever goes into the Authorization header. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "oracle.h"

struct http_engine {
	struct oracle_engine e; /* first: the stage sees this */
	struct http_client *client;
	char *url; /* {base_url}/chat/completions */
	char *model;
	double temperature;
	int64_t max_tokens, seed, top_logprobs;
	bool logprobs;
	/* while answering */
	struct oracle_cache *cache;
	struct stats *st;
	uint64_t retries_shown; /* on the progress line so far */
};

struct ask {
	struct http_request r;
	struct oracle_item *item;
	char *body;
};

static void http_free(struct oracle_engine *oe)
{
	struct http_engine *h = (struct http_engine *)oe;
	http_client_free(h->client);
	buf_release(&h->e.identity);
	free(h->url), free(h->model);
	free(h);
}

static char *request_body(const struct http_engine *h, const struct oracle_item *it)
{
	json_t *msg = json_pack("{s:s,s:s%}", "role", "user", "content", it->prompt, it->prompt_len);
	json_t *j = json_pack("{s:s,s:[o],s:f,s:I}", "model", h->model, "messages", msg,
			      "temperature", h->temperature, "max_tokens", (json_int_t)h->max_tokens);
	if (h->seed >= 0)
		json_object_set_new(j, "seed", json_integer(h->seed));
	if (h->logprobs) {
		json_object_set_new(j, "logprobs", json_true());
		json_object_set_new(j, "top_logprobs", json_integer(h->top_logprobs));
	}
	char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		DIE("json_dumps failed");
	return s;
}

/* A final response for one question. */
static int on_answer(struct http_request *r, void *ud)
{
	struct http_engine *h = ud;
	struct ask *q = r->user;
	struct buf why = BUF_INIT;
	if (r->status == 200) {
		if (oracle_parse_chat(r->response.p ? r->response.p : "", r->response.len,
				      &q->item->a) == 0) {
			const struct oracle_answer *a = &q->item->a;
			uint64_t retries = 0;
			for (int c = 0; c < HTTP_CAUSES; c++)
				retries += http_retries(h->client, c);
			progress_add_extra(h->e.progress, 0, (uint64_t)a->prompt_tokens);
			progress_add_extra(h->e.progress, 1, (uint64_t)a->completion_tokens);
			progress_add_extra(h->e.progress, 2, retries - h->retries_shown);
			h->retries_shown = retries;
			progress_add(h->e.progress, 1, q->item->prompt_len);
			stats_count(h->st, "answered", 1);
			stats_count(h->st, "prompt_tokens", (uint64_t)q->item->a.prompt_tokens);
			stats_count(h->st, "completion_tokens",
				    (uint64_t)q->item->a.completion_tokens);
			if (oracle_cache_put(h->cache, q->item->key, &q->item->a) < 0)
				return -1;
			return HTTP_DONE;
		}
		if (!r->exhausted)
			return HTTP_AGAIN;
		http_describe(r, &why);
		log_warn("oracle: %s: not a chat completion after %d attempts (%s); the document "
			 "is kept under bad_response", why.p, r->attempts, err_get());
		buf_release(&why);
		q->item->failed = ORACLE_BAD_RESPONSE;
		return HTTP_DONE;
	}
	http_describe(r, &why);
	if (r->status == 0 || r->status == 429 || r->status >= 500)
		err_set("the oracle server keeps failing (%d attempts): %s", r->attempts, why.p);
	else
		err_set("the oracle server refused the request: %s", why.p);
	buf_release(&why);
	return -1;
}

static int http_answer(struct oracle_engine *oe, struct oracle_item *const *items, size_t n,
		       struct oracle_cache *cache, struct stats *st)
{
	struct http_engine *h = (struct http_engine *)oe;
	h->cache = cache, h->st = st;
	struct ask *qs = xcalloc(n + 1, sizeof *qs);
	struct http_request **rs = xcalloc(n + 1, sizeof *rs);
	for (size_t i = 0; i < n; i++) {
		qs[i].item = items[i];
		qs[i].body = request_body(h, items[i]);
		qs[i].r.url = h->url;
		qs[i].r.body = qs[i].body;
		qs[i].r.body_len = strlen(qs[i].body);
		qs[i].r.user = &qs[i];
		rs[i] = &qs[i].r;
	}
	uint64_t before[HTTP_CAUSES];
	for (int c = 0; c < HTTP_CAUSES; c++)
		before[c] = http_retries(h->client, c);
	uint64_t sent = http_attempts(h->client);
	int rc = http_run(h->client, rs, n, on_answer, h);
	stats_count(st, "requests", http_attempts(h->client) - sent);
	for (int c = 0; c < HTTP_CAUSES; c++) {
		char name[64];
		snprintf(name, sizeof name, "retries_%s", http_cause_names[c]);
		if (http_retries(h->client, c) > before[c])
			stats_count(st, name, http_retries(h->client, c) - before[c]);
	}
	double wait = 0;
	for (size_t i = 0; i < n; i++)
		wait += qs[i].r.wait_s;
	if (wait > 0)
		stats_count(st, "retry_wait_ms", (uint64_t)(wait * 1000));
	for (size_t i = 0; i < n; i++) {
		buf_release(&qs[i].r.response);
		free(qs[i].body);
	}
	free(qs), free(rs);
	return rc;
}

/* GET {base}/models: the server is there, the key is good, and it serves the model. A server
 * without the endpoint (404, 405) is let through; the first chat request will tell. */
static int check_server(struct http_engine *h, const char *base)
{
	struct http_request r = {0};
	char *url = xasprintf("%s/models", base);
	r.url = url;
	struct http_request *rs[] = {&r};
	http_run(h->client, rs, 1, NULL, NULL);
	struct buf why = BUF_INIT;
	http_describe(&r, &why);
	int rc = -1;
	if (r.status == 404 || r.status == 405) {
		log_warn("oracle: %s has no model list (HTTP %ld); the model name is not checked",
			 url, r.status);
		rc = 0;
	} else if (r.status == 0 || r.status == 429 || r.status >= 500) {
		err_set("the oracle server is unreachable (%d attempts): %s", r.attempts, why.p);
	} else if (r.status != 200) {
		err_set("the oracle server refused the request: %s", why.p);
	} else {
		json_t *j = json_loadb(r.response.p ? r.response.p : "", r.response.len, 0, NULL);
		json_t *data = json_object_get(j, "data");
		struct buf names = BUF_INIT;
		for (size_t i = 0; i < json_array_size(data) && rc < 0; i++) {
			const char *id = json_string_value(json_object_get(json_array_get(data, i), "id"));
			if (id && !strcmp(id, h->model))
				rc = 0;
			else if (id)
				buf_printf(&names, "%s%s", names.len ? ", " : "", id);
		}
		if (!json_is_array(data))
			err_set("%s: the model list is not {\"data\": [...]}: %s", url, why.p);
		else if (rc < 0)
			err_set("%s: the server does not serve the model \"%s\" (oracle.model); it "
				"serves: %s", url, h->model, names.len ? names.p : "nothing");
		buf_release(&names);
		json_decref(j);
	}
	buf_release(&why);
	buf_release(&r.response);
	free(url);
	return rc;
}

struct oracle_engine *oracle_http_new(const struct config *cfg, int rank)
{
	const char *const *urls;
	size_t nurls = config_list(cfg, "oracle.base_url", &urls);
	const char *model = config_str(cfg, "oracle.model");
	if (!nurls) {
		err_set("oracle.base_url is empty: name the OpenAI-compatible server(s), e.g. "
			"[http://gpu-node-1:8000/v1]");
		return NULL;
	}
	if (!*model) {
		err_set("oracle.model is empty: name the model the server serves");
		return NULL;
	}
	const char *base = urls[rank % (int)nurls];
	size_t bl = strlen(base);
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	char *trimmed = xstrndup(base, bl);
	const char *key_env = config_str(cfg, "oracle.api_key_env");
	char *auth = NULL;
	if (*key_env) {
		const char *key = getenv(key_env);
		if (!key || !*key) {
			err_set("oracle.api_key_env names the environment variable %s, which is not "
				"set", key_env);
			free(trimmed);
			return NULL;
		}
		auth = xasprintf("Authorization: Bearer %s", key);
	}
	struct http_policy p = {
		.concurrency = (int)config_int(cfg, "oracle.concurrency"),
		.timeout_s = config_float(cfg, "oracle.timeout"),
		.connect_timeout_s = 30,
		.retries = (int)config_int(cfg, "oracle.retries"),
		.backoff_s = config_float(cfg, "oracle.backoff"),
		.backoff_max_s = config_float(cfg, "oracle.backoff_max"),
		.seed = (uint64_t)rank,
	};
	if (p.connect_timeout_s > p.timeout_s)
		p.connect_timeout_s = p.timeout_s;
	const char *headers[] = {auth, NULL};
	struct http_engine *h = xcalloc(1, sizeof *h);
	h->e.name = "http";
	h->e.answer = http_answer;
	h->e.free = http_free;
	h->client = http_client_new(&p, auth ? headers : NULL);
	if (auth) {
		memset(auth, 0, strlen(auth));
		free(auth);
	}
	h->url = xasprintf("%s/chat/completions", trimmed);
	h->model = xstrdup(model);
	h->temperature = config_float(cfg, "oracle.temperature");
	h->max_tokens = config_int(cfg, "oracle.max_tokens");
	h->seed = config_int(cfg, "oracle.request_seed");
	h->logprobs = config_bool(cfg, "oracle.logprobs");
	h->top_logprobs = config_int(cfg, "oracle.top_logprobs");
	/* what defines an answer: never the URL (ranks spread over servers of one model) */
	buf_printf(&h->e.identity, "http\nmodel=%s\ntemperature=%.17g\nmax_tokens=%lld\n", h->model,
		   h->temperature, (long long)h->max_tokens);
	if (h->seed >= 0)
		buf_printf(&h->e.identity, "seed=%lld\n", (long long)h->seed);
	if (h->logprobs)
		buf_printf(&h->e.identity, "top_logprobs=%lld\n", (long long)h->top_logprobs);
	int rc = check_server(h, trimmed);
	free(trimmed);
	if (rc < 0) {
		http_free(&h->e);
		return NULL;
	}
	return &h->e;
}

/* http: libcurl multi on one thread; see http.h. A request is queued, then in flight in one of
 * `concurrency` slots (an easy handle each, reused, so connections stay open), then waiting
 * for a retry (not_before), or final. */
#include "http.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const http_cause_names[HTTP_CAUSES] = {"connection", "timeout", "429", "5xx",
						   "bad_response"};

/* a response larger than this is not an answer of any server we talk to */
#define HTTP_MAX_RESPONSE ((size_t)256 << 20)

enum { ST_QUEUED, ST_FLYING, ST_WAITING, ST_FINAL };

struct slot {
	CURL *easy;
	struct http_request *r; /* NULL when free */
};

struct http_client {
	struct http_policy p;
	CURLM *multi;
	struct curl_slist *headers;
	struct slot *slots;
	uint64_t rng;
	uint64_t retries[HTTP_CAUSES], attempts;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		DIE("curl_global_init failed");
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct http_request *r = ud;
	size_t len = size * n;
	if (r->response.len + len > HTTP_MAX_RESPONSE)
		return 0; /* libcurl fails the transfer with CURLE_WRITE_ERROR */
	buf_append(&r->response, data, len);
	return len;
}

struct http_client *http_client_new(const struct http_policy *p, const char *const *headers)
{
	pthread_once(&curl_once, curl_init_once);
	struct http_client *c = xcalloc(1, sizeof *c);
	c->p = *p;
	if (c->p.concurrency < 1)
		c->p.concurrency = 1;
	c->rng = p->seed ^ 0x9e3779b97f4a7c15ull;
	c->multi = curl_multi_init();
	if (!c->multi)
		DIE("curl_multi_init failed");
	curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->p.concurrency);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->p.concurrency);
	c->headers = curl_slist_append(NULL, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, "Expect:"); /* no 100-continue round trip */
	for (size_t i = 0; headers && headers[i]; i++)
		c->headers = curl_slist_append(c->headers, headers[i]);
	c->slots = xcalloc((size_t)c->p.concurrency, sizeof *c->slots);
	for (int i = 0; i < c->p.concurrency; i++) {
		CURL *e = curl_easy_init();
		if (!e)
			DIE("curl_easy_init failed");
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(c->p.timeout_s * 1000));
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->p.connect_timeout_s * 1000));
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* whatever libcurl can decode */
		curl_easy_setopt(e, CURLOPT_USERAGENT, "curate");
		curl_easy_setopt(e, CURLOPT_PRIVATE, &c->slots[i]);
		c->slots[i].easy = e;
	}
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->p.concurrency; i++) {
		if (c->slots[i].r)
			curl_multi_remove_handle(c->multi, c->slots[i].easy);
		curl_easy_cleanup(c->slots[i].easy);
	}
	curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->headers);
	free(c->slots);
	free(c);
}

uint64_t http_retries(const struct http_client *c, enum http_cause cause)
{
	return c->retries[cause];
}

uint64_t http_attempts(const struct http_client *c) { return c->attempts; }

void http_describe(const struct http_request *r, struct buf *out)
{
	buf_printf(out, "%s: ", r->url);
	if (!r->status) {
		buf_puts(out, r->error[0] ? r->error : "no response");
		return;
	}
	buf_printf(out, "HTTP %ld", r->status);
	size_t n = r->response.len < 300 ? r->response.len : 300;
	if (n) {
		buf_puts(out, ": ");
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)r->response.p[i];
			buf_putc(out, ch == '\n' || ch == '\r' ? ' ' : (char)ch);
		}
		if (n < r->response.len)
			buf_puts(out, "...");
	}
}

/* splitmix64, uniform in [0, 1) */
static double jitter(struct http_client *c)
{
	uint64_t z = (c->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* The wait before attempt r->attempts + 1: Retry-After when the server sent one, else
 * backoff * 2^(retry-1), capped, scaled by a jitter in [0.5, 1). */
static double retry_delay(struct http_client *c, const struct http_request *r, long retry_after)
{
	if (retry_after > 0)
		return (double)retry_after;
	double d = c->p.backoff_s * ldexp(1.0, r->attempts - 1);
	if (d > c->p.backoff_max_s)
		d = c->p.backoff_max_s;
	return d * (0.5 + 0.5 * jitter(c));
}

static void start(struct http_client *c, struct slot *s, struct http_request *r)
{
	CURL *e = s->easy;
	buf_reset(&r->response);
	r->error[0] = 0;
	r->status = 0;
	r->attempts++;
	r->state = ST_FLYING;
	c->attempts++;
	s->r = r;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->error);
	if (r->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	}
	CURLMcode mc = curl_multi_add_handle(c->multi, e);
	if (mc != CURLM_OK)
		DIE("curl_multi_add_handle: %s", curl_multi_strerror(mc));
}

/* An attempt ended: retry it, or hand it to the callback. Returns what the callback said,
 * or HTTP_AGAIN for a retry scheduled here. */
static int finish(struct http_client *c, struct http_request *r, CURLcode res, long retry_after,
		  http_done_fn done, void *ud)
{
	int cause = -1;
	if (res == CURLE_OPERATION_TIMEDOUT)
		cause = HTTP_CAUSE_TIMEOUT;
	else if (res != CURLE_OK)
		cause = HTTP_CAUSE_CONNECTION;
	else if (r->status == 429)
		cause = HTTP_CAUSE_429;
	else if (r->status >= 500)
		cause = HTTP_CAUSE_5XX;
	if (res != CURLE_OK) {
		r->status = 0;
		if (!r->error[0])
			snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(res));
	}
	r->exhausted = r->attempts > c->p.retries;
	int rc;
	if (cause >= 0 && !r->exhausted)
		rc = HTTP_AGAIN;
	else if ((rc = done(r, ud)) == HTTP_AGAIN && !r->exhausted)
		cause = HTTP_CAUSE_BODY;
	else if (rc == HTTP_AGAIN)
		rc = HTTP_DONE;
	if (rc == HTTP_AGAIN) {
		c->retries[cause]++;
		double d = retry_delay(c, r, retry_after);
		r->wait_s += d;
		r->not_before = now_seconds() + d;
		r->state = ST_WAITING;
	} else if (rc == HTTP_DONE) {
		r->state = ST_FINAL;
	}
	return rc;
}

static void abandon(struct http_client *c)
{
	for (int i = 0; i < c->p.concurrency; i++)
		if (c->slots[i].r) {
			curl_multi_remove_handle(c->multi, c->slots[i].easy);
			c->slots[i].r = NULL;
		}
}

int http_run(struct http_client *c, struct http_request *const *reqs, size_t n, http_done_fn done,
	     void *ud)
{
	size_t next = 0, final = 0, flying = 0;
	for (size_t i = 0; i < n; i++) {
		reqs[i]->state = ST_QUEUED;
		reqs[i]->attempts = 0;
		reqs[i]->wait_s = 0;
		buf_reset(&reqs[i]->response);
	}
	/* requests waiting for a retry, in the order they began to wait */
	struct http_request **waiting = xmalloc((n + 1) * sizeof *waiting);
	size_t nwait = 0;
	int rc = 0;
	while (final < n) {
		double now = now_seconds();
		/* fill the free slots: due retries first, then new requests */
		for (int i = 0; i < c->p.concurrency && flying < (size_t)c->p.concurrency; i++) {
			if (c->slots[i].r)
				continue;
			struct http_request *r = NULL;
			for (size_t w = 0; w < nwait; w++)
				if (waiting[w]->not_before <= now) {
					r = waiting[w];
					memmove(waiting + w, waiting + w + 1,
						(nwait - w - 1) * sizeof *waiting);
					nwait--;
					break;
				}
			if (!r && next < n)
				r = reqs[next++];
			if (!r)
				break;
			start(c, &c->slots[i], r);
			flying++;
		}
		int running;
		curl_multi_perform(c->multi, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(c->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *s;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			struct http_request *r = s->r;
			CURLcode res = msg->data.result;
			curl_off_t ra = 0;
			curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &r->status);
			curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &ra);
			curl_multi_remove_handle(c->multi, s->easy);
			s->r = NULL;
			flying--;
			int f = finish(c, r, res, (long)ra, done, ud);
			if (f < 0) {
				rc = -1;
				break;
			}
			if (f == HTTP_AGAIN)
				waiting[nwait++] = r;
			else
				final++;
		}
		if (rc < 0)
			break;
		if (final == n)
			break;
		/* sleep until a socket is ready, a retry is due, or libcurl's own timers fire */
		double soonest = -1;
		for (size_t w = 0; w < nwait; w++)
			if (soonest < 0 || waiting[w]->not_before < soonest)
				soonest = waiting[w]->not_before;
		long ms = 1000;
		if (soonest >= 0) {
			double until = soonest - now_seconds();
			ms = until <= 0 ? 0 : (long)(until * 1000) + 1;
			if (ms > 1000)
				ms = 1000;
		}
		if (next < n && flying < (size_t)c->p.concurrency)
			ms = 0;
		if (flying)
			curl_multi_poll(c->multi, NULL, 0, (int)ms, NULL);
		else if (ms > 0)
			nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
	}
	if (rc < 0)
		abandon(c);
	free(waiting);
	return rc;
}

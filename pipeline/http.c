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
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

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

/* The wait before retry number `retry` (1, 2, ...): Retry-After when the server sent one,
 * else base * 2^(retry-1), capped, scaled by a jitter in [0.5, 1) from a splitmix64 stream. */
static double backoff_delay(double base, double max, int retry, uint64_t *rng, long retry_after)
{
	if (retry_after > 0)
		return (double)retry_after;
	double d = base * ldexp(1.0, retry - 1);
	if (d > max)
		d = max;
	uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return d * (0.5 + 0.5 * (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0);
}

static void sleep_for(double d)
{
	nanosleep(&(struct timespec){(time_t)d, (long)((d - (time_t)d) * 1e9)}, NULL);
}

/* Content-Length, ETag and Last-Modified of the last response on e. */
static void response_headers(CURL *e, int64_t *length, char *etag, size_t etag_len, char *lm,
			     size_t lm_len)
{
	curl_off_t cl = -1;
	curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	*length = cl;
	struct curl_header *h;
	etag[0] = lm[0] = 0;
	if (curl_easy_header(e, "ETag", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		snprintf(etag, etag_len, "%s", h->value);
	if (curl_easy_header(e, "Last-Modified", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		snprintf(lm, lm_len, "%s", h->value);
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
	curl_easy_setopt(e, CURLOPT_NOBODY, r->head ? 1L : 0L);
	http_rate_wait(r->url, c->p.max_rps);
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
	else if ((rc = done ? done(r, ud) : HTTP_DONE) == HTTP_AGAIN && !r->exhausted)
		cause = HTTP_CAUSE_BODY;
	else if (rc == HTTP_AGAIN)
		rc = HTTP_DONE;
	if (rc == HTTP_AGAIN) {
		c->retries[cause]++;
		double d = backoff_delay(c->p.backoff_s, c->p.backoff_max_s, r->attempts, &c->rng,
					 retry_after);
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
			response_headers(s->easy, &r->length, r->etag, sizeof r->etag,
					 r->last_modified, sizeof r->last_modified);
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
			sleep_for((double)ms / 1000);
	}
	if (rc < 0)
		abandon(c);
	free(waiting);
	return rc;
}

/* ---- per-host request rate (one process) ---- */

static struct host_rate {
	char host[256];
	double last;
} rates[64];
static size_t nrates;
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;

void http_rate_wait(const char *url, double max_rps)
{
	if (max_rps <= 0)
		return;
	char host[256] = "";
	CURLU *u = curl_url();
	char *h = NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
		snprintf(host, sizeof host, "%s", h);
	curl_free(h);
	curl_url_cleanup(u);
	pthread_mutex_lock(&rate_lock);
	size_t i = 0;
	while (i < nrates && strcmp(rates[i].host, host))
		i++;
	if (i == nrates) {
		if (nrates == ARRAY_LEN(rates))
			i = 0; /* more hosts than slots: share the first */
		else
			nrates++;
		snprintf(rates[i].host, sizeof rates[i].host, "%s", host);
		rates[i].last = -1e9;
	}
	double now = now_seconds(), next = rates[i].last + 1.0 / max_rps;
	rates[i].last = next > now ? next : now;
	pthread_mutex_unlock(&rate_lock);
	if (next > now)
		sleep_for(next - now);
}

/* ---- HEAD of many URLs ---- */


int http_head_all(const struct http_policy *p, const char *const *urls, size_t n,
		  struct http_head *out)
{
	struct http_client *c = http_client_new(p, NULL);
	struct http_request *rq = xcalloc(n + 1, sizeof *rq), **rs = xcalloc(n + 1, sizeof *rs);
	for (size_t i = 0; i < n; i++) {
		rq[i].url = urls[i];
		rq[i].head = 1;
		rs[i] = &rq[i];
	}
	int rc = http_run(c, rs, n, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		out[i].status = rq[i].status;
		out[i].length = rq[i].status ? rq[i].length : -1;
		snprintf(out[i].etag, sizeof out[i].etag, "%s", rq[i].etag);
		snprintf(out[i].last_modified, sizeof out[i].last_modified, "%s", rq[i].last_modified);
		snprintf(out[i].error, sizeof out[i].error, "%s", rq[i].error);
		buf_release(&rq[i].response);
	}
	free(rq), free(rs);
	http_client_free(c);
	return rc;
}

/* ---- streams ---- */

/* One process-wide share of connections, so that the files of a shard reuse them. */
static CURLSH *share;
static pthread_once_t share_once = PTHREAD_ONCE_INIT;
static void share_init(void)
{
	share = curl_share_init();
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

struct stream {
	struct http_stream pub;
	struct http_stream_opts o;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *hdrs;
	struct buf in;       /* received, not yet read */
	size_t off;          /* read so far of in */
	uint64_t skip;       /* bytes of a restarted 200 to drop (already delivered) */
	uint64_t at_start;   /* received when the attempt began */
	int flying, done, failed, fails;
	long status;
	struct buf errbody;  /* the body of a non-2xx response */
	FILE *cache;
	char *cache_tmp;
	uint64_t rng;
};

static int stream_fail(struct stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static size_t stream_body(char *data, size_t size, size_t n, void *ud)
{
	struct stream *s = ud;
	size_t len = size * n;
	if (!s->status) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
		if (s->status == 200 || s->status == 206) {
			int64_t cl;
			char etag[128], lm[64];
			response_headers(s->easy, &cl, etag, sizeof etag, lm, sizeof lm);
			if (s->pub.length < 0 && s->pub.received == 0 && !s->skip) {
				/* the first response: what the file is */
				s->pub.length = s->status == 200 ? cl : -1;
				snprintf(s->pub.etag, sizeof s->pub.etag, "%s", etag);
				snprintf(s->pub.last_modified, sizeof s->pub.last_modified, "%s", lm);
			} else if ((*etag && *s->pub.etag && strcmp(etag, s->pub.etag)) ||
				   (*lm && *s->pub.last_modified && strcmp(lm, s->pub.last_modified))) {
				/* (a header a later response leaves out proves nothing) */
				stream_fail(s, "the file changed while it was read (ETag or "
					    "Last-Modified differs)");
				return 0; /* stops the transfer */
			}
		}
	}
	if (s->status != 200 && s->status != 206) {
		if (s->errbody.len < 1024)
			buf_append(&s->errbody, data, len < 1024 ? len : 1024);
		return len;
	}
	size_t k = 0;
	if (s->skip) { /* a server that ignored the Range: drop what was delivered before */
		k = s->skip < len ? (size_t)s->skip : len;
		s->skip -= k;
	}
	if (k < len) {
		buf_append(&s->in, data + k, len - k);
		if (s->cache && fwrite(data + k, 1, len - k, s->cache) != len - k) {
			fclose(s->cache); /* the cache is a convenience: reading goes on */
			s->cache = NULL;
		}
		s->pub.received += len - k;
	}
	return len;
}

static int stream_fail(struct stream *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_reset(&s->pub.error);
	buf_printf(&s->pub.error, "%s: ", s->pub.url);
	buf_vprintf(&s->pub.error, fmt, ap);
	va_end(ap);
	s->failed = s->done = 1;
	return -1;
}

static void stream_start(struct stream *s)
{
	CURL *e = s->easy;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, s->pub.url);
	curl_easy_setopt(e, CURLOPT_SHARE, share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "curate (+https://github.com/curate; crawl-web)");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, stream_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(s->o.connect_timeout_s * 1000));
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(s->o.stall_s > 1 ? s->o.stall_s : 1));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	if (s->pub.received && !s->skip) {
		/* resume; If-Range makes a changed file come back whole (a 200), which is caught */
		curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->pub.received);
		const char *v = s->pub.etag[0] ? s->pub.etag : s->pub.last_modified;
		if (*v) {
			char *h = xasprintf("If-Range: %s", v);
			s->hdrs = curl_slist_append(s->hdrs, h);
			free(h);
		}
		s->pub.resumes++;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->hdrs);
	s->status = 0;
	s->at_start = s->pub.received;
	buf_reset(&s->errbody);
	http_rate_wait(s->pub.url, s->o.max_rps);
	curl_multi_add_handle(s->multi, e);
	s->flying = 1;
}

/* An attempt ended: done, retry (after a wait), or failed for good. */
static void stream_ended(struct stream *s, CURLcode res)
{
	uint64_t before = s->at_start;
	curl_off_t ra = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &ra);
	if (!s->status)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->failed)
		return; /* the body callback gave up (a changed file) */
	int whole = s->pub.length < 0 || (int64_t)s->pub.received == s->pub.length;
	if (res == CURLE_OK && (s->status == 200 || s->status == 206) && whole) {
		s->done = 1;
		return;
	}
	if (res == CURLE_OK && s->status != 200 && s->status != 206 && s->status != 429 &&
	    s->status < 500) {
		/* the server's message on one line */
		for (size_t i = 0; i < s->errbody.len; i++)
			if ((unsigned char)s->errbody.p[i] < 0x20)
				s->errbody.p[i] = ' ';
		while (s->errbody.len && s->errbody.p[s->errbody.len - 1] == ' ')
			s->errbody.p[--s->errbody.len] = 0;
		stream_fail(s, "HTTP %ld%s%.*s", s->status, s->errbody.len ? ": " : "",
			    (int)(s->errbody.len < 200 ? s->errbody.len : 200),
			    s->errbody.p ? s->errbody.p : "");
		return;
	}
	if (res == CURLE_RANGE_ERROR) {
		/* the server ignored the Range (libcurl stops before the body): read the file
		 * from the start, dropping the bytes already delivered */
		s->skip = s->pub.received;
	}
	s->fails = s->pub.received > before ? 1 : s->fails + 1;
	if (s->fails > s->o.retries) {
		s->pub.truncated = res == CURLE_PARTIAL_FILE && s->pub.received > 0;
		if (s->pub.truncated)
			stream_fail(s, "truncated: the body ended at byte %llu of %lld, %d times in a "
				    "row", (unsigned long long)s->pub.received,
				    (long long)s->pub.length, s->fails);
		else if (res != CURLE_OK)
			stream_fail(s, "%s (after %d attempts)", curl_easy_strerror(res), s->fails);
		else
			stream_fail(s, "HTTP %ld (after %d attempts)", s->status, s->fails);
		return;
	}
	s->pub.retries++;
	double d = backoff_delay(s->o.backoff_s, s->o.backoff_max_s, s->fails, &s->rng, (long)ra);
	s->pub.wait_s += d;
	sleep_for(d);
	stream_start(s);
}

/* Runs the transfer until bytes arrive or it ends. */
static void stream_pump(struct stream *s)
{
	size_t had = s->in.len;
	while (!s->done && s->in.len == had) {
		int running;
		curl_multi_perform(s->multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(s->multi, &left))) {
			if (m->msg != CURLMSG_DONE)
				continue;
			CURLcode res = m->data.result;
			curl_multi_remove_handle(s->multi, s->easy);
			s->flying = 0;
			stream_ended(s, res);
		}
		if (!s->done && s->in.len == had)
			curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
	}
}

static ssize_t stream_read(void *cookie, char *out, size_t size)
{
	struct stream *s = cookie;
	while (s->off == s->in.len) {
		buf_reset(&s->in);
		s->off = 0;
		if (s->done) {
			if (s->failed) {
				errno = EIO;
				return -1;
			}
			return 0;
		}
		stream_pump(s);
	}
	size_t n = s->in.len - s->off < size ? s->in.len - s->off : size;
	memcpy(out, s->in.p + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static int stream_cookie_close(void *cookie) { return 0; }

struct http_stream *http_stream_open(const char *url, const struct http_stream_opts *o)
{
	pthread_once(&curl_once, curl_init_once);
	pthread_once(&share_once, share_init);
	struct stream *s = xcalloc(1, sizeof *s);
	s->o = *o;
	s->pub.url = xstrdup(url);
	s->pub.length = -1;
	s->pub.priv = s;
	s->rng = (uint64_t)(uintptr_t)s;
	s->multi = curl_multi_init();
	s->easy = curl_easy_init();
	if (!s->multi || !s->easy)
		DIE("libcurl: out of memory");
	if (o->cache_path) {
		s->cache_tmp = xasprintf("%s.part.%d", o->cache_path, (int)getpid());
		s->cache = fopen(s->cache_tmp, "wb");
	}
	stream_start(s);
	stream_pump(s); /* the first bytes, or the reason there are none */
	if (s->failed && s->pub.received == 0) {
		err_set("%s", s->pub.error.p);
		http_stream_close(&s->pub);
		return NULL;
	}
	s->pub.f = fopencookie(s, "rb", (cookie_io_functions_t){stream_read, NULL, NULL,
								 stream_cookie_close});
	if (!s->pub.f)
		DIE("fopencookie failed");
	return &s->pub;
}

void http_stream_close(struct http_stream *hs)
{
	if (!hs)
		return;
	struct stream *s = hs->priv;
	if (hs->f)
		fclose(hs->f);
	if (s->flying)
		curl_multi_remove_handle(s->multi, s->easy);
	curl_easy_cleanup(s->easy);
	curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->hdrs);
	if (s->cache) {
		int closed = fclose(s->cache) == 0; /* always: an unfinished copy too */
		int whole = s->done && !s->failed && closed;
		if (whole && rename(s->cache_tmp, s->o.cache_path) < 0)
			whole = 0;
		if (!whole)
			unlink(s->cache_tmp);
	} else if (s->cache_tmp) {
		unlink(s->cache_tmp);
	}
	free(s->cache_tmp);
	buf_release(&s->in);
	buf_release(&s->errbody);
	buf_release(&hs->error);
	free(hs->url);
	free(s);
}

/* http: the HTTP client curate's networked parts share (the oracle's OpenAI-compatible engine;
 * remote inputs later). One thread drives libcurl's multi interface: up to `concurrency`
 * requests in flight over reused keep-alive connections, a timeout per attempt, and retries
 * with exponential backoff and jitter on connection errors, timeouts, 429 and 5xx, honouring
 * Retry-After. A callback sees each request once it is final, and may ask for one more attempt
 * (a 200 whose body is unusable). Headers given to the client (an API key) never appear in
 * anything this module writes: messages name the URL and the server's status and body. */
#ifndef CURATE_HTTP_H
#define CURATE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Why an attempt was retried. */
enum http_cause {
	HTTP_CAUSE_CONNECTION, /* refused, reset, closed mid-body, DNS */
	HTTP_CAUSE_TIMEOUT,
	HTTP_CAUSE_429,
	HTTP_CAUSE_5XX,
	HTTP_CAUSE_BODY, /* the callback asked again: a response it could not use */
	HTTP_CAUSES
};
extern const char *const http_cause_names[HTTP_CAUSES]; /* "connection", "timeout", ... */

struct http_policy {
	int concurrency;       /* requests in flight, at least 1 */
	double timeout_s;      /* one attempt, connect to last byte */
	double connect_timeout_s;
	int retries;           /* attempts after the first for a retryable failure */
	double backoff_s;      /* the first retry waits about this long, doubling after */
	double backoff_max_s;  /* the cap of the doubling (Retry-After is honoured beyond it) */
	uint64_t seed;         /* of the jitter */
};

struct http_request {
	/* set by the caller */
	const char *url;
	const char *body; /* POSTed as application/json when not NULL, else a GET */
	size_t body_len;
	void *user;
	/* valid in the callback */
	long status;       /* HTTP status of the last attempt, 0 when no response came */
	char error[256];   /* libcurl's message when status is 0 */
	struct buf response;
	int attempts;      /* made so far, the last one included */
	int exhausted;     /* no attempt is left: asking again finishes the request instead */
	double wait_s;     /* seconds spent waiting for retries */
	/* the client's */
	double not_before;
	int state;
};

/* A client with the policy p and the extra headers (NULL-terminated, may be NULL) sent with
 * every request; the client copies them. Never NULL. */
struct http_client *http_client_new(const struct http_policy *p, const char *const *headers);
void http_client_free(struct http_client *c); /* NULL is a no-op */

#define HTTP_DONE 0
#define HTTP_AGAIN 1
/* Called once per request when it is final: a response that is not retryable, or the last
 * failure of a retryable one (r->exhausted set). HTTP_DONE finishes it; HTTP_AGAIN asks for
 * another attempt (a 200 with an unusable body; finishes it when r->exhausted); -1 stops
 * http_run at once, abandoning the requests in flight. */
typedef int (*http_done_fn)(struct http_request *r, void *ud);

/* Runs the n requests to completion, in order of starting, at most `concurrency` at a time.
 * Each request's response is reset first. 0, or -1 when a callback returned -1. */
int http_run(struct http_client *c, struct http_request *const *reqs, size_t n, http_done_fn done,
	     void *ud);

/* Retries made since the client was created, by cause; and the requests started. */
uint64_t http_retries(const struct http_client *c, enum http_cause cause);
uint64_t http_attempts(const struct http_client *c);

/* The request's failure as one line: "URL: HTTP 404: <body, first 300 bytes>" or
 * "URL: <libcurl's message>", into out. */
void http_describe(const struct http_request *r, struct buf *out);

#endif

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
#include <stdio.h>

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
	double max_rps;        /* requests per second to one host (http_rate_wait); 0: no cap */
};

struct http_request {
	/* set by the caller */
	const char *url;
	const char *body; /* POSTed as application/json when not NULL, else a GET */
	size_t body_len;
	int head;         /* a HEAD instead of a GET */
	void *user;
	/* valid in the callback */
	long status;       /* HTTP status of the last attempt, 0 when no response came */
	char error[256];   /* libcurl's message when status is 0 */
	struct buf response;
	int attempts;      /* made so far, the last one included */
	int exhausted;     /* no attempt is left: asking again finishes the request instead */
	double wait_s;     /* seconds spent waiting for retries */
	int64_t length;    /* the response's Content-Length, -1 when it has none */
	char etag[128], last_modified[64]; /* those headers, "" when absent */
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
 * Each request's response is reset first. done may be NULL: every final response is then
 * kept as it is. 0, or -1 when a callback returned -1. */
int http_run(struct http_client *c, struct http_request *const *reqs, size_t n, http_done_fn done,
	     void *ud);

/* Retries made since the client was created, by cause; and the requests started. */
uint64_t http_retries(const struct http_client *c, enum http_cause cause);
uint64_t http_attempts(const struct http_client *c);

/* The request's failure as one line: "URL: HTTP 404: <body, first 300 bytes>" or
 * "URL: <libcurl's message>", into out. */
void http_describe(const struct http_request *r, struct buf *out);

/* ---- streams: one remote file read as a FILE*, for the WARC reader ---- */

struct http_stream_opts {
	double stall_s;         /* no byte for this long is a timeout */
	double connect_timeout_s;
	int retries;            /* failures in a row (without new bytes) before giving up */
	double backoff_s, backoff_max_s;
	double max_rps;         /* requests per second to one host, from this process; 0: no cap */
	const char *cache_path; /* when set: the whole body is also written there (complete files
				   only: a .part file renamed at the end) */
};

struct http_stream {
	FILE *f;              /* read the body from it; never NULL for an open stream */
	char *url;
	uint64_t received;    /* body bytes so far */
	int64_t length;       /* Content-Length of the whole file, -1 when unknown */
	char etag[128], last_modified[64];
	int resumes;          /* Range requests after a dropped connection */
	int retries;          /* attempts repeated after 429 / 5xx / timeouts / resets */
	double wait_s;        /* seconds spent waiting for retries */
	int truncated;        /* the body ended short of Content-Length for good */
	struct buf error;     /* why reading failed, when it did */
	void *priv;
};

/* Opens url for streaming. The first response must be a 200 (429, 5xx, timeouts and resets
 * retried with backoff and jitter, Retry-After honoured); a connection lost mid-body is
 * resumed with `Range: bytes=N-` and If-Range (the ETag or Last-Modified) from the last
 * byte received, so the reader sees one unbroken stream; a server that ignores the range is
 * read again from the start, skipping what was read. Memory is what the socket delivers at
 * once. NULL with err_set naming the URL and the status (404) or libcurl's message. When
 * reading fails later, fread returns short with ferror set and s->error says why. */
struct http_stream *http_stream_open(const char *url, const struct http_stream_opts *o);
void http_stream_close(struct http_stream *s); /* closes s->f too; NULL is a no-op */

/* HEAD of each URL (concurrency at a time; policy as for http_run), filling for each the
 * status, the Content-Length (-1 unknown), ETag and Last-Modified ("" when absent). 0, or -1
 * when a request could not be made at all (err_set). */
struct http_head {
	long status;
	int64_t length;
	char etag[128], last_modified[64];
	char error[256];
};
int http_head_all(const struct http_policy *p, const char *const *urls, size_t n,
		  struct http_head *out);

/* Waits until a request to url's host may start under max_rps (per process), and counts it. */
void http_rate_wait(const char *url, double max_rps);

#endif

/* oracle: the parts of the oracle stage (docs/oracle.md). stage.c samples documents, renders
 * prompts from a template (templates.c), asks an engine (engine_http.c: an OpenAI-compatible
 * server; engine_builtin.c: curate's own Llama forward pass), keeps every answer in a
 * persistent cache (cache.c) and parses ratings (parse.c) into label shards. */
#ifndef CURATE_ORACLE_H
#define CURATE_ORACLE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "progress.h"
#include "stats.h"
#include "util.h"

/* ---- templates ---- */

/* A template: its name (a shipped one's, or the file's base name), its text and SHA-256, and
 * whether it rates code documents or web pages. */
struct oracle_template {
	char *name, *text;
	char sha256[SHA256_HEX];
	bool web;
};
/* Loads `spec`: a shipped template's name (code-quality, web-relevance, web-quality) or the
 * path of a template file. kind is "auto" (web for names starting "web-"), "code" or "web".
 * A template without {content} is an error naming it. 0 or -1 with err_set. */
int oracle_template_load(const char *spec, const char *kind, struct oracle_template *t);
void oracle_template_release(struct oracle_template *t);
/* The text of a shipped template, or NULL. */
const char *oracle_template_builtin(const char *name);
extern const char *const oracle_template_names[]; /* NULL-terminated */
/* `curate oracle-template [NAME]` */
struct cli_cmd;
struct cli_args;
int oracle_template_cmd(const struct cli_cmd *cmd, struct cli_args *a);

/* The slots a document fills; content is cut to max_bytes (at a UTF-8 boundary) followed by
 * marker when longer. */
struct oracle_slots {
	const char *language, *url, *category;
	const char *content;
	size_t content_len;
};
void oracle_render(const struct oracle_template *t, const struct oracle_slots *s,
		   size_t max_bytes, const char *marker, struct buf *out);

/* ---- answers and their parsing ---- */

/* What an engine answered for one prompt. Strings are owned (NULL when absent). */
struct oracle_answer {
	char *content;  /* the completion text (http); NULL for builtin */
	char *finish;   /* finish_reason: "stop", "length", ... */
	char *model;    /* the model that answered, as the server names it */
	int64_t prompt_tokens, completion_tokens;
	double expected; /* probability-weighted rating over the digit tokens, or -1 */
	int mode;        /* builtin: the most probable rating, else -1 */
	double entropy;  /* builtin: of the digit distribution, nats, else -1 */
	double probs[11]; /* builtin, and http with logprobs: P(rating = i); all 0 when none */
};
void oracle_answer_release(struct oracle_answer *a);
/* The answer as the cache stores it (a JSON object), and back. 0 or -1. */
char *oracle_answer_to_json(const struct oracle_answer *a);
int oracle_answer_from_json(const char *text, struct oracle_answer *a);

/* Parses an OpenAI chat-completions response body into a: choices[0].message.content,
 * finish_reason, model, usage, and with logprobs the probability-weighted rating at the
 * token after the last "Rating: [[". 0, or -1 with err_set saying what is malformed. */
int oracle_parse_chat(const char *body, size_t len, struct oracle_answer *a);

/* What became of one question. */
enum oracle_status {
	ORACLE_OK,
	ORACLE_EMPTY,        /* no text came back */
	ORACLE_TRUNCATED,    /* cut by max_tokens before a rating */
	ORACLE_REFUSED,      /* a refusal, no rating */
	ORACLE_UNPARSEABLE,  /* text without a well-formed "Rating: [[X]]" */
	ORACLE_OUT_OF_RANGE, /* a rating outside 0..10 */
	ORACLE_BAD_RESPONSE, /* the server's reply was not a chat completion, every attempt */
	ORACLE_STATUSES
};
extern const char *const oracle_status_names[ORACLE_STATUSES]; /* "ok", "empty", ... */

/* The rating of a completion: the last "Rating: [[X]]" (X a number, optionally with a
 * decimal part), range-checked to 0..10. Sets *rating and *explain_len (the text before the
 * rating, trimmed) and returns the status. */
enum oracle_status oracle_parse_rating(const char *text, size_t len, const char *finish,
				       double *rating, size_t *explain_len);

/* ---- the answer cache ---- */

/* A persistent cache of answers by key (SHA-256 of engine, model, template, parameters and
 * prompt): SQLite files in dir, one written by each rank (rank-NNNNN.sqlite, WAL), all read.
 * Opens (creating) this rank's file; NULL with err_set. */
struct oracle_cache *oracle_cache_open(const char *dir, int rank);
/* Opens the other files of the directory for reading; once every rank has opened its own
 * (the stage calls this after a barrier). 0 or -1 with err_set. */
int oracle_cache_open_others(struct oracle_cache *c);
void oracle_cache_close(struct oracle_cache *c); /* NULL is a no-op */
/* 1 with *a filled (release it), 0 when absent, -1 with err_set. */
int oracle_cache_get(struct oracle_cache *c, const unsigned char key[SHA256_LEN],
		     struct oracle_answer *a);
/* Stores a durably (committed before it returns). 0 or -1 with err_set. */
int oracle_cache_put(struct oracle_cache *c, const unsigned char key[SHA256_LEN],
		     const struct oracle_answer *a);

/* ---- engines ---- */

/* One question for an engine. */
struct oracle_item {
	const char *prompt; /* rendered from the template */
	size_t prompt_len;
	unsigned char key[SHA256_LEN];
	struct oracle_answer a; /* filled by the engine */
	enum oracle_status failed; /* ORACLE_BAD_RESPONSE when the engine gave up, else OK */
};

struct oracle_engine {
	const char *name; /* "http" or "builtin" */
	/* The text that identifies the model and the generation parameters, for the cache key
	 * and the stage's fingerprint (never a key or a URL). */
	struct buf identity;
	/* Set by the stage while answering: each answer counts there (tokens, retries). */
	struct progress *progress;
	/* Answers every item (or marks it failed); answered items are put in the cache as they
	 * come. 0, or -1 with err_set for an error that must stop the stage (a 401, a server that
	 * stays unreachable). Counts into st. */
	int (*answer)(struct oracle_engine *e, struct oracle_item *const *items, size_t n,
		      struct oracle_cache *cache, struct stats *st);
	void (*free)(struct oracle_engine *e);
};
/* Engines from the oracle section of cfg, for rank `rank`. NULL with err_set. */
struct oracle_engine *oracle_http_new(const struct config *cfg, int rank);
struct oracle_engine *oracle_builtin_new(const struct config *cfg, int rank);

#endif

/* syntax: the Tree-sitter syntax check shared by the `syntax` stage, the `curate syntax-check`
 * command, the fuzz target and the benchmark: parse one text with a grammar of the registry
 * (grammars/registry.h) and count its ERROR and MISSING nodes. */
#ifndef CURATE_SYNTAX_H
#define CURATE_SYNTAX_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "registry.h"

/* FAULT: libtree-sitter crashed inside the parse (caught; see stages/syntax.c). */
enum syntax_status { SYNTAX_OK, SYNTAX_ERRORS, SYNTAX_TIMEOUT, SYNTAX_FAULT };

struct syntax_result {
	enum syntax_status status;
	uint64_t errors;      /* outermost ERROR nodes (errors nested in one are not counted) */
	uint64_t missing;     /* MISSING nodes (tokens the parser inserted to recover) */
	uint64_t error_bytes; /* bytes under ERROR nodes, plus 1 per MISSING node */
	uint32_t line, column; /* of the first error in text order, 1-based; column in bytes */
	const char *missing_what; /* the first error is MISSING this node type ("}") or NULL */
};

/* One reusable TSParser (one per rank or thread: not thread-safe). timeout_us: parse time
 * limit per text, 0 for none. */
struct syntax_checker;
struct syntax_checker *syntax_checker_new(uint64_t timeout_us);
void syntax_checker_free(struct syntax_checker *c); /* NULL is a no-op */

/* Parses text (n bytes, any bytes; under 4 GiB) with g and fills r. Returns 0, or -1 with
 * err_set when g cannot be used (ABI) or the parser fails for a reason other than time. */
int syntax_check(struct syntax_checker *c, const struct grammar *g, const char *text,
		 size_t n, struct syntax_result *r);

/* `curate syntax-check`: pipeline/main.c lists it in its command table. */
extern const struct cli_opt syntax_check_opts[];
int syntax_check_cmd(const struct cli_cmd *cmd, struct cli_args *a);

#endif

/* cli: commands and their options declared in tables, so that `curate --help`, each
 * `curate <command> --help` and the errors for unknown commands or options are generated
 * from the same data the parser uses, and never drift. */
#ifndef CURATE_CLI_H
#define CURATE_CLI_H

#include <stdio.h>

struct stage_def;

struct cli_opt {
	const char *name;  /* long name without dashes */
	char short_name;   /* 0 for none */
	const char *arg;   /* metavariable ("FILE") or NULL for a flag */
	const char *help;
};

#define CLI_MAX_OPTS 24

struct cli_args {
	const char *values[CLI_MAX_OPTS]; /* per option in table order: value, "1" for a
					     given flag, NULL if absent */
	char **pos; /* positional arguments (KEY=VALUE overrides, paths) */
	int npos;
};

struct cli_cmd {
	const char *name;
	const char *usage;   /* after "curate NAME " */
	const char *summary; /* one line */
	const char *details; /* paragraph for --help, may be NULL */
	const struct cli_opt *opts; /* {NULL}-terminated; NULL: arguments pass through */
	int (*fn)(const struct cli_cmd *cmd, struct cli_args *args);
	const struct stage_def *stage; /* for stage commands */
};

/* Parses argv (after the command name). -1 with a message on stderr for an unknown option,
 * a missing value or an option with a value given twice; 1 if --help was asked (help printed); 0 otherwise. Only rank 0
 * prints (quiet != 0 on the others). */
int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out, int quiet);
const char *cli_get(const struct cli_cmd *cmd, const struct cli_args *a, const char *name);
void cli_help_command(const struct cli_cmd *cmd, FILE *out);

#endif

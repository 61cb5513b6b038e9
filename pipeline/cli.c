/* cli: see cli.h. */
#include "cli.h"

#include <string.h>

#include "util.h"

static const struct cli_opt *find_opt(const struct cli_cmd *cmd, const char *name, size_t len,
				      char short_name, int *index)
{
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		if ((short_name && o->short_name == short_name) ||
		    (!short_name && strlen(o->name) == len && !strncmp(o->name, name, len))) {
			*index = i;
			return o;
		}
	}
	return NULL;
}

int cli_parse(const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out, int quiet)
{
	memset(out, 0, sizeof *out);
	for (size_t k = 0; cmd->opts && cmd->opts[k].name; k++)
		if (k >= CLI_MAX_OPTS) /* values[] has room for CLI_MAX_OPTS */
			DIE("command %s has more than %d options", cmd->name, CLI_MAX_OPTS);
	out->pos = xcalloc((size_t)argc + 1, sizeof *out->pos);
	int only_pos = 0;
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		/* no option table: the command parses its own (fastText's -input style) */
		if (!cmd->opts && strcmp(a, "--help") && strcmp(a, "-h")) {
			out->pos[out->npos++] = a;
			continue;
		}
		if (only_pos || a[0] != '-' || !a[1]) {
			out->pos[out->npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = 1;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			if (!quiet)
				cli_help_command(cmd, stdout);
			return 1;
		}
		int idx = -1;
		const struct cli_opt *o;
		const char *inline_val = NULL;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			o = find_opt(cmd, a + 2, len, 0, &idx);
			inline_val = eq ? eq + 1 : NULL;
		} else {
			o = a[2] ? NULL : find_opt(cmd, NULL, 0, a[1], &idx);
		}
		if (!o) {
			if (!quiet)
				fprintf(stderr, "curate %s: unknown option '%s'; see 'curate %s --help'\n",
					cmd->name, a, cmd->name);
			return -1;
		}
		/* a second value would silently win over the first: -c a -c b runs b alone */
		if (o->arg && out->values[idx]) {
			const char *again = inline_val ? inline_val : i + 1 < argc ? argv[i + 1] : "";
			if (!quiet)
				fprintf(stderr, "curate %s: option '--%s' given twice ('%s', then '%s'); "
						"it takes one value%s\n", cmd->name, o->name, out->values[idx], again,
					!strcmp(o->name, "config") ? ": one config file per run, with "
								     "KEY=VALUE overrides after it" : "");
			return -1;
		}
		if (!o->arg) {
			if (inline_val) {
				if (!quiet)
					fprintf(stderr, "curate %s: option '--%s' takes no value\n",
						cmd->name, o->name);
				return -1;
			}
			out->values[idx] = "1";
		} else if (inline_val) {
			out->values[idx] = inline_val;
		} else if (i + 1 < argc) {
			out->values[idx] = argv[++i];
		} else {
			if (!quiet)
				fprintf(stderr, "curate %s: option '%s' needs a value %s\n", cmd->name,
					a, o->arg);
			return -1;
		}
	}
	return 0;
}

const char *cli_get(const struct cli_cmd *cmd, const struct cli_args *a, const char *name)
{
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
		if (!strcmp(cmd->opts[i].name, name))
			return a->values[i];
	DIE("command %s has no option %s", cmd->name, name);
}

void cli_help_command(const struct cli_cmd *cmd, FILE *out)
{
	fprintf(out, "usage: curate %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->summary);
	if (cmd->details)
		fprintf(out, "\n%s\n", cmd->details);
	fprintf(out, "\noptions:\n");
	for (int i = 0; cmd->opts && cmd->opts[i].name; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		char left[64], shortopt[8] = "    ";
		if (o->short_name)
			snprintf(shortopt, sizeof shortopt, "-%c, ", o->short_name);
		snprintf(left, sizeof left, "%s--%s%s%s", shortopt, o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(out, "  %-28s %s\n", left, o->help);
	}
	fprintf(out, "  %-28s %s\n", "-h, --help", "show this help");
}

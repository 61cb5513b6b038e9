/* config: the YAML configuration. Every option is declared once, in a table of its section
 * (type, default, bounds, help); loading checks the file against the tables, fills defaults
 * and applies key=value overrides. Nothing here knows what a stage does with its options. */
#ifndef CURATE_CONFIG_H
#define CURATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

enum opt_type {
	OPT_BOOL,  /* true/false (also yes/no, on/off) */
	OPT_INT,   /* 64-bit signed integer, bounds inclusive */
	OPT_FLOAT, /* double, bounds inclusive */
	OPT_STR,   /* any string */
	OPT_SIZE,  /* bytes: 1000, 64KiB, 512MB, 4GiB; bounds in bytes */
	OPT_ENUM,  /* one of choices, "a|b|c" */
	OPT_LIST,  /* list of strings: a YAML sequence, or a flow list [a, b] in overrides */
};

/* One option. name is dotted inside its section ("fields.text" is the YAML
 * import: {fields: {text: ...}}). A component "*" stands for names the user chooses:
 * "groups.*.match" declares tokenize: {groups: {code: {match: ...}, web: {...}}}; naming a
 * group (in the file or an override) makes all its "groups.*.X" options, with their
 * defaults, and config_names lists the names. def is the default as it would be written in YAML
 * ("" for an empty string; "[]" or "[a, b]" for a list). min/max apply to INT, FLOAT, SIZE
 * when min < max. */
struct opt_def {
	const char *name;
	enum opt_type type;
	const char *def;
	double min, max;
	const char *choices;
	const char *help;
};

/* A section: the top-level key (NULL for the global options that sit at top level), its
 * option table ending with a {NULL} entry, and one line of help. */
struct config_section {
	const char *name;
	const struct opt_def *opts;
	const char *help;
};

struct config;

/* Loads path (NULL: defaults only), then applies overrides "section.key=value". On error
 * returns NULL with err_set: "FILE:LINE: KEY: what is wrong" (overrides name
 * "command line" instead of FILE:LINE). Unknown keys, wrong types, values out of bounds,
 * enum values not in choices and duplicate keys are errors. The caller frees with
 * config_free. The sections array must outlive the config. */
struct config *config_load(const char *path, const struct config_section *sections,
			   size_t nsections, char *const *overrides, size_t noverrides);
void config_free(struct config *cfg);

/* Typed getters by full dotted key ("import.shards", or "workdir" for a global). Asking
 * for an undeclared key or the wrong type is a programming error and aborts. */
bool config_bool(const struct config *cfg, const char *key);
int64_t config_int(const struct config *cfg, const char *key);
double config_float(const struct config *cfg, const char *key);
const char *config_str(const struct config *cfg, const char *key); /* STR and ENUM */
uint64_t config_size(const struct config *cfg, const char *key);
/* Items of a list; the config owns them. Returns the count. */
size_t config_list(const struct config *cfg, const char *key, const char *const **items);
/* The names given in place of a '*' right after key ("tokenize.groups"), in the order the
 * config first named them; a NULL-terminated array the caller frees with config_names_free.
 * Returns the count. */
size_t config_names(const struct config *cfg, const char *key, char ***names);
void config_names_free(char **names);
/* Where the effective value came from: "default", "FILE:LINE" or "command line". */
const char *config_origin(const struct config *cfg, const char *key);
/* Whether the file or an override gave key a value (false for a default, and for a named
 * option whose name was never given: "tokenize.groups.web.eod" when there is no web). */
bool config_is_set(const struct config *cfg, const char *key);
/* The path given to config_load, or NULL. */
const char *config_path(const struct config *cfg);

/* SHA-256 of the section's effective values in canonical form (each option in table order
 * as "key=value\n", defaults included), so a stage can tell whether its options changed.
 * A change of a default in a new version counts as a change. */
/* Appends the canonical text that config_section_hash hashes: one "key=value\n" per option
 * of the section, in table order, defaults included. */
void config_section_text(const struct config *cfg, const char *section, struct buf *out);
void config_section_hash(const struct config *cfg, const char *section, char out[SHA256_HEX]);

/* Prints the effective config as YAML, every option with defaults filled in; with
 * with_origin, a comment per value says where it came from. */
void config_show(const struct config *cfg, FILE *out, bool with_origin);
/* Prints a documented YAML file of all defaults, each option preceded by its help, type and
 * bounds as comments: configs/default.yaml is this output. */
void config_write_defaults(const struct config_section *sections, size_t nsections, FILE *out);
/* Prints the stage reference as markdown (docs/stages.md): per section its kind (kinds[i],
 * one per section, e.g. "map stage"), its help and a table of its options. */
void config_write_reference(const struct config_section *sections, size_t nsections,
			    const char *const *kinds, FILE *out);

#endif

/* config: loads the YAML configuration against the option tables of config.h, fills in
 * defaults, applies key=value overrides, and prints the effective values back as YAML.
 * Values live in one array of slots parallel to the tables; lookups are linear. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

struct val {
	bool b;
	int64_t i;
	double f;
	uint64_t z;
	char *s;      /* STR and ENUM */
	char **items; /* LIST, NULL-terminated so it is never NULL once set */
	size_t n;
};

struct slot {
	const struct config_section *sec;
	const struct opt_def *def;
	char *key;    /* "import.shards", or "workdir" for a global */
	char *name;   /* key less the section: def->name, with names in place of '*' */
	bool pattern; /* a declared name with '*': instances are made when a key matches it */
	bool instance; /* made from a pattern */
	char *origin; /* "default", "FILE:LINE" or "command line" */
	struct val v;
};

struct config {
	const struct config_section *sections;
	size_t nsections;
	char *path;
	struct slot *slots;
	size_t nslots;
};

/* What a file walk needs to name places in its error messages. */
struct loader {
	struct config *cfg;
	const char *path;
	yaml_document_t *doc;
};

static const char *const type_names[] = {
	[OPT_BOOL] = "bool", [OPT_INT] = "int", [OPT_FLOAT] = "float", [OPT_STR] = "string",
	[OPT_SIZE] = "size", [OPT_ENUM] = "enum", [OPT_LIST] = "list",
};

static void val_clear(struct val *v)
{
	free(v->s);
	for (size_t i = 0; i < v->n; i++)
		free(v->items[i]);
	free(v->items);
	memset(v, 0, sizeof *v);
}

static void list_push(struct val *v, const char *s, size_t len)
{
	v->items = xrealloc(v->items, (v->n + 2) * sizeof *v->items);
	v->items[v->n++] = xstrndup(s, len);
	v->items[v->n] = NULL;
}

/* An empty list still gets an array, so config_list never hands out NULL. */
static void list_init(struct val *v)
{
	if (!v->items)
		v->items = xcalloc(1, sizeof *v->items);
}

static struct slot *find_slot(const struct config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->nslots; i++)
		if (!cfg->slots[i].pattern && !strcmp(cfg->slots[i].key, key))
			return &cfg->slots[i];
	return NULL;
}

/* ---- names in place of '*': "tokenize.groups.*.match" holds for every group ---- */

/* The length of component i of a dotted key (and its start in *at), or 0 if there is none. */
static size_t component(const char *key, size_t i, const char **at)
{
	for (; i && key; i--) {
		key = strchr(key, '.');
		key = key ? key + 1 : NULL;
	}
	if (!key)
		return 0;
	*at = key;
	const char *dot = strchr(key, '.');
	return dot ? (size_t)(dot - key) : strlen(key);
}

static size_t components(const char *key)
{
	size_t n = 1;
	for (; *key; key++)
		n += *key == '.';
	return n;
}

/* Whether the first n components of key and of pattern p agree, '*' taking any one name. */
static bool prefix_matches(const char *p, const char *key, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *a, *b;
		size_t la = component(p, i, &a), lb = component(key, i, &b);
		if (!la || !lb)
			return false;
		if (!(la == 1 && *a == '*') && (la != lb || memcmp(a, b, la)))
			return false;
	}
	return true;
}

static bool has_star_after(const char *p, size_t from)
{
	const char *a;
	for (size_t i = from, l; (l = component(p, i, &a)); i++)
		if (l == 1 && *a == '*')
			return true;
	return false;
}

static void slot_init(struct slot *s, const struct config_section *sec, const struct opt_def *d,
		      char *key);

/* Makes the options a key names into being: for "tokenize.groups.code" (or any key below
 * it) every "tokenize.groups.*.X" becomes "tokenize.groups.code.X" with its default, once.
 * A pattern's names are bound one '*' at a time, so "phases.p1" makes phases.p1.seq_length
 * but not phases.p1.groups.*.weight, which a key naming the group makes. */
static void instantiate(struct config *cfg, const char *key)
{
	size_t k = components(key);
	for (size_t i = 0; i < cfg->nslots; i++) {
		if (!cfg->slots[i].pattern || components(cfg->slots[i].key) < k ||
		    !prefix_matches(cfg->slots[i].key, key, k))
			continue;
		for (size_t j = 0; j < k; j++) {
			const char *a;
			if (component(cfg->slots[i].key, j, &a) != 1 || *a != '*')
				continue;
			for (size_t q = 0; q < cfg->nslots; q++) {
				const struct slot *Q = &cfg->slots[q];
				if (!Q->pattern || has_star_after(Q->key, j + 1) ||
				    !prefix_matches(Q->key, cfg->slots[i].key, j + 1) ||
				    !prefix_matches(cfg->slots[i].key, Q->key, j + 1))
					continue;
				const char *head, *tail;
				size_t hl = component(key, j, &head);
				component(Q->key, j + 1, &tail);
				char *concrete = xasprintf("%.*s.%s", (int)(head + hl - key), key, tail);
				if (find_slot(cfg, concrete)) {
					free(concrete);
					continue;
				}
				const struct config_section *sec = Q->sec;
				const struct opt_def *d = Q->def;
				cfg->slots = xrealloc(cfg->slots, (cfg->nslots + 1) * sizeof *cfg->slots);
				struct slot *s = &cfg->slots[cfg->nslots++];
				memset(s, 0, sizeof *s);
				slot_init(s, sec, d, concrete);
				s->instance = true;
			}
		}
	}
}

/* Whether key is an inner node of the option tree: "import.fields" of "import.fields.text",
 * or "tokenize.groups" and "tokenize.groups.code" of "tokenize.groups.*.match". */
static bool has_children(const struct config *cfg, const char *key)
{
	size_t n = strlen(key), k = components(key);
	for (size_t i = 0; i < cfg->nslots; i++) {
		const char *sk = cfg->slots[i].key;
		if (cfg->slots[i].pattern ? components(sk) > k && prefix_matches(sk, key, k)
					  : !strncmp(sk, key, n) && sk[n] == '.')
			return true;
	}
	return false;
}

size_t config_names(const struct config *cfg, const char *key, char ***names)
{
	size_t k = components(key), n = 0;
	*names = xcalloc(1, sizeof **names);
	for (size_t i = 0; i < cfg->nslots; i++) {
		const struct slot *s = &cfg->slots[i];
		const char *at, *name;
		if (s->pattern || components(s->key) <= k || !prefix_matches(s->key, key, k))
			continue;
		/* only where the declared name has '*': "tokenize.fim" has no names (def->name
		 * lacks the section's component) */
		size_t ds = s->sec->name ? 1 : 0;
		bool star = k >= ds && component(s->def->name, k - ds, &at) == 1 && *at == '*';
		size_t len = component(s->key, k, &name);
		if (!star || !prefix_matches(key, s->key, k))
			continue;
		size_t j = 0;
		while (j < n && (strlen((*names)[j]) != len || memcmp((*names)[j], name, len)))
			j++;
		if (j < n)
			continue;
		*names = xrealloc(*names, (n + 2) * sizeof **names);
		(*names)[n++] = xstrndup(name, len);
		(*names)[n] = NULL;
	}
	return n;
}

void config_names_free(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

static bool is_section(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsections; i++)
		if (cfg->sections[i].name && !strcmp(cfg->sections[i].name, name))
			return true;
	return false;
}

/* ---- parsing values from text: shared by the file, overrides and defaults ---- */

static void put_size(struct buf *b, uint64_t z)
{
	static const char *const unit[] = {"TiB", "GiB", "MiB", "KiB"};
	for (size_t u = 0; u < ARRAY_LEN(unit) && z; u++) {
		uint64_t m = (uint64_t)1 << (10 * (4 - u));
		if (z % m == 0) {
			buf_printf(b, "%" PRIu64 "%s", z / m, unit[u]);
			return;
		}
	}
	buf_printf(b, "%" PRIu64, z);
}

/* Casts only in range: a bound of 1e19 on an int is odd but must not be undefined. */
static void put_bound(struct buf *b, const struct opt_def *d, double x)
{
	if (d->type == OPT_INT && x >= -9e18 && x <= 9e18)
		buf_printf(b, "%lld", (long long)x);
	else if (d->type == OPT_SIZE && x >= 0 && x <= 1.8e19)
		put_size(b, (uint64_t)x);
	else
		buf_printf(b, "%g", x);
}

/* Bounds are inclusive and only apply when min < max, so {0, 0} means unbounded. */
static int check_bounds(const struct opt_def *d, double x, const char *text, struct buf *why)
{
	if (!(d->min < d->max))
		return 0;
	if (x < d->min) {
		buf_printf(why, "%s is below the minimum ", text);
		put_bound(why, d, d->min);
		return -1;
	}
	if (x > d->max) {
		buf_printf(why, "%s is above the maximum ", text);
		put_bound(why, d, d->max);
		return -1;
	}
	return 0;
}

static void put_choices(struct buf *b, const char *choices, const char *sep)
{
	for (const char *p = choices; *p; p++) {
		if (*p == '|')
			buf_puts(b, sep);
		else
			buf_putc(b, *p);
	}
}

static bool in_choices(const char *choices, const char *s)
{
	size_t n = strlen(s);
	for (const char *p = choices;;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && !strncmp(p, s, n))
			return true;
		if (!bar)
			return false;
		p = bar + 1;
	}
}

/* The phrase after "expected" in type errors. */
static void put_expected(struct buf *b, const struct opt_def *d)
{
	switch (d->type) {
	case OPT_BOOL: buf_puts(b, "true or false"); break;
	case OPT_INT: buf_puts(b, "an integer"); break;
	case OPT_FLOAT: buf_puts(b, "a number"); break;
	case OPT_STR: buf_puts(b, "a string"); break;
	case OPT_SIZE: buf_puts(b, "a size like 64KiB or 512MB"); break;
	case OPT_ENUM:
		buf_puts(b, "one of: ");
		put_choices(b, d->choices, ", ");
		break;
	case OPT_LIST: buf_puts(b, "a list"); break;
	}
}

/* Quotes a user's text in a message, cut short so one huge scalar cannot drown it. */
static void put_got(struct buf *b, const struct opt_def *d, const char *text)
{
	buf_puts(b, "expected ");
	put_expected(b, d);
	if (strlen(text) > 60)
		buf_printf(b, ", got '%.60s...'", text);
	else
		buf_printf(b, ", got '%s'", text);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (!strcasecmp(s, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(s, no[i]))
			return *out = false, 0;
	}
	return -1;
}

/* strtoll alone would skip blanks and accept "0x", so the first character is checked. */
static int parse_int(const char *s, int64_t *out, bool *range)
{
	const char *p = (*s == '+' || *s == '-') ? s + 1 : s;
	char *end;
	*range = false;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return -1;
	if (errno == ERANGE)
		return *range = true, -1;
	*out = v;
	return 0;
}

static int parse_float(const char *s, double *out)
{
	char *end;
	if (!*s || isspace((unsigned char)*s))
		return -1;
	double v = strtod(s, &end);
	if (*end || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* parse_size takes "nan" and "0x10" from strtod; a size starts with a digit or a point. */
static int parse_size_strict(const char *s, uint64_t *out)
{
	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	if (strpbrk(s, "xXnN"))
		return -1;
	return parse_size(s, out);
}

static int node_to_list(yaml_document_t *doc, yaml_node_t *node, struct val *v, struct buf *why,
			yaml_node_t **bad);

/* An override in flow syntax, "[a, 'b,c']": libyaml reads it, so quoting works as in files. */
static int parse_flow_list(const char *text, struct val *v, struct buf *why)
{
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *bad;
	int rc = -1;
	if (!yaml_parser_initialize(&p))
		DIE("out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	if (!yaml_parser_load(&p, &doc)) {
		buf_printf(why, "expected a list, got '%s': %s", text,
			   p.problem ? p.problem : "YAML syntax error");
		yaml_parser_delete(&p);
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_SEQUENCE_NODE)
		rc = node_to_list(&doc, root, v, why, &bad);
	else
		buf_printf(why, "expected a list, got '%s'", text);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return rc;
}

/* Overrides and defaults: "[a, b]" in flow syntax, or "a,b" split on commas. */
static int parse_list_text(const char *text, struct val *v, struct buf *why)
{
	while (isspace((unsigned char)*text))
		text++;
	list_init(v);
	if (*text == '[')
		return parse_flow_list(text, v, why);
	if (!*text)
		return 0;
	for (const char *p = text;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma ? comma : p + strlen(p);
		while (p < end && isspace((unsigned char)*p))
			p++;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		if (end == p) {
			buf_printf(why, "empty item in list '%s'", text);
			return -1;
		}
		list_push(v, p, (size_t)(end - p));
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* Parses text by the option's type into v (which the caller clears); -1 with why. */
static int parse_text(const struct opt_def *d, const char *text, struct val *v, struct buf *why)
{
	bool range;
	switch (d->type) {
	case OPT_BOOL:
		if (parse_bool(text, &v->b))
			return put_got(why, d, text), -1;
		return 0;
	case OPT_INT:
		if (parse_int(text, &v->i, &range)) {
			if (range)
				buf_printf(why, "%s is out of range for a 64-bit integer", text);
			else
				put_got(why, d, text);
			return -1;
		}
		return check_bounds(d, (double)v->i, text, why);
	case OPT_FLOAT:
		if (parse_float(text, &v->f))
			return put_got(why, d, text), -1;
		return check_bounds(d, v->f, text, why);
	case OPT_SIZE:
		if (parse_size_strict(text, &v->z))
			return put_got(why, d, text), -1;
		return check_bounds(d, (double)v->z, text, why);
	case OPT_ENUM:
		if (!in_choices(d->choices, text)) {
			buf_printf(why, "'%s' is not one of: ", text);
			put_choices(why, d->choices, ", ");
			return -1;
		}
		v->s = xstrdup(text);
		return 0;
	case OPT_STR:
		v->s = xstrdup(text);
		return 0;
	case OPT_LIST:
		return parse_list_text(text, v, why);
	}
	DIE("config: bad option type %d", (int)d->type);
}

static void slot_set(struct slot *s, struct val *v, char *origin)
{
	val_clear(&s->v);
	s->v = *v;
	memset(v, 0, sizeof *v);
	free(s->origin);
	s->origin = origin;
}

/* ---- the config object and its defaults ---- */

/* Checks the tables once per load: a broken table is a bug, found before any run. */
static void check_def(const struct config *cfg, const struct slot *s)
{
	const struct opt_def *d = s->def;
	if ((unsigned)d->type >= ARRAY_LEN(type_names))
		DIE("config: %s: bad type %d", s->key, (int)d->type);
	if (d->type == OPT_ENUM && (!d->choices || !*d->choices))
		DIE("config: %s: enum without choices", s->key);
	for (const char *p = strchr(d->name, '*'); p; p = strchr(p + 1, '*'))
		if ((p > d->name && p[-1] != '.') || p[1] != '.')
			DIE("config: %s: '*' must be a whole component before a leaf", s->key);
	for (const struct slot *o = cfg->slots; o < s; o++)
		if (!strcmp(o->key, s->key))
			DIE("config: %s is declared twice", s->key);
}

static struct config *config_new(const struct config_section *sections, size_t nsections)
{
	struct config *cfg = xcalloc(1, sizeof *cfg);
	cfg->sections = sections;
	cfg->nsections = nsections;
	for (size_t i = 0; i < nsections; i++)
		for (const struct opt_def *d = sections[i].opts; d && d->name; d++)
			cfg->nslots++;
	cfg->slots = xcalloc(cfg->nslots, sizeof *cfg->slots);
	struct slot *s = cfg->slots;
	for (size_t i = 0; i < nsections; i++) {
		const struct config_section *sec = &sections[i];
		for (const struct opt_def *d = sec->opts; d && d->name; d++, s++) {
			slot_init(s, sec, d,
				  sec->name ? xasprintf("%s.%s", sec->name, d->name) : xstrdup(d->name));
			check_def(cfg, s);
		}
	}
	return cfg;
}

/* A slot of option d under key (taken), holding its default. */
static void slot_init(struct slot *s, const struct config_section *sec, const struct opt_def *d,
		      char *key)
{
	struct val v = {0};
	struct buf why = BUF_INIT;
	s->sec = sec;
	s->def = d;
	s->key = key;
	s->name = xstrdup(sec->name ? key + strlen(sec->name) + 1 : key);
	s->pattern = strchr(key, '*') != NULL;
	if (parse_text(d, d->def ? d->def : "", &v, &why))
		DIE("config: bad default for %s: %s", s->key, why.p);
	buf_release(&why);
	slot_set(s, &v, xstrdup("default"));
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nslots; i++) {
		val_clear(&cfg->slots[i].v);
		free(cfg->slots[i].key);
		free(cfg->slots[i].name);
		free(cfg->slots[i].origin);
	}
	free(cfg->slots);
	free(cfg->path);
	free(cfg);
}

/* ---- the file ---- */

static size_t line_of(const yaml_node_t *n) { return n->start_mark.line + 1; }

static int fail_at(struct loader *ld, const yaml_node_t *n, const char *key, const char *why)
{
	err_set("%s:%zu: %s: %s", ld->path, line_of(n), key, why);
	return -1;
}

/* Plain "", "~" and "null" stand for an absent value: an empty section or list. */
static bool is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcasecmp(s, "null");
}

/* A NUL inside a scalar ("\0" escape) would silently cut a C string short. */
static bool has_nul(const yaml_node_t *n)
{
	return memchr(n->data.scalar.value, 0, n->data.scalar.length) != NULL;
}

static const char *node_kind(const yaml_node_t *n)
{
	return n->type == YAML_MAPPING_NODE ? "a mapping" : n->type == YAML_SEQUENCE_NODE ? "a list" : "a scalar";
}

/* A sequence of scalars, or one scalar as a one-item list; *bad is where it went wrong. */
static int node_to_list(yaml_document_t *doc, yaml_node_t *node, struct val *v, struct buf *why,
			yaml_node_t **bad)
{
	*bad = node;
	list_init(v);
	if (node->type == YAML_MAPPING_NODE) {
		buf_puts(why, "expected a list, got a mapping");
		return -1;
	}
	if (node->type == YAML_SCALAR_NODE) {
		if (is_null(node))
			return 0;
		if (has_nul(node))
			return buf_puts(why, "a NUL byte in a string"), -1;
		list_push(v, (const char *)node->data.scalar.value, node->data.scalar.length);
		return 0;
	}
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(doc, *it);
		*bad = item;
		if (item->type != YAML_SCALAR_NODE) {
			buf_printf(why, "expected a list of strings, got %s as an item", node_kind(item));
			return -1;
		}
		if (has_nul(item))
			return buf_puts(why, "a NUL byte in a string"), -1;
		list_push(v, (const char *)item->data.scalar.value, item->data.scalar.length);
	}
	return 0;
}

static int set_from_node(struct loader *ld, struct slot *s, const yaml_node_t *k, yaml_node_t *n)
{
	struct val v = {0};
	struct buf why = BUF_INIT;
	yaml_node_t *bad = n;
	int rc;
	if (s->def->type == OPT_LIST) {
		rc = node_to_list(ld->doc, n, &v, &why, &bad);
	} else if (n->type != YAML_SCALAR_NODE) {
		buf_puts(&why, "expected ");
		put_expected(&why, s->def);
		buf_printf(&why, ", got %s", node_kind(n));
		rc = -1;
	} else if (has_nul(n)) {
		buf_puts(&why, "a NUL byte in a string");
		rc = -1;
	} else {
		rc = parse_text(s->def, (const char *)n->data.scalar.value, &v, &why);
	}
	if (rc)
		fail_at(ld, bad, s->key, why.p);
	else
		slot_set(s, &v, xasprintf("%s:%zu", ld->path, line_of(k)));
	val_clear(&v);
	buf_release(&why);
	return rc;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xmalloc((lb + 1) * sizeof *row);
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	size_t d = row[lb];
	free(row);
	return d;
}

/* Keeps cand in *best when it is closer to key than anything seen, within distance 2. */
static void consider(const char *key, const char *cand, size_t len, char **best, size_t *dist)
{
	size_t lk = strlen(key);
	if ((lk > len ? lk - len : len - lk) > 2)
		return;
	char *c = xstrndup(cand, len);
	size_t d = edit_distance(key, c);
	if (d > 0 && d < *dist) {
		free(*best);
		*best = c;
		*dist = d;
	} else {
		free(c);
	}
}

/* The nearest declared name: full keys, their inner nodes ("import.fields") and sections. */
static char *did_you_mean(const struct config *cfg, const char *key)
{
	char *best = NULL;
	size_t dist = 3;
	for (size_t i = 0; i < cfg->nsections; i++)
		if (cfg->sections[i].name)
			consider(key, cfg->sections[i].name, strlen(cfg->sections[i].name), &best, &dist);
	for (size_t i = 0; i < cfg->nslots; i++) {
		const char *k = cfg->slots[i].key;
		for (const char *dot = strchr(k, '.'); dot; dot = strchr(dot + 1, '.'))
			consider(key, k, (size_t)(dot - k), &best, &dist);
		consider(key, k, strlen(k), &best, &dist);
	}
	return best;
}

static void put_unknown(struct buf *b, const struct config *cfg, const char *key, bool section)
{
	char *hint = did_you_mean(cfg, key);
	buf_puts(b, section ? "unknown section" : "unknown key");
	if (hint)
		buf_printf(b, " (did you mean '%s'?)", hint);
	free(hint);
}

static int walk_mapping(struct loader *ld, yaml_node_t *map, const char *prefix);

static int handle_pair(struct loader *ld, const char *key, const yaml_node_t *k, yaml_node_t *v)
{
	instantiate(ld->cfg, key);
	struct slot *s = find_slot(ld->cfg, key);
	if (s)
		return set_from_node(ld, s, k, v);
	bool top = !strchr(key, '.');
	if ((top && is_section(ld->cfg, key)) || has_children(ld->cfg, key)) {
		if (is_null(v))
			return 0;
		if (v->type != YAML_MAPPING_NODE) {
			char *why = xasprintf("expected a mapping, got %s", node_kind(v));
			fail_at(ld, v, key, why);
			free(why);
			return -1;
		}
		char *prefix = xasprintf("%s.", key);
		int rc = walk_mapping(ld, v, prefix);
		free(prefix);
		return rc;
	}
	struct buf why = BUF_INIT;
	put_unknown(&why, ld->cfg, key, top && v->type == YAML_MAPPING_NODE);
	fail_at(ld, k, key, why.p);
	buf_release(&why);
	return -1;
}

/* libyaml keeps duplicate keys, so each key is compared with the ones before it. */
static const yaml_node_t *earlier_key(struct loader *ld, yaml_node_t *map, yaml_node_pair_t *pair,
				      const yaml_node_t *k)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < pair; p++) {
		const yaml_node_t *o = yaml_document_get_node(ld->doc, p->key);
		if (o->type == YAML_SCALAR_NODE && o->data.scalar.length == k->data.scalar.length &&
		    !memcmp(o->data.scalar.value, k->data.scalar.value, k->data.scalar.length))
			return o;
	}
	return NULL;
}

static int walk_mapping(struct loader *ld, yaml_node_t *map, const char *prefix)
{
	yaml_node_pair_t *p;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
		if (k->type != YAML_SCALAR_NODE || has_nul(k)) {
			size_t plen = strlen(prefix);
			err_set("%s:%zu: %.*s: a key must be a plain string", ld->path, line_of(k),
				plen ? (int)plen - 1 : 9, plen ? prefix : "top level");
			return -1;
		}
		char *key = xasprintf("%s%s", prefix, (const char *)k->data.scalar.value);
		const yaml_node_t *first = earlier_key(ld, map, p, k);
		int rc;
		if (first) {
			char *why = xasprintf("duplicate key (first at line %zu)", line_of(first));
			rc = fail_at(ld, k, key, why);
			free(why);
		} else {
			rc = handle_pair(ld, key, k, v);
		}
		free(key);
		if (rc)
			return -1;
	}
	return 0;
}

/* A reader error (bad UTF-8) carries a byte offset, not a mark: count lines up to it. */
static yaml_mark_t mark_at_offset(FILE *f, size_t offset)
{
	yaml_mark_t m = {offset, 0, 0};
	int c;
	rewind(f);
	for (size_t i = 0; i < offset && (c = getc(f)) != EOF; i++) {
		if (c == '\n')
			m.line++, m.column = 0;
		else
			m.column++;
	}
	return m;
}

static void syntax_error(const char *path, const yaml_parser_t *p, FILE *f)
{
	if (p->error == YAML_MEMORY_ERROR)
		DIE("out of memory parsing %s", path);
	yaml_mark_t m = p->problem_mark;
	if (p->error == YAML_READER_ERROR)
		m = mark_at_offset(f, p->problem_offset);
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s:%zu:%zu: YAML syntax error: %s", path, m.line + 1, m.column + 1,
		   p->problem ? p->problem : "malformed input");
	if (p->context)
		buf_printf(&b, " (%s at line %zu)", p->context, p->context_mark.line + 1);
	err_set("%s", b.p);
	buf_release(&b);
}

static int load_document(struct config *cfg, const char *path, yaml_document_t *doc)
{
	struct loader ld = {cfg, path, doc};
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root || is_null(root))
		return 0; /* empty, or only comments */
	if (root->type != YAML_MAPPING_NODE) {
		err_set("%s:%zu: top level: expected a mapping of sections and options, got %s", path,
			line_of(root), node_kind(root));
		return -1;
	}
	return walk_mapping(&ld, root, "");
}

/* A second document would be ignored silently, and so would a syntax error inside it. */
static int check_one_document(const char *path, yaml_parser_t *p, FILE *f)
{
	yaml_document_t doc;
	if (!yaml_parser_load(p, &doc)) {
		syntax_error(path, p, f);
		return -1;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	int rc = 0;
	if (root) {
		err_set("%s:%zu: a config file holds one YAML document, found another", path,
			line_of(root));
		rc = -1;
	}
	yaml_document_delete(&doc);
	return rc;
}

static int load_file(struct config *cfg, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set("%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (!fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		err_set("%s: cannot open: %s", path, strerror(EISDIR));
		fclose(f);
		return -1;
	}
	yaml_parser_t p;
	yaml_document_t doc;
	int rc = -1;
	if (!yaml_parser_initialize(&p))
		DIE("out of memory");
	yaml_parser_set_input_file(&p, f);
	if (!yaml_parser_load(&p, &doc)) {
		syntax_error(path, &p, f);
	} else {
		rc = load_document(cfg, path, &doc);
		yaml_document_delete(&doc);
		if (!rc)
			rc = check_one_document(path, &p, f);
	}
	yaml_parser_delete(&p);
	fclose(f);
	return rc;
}

/* ---- overrides ---- */

static int apply_override(struct config *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg) {
		err_set("command line: %s: expected key=value", arg);
		return -1;
	}
	char *key = xstrndup(arg, (size_t)(eq - arg));
	instantiate(cfg, key);
	struct slot *s = find_slot(cfg, key);
	struct buf why = BUF_INIT;
	struct val v = {0};
	int rc = -1;
	if (!s)
		put_unknown(&why, cfg, key, false);
	else if (!parse_text(s->def, eq + 1, &v, &why))
		rc = 0;
	if (rc)
		err_set("command line: %s: %s", key, why.p);
	else
		slot_set(s, &v, xstrdup("command line"));
	val_clear(&v);
	buf_release(&why);
	free(key);
	return rc;
}

struct config *config_load(const char *path, const struct config_section *sections,
			   size_t nsections, char *const *overrides, size_t noverrides)
{
	struct config *cfg = config_new(sections, nsections);
	if (path) {
		cfg->path = xstrdup(path);
		if (load_file(cfg, path))
			goto fail;
	}
	for (size_t i = 0; i < noverrides; i++)
		if (apply_override(cfg, overrides[i]))
			goto fail;
	return cfg;
fail:
	config_free(cfg);
	return NULL;
}

/* ---- getters ---- */

static const struct slot *get(const struct config *cfg, const char *key, enum opt_type t,
			      enum opt_type t2)
{
	const struct slot *s = find_slot(cfg, key);
	if (!s)
		DIE("config: no option '%s' is declared", key);
	if (s->def->type != t && s->def->type != t2)
		DIE("config: option '%s' is a %s, asked for a %s", key, type_names[s->def->type],
		    type_names[t]);
	return s;
}

bool config_bool(const struct config *cfg, const char *key)
{
	return get(cfg, key, OPT_BOOL, OPT_BOOL)->v.b;
}

int64_t config_int(const struct config *cfg, const char *key)
{
	return get(cfg, key, OPT_INT, OPT_INT)->v.i;
}

double config_float(const struct config *cfg, const char *key)
{
	return get(cfg, key, OPT_FLOAT, OPT_FLOAT)->v.f;
}

const char *config_str(const struct config *cfg, const char *key)
{
	return get(cfg, key, OPT_STR, OPT_ENUM)->v.s;
}

uint64_t config_size(const struct config *cfg, const char *key)
{
	return get(cfg, key, OPT_SIZE, OPT_SIZE)->v.z;
}

size_t config_list(const struct config *cfg, const char *key, const char *const **items)
{
	const struct slot *s = get(cfg, key, OPT_LIST, OPT_LIST);
	*items = (const char *const *)s->v.items;
	return s->v.n;
}

const char *config_origin(const struct config *cfg, const char *key)
{
	const struct slot *s = find_slot(cfg, key);
	if (!s)
		DIE("config: no option '%s' is declared", key);
	return s->origin;
}

bool config_is_set(const struct config *cfg, const char *key)
{
	const struct slot *s = find_slot(cfg, key);
	return s && strcmp(s->origin, "default");
}

const char *config_path(const struct config *cfg) { return cfg->path; }

/* ---- printing: canonical text for hashes, YAML for show and defaults ---- */

/* JSON escapes are also valid in a YAML double-quoted scalar, so one quoting serves both. */
static void put_quoted(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\t': buf_puts(b, "\\t"); break;
		case '\r': buf_puts(b, "\\r"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				buf_printf(b, "\\u%04x", *p);
			else
				buf_putc(b, (char)*p);
		}
	}
	buf_putc(b, '"');
}

/* Plain only when no YAML reader could take it for anything but this string. */
static bool plain_ok(const char *s)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"};
	if (!isalpha((unsigned char)*s) && *s != '_' && *s != '/')
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-./", *p))
			return false;
	for (size_t i = 0; i < ARRAY_LEN(words); i++)
		if (!strcasecmp(s, words[i]))
			return false;
	return true;
}

static void put_str(struct buf *b, const char *s, bool canonical)
{
	if (canonical || !plain_ok(s))
		put_quoted(b, s);
	else
		buf_puts(b, s);
}

/* The shortest %g that reads back to the same double. */
static void put_float(struct buf *b, double f)
{
	char tmp[64];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	buf_puts(b, tmp);
}

static void put_value(struct buf *b, const struct slot *s, bool canonical)
{
	const struct val *v = &s->v;
	switch (s->def->type) {
	case OPT_BOOL: buf_puts(b, v->b ? "true" : "false"); break;
	case OPT_INT: buf_printf(b, "%" PRId64, v->i); break;
	case OPT_FLOAT: put_float(b, v->f); break;
	case OPT_SIZE:
		if (canonical)
			buf_printf(b, "%" PRIu64, v->z);
		else
			put_size(b, v->z);
		break;
	case OPT_STR:
	case OPT_ENUM: put_str(b, v->s, canonical); break;
	case OPT_LIST:
		buf_putc(b, '[');
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				buf_puts(b, canonical ? "," : ", ");
			put_str(b, v->items[i], canonical);
		}
		buf_putc(b, ']');
		break;
	}
}

static bool same_section(const struct config_section *sec, const char *name)
{
	return name ? sec->name && !strcmp(sec->name, name) : !sec->name;
}

static int cmp_slot_key(const void *a, const void *b)
{
	return strcmp((*(const struct slot *const *)a)->key, (*(const struct slot *const *)b)->key);
}

/* Declared options in table order, then named ones sorted by key: the order the file names
 * groups in is no part of the value. */
void config_section_text(const struct config *cfg, const char *section, struct buf *b)
{
	bool found = false;
	for (size_t i = 0; i < cfg->nsections; i++)
		found |= same_section(&cfg->sections[i], section);
	if (!found)
		DIE("config: no section '%s'", section ? section : "(global)");
	const struct slot **v = xmalloc((cfg->nslots + 1) * sizeof *v);
	size_t n = 0, declared = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < cfg->nslots; i++) {
			const struct slot *s = &cfg->slots[i];
			if (same_section(s->sec, section) && !s->pattern && s->instance == pass)
				v[n++] = s;
			if (!pass)
				declared = n;
		}
	qsort(v + declared, n - declared, sizeof *v, cmp_slot_key);
	for (size_t i = 0; i < n; i++) {
		buf_printf(b, "%s=", v[i]->name);
		put_value(b, v[i], true);
		buf_putc(b, '\n');
	}
	free(v);
}

void config_section_hash(const struct config *cfg, const char *section, char out[SHA256_HEX])
{
	struct buf b = BUF_INIT;
	config_section_text(cfg, section, &b);
	unsigned char d[SHA256_LEN];
	sha256(b.p ? b.p : "", b.len, d);
	sha256_hexstr(d, out);
	buf_release(&b);
}

enum comments { NO_COMMENTS, ORIGINS, DOCS };

static void put_comment_lines(struct buf *b, int indent, const char *text)
{
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		int len = nl ? (int)(nl - text) : (int)strlen(text);
		buf_printf(b, "%*s# %.*s\n", indent, "", len, text);
		text = nl ? nl + 1 : NULL;
	}
}

static void put_doc(struct buf *b, int indent, const struct opt_def *d)
{
	put_comment_lines(b, indent, d->help);
	buf_printf(b, "%*s# ", indent, "");
	if (d->type == OPT_ENUM) {
		buf_puts(b, "one of: ");
		put_choices(b, d->choices, "|");
	} else {
		buf_printf(b, "type: %s", d->type == OPT_LIST ? "list of strings" : type_names[d->type]);
	}
	if (d->min < d->max && (d->type == OPT_INT || d->type == OPT_FLOAT || d->type == OPT_SIZE)) {
		buf_puts(b, ", ");
		put_bound(b, d, d->min);
		buf_puts(b, "..");
		put_bound(b, d, d->max);
	}
	buf_putc(b, '\n');
}

/* "groups.*.match" as comments: its help, and "groups.NAME.match: DEFAULT". */
static void put_pattern_doc(struct buf *b, int indent, const struct slot *s)
{
	put_doc(b, indent, s->def);
	buf_printf(b, "%*s# ", indent, "");
	for (const char *p = s->name; *p; p++)
		*p == '*' ? buf_puts(b, "NAME") : buf_putc(b, *p);
	buf_puts(b, ": ");
	put_value(b, s, false);
	buf_putc(b, '\n');
}

/* Whether an earlier slot of the group already opened the inner mapping prefix+comp. */
static bool opened_before(const struct config *cfg, size_t upto, const char *section,
			  const char *path, size_t plen)
{
	for (size_t j = 0; j < upto; j++) {
		const struct slot *o = &cfg->slots[j];
		if (same_section(o->sec, section) && !o->pattern && !strncmp(o->name, path, plen) &&
		    o->name[plen] == '.')
			return true;
	}
	return false;
}

/* A named option ("groups.code.fim.rate") is shown only when set: unset, it takes another
 * option's value (the stage says which), and printing its default would set it. */
static bool shown(const struct slot *s)
{
	return !s->pattern && !(s->instance && !strcmp(s->origin, "default"));
}

static bool any_shown(const struct config *cfg, const char *section, const char *prefix)
{
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < cfg->nslots; i++)
		if (same_section(cfg->slots[i].sec, section) &&
		    !strncmp(cfg->slots[i].name, prefix, plen) && shown(&cfg->slots[i]))
			return true;
	return false;
}

/* Whether the component of s's name that starts at offset at is a name given for a '*'. */
static bool names_here(const struct slot *s, size_t at)
{
	size_t k = 0;
	for (size_t i = 0; i < at; i++)
		k += s->name[i] == '.';
	const char *c;
	return component(s->def->name, k, &c) == 1 && *c == '*';
}

/* Re-nests the dotted names of one section below prefix, in table order. */
static void put_level(struct buf *b, const struct config *cfg, const char *section,
		      const char *prefix, int indent, enum comments mode)
{
	size_t plen = strlen(prefix);
	for (size_t i = 0; i < cfg->nslots; i++) {
		const struct slot *s = &cfg->slots[i];
		const char *name = s->name;
		if (!same_section(s->sec, section) || strncmp(name, prefix, plen))
			continue;
		if (s->pattern) { /* documented as comments: '*' is no YAML key */
			if (mode == DOCS && !plen)
				put_pattern_doc(b, indent, s);
			continue;
		}
		const char *dot = strchr(name + plen, '.');
		if (dot) {
			size_t len = (size_t)(dot - name);
			if (opened_before(cfg, i, section, name, len))
				continue;
			char *inner = xstrndup(name, len + 1);
			if (any_shown(cfg, section, inner)) {
				buf_printf(b, "%*s%.*s:\n", indent, "", (int)(len - plen), name + plen);
				put_level(b, cfg, section, inner, indent + 2, mode);
			} else if (s->instance && names_here(s, plen)) {
				/* a named group with every option unset still exists */
				buf_printf(b, "%*s%.*s: {}\n", indent, "", (int)(len - plen), name + plen);
			}
			free(inner);
			continue;
		}
		if (!shown(s))
			continue;
		if (mode == DOCS)
			put_doc(b, indent, s->def);
		buf_printf(b, "%*s%s: ", indent, "", name + plen);
		put_value(b, s, false);
		if (mode == ORIGINS)
			buf_printf(b, "  # %s", s->origin);
		buf_putc(b, '\n');
	}
}

static void put_config(struct buf *b, const struct config *cfg, enum comments mode)
{
	bool first = true;
	for (size_t i = 0; i < cfg->nsections; i++) {
		const struct config_section *sec = &cfg->sections[i];
		if (sec->name)
			continue;
		if (mode == DOCS)
			put_comment_lines(b, 0, sec->help);
		first = false;
	}
	put_level(b, cfg, NULL, "", 0, mode);
	for (size_t i = 0; i < cfg->nsections; i++) {
		const struct config_section *sec = &cfg->sections[i];
		if (!sec->name)
			continue;
		if (!first && mode == DOCS)
			buf_putc(b, '\n');
		first = false;
		if (mode == DOCS)
			put_comment_lines(b, 0, sec->help);
		if (!sec->opts || !sec->opts->name) {
			buf_printf(b, "%s: {}\n", sec->name);
			continue;
		}
		buf_printf(b, "%s:\n", sec->name);
		put_level(b, cfg, sec->name, "", 2, mode);
	}
}

void config_show(const struct config *cfg, FILE *out, bool with_origin)
{
	struct buf b = BUF_INIT;
	put_config(&b, cfg, with_origin ? ORIGINS : NO_COMMENTS);
	if (b.len)
		fwrite(b.p, 1, b.len, out);
	buf_release(&b);
}

void config_write_defaults(const struct config_section *sections, size_t nsections, FILE *out)
{
	struct config *cfg = config_load(NULL, sections, nsections, NULL, 0);
	struct buf b = BUF_INIT;
	put_config(&b, cfg, DOCS);
	if (b.len)
		fwrite(b.p, 1, b.len, out);
	buf_release(&b);
	config_free(cfg);
}

/* Markdown-escapes table cell text: pipes would end the cell, newlines the row. */
static void put_md_cell(struct buf *b, const char *text)
{
	for (const char *p = text ? text : ""; *p; p++) {
		if (*p == '|')
			buf_puts(b, "\\|");
		else if (*p == '\n')
			buf_putc(b, ' ');
		else if (*p == '<') /* <workdir> would read as an HTML tag */
			buf_puts(b, "&lt;");
		else if (*p == '>')
			buf_puts(b, "&gt;");
		else
			buf_putc(b, *p);
	}
}

static void put_md_option(struct buf *b, const struct opt_def *d)
{
	buf_puts(b, "| `");
	for (const char *p = d->name; *p; p++)
		*p == '*' ? buf_puts(b, "NAME") : buf_putc(b, *p);
	buf_puts(b, "` | ");
	if (d->type == OPT_ENUM) {
		put_choices(b, d->choices, " \\| ");
	} else {
		buf_puts(b, d->type == OPT_LIST ? "list" : type_names[d->type]);
		if (d->min < d->max &&
		    (d->type == OPT_INT || d->type == OPT_FLOAT || d->type == OPT_SIZE)) {
			buf_puts(b, ", ");
			put_bound(b, d, d->min);
			buf_puts(b, "..");
			put_bound(b, d, d->max);
		}
	}
	buf_puts(b, " | `");
	/* a pipe ends the cell even inside a code span; \| shows as | there */
	for (const char *p = *d->def ? d->def : "\"\""; *p; p++)
		*p == '|' ? buf_puts(b, "\\|") : buf_putc(b, *p);
	buf_puts(b, "` | ");
	put_md_cell(b, d->help);
	buf_puts(b, " |\n");
}

void config_write_reference(const struct config_section *sections, size_t nsections,
			    const char *const *kinds, FILE *out)
{
	struct buf b = BUF_INIT;
	buf_puts(&b, "# Stage reference\n\n"
		     "Generated by `curate config reference` from the option tables; do not edit "
		     "(a test fails while\nit is stale). Each stage is a command, `curate STAGE -c "
		     "FILE [KEY=VALUE...]`, and a config\nsection of the same name; "
		     "`configs/default.yaml` holds the same options as YAML.\n");
	for (size_t i = 0; i < nsections; i++) {
		const struct config_section *sec = &sections[i];
		if (sec->name)
			buf_printf(&b, "\n## %s\n\n%s: %s.\n\n", sec->name, kinds[i], sec->help);
		else
			buf_printf(&b, "\n## Global options\n\nTop-level keys of the config.\n\n");
		if (!sec->opts || !sec->opts->name) {
			buf_puts(&b, "No options.\n");
			continue;
		}
		buf_puts(&b, "| option | type | default | what it does |\n|---|---|---|---|\n");
		for (const struct opt_def *d = sec->opts; d->name; d++)
			put_md_option(&b, d);
	}
	fwrite(b.p, 1, b.len, out);
	buf_release(&b);
}

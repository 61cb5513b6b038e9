/* blend: the config's pretraining phases as Megatron-LM and NeMo data blends (blend.h). */
#include "blend.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "megatron.h"

const struct opt_def blend_phase_opts[] = {
	{"*.seq_length", OPT_INT, "8192", 1, 1e9, NULL,
	 "Phase NAME's context length in tokens (the trainer's --seq-length)."},
	{"*.tokens", OPT_INT, "0", 0, 9e18, NULL,
	 "Tokens phase NAME trains on (0: not given); with it the blend says how many epochs of "
	 "each group that is."},
	{"*.groups.*.weight", OPT_FLOAT, "0", 0, 1e18, NULL,
	 "Relative weight of tokenize group NAME in the phase (normalized over the phase)."},
	{"*.groups.*.tokens", OPT_INT, "0", 0, 9e18, NULL,
	 "Instead of a weight: tokens to draw from group NAME."},
	{"*.groups.*.epochs", OPT_FLOAT, "0", 0, 1e6, NULL,
	 "Instead of a weight: passes over group NAME (tokens = epochs x the group's tokens)."},
	{"*.groups.*.fim.rate", OPT_FLOAT, "0.5", 0, 1, NULL,
	 "Group NAME's FIM rate in this phase (unset: the group's own; another rate makes "
	 "tokenize build the group again at it, as the dataset GROUP.fimRATE)."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

void blend_variant_name(const char *group, double rate, char *out, size_t len)
{
	snprintf(out, len, "%s.fim%g", group, rate);
}

static int cmp_variant(const void *a, const void *b)
{
	const struct blend_variant *x = a, *y = b;
	int c = strcmp(x->group, y->group);
	return c ? c : (x->fim_rate > y->fim_rate) - (x->fim_rate < y->fim_rate);
}

void blend_variants(const struct config *cfg, struct blend_variant **out, size_t *nout)
{
	char **phases;
	size_t np = config_names(cfg, "phases", &phases), n = 0;
	struct blend_variant *v = NULL;
	for (size_t p = 0; p < np; p++) {
		char *gkey = xasprintf("phases.%s.groups", phases[p]);
		char **groups;
		size_t ng = config_names(cfg, gkey, &groups);
		for (size_t g = 0; g < ng; g++) {
			char *k = xasprintf("%s.%s.fim.rate", gkey, groups[g]);
			double r = config_float(cfg, k);
			if (config_is_set(cfg, k) && r != tokenize_group_fim_rate(cfg, groups[g])) {
				size_t i = 0;
				while (i < n && (strcmp(v[i].group, groups[g]) || v[i].fim_rate != r))
					i++;
				if (i == n) {
					v = xrealloc(v, (n + 1) * sizeof *v);
					v[n].group = xstrdup(groups[g]);
					v[n++].fim_rate = r;
				}
			}
			free(k);
		}
		config_names_free(groups);
		free(gkey);
	}
	config_names_free(phases);
	if (n)
		qsort(v, n, sizeof *v, cmp_variant);
	*out = v, *nout = n;
}

void blend_variants_free(struct blend_variant *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].group);
	free(v);
}

int blend_check(const struct config *cfg, struct buf *why)
{
	char **phases;
	size_t np = config_names(cfg, "phases", &phases);
	int bad = 0;
	static const char *const opt[3] = {"weight", "tokens", "epochs"};
	for (size_t p = 0; p < np; p++) {
		char *gkey = xasprintf("phases.%s.groups", phases[p]);
		char **groups;
		size_t ng = config_names(cfg, gkey, &groups);
		int kinds = 0;
		const char *origin = NULL;
		if (!ng) {
			buf_printf(why, "%s%sphases.%s: names no groups (phases.%s.groups.NAME.weight: W)\n",
				   config_path(cfg) ? config_path(cfg) : "", config_path(cfg) ? ": " : "",
				   phases[p], phases[p]);
			bad++;
		}
		for (size_t g = 0; g < ng; g++) {
			int set = 0, kind = 0;
			char key[512];
			for (int i = 0; i < 3; i++) {
				snprintf(key, sizeof key, "%s.%s.%s", gkey, groups[g], opt[i]);
				if (config_is_set(cfg, key))
					set++, kind = i, origin = config_origin(cfg, key);
			}
			if (set != 1) {
				snprintf(key, sizeof key, "%s.%s.fim.rate", gkey, groups[g]);
				buf_printf(why, "%s%sphases.%s.groups.%s: give one of weight, tokens or "
						"epochs (%s)\n", set ? origin : "", set ? ": " : "", phases[p],
					   groups[g], set ? "more than one is set" : "none is set");
				bad++;
			}
			kinds |= 1 << kind;
		}
		if ((kinds & 1) && (kinds & 6)) {
			buf_printf(why, "%s: phases.%s: weights mix with tokens or epochs; give every "
					"group of a phase the same kind\n", origin ? origin : "", phases[p]);
			bad++;
		}
		config_names_free(groups);
		free(gkey);
	}
	config_names_free(phases);
	return bad;
}

/* One group of a phase. */
struct entry {
	char *group;
	char dataset[96];
	double fim_rate, weight, target, epochs;
	json_t *info; /* the dataset's group.json */
	uint64_t tokens;
};

static json_t *load_group(const char *tdir, const char *dataset)
{
	char *p = *dataset ? xasprintf("%s/%s/group.json", tdir, dataset)
			   : xasprintf("%s/group.json", tdir);
	json_t *j = json_load_file(p, 0, NULL);
	free(p);
	return j;
}

static void entries_free(struct entry *e, size_t n)
{
	for (size_t g = 0; e && g < n; g++) {
		free(e[g].group);
		json_decref(e[g].info);
	}
	free(e);
}

/* Resolves phase p's groups: their datasets, held tokens and normalized weights. The
 * entries are as blend_check passed them: one of weight, tokens or epochs each, one kind. */
static int phase_entries(const struct config *cfg, const char *p, const char *tdir,
			 struct entry **out, size_t *nout)
{
	static const char *const opt[3] = {"weight", "tokens", "epochs"};
	char *gkey = xasprintf("phases.%s.groups", p);
	char **groups;
	size_t ng = config_names(cfg, gkey, &groups);
	struct entry *e = xcalloc(ng + 1, sizeof *e);
	int rc = 0;
	bool weights = false;
	double sum = 0;
	for (size_t g = 0; g < ng && !rc; g++) {
		struct entry *x = &e[g];
		x->group = xstrdup(groups[g]);
		char key[512];
		snprintf(key, sizeof key, "%s.%s.fim.rate", gkey, groups[g]);
		double own = tokenize_group_fim_rate(cfg, groups[g]);
		x->fim_rate = config_is_set(cfg, key) ? config_float(cfg, key) : own;
		if (x->fim_rate != own)
			blend_variant_name(groups[g], x->fim_rate, x->dataset, sizeof x->dataset);
		else
			snprintf(x->dataset, sizeof x->dataset, "%s", groups[g]);
		x->info = load_group(tdir, x->dataset);
		if (!x->info && !strcmp(groups[g], "all") && x->fim_rate == own) {
			x->info = load_group(tdir, ""); /* the one dataset of a run without groups */
			x->dataset[0] = 0;
		}
		if (!x->info) {
			err_set("%s: phases.%s.groups.%s: no tokenize dataset '%s' in %s (a group of "
				"tokenize.groups or a tokenize.group_by value)",
				config_origin(cfg, key), p, groups[g], x->dataset, tdir);
			rc = -1;
			break;
		}
		x->tokens = (uint64_t)json_integer_value(json_object_get(x->info, "tokens"));
		int kind = 0;
		for (int i = 0; i < 3; i++) {
			snprintf(key, sizeof key, "%s.%s.%s", gkey, groups[g], opt[i]);
			if (config_is_set(cfg, key))
				kind = i;
		}
		snprintf(key, sizeof key, "%s.%s.%s", gkey, groups[g], opt[kind]);
		if (kind == 0)
			x->weight = config_float(cfg, key), weights = true;
		else if (kind == 1)
			x->target = (double)config_int(cfg, key);
		else
			x->epochs = config_float(cfg, key), x->target = x->epochs * (double)x->tokens;
		if ((kind ? x->target : x->weight) > 0 && !x->tokens) {
			err_set("phases.%s.groups.%s: the dataset '%s' holds no tokens", p, groups[g],
				*x->dataset ? x->dataset : "(all)");
			rc = -1;
		}
		sum += kind ? x->target : x->weight;
	}
	if (!rc && !(sum > 0)) {
		err_set("phases.%s: the weights sum to 0", p);
		rc = -1;
	}
	for (size_t g = 0; g < ng && !rc; g++)
		e[g].weight = (weights ? e[g].weight : e[g].target) / sum;
	free(gkey);
	config_names_free(groups);
	if (rc) {
		entries_free(e, ng);
		e = NULL;
	}
	*out = e, *nout = ng;
	return rc;
}

/* Each shard of each group with a weight: the group's weight split by the shards' tokens. */
static void put_pairs(struct buf *b, const struct entry *e, size_t n, const char *abs,
		      const char *sep, const char *pre, json_t *paths)
{
	bool first = true;
	for (size_t g = 0; g < n; g++) {
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(e[g].info, "shards"), i, s) {
			uint64_t t = (uint64_t)json_integer_value(json_object_get(s, "tokens"));
			const char *bin = json_string_value(json_object_get(json_object_get(s, "bin"), "name"));
			if (!t || !e[g].weight || !bin)
				continue;
			double w = e[g].weight * (double)t / (double)e[g].tokens;
			char *prefix = xasprintf("%s%s%s/%.*s", abs, *e[g].dataset ? "/" : "",
						 e[g].dataset, (int)strlen(bin) - 4, bin);
			if (b)
				buf_printf(b, "%s%s%.12g%s%s", first ? "" : sep, pre, w, sep, pre), buf_puts(b, prefix);
			if (paths) {
				json_array_append_new(paths, json_real(w));
				json_array_append_new(paths, json_string(prefix));
			}
			first = false;
			free(prefix);
		}
	}
}

static int write_phase(const struct config *cfg, const char *p, const char *abs,
		       const char *bdir)
{
	struct entry *e;
	size_t n;
	if (phase_entries(cfg, p, abs, &e, &n) < 0)
		return -1;
	char key[256];
	snprintf(key, sizeof key, "phases.%s.seq_length", p);
	int64_t seq = config_int(cfg, key);
	snprintf(key, sizeof key, "phases.%s.tokens", p);
	int64_t total = config_int(cfg, key);
	/* Megatron: "W1 PREFIX1 W2 PREFIX2 ...", for --data-path or --data-args-path */
	struct buf mg = BUF_INIT, ny = BUF_INIT;
	put_pairs(&mg, e, n, abs, " ", "", NULL);
	buf_putc(&mg, '\n');
	/* NeMo (1.x Megatron GPT config): model.data.data_prefix, a flat weight/prefix list */
	buf_printf(&ny, "# phase %s, written by curate from %s: NeMo model.data.data_prefix\n"
			"model:\n  encoder_seq_length: %" PRId64 "\n  data:\n    data_prefix:\n",
		   p, config_path(cfg) ? config_path(cfg) : "the defaults", seq);
	put_pairs(&ny, e, n, abs, "\n", "      - ", NULL);
	buf_putc(&ny, '\n');
	json_t *paths = json_array(), *groups = json_array();
	put_pairs(NULL, e, n, abs, "", "", paths);
	for (size_t g = 0; g < n; g++) {
		json_t *o = json_pack("{s:s,s:s,s:f,s:I,s:I,s:f}", "group", e[g].group, "dataset",
				      e[g].dataset, "fim_rate", e[g].fim_rate, "tokens",
				      (json_int_t)e[g].tokens, "documents",
				      json_integer_value(json_object_get(e[g].info, "docs")),
				      "weight", e[g].weight);
		if (total) {
			double drawn = e[g].weight * (double)total;
			json_object_set_new(o, "phase_tokens", json_integer((json_int_t)llround(drawn)));
			json_object_set_new(o, "epochs", json_real(drawn / (double)e[g].tokens));
		}
		json_object_set(o, "tokens_by_lang", json_object_get(e[g].info, "tokens_by_lang"));
		json_array_append_new(groups, o);
	}
	json_t *j = json_pack("{s:s,s:I,s:o,s:o}", "phase", p, "seq_length", (json_int_t)seq,
			      "groups", groups, "paths", paths);
	json_object_set_new(j, "tokens", total ? json_integer(total) : json_null());
	char *jtext = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	char *fm = xasprintf("%s/%s.megatron", bdir, p), *fy = xasprintf("%s/%s.nemo.yaml", bdir, p),
	     *fj = xasprintf("%s/%s.json", bdir, p);
	int rc = write_file_atomic(fm, mg.p, mg.len) || write_file_atomic(fy, ny.p, ny.len) ||
			 write_file_atomic(fj, jtext, strlen(jtext))
		     ? -1 : 0;
	free(fm), free(fy), free(fj), free(jtext);
	buf_release(&mg), buf_release(&ny);
	entries_free(e, n);
	return rc;
}

/* Removes the blend files of phases the config no longer names. */
static void remove_old(const char *bdir, char **phases, size_t n)
{
	static const char *const ext[] = {".megatron", ".nemo.yaml", ".json"};
	DIR *d = opendir(bdir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		for (size_t k = 0; k < ARRAY_LEN(ext); k++) {
			if (!str_ends_with(de->d_name, ext[k]))
				continue;
			size_t stem = strlen(de->d_name) - strlen(ext[k]);
			bool listed = false;
			for (size_t i = 0; i < n && !listed; i++)
				listed = strlen(phases[i]) == stem && !strncmp(phases[i], de->d_name, stem);
			if (!listed) {
				char *p = xasprintf("%s/%s", bdir, de->d_name);
				unlink(p);
				free(p);
			}
			break;
		}
	}
	if (d)
		closedir(d);
}

int blend_write(const struct config *cfg, const char *workdir)
{
	char **phases;
	size_t n = config_names(cfg, "phases", &phases);
	char *tdir = xasprintf("%s/tokenize", workdir), *bdir = xasprintf("%s/blends", workdir);
	char abs[PATH_MAX];
	int rc = 0;
	struct buf why = BUF_INIT;
	if (blend_check(cfg, &why)) { /* curate run checked this before its first stage */
		why.p[why.len - 1] = 0;
		err_set("%s", why.p);
		rc = -1;
	} else if (!realpath(tdir, abs)) {
		err_set("%s: %s", tdir, strerror(errno));
		rc = -1;
	}
	if (!rc && n)
		rc = mkdir_p(bdir);
	for (size_t i = 0; i < n && !rc; i++)
		rc = write_phase(cfg, phases[i], abs, bdir);
	if (!rc) {
		remove_old(bdir, phases, n);
		if (n)
			log_info("tokenize: blends of %zu phase%s in %s/", n, n == 1 ? "" : "s", bdir);
	}
	config_names_free(phases);
	buf_release(&why);
	free(tdir), free(bdir);
	return rc;
}

/* ---- curate tokens info DIR ---- */

struct dinfo {
	char *name;
	uint64_t docs, tokens, shards;
	int dtype;
};

static int dataset_info(const char *dir, const char *name, struct dinfo *out)
{
	memset(out, 0, sizeof *out);
	out->dtype = -1;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) && !rc) {
		unsigned idx;
		int used = 0;
		if (sscanf(e->d_name, "part-%u.idx%n", &idx, &used) != 1 || e->d_name[used])
			continue;
		char *prefix = xasprintf("%s/%.*s", dir, used - 4, e->d_name);
		struct megatron_reader *r = megatron_open(prefix);
		free(prefix);
		if (!r) {
			rc = -1;
			break;
		}
		out->docs += megatron_docs(r), out->tokens += megatron_tokens(r), out->shards++;
		out->dtype = megatron_dtype(r);
		megatron_close(r);
	}
	closedir(d);
	out->name = xstrdup(name);
	return rc ? -1 : (int)(out->shards > 0);
}

static int cmp_dinfo(const void *a, const void *b)
{
	return strcmp(((const struct dinfo *)a)->name, ((const struct dinfo *)b)->name);
}

int blend_tokens_info_dir(const char *dir)
{
	struct dinfo *v = xcalloc(1, sizeof *v);
	size_t n = 0;
	int got = dataset_info(dir, ".", &v[0]);
	if (got < 0)
		return -1;
	if (got)
		n++;
	else
		free(v[0].name);
	DIR *d = opendir(dir);
	if (!d) {
		err_set("%s: %s", dir, strerror(errno));
		free(v);
		return -1;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) && !rc) {
		if (e->d_name[0] == '.')
			continue;
		char *sub = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (!stat(sub, &st) && S_ISDIR(st.st_mode)) {
			v = xrealloc(v, (n + 1) * sizeof *v);
			got = dataset_info(sub, e->d_name, &v[n]);
			if (got < 0)
				rc = -1;
			else if (got)
				n++;
			else
				free(v[n].name);
		}
		free(sub);
	}
	closedir(d);
	if (!rc && !n) {
		err_set("%s: no token shards (part-NNNNN.idx) here or in its directories", dir);
		rc = -1;
	}
	if (!rc) {
		qsort(v, n, sizeof *v, cmp_dinfo);
		uint64_t docs = 0, tokens = 0, shards = 0;
		printf("%-24s %14s %16s %7s %s\n", "dataset", "documents", "tokens", "shards", "dtype");
		for (size_t i = 0; i < n; i++) {
			printf("%-24s %14" PRIu64 " %16" PRIu64 " %7" PRIu64 " %s\n", v[i].name,
			       v[i].docs, v[i].tokens, v[i].shards,
			       v[i].dtype == MEGATRON_UINT16 ? "uint16" : "int32");
			docs += v[i].docs, tokens += v[i].tokens, shards += v[i].shards;
		}
		if (n > 1)
			printf("%-24s %14" PRIu64 " %16" PRIu64 " %7" PRIu64 "\n", "total", docs,
			       tokens, shards);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return rc;
}

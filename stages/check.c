/* check: what a config names, checked before the first stage of a run starts, so that a
 * mistake in the last stage costs a second instead of the hours the stages before it take.
 * Cheap checks only: options that must be set, files and directories that must exist,
 * constraints between options, tokenize's groups and the phases. What needs a stage's own
 * work (loading a model, reading a repository list) still fails when that stage starts. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stages.h"

/* How an option names inputs. */
enum kind { ONE_FILE, ONE_DIR, PATH_LIST, EVALSET_LIST };

static const struct named {
	const char *stage, *key;
	enum kind kind;
	bool required;
	const char *unless; /* a string option that, when set, makes key not apply */
	const char *unless_stage; /* a stage that, when listed, makes key not apply */
} named[] = {
	{"import", "import.paths", PATH_LIST, true, NULL, NULL},
	{"crawl-github", "crawl-github.repos", PATH_LIST, true, NULL, NULL},
	{"crawl-web", "crawl-web.paths", PATH_LIST, true, "crawl-web.base_url", NULL},
	{"relevance", "relevance.model", ONE_FILE, true, NULL, NULL},
	{"scorer-train", "scorer-train.base", ONE_DIR, true, NULL, NULL},
	/* empty with scorer-train listed: its output is the model (it does not exist yet) */
	{"quality", "quality.model", ONE_DIR, true, NULL, "scorer-train"},
	{"decontaminate", "decontaminate.evalsets", EVALSET_LIST, true, NULL, NULL},
	{"tokenize", "tokenize.tokenizer", ONE_FILE, true, NULL, NULL},
};

/* "FILE:LINE: key: " for an option set in a file, "FILE: key: " (or "key: ") for a default. */
static void where(struct buf *why, const struct config *cfg, const char *key)
{
	const char *o = config_origin(cfg, key);
	if (!strcmp(o, "default"))
		buf_printf(why, "%s%s%s: ", config_path(cfg) ? config_path(cfg) : "",
			   config_path(cfg) ? ": " : "", key);
	else
		buf_printf(why, "%s: %s: ", o, key);
}

static int check_path(const struct config *cfg, const char *key, const char *path,
		      enum kind kind, struct buf *why)
{
	struct stat st;
	const char *what = NULL;
	if (stat(path, &st))
		what = "does not exist";
	else if (kind == ONE_DIR && !S_ISDIR(st.st_mode))
		what = "is not a directory";
	else if (kind == ONE_FILE && S_ISDIR(st.st_mode))
		what = "is a directory, not a file";
	else if (access(path, R_OK))
		what = "cannot be read";
	if (!what)
		return 0;
	where(why, cfg, key);
	buf_printf(why, "'%s' %s\n", path, what);
	return 1;
}

static int check_named(const struct config *cfg, const struct named *n, const char *const *list,
		       size_t nlist, struct buf *why)
{
	if (n->unless && *config_str(cfg, n->unless))
		return 0;
	for (size_t i = 0; n->unless_stage && i < nlist; i++)
		if (!strcmp(list[i], n->unless_stage) && !*config_str(cfg, n->key))
			return 0;
	if (n->kind == ONE_FILE || n->kind == ONE_DIR) {
		const char *v = config_str(cfg, n->key);
		if (!*v) {
			where(why, cfg, n->key);
			buf_printf(why, "not set, and stage %s needs it\n", n->stage);
			return 1;
		}
		return check_path(cfg, n->key, v, n->kind, why);
	}
	const char *const *items;
	size_t k = config_list(cfg, n->key, &items);
	int bad = 0;
	if (!k && n->required) {
		where(why, cfg, n->key);
		buf_printf(why, "empty, and stage %s needs at least one\n", n->stage);
		return 1;
	}
	for (size_t i = 0; i < k; i++) {
		const char *p = items[i];
		char *own = NULL;
		if (n->kind == EVALSET_LIST) { /* NAME=PATH[:FIELDS] */
			const char *eq = strchr(p, '=');
			if (!eq) {
				where(why, cfg, n->key);
				buf_printf(why, "'%s' is not NAME=PATH[:FIELDS]\n", p);
				bad++;
				continue;
			}
			p = own = xstrndup(eq + 1, strcspn(eq + 1, ":"));
		}
		if (strstr(p, "://") == NULL) /* remote inputs are the stage's to fetch */
			bad += check_path(cfg, n->key, p, PATH_LIST, why);
		free(own);
	}
	return bad;
}

static int check_dedup_near(const struct config *cfg, struct buf *why)
{
	int64_t b = config_int(cfg, "dedup-near.bands"), r = config_int(cfg, "dedup-near.rows"),
		h = config_int(cfg, "dedup-near.num_hashes");
	if (b * r <= h)
		return 0;
	where(why, cfg, config_is_set(cfg, "dedup-near.bands")
			    ? "dedup-near.bands" : "dedup-near.rows");
	buf_printf(why, "bands x rows (%lld x %lld = %lld) is more than num_hashes (%lld)\n",
		   (long long)b, (long long)r, (long long)(b * r), (long long)h);
	return 1;
}

int stage_check_config(const struct config *cfg, const char *const *list, size_t n,
		       struct buf *why)
{
	int bad = 0;
	for (size_t s = 0; s < n; s++) {
		for (size_t i = 0; i < ARRAY_LEN(named); i++)
			if (!strcmp(named[i].stage, list[s]))
				bad += check_named(cfg, &named[i], list, n, why);
		if (!strcmp(list[s], "dedup-near"))
			bad += check_dedup_near(cfg, why);
		if (!strcmp(list[s], "tokenize"))
			bad += tokenize_check(cfg, why);
	}
	return bad;
}

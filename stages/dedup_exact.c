/* dedup-exact: drops documents whose normalized content has the same SHA-256 as another
 * document of the same level (file or repository), keeping one per hash by the keep rule
 * (most stars, then smallest id). Hashes go to owner ranks through xchg; owners see equal
 * hashes together in sorted order and send drop decisions back to the shards' ranks, which
 * rewrite their shards 1:1 with metadata.sha256 added. Hashing is a phase (phase.h): each
 * input shard's records are kept in a file, so a killed run hashes only the shards it had not
 * finished and replays the rest into the exchange. docs/dedup.md has the details. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "log.h"
#include "par.h"
#include "phase.h"
#include "stages.h"

static const struct opt_def dedup_exact_opts[] = {
	DEDUP_COMMON_OPTS,
	{"normalize", OPT_ENUM, "trailing", 0, 0, "none|trailing|whitespace",
	 "What the hash sees: none (the text as it is), trailing (each line without trailing "
	 "whitespace, CR included, and no trailing blank lines), whitespace (every whitespace "
	 "run one space, ends trimmed)."},
	{"prefer_permissive", OPT_BOOL, "false", 0, 0, NULL,
	 "Of equal copies keep one whose metadata.license_type is permissive (crawl-github's "
	 "licence detection) before the rule of most stars, as The Stack v2 does."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

enum norm { NORM_NONE, NORM_TRAILING, NORM_WHITESPACE };

struct exact {
	enum norm norm;
	int prefer_permissive;
	struct buf text, key, val, id;
	struct xchg *x;
};

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void normalize(enum norm n, const char *s, size_t len, struct buf *out)
{
	buf_reset(out);
	if (n == NORM_WHITESPACE) {
		for (size_t i = 0; i < len; i++) {
			if (!is_ws(s[i])) {
				buf_putc(out, s[i]);
				continue;
			}
			while (i + 1 < len && is_ws(s[i + 1]))
				i++;
			if (out->len && i + 1 < len)
				buf_putc(out, ' ');
		}
	} else {
		for (size_t i = 0; i < len;) {
			size_t e = i;
			while (e < len && s[e] != '\n')
				e++;
			size_t end = e;
			while (end > i && is_ws(s[end - 1]))
				end--;
			buf_append(out, s + i, end - i);
			if (e < len)
				buf_putc(out, '\n');
			i = e + 1;
		}
		while (out->len && out->p[out->len - 1] == '\n')
			out->len--;
	}
	buf_append(out, "", 0);
}

static void content_hash(struct exact *e, const struct doc *doc, unsigned char d[SHA256_LEN])
{
	if (e->norm == NORM_NONE) {
		sha256(doc->text.p ? doc->text.p : "", doc->text.len, d);
		return;
	}
	normalize(e->norm, doc->text.p ? doc->text.p : "", doc->text.len, &e->text);
	sha256(e->text.p, e->text.len, d);
}

/* Phase 1: [level][sha256] -> keep key, to the hash's owner. */
static int put_hash(struct dedup *d, struct doc *doc, void *arg)
{
	struct exact *e = arg;
	unsigned char k[1 + SHA256_LEN];
	k[0] = (unsigned char)dedup_level(d, doc);
	content_hash(e, doc, k + 1);
	buf_reset(&e->val);
	dedup_keep_key(&e->val, doc, d->shard, d->record, e->prefer_permissive);
	/* the phase file: [value length u32 BE][key][value] per record */
	unsigned char n[4];
	be_put(n, e->val.len, 4);
	if (fwrite(n, 4, 1, d->out[0]) != 1 || fwrite(k, sizeof k, 1, d->out[0]) != 1 ||
	    fwrite(e->val.p, 1, e->val.len, d->out[0]) != e->val.len) {
		err_set("%s: %s", d->out_path[0], strerror(errno));
		return -1;
	}
	return xchg_put(e->x, xchg_owner(k, sizeof k, d->run->nranks), k, sizeof k, e->val.p,
			e->val.len);
}

/* A reused shard: its kept records into the exchange again. */
static int replay(struct phase *ph, size_t i, struct exact *e, int nranks)
{
	char *path = phase_path(ph, i, "hashes");
	struct buf b = BUF_INIT;
	int rc = read_file(path, &b);
	enum { KL = 1 + SHA256_LEN };
	for (size_t p = 0; !rc && p < b.len;) {
		const unsigned char *r = (const unsigned char *)b.p + p;
		uint64_t vl = b.len - p >= 4 ? be_get(r, 4) : 0;
		if (b.len - p < 4 + KL || vl > b.len - p - 4 - KL) {
			err_set("%s: offset %zu: a truncated record", path, p);
			rc = -1;
			break;
		}
		rc = xchg_put(e->x, xchg_owner(r + 4, KL, nranks), r + 4, KL, r + 4 + KL, vl);
		p += 4 + KL + vl;
	}
	buf_release(&b);
	free(path);
	return rc;
}

/* Phase 2: in each run of equal hashes the first keep key wins; the others are told whom
 * they duplicate. */
static int decide(struct dedup *d, struct exact *e, struct xchg *out)
{
	const void *k, *v;
	size_t kl, vl;
	int got;
	while ((got = xchg_next(e->x, &k, &kl, &v, &vl)) == 1) {
		if (e->key.len == kl && !memcmp(e->key.p, k, kl)) {
			uint32_t s;
			uint64_t r;
			dedup_key_place(v, vl, &s, &r);
			if (dedup_decide(d, out, s, r, e->id.p, e->id.len) < 0)
				return -1;
			continue;
		}
		buf_set(&e->key, k, kl);
		dedup_key_id(v, vl, &e->id);
	}
	return got;
}

/* Phase 3: every document gets its hash; the duplicates are dropped. */
static int apply(struct dedup *d, struct doc *doc, const void *val, size_t vlen,
		 const char **reason, struct stats *st, void *arg)
{
	struct exact *e = arg;
	unsigned char h[SHA256_LEN];
	char hex[SHA256_HEX];
	content_hash(e, doc, h);
	sha256_hexstr(h, hex);
	json_object_set_new(doc->meta, "sha256", json_string(hex));
	if (dedup_level(d, doc))
		stats_count(st, "repo_level_docs", 1);
	if (!val)
		return 1;
	json_t *of = json_stringn(val, vlen);
	if (of)
		json_object_set_new(doc->meta, "duplicate_of", of);
	*reason = "duplicate";
	return 0;
}

static int exact_run(struct stage_run *run, const struct task_list *in)
{
	struct dedup d;
	dedup_init(&d, run, in);
	struct exact e = {.text = BUF_INIT, .key = BUF_INIT, .val = BUF_INIT, .id = BUF_INIT};
	const char *n = config_str(run->cfg, "dedup-exact.normalize");
	e.norm = !strcmp(n, "none") ? NORM_NONE : !strcmp(n, "trailing") ? NORM_TRAILING
									 : NORM_WHITESPACE;
	e.prefer_permissive = config_bool(run->cfg, "dedup-exact.prefer_permissive");
	struct xchg *dec = NULL;
	struct phase *ph = NULL;
	int rc = -1;
	e.x = dedup_xchg(&d, 2);
	if (!e.x)
		goto out;
	static const char *const exts[] = {"hashes", NULL};
	static const struct phase_def hashes = {"hashes", exts, true, NULL, NULL};
	struct buf sig = BUF_INIT;
	if (run->rank == 0) /* what the records depend on: every option of the stage */
		config_section_text(run->cfg, run->def->name, &sig);
	ph = phase_open(run, in, &hashes, sig.p);
	buf_release(&sig);
	struct dedup_job job = {&d, exts, put_hash, &e};
	int ok = ph && phase_run(ph, dedup_phase_shard, &job) == 0;
	for (size_t i = 0; ok && i < in->n; i++)
		if (phase_reused(ph, i) && phase_owner(ph, i) == run->rank && replay(ph, i, &e, run->nranks) < 0) {
			log_error("stage dedup-exact: %s", err_get());
			ok = 0;
		}
	dedup_phase(&d, "read_hash");
	/* collective calls follow: every rank makes them even after a local failure */
	if (xchg_finish(e.x) < 0 || !par_all_ok(ok))
		goto out;
	dedup_phase(&d, "exchange_hashes");
	dec = dedup_xchg(&d, 2);
	if (!dec)
		goto out;
	ok = decide(&d, &e, dec) == 0;
	xchg_free(e.x), e.x = NULL;
	dedup_phase(&d, "decide");
	if (xchg_finish(dec) < 0 || !par_all_ok(ok))
		goto out;
	dedup_phase(&d, "exchange_decisions");
	rc = dedup_rewrite(&d, dec, apply, &e, NULL);
	dedup_phase(&d, "rewrite");
	if (stage_stop_anywhere() && run->rank == 0)
		log_warn("stage dedup-exact: stopped on request (SIGTERM or SIGINT) while rewriting; "
			 "the hashes and the shards that were written are kept: run the same command "
			 "again to resume");
	if (par_all_ok(rc == 0))
		dedup_phases_report(&d);
	else
		rc = -1;
out:
	phase_close(ph, rc == 0);
	if (rc < 0)
		log_error("stage dedup-exact: %s", err_get());
	xchg_free(e.x);
	xchg_free(dec);
	buf_release(&e.text), buf_release(&e.key), buf_release(&e.val), buf_release(&e.id);
	dedup_release(&d);
	return rc;
}

const struct stage_def stage_dedup_exact = {
	.name = "dedup-exact",
	.kind = STAGE_GLOBAL,
	.summary = "drop exact duplicates (SHA-256 of normalized content) at file and repository "
		   "level, keeping the most-starred",
	.opts = dedup_exact_opts,
	.version = 1,
	.resume_parts = true,
	.run = exact_run,
};

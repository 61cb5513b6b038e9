/* web-filter: a map stage of the heuristic web-text filters the peers run, each rule at its
 * published default and with a drop reason of its own: Gopher repetition and quality
 * (MassiveText, Rae et al. 2021), C4's line and page rules (Raffel et al. 2020) and FineWeb's
 * line rules (Penedo et al. 2024), with datatrove's parameters and in datatrove's order. The
 * rules read the prose of a page, the lines outside its Markdown code fences (crawl-web fences
 * code blocks), so code a page shows does not trip rules written for prose; C4 removes prose
 * lines and leaves fences as they are. Documents of other sources pass. docs/web-filter.md. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages.h"
#include "web/fence.h"

#define WF(name, type, def, lo, hi, help) {name, type, def, lo, hi, NULL, help}
static const struct opt_def web_filter_opts[] = {
	WF("sources", OPT_LIST, "[web]", 0, 0,
	   "Document sources filtered; documents of other sources (code) pass untouched."),
	WF("code_fences", OPT_BOOL, "true", 0, 0,
	   "Rules read only the text outside Markdown code fences; false: the whole text."),
	WF("gopher_repetition", OPT_BOOL, "true", 0, 0, "Gopher repetition rules (below)."),
	WF("dup_line_frac", OPT_FLOAT, "0.3", 0, 1, "Drop when duplicate lines / lines > this."),
	WF("dup_para_frac", OPT_FLOAT, "0.3", 0, 1,
	   "Drop when duplicate paragraphs / paragraphs > this."),
	WF("dup_line_char_frac", OPT_FLOAT, "0.2", 0, 1,
	   "Drop when characters in duplicate lines / characters > this."),
	WF("dup_para_char_frac", OPT_FLOAT, "0.2", 0, 1,
	   "Drop when characters in duplicate paragraphs / characters > this."),
	WF("top_ngram_fracs", OPT_LIST, "[0.2, 0.18, 0.16]", 0, 0,
	   "For n = 2, 3, 4: drop when the most frequent word n-gram's characters (times its "
	   "count) / characters > this."),
	WF("dup_ngram_fracs", OPT_LIST, "[0.15, 0.14, 0.13, 0.12, 0.11, 0.10]", 0, 0,
	   "For n = 5..10: drop when characters in repeated word n-grams / characters > this."),
	WF("gopher_quality", OPT_BOOL, "true", 0, 0, "Gopher quality rules (below)."),
	WF("min_doc_words", OPT_INT, "50", 0, 1e12, "Drop with fewer words than this."),
	WF("max_doc_words", OPT_INT, "100000", 0, 1e12, "Drop with more words than this."),
	WF("min_avg_word_length", OPT_FLOAT, "3", 0, 1e6, "Drop when mean word length < this."),
	WF("max_avg_word_length", OPT_FLOAT, "10", 0, 1e6, "Drop when mean word length > this."),
	WF("max_symbol_word_ratio", OPT_FLOAT, "0.1", 0, 1e6,
	   "Drop when '#' per word, or '...' and U+2026 per word, > this."),
	WF("max_bullet_lines_ratio", OPT_FLOAT, "0.9", 0, 1,
	   "Drop when the share of lines starting with a bullet (- or U+2022) > this."),
	WF("max_ellipsis_lines_ratio", OPT_FLOAT, "0.3", 0, 1,
	   "Drop when the share of lines ending in an ellipsis > this."),
	WF("max_non_alpha_words_ratio", OPT_FLOAT, "0.8", 0, 1,
	   "Drop when the share of words with a letter < this (datatrove's name)."),
	WF("min_stop_words", OPT_INT, "2", 0, 1e12,
	   "Drop with fewer English stop words (the, be, to, of, and, that, have, with)."),
	WF("c4", OPT_BOOL, "true", 0, 0, "C4 rules (below): lines removed, pages dropped."),
	WF("c4_min_sentences", OPT_INT, "5", 0, 1e12,
	   "Drop when the kept lines hold fewer sentences than this."),
	WF("c4_min_words_per_line", OPT_INT, "3", 0, 1e12, "Remove lines of fewer words."),
	WF("c4_max_word_length", OPT_INT, "1000", 0, 1e12,
	   "Remove lines with a word longer than this many characters."),
	WF("c4_terminal_punct", OPT_BOOL, "false", 0, 0,
	   "Remove lines not ending in . ? ! \" ' (or ending in ...): C4's own rule, off as in "
	   "FineWeb's recipe, where the line_punct_thr rule judges the page instead."),
	WF("c4_lorem_ipsum", OPT_BOOL, "true", 0, 0, "Drop pages with 'lorem ipsum'."),
	WF("c4_javascript", OPT_BOOL, "true", 0, 0, "Remove lines mentioning 'javascript'."),
	WF("c4_curly_bracket", OPT_BOOL, "true", 0, 0, "Drop pages with '{' in a kept line."),
	WF("c4_policy", OPT_BOOL, "true", 0, 0,
	   "Remove lines of terms of use, privacy and cookie notices."),
	WF("c4_citations", OPT_BOOL, "true", 0, 0,
	   "Remove citation marks [1], [edit], [citation needed] from lines."),
	WF("fineweb", OPT_BOOL, "true", 0, 0, "FineWeb rules (below)."),
	WF("line_punct_thr", OPT_FLOAT, "0.12", 0, 1,
	   "Drop when the share of lines ending in terminal punctuation < this."),
	WF("short_line_thr", OPT_FLOAT, "0.67", 0, 1,
	   "Drop when the share of lines of at most short_line_length characters > this."),
	WF("short_line_length", OPT_INT, "30", 0, 1e12, "A short line's most characters."),
	WF("char_duplicates_ratio", OPT_FLOAT, "0.01", 0, 1,
	   "Drop when characters in duplicate lines / characters (newlines aside) > this."),
	WF("new_line_ratio", OPT_FLOAT, "0.3", 0, 1e6, "Drop when newlines per word > this."),
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct wf {
	const char *const *sources;
	size_t nsources;
	int fences, rep, quality, c4, fineweb;
	double dup_line, dup_para, dup_line_char, dup_para_char, top[3], dup[6];
	int64_t min_words, max_words, min_stop, c4_sentences, c4_line_words, c4_word_len,
		short_len;
	double min_avg, max_avg, symbol, bullets, ellipsis, alpha;
	int c4_punct, c4_lorem, c4_js, c4_curly, c4_policy, c4_cite;
	double punct_thr, short_thr, char_dup, newline;
	struct buf prose, out, line, key; /* the prose judged, C4's text, a C4 line, key_eq's */
	struct span *spans; /* lines, paragraphs or words of the text being judged */
	size_t nspans, capspans;
	struct slot *slots; /* the hash set over spans */
	size_t capslots;
};

struct span {
	const char *p;
	size_t n;
};

/* ---------- text measures ---------- */

/* Characters (code points) of UTF-8 bytes, as Python's len() counts them. */
static size_t chars(const char *p, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)p[i] & 0xC0) != 0x80;
	return k;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int ends_with(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	return n >= k && !memcmp(p + n - k, s, k);
}

static size_t count_of(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s), c = 0;
	for (const char *q = p, *end = p + n; q + k <= end;) {
		const char *f = memmem(q, (size_t)(end - q), s, k);
		if (!f)
			break;
		c++;
		q = f + k;
	}
	return c;
}

static void trim(const char **p, size_t *n)
{
	while (*n && is_space(**p))
		(*p)++, (*n)--;
	while (*n && is_space((*p)[*n - 1]))
		(*n)--;
}

static void spans_add(struct wf *w, const char *p, size_t n)
{
	if (w->nspans == w->capspans) {
		w->capspans = w->capspans ? 2 * w->capspans : 256;
		w->spans = xrealloc(w->spans, w->capspans * sizeof *w->spans);
	}
	w->spans[w->nspans++] = (struct span){p, n};
}

/* Splits on runs of separator: '\n' lines (\n+), paragraphs (\n\n+, on the stripped text) or
 * words (whitespace), as datatrove's LINE_RE / PARAGRAPH_RE / str.split. Keeps the empty
 * pieces a regex split keeps (a leading separator gives an empty first line). */
enum split { LINES, PARAS, WORDS };
static void split(struct wf *w, const char *p, size_t n, enum split how)
{
	w->nspans = 0;
	if (how == PARAS)
		trim(&p, &n);
	const char *end = p + n, *s = p;
	if (how == WORDS) {
		while (s < end) {
			while (s < end && is_space(*s))
				s++;
			const char *e = s;
			while (e < end && !is_space(*e))
				e++;
			if (e > s)
				spans_add(w, s, (size_t)(e - s));
			s = e;
		}
		return;
	}
	size_t min_run = how == PARAS ? 2 : 1;
	const char *q = p;
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		if (!nl)
			break;
		const char *r = nl;
		while (r < end && *r == '\n')
			r++;
		if ((size_t)(r - nl) >= min_run) {
			spans_add(w, s, (size_t)(nl - s));
			s = r;
		}
		q = r;
	}
	spans_add(w, s, (size_t)(end - s));
}

/* ---------- a hash set over spans (or n-grams of word spans) ---------- */

struct slot {
	uint64_t h;
	uint32_t first, count; /* first span index (+1; 0 = empty), occurrences */
};

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

/* The key of spans [i, i + k): joined by sep (a space for datatrove's top n-grams, nothing
 * for its duplicate n-grams); hashed with the separators. */
static uint64_t key_hash(const struct wf *w, size_t i, size_t k, const char *sep)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t j = 0; j < k; j++) {
		if (j)
			h = hash_bytes(h, sep, strlen(sep));
		h = hash_bytes(h, w->spans[i + j].p, w->spans[i + j].n);
	}
	return h;
}

/* The joined keys equal: compares the concatenations byte by byte. */
static int key_eq(const struct wf *w, size_t a, size_t b, size_t k, const char *sep)
{
	struct buf *x = (struct buf *)&w->key;
	buf_reset(x);
	for (size_t j = 0; j < k; j++) {
		if (j)
			buf_append(x, sep, strlen(sep));
		buf_append(x, w->spans[a + j].p, w->spans[a + j].n);
	}
	size_t la = x->len;
	for (size_t j = 0; j < k; j++) {
		if (j)
			buf_append(x, sep, strlen(sep));
		buf_append(x, w->spans[b + j].p, w->spans[b + j].n);
	}
	return x->len == 2 * la && !memcmp(x->p, x->p + la, la);
}

static void set_clear(struct wf *w, size_t want)
{
	size_t cap = 64;
	while (cap < 2 * want)
		cap *= 2;
	if (cap > w->capslots) {
		free(w->slots);
		w->slots = xcalloc(cap, sizeof *w->slots);
		w->capslots = cap;
	} else
		memset(w->slots, 0, w->capslots * sizeof *w->slots);
}

/* Adds key [i, i + k); returns its slot (count already incremented). */
static struct slot *set_add(struct wf *w, size_t i, size_t k, const char *sep)
{
	uint64_t h = key_hash(w, i, k, sep);
	size_t mask = w->capslots - 1;
	for (size_t at = h & mask;; at = (at + 1) & mask) {
		struct slot *s = &w->slots[at];
		if (!s->first) {
			*s = (struct slot){h, (uint32_t)i + 1, 1};
			return s;
		}
		if (s->h == h && key_eq(w, s->first - 1, i, k, sep)) {
			s->count++;
			return s;
		}
	}
}

/* datatrove's find_duplicates over the spans: (elements seen before, their characters). */
static void duplicates(struct wf *w, size_t *dups, size_t *dup_chars)
{
	*dups = *dup_chars = 0;
	set_clear(w, w->nspans);
	for (size_t i = 0; i < w->nspans; i++)
		if (set_add(w, i, 1, "")->count > 1)
			(*dups)++, *dup_chars += chars(w->spans[i].p, w->spans[i].n);
}

/* ---------- Gopher repetition ---------- */

static const char *const top_reason[] = {"gopher_top_2_gram", "gopher_top_3_gram",
					 "gopher_top_4_gram"};
static const char *const dup_reason[] = {
	"gopher_duplicated_5_n_grams", "gopher_duplicated_6_n_grams", "gopher_duplicated_7_n_grams",
	"gopher_duplicated_8_n_grams", "gopher_duplicated_9_n_grams", "gopher_duplicated_10_n_grams"};

static const char *gopher_repetition(struct wf *w, const char *p, size_t n)
{
	double len = (double)chars(p, n);
	size_t dups, dchars;
	if (len == 0)
		return NULL;
	split(w, p, n, PARAS);
	duplicates(w, &dups, &dchars);
	if ((double)dups / (double)w->nspans > w->dup_para)
		return "gopher_dup_para_frac";
	if ((double)dchars / len > w->dup_para_char)
		return "gopher_dup_para_char_frac";
	split(w, p, n, LINES);
	duplicates(w, &dups, &dchars);
	if ((double)dups / (double)w->nspans > w->dup_line)
		return "gopher_dup_line_frac";
	if ((double)dchars / len > w->dup_line_char)
		return "gopher_dup_line_char_frac";
	split(w, p, n, WORDS);
	size_t nw = w->nspans;
	for (size_t g = 0; g < 3; g++) {
		size_t k = g + 2;
		if (nw < k)
			continue;
		/* Counter.most_common(1): the highest count, the first seen among equals */
		set_clear(w, nw);
		struct slot *best = NULL;
		for (size_t i = 0; i + k <= nw; i++) {
			struct slot *s = set_add(w, i, k, " ");
			if (!best || s->count > best->count ||
			    (s->count == best->count && s->first < best->first))
				best = s;
		}
		size_t klen = k - 1;
		for (size_t j = 0; j < k; j++)
			klen += chars(w->spans[best->first - 1 + j].p, w->spans[best->first - 1 + j].n);
		if ((double)(klen * best->count) / len > w->top[g])
			return top_reason[g];
	}
	for (size_t g = 0; g < 6; g++) {
		size_t k = g + 5, rep = 0;
		if (nw < k)
			continue;
		set_clear(w, nw);
		for (size_t i = 0; i + k <= nw;) {
			if (set_add(w, i, k, "")->count > 1) {
				for (size_t j = 0; j < k; j++)
					rep += chars(w->spans[i + j].p, w->spans[i + j].n);
				i += k;
			} else
				i++;
		}
		if ((double)rep / len > w->dup[g])
			return dup_reason[g];
	}
	return NULL;
}

/* ---------- Gopher quality ---------- */

static int is_punct(unsigned char c) { return c < 0x80 && ispunct(c); }

static const char *const stop_words[] = {"the", "be", "to", "of", "and", "that", "have", "with"};

static const char *gopher_quality(struct wf *w, const char *p, size_t n)
{
	split(w, p, n, WORDS);
	size_t nw = w->nspans, words = 0, wchars = 0, alpha = 0, stops = 0;
	for (size_t i = 0; i < nw; i++) {
		/* a token's word: the token without the punctuation around it, as a word
		 * tokenizer splits it off; a token of punctuation only is a symbol */
		const char *s = w->spans[i].p;
		size_t k = w->spans[i].n;
		while (k && is_punct((unsigned char)*s))
			s++, k--;
		while (k && is_punct((unsigned char)s[k - 1]))
			k--;
		int letter = 0;
		for (size_t j = 0; j < k && !letter; j++)
			letter = (unsigned char)s[j] >= 0x80 || isalpha((unsigned char)s[j]);
		alpha += letter;
		if (!k)
			continue;
		words++;
		wchars += chars(s, k);
		for (size_t j = 0; j < sizeof stop_words / sizeof *stop_words; j++)
			stops += strlen(stop_words[j]) == k && !memcmp(s, stop_words[j], k);
	}
	if ((int64_t)words < w->min_words)
		return "gopher_short_doc";
	if (w->max_words && (int64_t)words > w->max_words)
		return "gopher_long_doc";
	double avg = words ? (double)wchars / (double)words : 0;
	if (avg < w->min_avg)
		return "gopher_below_avg_word_length";
	if (avg > w->max_avg)
		return "gopher_above_avg_word_length";
	if ((double)count_of(p, n, "#") / (double)nw > w->symbol)
		return "gopher_too_many_hashes";
	if ((double)(count_of(p, n, "...") + count_of(p, n, "\xe2\x80\xa6")) / (double)nw > w->symbol)
		return "gopher_too_many_ellipsis";
	split(w, p, n, LINES);
	size_t bullets = 0, ell = 0;
	for (size_t i = 0; i < w->nspans; i++) {
		const char *s = w->spans[i].p;
		size_t k = w->spans[i].n;
		trim(&s, &k);
		bullets += (k && *s == '-') || (k >= 3 && !memcmp(s, "\xe2\x80\xa2", 3));
		ell += ends_with(s, k, "...") || ends_with(s, k, "\xe2\x80\xa6");
	}
	if ((double)bullets / (double)w->nspans > w->bullets)
		return "gopher_too_many_bullets";
	if ((double)ell / (double)w->nspans > w->ellipsis)
		return "gopher_too_many_end_ellipsis";
	if ((double)alpha / (double)nw < w->alpha)
		return "gopher_below_alpha_threshold";
	if ((int64_t)stops < w->min_stop)
		return "gopher_few_stop_words";
	return NULL;
}

/* ---------- C4 ---------- */

static int contains_ci(const char *p, size_t n, const char *s)
{
	size_t k = strlen(s);
	for (size_t i = 0; i + k <= n; i++)
		if (!strncasecmp(p + i, s, k))
			return 1;
	return 0;
}

static const char *const policy[] = {"terms of use", "privacy policy", "cookie policy",
				     "uses cookies", "use of cookies", "use cookies"};

/* Removes citation marks [digits], [edit], [citation needed] from the line, in place. */
static size_t uncite(char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] == '[') {
			size_t j = i + 1;
			while (j < n && isdigit((unsigned char)s[j]))
				j++;
			size_t m = j < n && s[j] == ']' ? j + 1 - i : 0;
			if (!m && n - i >= 6 && !memcmp(s + i, "[edit]", 6))
				m = 6;
			if (!m && n - i >= 19 && !memcmp(s + i, "[citation needed]", 17))
				m = 17;
			if (m) {
				i += m;
				continue;
			}
		}
		s[o++] = s[i++];
	}
	return o;
}

/* Sentences in a kept line: runs of . ? ! followed by a space or the end (at least one). */
static size_t sentences(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if ((s[i] == '.' || s[i] == '?' || s[i] == '!') &&
		    (i + 1 == n || is_space(s[i + 1])))
			k++;
	return k ? k : 1;
}

/* 1 when the line ends in C4's terminal punctuation and not in an ellipsis. */
static int c4_terminal(const char *s, size_t n)
{
	if (!n || ends_with(s, n, "..."))
		return 0;
	char c = s[n - 1];
	return c == '.' || c == '?' || c == '!' || c == '"' || c == '\'';
}

/* One prose line through C4's line rules, in datatrove's order: 1 kept (appended to out),
 * 0 removed (counted by rule), -1 the page is dropped (*reason). */
static int c4_line(struct wf *w, struct stats *st, const char *p, size_t n, size_t *nsent,
		   const char **reason)
{
	trim(&p, &n);
	buf_set(&w->line, p, n);
	char *s = w->line.p;
	split(w, s, n, WORDS);
	size_t nwords = w->nspans;
	for (size_t i = 0; i < nwords; i++)
		if (w->c4_word_len && (int64_t)chars(w->spans[i].p, w->spans[i].n) > w->c4_word_len)
			return stats_count(st, "c4_lines_too_long_word", 1), 0;
	if (w->c4_cite)
		n = uncite(s, n);
	if (w->c4_punct && !c4_terminal(s, n)) {
		if (n)
			stats_count(st, "c4_lines_no_terminal_punct", 1);
		return 0;
	}
	if ((int64_t)nwords < w->c4_line_words) {
		if (n)
			stats_count(st, "c4_lines_too_few_words", 1);
		return 0;
	}
	if (w->c4_lorem && contains_ci(s, n, "lorem ipsum"))
		return *reason = "c4_lorem_ipsum", -1;
	if (w->c4_js && contains_ci(s, n, "javascript"))
		return stats_count(st, "c4_lines_javascript", 1), 0;
	if (w->c4_curly && memchr(s, '{', n))
		return *reason = "c4_curly_bracket", -1;
	for (size_t i = 0; w->c4_policy && i < sizeof policy / sizeof *policy; i++)
		if (contains_ci(s, n, policy[i]))
			return stats_count(st, "c4_lines_policy", 1), 0;
	*nsent += sentences(s, n);
	buf_append(&w->out, s, n);
	buf_putc(&w->out, '\n');
	return 1;
}

/* Calls fn for each line of text, with in_code set for the lines of fences (their opening and
 * closing lines too) when fences are honoured. Returns what the last call returned when it
 * was negative, else 0. */
typedef int line_fn(struct wf *w, void *arg, const char *p, size_t n, int in_code);
static int each_line(struct wf *w, const char *p, size_t n, line_fn *fn, void *arg)
{
	struct md_fences f = {0};
	const char *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		int code = w->fences && md_fence_line(&f, p, len);
		int rc = fn(w, arg, p, len, code);
		if (rc < 0)
			return rc;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

static int prose_line(struct wf *w, void *arg, const char *p, size_t n, int code)
{
	if (!code) {
		buf_append(&w->prose, p, n);
		buf_putc(&w->prose, '\n');
	}
	return 0;
}

/* w->prose: the lines outside fences, joined by newlines. */
static void prose_of(struct wf *w, const char *p, size_t n)
{
	buf_reset(&w->prose);
	each_line(w, p, n, prose_line, NULL);
	if (w->prose.len)
		w->prose.len--;
	buf_append(&w->prose, "", 0);
}

struct c4_arg {
	struct stats *st;
	size_t sentences, removed;
	const char *reason;
};

static int c4_each(struct wf *w, void *arg, const char *p, size_t n, int code)
{
	struct c4_arg *a = arg;
	if (code) { /* code blocks stay as they are, where they are */
		buf_append(&w->out, p, n);
		buf_putc(&w->out, '\n');
		return 0;
	}
	int rc = c4_line(w, a->st, p, n, &a->sentences, &a->reason);
	a->removed += rc == 0;
	return rc < 0 ? -1 : 0;
}

/* C4 over the text: w->out is the text with the removed lines gone; NULL, or the reason the
 * page is dropped. */
static const char *c4(struct wf *w, struct stats *st, const char *p, size_t n)
{
	struct c4_arg a = {st, 0, 0, NULL};
	buf_reset(&w->out);
	if (each_line(w, p, n, c4_each, &a) < 0)
		return a.reason;
	if ((int64_t)a.sentences < w->c4_sentences)
		return "c4_too_few_sentences";
	if (w->out.len) {
		const char *s = w->out.p;
		size_t k = w->out.len;
		trim(&s, &k);
		memmove(w->out.p, s, k);
		w->out.len = k;
	}
	return NULL;
}

/* ---------- FineWeb ---------- */

/* FineWeb's terminal punctuation (a line ends in one): ASCII and the common others. */
static const char *const stop_chars[] = {
	".", "!", "?", "\"", "'", ";", ":", ")", "\xe2\x80\xa6" /* … */, "\xe3\x80\x82" /* 。 */,
	"\xef\xbc\x81" /* ！ */, "\xef\xbc\x9f" /* ？ */, "\xd8\x9f" /* ؟ */, "\xdb\x94" /* ۔ */,
	"\xe0\xa5\xa4" /* । */, "\xe2\x80\x9d" /* ” */, "\xc2\xbb" /* » */};

static const char *fineweb(struct wf *w, const char *p, size_t n)
{
	split(w, p, n, LINES);
	/* the non-blank lines, as they are (not stripped) */
	size_t kept = 0;
	for (size_t i = 0; i < w->nspans; i++) {
		const char *s = w->spans[i].p;
		size_t k = w->spans[i].n;
		trim(&s, &k);
		if (k)
			w->spans[kept++] = w->spans[i];
	}
	w->nspans = kept;
	if (!kept)
		return "fineweb_empty";
	size_t punct = 0, shorts = 0, dups, dchars;
	for (size_t i = 0; i < kept; i++) {
		const char *s = w->spans[i].p;
		size_t k = w->spans[i].n;
		for (size_t j = 0; j < sizeof stop_chars / sizeof *stop_chars; j++)
			if (ends_with(s, k, stop_chars[j])) {
				punct++;
				break;
			}
		shorts += (int64_t)chars(s, k) <= w->short_len;
	}
	if ((double)punct / (double)kept < w->punct_thr)
		return "fineweb_line_punct_ratio";
	if ((double)shorts / (double)kept > w->short_thr)
		return "fineweb_short_line_ratio";
	duplicates(w, &dups, &dchars);
	size_t newlines = count_of(p, n, "\n"), nonnl = chars(p, n) - newlines;
	if (nonnl && (double)dchars / (double)nonnl > w->char_dup)
		return "fineweb_char_dup_ratio";
	split(w, p, n, WORDS);
	if (w->nspans && (double)newlines / (double)w->nspans > w->newline)
		return "fineweb_list_ratio";
	return NULL;
}

/* ---------- the stage ---------- */

static int fracs(const struct config *c, const char *key, double *out, size_t want)
{
	const char *const *items;
	size_t n = config_list(c, key, &items);
	if (n != want) {
		err_set("web-filter.%s: %zu values, not %zu", key + 11, n, want);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char *end;
		out[i] = strtod(items[i], &end);
		if (end == items[i] || *end || out[i] < 0 || out[i] > 1) {
			err_set("web-filter.%s: '%s' is not a fraction in [0, 1]", key + 11, items[i]);
			return -1;
		}
	}
	return 0;
}

static void web_filter_teardown(struct stage_run *run)
{
	struct wf *w = run->state;
	if (!w)
		return;
	buf_release(&w->prose);
	buf_release(&w->out);
	buf_release(&w->line);
	buf_release(&w->key);
	free(w->spans);
	free(w->slots);
	free(w);
	run->state = NULL;
}

static int web_filter_setup(struct stage_run *run)
{
	const struct config *c = run->cfg;
	struct wf *w = xcalloc(1, sizeof *w);
	run->state = w;
#define F(k) config_float(c, "web-filter." k)
#define I(k) config_int(c, "web-filter." k)
#define B(k) config_bool(c, "web-filter." k)
	w->nsources = config_list(c, "web-filter.sources", &w->sources);
	w->fences = B("code_fences");
	w->rep = B("gopher_repetition");
	w->dup_line = F("dup_line_frac"), w->dup_para = F("dup_para_frac");
	w->dup_line_char = F("dup_line_char_frac"), w->dup_para_char = F("dup_para_char_frac");
	if (fracs(c, "web-filter.top_ngram_fracs", w->top, 3) ||
	    fracs(c, "web-filter.dup_ngram_fracs", w->dup, 6)) {
		web_filter_teardown(run);
		return -1;
	}
	w->quality = B("gopher_quality");
	w->min_words = I("min_doc_words"), w->max_words = I("max_doc_words");
	w->min_avg = F("min_avg_word_length"), w->max_avg = F("max_avg_word_length");
	w->symbol = F("max_symbol_word_ratio"), w->bullets = F("max_bullet_lines_ratio");
	w->ellipsis = F("max_ellipsis_lines_ratio"), w->alpha = F("max_non_alpha_words_ratio");
	w->min_stop = I("min_stop_words");
	w->c4 = B("c4");
	w->c4_sentences = I("c4_min_sentences"), w->c4_line_words = I("c4_min_words_per_line");
	w->c4_word_len = I("c4_max_word_length"), w->c4_punct = B("c4_terminal_punct");
	w->c4_lorem = B("c4_lorem_ipsum"), w->c4_js = B("c4_javascript");
	w->c4_curly = B("c4_curly_bracket"), w->c4_policy = B("c4_policy");
	w->c4_cite = B("c4_citations");
	w->fineweb = B("fineweb");
	w->punct_thr = F("line_punct_thr"), w->short_thr = F("short_line_thr");
	w->short_len = I("short_line_length"), w->char_dup = F("char_duplicates_ratio");
	w->newline = F("new_line_ratio");
#undef F
#undef I
#undef B
	return 0;
}

static int web_filter_map(struct stage_run *run, struct doc *d, const char **reason)
{
	struct wf *w = run->state;
	struct stats *st = stage_stats(run);
	const char *r = NULL;
	if (!str_listed(d->source.p ? d->source.p : "", w->sources, w->nsources)) {
		stats_count(st, "other_source", 1);
		return 1;
	}
	prose_of(w, d->text.p ? d->text.p : "", d->text.len);
	const char *s = w->prose.p;
	size_t n = w->prose.len, k = n;
	trim(&s, &k);
	if (!k) { /* nothing but code: no prose to judge */
		stats_count(st, "no_prose", 1);
		return 1;
	}
	if (w->rep && (r = gopher_repetition(w, w->prose.p, n)))
		return *reason = r, 0;
	if (w->quality && (r = gopher_quality(w, w->prose.p, n)))
		return *reason = r, 0;
	if (w->c4) {
		if ((r = c4(w, st, d->text.p ? d->text.p : "", d->text.len)))
			return *reason = r, 0;
		if (w->out.len != d->text.len || memcmp(w->out.p, d->text.p, d->text.len)) {
			stats_count(st, "c4_changed", 1);
			buf_set(&d->text, w->out.p, w->out.len);
		}
		prose_of(w, d->text.p ? d->text.p : "", d->text.len);
	}
	if (w->fineweb && (r = fineweb(w, w->prose.p, w->prose.len)))
		return *reason = r, 0;
	stats_count(st, "passed", 1);
	return 1;
}

const struct stage_def stage_web_filter = {
	.name = "web-filter",
	.kind = STAGE_MAP,
	.summary = "drop web pages by Gopher, C4 and FineWeb heuristics (datatrove's defaults)",
	.opts = web_filter_opts,
	.version = 1,
	.setup = web_filter_setup,
	.teardown = web_filter_teardown,
	.map = web_filter_map,
};

/* redact: a map stage that finds secrets (private keys, cloud and service tokens, JWTs,
 * passwords in URLs and assignments, high-entropy strings in assignments) and personal data
 * (e-mail addresses, public IPv4 addresses) in code and web documents, and replaces each with
 * a placeholder of its kind, drops the document or only tags it, as BigCode did before
 * releasing The Stack. Every rule is one row of the table below: its kind, a PCRE2 pattern
 * (JIT-compiled) and a validator that rejects what the pattern alone cannot (placeholders,
 * version numbers, private address ranges, words that look random to an entropy count). What
 * the rule replaces is the pattern's group "s" when it has one, else the whole match.
 * metadata.redacted holds {kind: count}, never the secret. docs/redact.md. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "stages.h"

/* The kinds, in the order findings win when two overlap (a token inside a password
 * assignment is a token). */
#define KINDS(X)                                                                        \
	X(private_key) X(aws_access_key) X(github_token) X(gitlab_token) X(slack_token)     \
	X(slack_webhook) X(stripe_key) X(google_api_key) X(openai_key) X(anthropic_key)   \
	X(huggingface_token) X(npm_token) X(sendgrid_key) X(shopify_token) X(jwt)         \
	X(aws_secret_key) X(url_password) X(password) X(high_entropy) X(email) X(ipv4)
#define KIND_ENUM(k) K_##k,
enum kind { KINDS(KIND_ENUM) NKINDS };
#define KIND_NAME(k) #k,
static const char *const kind_names[NKINDS] = {KINDS(KIND_NAME)};

struct redact;
/* Accepts (1) or rejects (0) the finding text[s, e) of a match; the whole text is given for
 * context checks. */
typedef int (*validator)(const struct redact *r, const char *text, size_t n, size_t s,
			 size_t e);

enum {
	CONF_ONLY = 1,	/* the rule runs on configuration files and shell scripts only */
	LOCAL_PART = 2, /* the match starts at an e-mail's '@': its local part goes before */
};

struct rule {
	enum kind kind;
	const char *pattern;
	validator valid;
	int flags;
};

static int v_any(const struct redact *, const char *, size_t, size_t, size_t);
static int v_key_body(const struct redact *, const char *, size_t, size_t, size_t);
static int v_token(const struct redact *, const char *, size_t, size_t, size_t);
static int v_jwt(const struct redact *, const char *, size_t, size_t, size_t);
static int v_password(const struct redact *, const char *, size_t, size_t, size_t);
static int v_url_password(const struct redact *, const char *, size_t, size_t, size_t);
static int v_entropy(const struct redact *, const char *, size_t, size_t, size_t);
static int v_email(const struct redact *, const char *, size_t, size_t, size_t);
static int v_ipv4(const struct redact *, const char *, size_t, size_t, size_t);

/* A key name of a password, and of a secret, in an assignment: `name = "value"`,
 * `"name": "value"`, `name := value`, `name => value`, `name == "value"`. */
#define PW_WORD "(?i:password|passwd|passphrase)[A-Za-z0-9_.-]{0,20}"
#define SECRET_WORD                                                                     \
	"(?i:secret|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|"             \
	"private[_.-]?key|credential|client[_.-]?secret)[A-Za-z0-9_.-]{0,20}"
/* The whole name, for the rules anchored at a line's start; the others start at the word,
 * so that PCRE2 skips to its first letters instead of trying a name at every byte. */
#define PW_NAME "[A-Za-z0-9_.-]{0,40}" PW_WORD
#define SECRET_NAME "[A-Za-z0-9_.-]{0,40}" SECRET_WORD
#define ASSIGN "[\"']?[ \\t]*(?::=|=>|==?|:)[ \\t]*"
#define QUOTED(least) "(?<q>[\"'`])(?<s>[^\"'`\\s\\\\]{" #least ",200})\\k<q>"
#define BARE(least) "(?<s>[^\\s\"'`]{" #least ",200})[ \\t]*\\r?$"

static const struct rule rules[] = {
	{K_private_key,
	 "-----BEGIN[ A-Z0-9]{0,32}PRIVATE KEY(?: BLOCK)?-----[\\s\\S]{0,65535}?"
	 "-----END[ A-Z0-9]{0,32}PRIVATE KEY(?: BLOCK)?-----",
	 v_key_body, 0},
	{K_aws_access_key, "(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}"
			   "(?![A-Za-z0-9])",
	 v_token, 0},
	{K_github_token, "(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])", v_token,
	 0},
	{K_github_token, "(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"
			 "(?![A-Za-z0-9_])",
	 v_token, 0},
	{K_gitlab_token, "(?<![A-Za-z0-9_-])gl(?:pat|dt|rt|ptt|cbt|soat|ffct|oas)-"
			 "[A-Za-z0-9_-]{20,64}(?![A-Za-z0-9_-])",
	 v_token, 0},
	{K_slack_token, "(?<![A-Za-z0-9-])xox[abposr]-[0-9]{6,16}-[0-9A-Za-z-]{8,240}"
			"(?![A-Za-z0-9-])",
	 v_token, 0},
	{K_slack_webhook, "https://hooks\\.slack\\.com/(?:services|workflows|triggers)/"
			  "T[A-Z0-9]{6,16}/[A-Z0-9]{6,16}/[A-Za-z0-9]{16,64}",
	 v_any, 0},
	{K_stripe_key, "(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,247}"
		       "(?![A-Za-z0-9_])",
	 v_token, 0},
	{K_google_api_key, "(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])", v_token, 0},
	{K_openai_key, "(?<![A-Za-z0-9_-])sk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{16,200}"
		       "T3BlbkFJ[A-Za-z0-9_-]{16,200}(?![A-Za-z0-9_-])",
	 v_token, 0},
	{K_openai_key, "(?<![A-Za-z0-9_-])sk-[A-Za-z0-9]{48}(?![A-Za-z0-9_-])", v_token, 0},
	{K_anthropic_key, "(?<![A-Za-z0-9_-])sk-ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_-]{80,120}"
			  "(?![A-Za-z0-9_-])",
	 v_token, 0},
	{K_huggingface_token, "(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{34}(?![A-Za-z0-9_])", v_token, 0},
	{K_npm_token, "(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9_])", v_token, 0},
	{K_sendgrid_key, "(?<![A-Za-z0-9_.-])SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}"
			 "(?![A-Za-z0-9_-])",
	 v_token, 0},
	{K_shopify_token, "(?<![A-Za-z0-9_])shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}(?![A-Za-z0-9_])",
	 v_token, 0},
	{K_jwt, "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\."
		"[A-Za-z0-9_-]{8,}(?![A-Za-z0-9_-])",
	 v_jwt, 0},
	{K_aws_secret_key, "(?i:aws)[A-Za-z0-9_.-]{0,24}(?i:secret)[A-Za-z0-9_.-]{0,24}" ASSIGN
			   "[\"']?(?<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
	 v_token, 0},
	/* user and password of the characters a URL holds unescaped (RFC 3986); percent-encoded
	 * ones are left alone, as secretlint does: URL parsers' test suites are full of them */
	{K_url_password, "://[A-Za-z0-9._~!$&*+;=-]{1,64}:(?<s>[A-Za-z0-9._~!$&*+;=-]{4,128})@"
			 "[A-Za-z0-9_.-]{1,253}",
	 v_url_password, 0},
	{K_password, PW_WORD ASSIGN "[bru]?" QUOTED(4), v_password, 0},
	{K_password, "(?m)^[ \\t]*(?:export[ \\t]+|set[ \\t]+)?[\"']?" PW_NAME ASSIGN BARE(4),
	 v_password, CONF_ONLY},
	{K_high_entropy, SECRET_WORD ASSIGN "[bru]?" QUOTED(8), v_entropy, 0},
	{K_high_entropy, "(?m)^[ \\t]*(?:export[ \\t]+)?[\"']?" SECRET_NAME ASSIGN BARE(8), v_entropy,
	 CONF_ONLY},
	/* from the '@' on; the local part before it is found by local_part() (PCRE2 10.42 has
	 * no variable-length lookbehind, and a pattern that starts at the local part is tried at
	 * every letter of the text) */
	{K_email, "@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,24}"
		  "(?![A-Za-z0-9-]|\\.[A-Za-z0-9])",
	 v_email, LOCAL_PART},
	{K_ipv4, "(?<![A-Za-z0-9_.-])(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
		 "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?![A-Za-z0-9_-]|\\.[0-9])",
	 v_ipv4, 0},
};
#define NRULES (sizeof rules / sizeof rules[0])

static const struct opt_def redact_opts[] = {
	{"kinds", OPT_LIST, "[]", 0, 0, NULL,
	 "Kinds looked for (private_key, aws_access_key, github_token, gitlab_token, "
	 "slack_token, slack_webhook, stripe_key, google_api_key, openai_key, jwt, "
	 "aws_secret_key, url_password, password, high_entropy, email, ipv4); empty: all."},
	{"action", OPT_ENUM, "redact", 0, 0, "redact|drop|tag",
	 "redact: replace each finding with its placeholder; drop: drop a document with any "
	 "finding (reason: the first finding's kind); tag: only write metadata.redacted."},
	{"placeholder", OPT_STR, "<{KIND}>", 0, 0, NULL,
	 "What replaces a finding; {kind} is its kind, {KIND} the kind in capitals (BigCode's "
	 "<EMAIL>, <KEY> style)."},
	{"sources", OPT_LIST, "[]", 0, 0, NULL,
	 "Document sources scanned (file, repo, commit, web, import, ...); documents of other "
	 "sources pass untouched. Empty: every document."},
	{"min_entropy", OPT_FLOAT, "3.5", 0, 8, NULL,
	 "high_entropy: the least Shannon entropy, bits per character, of a value assigned to a "
	 "secret-like name."},
	{"min_entropy_length", OPT_INT, "16", 1, 200, NULL,
	 "high_entropy: the shortest value judged."},
	{"email_allow", OPT_LIST,
	 "[example.com, example.org, example.net, localhost, users.noreply.github.com]", 0, 0,
	 NULL,
	 "E-mail domains left alone (also any under .example, .test, .invalid, .localhost and "
	 "these domains' subdomains)."},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

struct compiled {
	pcre2_code *re;
	uint32_t group; /* the group replaced: "s", or 0 */
};

struct finding {
	size_t s, e;
	enum kind kind;
};

struct redact {
	struct compiled re[NRULES];
	int on[NKINDS];
	pcre2_match_data *md;
	pcre2_match_context *mc;
	pcre2_jit_stack *stack;
	double min_entropy;
	size_t min_entropy_len;
	const char *const *allow;
	size_t nallow;
	const char *placeholder;
	enum { ACT_REDACT, ACT_DROP, ACT_TAG } action;
	const char *const *sources;
	size_t nsources;
	struct finding *f;
	size_t nf, capf;
	struct buf out;
};

/* ---- validators ---- */

/* 1 if c is one of set's characters (never for NUL, which strchr would find). */
static int in(const char *set, char c)
{
	return c && strchr(set, c) != NULL;
}

static int v_any(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	return 1;
}

/* Shannon entropy of p[0, n) in bits per byte. */
static double entropy(const char *p, size_t n)
{
	unsigned cnt[256] = {0};
	double h = 0;
	for (size_t i = 0; i < n; i++)
		cnt[(unsigned char)p[i]]++;
	for (int c = 0; c < 256; c++)
		if (cnt[c]) {
			double q = (double)cnt[c] / (double)n;
			h -= q * log2(q);
		}
	return h;
}

/* A key block with a body: documentation shows "-----BEGIN RSA PRIVATE KEY-----\n..." with
 * nothing between; a key has hundreds of base64 characters. */
static int v_key_body(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	size_t b64 = 0;
	const char *p = memchr(t + s + 10, '-', e - s - 10); /* the end of "-----BEGIN ..." */
	for (p = p ? p : t + s; p < t + e; p++)
		b64 += isalnum((unsigned char)*p) || *p == '+' || *p == '/';
	return b64 >= 64;
}

/* A token of a fixed format: not a run of one repeated character or of x's ("AKIAXXXX..."
 * templates), and not low entropy (a counting sequence). */
static int v_token(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	size_t len = e - s, x = 0;
	for (size_t i = s; i < e; i++)
		x += t[i] == 'x' || t[i] == 'X' || t[i] == '0' || t[i] == '*';
	if (x * 2 > len)
		return 0;
	return entropy(t + s, len) >= 3.0;
}

/* A JWT's header decodes to a JSON object naming its algorithm. */
static int v_jwt(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	char head[256];
	size_t len = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = s; i < e && t[i] != '.' && len < sizeof head - 1; i++) {
		int v = b64_digit((unsigned char)t[i], 1);
		if (v < 0)
			return 0;
		acc = acc << 6 | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			head[len++] = (char)(acc >> bits & 0xff);
		}
	}
	head[len] = 0;
	return head[0] == '{' && strstr(head, "\"alg\"") != NULL;
}

static int ieq(const char *a, size_t n, const char *b)
{
	return strlen(b) == n && !strncasecmp(a, b, n);
}

/* 1 if s[0, n) holds the lower-case word w, in any case. */
static int memmem_ci(const char *s, size_t n, const char *w)
{
	size_t k = strlen(w);
	for (size_t i = 0; i + k <= n; i++)
		if (!strncasecmp(s + i, w, k))
			return 1;
	return 0;
}

/* Values that stand for a password rather than being one. */
static int placeholder(const char *v, size_t n)
{
	static const char *const words[] = {
		"password", "passwd", "pass", "pwd", "secret", "passphrase", "changeme",
		"example", "test", "dummy", "none", "null", "nil", "true", "false", "undefined",
		"empty", "default", "anonymous", "guest", "user", "username", "required",
		"optional", "string", "redacted", "hidden", "your_password", "yourpassword",
		"mypassword", "my_password", "foobar", "foo", "bar", "xxx", "admin", "root",
		"postgres", "mysql", "letmein", "secret123", "password123", "123456", "12345678",
		"qwerty", "abc123", "s3cr3t", "p4ssw0rd", "passw0rd", "hunter2", NULL};
	size_t same = 0;
	for (size_t i = 0; i < n; i++)
		same += v[i] == v[0];
	if (same == n)
		return 1; /* "xxxxxx", "******" */
	if (in("$%{<@:&*.\\/!?=", v[0]) || memchr(v, '{', n) || memchr(v, '(', n))
		return 1; /* ${VAR}, %(x)s, {{ tpl }}, <password>, @secret, paths, expressions */
	for (size_t i = 0; words[i]; i++)
		if (ieq(v, n, words[i]))
			return 1;
	/* "p@ssword", "pa%2Fssword", "mypassword123", "<your-password>": words of a template */
	static const char *const parts[] = {"passw", "ssword", "changeme", "example", "your",
					    "dummy", "redacted", "placeholder", NULL};
	for (size_t i = 0; parts[i]; i++)
		if (memmem_ci(v, n, parts[i]))
			return 1;
	/* an identifier in capitals names an environment variable, not its value */
	size_t caps = 0;
	for (size_t i = 0; i < n; i++)
		caps += isupper((unsigned char)v[i]) || v[i] == '_' || isdigit((unsigned char)v[i]);
	return caps == n && memchr(v, '_', n) != NULL;
}

/* A password: not a placeholder. */
static int v_password(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	return !placeholder(t + s, e - s);
}

static int allowed_domain(const struct redact *r, const char *d, size_t n);

/* A password in a URL: not a placeholder, and not at a host reserved for examples and
 * tests (example.com, *.test, *.invalid, localhost: RFC 2606 and 6761). */
static int v_url_password(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	const char *host = t + e + 1, *end = host;
	while (end < t + n && (isalnum((unsigned char)*end) || in("_.-", *end)))
		end++;
	return !placeholder(t + s, e - s) && !allowed_domain(r, host, (size_t)(end - host));
}

/* Words look random to an entropy count: "access_token_expire_minutes" has 4 bits a
 * character. A value is wordy when most of its characters sit in runs of four or more
 * lower-case letters (or of capitals): random base64 seldom has such runs, identifiers,
 * words and paths are made of them. The false-positive guard detect-secrets' users add by
 * hand, and BigCode's gibberish check, do the same job. */
static int wordy(const char *v, size_t n)
{
	size_t inrun = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		if (islower((unsigned char)v[i]))
			while (j < n && islower((unsigned char)v[j]))
				j++;
		else if (isupper((unsigned char)v[i]))
			while (j < n && isupper((unsigned char)v[j]))
				j++;
		else
			j = i + 1;
		if (j - i >= 4)
			inrun += j - i;
		i = j;
	}
	return inrun * 2 >= n;
}

/* A high-entropy value: long enough, random enough, of a key-like alphabet, not a word. */
static int v_entropy(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	const char *v = t + s;
	size_t len = e - s;
	if (len < r->min_entropy_len || placeholder(v, len))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)v[i]) && !in("+/=_-.~", v[i]))
			return 0;
	if (wordy(v, len))
		return 0;
	return entropy(v, len) >= r->min_entropy;
}

/* Domains the user lets through, their subdomains, and reserved names (RFC 2606, 6761). */
static int allowed_domain(const struct redact *r, const char *d, size_t n)
{
	static const char *const reserved[] = {".example", ".test", ".invalid", ".localhost"};
	for (size_t i = 0; i < 4; i++) {
		size_t k = strlen(reserved[i]);
		if (n >= k && !strncasecmp(d + n - k, reserved[i], k))
			return 1;
	}
	for (size_t i = 0; i < r->nallow; i++) {
		size_t k = strlen(r->allow[i]);
		if (n >= k && !strncasecmp(d + n - k, r->allow[i], k) &&
		    (n == k || d[n - k - 1] == '.'))
			return 1;
	}
	return 0;
}

/* An e-mail address: not in a URL's user part (ssh://git@host, user:pass@host), not an
 * image or file name (icon@2x.png), not an allowed domain. */
static int v_email(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	static const char *const files[] = {"png", "jpg", "jpeg", "gif", "svg", "webp", "js",
					    "css", "py", "c", "h", "so", "txt", "json", "html",
					    "md", "ts", "zip", "gz", "tar", "exe", "dll", NULL};
	if (s > 0 && (t[s - 1] == '/' || (t[s - 1] == ':' && !(s >= 7 &&
			 !strncasecmp(t + s - 7, "mailto:", 7)))))
		return 0;
	const char *at = memchr(t + s, '@', e - s), *dom = at + 1;
	const char *tld = t + e;
	while (tld[-1] != '.')
		tld--;
	for (size_t i = 0; files[i]; i++)
		if (ieq(tld, (size_t)(t + e - tld), files[i]))
			return 0;
	return !allowed_domain(r, dom, (size_t)(t + e - dom));
}

/* A public IPv4 address: outside the private, loopback, link-local, shared, documentation,
 * benchmarking, multicast and reserved ranges (RFC 6890), and not a version number
 * ("version 1.2.3.4", "v2.0.0.1"). */
static int v_ipv4(const struct redact *r, const char *t, size_t n, size_t s, size_t e)
{
	unsigned o[4];
	if (sscanf(t + s, "%u.%u.%u.%u", &o[0], &o[1], &o[2], &o[3]) != 4)
		return 0;
	/* dotted numbers of small parts are clause and section numbers ("[27.2.3.1]", "RFC
	 * 8446, Section 7.1"), versions and OIDs far more often than hosts; the public hosts
	 * among them are well-known resolvers (8.8.8.8, 1.1.1.1), not personal data */
	if (o[0] < 32 && o[1] < 32 && o[2] < 32 && o[3] < 32)
		return 0;
	uint32_t a = o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3];
	static const struct {
		uint32_t net;
		int bits;
	} reserved[] = {
		{0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10}, {0x7f000000, 8},
		{0xa9fe0000, 16}, {0xac100000, 12}, {0xc0000000, 24}, {0xc0000200, 24},
		{0xc0a80000, 16}, {0xc6120000, 15}, {0xc6336400, 24}, {0xcb007100, 24},
		{0xe0000000, 4},  {0xf0000000, 4},
	};
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
		if ((a & ~(0xffffffffu >> reserved[i].bits)) == reserved[i].net)
			return 0;
	/* "v1.2.3.4", "version 1.2.3.4", "Release: 1.2.3.4", "rev 1.0.0.2" */
	char before[24];
	size_t from = s >= sizeof before - 1 ? s - (sizeof before - 1) : 0, m = 0;
	for (size_t i = from; i < s; i++)
		before[m++] = (char)tolower((unsigned char)t[i]);
	before[m] = 0;
	while (m > 0 && in(" \t:=(\"'", before[m - 1]))
		before[--m] = 0;
	while (m > 0 && before[m - 1] == '.')
		before[--m] = 0; /* "ver. 1.2.3.4" */
	size_t w = m;
	while (w > 0 && isalpha((unsigned char)before[w - 1]))
		w--;
	const char *last = before + w; /* the word just before, or "v" glued to the number */
	return strcmp(last, "v") && strcmp(last, "ver") && strcmp(last, "rev") &&
	       !strstr(before, "version") && !strstr(before, "release");
}

/* ---- the stage ---- */

static void redact_teardown(struct stage_run *run)
{
	struct redact *r = run->state;
	if (!r)
		return;
	for (size_t i = 0; i < NRULES; i++)
		pcre2_code_free(r->re[i].re);
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mc);
	pcre2_jit_stack_free(r->stack);
	free(r->f);
	buf_release(&r->out);
	free(r);
	run->state = NULL;
}

/* redact.kinds into on[kind]; the signature calls it too, so a bad kind fails at planning. */
static int redact_kinds(const struct config *c, int on[NKINDS])
{
	const char *const *kinds;
	size_t nk = config_list(c, "redact.kinds", &kinds);
	for (int k = 0; k < NKINDS; k++)
		on[k] = nk == 0;
	for (size_t i = 0; i < nk; i++) {
		int k = 0;
		while (k < NKINDS && strcmp(kinds[i], kind_names[k]))
			k++;
		if (k == NKINDS) {
			err_set("redact.kinds: unknown kind '%s' (see curate redact --help)", kinds[i]);
			return -1;
		}
		on[k] = 1;
	}
	return 0;
}

static int redact_signature(struct stage_run *run, struct buf *sig)
{
	int on[NKINDS];
	return redact_kinds(run->cfg, on);
}

static int redact_setup(struct stage_run *run)
{
	const struct config *c = run->cfg;
	struct redact *r = xcalloc(1, sizeof *r);
	run->state = r;
	if (redact_kinds(c, r->on) < 0)
		goto fail;
	for (size_t i = 0; i < NRULES; i++) {
		int ec;
		PCRE2_SIZE off;
		pcre2_code *re = pcre2_compile((PCRE2_SPTR)rules[i].pattern, PCRE2_ZERO_TERMINATED,
					       PCRE2_DUPNAMES, &ec, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(ec, msg, sizeof msg);
			err_set("redact: rule %zu (%s): pattern error at %zu: %s", i,
				kind_names[rules[i].kind], (size_t)off, (char *)msg);
			goto fail;
		}
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* the interpreter if JIT is absent */
		int g = pcre2_substring_number_from_name(re, (PCRE2_SPTR) "s");
		r->re[i].re = re;
		r->re[i].group = g > 0 ? (uint32_t)g : 0;
	}
	r->md = pcre2_match_data_create(16, NULL);
	r->mc = pcre2_match_context_create(NULL);
	r->stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
	pcre2_jit_stack_assign(r->mc, NULL, r->stack);
	r->min_entropy = config_float(c, "redact.min_entropy");
	r->min_entropy_len = (size_t)config_int(c, "redact.min_entropy_length");
	r->nallow = config_list(c, "redact.email_allow", &r->allow);
	r->placeholder = config_str(c, "redact.placeholder");
	const char *a = config_str(c, "redact.action");
	r->action = !strcmp(a, "drop") ? ACT_DROP : !strcmp(a, "tag") ? ACT_TAG : ACT_REDACT;
	r->nsources = config_list(c, "redact.sources", &r->sources);
	return 0;
fail:
	redact_teardown(run);
	return -1;
}

/* Configuration files and shell scripts, where values stand unquoted: name = value. */
static int config_like(const char *path)
{
	static const char *const ext[] = {".env", ".ini", ".cfg", ".conf", ".properties",
					  ".yaml", ".yml", ".toml", ".sh", ".bash", ".zsh",
					  ".envrc", ".netrc", ".pgpass", ".npmrc", ".pypirc", NULL};
	if (!path)
		return 0;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (!strncmp(base, ".env", 4))
		return 1;
	size_t n = strlen(base);
	for (size_t i = 0; ext[i]; i++) {
		size_t k = strlen(ext[i]);
		if (n >= k && !strcasecmp(base + n - k, ext[i]))
			return 1;
	}
	return 0;
}

/* The start of the e-mail local part that ends at t[at] == '@': the longest run of its
 * characters, at most 64, starting with a letter or digit; (size_t)-1 when there is none. */
static size_t local_part(const char *t, size_t at)
{
	size_t s = at;
	while (s > 0 && at - s <= 64 &&
	       (isalnum((unsigned char)t[s - 1]) || in("._%+-", t[s - 1])))
		s--;
	if (s == at || at - s > 64 || !isalnum((unsigned char)t[s]))
		return (size_t)-1;
	return s;
}

/* 1 when [s, e) overlaps a finding already made (a higher rule's). */
static int taken(const struct redact *r, size_t s, size_t e)
{
	for (size_t i = 0; i < r->nf; i++)
		if (s < r->f[i].e && r->f[i].s < e)
			return 1;
	return 0;
}

/* Runs the rules over the text into r->f; -1 when the matcher fails (a counter says). */
static int scan(struct redact *r, struct stats *st, const char *t, size_t n, int conf)
{
	r->nf = 0;
	for (size_t i = 0; i < NRULES; i++) {
		const struct rule *ru = &rules[i];
		if (!r->on[ru->kind] || ((ru->flags & CONF_ONLY) && !conf))
			continue;
		PCRE2_SIZE pos = 0;
		for (;;) {
			int rc = pcre2_match(r->re[i].re, (PCRE2_SPTR)t, n, pos, 0, r->md, r->mc);
			if (rc == PCRE2_ERROR_NOMATCH)
				break;
			if (rc < 0) {
				stats_count(st, "match_errors", 1);
				return -1;
			}
			PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
			size_t g = r->re[i].group, s = ov[2 * g], e = ov[2 * g + 1];
			if (ru->flags & LOCAL_PART)
				s = local_part(t, s);
			if (s < e && !taken(r, s, e) && ru->valid(r, t, n, s, e)) {
				if (r->nf == r->capf) {
					r->capf = r->capf ? 2 * r->capf : 16;
					r->f = xrealloc(r->f, r->capf * sizeof *r->f);
				}
				r->f[r->nf++] = (struct finding){s, e, ru->kind};
			}
			/* on: past the match, or one byte past an empty one */
			pos = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
			if (pos > n)
				break;
		}
	}
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

static void put_placeholder(struct buf *out, const char *tpl, enum kind k)
{
	for (const char *p = tpl; *p; p++) {
		if (!strncmp(p, "{kind}", 6) || !strncmp(p, "{KIND}", 6)) {
			for (const char *q = kind_names[k]; *q; q++)
				buf_putc(out, p[1] == 'K' ? (char)toupper((unsigned char)*q) : *q);
			p += 5;
		} else {
			buf_putc(out, *p);
		}
	}
}

static int redact_map(struct stage_run *run, struct doc *d, const char **reason)
{
	struct redact *r = run->state;
	struct stats *st = stage_stats(run);
	if (r->nsources && !str_listed(d->source.p ? d->source.p : "", r->sources, r->nsources)) {
		stats_count(st, "other_source", 1);
		return 1;
	}
	const char *t = d->text.p ? d->text.p : "";
	const char *path = json_string_value(json_object_get(d->meta, "path"));
	if (scan(r, st, t, d->text.len, config_like(path)) < 0) {
		log_warn("redact: %s: the matcher failed (a match or JIT stack limit); the document "
			 "is kept unchanged", d->id.p ? d->id.p : "?");
		return 1;
	}
	if (!r->nf)
		return 1;
	qsort(r->f, r->nf, sizeof *r->f, by_start);
	size_t count[NKINDS] = {0};
	for (size_t i = 0; i < r->nf; i++)
		count[r->f[i].kind]++;
	json_t *m = json_object();
	for (int k = 0; k < NKINDS; k++)
		if (count[k]) {
			char name[64];
			json_object_set_new(m, kind_names[k], json_integer((json_int_t)count[k]));
			snprintf(name, sizeof name, "found_%s", kind_names[k]);
			stats_count(st, name, count[k]);
		}
	json_object_set_new(d->meta, "redacted", m);
	stats_count(st, "documents_with_findings", 1);
	if (r->action == ACT_DROP)
		return *reason = kind_names[r->f[0].kind], 0;
	if (r->action == ACT_TAG)
		return 1;
	buf_reset(&r->out);
	size_t at = 0;
	for (size_t i = 0; i < r->nf; i++) {
		buf_append(&r->out, t + at, r->f[i].s - at);
		put_placeholder(&r->out, r->placeholder, r->f[i].kind);
		at = r->f[i].e;
	}
	buf_append(&r->out, t + at, d->text.len - at);
	buf_set(&d->text, r->out.p, r->out.len);
	return 1;
}

const struct stage_def stage_redact = {
	.name = "redact",
	.kind = STAGE_MAP,
	.summary = "replace secrets, e-mail and IP addresses with placeholders (or drop, or tag)",
	.opts = redact_opts,
	.version = 1,
	.signature = redact_signature,
	.setup = redact_setup,
	.teardown = redact_teardown,
	.map = redact_map,
};

/* github/repo: the repository list's line format, checked field by field so that a bad
 * line names what is wrong. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "github/repo.h"
#include "util.h"

void gh_repo_release(struct gh_repo *r)
{
	free(r->name);
	free(r->url);
	free(r->path);
	free(r->license);
	free(r->ref);
	*r = (struct gh_repo){0};
}

char *gh_repo_name(const char *where)
{
	size_t n = strlen(where);
	while (n && where[n - 1] == '/')
		n--;
	if (n >= 4 && !memcmp(where + n - 4, ".git", 4))
		n -= 4;
	size_t start = n, slashes = 0;
	while (start > 0) {
		char c = where[start - 1];
		if (c == ':' || (c == '/' && ++slashes == 2))
			break;
		start--;
	}
	if (start < n && where[start] == '/')
		start++;
	return start < n ? xstrndup(where + start, n - start) : xstrdup("repo");
}

static int get_str(json_t *j, const char *key, char **out)
{
	json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !json_string_length(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		err_set("field '%s' must be a non-empty string without NUL", key);
		return -1;
	}
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int get_count(json_t *j, const char *key, int64_t *out)
{
	json_t *v = json_object_get(j, key);
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9e18) {
		*out = (int64_t)json_real_value(v);
		return 0;
	}
	err_set("field '%s' must be a number >= 0", key);
	return -1;
}

int gh_repo_parse(const char *line, size_t len, struct gh_repo *r)
{
	*r = (struct gh_repo){0};
	json_error_t jerr;
	json_t *j = json_loadb(line, len, 0, &jerr);
	if (!j || !json_is_object(j)) {
		err_set("not a JSON object%s%s", j ? "" : ": ", j ? "" : jerr.text);
		json_decref(j);
		return -1;
	}
	int rc = -1;
	if (get_str(j, "url", &r->url) || get_str(j, "path", &r->path) ||
	    get_str(j, "name", &r->name) || get_str(j, "license", &r->license) ||
	    get_str(j, "ref", &r->ref) || get_count(j, "stars", &r->stars) ||
	    get_count(j, "forks", &r->forks))
		goto out;
	if (!r->url == !r->path) {
		err_set("give exactly one of 'url' and 'path'");
		goto out;
	}
	if (r->url && strncmp(r->url, "https://", 8) && strncmp(r->url, "http://", 7) &&
	    strncmp(r->url, "ssh://", 6) && strncmp(r->url, "file://", 7) &&
	    strncmp(r->url, "git://", 6) && !strchr(r->url, '@')) {
		err_set("url '%s' is not https://, ssh://, git://, file:// or user@host:path", r->url);
		goto out;
	}
	if (!r->name)
		r->name = gh_repo_name(r->url ? r->url : r->path);
	if (!r->ref)
		r->ref = xstrdup("HEAD");
	rc = 0;
out:
	json_decref(j);
	return rc;
}

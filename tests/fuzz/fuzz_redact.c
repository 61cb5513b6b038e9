/* fuzz_redact: the redact stage's map over any bytes, as a code file (quoted rules only) and
 * as a configuration file (the unquoted rules too), redacting and tagging. It must end,
 * keep every document, and agree with itself: tagging leaves the text as it was and writes
 * the same metadata.redacted as redacting; each kind counted has at least that many of its
 * placeholders in the redacted text; a text without findings comes back unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage.h"
#include "stages.h"

static struct stage_run runs[2]; /* 0 redacts, 1 tags */

static void setup(void)
{
	static char *ov[2][1] = {{"redact.action=redact"}, {"redact.action=tag"}};
	size_t ns;
	const struct config_section *sec = stage_config_sections(&ns);
	for (int i = 0; i < 2; i++) {
		struct config *cfg = config_load(NULL, sec, ns, ov[i], 1);
		if (!cfg)
			abort();
		runs[i].def = &stage_redact;
		runs[i].cfg = cfg;
		runs[i].stats = calloc(1, sizeof *runs[i].stats);
		stats_init(runs[i].stats);
		if (stage_redact.setup(&runs[i]) != 0) {
			fprintf(stderr, "setup: %s\n", err_get());
			abort();
		}
	}
}

static size_t occurrences(const char *p, size_t n, const char *w)
{
	size_t k = strlen(w), c = 0;
	for (size_t i = 0; i + k <= n; i++)
		c += !memcmp(p + i, w, k);
	return c;
}

static void one(const uint8_t *data, size_t size, const char *path)
{
	static struct doc d[2];
	static int ready;
	if (!ready) {
		doc_init(&d[0]);
		doc_init(&d[1]);
		ready = 1;
	}
	for (int i = 0; i < 2; i++) {
		const char *reason = NULL;
		doc_reset(&d[i]);
		buf_set(&d[i].id, "fuzz", 4);
		buf_set(&d[i].source, "import", 6);
		buf_set(&d[i].text, (const char *)data, size);
		json_object_set_new(d[i].meta, "path", json_string(path));
		if (stage_redact.map(&runs[i], &d[i], &reason) != 1)
			abort(); /* redact and tag keep every document */
	}
	if (d[1].text.len != size || (size && memcmp(d[1].text.p, data, size)))
		abort(); /* tag changed the text */
	json_t *m0 = json_object_get(d[0].meta, "redacted"), *m1 = json_object_get(d[1].meta, "redacted");
	if (!json_equal(m0, m1) && (m0 || m1))
		abort(); /* the two actions saw different findings */
	if (!m0) {
		if (d[0].text.len != size || (size && memcmp(d[0].text.p, data, size)))
			abort(); /* changed without a finding */
		return;
	}
	const char *kind;
	json_t *n;
	json_object_foreach(m0, kind, n) {
		char ph[64];
		size_t k = 0;
		ph[k++] = '<';
		for (const char *q = kind; *q && k < sizeof ph - 2; q++)
			ph[k++] = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
		ph[k++] = '>';
		ph[k] = 0;
		if (json_integer_value(n) < 1 ||
		    occurrences(d[0].text.p, d[0].text.len, ph) < (size_t)json_integer_value(n))
			abort(); /* a counted finding without its placeholder */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		setup();
		ready = 1;
	}
	one(data, size, "src/main.py");
	one(data, size, "deploy/.env");
	return 0;
}

/* fuzz_license: the licence identifier over any bytes. The input is read as SPDX texts
 * (lic_db_parse: NULL with an error naming the input, or a database that identifies its own
 * texts' ids only), and as a file against the built-in texts: lic_identify returns NULL or
 * an id with a score in [LIC_MIN_SCORE, 1]; lic_spdx_header yields a string without a line
 * break; lic_type of it is one of the three kinds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "github/license.h"
#include "github/spdx.h"

static void check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_license: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lic_db *builtin;
	static struct buf ids;
	if (!builtin && !(builtin = lic_db_builtin()))
		abort();
	const char *text = (const char *)data;
	struct lic_db *db = lic_db_parse(text, size, "fuzz.json");
	if (db) {
		double s;
		const char *id = lic_identify(db, text, size, &s);
		check(!id || (s >= LIC_MIN_SCORE && s <= 1.0 + 1e-9), "score out of range (own db)");
		lic_db_free(db);
	} else {
		check(strstr(err_get(), "fuzz.json") != NULL, "an error that does not name the input");
	}
	double s = -1;
	const char *id = lic_identify(builtin, text, size, &s);
	check(s >= 0 && s <= 1.0 + 1e-9, "score out of [0, 1]");
	check(!id || s >= LIC_MIN_SCORE, "an id below the threshold");
	if (lic_spdx_header(text, size, &ids)) {
		check(!memchr(ids.p, '\n', ids.len), "a header value with a line break");
		const char *t = lic_type(ids.p, lic_default_permissive, SIZE_MAX);
		check(!strcmp(t, "permissive") || !strcmp(t, "copyleft") || !strcmp(t, "unknown"),
		      "a type that is none of the three");
	}
	return 0;
}

/* github/filter: the basic file filters of the GitHub source, each with a drop reason:
 * vendored directories, lock files, generated and minified code, size, Git LFS pointers,
 * binary content, encodings other than UTF-8 (transcoded or dropped), very long lines.
 * Path rules run before a blob is read; content rules after. Pure functions: no git here. */
#ifndef CURATE_GH_FILTER_H
#define CURATE_GH_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct gh_filter {
	uint64_t max_size;         /* bytes; larger blobs: too_large */
	size_t max_line;           /* bytes; a longer line: long_line (0: off) */
	size_t minified_avg_line;  /* javascript/css/json with a longer mean line: minified */
	bool transcode;            /* non-UTF-8 text: transcode (else drop invalid_encoding) */
	const char *const *vendor_dirs; size_t nvendor;     /* directory names */
	const char *const *lock_files; size_t nlock;        /* file names */
	const char *const *generated_names; size_t ngen;    /* globs on the file name */
	const char *const *generated_markers; size_t nmark; /* strings in the first 1 KiB */
};

/* Path rules: NULL to go on, or the drop reason (vendored, lock_file, generated, minified). */
const char *gh_filter_path(const struct gh_filter *f, const char *path);

/* Content rules on text (the blob, replaced by its UTF-8 form when transcoded; *encoding
 * then names the source encoding, else NULL). lang may be NULL. NULL keeps the file, or the
 * drop reason: empty, lfs_pointer, binary, invalid_encoding, generated, minified, long_line. */
const char *gh_filter_content(const struct gh_filter *f, const char *lang, struct buf *text,
			      const char **encoding);

/* Transcodes text (not valid UTF-8) into UTF-8 in place: UTF-16 with a byte-order mark,
 * else Windows-1252, else ISO-8859-1 (which always succeeds). Returns the source encoding's
 * name. */
const char *gh_transcode(struct buf *text);

/* Converts n bytes in encoding from (an iconv name) to UTF-8 into out; 0 on success, -1 when
 * from is unknown or cannot decode the bytes. */
int gh_to_utf8(const char *from, const char *in, size_t n, struct buf *out);

/* A git path as documents show it (ids, metadata, headers in text): the path itself when it is
 * valid UTF-8 without control characters, else git's quoted form (as `git ls-tree` prints it
 * with core.quotePath): in double quotes, with \" \\ \a \b \t \n \v \f \r, and octal
 * escapes for other control bytes and for every byte >= 0x80. Such a path then names its bytes
 * unambiguously instead of being lost (jansson refuses strings that are not UTF-8) or having its
 * bytes replaced. Returns path or tmp->p. */
const char *gh_path_shown(const char *path, struct buf *tmp);

#endif

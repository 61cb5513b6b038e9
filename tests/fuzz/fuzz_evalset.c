/* fuzz_evalset: libFuzzer target for the evaluation set loader of the decontaminate stage.
 * The input is written as a JSONL file and as a plain text file and loaded (text by block),
 * the index is built and the input itself is checked against it; the first line is also
 * parsed as a NAME=PATH:FIELDS spec. Errors are fine; crashes and leaks are not. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decontaminate/evalset.h"
#include "util.h"

static char jpath[64], tpath[64];

static void remove_inputs(void)
{
	unlink(jpath);
	unlink(tpath);
}

static void write_input(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
}

static void load_and_check(const char *spec, enum evalset_unit unit, unsigned n,
			   const uint8_t *data, size_t size)
{
	static const char *fields[] = {"prompt", "canonical_solution", "test", "text"};
	static const char *ids[] = {"task_id", "id"};
	struct evalset_opts o = {n, fields, ARRAY_LEN(fields), ids, ARRAY_LEN(ids), unit};
	struct evalset *es = evalset_new(&o);
	if (evalset_load(es, spec) == 0) {
		evalset_build(es);
		struct evalset_hit h;
		struct buf hb = BUF_INIT;
		for (uint32_t threshold = 1; threshold <= 3; threshold++)
			if (evalset_check(es, (const char *)data, size, threshold, &h, &hb) &&
			    (!h.benchmark || !h.item || !h.ngram || h.offset >= size))
				abort();
		buf_release(&hb);
	}
	evalset_free(es);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		snprintf(jpath, sizeof jpath, "/tmp/fuzz_evalset.%d.jsonl", (int)getpid());
		snprintf(tpath, sizeof tpath, "/tmp/fuzz_evalset.%d.txt", (int)getpid());
		atexit(remove_inputs);
		ready = 1;
	}
	write_input(jpath, data, size);
	write_input(tpath, data, size);
	unsigned n = size ? 1 + data[0] % 12 : 10;
	char *spec = xasprintf("b=%s", jpath);
	load_and_check(spec, EVALSET_FILE, n, data, size);
	free(spec);
	spec = xasprintf("b=%s:text,test", jpath);
	load_and_check(spec, EVALSET_FILE, n, data, size);
	free(spec);
	spec = xasprintf("t=%s", tpath);
	load_and_check(spec, EVALSET_BLOCK, n, data, size);
	free(spec);

	/* the first line, cut at a NUL, as a spec */
	size_t k = 0;
	while (k < size && data[k] != '\n' && data[k])
		k++;
	char *line = xstrndup((const char *)data, k), *name, *path, *fields;
	if (evalset_parse_spec(line, &name, &path, &fields) == 0)
		free(name), free(path), free(fields);
	free(line);
	return 0;
}

/* fuzz_fasttext_quant: libFuzzer target for the option parser of `curate fasttext quantize`
 * (ft_quant_args_parse). The input is split at NUL and newline bytes into argv words (empty
 * words included). A rejected command line must say why; an accepted one must have every
 * number in its documented range, strings that are argv's own words, flags only when named,
 * and must parse again, written out canonically, to the same options. The corpus holds the
 * command lines of tests/e2e/fasttext_quant.sh, one word a line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fasttext/fasttext.h"
#include "util.h"

static int is_word(char **argv, int argc, const char *p)
{
	for (int i = 0; i < argc; i++)
		if (argv[i] == p)
			return 1;
	return 0;
}

static int named(char **argv, int argc, const char *flag)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], flag))
			return 1;
	return 0;
}

static void check(const struct ft_quant_args *q, char **argv, int argc)
{
	if (!q->output || !is_word(argv, argc, q->output))
		abort();
	if (q->input && !is_word(argv, argc, q->input))
		abort();
	/* -lr is read as a float (std::stof); the default is Args' double 0.05 */
	if (!(q->lr > 0 && q->lr <= 1e6) || (q->lr != (double)(float)q->lr && q->lr != 0.05))
		abort();
	if (q->epoch < 1 || q->epoch > 1000000 || q->cutoff < 0 || q->dsub < 1 ||
	    q->dsub > 65536 || q->thread < 1 || q->thread > 1024 || q->verbose < 0 ||
	    q->verbose > 10)
		abort();
	if ((q->qnorm && !named(argv, argc, "-qnorm")) || (q->qout && !named(argv, argc, "-qout")) ||
	    (q->retrain && !named(argv, argc, "-retrain")))
		abort();
}

/* Writes q as a canonical command line and parses it again: the same options must come back. */
static void round_trip(const struct ft_quant_args *q)
{
	char nums[6][64];
	char *w[32];
	int n = 0;
	w[n++] = "-output", w[n++] = (char *)q->output;
	if (q->input)
		w[n++] = "-input", w[n++] = (char *)q->input;
	snprintf(nums[0], sizeof nums[0], "%a", q->lr); /* hex: strtod reads it back exactly */
	snprintf(nums[1], sizeof nums[1], "%d", q->epoch);
	snprintf(nums[2], sizeof nums[2], "%d", q->cutoff);
	snprintf(nums[3], sizeof nums[3], "%d", q->dsub);
	snprintf(nums[4], sizeof nums[4], "%d", q->thread);
	snprintf(nums[5], sizeof nums[5], "%d", q->verbose);
	static const char *names[] = {"-lr", "-epoch", "-cutoff", "-dsub", "-thread", "-verbose"};
	struct ft_quant_args d;
	ft_quant_args_default(&d);
	for (int i = q->lr == d.lr; i < 6; i++) /* a written -lr is a float: not the default */
		w[n++] = (char *)names[i], w[n++] = nums[i];
	if (q->qnorm)
		w[n++] = "-qnorm";
	if (q->qout)
		w[n++] = "-qout";
	if (q->retrain)
		w[n++] = "-retrain";
	struct ft_quant_args r;
	if (ft_quant_args_parse(&r, n, w))
		abort();
	if (r.output != q->output || r.input != q->input || r.lr != q->lr || r.epoch != q->epoch ||
	    r.cutoff != q->cutoff || r.dsub != q->dsub || r.thread != q->thread ||
	    r.verbose != q->verbose || r.qnorm != q->qnorm || r.qout != q->qout ||
	    r.retrain != q->retrain)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	buf[size] = 0;
	int argc = size ? 1 : 0;
	for (size_t i = 0; i < size; i++)
		if (buf[i] == '\n' || buf[i] == 0)
			argc++;
	if (size && (buf[size - 1] == '\n' || buf[size - 1] == 0))
		argc--; /* a final separator ends the last word; it starts no empty one */
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	if (!argv) {
		free(buf);
		return 0;
	}
	int n = 0;
	for (size_t i = 0, start = 0; i <= size && n < argc; i++)
		if (i == size || buf[i] == '\n' || buf[i] == 0) {
			buf[i] = 0;
			argv[n++] = buf + start;
			start = i + 1;
		}
	if (n != argc)
		abort();

	struct ft_quant_args q;
	err_set("%s", ""); /* cleared: err_get() says "unknown error" until the parser sets one */
	if (ft_quant_args_parse(&q, argc, argv)) {
		if (!strcmp(err_get(), "unknown error"))
			abort();
	} else {
		check(&q, argv, argc);
		round_trip(&q);
	}
	free(argv);
	free(buf);
	return 0;
}

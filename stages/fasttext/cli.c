/* cli: `curate fasttext <verb>`, fastText's command line for supervised models (supervised,
 * test, predict, predict-prob, quantize, with fastText's options and output formats) plus
 * split-eval, which trains on 70% of a labelled file and reports precision and recall of one
 * label on the other 30% so a user can choose the relevance stage's threshold. Rank 0. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ft_internal.h"
#include "par.h"

static const char usage[] =
	"usage: curate fasttext <verb> ...\n"
	"  supervised -input FILE -output PREFIX [fastText options]  train; writes PREFIX.bin, .vec\n"
	"  test MODEL FILE [k] [threshold]         N, P@k, R@k as fastText prints them\n"
	"  predict MODEL FILE [k] [threshold]      the k best labels of each line\n"
	"  predict-prob MODEL FILE [k] [threshold] the same with probabilities\n"
	"  quantize -output PREFIX [-input FILE] [-qnorm] [-qout] [-retrain] [-epoch N] [-lr R]\n"
	"           [-cutoff N] [-dsub 2] [-thread N]   PREFIX.bin -> PREFIX.ftz\n"
	"  split-eval -input FILE -output PREFIX [-positive LABEL] [-threshold T]\n"
	"             [-recall R] [-ratio 0.7] [fastText options]\n"
	"      trains on a 70% split, reports precision/recall of LABEL on the 30%\n"
	"FILE may be '-' for standard input. Options of 'supervised' (fastText's names):\n"
	"  -lr -lrUpdateRate -dim -ws -epoch -minCount -minCountLabel -neg -wordNgrams\n"
	"  -loss softmax|hs|ns|ova -bucket -minn -maxn -thread -t -label -verbose -seed\n";

static FILE *open_in(const char *path)
{
	if (!strcmp(path, "-"))
		return stdin;
	FILE *f = fopen(path, "rb");
	if (!f)
		err_set("%s: %s", path, strerror(errno));
	return f;
}

static int parse_k(int argc, char **argv, int at, int *k, float *th)
{
	*k = 1, *th = 0.0f;
	char *end;
	if (argc > at) {
		long v = strtol(argv[at], &end, 10);
		if (*end || (v < 1 && v != -1) || v > 1 << 30) { /* -1: every label */
			err_set("k: expected a positive count, got '%s'", argv[at]);
			return -1;
		}
		*k = (int)v;
	}
	if (argc > at + 1) {
		*th = strtof(argv[at + 1], &end);
		if (*end) {
			err_set("threshold: expected a number, got '%s'", argv[at + 1]);
			return -1;
		}
	}
	return 0;
}

static int cmd_supervised(int argc, char **argv)
{
	struct ft_args a;
	ft_args_default(&a);
	struct ft_model *m;
	if (ft_args_parse(&a, argc, argv) || ft_train(&a, &m))
		return -1;
	char *bin = xasprintf("%s.bin", a.output), *vec = xasprintf("%s.vec", a.output);
	int rc = ft_model_save(m, bin) || ft_model_save_vectors(m, vec) ? -1 : 0;
	free(bin), free(vec);
	ft_model_free(m);
	return rc;
}

/* One labelled or unlabelled stream through the model: `test` counts (the meter), the two
 * predict verbs print each line's labels (with probabilities for predict-prob). */
static void run_lines(const struct ft_model *m, FILE *in, int k, float th, int prob,
		      struct ft_meter *mt)
{
	if (mt)
		memset(mt, 0, sizeof *mt);
	struct ft_state *s = ft_state_new(m);
	struct ft_pred *p = xmalloc((size_t)(ft_model_nlabels(m) + 1) * sizeof *p);
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	while ((got = getline(&line, &cap, in)) > 0) {
		int n = ft_predict(m, s, line, (size_t)got, k, th, p);
		if (!mt) {
			for (int i = 0; i < n; i++) {
				if (i)
					putchar(' ');
				fputs(ft_model_label(m, p[i].label), stdout);
				if (prob)
					printf(" %g", (double)ft_pred_prob(&p[i]));
			}
			putchar('\n');
			continue;
		}
		if (!s->nlabels || !s->nids)
			continue;
		mt->examples++;
		mt->gold += s->nlabels;
		mt->predicted += (uint64_t)n;
		for (int i = 0; i < n; i++)
			for (size_t j = 0; j < s->nlabels; j++)
				if (s->labels[j] == p[i].label) {
					mt->predicted_gold++;
					break;
				}
	}
	free(line), free(p);
	ft_state_free(s);
}

int ft_test(const struct ft_model *m, FILE *in, int k, float threshold, struct ft_meter *mt)
{
	run_lines(m, in, k, threshold, 0, mt);
	return 0;
}

/* test, predict, predict-prob: MODEL FILE [k] [threshold]. */
static int cmd_eval(int argc, char **argv, const char *verb)
{
	int k;
	float th;
	if (argc < 2 || argc > 4) {
		err_set("expected MODEL FILE [k] [threshold]");
		return -1;
	}
	if (parse_k(argc, argv, 2, &k, &th))
		return -1;
	struct ft_model *m = ft_model_open(argv[0]);
	FILE *in = m ? open_in(argv[1]) : NULL;
	if (!in) {
		ft_model_free(m);
		return -1;
	}
	struct ft_meter mt;
	bool test = !strcmp(verb, "test");
	run_lines(m, in, k, th, !strcmp(verb, "predict-prob"), test ? &mt : NULL);
	if (in != stdin)
		fclose(in);
	ft_model_free(m);
	if (test) {
		printf("N\t%llu\n", (unsigned long long)mt.examples);
		printf("P@%d\t%.3g\n", k,
		       mt.predicted ? (double)mt.predicted_gold / (double)mt.predicted : NAN);
		printf("R@%d\t%.3g\n", k, mt.gold ? (double)mt.predicted_gold / (double)mt.gold : NAN);
	}
	return 0;
}

/* quantize -output PREFIX [options]: PREFIX.bin in, PREFIX.ftz out, as fastText's. */
static int cmd_quantize(int argc, char **argv)
{
	struct ft_quant_args q;
	if (ft_quant_args_parse(&q, argc, argv))
		return -1;
	char *bin = xasprintf("%s.bin", q.output), *ftz = xasprintf("%s.ftz", q.output);
	struct ft_model *m = ft_model_open(bin);
	int rc = -1;
	if (m && !ft_quantize(m, &q) && !ft_model_save(m, ftz))
		rc = 0;
	else if (m)
		err_set("%s: %s", bin, err_get());
	ft_model_free(m);
	free(bin), free(ftz);
	return rc;
}

/* split-eval */
struct scored {
	float p;
	int positive;
};

static int scored_cmp(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;
	return (x->p < y->p) - (x->p > y->p);
}

/* Lines go to the training side by a hash of their bytes, so the split does not depend on
 * the file's order and reruns give the same split. */
static int split_file(const char *in, const char *train, const char *valid, double ratio,
		      uint64_t *ntrain, uint64_t *nvalid)
{
	FILE *f = open_in(in), *ft = fopen(train, "w"), *fv = fopen(valid, "w");
	if (!f || !ft || !fv) {
		if (f && ft && fv)
			err_set("%s: cannot write the split", train);
		else if (f)
			err_set("%s: %s", ft ? valid : train, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	*ntrain = *nvalid = 0;
	while ((got = getline(&line, &cap, f)) > 0) {
		uint32_t h = ft_hash(line, (size_t)got) * 2654435761u;
		int to_train = (double)(h >> 8) / (double)(1u << 24) < ratio;
		fwrite(line, 1, (size_t)got, to_train ? ft : fv);
		if (line[got - 1] != '\n')
			fputc('\n', to_train ? ft : fv);
		++*(to_train ? ntrain : nvalid);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	int bad = fclose(ft) | fclose(fv);
	if (bad)
		err_set("%s: write failed", train);
	return bad ? -1 : 0;
}

/* P(label) of every validation line that has a label. */
static struct scored *score_valid(const struct ft_model *m, const char *valid, int label,
				  size_t *n)
{
	FILE *f = fopen(valid, "rb");
	if (!f) {
		err_set("%s: %s", valid, strerror(errno));
		return NULL;
	}
	struct ft_state *s = ft_state_new(m);
	struct ft_pred *p = xmalloc((size_t)(ft_model_nlabels(m) + 1) * sizeof *p);
	struct scored *v = NULL;
	size_t cap = 0, lcap = 0;
	char *line = NULL;
	ssize_t got;
	*n = 0;
	while ((got = getline(&line, &lcap, f)) > 0) {
		int k = ft_predict(m, s, line, (size_t)got, -1, 0.0f, p);
		if (!s->nlabels)
			continue;
		float prob = 0;
		for (int i = 0; i < k; i++)
			if (p[i].label == label)
				prob = fminf(ft_pred_prob(&p[i]), 1.0f);
		int pos = 0;
		for (size_t j = 0; j < s->nlabels; j++)
			pos |= s->labels[j] == label;
		if (*n == cap)
			v = xrealloc(v, (cap = cap ? 2 * cap : 1024) * sizeof *v);
		v[(*n)++] = (struct scored){prob, pos};
	}
	free(line), free(p);
	fclose(f);
	ft_state_free(s);
	return v;
}

static void report(const struct scored *v, size_t n, double threshold, double recall)
{
	uint64_t pos = 0;
	for (size_t i = 0; i < n; i++)
		pos += (uint64_t)v[i].positive;
	printf("valid examples\t%zu\npositives\t%llu\n", n, (unsigned long long)pos);
	printf("threshold\tprecision\trecall\tkept\n");
	double ths[] = {0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, threshold};
	for (size_t t = 0; t < ARRAY_LEN(ths); t++) {
		uint64_t kept = 0, tp = 0;
		for (size_t i = 0; i < n; i++)
			if (v[i].p >= ths[t])
				kept++, tp += (uint64_t)v[i].positive;
		printf("%s%.4g\t%.4f\t%.4f\t%llu\n", t + 1 == ARRAY_LEN(ths) ? "chosen " : "",
		       ths[t], kept ? (double)tp / (double)kept : 0.0, pos ? (double)tp / (double)pos : 0.0,
		       (unsigned long long)kept);
	}
	/* the highest threshold whose recall reaches the target: walk scores downwards */
	uint64_t tp = 0, kept = 0;
	for (size_t i = 0; i < n && pos; i++) {
		kept++, tp += (uint64_t)v[i].positive;
		if ((double)tp / (double)pos >= recall && (i + 1 == n || v[i + 1].p < v[i].p)) {
			printf("threshold for recall %.4g\t%.6g\tprecision %.4f\n", recall,
			       (double)v[i].p, (double)tp / (double)kept);
			return;
		}
	}
	printf("threshold for recall %.4g\tnone\n", recall);
}

static int cmd_split_eval(int argc, char **argv)
{
	const char *positive = "__label__code";
	double threshold = 0.5, recall = 0.99, ratio = 0.7;
	char **rest = xcalloc((size_t)argc + 1, sizeof *rest);
	int nrest = 0, rc = -1;
	for (int i = 0; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		double *num = !strcmp(k, "-threshold") ? &threshold : !strcmp(k, "-recall") ? &recall
				: !strcmp(k, "-ratio") ? &ratio : NULL;
		if (v && !strcmp(k, "-positive"))
			positive = v, i++;
		else if (v && num) {
			char *end;
			*num = strtod(v, &end);
			if (*end || *num < 0 || *num > 1) {
				err_set("%s: expected a number in [0, 1], got '%s'", k, v);
				free(rest);
				return -1;
			}
			i++;
		} else
			rest[nrest++] = argv[i];
	}
	struct ft_args a;
	ft_args_default(&a);
	struct ft_model *m = NULL;
	struct scored *v = NULL;
	char *train = NULL, *valid = NULL, *bin = NULL;
	uint64_t ntrain, nvalid;
	size_t n;
	if (ft_args_parse(&a, nrest, rest))
		goto out;
	const char *input = a.input;
	train = xasprintf("%s.train.txt", a.output), valid = xasprintf("%s.valid.txt", a.output);
	if (split_file(input, train, valid, ratio, &ntrain, &nvalid))
		goto out;
	a.input = train;
	if (ft_train(&a, &m))
		goto out;
	bin = xasprintf("%s.bin", a.output);
	int label = ft_model_label_id(m, positive);
	if (label < 0) {
		err_set("%s: the training split has no label '%s'", input, positive);
		goto out;
	}
	if (ft_model_save(m, bin) || !(v = score_valid(m, valid, label, &n)))
		goto out;
	qsort(v, n, sizeof *v, scored_cmp);
	printf("train examples\t%llu\nmodel\t%s\nlabel\t%s\n", (unsigned long long)ntrain, bin,
	       positive);
	report(v, n, threshold, recall);
	rc = 0;
out:
	free(v), free(train), free(valid), free(bin), free(rest);
	ft_model_free(m);
	return rc;
}

int ft_cmd(const struct cli_cmd *cmd, struct cli_args *a)
{
	if (par_rank() != 0)
		return 0;
	if (a->npos < 1) {
		fputs(usage, stderr);
		return 2;
	}
	const char *verb = a->pos[0];
	int argc = a->npos - 1, rc;
	char **argv = a->pos + 1;
	if (!strcmp(verb, "supervised"))
		rc = cmd_supervised(argc, argv);
	else if (!strcmp(verb, "test") || !strcmp(verb, "predict") || !strcmp(verb, "predict-prob"))
		rc = cmd_eval(argc, argv, verb);
	else if (!strcmp(verb, "quantize"))
		rc = cmd_quantize(argc, argv);
	else if (!strcmp(verb, "split-eval"))
		rc = cmd_split_eval(argc, argv);
	else if (!strcmp(verb, "help") || !strcmp(verb, "--help")) {
		fputs(usage, stdout);
		return 0;
	} else {
		fprintf(stderr, "curate fasttext: unknown verb '%s'\n%s", verb, usage);
		return 2;
	}
	if (rc) {
		fprintf(stderr, "curate fasttext %s: %s\n", verb, err_get());
		return 1;
	}
	fflush(stdout);
	return 0;
}

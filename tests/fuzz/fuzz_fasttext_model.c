/* fuzz_fasttext_model: libFuzzer target for the fastText model loader (.bin and .ftz): the
 * input is parsed as a model file; when it is accepted, a few lines are classified with
 * every label and with a threshold. Errors are fine; crashes, leaks and reads outside the
 * input are not. The corpus holds small real models made by Debian's fasttext. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fasttext/fasttext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *lines[] = {"wheat corn export tonnes\n", "__label__1 grain\n", "\n",
				      "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac unknown-word\n",
				      "no newline at the end"};
	struct ft_model *m = ft_model_parse(data, size, "fuzz");
	if (!m)
		return 0;
	struct ft_state *s = ft_state_new(m);
	struct ft_pred *p = calloc((size_t)ft_model_nlabels(m) + 1, sizeof *p);
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		int n = ft_predict(m, s, lines[i], strlen(lines[i]), -1, 0.0f, p);
		for (int k = 0; k < n; k++)
			if (!ft_model_label(m, p[k].label) || (k && p[k].logp > p[k - 1].logp))
				abort();
		ft_predict(m, s, lines[i], strlen(lines[i]), 1, 0.5f, p);
	}
	free(p);
	ft_state_free(s);
	ft_model_free(m);
	return 0;
}

/* fuzz_labels: scorer train's label records over any bytes, text and pretokenized, plain
 * and with a 0-10 scale: the kind is one of the four; LABEL_OK gives an id, a text or an
 * "ids" array, and a target in [0, 1]; every other kind but LABEL_NO_SCORE says why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static void check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_labels: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int mode = 0; mode < 4; mode++) {
		struct train_label l;
		char why[512] = "";
		bool pre = mode & 1;
		enum train_label_kind k = train_label_parse((const char *)data, size,
							    mode & 2 ? "rating" : "score",
							    mode & 2 ? 10 : 1, pre, &l, why, sizeof why);
		check(k >= LABEL_OK && k <= LABEL_OUT_OF_RANGE, "a kind out of range");
		if (k == LABEL_OK) {
			check(l.id != NULL, "no id");
			check(pre ? json_is_array(l.ids) : l.text != NULL, "no text or ids");
			check(l.target >= 0 && l.target <= 1, "a target outside [0, 1]");
		} else if (k != LABEL_NO_SCORE) {
			check(why[0] != 0, "no reason given");
		}
		train_label_release(&l);
	}
	return 0;
}

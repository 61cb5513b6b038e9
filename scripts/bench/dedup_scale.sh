# dedup-near at scale: over 10 million documents through 2 ranks with a memory budget far
# below the data, so every exchange spills. The input is nine copies of dedup.sh's snippets,
# each copy's ids prefixed and its texts ending in one more word, so the copies are near
# duplicates of each other, not equal. Sourced by scripts/bench.sh (C, W, R, best, ratio);
# prints its section of docs/benchmarks.md. Needs about 14 GB of free disk under $W.
SRC=${BENCH_TREE:-/usr/include}
COPIES=${BENCH_SCALE_COPIES:-9}
BUDGET=${BENCH_SCALE_BUDGET:-256MiB}
# the snippets: dedup.sh's generator (its file when that section ran in this invocation)
if [ ! -s "$W/dd_docs.jsonl" ]; then
  source <(sed -n '/^dd_docs() {/,/^}/p' scripts/bench/dedup.sh)
  dd_docs "$SRC" >"$W/dd_docs.jsonl"
fi
mkdir -p "$W/sc_in"
for c in $(seq 0 $((COPIES - 1))); do
  sed "s/\"id\":\"d/\"id\":\"c$c-d/; s/\"}\$/ v$c\"}/" "$W/dd_docs.jsonl"
done >"$W/sc_all.jsonl"
sc_raw=$(stat -c %s "$W/sc_all.jsonl")
split -n l/64 -d -a 2 --additional-suffix=.jsonl "$W/sc_all.jsonl" "$W/sc_in/p"
rm "$W/sc_all.jsonl"
"$C" import workdir="$W/sc" "import.paths=[$W/sc_in]" import.format=jsonl import.shards=64 \
  keep_rejected=false >/dev/null 2>&1
rm -rf "$W/sc_in"
sc_docs=$(jq .records "$W/sc/import/manifest.json")
sc_shards_mb=$(du -sm "$W/sc/import" | cut -f1)
# one run each (minutes): wall time, each rank's peak RSS, the workdir's size every second
sc_stage() { # stage -> wall seconds; $W/sc_rss.RANK get the peak RSS (KiB)
  local t0 t1
  t0=$(date +%s.%N)
  mpiexec -n 2 sh -c '/usr/bin/time -f %M -o "$0.$PMI_RANK" "$@"' "$W/sc_rss" "$C" "$1" \
    workdir="$W/sc" "stages=[import,$1]" keep_rejected=false memory_budget="$BUDGET" --force \
    >"$W/sc_$1.log" 2>&1
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }'
}
(while sleep 1; do du -sm "$W/sc" 2>/dev/null | cut -f1; done >"$W/sc_du") &
du_pid=$!
t_sc_near=$(sc_stage dedup-near)
kill $du_pid 2>/dev/null || true
wait $du_pid 2>/dev/null || true
sc_rss=$(cat "$W"/sc_rss.* | sort -n | tail -1)
sc_disk=$(sort -n "$W/sc_du" | tail -1)
sc_kept=$(jq .records "$W/sc/dedup-near/manifest.json")
sc_rounds=$(jq .components.rounds "$W/sc/dedup-near/stats.json")
sc_same=$(jq .counters.same_signature "$W/sc/dedup-near/stats.json")
sc_pairs=$(jq .counters.pairs_checked "$W/sc/dedup-near/stats.json")
t_sc_exact=$(sc_stage dedup-exact)
rm -rf "$W/sc"

cat <<MD
## Deduplication at scale

$sc_docs documents ($COPIES near copies of the snippets above, $(awk -v b="$sc_raw" 'BEGIN { printf "%.2f", b / 1e9 }') GB of JSONL, $sc_shards_mb MB as
64 import shards), 2 ranks, \`memory_budget=$BUDGET\` (every exchange spills), one run each:

| what | figure |
|---|---|
| \`dedup-near\` wall time | $t_sc_near s ($(awk -v n="$sc_docs" -v s="$t_sc_near" 'BEGIN { printf "%.0f", n / s }') docs/s, $(awk -v b="$sc_raw" -v s="$t_sc_near" 'BEGIN { printf "%.1f", b / s / 2e6 }') MB/s of JSONL a core) |
| \`dedup-exact\` on the same input and budget | $t_sc_exact s; \`dedup-near\` / \`dedup-exact\` $(ratio "$t_sc_near" "$t_sc_exact") |
| peak RSS of the larger rank | $((sc_rss / 1024)) MiB |
| workdir at its largest (input shards, the signatures' phase files, spills) | $sc_disk MB |
| kept, components' rounds | $sc_kept, $sc_rounds |
| documents joined to an equal signature, distinct pairs checked | $sc_same, $sc_pairs |

Command: \`bash scripts/bench.sh dedup_scale\` (\`BENCH_SCALE_COPIES\`, \`BENCH_SCALE_BUDGET\`).
The projection to a 6T-token corpus from these rates is in docs/dedup.md.

MD

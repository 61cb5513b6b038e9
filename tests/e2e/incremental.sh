# Incremental rebuilds: an unchanged stage is skipped; changing a stage's options reruns it
# and everything after it, and nothing before it; the log and `curate status` say what is
# skipped or stale and why (which option changed, which upstream stage was rebuilt, new
# input files, a global that changes output bytes, --force).
source "$(dirname "$0")/lib.sh"
cat >"$T/c.yaml" <<YAML
workdir: $T/w
stages: [import, filter]
import:
  paths: [$ROOT/pipeline, $ROOT/stages]
  shards: 4
filter:
  min_chars: 100
YAML
"$CURATE" status -c "$T/c.yaml" >"$T/status0"
contains "$T/status0" "import         not run"
"$CURATE" run -c "$T/c.yaml" 2>"$T/run1.log"
"$CURATE" status -c "$T/c.yaml" >"$T/status1"
contains "$T/status1" "import         done"
contains "$T/status1" "filter         done"
digest "$T/w/filter" >"$T/filter1.sha"

"$CURATE" run -c "$T/c.yaml" 2>"$T/run2.log"
contains "$T/run2.log" "stage import: up to date (config and input unchanged), skipped"
contains "$T/run2.log" "stage filter: up to date (config and input unchanged), skipped"

# a filter option changes: import is skipped, filter reruns
"$CURATE" status -c "$T/c.yaml" filter.min_chars=5000 >"$T/status2"
contains "$T/status2" "filter         stale"
contains "$T/status2" "filter.min_chars changed (100 -> 5000)"
contains "$T/status2" "import         done"
"$CURATE" run -c "$T/c.yaml" filter.min_chars=5000 2>"$T/run3.log"
contains "$T/run3.log" "stage import: up to date"
grep -q "stage filter: up to date" "$T/run3.log" && fail "filter should have rerun"
contains "$T/run3.log" "stage filter: rerunning: filter.min_chars changed (100 -> 5000)"
kept=$(jq .records "$T/w/filter/manifest.json")
big=$(find "$ROOT/pipeline" "$ROOT/stages" -type f -size +5000c | wc -l)
check "filter.min_chars=5000 keeps the $big files above 5000 bytes (kept $kept)" test "$kept" = "$big"
check "drops counted" test "$(jq .drops.too_short.docs "$T/w/filter/stats.json")" -gt 0
check "rejected documents carry their reason" \
  test "$(zstdcat "$T"/w/filter/rejected/part-*.jsonl.zst | jq -r .metadata.drop_reason | sort -u)" = too_short

# an import option changes: both rerun, and status says so before the run
"$CURATE" status -c "$T/c.yaml" filter.min_chars=5000 import.shards=3 >"$T/status4"
contains "$T/status4" "import         stale"
contains "$T/status4" "import.shards changed (4 -> 3)"
contains "$T/status4" "filter         stale"
contains "$T/status4" "stage import before it will run first"
"$CURATE" run -c "$T/c.yaml" filter.min_chars=5000 import.shards=3 2>"$T/run4.log"
contains "$T/run4.log" "stage import: rerunning: import.shards changed (4 -> 3)"
contains "$T/run4.log" "stage filter: rerunning: its input changed (stage import was rebuilt)"
grep -q "stage import: up to date" "$T/run4.log" && fail "import should have rerun"
grep -q "stage filter: up to date" "$T/run4.log" && fail "filter should rerun after import"
check "import now has 3 shards" test "$(jq .shard_count "$T/w/import/manifest.json")" = 3
check "no stale shards from the 4-shard run" test ! -e "$T/w/import/part-00003.jsonl.zst"

# back to the first config: same bytes as the first run
"$CURATE" run -c "$T/c.yaml" 2>"$T/run5.log"
digest "$T/w/filter" >"$T/filter5.sha"
check "rebuild gives the first output again" cmp "$T/filter1.sha" "$T/filter5.sha"

# a global option that changes output bytes reruns every stage
"$CURATE" run -c "$T/c.yaml" zstd_level=5 2>"$T/run5b.log"
contains "$T/run5b.log" "stage import: rerunning: a global option that changes output bytes"
"$CURATE" run -c "$T/c.yaml" 2>/dev/null

# --force reruns an up-to-date stage
"$CURATE" filter -c "$T/c.yaml" --force 2>"$T/run6.log"
grep -q "up to date" "$T/run6.log" && fail "--force should rerun"
contains "$T/run6.log" "stage filter: --force: rerunning from scratch"

# a new input file (no option changed) reruns the source stage and everything after it
mkdir -p "$T/tree"
cp "$ROOT/pipeline/util.c" "$ROOT/pipeline/stats.c" "$T/tree/"
"$CURATE" run -c "$T/c.yaml" workdir="$T/w2" import.paths="[$T/tree]" 2>/dev/null
cp "$ROOT/pipeline/log.c" "$T/tree/"
"$CURATE" status -c "$T/c.yaml" workdir="$T/w2" import.paths="[$T/tree]" >"$T/status7"
contains "$T/status7" "its inputs changed (files added, removed or modified)"
"$CURATE" run -c "$T/c.yaml" workdir="$T/w2" import.paths="[$T/tree]" 2>"$T/run7.log"
contains "$T/run7.log" "stage import: rerunning: its inputs changed (files added, removed or modified)"
contains "$T/run7.log" "stage filter: rerunning: its input changed (stage import was rebuilt)"
check "the new file is imported" test "$(jq .docs_out "$T/w2/import/stats.json")" = 3
echo "incremental rebuilds behave"

# Incremental rebuilds: an unchanged stage is skipped; changing a stage's options reruns it
# and everything after it, and nothing before it; `curate status` tells the states.
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
contains "$T/status2" "import         done"
"$CURATE" run -c "$T/c.yaml" filter.min_chars=5000 2>"$T/run3.log"
contains "$T/run3.log" "stage import: up to date"
grep -q "stage filter: up to date" "$T/run3.log" && fail "filter should have rerun"
kept=$(jq .records "$T/w/filter/manifest.json")
big=$(find "$ROOT/pipeline" "$ROOT/stages" -type f -size +5000c | wc -l)
check "filter.min_chars=5000 keeps the $big files above 5000 bytes (kept $kept)" test "$kept" = "$big"
check "drops counted" test "$(jq .drops.too_short.docs "$T/w/filter/stats.json")" -gt 0
check "rejected documents carry their reason" \
  test "$(zstdcat "$T"/w/filter/rejected/part-*.jsonl.zst | jq -r .metadata.drop_reason | sort -u)" = too_short

# an import option changes: both rerun
"$CURATE" run -c "$T/c.yaml" filter.min_chars=5000 import.shards=3 2>"$T/run4.log"
grep -q "stage import: up to date" "$T/run4.log" && fail "import should have rerun"
grep -q "stage filter: up to date" "$T/run4.log" && fail "filter should rerun after import"
check "import now has 3 shards" test "$(jq .shard_count "$T/w/import/manifest.json")" = 3
check "no stale shards from the 4-shard run" test ! -e "$T/w/import/part-00003.jsonl.zst"

# back to the first config: same bytes as the first run
"$CURATE" run -c "$T/c.yaml" 2>"$T/run5.log"
digest "$T/w/filter" >"$T/filter5.sha"
check "rebuild gives the first output again" cmp "$T/filter1.sha" "$T/filter5.sha"

# --force reruns an up-to-date stage
"$CURATE" filter -c "$T/c.yaml" --force 2>"$T/run6.log"
grep -q "up to date" "$T/run6.log" && fail "--force should rerun"
echo "incremental rebuilds behave"

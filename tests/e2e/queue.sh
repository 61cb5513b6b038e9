# The shard queue of map and source stages (schedule: queue, the default): with one rank made
# slow (CURATE_TEST_SLOW_RANK, tests only), under 2 and 3 ranks, for a source stage (import)
# and a map stage (redact), the shards and stats are the bytes of a 1-rank run and of the
# static plan; whichever rank made a shard. (How much sooner the queue ends is timing, so it
# is measured by scripts/bench/queue.sh, not here.)
source "$(dirname "$0")/lib.sh"
cd "$T"
stats() { jq -c 'del(.wall_seconds, .task_seconds, .ranks, .resumed_shards)' "$1/stats.json"; }
run1() { # workdir, then options: import and redact on 1 rank
  local w=$1; shift
  "$CURATE" run workdir="$w" "stages=[import,redact]" "import.paths=[/usr/include/linux]" import.shards=9 "$@" \
    >"$w.log" 2>&1 || { cat "$w.log"; fail "run $w"; }
}
run1 "$T/one"
for n in 2 3; do
  for sch in queue static; do
    w=$T/w$n$sch
    CURATE_TEST_SHARD_DELAY=0.2 CURATE_TEST_SLOW_RANK=1 mpiexec -n $n "$CURATE" run workdir="$w" \
      "stages=[import,redact]" "import.paths=[/usr/include/linux]" import.shards=9 schedule=$sch >"$w.log" 2>&1 ||
      { cat "$w.log"; fail "$n ranks, $sch"; }
    for s in import redact; do
      check "$n ranks, $sch: $s shards as 1 rank's" test "$(digest "$w/$s")" = "$(digest "$T/one/$s")"
      check "$n ranks, $sch: $s stats as 1 rank's" test "$(stats "$w/$s")" = "$(stats "$T/one/$s")"
    done
  done
done
if "$CURATE" run workdir="$T/bad" schedule=random >bad.log 2>&1; then fail "schedule=random accepted"; fi
contains bad.log "schedule"

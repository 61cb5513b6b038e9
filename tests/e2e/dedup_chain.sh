# dedup-near's connected components (alternating large-star and small-star) on components
# that are long chains: 5000 documents, each a window of 40 distinct words sliding by 10 over
# one sequence, so a document shares 5-grams with the next two or three only and, without
# the Jaccard check, band collisions link it to them alone. Ids sort along the chain (the
# worst order for label propagation, which needs a round per hop). The test checks that the
# chain's component holds thousands of documents (so its diameter, at most 3 documents a
# hop, is in the thousands), that the rounds stay within ceil(log2 n) + 2, that stats.json
# has each round's records and bytes, and that 1, 2 and 3 ranks give the same bytes.
source "$(dirname "$0")/lib.sh"
cd "$T"
n=5000
mkdir in
/usr/bin/python3 - "$n" >in/chain.jsonl <<'PY'
import json, sys
n = int(sys.argv[1])
for i in range(n):
    words = " ".join("w%06d" % (10 * i + j) for j in range(40))
    print(json.dumps({"id": "c%05d" % i, "text": words, "source": "github"}))
PY
# six files: six input shards for the ranks to share (import never splits a JSONL file)
split -n l/6 -d --additional-suffix=.jsonl in/chain.jsonl in/part && rm in/chain.jsonl
opts=(stages=[import,dedup-near] import.paths=["$T/in"] import.format=jsonl import.shards=6
      dedup-near.check_jaccard=false dedup-near.num_hashes=64 dedup-near.bands=32 dedup-near.rows=2)
for r in 1 2 3; do
  mpiexec -n $r "$CURATE" run workdir="$T/r$r" "${opts[@]}" >"r$r.log" 2>&1 || { cat "r$r.log"; fail "run on $r ranks"; }
  digest "$T/r$r/dedup-near" >"r$r.sha"
done
cmp r1.sha r2.sha || fail "2 ranks differ from 1"
cmp r1.sha r3.sha || fail "3 ranks differ from 1"
largest=$(zstd -dc "$T"/r1/dedup-near/part-*.jsonl.zst | jq -s 'map(.metadata.cluster_size) | max')
echo "largest component: $largest documents"
check "a chain of thousands of documents ($largest)" test "$largest" -ge 3000
rounds=$(jq .components.rounds "$T/r1/dedup-near/stats.json")
bound=$(/usr/bin/python3 -c "import math; print(math.ceil(math.log2($n)) + 2)")
echo "components: $rounds rounds (bound $bound)"
check "rounds $rounds within ceil(log2 $n) + 2 = $bound" test "$rounds" -le "$bound"
check "rounds in the counters too" test "$(jq .counters.components_rounds "$T/r1/dedup-near/stats.json")" = "$rounds"
check "records per round" test "$(jq '.components.records | length' "$T/r1/dedup-near/stats.json")" = "$rounds"
check "bytes per round" test "$(jq '[.components.bytes[] | select(. > 0)] | length' "$T/r1/dedup-near/stats.json")" = "$rounds"
check "the same rounds on 3 ranks" test "$(jq -c .components "$T/r3/dedup-near/stats.json")" = "$(jq -c .components "$T/r1/dedup-near/stats.json")"

# SIGKILL of one of 2 ranks in the components phase (CURATE_TEST_PART_DELAY, tests only, makes
# each round wait 1 s), once both ranks have committed round 2's checkpoint: the rerun reuses
# every input shard's signatures (their phase is done), restarts the components from the last
# round both ranks hold (2 or later) without the bands, pairs or earlier rounds, and ends with
# the bytes and the round stats of the clean run.
"$CURATE" import workdir="$T/k" "${opts[@]}" >/dev/null 2>&1 || fail "import for the kill"
cd_="$T/k/dedup-near/.phases/components"
kill_in_rounds() { # runs the stage on 2 ranks and SIGKILLs a rank once both committed round 2
  CURATE_TEST_PART_DELAY=1 mpiexec -n 2 "$CURATE" run workdir="$T/k" "${opts[@]}" >kill.log 2>&1 &
  local pid=$!
  for i in $(seq 1200); do
    [ -e "$cd_/rank-0-of-2.round-2.json" ] && [ -e "$cd_/rank-1-of-2.round-2.json" ] && break
    sleep 0.05
  done
  kill -9 "$(pgrep -f "^$CURATE run workdir=$T/k " | head -1)"
  wait $pid && fail "the run survived a rank's SIGKILL in its components"
  for i in $(seq 200); do pgrep -f "^$CURATE run workdir=$T/k " >/dev/null || break; sleep 0.05; done
}
kill_in_rounds
check "killed before the end" test ! -e "$T/k/dedup-near/manifest.json"
t0=$SECONDS
mpiexec -n 2 "$CURATE" run workdir="$T/k" "${opts[@]}" >rerun.log 2>&1 || { cat rerun.log; fail "the rerun"; }
echo "rerun after a kill in the components: $((SECONDS - t0)) s: $(grep 'phase signatures' rerun.log | sed 's/.*phase/phase/'); $(grep -o 'components restart from round [0-9]*' rerun.log)"
contains rerun.log "phase signatures: 6 input shards: 6 reused, 0 done now"
from=$(grep -o 'components restart from round [0-9]*' rerun.log | grep -o '[0-9]*$')
check "the rerun restarts the components from round 2 or later (${from:-none})" test "${from:-0}" -ge 2
ks="$T/k/dedup-near/stats.json"
check "no bands or pairs in the rerun" test "$(jq '.phase_seconds | has("bucket_pairs") or has("exchange_bands")' "$ks")" = false
check "the rerun's rounds and their records equal the clean run's" \
  test "$(jq -c .components "$ks")" = "$(jq -c .components "$T/r1/dedup-near/stats.json")"
check "the rerun's counters equal the clean run's" \
  test "$(jq -c .counters "$ks")" = "$(jq -c .counters "$T/r1/dedup-near/stats.json")"
check "the checkpoints are gone once the stage is done" test ! -e "$cd_"
digest "$T/k/dedup-near" >k.sha
cmp r1.sha k.sha || fail "the rerun after a kill in the components differs from a clean run"

# A damaged checkpoint is named and not used: killed again in the rounds, then a byte of
# each round rank 0 kept is flipped; the rerun starts the components from the bands and
# still ends with the clean run's bytes.
rm -rf "$T/k/dedup-near"
kill_in_rounds
for f in "$cd_"/rank-0-of-2.round-*.edges; do
  printf '\377' | dd of="$f" bs=1 seek=5 conv=notrunc status=none
done
mpiexec -n 2 "$CURATE" run workdir="$T/k" "${opts[@]}" >damaged.log 2>&1 || { cat damaged.log; fail "the rerun over a damaged checkpoint"; }
contains damaged.log "does not match its edges or this run; not used"
check "no restart from a damaged round" test -z "$(grep 'components restart' damaged.log)"
digest "$T/k/dedup-near" >d.sha
cmp r1.sha d.sha || fail "the rerun over a damaged checkpoint differs from a clean run"

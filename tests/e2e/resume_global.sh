# Resume inside global stages (pipeline/phase.c). For each of quality, tokenize, dedup-exact
# and dedup-near (its signature phase), on 24 input shards: an uninterrupted 1-rank run is the reference; then a run
# under `mpiexec -n 2` whose shards each wait 1.6 s (CURATE_TEST_SHARD_DELAY, tests only, so
# the stage takes about 20 s on 2 ranks) has one rank SIGKILLed once about 70% of the phase's
# shards are committed; the rerun must end with the reference's bytes, and its own counters
# must say it redid exactly the shards that were not committed (the rest reused). The four
# run side by side (they mostly wait). Then, on quality: a changed drop_fraction re-decides
# from the kept scores (0 documents scored) and equals a fresh run; a flipped byte and a
# truncated scores file are named in warnings and redone, never trusted; SIGTERM under
# mpiexec mid-phase stops cleanly (nothing half-written) and the rerun completes; with one
# rank made slow (CURATE_TEST_SLOW_RANK) the queue and the static plan give the same bytes.
# (How much sooner the queue ends is timing: scripts/bench/queue.sh measures it.)
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
cd "$T"
"$CURATE" scorer init --preset tiny --seed 5 -t "$TOK_QWEN3" -o "$T/model" >/dev/null || fail "scorer init"
N=24
common=("import.paths=[/usr/include/linux]" import.shards=$N quality.model="$T/model" quality.threads=1
        quality.max_tokens=128 tokenize.tokenizer="$TOK_QWEN3" tokenize.shard_tokens=200000)
phase_of() { case $1 in quality) echo scores;; tokenize) echo tokens;; dedup-exact) echo hashes;;
  dedup-near) echo signatures;; esac; }
# every output file of a stage but its stats, part records and phase files, with its hash
outputs() { (cd "$1" && find . -type f ! -path './.parts/*' ! -path './.phases/*' ! -name stats.json \
  | LC_ALL=C sort | xargs sha256sum); }
committed() { compgen -G "$1/in-*.json" | wc -l; }

scenario() { # stage: reference, a SIGKILLed 2-rank run at about 70%, the rerun
  local s=$1 ph; ph=$(phase_of "$1")
  "$CURATE" run workdir="$T/ref-$s" "stages=[import,$s]" "${common[@]}" >"ref-$s.log" 2>&1 ||
    { cat "ref-$s.log"; fail "$s: the uninterrupted run"; }
  "$CURATE" import workdir="$T/w-$s" "${common[@]}" >/dev/null 2>&1 || fail "$s: import"
  CURATE_TEST_SHARD_DELAY=1.6 mpiexec -n 2 "$CURATE" run workdir="$T/w-$s" "stages=[import,$s]" \
    "${common[@]}" >"kill-$s.log" 2>&1 &
  local pid=$! dir="$T/w-$s/$s/.phases/$ph" i
  for i in $(seq 1200); do # until 70% are committed (at most 60 s)
    [ "$(committed "$dir")" -ge $((N * 7 / 10)) ] && break
    sleep 0.05
  done
  local victim; victim=$(pgrep -f "^$CURATE run workdir=$T/w-$s " | head -1)
  [ -n "$victim" ] || fail "$s: no rank to kill"
  kill -9 "$victim"
  wait $pid && fail "$s: the run survived a rank's SIGKILL"
  for i in $(seq 200); do pgrep -f "^$CURATE run workdir=$T/w-$s " >/dev/null || break; sleep 0.05; done
  local c; c=$(committed "$dir")
  check "$s: killed before the end ($c of $N)" test "$c" -lt $N
  echo "$s: killed with $c of $N input shards committed"
  local t0=$SECONDS
  mpiexec -n 2 "$CURATE" run workdir="$T/w-$s" "stages=[import,$s]" "${common[@]}" >"rerun-$s.log" 2>&1 ||
    { cat "rerun-$s.log"; fail "$s: the rerun"; }
  echo "$s: the rerun took $((SECONDS - t0)) s: $(grep "phase $ph:" "rerun-$s.log" | sed 's/.*phase/phase/')"
  contains "rerun-$s.log" "phase $ph: $N input shards: $c reused, $((N - c)) done now"
  check "$s: the rerun's output is the uninterrupted run's" test "$(outputs "$T/w-$s/$s")" = "$(outputs "$T/ref-$s/$s")"
  check "$s: stats count the reuse" test "$(jq -c ".phases.$ph | [.reused, .redone]" "$T/w-$s/$s/stats.json")" = "[$c,$((N - c))]"
}

pids=()
for s in quality tokenize dedup-exact dedup-near; do
  scenario $s >"scenario-$s.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
cat scenario-*.log
[ $rc = 0 ] || fail "a scenario failed (above)"
check "tokenize: its token files go once the stage is complete" test ! -e "$T/w-tokenize/tokenize/.phases/tokens"
check "dedup-exact: its hashes stay" test "$(committed "$T/w-dedup-exact/dedup-exact/.phases/hashes")" = $N
check "dedup-near: its signatures go once the stage is complete" test ! -e "$T/w-dedup-near/dedup-near/.phases/signatures"

# A kill in the writing pass (CURATE_TEST_PART_DELAY: each output part waits): the rerun
# keeps the parts written (resume_parts). quality here re-decides at a new drop_fraction from
# the kept scores; dedup-exact rehashes under a new normalize, then rewrites.
kill_in_writing() { # workdir stage options...
  local w=$1 s=$2 i; shift 2
  touch "$T/before-$s"; sleep 1 # parts of this run are newer (the old ones go when it starts)
  written() { find "$w/$s/.parts" -name 'part-*.json' -newer "$T/before-$s" | wc -l; }
  CURATE_TEST_PART_DELAY=0.5 mpiexec -n 2 "$CURATE" run workdir="$w" "stages=[import,$s]" "$@" >"write-$s.log" 2>&1 &
  local pid=$!
  for i in $(seq 1200); do
    [ "$(written)" -ge 8 ] && break
    sleep 0.05
  done
  kill -9 "$(pgrep -f "^$CURATE run workdir=$w " | head -1)"
  wait $pid && fail "$s: the run survived a rank's SIGKILL in its writing pass"
  for i in $(seq 200); do pgrep -f "^$CURATE run workdir=$w " >/dev/null || break; sleep 0.05; done
  parts=$(written)
  check "$s: only this run's parts are left" test "$(compgen -G "$w/$s/.parts/part-*.json" | wc -l)" = "$parts"
  echo "$s: killed in its writing pass with $parts of $N parts written"
  mpiexec -n 2 "$CURATE" run workdir="$w" "stages=[import,$s]" "$@" >"write-rerun-$s.log" 2>&1 ||
    { cat "write-rerun-$s.log"; fail "$s: the rerun after a kill in the writing pass"; }
  contains "write-rerun-$s.log" "resuming: $parts of $N shards already finished"
}
"$CURATE" run workdir="$T/ref-q3" "stages=[import,quality]" "${common[@]}" quality.drop_fraction=0.3 >/dev/null 2>&1 ||
  fail "a fresh run at drop_fraction 0.3"
kill_in_writing "$T/w-quality" quality "${common[@]}" quality.drop_fraction=0.3
contains write-quality.log "rerunning: quality.drop_fraction changed"
contains write-rerun-quality.log "phase scores: $N input shards: $N reused, 0 done now (0 units of work)"
check "no document scored" test "$(jq .phases.scores.work "$T/w-quality/quality/stats.json")" = 0
check "re-decided output is a fresh run's" test "$(outputs "$T/w-quality/quality")" = "$(outputs "$T/ref-q3/quality")"
"$CURATE" run workdir="$T/ref-dw" "stages=[import,dedup-exact]" "${common[@]}" dedup-exact.normalize=whitespace >/dev/null 2>&1 ||
  fail "a fresh dedup-exact run, normalize whitespace"
kill_in_writing "$T/w-dedup-exact" dedup-exact "${common[@]}" dedup-exact.normalize=whitespace
contains write-rerun-dedup-exact.log "phase hashes: $N input shards: $N reused, 0 done now"
check "dedup-exact after a kill in its rewrite: a fresh run's output" \
  test "$(outputs "$T/w-dedup-exact/dedup-exact")" = "$(outputs "$T/ref-dw/dedup-exact")"

# a flipped byte and a truncated file: named, redone
sd="$T/w-quality/quality/.phases/scores"
printf '\x7f' | dd of="$sd/in-00003.scores" bs=1 seek=2 conv=notrunc 2>/dev/null
truncate -s -5 "$sd/in-00005.scores"
"$CURATE" run workdir="$T/w-quality" "stages=[import,quality]" "${common[@]}" quality.drop_fraction=0.2 >damaged.log 2>&1 ||
  { cat damaged.log; fail "the run over damaged scores"; }
contains damaged.log "in-00003.scores has another SHA-256 than its record says: input shard 3 is redone, not trusted"
contains damaged.log "in-00005.scores has another size than its record says: input shard 5 is redone, not trusted"
contains damaged.log "phase scores: $N input shards: $((N - 2)) reused, 2 done now"
contains damaged.log ", 2 damaged"
"$CURATE" run workdir="$T/ref-q2" "stages=[import,quality]" "${common[@]}" quality.drop_fraction=0.2 >/dev/null 2>&1 ||
  fail "a fresh run at drop_fraction 0.2"
check "after damage: a fresh run's output" test "$(outputs "$T/w-quality/quality")" = "$(outputs "$T/ref-q2/quality")"
# a record that is not JSON
echo '{"fingerprint":' >"$sd/in-00007.json"
"$CURATE" run workdir="$T/w-quality" "stages=[import,quality]" "${common[@]}" quality.drop_fraction=0.3 >badrec.log 2>&1 ||
  { cat badrec.log; fail "the run over a bad record"; }
contains badrec.log "in-00007.json"
contains badrec.log "input shard 7 is redone, not trusted"
check "after a bad record: a fresh run's output" test "$(outputs "$T/w-quality/quality")" = "$(outputs "$T/ref-q3/quality")"

# SIGTERM under mpiexec -n 2 in the middle of the scoring phase
"$CURATE" import workdir="$T/term" "${common[@]}" >/dev/null 2>&1 || fail "import for SIGTERM"
CURATE_TEST_SHARD_DELAY=0.5 mpiexec -n 2 "$CURATE" run workdir="$T/term" "stages=[import,quality]" "${common[@]}" >term.log 2>&1 &
pid=$!
for i in $(seq 400); do [ "$(committed "$T/term/quality/.phases/scores")" -ge 4 ] && break; sleep 0.05; done
kill -TERM $pid
wait $pid || true
if grep -q "stopped on request" term.log; then
  contains term.log "in phase scores"
  contains term.log "run the same command again to resume"
  check "every rank ends failed" test "$(grep -c 'stage quality failed' term.log)" = 2
  check "no manifest for a stopped stage" test ! -e "$T/term/quality/manifest.json"
  left=$(cd "$T/term/quality/.phases/scores" && ls | grep -Ev '^in-[0-9]{5}\.(json|scores)$' || true)
  check "nothing half-written: $left" test -z "$left"
  echo "SIGTERM: stopped with $(committed "$T/term/quality/.phases/scores") of $N scored"
else
  check "not stopped, so complete" test -e "$T/term/quality/manifest.json"
fi
mpiexec -n 2 "$CURATE" run workdir="$T/term" "stages=[import,quality]" "${common[@]}" >term-resume.log 2>&1 ||
  { cat term-resume.log; fail "resume after SIGTERM"; }
check "after SIGTERM: the uninterrupted run's output" test "$(outputs "$T/term/quality")" = "$(outputs "$T/ref-quality/quality")"

# one slow rank: queue and static plan, the same bytes
for sch in queue static; do
  CURATE_TEST_SHARD_DELAY=0.1 CURATE_TEST_SLOW_RANK=1 mpiexec -n 2 "$CURATE" run workdir="$T/term" \
    "stages=[import,quality]" "${common[@]}" schedule=$sch --force >slow-$sch.log 2>&1 ||
    { cat slow-$sch.log; fail "slow rank, $sch"; }
  check "slow rank, $sch: the uninterrupted run's output" test "$(outputs "$T/term/quality")" = "$(outputs "$T/ref-quality/quality")"
done

# Graceful stop: SIGTERM (what Slurm sends before the time limit) to `mpiexec -n 2` while a
# map stage is half done. Every rank finishes or abandons its shard, nothing half-written is
# left, the run exits non-zero with a line saying how to resume, and the rerun reuses the
# finished shards and ends with the bytes of an uninterrupted run. CURATE_TEST_SHARD_DELAY
# (tests only) makes each shard wait half a second, so the signal lands mid-stage; should the
# stage still finish first (a very slow start), the run must simply be complete.
source "$(dirname "$0")/lib.sh"
cd "$T"
for w in ref w; do
  "$CURATE" import workdir="$T/$w" "import.paths=[/usr/include/linux]" import.shards=12 >/dev/null 2>&1 ||
    fail "import"
done
"$CURATE" redact stages=[import,redact] workdir="$T/ref" >/dev/null 2>&1 || fail "the uninterrupted run"
CURATE_TEST_SHARD_DELAY=0.5 mpiexec -n 2 "$CURATE" redact stages=[import,redact] workdir="$T/w" >stop.log 2>&1 &
pid=$!
for i in $(seq 400); do # until a shard is done (at most 20 s)
  compgen -G "$T/w/redact/part-*.jsonl.zst" >/dev/null && break
  sleep 0.05
done
kill -TERM $pid
rc=0
wait $pid || rc=$?
done_before=$(ls "$T"/w/redact/part-*.jsonl.zst 2>/dev/null | wc -l)
# (mpiexec's own status after a signal is hydra's to choose, 0 at times: the log says what the
# ranks did, each exiting 1 after "failed")
if grep -q "stopped on request" stop.log; then
  contains stop.log "run the same command again to resume"
  check "every rank ends failed" test "$(grep -c 'stage redact failed' stop.log)" = 2
  check "no manifest for a stopped stage" test ! -e "$T/w/redact/manifest.json"
  leftovers=$(cd "$T/w/redact" && find . -type f | sed 's|^\./||' |
    grep -Ev '^(rejected/)?part-[0-9]+\.jsonl\.zst$|^\.parts/part-[0-9]+\.json$' || true)
  check "nothing half-written: $leftovers" test -z "$leftovers"
  echo "stopped with $done_before of 12 shards done"
else
  check "not stopped, so complete" test $rc -eq 0 -a -e "$T/w/redact/manifest.json"
  echo "the stage finished before the signal"
fi
mpiexec -n 2 "$CURATE" redact stages=[import,redact] workdir="$T/w" >resume.log 2>&1 || { cat resume.log; fail "resume"; }
contains resume.log "($done_before resumed)"
check "the rerun's output is the uninterrupted run's" test \
  "$(cd "$T/w/redact" && sha256sum part-*.jsonl.zst)" = "$(cd "$T/ref/redact" && sha256sum part-*.jsonl.zst)"

# one process, no mpiexec: SIGTERM, then its own exit status is 1; then SIGINT the same
for sig in TERM INT; do
  rm -rf "$T/w/redact"
  CURATE_TEST_SHARD_DELAY=0.5 "$CURATE" redact stages=[import,redact] workdir="$T/w" >one.log 2>&1 &
  pid=$!
  for i in $(seq 400); do
    compgen -G "$T/w/redact/part-*.jsonl.zst" >/dev/null && break
    sleep 0.05
  done
  kill -$sig $pid
  rc=0
  wait $pid || rc=$?
  if grep -q "stopped on request" one.log; then
    check "SIG$sig: exit status 1" test $rc = 1
  else
    check "SIG$sig: not stopped, so complete" test $rc -eq 0 -a -e "$T/w/redact/manifest.json"
  fi
done
"$CURATE" redact stages=[import,redact] workdir="$T/w" >resume.log 2>&1 || fail "resume after SIGINT"
check "after SIGINT too: the uninterrupted run's output" test \
  "$(cd "$T/w/redact" && sha256sum part-*.jsonl.zst)" = "$(cd "$T/ref/redact" && sha256sum part-*.jsonl.zst)"

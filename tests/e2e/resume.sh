# A run killed with SIGKILL mid-stage and rerun gives output identical to an uninterrupted
# run, redoes only the unfinished shards, and says in its log which were skipped.
source "$(dirname "$0")/lib.sh"
src=/usr/include
# zstd level 19 makes each shard slow enough to kill the run between shards
common=(import.paths="[$src]" import.shards=40 zstd_level=19)

# mpiexec, hydra's proxy and each rank: the proxy and the ranks run in sessions of their own,
# so a kill of mpiexec's process group misses them (the proxy kills the ranks only later)
job_procs() { local p; for p in "$@"; do echo "$p"; job_procs $(pgrep -P "$p" || true); done; }
running() { # pid: it exists and is neither a zombie nor dead
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [ -n "$st" ] && [[ $st != [ZX]* ]]
}
kill_midway() { # workdir, ranks
  local wd=$1 n=$2
  mpiexec -n "$n" "$CURATE" import workdir="$wd" "${common[@]}" 2>"$wd.killed.log" &
  local pid=$! waited=0 procs p
  until [ "$(ls "$wd/import/.parts" 2>/dev/null | grep -c '\.json$')" -ge 4 ]; do
    sleep 0.2; waited=$((waited + 1))
    [ $waited -lt 3000 ] || fail "no shard finished within 600 s"
  done
  procs=$(job_procs "$pid")
  kill -KILL $procs 2>/dev/null || true
  # until none of them runs, a rank could still finish a shard after it is counted below
  for p in $procs; do
    waited=0
    while running "$p"; do
      sleep 0.05; waited=$((waited + 1))
      [ $waited -lt 1200 ] || fail "process $p still runs 60 s after SIGKILL"
    done
  done
  wait "$pid" 2>/dev/null || true
}

"$CURATE" import workdir="$T/full" "${common[@]}" 2>"$T/full.log"
digest "$T/full/import" >"$T/full.sha"

for n in 1 2; do
  wd="$T/killed$n"
  kill_midway "$wd" $n
  check "no manifest after a kill (-n $n)" test ! -e "$wd/import/manifest.json"
  done_before=$(ls "$wd/import/.parts" | grep -c '\.json$')
  check "the kill left unfinished work (-n $n)" test "$done_before" -lt 40
  mpiexec -n $n "$CURATE" import workdir="$wd" "${common[@]}" 2>"$wd.rerun.log"
  contains "$wd.rerun.log" "resuming: $done_before of 40 shards already finished, skipped"
  digest "$wd/import" >"$wd.sha"
  check "resumed output identical to an uninterrupted run (-n $n)" cmp "$T/full.sha" "$wd.sha"
  check "resumed stats count every shard once" test \
    "$(jq .docs_in "$wd/import/stats.json")" = "$(jq .docs_in "$T/full/import/stats.json")"
  check "resumed shard count in stats" test "$(jq .resumed_shards "$wd/import/stats.json")" = "$done_before"
  ls "$wd/import" | grep -q '\.tmp\.' && fail "temporary files left behind"
  echo "-n $n: killed after $done_before/40 shards; rerun finished the rest identically"
done

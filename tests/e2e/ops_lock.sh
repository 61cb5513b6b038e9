# One run per workdir (docs/operations.md, "One run per workdir"): a run holds <workdir>/.lock.
# The holder is kept inside a stage deterministically: crawl-web plans against a local HTTP
# server that answers nothing, so the run waits in its stage until it is killed. While it
# holds the lock, a second run, a stage command and a 2-rank run exit non-zero naming the
# holder's host and PID and touch nothing; so does a run on another "host" (a UTS and network
# namespace with its own host name), which cannot check the holder and says how to clear
# it. A holder killed with -9 leaves a stale lock: a rerun on the same host clears it with a
# warning and completes; from another host it is refused until `curate unlock`. SIGTERM and a
# failed run release the lock; `curate unlock` never removes a live holder of this host.
# Spill files: a reshard killed with -9 while it has spilled leaves them; the next run removes
# them (and other runs' leftovers by their name pattern, nothing else) and writes the bytes of
# a clean run; in a tmpdir of the user's only this host's dead processes' spills go.
source "$(dirname "$0")/lib.sh"
unshare -u -n true 2>/dev/null || { echo "unshare -u -n does not work here (needs root)"; exit 77; }
host=$(hostname)
mkdir -p "$T/in"
for i in 1 2 3; do printf 'int f%d(void) { return %d; }\n' $i $i >"$T/in/f$i.c"; done

# the server: takes connections, says so in a file, never answers
cat >"$T/server.py" <<'PY'
import socket, sys, os
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    open(sys.argv[2], "a").write("request\n")
PY
python3 "$T/server.py" "$T/port" "$T/requests" &
server=$!
holders=()
trap 'kill $server "${holders[@]}" 2>/dev/null || true' EXIT
wait_for() { # description, command...: polls up to 120 s
  local what=$1 i; shift
  for i in $(seq 1200); do "$@" && return 0; sleep 0.1; done
  fail "timed out waiting for: $what"
}
wait_for "the server's port" test -s "$T/port"
url="http://127.0.0.1:$(cat "$T/port")/a.warc"
# start_holder WORKDIR [wrapper...]: a run that stays in crawl-web; sets $holder
start_holder() {
  local w=$1; shift
  : >"$T/requests"
  "$@" "$CURATE" run workdir="$w" "stages=[crawl-web]" "crawl-web.paths=[$url]" \
    crawl-web.timeout=86400 crawl-web.retries=0 stop_grace=1 2>"$T/holder.log" &
  holder=$!
  holders+=($holder)
  wait_for "the holder inside its stage" test -s "$T/requests"
}
second() { # WORKDIR, log, [wrapper...]: a run on the same workdir; its exit code in $rc
  local w=$1 log=$2; shift 2
  rc=0
  timeout 120 "$@" "$CURATE" run workdir="$w" "stages=[import]" "import.paths=[$T/in]" \
    2>"$log" || rc=$?
}

# ---- two processes on one host ----
W=$T/w
start_holder "$W"
check "the holder's lock exists" test -f "$W/.lock"
check "the lock names the holder" grep -q "\"pid\": $holder," "$W/.lock"
second "$W" "$T/second.log"
check "a second run is refused (exit $rc)" test $rc -ne 0 -a $rc -ne 124
contains "$T/second.log" "in use by another run: PID $holder on host $host, started "
contains "$T/second.log" "stages=[crawl-web]"
check "the refused run wrote nothing" test ! -e "$W/import"
rc=0; timeout 120 "$CURATE" import workdir="$W" "import.paths=[$T/in]" 2>"$T/stage.log" || rc=$?
check "a stage command is refused too" test $rc -ne 0 -a $rc -ne 124
contains "$T/stage.log" "PID $holder on host $host"
rc=0; timeout 120 mpiexec -n 2 "$CURATE" run workdir="$W" "stages=[import]" "import.paths=[$T/in]" \
  2>"$T/mpi.log" || rc=$?
check "a 2-rank run is refused on both ranks" test $rc -ne 0 -a $rc -ne 124
check "and says so once" test "$(grep -c 'in use by another run' "$T/mpi.log")" = 1
rc=0; "$CURATE" unlock workdir="$W" >"$T/unlock.out" 2>"$T/unlock.err" || rc=$?
check "unlock refuses a live holder of this host" test $rc = 1
contains "$T/unlock.err" "still alive"
check "and keeps its lock" test -f "$W/.lock"
"$CURATE" status workdir="$W" "stages=[crawl-web]" >/dev/null 2>&1 ||
  fail "status (which only reads) works beside a run"

# ---- two hosts: another host name, another network, the same directory ----
second "$W" "$T/other.log" unshare -u -n sh -c 'hostname other && exec "$@"' sh
check "a run from another host is refused (exit $rc)" test $rc -ne 0 -a $rc -ne 124
contains "$T/other.log" "PID $holder on host $host"
contains "$T/other.log" "from host other it cannot be checked"
contains "$T/other.log" "curate unlock -c CONFIG"

# ---- stale: the holder killed with -9 ----
kill -9 $holder
wait $holder 2>/dev/null || true
check "kill -9 leaves the lock" test -f "$W/.lock"
second "$W" "$T/other2.log" unshare -u -n sh -c 'hostname other && exec "$@"' sh
check "another host does not clear a lock it cannot check" test $rc -ne 0 -a $rc -ne 124
contains "$T/other2.log" "PID $holder on host $host"
second "$W" "$T/rerun.log"
check "the rerun on the holder's host completes (exit $rc)" test $rc = 0
contains "$T/rerun.log" "cleared the stale lock of PID $holder on host $host"
contains "$T/rerun.log" "that process is gone"
contains "$T/rerun.log" "stages complete"
check "and releases its own lock" test ! -e "$W/.lock"

# ---- a holder on another host, killed: refused here until curate unlock ----
W2=$T/w2
start_holder "$W2" unshare -u sh -c 'hostname other && exec "$@"' sh
check "the other host's lock names it" grep -q '"host": "other"' "$W2/.lock"
second "$W2" "$T/here.log"
check "a lock of another host is not judged from here" test $rc -ne 0 -a $rc -ne 124
contains "$T/here.log" "on host other"
contains "$T/here.log" "from host $host it cannot be checked"
kill -9 $holder
wait $holder 2>/dev/null || true
printf 'workdir: %s\n' "$W2" >"$T/w2.yaml"
"$CURATE" unlock -c "$T/w2.yaml" >"$T/unlock2.out" || fail "curate unlock"
contains "$T/unlock2.out" "removed the lock of PID"
contains "$T/unlock2.out" "on host other"
check "unlock removed the lock" test ! -e "$W2/.lock"
"$CURATE" unlock -c "$T/w2.yaml" >"$T/unlock3.out" || fail "curate unlock with no lock"
contains "$T/unlock3.out" "is not locked"
second "$W2" "$T/after.log"
check "after unlock the run completes" test $rc = 0

# ---- SIGTERM (what Slurm sends first) and a failing run release the lock: the holder waits
# on the network, where a stop cannot come, so it ends after stop_grace (1 s here) ----
W3=$T/w3
start_holder "$W3"
kill -TERM $holder
wait $holder 2>/dev/null || true
check "SIGTERM releases the lock" test ! -e "$W3/.lock"
rc=0; "$CURATE" run workdir="$W3" "stages=[import]" "import.paths=[$T/missing]" 2>"$T/fail.log" || rc=$?
check "a run that fails exits non-zero" test $rc -ne 0
check "and releases the lock" test ! -e "$W3/.lock"
check "no private lock file is left" test -z "$(ls -A "$W3" | grep '^\.lock')"

# ---- spill files of a killed run: removed by the next run, and nothing else ----
common=("stages=[import,reshard]" "import.paths=[/usr/include]" import.shards=4 reshard.shards=4
        memory_budget=1MiB)
"$CURATE" run workdir="$T/clean" "${common[@]}" 2>"$T/clean.log" || { cat "$T/clean.log"; fail "clean run"; }
S=$T/s
"$CURATE" import workdir="$S" "${common[@]}" 2>"$T/s-import.log" || fail "import"
spilled() { compgen -G "$S/tmp/xchg-*/*" >/dev/null; }
# kill -9 once a spill file exists; a reshard that ends first is started again
for attempt in $(seq 10); do
  "$CURATE" reshard --force workdir="$S" "${common[@]}" 2>"$T/s-killed.log" &
  pid=$!
  while kill -0 $pid 2>/dev/null && ! spilled; do sleep 0.01; done
  # spills seen, then killed: unless the run removed them in between, as it ended
  if spilled && kill -9 $pid 2>/dev/null; then wait $pid 2>/dev/null || true; spilled && break; fi
  wait $pid 2>/dev/null || true
done
check "a reshard was killed while it had spilled" spilled
check "its stale lock is left" test -f "$S/.lock"
echo "killed after $attempt attempt(s), $(du -sk "$S/tmp" | cut -f1) KiB of spills left"
# leftovers of more runs, and what is not curate's, which must stay
dead=$(sh -c 'echo $$')
mkdir -p "$S/tmp/xchg-0-$dead-0-$host" "$S/tmp/xchg-1-$dead-3" "$S/tmp/mine" "$S/tmp/xchg-0-abc"
echo x >"$S/tmp/xchg-0-$dead-0-$host/out"
echo x >"$S/tmp/xchg-notes.txt"
"$CURATE" run workdir="$S" "${common[@]}" 2>"$T/s-rerun.log" || { cat "$T/s-rerun.log"; fail "rerun"; }
contains "$T/s-rerun.log" "cleared the stale lock"
contains "$T/s-rerun.log" "spill directories of earlier runs from $S/tmp"
check "no spill directory is left" test -z "$(ls "$S/tmp" | grep -E '^xchg-[0-9]+-[0-9]+-[0-9]+' || true)"
for keep in mine xchg-0-abc xchg-notes.txt; do
  check "$keep (not a spill of curate's) is kept" test -e "$S/tmp/$keep"
done
diff <(digest "$T/clean/reshard") <(digest "$S/reshard") || fail "the rerun's reshard differs from a clean run"

# a tmpdir of the user's may be shared: only this host's dead processes' spills go, on 2 ranks
D=$T/scratch
mkdir -p "$D/xchg-0-$dead-0-$host" "$D/xchg-1-$dead-0-$host" "$D/xchg-0-$dead-0-elsewhere" \
  "$D/xchg-0-$dead-0" "$D/xchg-0-$$-0-$host"
mpiexec -n 2 "$CURATE" reshard --force workdir="$S" tmpdir="$D" "${common[@]}" 2>"$T/d.log" ||
  { cat "$T/d.log"; fail "reshard with a tmpdir"; }
for gone in "xchg-0-$dead-0-$host" "xchg-1-$dead-0-$host"; do
  check "$gone (a dead process of this host) is removed" test ! -e "$D/$gone"
done
for keep in "xchg-0-$dead-0-elsewhere" "xchg-0-$dead-0" "xchg-0-$$-0-$host"; do
  check "$keep (another host's, unnamed, or alive) is kept" test -e "$D/$keep"
done
check "the run's own spills are gone" test "$(ls "$D" | wc -l)" = 3
diff <(digest "$T/clean/reshard") <(digest "$S/reshard") || fail "the 2-rank reshard differs"
echo "ops_lock ok"

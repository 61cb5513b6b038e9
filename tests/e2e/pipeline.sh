# The whole pipeline of configs/demo.yaml (every stage it lists, so the test grows with it):
# byte-identical outputs for 1 and 3 ranks, and a kill-and-resume: one rank of a 3-rank run
# is SIGKILLed while a stage is half done, the rerun resumes, and the outputs are those of
# the clean run.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/e2e/demo.env"
cd "$DEMO"
stages=$(demo_stages)
last=${stages##* }

mpiexec -n 1 "$CURATE" run -c configs/demo.yaml workdir="$T/r1" "${DEMO_ARGS[@]}" 2>"$T/r1.log"
mpiexec -n 3 "$CURATE" run -c configs/demo.yaml workdir="$T/r3" "${DEMO_ARGS[@]}" 2>"$T/r3.log"
contains "$T/r3.log" "$(echo "$stages" | wc -w) stages complete"
demo_digest "$T/r1" >"$T/r1.sha"
demo_digest "$T/r3" >"$T/r3.sha"
check "every stage has a manifest" test "$(grep -c '/manifest.json$' "$T/r1.sha")" \
  = "$(echo "$stages" | wc -w)"
diff "$T/r1.sha" "$T/r3.sha" || fail "1 and 3 ranks give different outputs"

# Kill one rank while a map stage is half done: some of its part records are written, its
# manifest is not. The stage is the first map stage of the config (syntax in the demo).
victim=
for s in $stages; do
  kind=$("$CURATE" config reference | sed -n "/^## $s\$/,/^|/p" | grep -o '^[a-z]* stage' || true)
  if [ "$kind" = "map stage" ]; then victim=$s; break; fi
done
check "the demo has a map stage to interrupt" test -n "$victim"
# The stage can finish between two looks at it (a fast machine, a small stage): then nothing was
# killed and the attempt starts again from scratch, up to 10 times.
for attempt in $(seq 10); do
  rm -rf "$T/k"
  mpiexec -n 3 "$CURATE" run -c configs/demo.yaml workdir="$T/k" "${DEMO_ARGS[@]}" 2>"$T/k1.log" &
  mpi=$!
  killed=
  # the loop ends when the rank is killed or the run ends; the bound only stops a hung run
  deadline=$((SECONDS + 1800))
  while [ $SECONDS -lt $deadline ]; do
    if compgen -G "$T/k/$victim/.parts/part-*.json" >/dev/null && [ ! -e "$T/k/$victim/manifest.json" ]; then
      # the ranks are the children of hydra's proxy, the child of mpiexec; kill the last. All
      # are stopped first, and the manifest looked at again, so that the stage cannot finish
      # between that look and the kill.
      proxy=$(pgrep -P $mpi | head -1)
      ranks=$(pgrep -P "$proxy" | sort -n)
      kill -STOP $ranks 2>/dev/null || true
      for r in $ranks; do
        for _ in $(seq 1200); do # stopped (T), or gone
          st=$(ps -o stat= -p "$r" 2>/dev/null || true)
          [[ -z $st || $st == [TZX]* ]] && break
          sleep 0.05
        done
      done
      if [ ! -e "$T/k/$victim/manifest.json" ]; then
        rank=$(echo "$ranks" | tail -1)
        kill -KILL "$rank" && killed=$rank
      fi
      kill -CONT $ranks 2>/dev/null || true
      [ -n "$killed" ] && break
    fi
    kill -0 $mpi 2>/dev/null || break
    sleep 0.01
  done
  rc=0
  wait $mpi || rc=$?
  [ -n "$killed" ] && break
  echo "attempt $attempt: $victim finished before a rank could be killed; again"
done
check "a rank was killed while stage $victim ran" test -n "$killed"
check "the killed run fails (mpiexec exit $rc)" test $rc -ne 0
check "the killed run did not finish" test ! -e "$T/k/$last/manifest.json"
echo "killed rank pid $killed during $victim; $(ls "$T/k/$victim/.parts" | wc -l) part records were written"

mpiexec -n 3 "$CURATE" run -c configs/demo.yaml workdir="$T/k" "${DEMO_ARGS[@]}" 2>"$T/k2.log"
contains "$T/k2.log" "up to date (config and input unchanged), skipped"
grep -E "stage $victim: resuming|stage $victim: .* shards on" "$T/k2.log"
demo_digest "$T/k" >"$T/k.sha"
diff "$T/r3.sha" "$T/k.sha" || fail "the resumed run's outputs differ from a clean run"
check "no temporary files are left" test -z "$(find "$T/k" -name '*.tmp.*')"
echo "pipeline: 1 and 3 ranks agree on $(wc -l <"$T/r1.sha") outputs; a killed run resumed to the same bytes"

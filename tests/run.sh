#!/usr/bin/env bash
# Runs every test: the cmocka units (dev build, then ASan+UBSan build), the MPI units under
# 1, 2 and 3 ranks, the fuzz corpus replays, the end-to-end scripts in tests/e2e/, and some of
# those again under the ASan+UBSan build (ASAN_E2E).
# Ends with "N passed, N failed" and a non-zero exit when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# TEST_BUILDS: the build folders whose tests run (the first one's curate runs the e2e tests)
TEST_BUILDS=${TEST_BUILDS:-build/dev build/asan}
first=${TEST_BUILDS%% *}
export CURATE="$PWD/$first/curate"
own_tmp=0
[ -z "${TESTS_TMP:-}" ] && own_tmp=1
export TESTS_TMP="${TESTS_TMP:-$(mktemp -d /tmp/curate-tests.XXXXXX)}"
# MPICH's own allocations at exit are not ours to chase
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
MPI_UNITS="test_xchg test_dedup_near"
# e2e tests that run a second time with the ASan+UBSan build's curate when that build is in
# TEST_BUILDS (the dev build has no sanitizer, so UB in stage code shows only there): the
# stages with the most hand-written parsing and buffer code, about 50 s in all
ASAN_E2E="dedup dedup_chain dedup_near_window tokenize quality_truncate redact decontaminate langid reshard jsonl"
only="${1:-}"

passed=0 failed=0 skipped=0 failures=()
run() { # name, command...
  local name=$1; shift
  [ -n "$only" ] && [[ "$name" != *"$only"* ]] && return
  local log="$TESTS_TMP/$(echo "$name" | tr ' /' '__').log" start=$SECONDS rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1)); printf 'ok    %-48s %3ds\n' "$name" $((SECONDS - start))
  elif [ $rc -eq 77 ]; then
    skipped=$((skipped + 1)); printf 'skip  %-48s %s\n' "$name" "$(tail -1 "$log")"
  else
    failed=$((failed + 1)); failures+=("$name")
    printf 'FAIL  %-48s (log: %s)\n' "$name" "$log"; tail -25 "$log" | sed 's/^/      /'
  fi
}

for b in $TEST_BUILDS; do
  flavour=${b##*/}
  for t in $b/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    run "unit $flavour $n" "$t"
    if [[ " $MPI_UNITS " == *" $n "* ]]; then
      run "unit $flavour $n mpiexec -n 2" mpiexec -n 2 "$t"
      run "unit $flavour $n mpiexec -n 3" mpiexec -n 3 "$t"
    fi
  done
  for r in $b/fuzz/replay_*; do
    [ -x "$r" ] || continue
    n=${r##*/replay_}
    run "fuzz replay $flavour $n" "$r" "tests/fuzz/corpus/$n"
  done
done

for t in tests/e2e/*.sh; do
  [ "$(basename "$t")" = lib.sh ] && continue
  run "e2e $(basename "$t" .sh)" bash "$t"
done
for b in $TEST_BUILDS; do
  [ "${b##*/}" = asan ] && [ "$b" != "$first" ] && [ -x "$b/curate" ] || continue
  for n in $ASAN_E2E; do
    run "e2e asan $n" env CURATE="$PWD/$b/curate" bash "tests/e2e/$n.sh"
  done
done

echo
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
# a passing run's files (gigabytes) go; a failing run's stay for its logs
if [ $failed -eq 0 ] && [ $own_tmp = 1 ]; then rm -rf "$TESTS_TMP"; fi
[ $failed -eq 0 ]

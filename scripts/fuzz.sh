#!/usr/bin/env bash
# Builds every fuzz target with clang's libFuzzer (ASan+UBSan) and runs each for
# FUZZ_SECONDS (default 60) on a copy of its corpus; new crashes are left in
# tests/fuzz/corpus-local/ to be added to tests/fuzz/corpus/ once fixed. BUILD (default
# build/fuzz) is the build folder, so that several people can fuzz one tree.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
build=${BUILD:-build/fuzz}
make --no-print-directory MODE=fuzz CC=clang BUILD="$build" fuzz-bin
case $build in /*) bin=$build/fuzz ;; *) bin=$PWD/$build/fuzz ;; esac
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c); name=${name#fuzz_}
  work=tests/fuzz/corpus-local/$name
  mkdir -p "$work"
  [ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  (cd "$work" && ASAN_OPTIONS=detect_leaks=0 "$bin/fuzz_$name" \
      -max_total_time="$secs" -max_len=65536 -artifact_prefix=./crash- . 2>&1 | tail -3)
done

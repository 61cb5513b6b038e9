#!/usr/bin/env bash
# make bench: runs every benchmark in scripts/bench/ and writes docs/benchmarks.md; with names
# as arguments it runs those sections and only prints them. Each benchmark measures curate against a reference tool in the same run,
# on the same input, and reports ratios: best of BENCH_REPEAT runs (default 3), so a noisy
# shared machine affects both sides alike. Never a timed assertion: numbers go to the docs.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${CURATE:-$PWD/bin/curate}
W=$(mktemp -d /tmp/curate-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
R=${BENCH_REPEAT:-3}

best() { # command... -> best wall seconds
  local b=""
  for _ in $(seq "$R"); do
    local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N)
    b=$(awk -v t0="$t0" -v t1="$t1" -v b="$b" 'BEGIN { d = t1 - t0; print (b == "" || d < b) ? d : b }')
  done
  echo "$b"
}
rss_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / s / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

names=("$@")
[ ${#names[@]} -gt 0 ] || names=($(ls scripts/bench/*.sh | xargs -n1 basename | sed 's/\.sh$//'))
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
bench_out="$W/benchmarks.md"
cat >"$bench_out" <<MD
# Benchmarks

Produced by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d), $(nproc) cores ($cpu).
Each figure is the best of $R runs; every ratio compares with a reference tool run in the
same invocation on the same input.

MD
for n in "${names[@]}"; do
  echo "bench: $n" >&2
  source "scripts/bench/$n.sh" >>"$bench_out"
done
# only a full run rewrites the docs; a run of some sections just prints them
[ $# -eq 0 ] && cp "$bench_out" docs/benchmarks.md
[ -n "${CURATE_BENCH_OUT:-}" ] && cp "$bench_out" "$CURATE_BENCH_OUT"
cat "$bench_out"

#!/usr/bin/env bash
# The scorer's and the trainer's checks and benchmarks on a GPU machine lent through the device
# tool, in two calls (docs/scorer.md, "On a GPU"). Here: bash scripts/gpu/pack.sh; then
#   run(command="bash scripts/gpu/run.sh tests", carry=[".gpu"])
#   run(command="bash scripts/gpu/run.sh bench", carry=[".gpu"])
# or, for the trainer alone, one call: run(command="bash scripts/gpu/run.sh train", carry=[".gpu"]).
# Each call unpacks .gpu/bundle.tar.xz, builds libcurate-cuda.so with that machine's nvcc (or
# takes the one an earlier call built from the same sources, kept in /tmp while the machine
# stays warm), then:
#   tests: the scorer's GPU tests (tests/e2e/scorer_cuda.sh, scorer_hf.sh (which also loads
#          what scorer train writes into transformers), scorer.sh, quality.sh), then the
#          trainer's: tests/unit/test_train_cuda against the real library
#          (CURATE_TRAIN_CUDA_LIB) and tests/e2e/scorer_train_cuda_emu.sh with CURATE_CUDA_LIB
#          set to it (its autograd, CPU and rerun-to-the-bit checks on the GPU);
#   bench: scripts/bench/scorer_gpu.sh, scripts/bench/train_gpu.sh (the 1.3B full fine-tune's
#          tokens/s and MFU against transformers), then an ncu per-kernel summary of one 1.3B
#          scoring batch;
#   train: the trainer's tests and train_gpu only;  all: tests then bench.
# Every step has its own time limit, cut to what is left of GPU_DEADLINE_S (570 s from the
# start: the device tool stops a command at 600 s; set it lower with a lower timeout_s), so
# that the summary always comes back; a step with no time left is listed as not run (so one
# call of all runs only what fits). The log (log.txt), summary.txt, each test's
# output (test-NAME.txt) and benchmarks-gpu.md (every bench's section) come back under $OUT.
# Estimated (nothing here has run on a GPU yet): tests and bench 5 to 8 minutes each, train
# about 4, plus about half a minute for nvcc in a call that builds (20 s on 2 cores here).
set -uo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
case $what in tests | bench | train | all) ;; *) echo "usage: run.sh tests|bench|train|all"; exit 2 ;; esac
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
G=$PWD/.gpu
[ -f "$G/bundle.tar.xz" ] || { echo "no $G/bundle.tar.xz: run scripts/gpu/pack.sh here first and carry .gpu"; exit 2; }
# (what an earlier unpacking left, a built library included, must not stand in for the bundle's)
rm -rf "$G/real" "$G/lib" "$G/bin" "$G/tok" "$G/nvflags"
python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$G/bundle.tar.xz" "$G"
# cuBLASLt: the CUDA toolkit's, else the pip wheel's beside PyTorch
cuda_lib=$(dirname "$(dirname "$(command -v nvcc)")")/lib64
cublas=$(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__))' 2>/dev/null || true)
libs="$G/lib:$cuda_lib${cublas:+:$cublas/lib}"
# each carried program sees the carried libraries; nothing else here does (Python keeps its own)
mkdir -p "$G/bin"
for p in curate jq mpiexec test_train_cuda; do
  [ -f "$G/real/$p" ] || continue
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" UCX_MODULE_DIR="%s" exec "%s" "$@"\n' \
    "$libs" "$G/lib/ucx" "$G/real/$p" >"$G/bin/$p"
  chmod +x "$G/bin/$p"
done
ln -sf ../real/libcurate-cuda.so "$G/bin/libcurate-cuda.so" # where the tests look for it
export PATH="$G/bin:$G/real:$PATH" CURATE="$G/bin/curate" CURATE_PYTHON=python3
export CURATE_TOKENIZERS="$G/tok" PYTHONUNBUFFERED=1
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
# SECONDS: a step's own limit, or what is left of this call's deadline if that is less
limit() {
  local left=$((${GPU_DEADLINE_S:-570} - SECONDS))
  if [ "$1" -lt "$left" ]; then echo "$1"; else echo "$left"; fi
}
check() { # NAME SECONDS COMMAND...: one test, its output in $OUT/test-NAME.txt
  local name=$1 t rc r t0=$SECONDS
  t=$(limit "$2")
  shift 2
  if [ "$t" -lt 20 ]; then summary "test $name: not run (no time left in this call)"; return; fi
  echo "== test $name"
  timeout -k 10 "$t" "$@" >"$OUT/test-$name.txt" 2>&1
  rc=$?
  cat "$OUT/test-$name.txt"
  case $rc in
    0) r=ok ;;
    77) r="skipped: $(tail -1 "$OUT/test-$name.txt")" ;;
    124 | 137) r="TIMED OUT (limit $t s)" ;;
    *) r="FAILED (exit $rc)" ;;
  esac
  summary "test $name: $r in $((SECONDS - t0)) s"
}
run_bench() { # NAME SECONDS: scripts/bench/NAME.sh, its section added to $OUT/benchmarks-gpu.md
  local name=$1 t rc t0=$SECONDS
  t=$(limit "$2")
  if [ "$t" -lt 30 ]; then summary "bench $name: not run (no time left in this call)"; return; fi
  echo "== bench $name"
  rm -f "$OUT/bench-$name.md"
  CURATE_BENCH_OUT="$OUT/bench-$name.md" timeout -k 10 "$t" bash scripts/bench.sh "$name"
  rc=$?
  if [ -f "$OUT/bench-$name.md" ]; then # the first with bench.sh's header, then sections only
    if [ -s "$OUT/benchmarks-gpu.md" ]; then
      awk '/^## / { p = 1 } p' "$OUT/bench-$name.md" >>"$OUT/benchmarks-gpu.md"
    else
      cp "$OUT/bench-$name.md" "$OUT/benchmarks-gpu.md"
    fi
  fi
  case $rc in 0) r=ok ;; 124 | 137) r="TIMED OUT (limit $t s)" ;; *) r="FAILED (exit $rc)" ;; esac
  summary "bench $name: $r in $((SECONDS - t0)) s ($OUT/benchmarks-gpu.md)"
}

echo "== machine"
nvidia-smi -L; nvcc --version | tail -1
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
"$CURATE" version || { summary "curate does not start here"; exit 1; }

if [ ! -f "$G/real/libcurate-cuda.so" ]; then
  echo "== libcurate-cuda.so"
  # an earlier call on this machine may have built it from the same sources and flags
  key=$(cat scorer/*.cu scorer/*.cuh scorer/*.h pipeline/*.h "$G/nvflags" | sha256sum | cut -c1-16)
  kept=/tmp/curate-gpu-build/libcurate-cuda-$key.so
  extra=(-L"$cuda_lib" -Xlinker -rpath,"$cuda_lib")
  [ -n "$cublas" ] && extra+=(-I"$cublas/include" -L"$cublas/lib")
  nvcc --help | grep -q -- --threads && extra+=(--threads 0) # sm_80 and sm_90 side by side
  read -ra nvflags <"$G/nvflags"
  t0=$SECONDS
  if [ -f "$kept" ]; then
    cp "$kept" "$G/real/libcurate-cuda.so"
    summary "libcurate-cuda.so: the one an earlier call built here from the same sources"
  elif nvcc "${nvflags[@]}" -o "$G/real/libcurate-cuda.so" scorer/*.cu "${extra[@]}" -lcublasLt -lcudart; then
    mkdir -p "$(dirname "$kept")" && cp "$G/real/libcurate-cuda.so" "$kept"
    summary "built libcurate-cuda.so with $(nvcc --version | tail -1) in $((SECONDS - t0)) s"
  else
    cp "$G/real/libcurate-cuda.so.here" "$G/real/libcurate-cuda.so"
    summary "nvcc failed here: using the copy built on the developer machine"
  fi
fi

scoring_tests() {
  local t
  for t in scorer_cuda scorer_hf scorer quality; do
    check "$t" 300 bash "tests/e2e/$t.sh"
  done
}
training_tests() {
  if [ -f "$G/bin/test_train_cuda" ]; then
    check test_train_cuda 120 env CURATE_TRAIN_CUDA_LIB="$G/real/libcurate-cuda.so" "$G/bin/test_train_cuda"
  else
    summary "test test_train_cuda: not in the bundle (rerun scripts/gpu/pack.sh)"
  fi
  check scorer_train_cuda_emu 240 env CURATE_CUDA_LIB="$G/real/libcurate-cuda.so" bash tests/e2e/scorer_train_cuda_emu.sh
}
export BENCH_CK13=/tmp/curate-hf-1.3b BENCH_REPEAT=${BENCH_REPEAT:-2} # the 1.3B checkpoint: made once
kernels() { # where the time goes in one 1.3B batch of 8 x 2048 tokens, by kernel (ncu, no clock control)
  local t
  t=$(limit 240)
  [ -d "$BENCH_CK13" ] && command -v ncu >/dev/null || return 0
  if [ "$t" -lt 30 ]; then summary "ncu: not run (no time left in this call)"; return; fi
  echo "== ncu"
  echo 2048 2048 2048 2048 2048 2048 2048 2048 >/tmp/eight
  timeout -k 10 "$t" ncu --clock-control none --print-summary per-kernel --launch-skip 200 --launch-count 120 \
    "$CURATE" scorer bench --device cuda -m "$BENCH_CK13" --lengths /tmp/eight \
    >"$OUT/ncu.txt" 2>&1 || echo "ncu failed or timed out: see ncu.txt"
  tail -60 "$OUT/ncu.txt"
}

case $what in
  tests) scoring_tests; training_tests ;;
  bench) run_bench scorer_gpu 300; run_bench train_gpu 300; kernels ;;
  train) training_tests; run_bench train_gpu 300 ;;
  all) scoring_tests; training_tests; run_bench scorer_gpu 300; run_bench train_gpu 300; kernels ;;
esac
cat "$OUT/summary.txt"

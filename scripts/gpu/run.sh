#!/usr/bin/env bash
# The scorer's and the trainer's checks and benchmarks on a GPU machine lent through the device
# tool, in two or three calls (docs/scorer.md, "On a GPU"). Here: bash scripts/gpu/pack.sh; then
#   run(command="bash scripts/gpu/run.sh tests", carry=[".gpu"])   # scoring tests, ~5 minutes
#   run(command="bash scripts/gpu/run.sh bench", carry=[".gpu"])   # scoring bench, ~5 minutes
#   run(command="bash scripts/gpu/run.sh train", carry=[".gpu"])   # training, ~4 minutes
# It builds libcurate-cuda.so with that machine's nvcc, runs the GPU tests (tests: scorer_cuda,
# scorer_hf (which also loads what scorer train writes into transformers), scorer, quality;
# train: test_train_cuda against the real library and scorer_train_cuda_emu.sh's checks on the
# GPU) and the benchmarks against transformers (bench: scorer_gpu; train: train_gpu, the 1.3B
# full fine-tune's tokens/s and MFU); the log, a summary and benchmarks-gpu.md come back under
# $OUT. With 15 minutes of device time, train first when the trainer is what needs measuring.
set -uo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
G=$PWD/.gpu
[ -f "$G/bundle.tar.xz" ] || { echo "no $G/bundle.tar.xz: run scripts/gpu/pack.sh here first and carry .gpu"; exit 2; }
python3 -c "import tarfile, sys; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$G/bundle.tar.xz" "$G"
# cuBLASLt: the CUDA toolkit's, else the pip wheel's beside PyTorch
cuda_lib=$(dirname "$(dirname "$(command -v nvcc)")")/lib64
cublas=$(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__))' 2>/dev/null || true)
libs="$G/lib:$cuda_lib${cublas:+:$cublas/lib}"
# each carried program sees the carried libraries; nothing else here does (Python keeps its own)
mkdir -p "$G/bin"
for p in curate jq mpiexec; do
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" UCX_MODULE_DIR="%s" exec "%s" "$@"\n' \
    "$libs" "$G/lib/ucx" "$G/real/$p" >"$G/bin/$p"
  chmod +x "$G/bin/$p"
done
ln -sf ../real/libcurate-cuda.so "$G/bin/libcurate-cuda.so" # where the tests look for it
export PATH="$G/bin:$G/real:$PATH" CURATE="$G/bin/curate" CURATE_PYTHON=python3
export CURATE_TOKENIZERS="$G/tok" PYTHONUNBUFFERED=1
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }

echo "== machine"
nvidia-smi -L; nvcc --version | tail -1
python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
"$CURATE" version || { summary "curate does not start here"; exit 1; }

if [ ! -f "$G/real/libcurate-cuda.so" ]; then
  echo "== libcurate-cuda.so"
  extra=(-L"$cuda_lib" -Xlinker -rpath,"$cuda_lib")
  [ -n "$cublas" ] && extra+=(-I"$cublas/include" -L"$cublas/lib")
  # shellcheck disable=SC2046
  if nvcc $(cat "$G/nvflags") -o "$G/real/libcurate-cuda.so" scorer/*.cu "${extra[@]}" -lcublasLt -lcudart; then
    summary "built libcurate-cuda.so with $(nvcc --version | tail -1)"
  else
    cp "$G/real/libcurate-cuda.so.here" "$G/real/libcurate-cuda.so"
    summary "nvcc failed here: using the copy built on the developer machine"
  fi
fi

if [ "$what" = tests ] || [ "$what" = all ]; then
  for t in scorer_cuda scorer_hf scorer quality; do
    echo "== test $t"
    t0=$(date +%s)
    timeout 300 bash "tests/e2e/$t.sh" >"$OUT/test-$t.txt" 2>&1
    rc=$?
    cat "$OUT/test-$t.txt"
    case $rc in 0) r=ok ;; 77) r="skipped: $(tail -1 "$OUT/test-$t.txt")" ;; *) r="FAILED (exit $rc)" ;; esac
    summary "test $t: $r in $(($(date +%s) - t0)) s"
  done
fi

if [ "$what" = train ] || [ "$what" = all ]; then
  echo "== test test_train_cuda (the CUDA trainer against the CPU engine, on this GPU)"
  t0=$(date +%s)
  LD_LIBRARY_PATH="$libs" CURATE_TRAIN_CUDA_LIB="$G/real/libcurate-cuda.so" timeout 300 \
    "$G/real/test_train_cuda" >"$OUT/test-train_cuda.txt" 2>&1
  rc=$?
  cat "$OUT/test-train_cuda.txt"
  [ $rc = 0 ] && r=ok || r="FAILED (exit $rc)"
  summary "test test_train_cuda: $r in $(($(date +%s) - t0)) s"
  echo "== test scorer_train_cuda (scorer_train_cuda_emu.sh on this GPU)"
  t0=$(date +%s)
  CURATE_TRAIN_GPU=1 timeout 300 bash tests/e2e/scorer_train_cuda_emu.sh >"$OUT/test-scorer_train_cuda.txt" 2>&1
  rc=$?
  cat "$OUT/test-scorer_train_cuda.txt"
  [ $rc = 0 ] && r=ok || r="FAILED (exit $rc)"
  summary "test scorer_train_cuda: $r in $(($(date +%s) - t0)) s"
  echo "== bench train_gpu"
  export BENCH_CK13=/tmp/curate-hf-1.3b
  BENCH_REPEAT=1 CURATE_BENCH_OUT="$OUT/benchmarks-gpu-train.md" timeout 420 bash scripts/bench.sh train_gpu
  summary "bench train_gpu: exit $?, $OUT/benchmarks-gpu-train.md"
fi

if [ "$what" = bench ] || [ "$what" = all ]; then
  echo "== bench"
  export BENCH_CK13=/tmp/curate-hf-1.3b
  BENCH_REPEAT=${BENCH_REPEAT:-2} CURATE_BENCH_OUT="$OUT/benchmarks-gpu.md" bash scripts/bench.sh scorer_gpu
  summary "bench: $OUT/benchmarks-gpu.md"
  # where the time goes in one 1.3B batch of 8 x 2048 tokens, by kernel (ncu, no clock control)
  if [ -d "$BENCH_CK13" ] && command -v ncu >/dev/null; then
    echo 2048 2048 2048 2048 2048 2048 2048 2048 >/tmp/eight
    timeout 240 ncu --clock-control none --print-summary per-kernel --launch-skip 200 --launch-count 120 \
      "$CURATE" scorer bench --device cuda -m "$BENCH_CK13" --lengths /tmp/eight \
      >"$OUT/ncu.txt" 2>&1 || echo "ncu failed or timed out: see ncu.txt"
    tail -60 "$OUT/ncu.txt"
  fi
fi
cat "$OUT/summary.txt"

#!/usr/bin/env bash
# Packs what scripts/gpu/run.sh needs on a GPU machine lent through the device tool. That
# machine has nvcc, PyTorch and transformers but none of curate's Debian libraries and no
# network, so curate and the trainer's unit test tests/unit/test_train_cuda (cmocka; run there
# against the real libcurate-cuda.so) are built here (release) and travel with every shared
# library they load except glibc's and the C++ runtime's (run.sh wraps each program so that
# only they see these libraries, not that machine's Python), in .gpu/bundle.tar.xz (ignored by
# git: name ".gpu" in the run's carry). The CUDA library is built there, with that machine's
# nvcc and the Makefile's flags (a copy built here travels too, in case that fails). The
# sources run.sh builds from and the test scripts travel in the work tree itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s MODE=release BUILD=build/release build/release/curate build/release/tests/test_train_cuda
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/real" "$stage/lib/ucx" .gpu
cp build/release/curate build/release/tests/test_train_cuda "$stage/real/"
[ -f build/release/libcurate-cuda.so ] && cp build/release/libcurate-cuda.so "$stage/real/libcurate-cuda.so.here"
# the tools the GPU tests call besides curate: jq, and MPICH's launcher for the rank tests
cp /usr/bin/jq /usr/bin/hydra_pmi_proxy "$stage/real/"
cp /usr/bin/mpiexec.hydra "$stage/real/mpiexec"
ldd build/release/curate build/release/tests/test_train_cuda /usr/bin/jq /usr/bin/mpiexec.hydra /usr/bin/hydra_pmi_proxy |
  awk '$3 ~ /^\// { print $3 }' | sort -u | while read -r lib; do
  case $(basename "$lib") in
    libc.so* | libm.so* | libdl.so* | libpthread.so* | librt.so* | libresolv.so* | ld-linux* | libstdc++* | libgcc_s*) ;;
    *) cp -L "$lib" "$stage/lib/" ;;
  esac
done
# MPICH's UCX loads its transports from a folder (UCX_MODULE_DIR there)
cp -L /usr/lib/x86_64-linux-gnu/ucx/libuct_cma.so.0 "$stage/lib/ucx/" 2>/dev/null || true
# the two tokenizers the scorer and quality tests use (tests/parity/env.sh reads them from
# CURATE_TOKENIZERS there: no npm on that machine)
source tests/parity/env.sh >/dev/null
mkdir -p "$stage/tok" && cp "$TOK_LLAMA3" "$stage/tok/llama3.json" && cp "$TOK_QWEN3" "$stage/tok/qwen3.json"
make -s print-nvflags >"$stage/nvflags" 2>/dev/null || echo "-O3 -std=c++17 -Ipipeline -Iscorer -Xcompiler -fPIC -shared" >"$stage/nvflags"
tar -C "$stage" -cJf .gpu/bundle.tar.xz .
echo ".gpu/bundle.tar.xz: $(du -h .gpu/bundle.tar.xz | cut -f1); carry \".gpu\" and run: bash scripts/gpu/run.sh tests|bench|train|all"

# The CUDA scorer against the CPU path on the parity checkpoints (tests/parity/scorer_ref.py:
# MHA, GQA, MQA, tied, bf16/f16/f32, sharded, every RoPE scaling, head sizes 8 to 128), with
# each attention kernel (tensor cores with the output in registers or in shared memory, and
# the scalar reference: CURATE_CUDA_ATTENTION), every file scored in one call so
# that sequences of different lengths are packed into one batch; then compute-sanitizer
# (memcheck, racecheck) on each kernel. Skips (77) without a GPU or libcurate-cuda.so.
# bf16 tolerance: weights and activations in bf16 (8 bits of mantissa) through a few layers
# give errors of up to about 2e-2 in absolute terms, whatever the score's size (the
# emulator and a float64 model of the same bf16 roundings agree on that, docs/scorer.md):
# we accept 3e-2 relative to max(|cpu|, 1).
# CURATE_CUDA_EMU_LIB: run on that emulated library (tests/cuda_emu/, no GPU needed, no
# compute-sanitizer); SCORER_CUDA_CASES, SCORER_CUDA_LENGTHS: fewer checkpoints and lengths
# (tests/e2e/scorer_cuda_emu.sh sets them).
source "$(dirname "$0")/lib.sh"
PY=${CURATE_PYTHON:-/usr/bin/python3} # Debian's python3-torch, or the GPU machine's python3
REF="$ROOT/tests/parity/scorer_ref.py"
CMP="$ROOT/tests/parity/compare_scores.py"
lib="$(dirname "$CURATE")/libcurate-cuda.so"
if [ -n "${CURATE_CUDA_EMU_LIB:-}" ]; then
  lib=$CURATE_CUDA_EMU_LIB
  [ -f "$lib" ] || fail "no $lib"
  export CURATE_CUDA_LIB=$lib
else
  [ -f "$lib" ] || { echo "skip: no $lib (built only when nvcc is found)"; exit 77; }
  nvidia-smi -L >/dev/null 2>&1 || { echo "skip: no GPU"; exit 77; }
fi
$PY -c 'import torch' || fail "$PY has no torch"
lengths=${SCORER_CUDA_LENGTHS:-1 3 15 16 17 63 64 65 127 128 129 200 700 1500}
$PY - "$T" $lengths <<'PYEOF'
import random, sys
r = random.Random(5)
for n in map(int, sys.argv[2:]):
    open(f"{sys.argv[1]}/ids{n:04d}.txt", "w").write(" ".join(str(r.randrange(256)) for _ in range(n)))
PYEOF
one=$(ls "$T"/ids*.txt | grep -m1 ids0700 || ls "$T"/ids*.txt | tail -1) # scored alone too
for c in ${SCORER_CUDA_CASES:-$($PY "$REF" cases)}; do
  $PY "$REF" gen "$T/$c" "$c"
  "$CURATE" scorer score --ids --device cpu -m "$T/$c" "$T"/ids*.txt >"$T/$c.cpu" || fail "$c: cpu"
  for attn in auto smem reference; do
    CURATE_CUDA_ATTENTION=$attn "$CURATE" scorer score --ids --device cuda -m "$T/$c" "$T"/ids*.txt \
      >"$T/$c.$attn" || fail "$c: cuda, $attn attention"
    out=$($PY "$CMP" "$T/$c.$attn" "$T/$c.cpu" 3e-2 1) || fail "$c: CUDA ($attn attention) differs from CPU beyond the bf16 tolerance"
    echo "$c: cuda ($attn attention) against cpu: $out"
  done
  cp "$T/$c.auto" "$T/$c.gpu"
  # alone, a sequence scores as it does packed with the others: to the bit where every GEMM
  # shape has a pinned algorithm (the device line says "pinned GEMMs"), else within tolerance
  "$CURATE" scorer score --ids --device cuda -m "$T/$c" "$one" >"$T/$c.one"
  # (the output first: grep -q leaves the pipe early, and pipefail would count curate's SIGPIPE)
  bench=$("$CURATE" scorer bench --device cuda -m "$T/$c" --tokens 16 --seqs 1)
  if grep -q "pinned GEMMs" <<<"$bench"; then
    grep -qxF -- "$(cat "$T/$c.one")" "$T/$c.gpu" || fail "$c: packed and alone differ"
  else
    grep -F -- "$one" "$T/$c.gpu" >"$T/$c.packed"
    $PY "$CMP" "$T/$c.one" "$T/$c.packed" 3e-2 1 >/dev/null || fail "$c: packed and alone differ"
    echo "$c: GEMM algorithms not pinned: scores depend on batching within bf16 tolerance"
  fi
done
# (a few lengths that cross tile edges: racecheck instruments every shared-memory access)
if [ -z "${CURATE_CUDA_EMU_LIB:-}" ] && command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    for attn in auto smem reference; do
      CURATE_CUDA_ATTENTION=$attn compute-sanitizer --tool $tool --error-exitcode 9 \
        "$CURATE" scorer score --ids --device cuda -m "$T/mha-hd128" "$T/ids0017.txt" "$T/ids0065.txt" "$T/ids0200.txt" \
        >"$T/sanitizer.log" 2>&1 || { tail -30 "$T/sanitizer.log"; fail "compute-sanitizer $tool ($attn attention) reported errors"; }
      echo "compute-sanitizer $tool, $attn attention: $(tail -1 "$T/sanitizer.log")"
    done
  done
fi
echo "cuda matches cpu within bf16 tolerance"

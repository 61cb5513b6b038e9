# The CUDA scorer against the CPU path on the parity checkpoints, and under compute-sanitizer
# when it is installed. Skips (77) where no GPU or no libcurate-cuda.so is present. bf16
# tolerance: weights and activations in bf16 (8 bits of mantissa) through a few layers give
# relative errors of a few 1e-3; we accept 3e-2 relative (to max(|cpu|, 0.1)).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
REF="$ROOT/tests/parity/scorer_ref.py"
lib="$(dirname "$CURATE")/libcurate-cuda.so"
[ -f "$lib" ] || { echo "skip: no $lib (built only when nvcc is found)"; exit 77; }
nvidia-smi -L >/dev/null 2>&1 || { echo "skip: no GPU"; exit 77; }
$PY -c 'import torch' || fail "python3-torch is missing"
$PY - "$T" <<'PYEOF'
import random, sys
r = random.Random(5)
for n in (1, 3, 64, 65, 200, 700):
    open(f"{sys.argv[1]}/ids{n:03d}.txt", "w").write(" ".join(str(r.randrange(256)) for _ in range(n)))
PYEOF
for c in $($PY "$REF" cases); do
  $PY "$REF" gen "$T/$c" "$c"
  "$CURATE" scorer score --ids --device cpu -m "$T/$c" "$T"/ids*.txt >"$T/$c.cpu" || fail "$c: cpu"
  "$CURATE" scorer score --ids --device cuda -m "$T/$c" "$T"/ids*.txt >"$T/$c.gpu" || fail "$c: cuda"
  paste "$T/$c.cpu" "$T/$c.gpu" | awk -F'\t' -v c="$c" '{
    d = $1 - $3; if (d < 0) d = -d; m = $1 < 0 ? -$1 : $1; if (m < 0.1) m = 0.1
    if (d / m > 3e-2) { printf "%s %s: cpu %s cuda %s\n", c, $2, $1, $3; bad = 1 } }
    END { exit bad }' || fail "$c: CUDA differs from CPU beyond the bf16 tolerance"
done
if command -v compute-sanitizer >/dev/null; then
  compute-sanitizer --error-exitcode 9 "$CURATE" scorer score --ids --device cuda -m "$T/mha" "$T"/ids*.txt \
    >"$T/sanitizer.log" 2>&1 || { tail -30 "$T/sanitizer.log"; fail "compute-sanitizer reported errors"; }
fi
echo "cuda matches cpu within bf16 tolerance"

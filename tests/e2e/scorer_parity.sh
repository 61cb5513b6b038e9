# The CPU scorer against a PyTorch reference of the same Llama equations
# (tests/parity/scorer_ref.py, float64) on random checkpoints of several shapes: MHA, GQA,
# MQA, tied and untied, F32/BF16/F16, a sharded index, an explicit head_dim, and linear,
# dynamic and llama3 RoPE scaling; sequences of 1 to 300 tokens; within 1e-4 relative.
# Then the reference reads a `scorer init` checkpoint, checking our writer.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's python3-torch lives there, whatever python3 is first on PATH
REF="$ROOT/tests/parity/scorer_ref.py"
$PY -c 'import torch' || fail "python3-torch is missing (scripts/deps.sh installs it)"
$PY - "$T" <<'PYEOF'
import random, sys
r = random.Random(3)
for n in (1, 2, 7, 64, 100, 300):
    open(f"{sys.argv[1]}/ids{n:03d}.txt", "w").write(" ".join(str(r.randrange(256)) for _ in range(n)))
PYEOF
compare() { $PY "$ROOT/tests/parity/compare_scores.py" "$1" "$2" 1e-4 1e-2; } # ours, reference
for c in $($PY "$REF" cases); do
  $PY "$REF" gen "$T/$c" "$c"
  "$CURATE" scorer score --ids --threads 2 -m "$T/$c" "$T"/ids*.txt >"$T/$c.ours" || fail "$c: score"
  $PY "$REF" score "$T/$c" "$T"/ids*.txt >"$T/$c.ref"
  out=$(compare "$T/$c.ours" "$T/$c.ref") || fail "$c: scores differ from the reference: $out"
  echo "$c: $out"
done

# a checkpoint written by `scorer init`, read by the reference's own safetensors reader
source "$ROOT/tests/parity/env.sh" >/dev/null
"$CURATE" scorer init --preset tiny --seed 5 -t "$TOK_QWEN3" -o "$T/init" || fail "init"
"$CURATE" scorer score --ids -m "$T/init" "$T"/ids*.txt >"$T/init.ours" || fail "init: score"
$PY "$REF" score "$T/init" "$T"/ids*.txt >"$T/init.ref"
compare "$T/init.ours" "$T/init.ref" || fail "init checkpoint: scores differ from the reference"
echo "scorer parity ok"

# The scorer against Hugging Face transformers' LlamaForSequenceClassification on checkpoints
# that transformers itself wrote (save_pretrained: its config.json, its safetensors names and
# sharding) — tests/parity/scorer_hf.py. CPU fp32 against transformers fp32 (eager) within
# 1e-4 relative; with a GPU, CUDA bf16 within 3e-2 of transformers fp32 relative to
# max(|score|, 1) (docs/scorer.md, "Tolerance"), and transformers' own bf16 error printed
# beside it. transformers is not a Debian package: this skips (77) where
# $CURATE_PYTHON (default python3) cannot import it, as in CI; scripts/gpu/run.sh runs it on
# the GPU machines lent to sessions, which have it.
source "$(dirname "$0")/lib.sh"
PY=${CURATE_PYTHON:-python3}
$PY -c 'import transformers' 2>/dev/null || { echo "skip: $PY has no transformers"; exit 77; }
HF="$ROOT/tests/parity/scorer_hf.py"
CMP="$ROOT/tests/parity/compare_scores.py"
$PY - "$T" <<'PYEOF'
import random, sys
r = random.Random(11)
for n in (1, 5, 64, 65, 300, 1000):
    open(f"{sys.argv[1]}/ids{n:04d}.txt", "w").write(" ".join(str(r.randrange(1, 600)) for _ in range(n)))
PYEOF
gpu=0
nvidia-smi -L >/dev/null 2>&1 && [ -f "$(dirname "$CURATE")/libcurate-cuda.so" ] && gpu=1
for p in tiny-gqa tiny-mha-llama3; do
  $PY "$HF" make "$T/$p" "$p" f32 3 || fail "$p: transformers could not write the checkpoint"
  "$CURATE" scorer score --ids --device cpu -m "$T/$p" "$T"/ids*.txt >"$T/$p.cpu" || fail "$p: curate cpu"
  $PY "$HF" score "$T/$p" cpu f32 eager "$T"/ids*.txt >"$T/$p.hf" || fail "$p: transformers"
  out=$($PY "$CMP" "$T/$p.cpu" "$T/$p.hf" 1e-4 1e-2) || fail "$p: curate cpu differs from transformers"
  echo "$p: curate cpu f32 against transformers f32: $out"
  [ $gpu = 1 ] || continue
  "$CURATE" scorer score --ids --device cuda -m "$T/$p" "$T"/ids*.txt >"$T/$p.gpu" || fail "$p: curate cuda"
  out=$($PY "$CMP" "$T/$p.gpu" "$T/$p.hf" 3e-2 1) || fail "$p: curate cuda differs from transformers"
  echo "$p: curate cuda bf16 against transformers f32: $out"
  $PY "$HF" score "$T/$p" cuda bf16 sdpa "$T"/ids*.txt >"$T/$p.hfbf16" || fail "$p: transformers bf16"
  echo "$p: transformers cuda bf16 against transformers f32: $($PY "$CMP" "$T/$p.hfbf16" "$T/$p.hf" 1 1)"
done
echo "scorer matches transformers"

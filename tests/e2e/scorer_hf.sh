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
# what `scorer train` writes loads in transformers as it is and scores the same: a tiny
# transformers-made Llama and a qwen2 one with biases, a few AdamW steps each
REF="$ROOT/tests/parity/scorer_ref.py" TR="$ROOT/tests/parity/train_ref.py"
$PY "$REF" gen "$T/qwen2" qwen2-bias
$PY "$TR" labels "$T/lab.jsonl" 24 4 256 40
mkdir -p "$T/tiny-gqa-ids" "$T/qwen2-ids"
cp "$T"/ids*.txt "$T/tiny-gqa-ids/"
$PY -c 'import random, sys; r = random.Random(5); [open(f"{sys.argv[1]}/ids{n:04d}.txt", "w").write(" ".join(str(r.randrange(300)) for _ in range(n))) for n in (1, 7, 64, 200)]' "$T/qwen2-ids"
for p in tiny-gqa qwen2; do
  "$CURATE" scorer train -m "$T/$p" -o "$T/$p-trained" "$T/lab.jsonl" pretokenized=true \
    val_fraction=0 batch_tokens=200 lr=1e-3 2>"$T/$p-train.log" || { cat "$T/$p-train.log"; fail "$p: scorer train"; }
  "$CURATE" scorer score --ids --device cpu -m "$T/$p-trained" "$T/$p-ids"/ids*.txt >"$T/$p-trained.cpu" || fail "$p: curate on the trained checkpoint"
  $PY "$HF" score "$T/$p-trained" cpu f32 eager "$T/$p-ids"/ids*.txt >"$T/$p-trained.hf" || fail "$p: transformers could not load what scorer train wrote"
  out=$($PY "$CMP" "$T/$p-trained.cpu" "$T/$p-trained.hf" 1e-4 1e-2) || fail "$p: the trained checkpoint scores differently in transformers"
  echo "$p, trained by curate: curate cpu against transformers: $out"
done
echo "scorer matches transformers"

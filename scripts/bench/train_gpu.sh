# scorer train on a GPU: curate's CUDA trainer against a plain PyTorch + transformers loop
# (tests/parity/scorer_hf.py train-bench: fp32 weights and fused AdamW, bf16 autocast, sdpa)
# on the same 1.3B checkpoint as the scoring bench (hidden 2048, 24 layers, 16 heads, FFN
# 5504, written by transformers), the same labels and batches: full fine-tuning, 8 sequences
# of 2048 tokens a step (16384 tokens), STEPS timed steps after one untimed for transformers;
# curate's figure is metrics.json's tokens_per_s (its steps only, the first included). MFU
# counts 3 x the forward's GEMMs and causal attention per token (scorer_hf.py train_flops)
# against the GPU's dense bf16 peak. Needs a GPU, libcurate-cuda.so and transformers (the GPU
# machines lent to sessions: scripts/gpu/run.sh); elsewhere it says where the figures are.
# Sourced by scripts/bench.sh (C, W, R, ratio).
PY=${CURATE_PYTHON:-python3}
if ! nvidia-smi -L >/dev/null 2>&1 || [ ! -f "$(dirname "$C")/libcurate-cuda.so" ] ||
  ! $PY -c 'import transformers' 2>/dev/null; then
  cat <<MD
## scorer train: GPU (CUDA bf16) against transformers

Not measured by this run: it needs a GPU, libcurate-cuda.so and transformers. The GPU figures
are in [benchmarks-gpu.md](benchmarks-gpu.md), written by scripts/gpu/run.sh on a GPU machine
(none has been lent yet for training).

MD
  return 0
fi
ck=${BENCH_CK13:-$W/hf-1.3b}
[ -f "$ck/config.json" ] || $PY tests/parity/scorer_hf.py make "$ck" 1.3b bf16 1 >&2
STEPS=${BENCH_TRAIN_STEPS:-8}
$PY tests/parity/scorer_hf.py train-labels "$W/train.jsonl" $((8 * (STEPS + 1))) 2048 32000 1
field() { awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }
# curate: the same records, STEPS + 1 steps of 16384 tokens in file order
rm -rf "$W/trained"
log=$("$C" scorer train -m "$ck" -o "$W/trained" "$W/train.jsonl" device=cuda mode=full \
  pretokenized=true val_fraction=0 shuffle=false batch_tokens=16384 max_tokens=2048 \
  dtype=bf16 2>&1) || { echo "$log" | tail -20 >&2; echo "curate scorer train device=cuda failed" >&2; }
ot=$($PY -c 'import json, sys; print("%.1f" % json.load(open(sys.argv[1]))["tokens_per_s"])' \
  "$W/trained/metrics.json" 2>/dev/null || echo 0)
odev=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["device"])' "$W/trained/metrics.json" 2>/dev/null)
om=$($PY tests/parity/scorer_hf.py mfu "$ck" 2048 "$ot" | field mfu)
theirs=$($PY tests/parity/scorer_hf.py train-bench "$ck" "$W/train.jsonl" 8 "$STEPS" 2>"$W/hf-train.err") ||
  { tail -20 "$W/hf-train.err" >&2; echo "transformers train-bench failed" >&2; }
tt=$(echo "$theirs" | field tokens_per_s)
cat <<MD
## scorer train: GPU (CUDA bf16) against transformers

curate \`scorer train device=cuda\` ($odev) against a PyTorch loop over transformers
$($PY -c 'import transformers, torch; print(transformers.__version__, "with torch", torch.__version__)')
(fp32 weights and fused AdamW, bf16 autocast, sdpa; gradient checkpointing
$(echo "$theirs" | field gradient_checkpointing), peak $(echo "$theirs" | field peak_gib) GiB) on
$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1): the 1.3B checkpoint, full
fine-tuning, steps of 8 x 2048 tokens (curate: $((STEPS + 1)) steps, the first included;
transformers: $STEPS after an untimed one). MFU: 3 x (GEMMs + causal attention) per token against
$(echo "$theirs" | field peak) TFLOP/s (dense bf16).

| model | tokens a step | curate tokens/s | curate MFU | transformers tokens/s | transformers MFU | ratio |
|---|---:|---:|---:|---:|---:|---:|
| 1.3B | 16384 | $ot | $om | $tt | $(echo "$theirs" | field mfu) | $(ratio "${ot:-0}" "${tt:-1}") |

MD

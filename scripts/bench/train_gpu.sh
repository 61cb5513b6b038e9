# scorer train on a GPU: curate's CUDA trainer against a plain PyTorch + transformers loop
# (tests/parity/train_hf.py bench: fp32 weights under bf16 autocast, sdpa, fused AdamW) on the
# same transformers-written 1.3B checkpoint as the scoring bench (hidden 2048, 24 layers, 16
# heads, FFN 5504; BENCH_CK13), the same records and the same steps: full fine-tuning, AdamW
# steps of 8 x 2048 tokens (16384, no padding), BENCH_TRAIN_WARMUP (2) untimed steps then
# BENCH_TRAIN_STEPS (10) timed on each side, one run (not best of R: each costs a minute or
# two of a lent GPU, loading and saving included). curate's time is read from its step log
# lines (log_every=1: tokens/s so far at each step), since metrics.json's tokens_per_s also
# counts the warm-up steps (cuBLASLt's algorithm choices among them). MFU: one FLOPs count for
# both (train_hf.py, its docstring) against the GPU's dense bf16 peak. Needs a GPU, libcurate-cuda.so and a python3 with torch
# and transformers (the GPU machines lent to sessions: scripts/gpu/run.sh); elsewhere it says
# where the figures are. Sourced by scripts/bench.sh (C, W, ratio).
PY=${CURATE_PYTHON:-python3}
THF=tests/parity/train_hf.py
if ! nvidia-smi -L >/dev/null 2>&1 || [ ! -f "$(dirname "$C")/libcurate-cuda.so" ] ||
  ! $PY -c 'import torch, transformers' 2>/dev/null; then
  cat <<MD
## scorer train: GPU (CUDA bf16) against transformers

Not measured by this run: it needs a GPU, libcurate-cuda.so and transformers. The GPU figures
are in [benchmarks-gpu.md](benchmarks-gpu.md), written by scripts/gpu/run.sh on a GPU machine.

MD
  return 0
fi
ck=${BENCH_CK13:-$W/hf-1.3b}
[ -f "$ck/config.json" ] || $PY tests/parity/scorer_hf.py make "$ck" 1.3b bf16 1 >&2
warm=${BENCH_TRAIN_WARMUP:-2} steps=${BENCH_TRAIN_STEPS:-10} seqs=8 len=2048
$PY $THF labels "$W/train.jsonl" "$ck" $((seqs * (warm + steps))) $len 1
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
field() { awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }

# curate writes 15 GB of training state (checkpoint/state.bin) and the bf16 model at the end:
# into /dev/shm where it has room (not timed, but minutes of a lent GPU on a slow disk)
out=$W/trained
if [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')" -gt $((24 << 20)) ] 2>/dev/null; then
  out=$(mktemp -d /dev/shm/curate-train.XXXXXX) || out=$W/trained
fi
"$C" scorer train -m "$ck" -o "$out" "$W/train.jsonl" device=cuda mode=full pretokenized=true \
  val_fraction=0 shuffle=false epochs=1 batch_tokens=$((seqs * len)) grad_accum=1 \
  micro_tokens=$((seqs * len)) max_tokens=$len recompute=auto checkpoint_every=0 log_every=1 \
  dtype=bf16 2>"$W/train.log" ||
  { tail -20 "$W/train.log" >&2; echo "train_gpu: curate scorer train device=cuda failed" >&2; }
# step s's line gives r(s) = s x 16384 / (seconds since the first step began), every step being
# 16384 tokens: so step s ends at s / r(s) in units of 16384 tokens, and the timed steps' rate
# is steps / (n / r(n) - warm / r(warm)), n = warm + steps
ot=$(awk -v w="$warm" '
  { for (i = 1; i < NF; i++)
      if ($i == "step" && $(i + 1) ~ /^[0-9]+\/[0-9]+$/ && $NF == "tokens/s" && $(NF - 1) > 0) {
        split($(i + 1), a, "/"); s = a[1] + 0; t[s] = s / $(NF - 1); n = s
      } }
  END { if (n > w && t[n] > t[w]) printf "%.1f", (n - w) / (t[n] - t[w]) }' "$W/train.log")
ours=$($PY -c 'import json, sys
m = json.load(open(sys.argv[1]))
print("device\t%s\nsteps\t%d\nfirst_loss\t%.5f\nlast_loss\t%.5f\ntokens_per_s\t%.1f" % (m["device"],
      m["steps"], m["curve"][0]["loss"], m["curve"][-1]["loss"], m["tokens_per_s"]))' "$out/metrics.json" 2>/dev/null) || ours=""
rm -rf "$out"
[ "$(echo "$ours" | field steps)" = $((warm + steps)) ] || ot=""
om=""
[ -z "$ot" ] || om=$($PY $THF mfu "$ck" $len "$ot" "$gpu")
echo "train_gpu: curate ${ot:-failed} tokens/s, MFU $(echo "$om" | field mfu)" >&2

# transformers: the same records; the allocator's expandable segments (a common setting for
# training) so that fragmentation does not force gradient checkpointing
theirs=$(PYTORCH_CUDA_ALLOC_CONF=${PYTORCH_CUDA_ALLOC_CONF:-expandable_segments:True} \
  $PY $THF bench "$ck" "$W/train.jsonl" $seqs "$warm" "$steps" 2>"$W/hf-train.err") ||
  { tail -20 "$W/hf-train.err" >&2; echo "train_gpu: transformers (train_hf.py bench) failed" >&2; theirs=""; }
tt=$(echo "$theirs" | field tokens_per_s)
echo "train_gpu: transformers ${tt:-failed} tokens/s, MFU $(echo "$theirs" | field mfu)" >&2
r=failed
[ -n "$ot" ] && [ -n "$tt" ] && r=$(ratio "$ot" "$tt")
per_token=$($PY $THF mfu "$ck" $len 1 "$gpu")
of() { local v; v=$(echo "$2" | field "$1"); echo "${v:-?}"; } # KEY OUTPUT: its value, or ?
cat <<MD
## scorer train: GPU (CUDA bf16) against transformers

One run on $gpu. curate \`scorer train device=cuda\` ($(of device "$ours")) against a PyTorch
loop over transformers $(of transformers "$theirs") with torch $(of torch "$theirs")
(tests/parity/train_hf.py bench: LlamaForSequenceClassification in fp32 with sdpa under
\`torch.autocast\` bf16, fused \`torch.optim.AdamW\`, expandable allocator segments; gradient
checkpointing $(of gradient_checkpointing "$theirs"), peak memory $(of peak_memory_gib "$theirs") GiB;
curate's device memory is not measured). The same transformers-written checkpoint, records and
steps: full fine-tuning with MSE and curate's AdamW defaults (lr 2e-5, one warmup step then
cosine to 0.1 lr, weight decay 0.01 on matrices, clipping to norm 1), steps of $seqs x $len
tokens, $warm untimed then $steps timed on each side. curate's rate is from its step log lines
(metrics.json's \`tokens_per_s\`, $(of tokens_per_s "$ours"), also counts the warm-up steps). First step's loss (the same weights and
batch, before any update): curate $(of first_loss "$ours"), transformers $(of first_loss "$theirs").

FLOPs a token, both sides (tests/parity/train_hf.py): 6 N + 6 L d (S + 1) + 6 H / S =
$(of flops_per_token "$per_token"), with N = $(of matrix_params "$per_token") weights in the
layers' matrices (q, k, v, o, gate, up, down), L = $(of layers "$per_token") layers, attention
width d = $(of attention_width "$per_token"), H = $(of hidden "$per_token"), S = $len tokens: 3
times the forward's (scorer_flops), causal attention counted at or below the diagonal (half of
PaLM's 12 L d S), the embedding (a gather) as 0, recomputation not counted. MFU = FLOPs/s over
the GPU's dense bf16 peak. Goal (issue 19): at least 40% MFU, and faster than transformers
(ratio = curate tokens/s / transformers tokens/s, above 1).

| model | tokens a step | curate tokens/s | curate MFU | transformers tokens/s | transformers MFU | ratio | peak TFLOP/s |
|---|---:|---:|---:|---:|---:|---:|---:|
| 1.3B | $((seqs * len)) | ${ot:-failed} | $(of mfu "$om") | ${tt:-failed} | $(of mfu "$theirs") | $r | $(of peak_tflops "$per_token") |

MD

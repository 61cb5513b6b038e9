# scorer train on the CPU (fp32, all cores): training tokens/s of curate against a PyTorch
# loop over the same equations (tests/parity/train_ref.py bench: fp32 autograd and
# torch.optim.AdamW on all threads) on the same checkpoint and batches: 12 AdamW steps of the
# tiny preset (Llama 3's vocabulary), and one forward and backward pass of the 1.3B preset
# (hidden 2048, 24 layers, FFN 5504; no optimizer step: its fp32 AdamW state would not fit
# beside the weights and gradients in 24 GiB). GPU figures need the GPU kit (docs/scorer-train.md).
# Sourced by scripts/bench.sh (C, W, R, ratio).
source tests/parity/env.sh >/dev/null
PY=/usr/bin/python3 TR=tests/parity/train_ref.py
ck13="$HOME/.cache/curate/scorer-1.3b-$(sha256sum scorer/init.c | cut -c1-12)"
[ -f "$ck13/model.safetensors" ] || "$C" scorer init --preset 1.3b --seed 1 -t "$TOK_LLAMA3" -o "$ck13" >&2
"$C" scorer init --preset tiny --seed 1 -t "$TOK_LLAMA3" -o "$W/tiny" >&2
vocab=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$W/tiny/config.json")
$PY $TR labels "$W/tiny.jsonl" 96 1 "$vocab" 512 >&2
$PY $TR labels "$W/big.jsonl" 2 1 "$vocab" 256 >&2
cat <<MD
## scorer train: CPU training (fp32)

Best of $R (the 1.3B preset: one run). curate's figure is its own steps' time
(metrics.json \`tokens_per_s\`, or the logged gradient time with \`--dump-grads\`), PyTorch's
its loop's; both exclude loading. Ratio = curate tokens/s / PyTorch tokens/s. The gradients
agree within 1e-4 (tests/e2e/scorer_train_parity.sh).

| model | work | curate tokens/s | PyTorch tokens/s | ratio |
|---|---|---:|---:|---:|
MD
best() { sort -gr | head -1; }
ours=$(for _ in $(seq "$R"); do
  rm -rf "$W/out"
  "$C" scorer train -m "$W/tiny" -o "$W/out" "$W/tiny.jsonl" pretokenized=true val_fraction=0 \
    shuffle=false batch_tokens=2048 max_tokens=512 2>/dev/null &&
    $PY -c 'import json, sys; print("%.1f" % json.load(open(sys.argv[1]))["tokens_per_s"])' "$W/out/metrics.json"
done | best)
steps=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["steps"])' "$W/out/metrics.json")
theirs=$(for _ in $(seq "$R"); do $PY $TR bench "$W/tiny" "$W/tiny.jsonl" 2048 "$steps" | awk -F'\t' '$1 == "tokens_per_s" {print $2}'; done | best)
echo "| tiny | $steps AdamW steps of up to 2048 tokens | $ours | $theirs | $(ratio "$ours" "$theirs") |"
ours=$("$C" scorer train -m "$ck13" -o "$W/out13" "$W/big.jsonl" pretokenized=true val_fraction=0 \
  shuffle=false batch_tokens=100000 max_tokens=256 --dump-grads "$W/g13.st" 2>&1 |
  sed -n 's/.*tokens in .* s (\([0-9.]*\) tokens\/s).*/\1/p')
rm -f "$W/g13.st"
theirs=$($PY $TR bench "$ck13" "$W/big.jsonl" 100000 0 | awk -F'\t' '$1 == "tokens_per_s" {print $2}')
echo "| 1.3b | one forward and backward pass, 2 sequences | $ours | $theirs | $(ratio "$ours" "$theirs") |"
echo

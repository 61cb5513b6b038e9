# The scorer on a GPU: curate's CUDA path against Hugging Face transformers (bf16, sdpa) on the
# same 1.3B checkpoint (hidden 2048, 24 layers, 16 heads, FFN 5504, written by transformers),
# the same sequence lengths and the same machine: tokens/s and MFU at 2048 tokens and on a
# length mix like source files (log-normal around 600 tokens, 16 to 2048). transformers runs
# as its users batch it: sorted by length, right-padded batches of at most 16384 padded
# tokens. Needs a GPU, libcurate-cuda.so and a python3 with transformers (the GPU machines lent
# to sessions: scripts/gpu/run.sh); elsewhere it says where the last figures are.
# Sourced by scripts/bench.sh (C, W, R, ratio).
PY=${CURATE_PYTHON:-python3}
if ! nvidia-smi -L >/dev/null 2>&1 || [ ! -f "$(dirname "$C")/libcurate-cuda.so" ] ||
  ! $PY -c 'import transformers' 2>/dev/null; then
  cat <<MD
## scorer: GPU (CUDA bf16) against transformers

Not measured by this run: it needs a GPU, libcurate-cuda.so and transformers. The last GPU
figures are in [benchmarks-gpu.md](benchmarks-gpu.md), written by scripts/gpu/run.sh on a GPU
machine.

MD
  return 0
fi
ck=${BENCH_CK13:-$W/hf-1.3b}
[ -f "$ck/config.json" ] || $PY tests/parity/scorer_hf.py make "$ck" 1.3b bf16 1 >&2
$PY tests/parity/scorer_hf.py lengths fixed 64 2048 1 >"$W/fixed"
$PY tests/parity/scorer_hf.py lengths mix 1024 2048 1 >"$W/mix"
field() { awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }
gb_best() { # command... -> the output of the run with the most tokens/s, of R runs
  local b="" bt=0 out t
  for _ in $(seq "$R"); do
    out=$("$@" 2>/dev/null) || { echo "$*: failed" >&2; continue; }
    t=$(echo "$out" | field tokens_per_s)
    if awk -v t="$t" -v b="$bt" 'BEGIN { exit !(t > b) }'; then b=$out bt=$t; fi
  done
  echo "$b"
}
ours_dev=$("$C" scorer bench --device cuda -m "$ck" --tokens 16 --seqs 1 | field device)
cat <<MD
## scorer: GPU (CUDA bf16) against transformers

Best of $R; curate \`scorer bench --device cuda\` ($ours_dev) against transformers
$($PY -c 'import transformers, torch; print(transformers.__version__, "with torch", torch.__version__)')
(bf16, sdpa) on $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1). MFU against
989 TFLOP/s (dense bf16); FLOPs count the GEMMs and causal attention (scorer_flops).
Lengths: 64 x 2048, and 1024 sequences of the mix ($(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s }' "$W/mix") tokens).

| lengths | curate tokens/s | curate MFU | transformers tokens/s | transformers MFU | ratio |
|---|---:|---:|---:|---:|---:|
MD
for kind in fixed mix; do
  ours=$(gb_best "$C" scorer bench --device cuda -m "$ck" --max-tokens 2048 --lengths "$W/$kind")
  theirs=$(gb_best $PY tests/parity/scorer_hf.py bench "$ck" "$W/$kind" 16384)
  ot=$(echo "$ours" | field tokens_per_s) tt=$(echo "$theirs" | field tokens_per_s)
  echo "| $kind | $ot | $(echo "$ours" | field mfu) | $tt | $(echo "$theirs" | field mfu) | $(ratio "${ot:-0}" "${tt:-1}") |"
done
echo

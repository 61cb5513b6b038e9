# The quality scorer's CPU forward pass (fp32, all cores): tokens/s and GFLOP/s of
# `curate scorer bench` against the PyTorch reference of the same equations
# (tests/parity/scorer_ref.py, fp32, torch's own GEMMs on all cores) on the same random
# checkpoints and sequence lengths: the tiny preset and the 1.3B preset (hidden 2048, 24
# layers, 16 heads, FFN 5504). GPU figures (CUDA bf16, MFU, against transformers) need a
# machine with a GPU: see docs/scorer.md. Sourced by scripts/bench.sh (C, W, R, ratio).
source tests/parity/env.sh >/dev/null
PY=/usr/bin/python3
# the 1.3B checkpoint takes minutes to write: cached per version of the init code
ck13="$HOME/.cache/curate/scorer-1.3b-$(sha256sum scorer/init.c | cut -c1-12)"
[ -f "$ck13/model.safetensors" ] || "$C" scorer init --preset 1.3b --seed 1 -t "$TOK_LLAMA3" -o "$ck13" >&2
"$C" scorer init --preset tiny --seed 1 -t "$TOK_LLAMA3" -o "$W/tiny" >&2
sb_best() { # command... -> the best tokens_per_s / tflops line of R runs
  local b="" line
  for _ in $(seq "$R"); do
    line=$("$@" 2>/dev/null | awk -F'\t' '$1 == "tokens_per_s" {t = $2} $1 == "tflops" {f = $2} END {print t, f}')
    b=$(echo "$b|$line" | tr '|' '\n' | sort -k1,1gr | head -1)
  done
  echo "$b"
}
cat <<MD
## scorer: CPU forward pass (fp32)

Best of $R (the 1.3B preset: one run); \`curate scorer bench\` after one warm-up sequence, against the PyTorch reference
of the same Llama equations (fp32, $(nproc) threads) on the same checkpoint and lengths.
Ratio = curate tokens/s / PyTorch tokens/s. Scores agree within 1e-4 (tests/e2e/scorer_parity.sh).

| model | tokens x sequences | curate tokens/s | curate GFLOP/s | PyTorch tokens/s | ratio |
|---|---|---:|---:|---:|---:|
MD
# the 1.3B runs take minutes each on two cores: one run of 128 tokens (BENCH_SCORER_13B_TOKENS)
for spec in "tiny:$W/tiny:512:8:$R" "1.3b:$ck13:${BENCH_SCORER_13B_TOKENS:-128}:1:1"; do
  IFS=: read -r name dir len seqs R <<<"$spec"
  read -r ours tf <<<"$(sb_best "$C" scorer bench -m "$dir" --tokens "$len" --seqs "$seqs" --max-tokens "$len")"
  theirs=$(sb_best $PY tests/parity/scorer_ref.py bench "$dir" "$len" "$seqs" | cut -d' ' -f1)
  echo "| $name | $len x $seqs | $ours | $(awk -v f="$tf" 'BEGIN { printf "%.1f", f * 1000 }') | $theirs | $(ratio "$ours" "$theirs") |"
done
R=${BENCH_REPEAT:-3}
echo
cat <<'MD'
Debian's python3-torch 1.13 is built with `BLAS_INFO=generic`: its fp32 GEMM runs at about
3.5 GFLOP/s on this machine, so the 1.3B ratio measures that build more than curate. The
figures the scorer is judged by (CUDA bf16 tokens/s and MFU against `transformers`) need a GPU.
MD
echo

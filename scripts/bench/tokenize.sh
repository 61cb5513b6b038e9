# Tokenizer throughput, per core, on code and on prose (tests/parity/corpus.js text from this
# machine), against npm tokenizers 0.23.2 (native Rust binding) and tiktoken 1.0.22 (Rust as
# WASM), each encoding ~8 KB documents one after another on one thread. curate's figure is
# `curate tokenizer encode --time` (encode only, like the references' timers: no loading, no
# output). Sourced by scripts/bench.sh (C, W, R, mbs, ratio).
source tests/parity/env.sh
node tests/parity/corpus.js "$W/tok" 10 >/dev/null
tok_best() { # command... -> best of R of the seconds the command prints (last field of a line)
  local b="" s
  for _ in $(seq "$R"); do
    s=$("$@" 2>&1 >/dev/null | awk '/_seconds/ {print $2}')
    [ -n "$s" ] || s=$("$@" 2>/dev/null | awk '{print $1}')
    b=$(awk -v s="$s" -v b="$b" 'BEGIN { print (b == "" || s < b) ? s : b }')
  done
  echo "$b"
}
cat <<MD
## tokenize: BPE throughput per core

Encode-only seconds, best of $R, one thread each. References: Hugging Face \`tokenizers\`
0.23.2 (native) for tokenizer.json files, \`tiktoken\` 1.0.22 (WASM) for rank files; both
encode the text as ~8 KB documents. Ratio = curate MB/s / reference MB/s (ids are identical:
tests/parity/tokenizer.sh).

| text | tokenizer | MB | curate MB/s | reference | reference MB/s | ratio |
|---|---|---:|---:|---|---:|---:|
MD
for kind in code prose; do
  f="$W/tok/$kind.txt"
  bytes=$(stat -c %s "$f")
  for spec in "Llama 3:$TOK_LLAMA3:hf-chunks:$TOK_LLAMA3" "Qwen 3:$TOK_QWEN3:hf-chunks:$TOK_QWEN3" \
              "cl100k_base:$TOK_CL100K:tiktoken-chunks:cl100k_base" "o200k_base:$TOK_O200K:tiktoken-chunks:o200k_base"; do
    IFS=: read -r name path mode ref <<<"$spec"
    ours=$(tok_best "$C" tokenizer encode --time -t "$path" "$f")
    theirs=$(RAYON_NUM_THREADS=1 tok_best node tests/parity/reference.js "$mode" "$ref" "$f")
    rname=$([ "$mode" = hf-chunks ] && echo "tokenizers (native)" || echo "tiktoken (WASM)")
    echo "| $kind | $name | $(mbs "$bytes" 1) | $(mbs "$bytes" "$ours") | $rname | $(mbs "$bytes" "$theirs") | $(ratio "$theirs" "$ours") |"
  done
done
echo

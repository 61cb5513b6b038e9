#!/usr/bin/env bash
# tokenizer parity: `curate tokenizer encode` must give exactly the ids of Hugging Face
# tokenizers (Llama 3 and Qwen 3 tokenizer.json) and tiktoken (cl100k_base, o200k_base) on
# ~12 MB of real text from this machine (tests/parity/corpus.js: code, prose in many scripts,
# emoji, invalid UTF-8, adversarial runs), and `decode` must give the text back.
# Run by tests/run.sh as "parity tokenizer"; needs node and npm (exit 77 = skip without).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing"; exit 77; }
CURATE=${CURATE:-$PWD/bin/curate}
source tests/parity/env.sh
T=$(mktemp -d "${TESTS_TMP:-/tmp}/parity-tok.XXXXXX")
trap 'rm -rf "$T"' EXIT
node tests/parity/corpus.js "$T/corpus" "${PARITY_MB:-12.5}"
fail=0
check() { # label, curate args, reference args, file
  local label=$1 ours=$2 ref=$3 f=$4 name
  name=$(basename "$f" .txt)
  $CURATE tokenizer encode $ours "$f" >"$T/ours" 
  node tests/parity/reference.js $ref "$f" >"$T/ref" 2>/dev/null
  if cmp -s "$T/ours" "$T/ref"; then
    echo "ok   $label $name: $(wc -w <"$T/ours") ids identical"
  else
    fail=1
    tr ' ' '\n' <"$T/ours" >"$T/o1"; tr ' ' '\n' <"$T/ref" >"$T/r1"
    echo "FAIL $label $name: ids differ (ours $(wc -l <"$T/o1"), reference $(wc -l <"$T/r1"))"
    diff "$T/o1" "$T/r1" | head -8 || true
  fi
}
for f in "$T"/corpus/*.txt; do
  check llama3 "-t $TOK_LLAMA3" "hf $TOK_LLAMA3" "$f"
  check qwen3 "-t $TOK_QWEN3" "hf $TOK_QWEN3" "$f"
  check cl100k "-t $TOK_CL100K" "tiktoken cl100k_base" "$f"
  check o200k "-t $TOK_O200K" "tiktoken o200k_base" "$f"
done
# decode inverts encode (on valid UTF-8; invalid bytes were U+FFFD before encoding)
f="$T/corpus/code.txt"
$CURATE tokenizer encode -t "$TOK_QWEN3" "$f" >"$T/ids"
$CURATE tokenizer decode -t "$TOK_QWEN3" "$T/ids" >"$T/back"
# what the references see: the file with invalid UTF-8 replaced by U+FFFD, then Qwen 3's
# normalizer (NFC: combining marks in canonical order, e.g. Thai U+0E38 U+0E3A -> U+0E3A U+0E38)
node -e 'const fs=require("fs"); fs.writeFileSync(process.argv[2], Buffer.from(fs.readFileSync(process.argv[1]).toString("utf8").normalize("NFC")))' "$f" "$T/valid"
if cmp -s "$T/valid" "$T/back"; then echo "ok   decode round trip"; else echo "FAIL decode round trip"; fail=1; fi
exit $fail

# Small things a new user meets (issue 26, finding 9): a negative or too large document
# number, inspect on a directory that is no stage, a .tiktoken file whose name says no
# encoding, and a checkpoint whose bos_token_id is outside its vocabulary are errors that
# say what is wrong, never quiet successes.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
"$CURATE" run workdir="$T/w" stages=[import,tokenize] import.paths=[/usr/include/linux/tc_act] \
  tokenize.tokenizer="$TOK_QWEN3" 2>"$T/run.log" || { cat "$T/run.log"; fail "run"; }
p="$T/w/tokenize/part-00000"
n=$("$CURATE" tokens info "$p" | awk '/^documents/ {print $2}')
! "$CURATE" tokens decode "$p" --doc -1 -t "$TOK_QWEN3" >/dev/null 2>"$T/neg.log" || fail "--doc -1 accepted"
contains "$T/neg.log" "decode needs --doc N (a document number from 0)"
! "$CURATE" tokens decode "$p" --doc "$n" -t "$TOK_QWEN3" >/dev/null 2>"$T/big.log" || fail "--doc past the end accepted"
contains "$T/big.log" "--doc $n: the dataset has $n documents (0..$((n - 1)))"
"$CURATE" tokens decode "$p" --doc $((n - 1)) -t "$TOK_QWEN3" >/dev/null || fail "the last document"
# inspect: a directory without manifest or shards
mkdir -p "$T/empty"
! "$CURATE" inspect "$T/empty" >"$T/insp.out" 2>"$T/insp.log" || fail "inspect of a non-stage directory succeeded"
contains "$T/insp.log" "not a stage directory (no manifest.json and no part-NNNNN.jsonl.zst shards)"
# a .tiktoken file named after no encoding
cp "$TOK_CL100K" "$T/mine.tiktoken"
echo hi >"$T/hi.txt"
! "$CURATE" tokenizer encode -t "$T/mine.tiktoken" "$T/hi.txt" 2>"$T/tt.log" || fail "an unnamed .tiktoken accepted"
contains "$T/tt.log" "the file name does not say which tiktoken encoding this is"
"$CURATE" tokenizer encode -t "$T/mine.tiktoken" -e cl100k_base "$T/hi.txt" >/dev/null || fail "-e names it"
! "$CURATE" tokenizer encode -t "$T/mine.tiktoken" -e cl99k "$T/hi.txt" 2>"$T/tt2.log" || fail "a wrong -e accepted"
contains "$T/tt2.log" "unknown tiktoken encoding 'cl99k'"
# a checkpoint whose bos_token_id has no embedding row
"$CURATE" scorer init --preset tiny --seed 1 -t "$TOK_QWEN3" -o "$T/model" || fail "scorer init"
v=$(jq .vocab_size "$T/model/config.json")
jq ".bos_token_id = $((v + 5))" "$T/model/config.json" >"$T/c.json" && mv "$T/c.json" "$T/model/config.json"
! "$CURATE" scorer score -m "$T/model" "$T/hi.txt" 2>"$T/bos.log" || fail "a bos outside the vocabulary accepted"
contains "$T/bos.log" "bos_token_id must be an id below vocab_size ($v) or null"
jq ".bos_token_id = null" "$T/model/config.json" >"$T/c.json" && mv "$T/c.json" "$T/model/config.json"
"$CURATE" scorer score -m "$T/model" "$T/hi.txt" >/dev/null || fail "bos_token_id null (no BOS)"
echo "ops_small: document numbers, inspect, tiktoken names and bos ids are checked"
# rejected documents keep ids, reasons and sizes by default, their texts only on request
mkdir -p "$T/tree"
cp /usr/include/linux/tc_act/tc_gact.h "$T/tree/code.h"
head -c 5000 "$(command -v ls)" >"$T/tree/blob.bin"
"$CURATE" import workdir="$T/r1" import.paths="[$T/tree]" 2>/dev/null || fail "import"
zstdcat "$T"/r1/import/rejected/part-*.jsonl.zst | jq -c 'select(.id | endswith("blob.bin"))' >"$T/rej1"
check "the binary is in rejected/" test -s "$T/rej1"
check "without its text" test "$(jq -r .text "$T/rej1")" = ""
check "with its reason and size" test "$(jq -r '"\(.metadata.drop_reason) \(.metadata.text_bytes)"' "$T/rej1")" = "binary 5000"
"$CURATE" import workdir="$T/r2" import.paths="[$T/tree]" keep_rejected_text=true 2>/dev/null || fail "import"
zstdcat "$T"/r2/import/rejected/part-*.jsonl.zst | jq -c 'select(.id | endswith("blob.bin"))' >"$T/rej2"
check "keep_rejected_text keeps it" test "$(jq -r '.text | length' "$T/rej2")" -gt 1000

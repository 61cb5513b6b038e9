# quality.max_tokens bounds the work, not only the input to the model: a 20 MB one-word
# document and a 300 KB header are tokenized only as far as the scorer reads (the stage's
# tokenized_bytes counter), and the header's score equals `curate scorer score
# --max-tokens`, which tokenizes the whole text and then truncates.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
"$CURATE" scorer init --preset tiny --seed 5 -t "$TOK_QWEN3" -o "$T/model" || fail "scorer init"
mkdir -p "$T/in"
big=/usr/include/linux/bpf.h
python3 - "$T/in/docs.jsonl" "$big" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"id": "word", "text": "a" * (20 << 20), "source": "github"}) + "\n")
    f.write(json.dumps({"id": "header", "text": open(sys.argv[2]).read(), "source": "github"}) + "\n")
PY
"$CURATE" run workdir="$T/w" stages=[import,quality] import.paths=["$T/in/docs.jsonl"] \
  quality.model="$T/model" quality.max_tokens=64 quality.drop_fraction=0 import.max_file_size=64MiB \
  2>"$T/log" || { cat "$T/log"; fail "quality run"; }
tb=$(jq .counters.tokenized_bytes "$T/w/quality/stats.json")
check "tokenized_bytes counted ($tb)" test "$tb" -gt 0
check "only what 64 tokens need was tokenized ($tb bytes of $((20 << 20)))" test "$tb" -lt 65536
zstdcat "$T"/w/quality/part-*.jsonl.zst | jq -r 'select(.id=="header") | .text' >"$T/header.txt"
truncate -s -1 "$T/header.txt" # jq -r added a newline
cmp -s "$T/header.txt" "$big" || fail "the header came through changed"
got=$(zstdcat "$T"/w/quality/part-*.jsonl.zst | jq -r 'select(.id=="header") | .metadata.quality')
want=$("$CURATE" scorer score -m "$T/model" --max-tokens 64 "$big" | cut -f1)
python3 -c "import sys; assert abs(float('$want') - float('$got')) < 5e-7, ('$want', '$got')" \
  || fail "stage score $got != scorer score $want of the whole text truncated"
echo "quality_truncate: $tb bytes tokenized for 64 tokens of 20 MiB + $(stat -c %s "$big") B"

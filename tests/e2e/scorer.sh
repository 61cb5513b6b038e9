# `curate scorer`: init writes a deterministic HF-layout checkpoint; score prints "%.6f\tPATH",
# prepends the config's BOS, tokenizes as `curate tokenizer encode` does, truncates to
# --max-tokens, and gives the same bits for any thread count; a broken checkpoint gets a
# message naming the file and the tensor.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
S() { "$CURATE" scorer "$@"; }
S init --preset tiny --seed 1 -t "$TOK_LLAMA3" -o "$T/a" || fail "init"
S init --preset tiny --seed 1 -t "$TOK_LLAMA3" -o "$T/b" || fail "init again"
S init --preset tiny --seed 2 -t "$TOK_LLAMA3" -o "$T/c" || fail "init seed 2"
cmp -s "$T/a/model.safetensors" "$T/b/model.safetensors" || fail "init is not deterministic"
cmp -s "$T/a/model.safetensors" "$T/c/model.safetensors" && fail "the seed changed nothing"
cmp -s "$T/a/tokenizer.json" "$TOK_LLAMA3" || fail "tokenizer.json not copied"
jq -e '.architectures == ["LlamaForSequenceClassification"] and .vocab_size == 128256 and
       .bos_token_id == 128000 and (.id2label | length) == 1 and .hidden_size == 64' \
  "$T/a/config.json" >/dev/null || fail "config.json"

printf 'def add(a, b):\n    return a + b\n' >"$T/add.py"
seq 1 400 | tr '\n' ' ' >"$T/long.txt"
S score -m "$T/a" "$T/add.py" "$T/long.txt" >"$T/s1" || fail "score"
grep -Eq $'^-?[0-9]+\\.[0-9]{6}\t'"$T/add.py"'$' "$T/s1" || { cat "$T/s1"; fail "output format"; }
S score -m "$T/a" --threads 1 "$T/add.py" "$T/long.txt" >"$T/s2"
S score -m "$T/a" --threads 3 "$T/add.py" "$T/long.txt" >"$T/s3"
cmp "$T/s2" "$T/s3" || fail "thread count changed the scores"

# the text path is [BOS] + the tokenizer's ids, truncated
{ printf '128000 '; "$CURATE" tokenizer encode -t "$T/a/tokenizer.json" "$T/add.py"; } >"$T/add.ids"
a=$(S score -m "$T/a" "$T/add.py" | cut -f1)
b=$(S score -m "$T/a" --ids "$T/add.ids" | cut -f1)
test "$a" = "$b" || fail "text score $a != ids score $b"
{ printf '128000 '; "$CURATE" tokenizer encode -t "$T/a/tokenizer.json" "$T/long.txt"; } | cut -d' ' -f1-16 >"$T/long16.ids"
a=$(S score -m "$T/a" --max-tokens 16 "$T/long.txt" | cut -f1)
b=$(S score -m "$T/a" --ids "$T/long16.ids" | cut -f1)
test "$a" = "$b" || fail "--max-tokens 16: $a != $b"
c=$(S score -m "$T/a" --no-bos --max-tokens 16 "$T/long.txt" | cut -f1)
test "$a" != "$c" || fail "--no-bos changed nothing"

# errors name the file and what is wrong
: >"$T/empty.txt"
S score -m "$T/a" --no-bos "$T/empty.txt" 2>"$T/e0" && fail "empty file scored"
contains "$T/e0" "empty.txt: no tokens"
S score -m "$T/nowhere" "$T/add.py" 2>"$T/e1" && fail "missing checkpoint"
contains "$T/e1" "nowhere/config.json"
cp -r "$T/a" "$T/shape" && jq '.intermediate_size = 100' "$T/a/config.json" >"$T/shape/config.json"
S score -m "$T/shape" "$T/add.py" 2>"$T/e2" && fail "wrong shape accepted"
contains "$T/e2" "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.weight' has shape [128, 64], config.json implies [100, 64]"
cp -r "$T/a" "$T/layers" && jq '.num_hidden_layers = 1' "$T/a/config.json" >"$T/layers/config.json"
S score -m "$T/layers" "$T/add.py" 2>"$T/e3" && fail "extra layer accepted"
contains "$T/e3" "unexpected tensor 'model.layers.1."
cp -r "$T/a" "$T/trunc" && truncate -s 1000000 "$T/trunc/model.safetensors"
S score -m "$T/trunc" "$T/add.py" 2>"$T/e4" && fail "truncated weights accepted"
contains "$T/e4" "trunc/model.safetensors: tensor"
contains "$T/e4" "outside the"
python3 - "$T/a/model.safetensors" "$T/renamed.safetensors" <<'PYEOF'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", raw[:8])
h = json.loads(raw[8:8 + n])
h["model.norm.weightX"] = h.pop("model.norm.weight")
b = json.dumps(h).encode()
b += b" " * (-len(b) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + raw[8 + n:])
PYEOF
mkdir "$T/renamed" && cp "$T/a/config.json" "$T/a/tokenizer.json" "$T/renamed/" && mv "$T/renamed.safetensors" "$T/renamed/model.safetensors"
S score -m "$T/renamed" "$T/add.py" 2>"$T/e5" && fail "renamed tensor accepted"
contains "$T/e5" "unexpected tensor 'model.norm.weightX'"
# files are scored in one batch; a bad one is named and the others still get their scores
echo "5 7 999999 3" >"$T/oov.ids"
echo "5 7 9" >"$T/ok.ids"
S score -m "$T/a" --ids "$T/add.ids" "$T/oov.ids" "$T/ok.ids" >"$T/mix" 2>"$T/e8" && fail "token id outside the vocabulary accepted"
contains "$T/e8" "oov.ids: sequence 0: token id 999999 outside the vocabulary"
{ S score -m "$T/a" --ids "$T/add.ids"; S score -m "$T/a" --ids "$T/ok.ids"; } >"$T/alone"
cmp "$T/mix" "$T/alone" || fail "scores in a batch differ from scores alone"
if ! nvidia-smi -L >/dev/null 2>&1; then
  S score -m "$T/a" --device cuda "$T/add.py" 2>"$T/e6" && fail "--device cuda without a GPU"
  grep -Eq "no CUDA path|no CUDA device|cuda" "$T/e6" || fail "--device cuda message"
fi
S frobnicate 2>"$T/e7" && fail "unknown verb"
contains "$T/e7" "unknown verb 'frobnicate'"
S bench -m "$T/a" --tokens 64 --seqs 2 >"$T/bench" || fail "bench"
contains "$T/bench" "tokens_per_s"
printf '10 20\n300 5000\n' >"$T/lengths"
S bench -m "$T/a" --max-tokens 512 --lengths "$T/lengths" >"$T/bench2" || fail "bench --lengths"
contains "$T/bench2" $'sequences\t4'
contains "$T/bench2" $'tokens\t842' # 5000 cut to --max-tokens
printf '10 x\n' >"$T/badlen"
S bench -m "$T/a" --lengths "$T/badlen" 2>"$T/e9" && fail "bad --lengths accepted"
contains "$T/e9" "badlen: byte 3: not a positive length"
echo "scorer command ok"

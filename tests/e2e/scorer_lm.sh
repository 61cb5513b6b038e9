# The scorer's LM mode (scorer_open_lm, `scorer score --lm T1,T2,...`): the next-token logits of
# chosen tokens of a LlamaForCausalLM, from their rows of lm_head.weight or of the tied
# embedding, against the PyTorch reference (tests/parity/scorer_ref.py, float64, which projects
# onto the whole vocabulary and then picks the tokens) on random causal LMs (tests/parity/
# scorer_ref.py's LM_CASES: GQA untied F32; GQA tied BF16 with llama3 RoPE; GQA head size 64
# F16 in a two-file sharded index; MQA tied with an unused lm_head.weight beside the
# embedding); 11 chosen tokens (as the digits "0".."10"), one of them twice, and the last id
# of the vocabulary; sequences of 1 to 300 tokens. The logits within 1e-4 relative (floor
# 1e-2), and their softmax over the chosen tokens within 1e-4 relative. Then: the same
# output for any thread count and for one token chosen alone; a head row that is a scorer's
# score.weight (in lm_head.weight, or in a tied embedding) gives that scorer's score;
# `scorer init --lm untied|tied` checkpoints read by the reference; and errors that name the
# file: no LM head at all, a chosen token outside the vocabulary, a malformed --lm list, an
# LM opened as a scorer.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's python3-torch lives there, whatever python3 is first on PATH
REF="$ROOT/tests/parity/scorer_ref.py"
$PY -c 'import torch' || fail "python3-torch is missing (scripts/deps.sh installs it)"
$PY - "$T" <<'PYEOF'
import random, sys
r = random.Random(11)
for n in (1, 2, 7, 64, 100, 300):
    open(f"{sys.argv[1]}/ids{n:03d}.txt", "w").write(" ".join(str(r.randrange(256)) for _ in range(n)))
PYEOF
vocab() { $PY -c 'import json, sys; print(json.load(open(sys.argv[1] + "/config.json"))["vocab_size"])' "$1"; }
# (ours, reference): logits against logits, then the softmax of ours against the reference's
compare_lm() {
  local out
  out=$($PY "$REF" compare "$1.ours" "$1.ref" 1e-4 1e-2) || fail "$1: logits differ from the reference: $out"
  echo "$(basename "$1") logits: $out"
  out=$($PY "$REF" compare "$1.ours" "$1.probs" 1e-4 1e-12 softmax) ||
    fail "$1: probabilities differ from the reference: $out"
  echo "$(basename "$1") softmax: $out"
}
for c in $($PY "$REF" lm-cases); do
  $PY "$REF" gen "$T/$c" "$c"
  toks=0,1,5,17,42,99,128,200,255,17,$(($(vocab "$T/$c") - 1))
  "$CURATE" scorer score --ids --threads 2 --lm "$toks" -m "$T/$c" "$T"/ids*.txt >"$T/$c.ours" || fail "$c: score --lm"
  $PY "$REF" logits "$T/$c" "$toks" "$T"/ids*.txt >"$T/$c.ref"
  $PY "$REF" probs "$T/$c" "$toks" "$T"/ids*.txt >"$T/$c.probs"
  compare_lm "$T/$c"
done

# the same bits for any thread count, and for a token chosen alone (column 5 above is token 42)
c=lm-gqa
"$CURATE" scorer score --ids --threads 1 --lm 0,1,5,17,42,99,128,200,255,17,299 -m "$T/$c" "$T"/ids*.txt >"$T/$c.t1"
"$CURATE" scorer score --ids --threads 3 --lm 0,1,5,17,42,99,128,200,255,17,299 -m "$T/$c" "$T"/ids*.txt >"$T/$c.t3"
cmp -s "$T/$c.ours" "$T/$c.t1" && cmp -s "$T/$c.ours" "$T/$c.t3" || fail "$c: logits depend on the thread count"
"$CURATE" scorer score --ids --lm 42 -m "$T/$c" "$T"/ids*.txt >"$T/$c.one"
cut -f5,12 "$T/$c.ours" | cmp -s - "$T/$c.one" || fail "$c: token 42 alone gives another logit than among 11"
echo "$c: the same logits for 1, 2 and 3 threads, and for a token chosen alone"

# a regression scorer's score.weight as row 290 of an LM head (of lm_head.weight, or of the
# embedding: no input uses 290): its logit is the score (to the %.6f of the score's print)
$PY "$REF" gen "$T/gqa-hd64" gqa-hd64
"$CURATE" scorer score --ids -m "$T/gqa-hd64" "$T"/ids*.txt >"$T/gqa-hd64.score" || fail "gqa-hd64: score"
for kind in untied tied; do
  $PY "$REF" head-from-score "$T/gqa-hd64" "$T/from-score-$kind" 290 $kind
  "$CURATE" scorer score --ids --lm 3,290,7 -m "$T/from-score-$kind" "$T"/ids*.txt >"$T/from-score-$kind.ours" ||
    fail "score.weight as an LM row ($kind): score --lm"
  cut -f2,4 "$T/from-score-$kind.ours" >"$T/from-score-$kind.col"
  $PY "$REF" compare "$T/from-score-$kind.col" "$T/gqa-hd64.score" 1e-6 1 >/dev/null ||
    fail "score.weight as row 290 of the LM head ($kind): its logit is not the score"
done
echo "score.weight as an LM head row (lm_head.weight, tied embedding): its logit is the score"

# `scorer init --lm`: a LlamaForCausalLM with lm_head.weight, or tied; read by the reference
source "$ROOT/tests/parity/env.sh" >/dev/null
for kind in untied tied; do
  "$CURATE" scorer init --preset tiny --seed 9 --lm $kind -t "$TOK_QWEN3" -o "$T/init-$kind" || fail "init --lm $kind"
  $PY - "$T/init-$kind" $kind <<'PYEOF' || fail "init --lm $kind: not the checkpoint it should be"
import json, struct, sys
d, kind = sys.argv[1], sys.argv[2]
cfg = json.load(open(d + "/config.json"))
raw = open(d + "/model.safetensors", "rb").read()
names = set(json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])) - {"__metadata__"}
assert cfg["architectures"] == ["LlamaForCausalLM"] and "id2label" not in cfg, cfg
assert cfg["tie_word_embeddings"] == (kind == "tied"), cfg
assert ("lm_head.weight" in names) == (kind == "untied") and "score.weight" not in names, names
PYEOF
  toks=0,1,2,3,4,5,6,7,8,9,$(($(vocab "$T/init-$kind") - 1))
  "$CURATE" scorer score --ids --lm "$toks" -m "$T/init-$kind" "$T"/ids*.txt >"$T/init-$kind.ours" || fail "init --lm $kind: score"
  $PY "$REF" logits "$T/init-$kind" "$toks" "$T"/ids*.txt >"$T/init-$kind.ref"
  $PY "$REF" probs "$T/init-$kind" "$toks" "$T"/ids*.txt >"$T/init-$kind.probs"
  compare_lm "$T/init-$kind"
done
"$CURATE" scorer init --preset tiny --lm both -t "$TOK_QWEN3" -o "$T/bad" 2>"$T/err" && fail "init --lm both accepted"
contains "$T/err" "--lm both: untied or tied"

# errors, each naming the file
$PY "$REF" gen "$T/nohead" lm-no-head
"$CURATE" scorer score --ids --lm 1,2 -m "$T/nohead" "$T/ids007.txt" >/dev/null 2>"$T/err" && fail "no LM head accepted"
contains "$T/err" "$T/nohead/model.safetensors: no tensor 'lm_head.weight'"
contains "$T/err" "$T/nohead/config.json does not tie the word embeddings"
"$CURATE" scorer score --ids --lm 1,300 -m "$T/lm-gqa" "$T/ids007.txt" >/dev/null 2>"$T/err" && fail "token 300 of 300 accepted"
contains "$T/err" "$T/lm-gqa/config.json: chosen token id 300 outside the vocabulary of 300"
for bad in "" "1,,2" "1," "x" "-1" "4294967296"; do
  rc=0; "$CURATE" scorer score --ids --lm "$bad" -m "$T/lm-gqa" "$T/ids007.txt" >/dev/null 2>"$T/err" || rc=$?
  [ $rc -eq 1 ] || [ $rc -eq 2 ] || fail "--lm '$bad': exit $rc"
  contains "$T/err" "not a comma-separated list of token ids"
done
"$CURATE" scorer score --ids -m "$T/lm-gqa" "$T/ids007.txt" >/dev/null 2>"$T/err" && fail "a causal LM opened as a scorer"
contains "$T/err" "tensor 'score.weight' is missing"
echo "scorer LM mode ok"

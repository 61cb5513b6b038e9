# scorer train on real files: Python's standard library (the first 24 non-blank lines of
# each file) labelled by a property this test computes itself, the share of comment lines.
# A tiny random model (Qwen3's tokenizer) trained in --mode full must reach a held-out MAE
# of at most 0.6 of the constant predictor's; --mode head on that body too. The held-out
# predictions are what `scorer score` gives the written checkpoint. Then, on small random
# inputs: a run killed with SIGKILL and resumed ends with the bytes of an uninterrupted run;
# 2 ranks give the same bits twice and stay within 1e-3 of 1 rank; and bad inputs fail or are
# skipped with messages naming the file.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
PY=/usr/bin/python3 TR="$ROOT/tests/parity/train_ref.py"
cd "$T"
"$CURATE" scorer --help >help.txt || fail "scorer --help"
contains help.txt "train -m BASE -o OUT" # (not | grep -q: SIGPIPE under pipefail)

$PY - lab.jsonl <<'PYEOF'
import glob, json, sys
out, n = open(sys.argv[1], "w"), 0
for f in sorted(glob.glob("/usr/lib/python3.11/**/*.py", recursive=True)):
    try:
        lines = [l for l in open(f, encoding="utf-8").read().split("\n") if l.strip()][:24]
    except (UnicodeDecodeError, OSError):
        continue
    if len(lines) < 10:
        continue
    share = sum(l.lstrip().startswith("#") for l in lines) / len(lines)
    out.write(json.dumps({"id": f, "text": "\n".join(lines) + "\n", "score": round(share, 4)}) + "\n")
    n += 1
    if n == 1500:
        break
print(n, "labelled files", file=sys.stderr)
PYEOF
"$CURATE" scorer init --preset tiny --seed 1 -t "$TOK_QWEN3" -o base || fail "scorer init"
ratio() { $PY -c 'import json, sys; f = json.load(open(sys.argv[1]))["final"]; print("%.4f %.4f %.4f %.4f" % (f["mae10"] / f["constant_mae10"], f["mae10"], f["constant_mae10"], f["spearman"]))' "$1"; }
learn="val_fraction=0.15 max_tokens=384"
"$CURATE" scorer train -m base -o full lab.jsonl $learn epochs=4 lr=1e-2 batch_tokens=4096 \
  warmup=0.05 weight_decay=0 2>full.log || { tail full.log; fail "--mode full"; }
read -r r mae cmae rho < <(ratio full/metrics.json)
echo "mode full: held-out MAE (0-10) $mae, constant predictor $cmae (ratio $r), Spearman $rho"
$PY -c "import sys; sys.exit(not float(sys.argv[1]) <= 0.6)" "$r" || fail "mode full: MAE ratio $r > 0.6"
# mode head refits the head of a body that knows the property, as a pretrained code model's
# body knows code; on the random body alone ridge gets about the constant's MAE
"$CURATE" scorer train -m full -o head lab.jsonl $learn mode=head 2>head.log || { tail head.log; fail "--mode head"; }
read -r r mae cmae rho < <(ratio head/metrics.json)
echo "mode head: held-out MAE (0-10) $mae, constant predictor $cmae (ratio $r), Spearman $rho"
$PY -c "import sys; sys.exit(not float(sys.argv[1]) <= 0.6)" "$r" || fail "mode head: MAE ratio $r > 0.6"
cmp -s full/model.safetensors head/model.safetensors && fail "mode head wrote the base's weights unchanged"
for f in config.json tokenizer.json model.safetensors metrics.json val_predictions.jsonl; do
  [ -s "full/$f" ] || fail "full/$f is missing"
done
$PY - full/config.json <<'PYEOF' || fail "the output's config.json"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["architectures"] == ["LlamaForSequenceClassification"], c["architectures"]
assert c["num_labels"] == 1 and c["problem_type"] == "regression", c
assert isinstance(c["pad_token_id"], int), c.get("pad_token_id")
PYEOF
# the trainer's held-out predictions are the written checkpoint's scores
mkdir val
$PY - lab.jsonl full/val_predictions.jsonl val <<'PYEOF'
import json, sys
text = {r["id"]: r["text"] for r in map(json.loads, open(sys.argv[1]))}
with open(sys.argv[3] + "/want.tsv", "w") as w:
    for i, r in enumerate(map(json.loads, open(sys.argv[2]))):
        open(f"{sys.argv[3]}/{i:04d}.py", "w").write(text[r["id"]])
        w.write(f"{r['prediction']:.6f}\t{sys.argv[3]}/{i:04d}.py\n")
PYEOF
"$CURATE" scorer score -m full --max-tokens 384 val/[0-9]*.py >val/got.tsv || fail "scorer score"
diff val/want.tsv val/got.tsv >/dev/null || { diff val/want.tsv val/got.tsv | head; fail "scorer score differs from the trainer's predictions"; }
echo "scorer score of the output equals the trainer's $(wc -l <val/got.tsv) held-out predictions"

# kill -9 mid-run, resume: the same bytes as an uninterrupted run
$PY "$ROOT/tests/parity/scorer_ref.py" gen ck gqa-hd64
$PY "$TR" labels small.jsonl 60 5 300 30
small="pretokenized=true batch_tokens=50 lr=1e-3 val_fraction=0.1 checkpoint_every=3"
"$CURATE" scorer train -m ck -o whole small.jsonl $small 2>whole.log || { cat whole.log; fail "uninterrupted run"; }
nsteps=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["steps"])' whole/metrics.json)
CURATE_TEST_STEP_DELAY_MS=200 "$CURATE" scorer train -m ck -o killed small.jsonl $small 2>killed.log &
pid=$!
for _ in $(seq 600); do [ -f killed/checkpoint/state.bin ] && break; sleep 0.05; done
[ -f killed/checkpoint/state.bin ] || fail "no checkpoint after 30 s"
kill -9 $pid
wait $pid && fail "the run ended before it was killed" || true
[ -f killed/model.safetensors ] && fail "the killed run wrote its output"
"$CURATE" scorer train -m ck -o killed small.jsonl $small 2>resumed.log || { cat resumed.log; fail "resume"; }
from=$(sed -n 's/.*resuming from .* at step \([0-9]*\) of.*/\1/p' resumed.log)
[ -n "$from" ] && [ "$from" -gt 0 ] && [ "$from" -lt "$nsteps" ] || { cat resumed.log; fail "did not resume mid-run (step '$from' of $nsteps)"; }
cmp whole/model.safetensors killed/model.safetensors || fail "the resumed run's weights differ from the uninterrupted run's"
cmp whole/checkpoint/state.bin killed/checkpoint/state.bin || fail "the resumed run's final state differs"
echo "killed after step $from of $nsteps and resumed: the same bytes"
# a state of other options is refused, not silently continued
! "$CURATE" scorer train -m ck -o killed small.jsonl $small lr=2e-3 2>other.log || fail "resumed from other options"
contains other.log "a training state of other options"
"$CURATE" scorer train -m ck -o killed small.jsonl $small lr=2e-3 --restart 2>/dev/null || fail "--restart"

# ranks: the same bits twice on 2, within tolerance of 1
for i in 1 2; do
  mpiexec -n 2 "$CURATE" scorer train -m ck -o two$i small.jsonl $small 2>two$i.log || { cat two$i.log; fail "2 ranks"; }
done
cmp two1/model.safetensors two2/model.safetensors || fail "2 ranks twice: different weights"
out=$($PY "$TR" compare two1/model.safetensors whole/model.safetensors 1e-3) || fail "2 ranks against 1: $out"
echo "2 ranks twice: the same bits; against 1 rank: $out"

# bad inputs
printf '%s\n' '{"id": "a", "score": 0.5}' '{"id": "b", "text": "x = 1\n"}' 'not json' \
  '{"id": "c", "text": "y = 2\n", "score": null}' '{"id": "d", "text": "z = 3\n", "score": 0.25}' >bad.jsonl
"$CURATE" scorer train -m base -o bad bad.jsonl val_fraction=0 2>bad.log || { cat bad.log; fail "a file with some bad records"; }
contains bad.log "bad.jsonl:1: no \"text\" string"
contains bad.log "bad.jsonl:2: no \"score\" number"
contains bad.log "bad.jsonl:3:"
$PY -c 'import json, sys; s = json.load(open(sys.argv[1]))["samples"]; sys.exit(not (s["malformed"] == 3 and s["no_score"] == 1 and s["train"] == 1))' bad/metrics.json ||
  fail "bad records not counted: $(cat bad/metrics.json | head -20)"
echo '{"id": "a", "text": "x\n", "score": 7}' >rating.jsonl
! "$CURATE" scorer train -m base -o r rating.jsonl 2>rating.log || fail "a 0-10 rating accepted"
contains rating.log "rating.jsonl:1: score 7 is outside [0, 1]"
contains rating.log "score_scale=10"
"$CURATE" scorer train -m base -o r rating.jsonl score_scale=10 val_fraction=0 2>/dev/null || fail "score_scale=10"
echo '{"id": "a", "text": "x\n"}' >none.jsonl
! "$CURATE" scorer train -m base -o n none.jsonl 2>none.log || fail "no usable labels accepted"
contains none.log "no usable labels in 1 file"
cp -r base gpt && sed -i 's/"LlamaForSequenceClassification"/"GPT2LMHeadModel"/' gpt/config.json
! "$CURATE" scorer train -m gpt -o g small.jsonl pretokenized=true 2>gpt.log || fail "a GPT-2 base accepted"
contains gpt.log 'architecture "GPT2LMHeadModel" is not supported'
cp -r base notok && rm notok/tokenizer.json
! "$CURATE" scorer train -m notok -o nt lab.jsonl 2>notok.log || fail "a base without tokenizer.json accepted"
contains notok.log "notok: no tokenizer.json"

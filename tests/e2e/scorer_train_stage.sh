# The model-centric loop as pipeline stages: import (Python's standard library files) ->
# oracle (tests/oracle/server.py, a STAND-IN LLM server whose ratings follow the share of
# comment lines) -> scorer-train (a tiny random base) -> quality, which scores with the
# trained model since quality.model is empty. Checks: the trained model's held-out MAE beats
# the constant predictor's; quality used it; a rerun redoes nothing; a changed training option
# retrains and rescores but asks the oracle nothing; curate report shows the loss curve.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
PY=/usr/bin/python3
$PY "$ROOT/tests/oracle/server.py" --port-file "$T/port" --log "$T/req.log" --rate comments 2>"$T/server.err" &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { cat "$T/server.err"; fail "the stand-in server did not start"; }
# relative paths: the ids (the files' paths) and so the held-out split do not depend on $T
cd "$T"
mkdir -p in
for f in $(find /usr/lib/python3.11 -name '*.py' -size +1k | LC_ALL=C sort | head -500); do
  head -24 "$f" >"in/$(echo "${f#/usr/lib/python3.11/}" | tr / _)"
done
"$CURATE" scorer init --preset tiny --seed 1 -t "$TOK_QWEN3" -o "$T/base" || fail "scorer init"
args=(workdir=w stages=[import,oracle,scorer-train,quality] import.paths=[in]
      oracle.base_url=["http://127.0.0.1:$(cat "$T/port")/v1"] oracle.model=stand-in-coder
      oracle.sample=1000 oracle.per_stratum=0 scorer-train.base="$T/base" scorer-train.epochs=6
      scorer-train.lr=1e-2 scorer-train.weight_decay=0 scorer-train.batch_tokens=4096
      scorer-train.max_tokens=384 scorer-train.val_fraction=0.2 quality.max_tokens=384)
mpiexec -n 2 "$CURATE" run "${args[@]}" 2>"$T/run1.log" || { tail -20 "$T/run1.log"; fail "the loop"; }
contains "$T/run1.log" "4 stages complete"
m="$T/w/scorer-train/model"
for f in config.json model.safetensors metrics.json; do [ -s "$m/$f" ] || fail "$m/$f is missing"; done
$PY - "$m/metrics.json" <<'PYEOF' || fail "the trained scorer is no better than a constant"
import json, sys
m = json.load(open(sys.argv[1]))
f = m["final"]
print(f"scorer-train: {m['samples']['train']} train, {f['n']} held out: MAE {f['mae10']:.3f} against the constant's {f['constant_mae10']:.3f}, Spearman {f['spearman']:.3f}")
assert f["mae10"] < 0.9 * f["constant_mae10"] and f["spearman"] > 0.3, f
PYEOF
contains "$T/run1.log" "stage quality: scorer on cpu"
# quality's scores are the trained model's: one document scored by hand
zstdcat "$T"/w/quality/part-*.jsonl.zst >"$T/scored.jsonl" # (| head: SIGPIPE under pipefail)
doc=$(head -1 "$T/scored.jsonl")
want=$($PY -c 'import json, sys; print("%.6f" % json.loads(sys.argv[1])["metadata"]["quality"])' "$doc")
$PY -c 'import json, sys; open(sys.argv[2], "w").write(json.loads(sys.argv[1])["text"])' "$doc" "$T/one.txt"
got=$("$CURATE" scorer score -m "$m" --max-tokens 384 "$T/one.txt" | cut -f1)
[ "$got" = "$want" ] || fail "quality's score $want is not the trained model's $got"
# a rerun: nothing to do
mpiexec -n 2 "$CURATE" run "${args[@]}" 2>"$T/run2.log" || fail "rerun"
! grep -q "rerunning" "$T/run2.log" || { grep rerunning "$T/run2.log"; fail "a rerun redid a stage"; }
asked=$(wc -l <"$T/req.log")
# another learning rate: scorer-train retrains, quality rescores, the oracle is up to date
mpiexec -n 2 "$CURATE" run "${args[@]}" scorer-train.lr=5e-3 2>"$T/run3.log" || fail "run with lr 5e-3"
contains "$T/run3.log" "stage scorer-train: rerunning"
contains "$T/run3.log" "stage quality: rerunning"
grep -q "stage oracle: rerunning" "$T/run3.log" && fail "the oracle reran for a training option"
[ "$(wc -l <"$T/req.log")" = "$asked" ] || fail "the oracle was asked again"
"$CURATE" report "$T/w" -o "$T/report.html" >/dev/null || fail "report"
contains "$T/report.html" "scorer-train"
contains "$T/report.html" "held-out MAE"

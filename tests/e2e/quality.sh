# The quality stage on a tiny random scorer: the global quantile gives byte-identical output
# for 1, 2 and 3 ranks; the kept set is exactly "score >= the value at rank floor(f*n)" per
# group (code, and each web category from metadata.category); metadata.quality equals what
# `curate scorer score` prints for the same text; fixed thresholds; the histogram; the CPU
# fallback is said; a missing checkpoint is a clear error.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
"$CURATE" scorer init --preset tiny --seed 3 -t "$TOK_QWEN3" -o "$T/model" || fail "scorer init"
mkdir -p "$T/in"
cats=(documentation blog forum qa other nonsense)
for i in $(seq 1 150); do
  printf '{"id":"c%03d","text":"def f%d(x):\\n    return x * %d + %d\\n","source":"github"}\n' $i $i $((i * 7)) $((i % 13))
done >"$T/in/docs.jsonl"
for i in $(seq 1 90); do
  c=${cats[$((i % 6))]}
  printf '{"id":"w%03d","text":"Page %d about %s: how to sort a list in Python %d times","source":"web","metadata":{"category":"%s"}}\n' $i $i $c $((i * 3)) $c
done >>"$T/in/docs.jsonl"
echo '{"id":"empty","text":"","source":"github"}' >>"$T/in/docs.jsonl"
# five input files: five shards of uneven sizes for the ranks to share
split -n l/5 -d --additional-suffix=.jsonl "$T/in/docs.jsonl" "$T/in/part" && rm "$T/in/docs.jsonl"
common=(stages=[import,quality] import.paths=["$T/in"] import.shards=5 import.format=jsonl
        quality.model="$T/model" quality.threads=1 quality.drop_fraction=0.2
        quality.web_drop_fraction.forum=0.5 quality.batch=7)
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/n$n" "${common[@]}" 2>"$T/n$n.log" || { cat "$T/n$n.log"; fail "run on $n ranks"; }
  digest "$T/n$n/quality" >"$T/n$n.sha"
done
cmp "$T/n1.sha" "$T/n2.sha" || fail "quality output differs between 1 and 2 ranks"
# threads and batch change how scoring runs, not its output: left out of the fingerprint
rt=("${common[@]/quality.threads=1/quality.threads=2}")
rt=("${rt[@]/quality.batch=7/quality.batch=3}")
"$CURATE" run workdir="$T/n1" "${rt[@]}" 2>"$T/rt.log" || { cat "$T/rt.log"; fail "rerun with other threads and batch"; }
contains "$T/rt.log" "stage quality: up to date"
cmp "$T/n1.sha" "$T/n3.sha" || fail "quality output differs between 1 and 3 ranks"
# the histogram and thresholds are objects of stats.json, the same bytes for 1 and 3 ranks
for n in 1 3; do
  jq -c '{quality_histogram, quality_thresholds}' "$T/n$n/quality/stats.json" >"$T/objects$n.json"
done
cmp "$T/objects1.json" "$T/objects3.json" || fail "stats.json objects differ between 1 and 3 ranks"
check "stats.json objects follow the counts in name order" test \
  "$(jq -c 'keys_unsorted[-2:]' "$T/n3/quality/stats.json")" = '["quality_histogram","quality_thresholds"]'
check "no side file" test ! -e "$T/n1/quality/quality_histogram.json"
# on a GPU machine (scripts/gpu/run.sh) the same checks hold on the GPU: its GEMM algorithms
# are pinned per shape, so a score does not depend on which documents share its batch
if nvidia-smi -L >/dev/null 2>&1 && [ -f "$(dirname "$CURATE")/libcurate-cuda.so" ]; then
  grep -q "no GPU, scoring on the CPU" "$T/n1.log" && fail "a GPU is here, but the stage scored on the CPU"
else
  contains "$T/n1.log" "no GPU, scoring on the CPU"
fi

# the kept set, recomputed from the recorded scores
zstdcat "$T"/n2/quality/part-*.jsonl.zst >"$T/kept.jsonl"
zstdcat "$T"/n2/quality/rejected/part-*.jsonl.zst >"$T/rejected.jsonl"
python3 - "$T/kept.jsonl" "$T/rejected.jsonl" "$T/n2/quality/stats.json" <<'PYEOF' || fail "kept set is not the per-group quantile"
import json, math, sys
kept = [json.loads(l) for l in open(sys.argv[1])]
rej = [json.loads(l) for l in open(sys.argv[2])]
thresholds = json.load(open(sys.argv[3]))["quality_thresholds"]
cats = {"documentation", "blog", "forum", "qa", "other"}
def group(d):
    if d.get("source") != "web": return "default"
    c = d["metadata"].get("category")
    return c if c in cats else "other"
frac = {"default": 0.2, "documentation": 0.1, "blog": 0.1, "forum": 0.5, "qa": 0.1, "other": 0.1}
# Qwen3's tokenizer has no BOS, so the empty document has no token to score
assert [(d["id"], d["metadata"]["drop_reason"]) for d in rej if d["metadata"]["drop_reason"] != "low_quality"] == [("empty", "no_tokens")]
scored = kept + [d for d in rej if "quality" in d["metadata"]]
assert len(scored) == 240, len(scored)
for g, f in frac.items():
    s = sorted(d["metadata"]["quality"] for d in scored if group(d) == g)
    k = math.floor(f * len(s))
    t = s[k] if k < len(s) else math.inf
    want = sorted(d["id"] for d in scored if group(d) == g and d["metadata"]["quality"] >= (t if k else -math.inf))
    got = sorted(d["id"] for d in kept if group(d) == g)
    assert want == got, (g, len(want), len(got))
    assert len(s) - len(got) <= k
    # stats.json's threshold is the cut, for every group that has one
    assert thresholds.get(g) == (t if 0 < k < len(s) else None), (g, thresholds.get(g), t)
    print(g, len(s), "scores,", len(s) - len(got), "dropped, threshold", t if k else None)
PYEOF

# metadata.quality is what the scorer command prints for the same text
jq -r 'select(.id=="c042") | .text' "$T/kept.jsonl" "$T/rejected.jsonl" | head -c -1 >"$T/c042.py"
want=$("$CURATE" scorer score -m "$T/model" "$T/c042.py" | cut -f1)
got=$(jq -r 'select(.id=="c042") | .metadata.quality' "$T/kept.jsonl" "$T/rejected.jsonl")
python3 -c "import sys; assert abs(float('$want') - float('$got')) < 5e-7, ('$want', '$got')" || fail "stage score $got != scorer score $want"

# histogram: n counts, n+1 edges, every scored document counted
h="$T/n1/quality/stats.json"
jq -e '(.quality_histogram.counts | length) == 20 and (.quality_histogram.edges | length) == 21' "$h" >/dev/null || fail "histogram shape"
jq -e '(.quality_histogram.counts | add) == 240' "$h" >/dev/null || fail "histogram total"
# per-bin counts agree with the quality_bin_NNN counters
jq -e '([.quality_histogram.counts | to_entries[] | select(.value > 0) |
         {key: ("quality_bin_" + ("00" + (.key | tostring))[-3:]), value}] | from_entries) ==
       (.counters | with_entries(select(.key | startswith("quality_bin_"))))' "$h" >/dev/null ||
  fail "histogram and counters disagree"
jq -e '[.counters | to_entries[] | select(.key | startswith("quality_bin_")) | .value] | add == 240' "$T/n1/quality/stats.json" >/dev/null || fail "histogram counters in stats.json"

# fixed thresholds
"$CURATE" run workdir="$T/n1" "${common[@]}" quality.mode=fixed quality.min_score=0 \
  quality.web_min_score.qa=1e9 2>"$T/fixed.log" || fail "fixed mode"
zstdcat "$T"/n1/quality/part-*.jsonl.zst >"$T/fixed.jsonl"
jq -e -s 'all(.metadata.quality >= 0) and all(.metadata.category != "qa")' "$T/fixed.jsonl" >/dev/null || fail "fixed thresholds"

# a missing checkpoint is named
"$CURATE" run workdir="$T/bad" "${common[@]}" quality.model="$T/nowhere" 2>"$T/bad.log" && fail "missing model accepted"
contains "$T/bad.log" "quality.model: '$T/nowhere' does not exist"
echo "quality: same output for 1, 2, 3 ranks; per-group quantiles; fixed thresholds"

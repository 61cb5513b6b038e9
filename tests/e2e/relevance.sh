# The relevance stage: a code-vs-other model trained with `curate fasttext split-eval` on
# Python sources (code) and Reuters news (other); its precision/recall report agrees with
# Debian's fasttext on the validation split; then web pages are classified: pages with code
# markup and non-web documents pass untouched, candidates are kept when P(code) >= threshold
# with metadata.relevance equal to fasttext's probability; outputs identical on 1, 2, 3 ranks.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/fasttext_lib.sh"
cd "$T"
py=$(ls -d /usr/lib/python3.[0-9]* | head -1)
# labelled set: a chunk of 30 lines of a Python source is code, a Reuters article is not
python3 - "$py" >labelled.txt 3>docs.jsonl <<'PY'
import glob, json, os, sys
files = sorted(glob.glob(sys.argv[1] + "/*.py"))
chunks = []
for f in files:
    lines = open(f, encoding="utf-8", errors="replace").read().split("\n")
    for i in range(0, min(len(lines), 300), 30):
        c = "\n".join(lines[i:i + 30]).strip()
        if len(c.split()) >= 10:
            chunks.append((f, i, c))
code_train, code_pages = chunks[:-120], chunks[-120:]
def reuters(name):
    import re
    out = []
    data = False
    for line in open(f"/usr/share/doc/weka/examples/{name}.arff", encoding="latin-1"):
        line = line.rstrip("\n")
        if line.startswith("@data"):
            data = True
            continue
        m = re.match(r"^'(.*)',([01])$", line) if data else None
        if m:
            out.append(m.group(1).replace("\\n", "\n").replace("\\'", "'"))
    return out
news_train, news_pages = reuters("ReutersGrain-train"), reuters("ReutersGrain-test")
flat = lambda s: " ".join(s.split())
for _, _, c in code_train:
    print("__label__code", flat(c))
for n in news_train:
    print("__label__other", flat(n))
docs = os.fdopen(3, "w")
def doc(i, text, source, meta):
    docs.write(json.dumps({"id": f"d{i:05d}", "text": text, "source": source, "metadata": meta}) + "\n")
k = 0
for f, i, c in code_pages:
    doc(k, c, "web", {"url": f"http://docs.example/{os.path.basename(f)}#{i}", "has_code_markup": False}); k += 1
for n in news_pages[:200]:
    doc(k, n, "web", {"url": f"http://news.example/{k}", "has_code_markup": False}); k += 1
for n in news_pages[200:230]:
    doc(k, n, "web", {"url": f"http://forum.example/{k}", "has_code_markup": True}); k += 1
for n in news_pages[230:260]:
    doc(k, n, "github", {"repo": "o/r"}); k += 1
PY
check "labelled set" test "$(wc -l <labelled.txt)" -gt 2000

# 1. split-eval: 70/30 split, training, a report that fasttext's own numbers confirm
"$CURATE" fasttext split-eval -input labelled.txt -output code -positive __label__code \
  -threshold 0.5 -recall 0.99 -dim 16 -epoch 10 -wordNgrams 2 -bucket 200000 -thread 1 \
  -verbose 0 >report.txt
cat report.txt
check "split files and model" test -s code.train.txt -a -s code.valid.txt -a -s code.bin
n_all=$(wc -l <labelled.txt); n_tr=$(wc -l <code.train.txt); n_va=$(wc -l <code.valid.txt)
check "the split covers every line" test $((n_tr + n_va)) = "$n_all"
check "about 70% for training" awk -v a="$n_tr" -v n="$n_all" 'BEGIN { exit !(a / n > 0.65 && a / n < 0.75) }'
fasttext predict-prob code.bin code.valid.txt -1 >valid.pred
python3 - code.valid.txt valid.pred report.txt <<'PY'
import sys
labels = [l.split()[0] for l in open(sys.argv[1])]
preds = []
for l in open(sys.argv[2]):
    t = l.split()
    d = dict(zip(t[0::2], map(float, t[1::2])))
    preds.append(min(d.get("__label__code", 0.0), 1.0))
pos = sum(l == "__label__code" for l in labels)
kept = [l for l, p in zip(labels, preds) if p >= 0.5]
tp = sum(l == "__label__code" for l in kept)
want = f"chosen 0.5\t{tp / len(kept):.4f}\t{tp / pos:.4f}\t{len(kept)}"
got = [l.rstrip("\n") for l in open(sys.argv[3]) if l.startswith("chosen")]
sys.exit(0 if got == [want] else f"split-eval says {got}, fasttext gives {want!r}")
PY
check "recall at 0.5 reported" grep -q "^threshold for recall 0.99" report.txt

# 2. the stage
"$CURATE" import workdir="$T/w1" import.paths="[$T/docs.jsonl]" import.shards=3 2>/dev/null
cat >cfg.yaml <<YAML
workdir: $T/w1
stages: [import, relevance]
keep_rejected: true
keep_rejected_text: true
relevance: {model: $T/code.bin, threshold: 0.5}
YAML
"$CURATE" relevance -c cfg.yaml 2>log1
out=$(zstdcat "$T"/w1/relevance/part-*.jsonl.zst)
rej=$(zstdcat "$T"/w1/relevance/rejected/part-*.jsonl.zst)
s="$T/w1/relevance/stats.json"
check "docs_in 380" test "$(jq .docs_in "$s")" = 380
check "30 non-web documents counted" test "$(jq .counters.other_source "$s")" = 30
check "30 pages with markup counted" test "$(jq .counters.code_markup "$s")" = 30
check "320 candidates classified" test "$(jq .counters.classified "$s")" = 320
check "non-web documents pass untouched" test "$(echo "$out" | jq -c 'select(.source == "github")' | wc -l)" = 30
check "... without a relevance score" test "$(echo "$out" | jq -c 'select(.source == "github" and .metadata.relevance)' | wc -l)" = 0
check "markup pages pass unscored" test "$(echo "$out" | jq -c 'select(.metadata.has_code_markup == true and (.metadata.relevance | not))' | wc -l)" = 30
check "drops are below_threshold" test "$(jq .drops.below_threshold.docs "$s")" = "$(echo "$rej" | jq -c . | wc -l)"
check "rejected pages carry their score under the threshold" test "$(echo "$rej" | jq -c 'select(.metadata.relevance >= 0.5)' | wc -l)" = 0
check "kept candidates are at or above the threshold" test "$(echo "$out" | jq -c 'select(.metadata.relevance != null and .metadata.relevance < 0.5)' | wc -l)" = 0
kept_code=$(echo "$out" | jq -r 'select(.metadata.url // "" | startswith("http://docs.")) | .id' | wc -l)
kept_news=$(echo "$out" | jq -r 'select(.metadata.url // "" | startswith("http://news.")) | .id' | wc -l)
echo "kept code pages $kept_code/120, news pages $kept_news/200"
check "code pages recalled" test "$kept_code" -ge 110
check "most news dropped" test "$kept_news" -le 20
# the recorded probability is fastText's: same text, newlines as spaces
{ echo "$out"; echo "$rej"; } | jq -c 'select(.metadata.relevance != null)' | sort >scored.jsonl
jq -r '.text | gsub("\n"; " ")' scored.jsonl >scored.txt
jq -r '"__label__code " + (.metadata.relevance | tostring)' scored.jsonl >scored.cur
fasttext predict-prob code.bin scored.txt -1 | python3 -c '
import sys
for l in sys.stdin:
    t = l.split(); d = dict(zip(t[0::2], map(float, t[1::2])))
    print("__label__code", min(d.get("__label__code", 0.0), 1.0))' >scored.ref
check "metadata.relevance is fasttext's P(code) on every page" ft_same_predictions scored.ref scored.cur

# 3. the same bytes for any rank count
for n in 2 3; do
  "$CURATE" import workdir="$T/w$n" import.paths="[$T/docs.jsonl]" import.shards=3 2>/dev/null
  sed "s|$T/w1|$T/w$n|" cfg.yaml >cfg$n.yaml
  mpiexec -n $n "$CURATE" relevance -c cfg$n.yaml 2>/dev/null
  check "identical output on $n ranks" test "$(digest "$T/w1/relevance")" = "$(digest "$T/w$n/relevance")"
done

# 4. errors
set +e
"$CURATE" relevance -c cfg.yaml relevance.model= --force 2>err1; rc1=$?
"$CURATE" relevance -c cfg.yaml relevance.label=__label__nope --force 2>err2; rc2=$?
set -e
check "no model fails" test $rc1 != 0
contains err1 "relevance.model: not set, and stage relevance needs it"
check "unknown label fails" test $rc2 != 0
contains err2 "the model has no label '__label__nope'"
echo "relevance ok"

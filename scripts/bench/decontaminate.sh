# Benchmark of the decontaminate stage: a 100k-item evaluation set (blank-line-separated
# paragraphs of the gzipped docs under /usr/share/doc, real prose and code snippets) against
# real code (/usr/include imported into 8 shards), 1 rank. Reference: Python 3 with a set of
# the same normalized 10-grams (same tokenization), reading the same shards through zstdcat,
# counting drops without writing; both must agree on the number of documents dropped.
# Sourced by scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio); prints its section.
DSRC=${BENCH_DECON_TREE:-/usr/include/}
DDOCS=${BENCH_DECON_DOCS:-/usr/share/doc}
ITEMS=${BENCH_DECON_ITEMS:-100000}
D="$W/decon"
mkdir -p "$D"

# distinct paragraphs of >= 10 words, in a stable order, one item per block; licence
# paragraphs are left out: every header carries one, so they would drop most of the corpus
# and the run would time early exits rather than the scan
lic='licen[cs]e|copyright|warrant|permission|redistribut|free software|hereby granted'
find "$DDOCS" -type f -name '*.gz' -print0 | sort -z | xargs -0 zcat 2>/dev/null |
  awk -v max="$ITEMS" -v lic="$lic" 'BEGIN { RS = "" } NF >= 10 && tolower($0) !~ lic && !seen[$0]++ {
    print $0 "\n"; if (++n == max) exit }' >"$D/items.txt"
items_bytes=$(stat -c %s "$D/items.txt")
"$C" import workdir="$D/w" import.paths="[$DSRC]" import.shards=8 keep_rejected=false >/dev/null 2>&1
raw=$(jq .raw_bytes "$D/w/import/manifest.json")
docs=$(jq .records "$D/w/import/manifest.json")

cat >"$D/c.yaml" <<YAML
workdir: $D/w
stages: [import, decontaminate]
import: {paths: ["$DSRC"], shards: 8}
keep_rejected: false
decontaminate: {evalsets: ["docs=$D/items.txt"], text_unit: block}
YAML
printf 'zz zz zz zz zz zz zz zz zz zz zz\n' >"$D/one.txt"
decon() { "$C" decontaminate -c "$D/c.yaml" --force; }
# the index alone: the same set against a corpus of one small file
printf 'int x;\n' >"$D/x.h"
"$C" import workdir="$D/w1" import.paths="[$D/x.h]" import.shards=1 >/dev/null 2>&1
decon_setup() { "$C" decontaminate -c "$D/c.yaml" --force workdir="$D/w1" "import.paths=[$D/x.h]"; }
decon_one() { "$C" decontaminate -c "$D/c.yaml" --force "decontaminate.evalsets=[one=$D/one.txt]"; }

cat >"$D/ref.py" <<'PY'
# The same rule in plain Python: words are runs of [a-z0-9] or bytes >= 0x80 after ASCII
# lowercasing; a document is dropped when one of its 10-grams is in the set of item 10-grams.
import json, re, sys
word = re.compile(rb"[a-z0-9\x80-\xff]+")
n = 10
grams = set()
# blocks end at lines holding only blanks, as text_unit: block does
for block in re.split(rb"\n(?:[ \t\r\f\v]*\n)+", open(sys.argv[1], "rb").read()):
    w = word.findall(block.lower())
    grams.update(b" ".join(w[i:i + n]) for i in range(len(w) - n + 1))
dropped = 0
for line in sys.stdin.buffer:
    w = word.findall(json.loads(line)["text"].encode("utf-8", "surrogatepass").lower())
    if any(b" ".join(w[i:i + n]) in grams for i in range(len(w) - n + 1)):
        dropped += 1
print(dropped)
PY
ref() { zstdcat "$D"/w/import/part-*.jsonl.zst | /usr/bin/python3 "$D/ref.py" "$D/items.txt"; }

t_dc=$(best decon); t_one=$(best decon_one); t_setup=$(best decon_setup); t_ref=$(best ref)
decon >/dev/null 2>"$D/log"
dropped=$(jq '.docs_in - .docs_out' "$D/w/decontaminate/stats.json")
grams=$(sed -n 's/.* items in .* benchmarks\?, \([0-9]*\) distinct.*/\1/p' "$D/log")
nitems=$(sed -n 's/.*decontaminate: \([0-9]*\) items in.*/\1/p' "$D/log")
mem=$(sed -n 's/.* distinct 10-grams, \(.*\)$/\1/p' "$D/log")
ref_dropped=$(ref)
rss_dc=$(rss_kib "$C" decontaminate -c "$D/c.yaml" --force)
rss_ref=$(rss_kib bash -c "zstdcat $D/w/import/part-*.jsonl.zst | /usr/bin/python3 $D/ref.py $D/items.txt")

cat <<MD
## Decontaminate

Evaluation set: $ITEMS distinct paragraphs of at least 10 words from the gzipped docs under
\`$DDOCS\`, licence paragraphs left out ($(mbs "$items_bytes" 1) MB; $nitems items once
whitespace-only lines split them too), $grams distinct 10-grams, index $mem.
Corpus: \`$DSRC\` imported into 8 shards, $docs documents, $(mbs "$raw" 1) MB of JSONL. One rank
(one core). The reference is Python 3 (\`/usr/bin/python3\`, a \`set\` of the same normalized
10-grams, same tokenization) reading the same shards through \`zstdcat\`; it writes nothing.

| what | curate | reference | ratio (curate time / reference time) |
|---|---|---|---|
| decontaminate (load and index the set, read, parse, check, write, checksum) | $(printf %.2f "$t_dc") s, $(mbs "$raw" "$t_dc") MB/s per core | Python set: $(printf %.2f "$t_ref") s, $(mbs "$raw" "$t_ref") MB/s | $(ratio "$t_dc" "$t_ref") |
| loading and indexing the set alone (a one-file corpus) | $(printf %.2f "$t_setup") s | | |
| the same with a 1-item set (the stage without the index) | $(printf %.2f "$t_one") s, $(mbs "$raw" "$t_one") MB/s | | |
| documents dropped | $dropped | $ref_dropped | |
| peak RSS | $((rss_dc / 1024)) MiB | $((rss_ref / 1024)) MiB (Python; zstdcat apart) | |

Command: \`bash scripts/bench.sh decontaminate\` (\`BENCH_DECON_ITEMS\`, \`BENCH_DECON_TREE\`,
\`BENCH_DECON_DOCS\` change the inputs).

MD

# Benchmark of the langid stage against Debian's fasttext 0.9.2 with lid.176.ftz on one core:
# real multilingual pages (gettext catalogs of 24 languages, five lines a page) imported as web
# documents; curate langid (1 rank, tagging: read shards, strip fences, predict, write shards)
# against `fasttext predict-prob` on the same pages' text, one line each (prediction only).
# Sourced by scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio); prints its section.
LW="$W/langid"
mkdir -p "$LW"
source tests/parity/fasttext_lib.sh >/dev/null
lid=$(bash scripts/lid176.sh 2>/dev/null || true)
if [ -z "$lid" ]; then
  printf '## langid\n\nSkipped: lid.176.ftz could not be fetched (scripts/lid176.sh).\n\n'
  return 0
fi
ft_multilingual "${BENCH_LANGID_LINES:-2000}" labels >"$LW/multi.txt"
python3 - "$LW" <<'PY'
import json, sys
d = sys.argv[1]
by = {}
for line in open(f"{d}/multi.txt", encoding="utf-8"):
    lab, text = line.rstrip("\n").split(" ", 1)
    by.setdefault(lab, []).append(text)
with open(f"{d}/pages.jsonl", "w") as js, open(f"{d}/pages.txt", "w") as tx:
    for rep in range(4):  # four copies: enough text to time
        for lab in sorted(by):
            t = by[lab]
            for i in range(0, len(t), 5):
                page = t[i:i + 5]
                js.write(json.dumps({"id": f"{rep}-{lab}-{i}", "text": "\n".join(page), "source": "web"},
                                    ensure_ascii=False) + "\n")
                tx.write(" ".join(page) + "\n")
PY
"$C" import workdir="$LW/w" import.paths="[$LW/pages.jsonl]" import.shards=4 >/dev/null 2>&1
lbytes=$(stat -c %s "$LW/pages.txt")
lpages=$(wc -l <"$LW/pages.txt")
l_cur() { "$C" langid stages=[import,langid] workdir="$LW/w" "langid.model=$lid" langid.action=tag --force; }
l_ref() { fasttext predict-prob "$lid" "$LW/pages.txt" 1; }
t_lc=$(best l_cur); t_lr=$(best l_ref)
same=$(zstdcat "$LW"/w/langid/part-*.jsonl.zst | jq -r .metadata.language | sort | uniq -c | sort -rn | head -3 | awk '{printf "%s %s, ", $2, $1}')
cat <<MD
## langid

\`scripts/bench/langid.sh\`: $lpages real multilingual pages ($(mbs "$lbytes" 1) MB of text: gettext
catalogs of 24 languages, five lines a page, four copies), lid.176.ftz, one core. curate runs the
whole stage (read zstd shards, leave fences out, predict, write shards with the metadata);
fasttext only predicts, reading the same text one page a line.

| | seconds | MB/s | ratio |
|---|---|---|---|
| \`curate langid\` (1 rank, tag) | $t_lc | $(mbs "$lbytes" "$t_lc") | $(ratio "$t_lr" "$t_lc") x fasttext's speed |
| \`fasttext predict-prob lid.176.ftz - 1\` | $t_lr | $(mbs "$lbytes" "$t_lr") | 1 |

Most frequent labels: ${same%, }.

MD

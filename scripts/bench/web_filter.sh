# Benchmark of the web-filter stage on one core: the plain-text documentation under
# /usr/share/doc (READMEs, NEWS, changelogs; the pages of tests/e2e/web_filter.sh's real half,
# all of them) as web pages, every family of rules on; the reference is the Python port of the
# same equations the test checks verdicts against (tests/web/web_filter_ref.py), which is
# written like datatrove's filters, run on the same JSONL in the same run.
# Sourced by scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio); prints its section.
FW="$W/web_filter"
mkdir -p "$FW"
python3 - "$FW/pages.jsonl" <<'PY'
import glob, gzip, json, re, sys
with open(sys.argv[1], "w") as out:
    for f in sorted(glob.glob("/usr/share/doc/*/*")):
        if not re.search(r"/(README|NEWS|changelog)[^/]*$", f, re.I):
            continue
        try:
            raw = gzip.open(f).read() if f.endswith(".gz") else open(f, "rb").read()
            text = raw.decode("utf-8")
        except Exception:
            continue
        if text.strip() and len(text) <= 1 << 20:
            out.write(json.dumps({"id": f, "text": text, "source": "web"}) + "\n")
PY
"$C" import workdir="$FW/w" "import.paths=[$FW/pages.jsonl]" import.shards=4 >/dev/null 2>&1
wbytes=$(jq '[.shards[].text_bytes] | add // 0' "$FW/w/import/manifest.json" 2>/dev/null || echo 0)
[ "$wbytes" -gt 0 ] 2>/dev/null || wbytes=$(stat -c %s "$FW/pages.jsonl")
wpages=$(wc -l <"$FW/pages.jsonl")
w_cur() { "$C" web-filter stages=[import,web-filter] workdir="$FW/w" --force; }
w_ref() { python3 tests/web/web_filter_ref.py <"$FW/pages.jsonl"; }
t_wc=$(best w_cur); t_wr=$(best w_ref)
kept=$(jq .docs_out "$FW/w/web-filter/stats.json")
cat <<MD
## web-filter

\`scripts/bench/web_filter.sh\`: $wpages real plain-text pages ($(mbs "$wbytes" 1) MB: READMEs, NEWS
and changelogs under /usr/share/doc), every rule family on, one core; $kept pages kept. The
reference is the Python port of the same equations (tests/web/web_filter_ref.py, written like
datatrove's filters), whose verdicts the test checks the stage against.

| | seconds | MB/s | ratio |
|---|---|---|---|
| \`curate web-filter\` (1 rank) | $t_wc | $(mbs "$wbytes" "$t_wc") | $(ratio "$t_wr" "$t_wc") x the reference's speed |
| Python reference (datatrove's equations) | $t_wr | $(mbs "$wbytes" "$t_wr") | 1 |

MD

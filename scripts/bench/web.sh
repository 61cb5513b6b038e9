# Benchmark of crawl-web: MB/s per core on a WARC.gz that wget wrote by crawling Debian's
# git-doc HTML on 127.0.0.1, against `zcat > /dev/null` of the same file (the floor: inflating
# alone), with the stage's own split between reading (gunzip + WARC framing) and extraction
# (HTTP, charset, libxml2's HTML parser, the rules), and the parser's share of it. Sourced by
# scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio); prints its section.
WB="$W/web"
mkdir -p "$WB"
docs=/usr/share/doc/git-doc
{ echo "<html><body>"; for f in "$docs"/*.html; do n=$(basename "$f"); echo "<a href=\"$n\">$n</a>"; done
  echo "</body></html>"; } >"$WB/index.html"
mkdir -p "$WB/site" && cp "$docs"/*.html "$WB/site/" && cp "$WB/index.html" "$WB/site/index.html"
python3 tests/web/serve.py "$WB/site" "$WB/port" &
srv=$!
for _ in $(seq 100); do [ -s "$WB/port" ] && break; sleep 0.1; done
(cd "$WB" && wget -q -r -l1 -P "$WB/mirror" --warc-file="$WB/crawl" "http://127.0.0.1:$(cat "$WB/port")/index.html") || true
kill $srv 2>/dev/null || true
# the crawl repeated (gzip members concatenate) to about BENCH_WEB_MB MB of WARC
one=$(zcat "$WB/crawl.warc.gz" | wc -c)
k=$(( ${BENCH_WEB_MB:-40} * 1000000 / one + 1 ))
for _ in $(seq $k); do cat "$WB/crawl.warc.gz"; done >"$WB/bench.warc.gz"
gzbytes=$(stat -c %s "$WB/bench.warc.gz")
bytes=$(zcat "$WB/bench.warc.gz" | wc -c)
pages=$(zcat "$WB/bench.warc.gz" | grep -ac '^WARC-Type: response')

cpu() { /usr/bin/time -f "%U %S" "$@" 2>&1 >/dev/null | tail -1 | awk '{ print $1 + $2 }'; }
bestcpu() { local b=""; for _ in $(seq "$R"); do c=$(cpu "$@"); b=$(awk -v a="$c" -v b="$b" 'BEGIN { print (b == "" || a < b) ? a : b }'); done; echo "$b"; }
zc() { zcat "$WB/bench.warc.gz" >/dev/null; }
crawl() { "$C" crawl-web workdir="$WB/w" crawl-web.paths="[$WB/bench.warc.gz]" crawl-web.shards=1 keep_rejected=false --force; }
t_zcat=$(best zc); c_zcat=$(bestcpu zcat "$WB/bench.warc.gz")
t_crawl=$(best crawl); c_crawl=$(bestcpu "$C" crawl-web workdir="$WB/w" crawl-web.paths="[$WB/bench.warc.gz]" crawl-web.shards=1 keep_rejected=false --force)
S="$WB/w/crawl-web/stats.json"
read_s=$(jq '.counters["crawl-web.read_us"] / 1e6' "$S")
ext_s=$(jq '.counters["crawl-web.extract_us"] / 1e6' "$S")
parse_s=$(jq '.counters["crawl-web.html_parse_us"] / 1e6' "$S")
kept=$(jq .docs_out "$S")
rss=$(rss_kib "$C" crawl-web workdir="$WB/w" crawl-web.paths="[$WB/bench.warc.gz]" crawl-web.shards=1 keep_rejected=false --force)
# two files on two ranks: the stage scales by files
cp "$WB/bench.warc.gz" "$WB/bench2.warc.gz"
crawl2() { mpiexec -n 2 "$C" crawl-web workdir="$WB/w2" crawl-web.paths="[$WB/bench.warc.gz, $WB/bench2.warc.gz]" crawl-web.shards=2 keep_rejected=false --force; }
t_crawl2=$(best crawl2)

cat <<MD
## crawl-web (WARC.gz to pages)

Input: a WARC.gz written by \`wget --warc-file\` crawling Debian's git-doc HTML ($(ls "$docs"/*.html | wc -l) pages)
on 127.0.0.1, repeated to $(mbs "$bytes" 1) MB of WARC ($(mbs "$gzbytes" 1) MB gzip, $pages responses,
$kept pages kept).

| what | wall | CPU (user + sys) | MB/s of WARC per core (by CPU) | ratio to the floor (CPU) |
|---|---|---|---|---|
| \`zcat > /dev/null\` (the floor: inflate only) | $(printf %.2f "$t_zcat") s | $(printf %.2f "$c_zcat") s | $(mbs "$bytes" "$c_zcat") | 1.00 |
| \`curate crawl-web\`, 1 rank, whole command | $(printf %.2f "$t_crawl") s | $(printf %.2f "$c_crawl") s | $(mbs "$bytes" "$c_crawl") | $(ratio "$c_crawl" "$c_zcat") |
| of which reading: gunzip + WARC framing (stage counter, CPU) | | $(printf %.2f "$read_s") s | $(mbs "$bytes" "$read_s") | $(ratio "$read_s" "$c_zcat") |
| of which extraction: HTTP, charset, HTML, rules (stage counter, CPU) | | $(printf %.2f "$ext_s") s | $(mbs "$bytes" "$ext_s") | |
| of extraction, libxml2's \`htmlReadMemory\` alone (CPU) | | $(printf %.2f "$parse_s") s | $(mbs "$bytes" "$parse_s") | |
| 2 files on 2 ranks (\`mpiexec -n 2\`) | $(printf %.2f "$t_crawl2") s | | | throughput $(ratio "$(awk -v a="$t_crawl" 'BEGIN{print 2*a}')" "$t_crawl2")x of 1 rank (wall) |

Peak RSS of the 1-rank run: $((rss / 1024)) MiB (a record is held whole, up to \`max_page_size\`).
The rest of the whole command's time (CPU minus reading and extraction) is writing shards (JSON,
zstd, SHA-256) and process start. Command: \`bash scripts/bench.sh web\` (\`BENCH_WEB_MB\`: MB of WARC, default 40).

MD

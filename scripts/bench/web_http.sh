# Benchmark of crawl-web over http: the same WARC files read from a local folder and from
# Debian's nginx on 127.0.0.1 (tests/web/nginx.sh), same run, one rank: MB/s of WARC and the
# ratio (the goal: within 10%). Input: the Common Crawl slice of npm warc@1.0.1 repeated (WARC
# files concatenate) into 8 files, half gzip. Sourced by scripts/bench.sh (C, W, R, best,
# rss_kib, mbs, ratio); prints its section.
WH="$W/web_http"
mkdir -p "$WH/root" "$WH/nginx"
source tests/web/env.sh >/dev/null
source tests/web/nginx.sh
k=$(( ${BENCH_WEB_MB:-40} * 1000000 / 8 / $(stat -c %s "$CC_WARC") + 1 ))
for i in 1 2 3 4; do
  for _ in $(seq $k); do cat "$CC_WARC"; done >"$WH/root/plain$i.warc"
  gzip -c "$WH/root/plain$i.warc" >"$WH/root/gz$i.warc.gz"
done
wbytes=$(cat "$WH"/root/* | wc -c)
nginx_start "$WH/root" "$WH/nginx" >/dev/null
urls=$(for f in "$WH"/root/*; do printf '%s/%s,' "$NGINX_URL" "$(basename "$f")"; done)
loc() { "$C" crawl-web workdir="$WH/wl" crawl-web.paths="[$WH/root]" crawl-web.shards=1 keep_rejected=false --force; }
rem() { "$C" crawl-web workdir="$WH/wr" crawl-web.paths="[${urls%,}]" crawl-web.shards=1 crawl-web.max_rps=0 \
          keep_rejected=false --force; }
t_loc=$(best loc); t_rem=$(best rem)
nginx_stop

cat <<MD
## crawl-web over http

The same 8 WARC files ($(mbs "$wbytes" 1) MB: the Common Crawl slice of npm \`warc@1.0.1\`
repeated, 4 plain and 4 gzip) read by \`curate crawl-web\` (1 rank, 1 shard) from a local
folder, and as URLs from Debian's nginx $(/usr/sbin/nginx -v 2>&1 | cut -d/ -f2) on 127.0.0.1, same run (the HEAD of
every URL while planning included).

| input | MB/s of WARC | seconds | ratio (http / local) |
|---|---|---|---|
| local files | $(mbs "$wbytes" "$t_loc") | $(printf %.2f "$t_loc") | 1 |
| http://127.0.0.1 (nginx) | $(mbs "$wbytes" "$t_rem") | $(printf %.2f "$t_rem") | $(ratio "$t_loc" "$t_rem") |

Command: \`bash scripts/bench.sh web_http\`.

MD

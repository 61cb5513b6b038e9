# crawl-web over http: the project's WARC test files served by Debian's nginx on 127.0.0.1
# (tests/web/nginx.sh), and through tests/web/fault_proxy.py, a fault injector in front of it:
# - documents from URLs are byte-identical to those from the same files read locally (but
#   metadata.warc_file, the URL instead of the path), for 1 and 2 ranks; a warc.paths.gz
#   listing (itself a URL) with base_url and a slice gives the expected files; a bad listing
#   line is named with its line number;
# - a connection closed mid-file is resumed with Range from that byte (nginx's log shows it),
#   and one reset mid-file is retried, both to the clean run's documents; a file that changed
#   between the drop and the resumption (another ETag) is refused, not spliced; 503 with
#   Retry-After is waited out, then read; a 404 is reported with its URL and counted while the
#   shard's other files are read; a body cut short every time is read whole through
#   resumptions, and with no retries reported as truncated, never taken for a short file;
# - HEAD's ETag is in the signature (a changed file reruns the stage, an unchanged one does
#   not), and the download cache serves a rerun without a request and keeps to its cap.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/web/env.sh" >/dev/null
source "$ROOT/tests/web/nginx.sh"
proxy_pid=
trap 'nginx_stop; [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true' EXIT
mkdir -p "$T/root/crawl" "$T/nginx"
cp "$WARCIO_DATA/example.warc.gz" "$WARCIO_DATA/example.warc" "$T/root/crawl/"
cp "$CC_WARC" "$T/root/crawl/cc.warc"
gzip -c "$CC_WARC" >"$T/root/crawl/cc.warc.gz"
files=(example.warc.gz example.warc cc.warc cc.warc.gz)
nginx_start "$T/root" "$T/nginx" || fail "nginx did not start"
python3 "$ROOT/tests/web/fault_proxy.py" --upstream "$NGINX_URL" --port-file "$T/proxy.port" \
  --log "$T/proxy.log" 2>"$T/proxy.err" &
proxy_pid=$!
for _ in $(seq 1 600); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
[ -s "$T/proxy.port" ] || { cat "$T/proxy.err"; fail "the fault proxy did not start"; }
P="http://127.0.0.1:$(cat "$T/proxy.port")"
net=(crawl-web.max_rps=0 crawl-web.backoff=0.01 crawl-web.backoff_max=0.05)
shards() { (cd "$1/crawl-web" && sha256sum part-*.jsonl.zst rejected/part-*.jsonl.zst); }
# the documents, every byte but metadata.warc_file (a path in one run, a URL in another), in order
docs() { local f; for f in "$1"/crawl-web/part-*.jsonl.zst "$1"/crawl-web/rejected/part-*.jsonl.zst; do
  echo "== ${f#$1/}"; zstdcat "$f" | jq -c 'del(.metadata.warc_file)'; done; }
urls() { local pre=$1 out="" f; for f in "${files[@]}"; do out+="${out:+,}$pre/crawl/$f"; done; echo "[$out]"; }

# ---- URLs read like the local files ----
local_paths=$(printf "$T/root/crawl/%s," "${files[@]}")
"$CURATE" crawl-web workdir="$T/local" crawl-web.paths="[${local_paths%,}]" crawl-web.shards=2 \
  2>"$T/local.log" || { cat "$T/local.log"; fail "local run"; }
for n in 1 2; do
  mpiexec -n $n "$CURATE" crawl-web workdir="$T/url$n" crawl-web.paths="$(urls "$NGINX_URL")" \
    crawl-web.shards=2 "${net[@]}" 2>"$T/url$n.log" || { cat "$T/url$n.log"; fail "URL run, $n ranks"; }
  diff <(docs "$T/local") <(docs "$T/url$n") >/dev/null || fail "documents from URLs differ from local ones ($n ranks)"
done
test "$(jq '.counters["crawl-web.http_bytes"]' "$T/url1/crawl-web/stats.json")" = \
  "$(cat "$T"/root/crawl/* | wc -c)" || fail "http_bytes is not the files' size"
grep -q '^HEAD /crawl/cc.warc HTTP' "$T/nginx/access.log" || fail "no HEAD while planning"

# ---- the signature: unchanged reruns nothing, a changed file (new ETag) reruns ----
"$CURATE" crawl-web workdir="$T/url1" crawl-web.paths="$(urls "$NGINX_URL")" crawl-web.shards=2 "${net[@]}" \
  2>"$T/again.log" || fail "rerun"
contains "$T/again.log" "up to date"
touch -d '2001-01-01' "$T/root/crawl/example.warc"
"$CURATE" crawl-web workdir="$T/url1" crawl-web.paths="$(urls "$NGINX_URL")" crawl-web.shards=2 "${net[@]}" \
  2>"$T/changed.log" || fail "rerun after a change"
grep -q "up to date" "$T/changed.log" && fail "a changed remote file (new ETag) did not rerun"

# ---- a listing: warc.paths.gz by URL, relative lines, base_url, a slice ----
printf 'crawl/%s\n' "${files[@]}" | gzip >"$T/root/warc.paths.gz"
"$CURATE" crawl-web workdir="$T/list" crawl-web.paths="[$NGINX_URL/warc.paths.gz]" \
  crawl-web.base_url="$NGINX_URL/" crawl-web.slice=1::2 "${net[@]}" 2>"$T/list.log" ||
  { cat "$T/list.log"; fail "listing run"; }
contains "$T/list.log" "crawl-web: 2 WARC files"
for f in example.warc cc.warc.gz; do grep -q "GET /crawl/$f " "$T/nginx/access.log" || fail "slice 1::2: $f not read"; done
printf 'crawl/example.warc\ncrawl/bad path.warc\n' >"$T/root/bad.paths"
"$CURATE" crawl-web workdir="$T/badlist" crawl-web.paths="[$NGINX_URL/bad.paths]" crawl-web.base_url="$NGINX_URL" \
  2>"$T/badlist.log" && fail "a bad listing line accepted"
contains "$T/badlist.log" "$NGINX_URL/bad.paths:2: not a path or URL"
"$CURATE" crawl-web workdir="$T/badslice" crawl-web.paths="[$NGINX_URL/warc.paths.gz]" crawl-web.slice=a:b \
  2>"$T/badslice.log" && fail "a bad slice accepted"
contains "$T/badslice.log" "crawl-web.slice"

# ---- faults ----
# a dropped connection mid-file: resumed from the byte it stopped at
"$CURATE" crawl-web workdir="$T/drop" crawl-web.shards=2 "${net[@]}" \
  crawl-web.paths="[$P/crawl/example.warc.gz,$P/crawl/example.warc,$P/drop/100000/crawl/cc.warc,$P/drop/10000/crawl/cc.warc.gz]" \
  2>"$T/drop.log" || { cat "$T/drop.log"; fail "run with dropped connections"; }
diff <(docs "$T/local") <(docs "$T/drop") >/dev/null || fail "a resumed download changed the documents"
test "$(jq '.counters["crawl-web.http_resumes"]' "$T/drop/crawl-web/stats.json")" = 2 || fail "resumes not counted"
grep -q '^GET /crawl/cc.warc HTTP/1.1 206 [0-9]* "bytes=100000-"' "$T/nginx/access.log" ||
  fail "no Range request from the byte the connection dropped at"
# a reset (RST) mid-file: how many bytes arrive before it varies, the documents do not
"$CURATE" crawl-web workdir="$T/reset" crawl-web.shards=2 "${net[@]}" \
  crawl-web.paths="[$P/crawl/example.warc.gz,$P/crawl/example.warc,$P/reset/100000/crawl/cc.warc,$P/crawl/cc.warc.gz]" \
  2>"$T/reset.log" || { cat "$T/reset.log"; fail "run with a reset connection"; }
diff <(docs "$T/local") <(docs "$T/reset") >/dev/null || fail "a reset connection changed the documents"
jq -e '.counters["crawl-web.http_resumes"] + .counters["crawl-web.http_retries"] >= 1' \
  "$T/reset/crawl-web/stats.json" >/dev/null || fail "the reset was not retried"
# a file that changed between the drop and the resumption (another ETag): refused, not spliced
"$CURATE" crawl-web workdir="$T/changed" "${net[@]}" crawl-web.head=false \
  crawl-web.paths="[$P/changed/100000/crawl/cc.warc]" 2>"$T/changed.log" || fail "run with a changed file"
contains "$T/changed.log" "the file changed while it was read"
jq -e '.drops.read_error.docs == 1' "$T/changed/crawl-web/stats.json" >/dev/null || fail "the changed file not counted"
# 503 with Retry-After: waited, then read
"$CURATE" crawl-web workdir="$T/busy" "${net[@]}" crawl-web.paths="[$P/503/2/crawl/cc.warc]" crawl-web.retries=3 \
  crawl-web.head=false \
  2>"$T/busy.log" || { cat "$T/busy.log"; fail "run with 503s"; }
test "$(jq '.counters["crawl-web.http_retries"]' "$T/busy/crawl-web/stats.json")" = 2 || fail "503 retries"
jq -e '.counters["crawl-web.http_wait_ms"] >= 2000' "$T/busy/crawl-web/stats.json" >/dev/null ||
  fail "Retry-After: 1 was not waited twice"
test "$(jq .docs_out "$T/busy/crawl-web/stats.json")" -gt 0 || fail "nothing read after the 503s"
# 404: reported with its URL, counted; the shard's other files read
"$CURATE" crawl-web workdir="$T/gone" crawl-web.shards=1 "${net[@]}" crawl-web.head=false \
  crawl-web.paths="[$P/crawl/example.warc,$P/404/crawl/cc.warc,$P/crawl/example.warc.gz]" \
  2>"$T/gone.log" || { cat "$T/gone.log"; fail "run with a 404"; }
contains "$T/gone.log" "$P/404/crawl/cc.warc: HTTP 404: not found (fault_proxy); skipped"
jq -e '.drops.fetch_failed.docs == 1' "$T/gone/crawl-web/stats.json" >/dev/null || fail "the 404 not counted"
# example.warc and example.warc.gz hold one page each
jq -e '.docs_out == 2' "$T/gone/crawl-web/stats.json" >/dev/null || fail "the other files of the shard were not all read"
# a body cut short every time: each resumption gets half of the rest, so with retries the
# whole file arrives; with none it is reported as truncated, the records before it kept
"$CURATE" crawl-web workdir="$T/trunc_ok" "${net[@]}" crawl-web.paths="[$P/trunc/crawl/cc.warc]" \
  2>"$T/trunc_ok.log" || { cat "$T/trunc_ok.log"; fail "run with resumed truncations"; }
"$CURATE" crawl-web workdir="$T/cc_local" crawl-web.paths="[$T/root/crawl/cc.warc]" 2>/dev/null || fail "local cc.warc"
diff <(docs "$T/cc_local") <(docs "$T/trunc_ok") >/dev/null || fail "resumed truncations changed the documents"
"$CURATE" crawl-web workdir="$T/trunc" "${net[@]}" crawl-web.retries=0 crawl-web.paths="[$P/trunc/crawl/cc.warc]" \
  2>"$T/trunc.log" || { cat "$T/trunc.log"; fail "run with a truncated body"; }
contains "$T/trunc.log" "$P/trunc/crawl/cc.warc: truncated: the body ended at byte"
jq -e '.drops.truncated.docs == 1' "$T/trunc/crawl-web/stats.json" >/dev/null || fail "truncation not counted"

# ---- the download cache ----
"$CURATE" crawl-web workdir="$T/c1" crawl-web.paths="$(urls "$NGINX_URL")" crawl-web.cache_dir="$T/cache" \
  "${net[@]}" 2>"$T/c1.log" || fail "cached run"
test "$(ls "$T/cache" | wc -l)" = 4 || fail "the cache does not hold the 4 files"
gets=$(grep -c '^GET /crawl/' "$T/nginx/access.log")
"$CURATE" crawl-web workdir="$T/c2" crawl-web.paths="$(urls "$NGINX_URL")" crawl-web.cache_dir="$T/cache" \
  "${net[@]}" 2>"$T/c2.log" || fail "run from the cache"
test "$(grep -c '^GET /crawl/' "$T/nginx/access.log")" = "$gets" || fail "a cached file was downloaded again"
jq -e '.counters["crawl-web.cache_hits"] == 4' "$T/c2/crawl-web/stats.json" >/dev/null || fail "cache hits"
diff <(shards "$T/c1") <(shards "$T/c2") || fail "cached documents differ"
"$CURATE" crawl-web workdir="$T/c3" crawl-web.paths="$(urls "$NGINX_URL")" crawl-web.cache_dir="$T/small" \
  crawl-web.cache_max=300KiB "${net[@]}" 2>"$T/c3.log" || fail "run with a small cache"
test "$(du -cb "$T"/small/* | tail -1 | cut -f1)" -le $((300 * 1024 + 256305)) || fail "the cache outgrew its cap"
echo "crawl-web over http: same documents as local files for 1 and 2 ranks; resume, 503, 404, truncation; cache"

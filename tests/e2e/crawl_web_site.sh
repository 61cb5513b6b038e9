# crawl_web_site: wget crawls a local site (tests/web/make_site.py: Debian's git-doc pages, a
# page of code highlighters, pages in six charsets, gzip and chunked responses) served on
# 127.0.0.1 into a real multi-member WARC.gz; crawl-web reads it. Checked against references:
# record counts and page ids against warcio.js, every <pre> of the git-doc pages against
# Python's html.parser, the highlighter page against its golden text, charsets, categories;
# then bit flips in two gzip members lose exactly those two records.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/web/env.sh" || { echo "npm packages unavailable"; exit 77; }
[ -f /usr/share/doc/git-doc/git-log.html ] || { echo "git-doc not installed (make deps)"; exit 77; }
python3 "$ROOT/tests/web/make_site.py" "$T/site"
python3 "$ROOT/tests/web/serve.py" "$T/site" "$T/port" &
srv=$!
trap 'kill $srv 2>/dev/null || true' EXIT
# the server writes its port once it listens: wait for that (a busy machine can take long)
for _ in $(seq 600); do
  [ -s "$T/port" ] && break
  kill -0 $srv 2>/dev/null || fail "the test web server exited before it listened"
  sleep 0.1
done
[ -s "$T/port" ] || fail "the test web server wrote no port within 60 s"
port=$(cat "$T/port")
# exit 8: the server answered some requests with errors (the 404s are on purpose)
rc=0; (cd "$T" && wget -q -r -l1 -P "$T/mirror" --warc-file="$T/site" "http://127.0.0.1:$port/index.html") || rc=$?
[ $rc = 0 ] || [ $rc = 8 ] || fail "wget crawl failed ($rc)"
kill $srv
W="$T/site.warc.gz"
check "wget wrote a multi-member WARC.gz" test "$(zcat "$W" | grep -ac '^WARC/1')" -gt 40

"$CURATE" crawl-web workdir="$T/w" crawl-web.paths="[$W]" keep_rejected=true 2>"$T/log" ||
  { cat "$T/log"; fail "crawl-web failed"; }
S="$T/w/crawl-web/stats.json"
zstdcat "$T"/w/crawl-web/part-*.jsonl.zst | jq -c --arg h "http://127.0.0.1:$port" \
  '.metadata.url |= ltrimstr($h)' >"$T/kept.jsonl"
zstdcat "$T"/w/crawl-web/rejected/part-*.jsonl.zst >"$T/rejected.jsonl"

# 1. records as warcio.js reads them: counts by type, and the HTML 200 responses are exactly
#    the kept pages plus the rejected short one
NODE_PATH="$WARCIO_NODE_PATH" node "$ROOT/tests/web/warcio_index.js" "$W" >"$T/ref.jsonl"
for ty in warcinfo request response resource metadata; do
  want=$(jq -s --arg t $ty '[.[] | select(.type == $t)] | length' "$T/ref.jsonl")
  got=$(jq --arg k "crawl-web.records.$ty" '.counters[$k] // 0' "$S")
  [ "$want" = "$got" ] || fail "$ty records: warcio reads $want, crawl-web $got"
done
jq -r 'select(.type == "response" and .status == 200 and .mime == "text/html") | .id' "$T/ref.jsonl" |
  sort >"$T/ref.ids"
cat "$T/kept.jsonl" "$T/rejected.jsonl" | jq -r 'select(.metadata.warc_record_id) | .id' | sort >"$T/got.ids"
diff "$T/ref.ids" "$T/got.ids" || fail "pages differ from warcio's HTML responses"
check "15 pages kept" test "$(jq .docs_out "$S")" = 15
check "404s dropped (robots.txt, missing.html)" test "$(jq .drops.http_status.docs "$S")" = 2
check "text/plain and wget's log records not HTML" test "$(jq .drops.not_html.docs "$S")" = 3
check "the nine-word page dropped" test "$(jq -r 'select(.metadata.drop_reason == "too_few_words") | .metadata.url' "$T/rejected.jsonl")" = "http://127.0.0.1:$port/short.html"

# 2. code blocks: every <pre> of the git-doc pages, verbatim, as Python's html.parser sees it
for p in git-log gittutorial git-add user-manual; do
  python3 "$ROOT/tests/web/pre_ref.py" "$T/site/docs/$p.html" | jq -c .blocks >"$T/ref.$p"
  jq -c --arg u "/docs/$p.html" 'select(.metadata.url == $u)' "$T/kept.jsonl" |
    python3 "$ROOT/tests/web/fences.py" | jq -c .blocks >"$T/got.$p"
  n=$(jq length "$T/ref.$p")
  check "$p: $n blocks" test "$n" -gt 5
  cmp -s "$T/ref.$p" "$T/got.$p" || fail "$p: code blocks differ from html.parser's <pre> text"
  got_n=$(jq -r --arg u "/docs/$p.html" 'select(.metadata.url == $u) | .metadata.code_blocks' "$T/kept.jsonl")
  check "$p: code_blocks = $n" test "$got_n" = "$n"
done
# the same page sent gzip-compressed and chunked gives the same text
for v in gzip chunked; do
  a=$(jq -r 'select(.metadata.url == "/docs/git-add.html") | .text' "$T/kept.jsonl" | sha256sum)
  b=$(jq -r --arg u "/docs/git-add.$v.html" 'select(.metadata.url == $u) | .text' "$T/kept.jsonl" | sha256sum)
  check "$v response decoded" test "$a" = "$b"
done

# 3. highlighters: golden text (fences, languages, line-number gutters and boilerplate gone)
jq -r 'select(.metadata.url == "/docs/highlight.html") | .text' "$T/kept.jsonl" >"$T/hl.txt"
diff "$ROOT/tests/data/web/highlight.txt" "$T/hl.txt" || fail "highlighter page text"
hl=$(jq -c 'select(.metadata.url == "/docs/highlight.html") | .metadata |
  [.has_code_markup, .code_blocks, .code_languages, .category, .title]' "$T/kept.jsonl")
check "highlighter metadata ($hl)" test "$hl" = '[true,7,["go","haskell","javascript","python","rust"],"documentation","Highlighters"]'

# 4. charsets (HTTP header, <meta>, BOM, UTF-16, guess, header over meta) and categories
while IFS='|' read -r url cs cat text; do
  got=$(jq -r --arg u "$url" 'select(.metadata.url == $u) |
    "\(.metadata.charset)|\(.metadata.category)|\(.metadata.has_code_markup)"' "$T/kept.jsonl")
  [ "$got" = "$cs|$cat|false" ] || fail "$url: charset|category|code is '$got', expected '$cs|$cat|false'"
  jq -r --arg u "$url" 'select(.metadata.url == $u) | .text' "$T/kept.jsonl" | grep -qF "$text" ||
    fail "$url: text lacks '$text'"
done <<'TABLE'
/docs/latin1.html|windows-1252|documentation|Le café est prêt with
/blog/2023/05/sjis.cs-shift_jis.html|shift_jis|blog|日本語のテキストです。 with
/forum/bom.html|utf-8|forum|Grüße aus Köln with
/questions/utf16.html|utf-16le|qa|Ελληνικά κείμενα with
/cyrillic.html|windows-1251|other|Привет мир with
/guess.html|windows-1252|other|Un café sans déclaration with
/conflict.cs-utf-8.html|utf-8|other|Le café en UTF-8 with
TABLE
check "charset sources counted" test "$(jq '[.counters | to_entries[] | select(.key | startswith("crawl-web.charset_from."))] | length' "$S")" = 4

# 5. bit flips inside the members of two large pages: those two records are lost, the rest kept
python3 - "$W" "$T/flip.warc.gz" <<'PY'
import sys, zlib
d = bytearray(open(sys.argv[1], "rb").read())
starts = [i for i in range(len(d) - 2) if d[i] == 0x1f and d[i+1] == 0x8b and d[i+2] == 8]
members = []
for a in starts:  # keep the real member starts: those that inflate to a WARC record
    try:
        if zlib.decompressobj(31).decompress(bytes(d[a:a+4096]))[:7] == b"WARC/1.":
            members.append(a)
    except zlib.error:
        pass
ends = members[1:] + [len(d)]
big = sorted(range(len(members)), key=lambda k: ends[k] - members[k])[-2:]
for k in big:
    mid = (members[k] + ends[k]) // 2
    d[mid] ^= 0x55
open(sys.argv[2], "wb").write(d)
PY
"$CURATE" crawl-web workdir="$T/flip" crawl-web.paths="[$T/flip.warc.gz]" 2>"$T/flip.log" ||
  { cat "$T/flip.log"; fail "crawl-web on bit flips failed"; }
F="$T/flip/crawl-web/stats.json"
check "two corrupt members" test "$(jq .drops.corrupt_gzip.docs "$F")" = 2
check "the other 13 pages kept" test "$(jq .docs_out "$F")" = 13
contains "$T/flip.log" "lies in a damaged gzip member"
contains "$T/flip.log" "$T/flip.warc.gz: uncompressed offset"
echo "crawl_web_site: wget WARC of $(jq length <<<"$(jq -s . "$T/ref.jsonl")") records agrees with warcio.js and html.parser"

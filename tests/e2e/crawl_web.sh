# crawl_web: the real WARC files of shared/REFERENCES.md (npm warcio@1.0.3's examples, the
# Common Crawl 2014 slice of npm warc@1.0.1) and corrupted copies of them (truncated gzip and
# plain, bit flips, garbage between records, a wrong Content-Length, a file that is no WARC)
# through crawl-web: record counts agree with warcio.js, pages are exact, every bad stretch is
# counted under its reason and the rest of its file is read; list files and directories give
# the same input; shards are identical under 1, 2 and 3 ranks.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/web/env.sh" || { echo "npm packages unavailable"; exit 77; }
D="$T/in"
mkdir -p "$D"
cp "$WARCIO_DATA"/*.warc* "$CC_WARC" "$D/"
CC="$D/$(basename "$CC_WARC")"

# 1. the originals: every record type counted as warcio.js counts it, the 6 pages exact
"$CURATE" crawl-web workdir="$T/orig" crawl-web.paths="[$D]" crawl-web.shards=5 keep_rejected=true \
  2>"$T/orig.log" || { cat "$T/orig.log"; fail "crawl-web failed"; }
S="$T/orig/crawl-web/stats.json"
NODE_PATH="$WARCIO_NODE_PATH" node "$ROOT/tests/web/warcio_index.js" "$D"/* >"$T/ref.jsonl"
check "warcio reads 32 records" test "$(wc -l <"$T/ref.jsonl")" = 32
for ty in warcinfo request response resource metadata revisit; do
  want=$(jq -s --arg t $ty '[.[] | select(.type == $t)] | length' "$T/ref.jsonl")
  got=$(jq --arg k "crawl-web.records.$ty" '.counters[$k] // 0' "$S")
  [ "$want" = "$got" ] || fail "$ty records: warcio reads $want, crawl-web $got"
done
check "10 pages in (7 responses, 3 resources)" test "$(jq .docs_in "$S")" = 10
check "4 not HTML (text/plain resources, an empty response)" test "$(jq .drops.not_html.docs "$S")" = 4
zstdcat "$T"/orig/crawl-web/part-*.jsonl.zst >"$T/orig.jsonl"
jq -r 'select(.type == "response" and .status == 200 and .mime == "text/html") | .id' "$T/ref.jsonl" |
  sort >"$T/ref.ids"
jq -r .id "$T/orig.jsonl" | sort >"$T/got.ids"
diff "$T/ref.ids" "$T/got.ids" || fail "kept pages differ from warcio's HTML responses"
ex=$(jq -r 'select(.metadata.warc_file | endswith("/example.warc")) | .text' "$T/orig.jsonl")
[ "$ex" = "Example Domain

This domain is established to be used for illustrative examples in documents. You may use this domain in examples without prior coordination or asking for permission.

More information..." ] || fail "example.com text: $ex"
check "wget's <URI> brackets stripped" test "$(jq -r 'select(.metadata.warc_file | endswith("bad-target-uri.warc.gz")) | .metadata.url' "$T/orig.jsonl")" = "http://example.com/"
cc=$(jq -c 'select(.metadata.url | startswith("http://0x20.be/")) | .metadata |
  [.warc_record_id, .warc_date, .content_type, .charset, .category, .has_code_markup, .code_blocks, .code_languages]' "$T/orig.jsonl")
check "Common Crawl page metadata ($cc)" test "$cc" = '["urn:uuid:a448a920-781f-4f53-a5c6-ca9f215239c4","2014-08-21T04:31:23Z","text/html","utf-8","other",false,0,[]]'
jq -r 'select(.metadata.url | startswith("http://0x20.be/")) | .text' "$T/orig.jsonl" |
  grep -qxF 'No pages link to Thread:Talk:Gentse feesten/foo.' || fail "CC page text"
check "every doc is source web" test "$(jq -r .source "$T/orig.jsonl" | sort -u)" = web

# 2. corrupted copies
B="$T/bad"
mkdir -p "$B"
python3 - "$D" "$B" "$(basename "$CC")" <<'PY'
import os, sys, zlib
src, out, ccname = sys.argv[1], sys.argv[2], sys.argv[3]
def members(d):
    """Offsets of the gzip members of d (each inflates to a WARC record)."""
    offs, i = [], 0
    while i < len(d):
        z = zlib.decompressobj(31)
        z.decompress(d[i:])
        offs.append(i)
        i = len(d) - len(z.unused_data)
    return offs
gz = open(os.path.join(src, "example.warc.gz"), "rb").read()
m = members(gz)                    # 6 members: warcinfo, warcinfo, response, request, revisit, request
cut = (m[2] + m[3]) // 2
open(os.path.join(out, "trunc.warc.gz"), "wb").write(gz[:cut])        # ends inside the response
flip = bytearray(gz); flip[(m[2] + m[3]) // 2] ^= 0xff
open(os.path.join(out, "flip.warc.gz"), "wb").write(bytes(flip))       # the response's member broken
cc = open(os.path.join(src, ccname), "rb").read()
recs = [i for i in range(len(cc)) if cc.startswith(b"WARC/1.", i) and (i == 0 or cc[i-1:i] == b"\n")]
# garbage before record 4, and record 6 (the first 0pointer response) 50 bytes too long
g = cc[:recs[3]] + b"\x00\x01 not a record \xff\r\n" + cc[recs[3]:]
shift = len(g) - len(cc)
j = g.index(b"Content-Length: ", recs[5] + shift) + 16
e = g.index(b"\r\n", j)
g = g[:j] + str(int(g[j:e]) + 50).encode() + g[e:]
open(os.path.join(out, "garbage.warc"), "wb").write(g)
open(os.path.join(out, "cctrunc.warc"), "wb").write(cc[:recs[-2] + 2000])  # inside the last response
open(os.path.join(out, "hdrtrunc.warc"), "wb").write(cc[:recs[2] + 40])    # inside a header
open(os.path.join(out, "noise.warc"), "wb").write(bytes((i * 7919) % 251 for i in range(20000)))
PY
for f in trunc flip garbage cctrunc hdrtrunc noise; do
  ext=warc; [ -f "$B/$f.warc.gz" ] && ext=warc.gz
  "$CURATE" crawl-web workdir="$T/one.$f" crawl-web.paths="[$B/$f.$ext]" 2>"$T/one.$f.log" ||
    { cat "$T/one.$f.log"; fail "$f: crawl-web failed"; }
  got=$(jq -c '[.docs_out, (.drops | to_entries | map("\(.key)=\(.value.docs)") | join(","))]' "$T/one.$f/crawl-web/stats.json")
  case $f in
    trunc) want='[0,"truncated=1"]' ;;                    # the response; nothing follows
    flip) want='[0,"corrupt_gzip=1"]' ;;                  # the response; the revisit and requests read
    garbage) want='[2,"bad_length=1,garbage=1,not_html=1"]' ;; # 0pointer lost; 0pointer 2, 0x20.be kept
    cctrunc) want='[2,"not_html=1,truncated=1"]' ;;       # the two before it kept
    hdrtrunc) want='[0,"truncated=1"]' ;;
    noise) want='[0,"garbage=1"]' ;;
  esac
  [ "$got" = "$want" ] || { cat "$T/one.$f.log"; fail "$f: got $got, expected $want"; }
done
check "flip: the 5 other records read" test "$(jq '[.counters | to_entries[] | select(.key | startswith("crawl-web.records.")) | .value] | add' "$T/one.flip/crawl-web/stats.json")" = 5
check "garbage: 12 records read" test "$(jq '[.counters | to_entries[] | select(.key | startswith("crawl-web.records.")) | .value] | add' "$T/one.garbage/crawl-web/stats.json")" = 12
contains "$T/one.garbage.log" "garbage.warc: offset"
contains "$T/one.garbage.log" "Content-Length 7437 does not end at a record boundary (bad_length)"
contains "$T/one.trunc.log" "response record: the file ends inside it (truncated)"
contains "$T/one.noise.log" "20000 bytes that are no WARC record (garbage)"

# 3. a size cap, and a list file naming the same inputs as the folder
"$CURATE" crawl-web workdir="$T/cap" crawl-web.paths="[$CC]" crawl-web.max_page_size=100KiB 2>/dev/null
check "the 222 KB page is too large" test "$(jq .drops.too_large.docs "$T/cap/crawl-web/stats.json")" = 1
check "the others still kept" test "$(jq .docs_out "$T/cap/crawl-web/stats.json")" = 2
(cd "$D" && ls | sed 's/^/  /; 1i # the npm fixtures') >"$D/../inputs.txt"
sed -i 's#^  #in/#' "$D/../inputs.txt"
"$CURATE" crawl-web workdir="$T/list" crawl-web.paths="[$T/inputs.txt]" crawl-web.shards=5 2>/dev/null
jq -r .id <(zstdcat "$T"/list/crawl-web/part-*.jsonl.zst) | sort | diff - "$T/got.ids" || fail "list file input differs"
echo "in/nothere.warc" >>"$T/inputs.txt"
rc=0; "$CURATE" crawl-web workdir="$T/list2" crawl-web.paths="[$T/inputs.txt]" 2>"$T/list.err" || rc=$?
check "a missing listed file is an error" test $rc != 0
contains "$T/list.err" "inputs.txt:7: $T/in/nothere.warc"

# 4. identical shards, manifests and counts under 1, 2 and 3 ranks
strip='del(.wall_seconds,.task_seconds,.ranks) | .counters |= with_entries(select(.key | endswith("_us") | not))'
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" crawl-web workdir="$T/n$n" crawl-web.paths="[$D, $B]" crawl-web.shards=4 \
    keep_rejected=true 2>"$T/n$n.log" || { cat "$T/n$n.log"; fail "-n $n failed"; }
  digest "$T/n$n/crawl-web" >"$T/n$n.sha"
  jq -S "$strip" "$T/n$n/crawl-web/stats.json" >"$T/n$n.stats"
done
for n in 2 3; do
  cmp "$T/n1.sha" "$T/n$n.sha" || fail "shards differ between 1 and $n ranks"
  cmp "$T/n1.stats" "$T/n$n.stats" || fail "stats differ between 1 and $n ranks"
done
check "all inputs read together: 6 + 4 pages" test "$(jq .docs_out "$T/n1/crawl-web/stats.json")" = 10
echo "crawl_web: 32 records as warcio.js reads them; 6 corruptions counted and skipped; 1/2/3 ranks identical"

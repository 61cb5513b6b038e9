# Several sources in one pipeline: a source listed after another stage carries that stage's
# shards through unchanged as its first shards, then adds its own documents (datatrove's
# readers do the same); the same bytes for 1 and 3 ranks; a rebuilt upstream reruns it.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/web/env.sh" >/dev/null 2>&1 || { echo "npm WARC files unavailable"; exit 77; }
mkdir -p "$T/src" && cp "$ROOT"/pipeline/log.[ch] "$ROOT"/pipeline/util.h "$T/src/"
cfg=(stages=[import,crawl-web,dedup-exact] import.paths=["$T/src"] import.shards=2
     crawl-web.paths=["$CC_WARC"] crawl-web.shards=1)
"$CURATE" run workdir="$T/w" "${cfg[@]}" 2>"$T/log" || { cat "$T/log"; fail "the run"; }

check "crawl-web has the import's 2 shards and its own 1" \
  test "$(jq '.shards | length' "$T/w/crawl-web/manifest.json")" = 3
for i in 00000 00001; do
  check "upstream shard $i carried unchanged" \
    cmp <(zstdcat "$T/w/import/part-$i.jsonl.zst") <(zstdcat "$T/w/crawl-web/part-$i.jsonl.zst")
done
web=$(zstdcat "$T/w/crawl-web/part-00002.jsonl.zst" | jq -r .source | sort -u)
check "the third shard holds the web pages" test "$web" = web
n_imp=$(jq .docs_out "$T/w/import/stats.json")
n_web=$(zstdcat "$T/w/crawl-web/part-00002.jsonl.zst" | wc -l)
check "every document of both sources reaches dedup-exact" \
  test "$(jq .docs_in "$T/w/dedup-exact/stats.json")" = $((n_imp + n_web))

mpiexec -n 3 "$CURATE" run workdir="$T/w3" "${cfg[@]}" 2>"$T/log3" || { cat "$T/log3"; fail "3 ranks"; }
for s in import crawl-web dedup-exact; do
  check "$s: the same bytes on 1 and 3 ranks" cmp <(digest "$T/w/$s") <(digest "$T/w3/$s")
done

# a changed import option rebuilds import, then crawl-web because its input changed
"$CURATE" run workdir="$T/w" "${cfg[@]}" import.shards=3 2>"$T/log2"
contains "$T/log2" "stage crawl-web: rerunning: its input changed (stage import was rebuilt)"
check "crawl-web now carries 3 upstream shards" \
  test "$(jq '.shards | length' "$T/w/crawl-web/manifest.json")" = 4
echo "sources: import then crawl-web: $n_imp + $n_web documents"

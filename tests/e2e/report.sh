# curate report: the demo's stages on a small input, then the report: its numbers are the
# stages' own (stats.json, token shards), an incomplete or unreadable stage is named and
# skipped, the page is self-contained and the same bytes twice, and headless Chromium
# renders it to a screenshot that is not blank.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/e2e/demo.env"
cd "$DEMO"
W=$T/w
# an exact and a near duplicate, so that the dedup stages have something to show
# committed, since crawl-github reads the repository's HEAD
cp pipeline/log.c stages/log_copy.c
sed 's/stats_merge/stats_merge_into/g' pipeline/stats.c >stages/stats_near.c
git add stages/log_copy.c stages/stats_near.c &&
  git -c user.name=test -c user.email=test@localhost commit -qm "duplicates" ||
  fail "committing the duplicates into the demo's clone"
"$CURATE" run -c configs/demo.yaml workdir="$W" "${DEMO_ARGS[@]}" 2>"$T/run.log"
# a stage the pipeline does not have yet that writes a quality histogram (the quality
# stage's stats format), and two broken ones: the report must show the first, name the others
cp -r "$W/filter" "$W/scored"
jq '. + {quality_histogram: {edges: [0, 0.25, 0.5, 0.75, 1], counts: [3, 14, 41, 29]}}' \
  "$W/filter/stats.json" >"$W/scored/stats.json"
mkdir -p "$W/half/.parts"
cp -r "$W/filter" "$W/broken" && echo '{"docs_in": 3,' >"$W/broken/stats.json"

"$CURATE" report "$W" >"$T/out"
contains "$T/out" "report: $W/report.html"
R=$W/report.html
"$CURATE" report "$W" -o "$T/again.html" >/dev/null
check "the same workdir gives the same report" cmp "$R" "$T/again.html"

for s in $(demo_stages) scored; do
  row="<tr><td>$s</td><td>$(jq .docs_in "$W/$s/stats.json")</td><td>$(jq .docs_out "$W/$s/stats.json")</td>"
  contains "$R" "$row"
done
# drop reasons, with the stage's counts
for s in $(demo_stages); do
  for reason in $(jq -r '.drops | keys[]' "$W/$s/stats.json"); do
    contains "$R" ">$s: $reason</text>"
    contains "$R" "<title>$(jq ".drops.$reason.docs" "$W/$s/stats.json")</title>"
  done
done
# cluster sizes from dedup-near's counters
n2=$(jq '.counters.cluster_size_2 // 0' "$W/dedup-near/stats.json")
check "dedup-near found the near duplicate" test "$n2" -gt 0
contains "$R" "<title>2: $n2</title>"
# languages: the last document stage's documents, by metadata.lang or file name
contains "$R" "the last document stage, <b>scored</b>" # after the table's stages, by name
nc=$(zstdcat "$W"/scored/part-*.jsonl.zst | jq -r .metadata.path | grep -cE '\.(c|h)$')
sed -n '/<h2>Languages/,/<h2>Dedup/p' "$R" >"$T/langs"
contains "$T/langs" "end\">c</text>"
contains "$T/langs" "<title>$nc</title>"
# quality histogram: the made-up stage's, and the quality stage's own from its stats.json
contains "$R" "<title>0.50-0.75: 41</title>"
check "quality histogram in stats.json" jq -e '.quality_histogram.counts | length > 0' "$W/quality/stats.json"
contains "$R" "<p>Stage <b>quality</b>.</p>"
# tokens per shard, as curate tokens reads them
total=0
for idx in "$W"/tokenize/*/part-*.idx "$W"/tokenize/part-*.idx; do
  [ -e "$idx" ] || continue
  p=${idx%.idx}
  t=$("$CURATE" tokens info "$p" | sed -n 's/^tokens //p')
  contains "$R" "<title>${p#"$W"/tokenize/}: $t</title>"
  total=$((total + t))
done
check "token total is the tokenize stage's" test "$total" = "$(jq .counters.tokens "$W/tokenize/stats.json")"
contains "$R" "$total tokens in"
# what it could not show, it names
contains "$R" "stage half is not complete"
contains "$R" "stage broken skipped: $W/broken/stats.json:"
# self-contained: no scripts, no fetched resources
check "no scripts" test "$(grep -c '<script' "$R")" = 0
check "nothing fetched" test -z "$(grep -oE '(src|href)=|url\(|https?://[^" ]*' "$R" | grep -v 'http://www.w3.org/2000/svg')"

# an empty workdir is an error that names it
mkdir -p "$T/empty"
"$CURATE" report "$T/empty" 2>"$T/err" && fail "a workdir without stages should fail"
contains "$T/err" "$T/empty: no complete stage"

# Chromium renders it; the screenshot must not be blank
timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$T/chromium" --window-size=900,2600 --screenshot="$T/report.png" \
  "file://$R" >"$T/chromium.log" 2>&1 || { cat "$T/chromium.log"; fail "chromium failed"; }
check "the screenshot is written" test -s "$T/report.png"
python3 "$ROOT/tests/e2e/png_check.py" "$T/report.png" 20 0.05
echo "report: numbers match the stages, and it renders"

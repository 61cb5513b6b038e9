# The web-filter stage: for every Gopher, C4 and FineWeb rule a page built from real prose that
# trips it and one on the other side of its threshold (tests/web/web_filter_docs.py), and 400
# real plain-text pages (READMEs, NEWS and changelogs under /usr/share/doc); every page's
# verdict (its drop reason, or its text after C4's line removal) is the one a second
# implementation of datatrove's equations in Python gives (tests/web/web_filter_ref.py), with
# the defaults and with C4's terminal-punctuation rule on; code in fences is not judged;
# other sources pass; each family can be switched off; the same shards on 2 ranks.
source "$(dirname "$0")/lib.sh"
cd "$T"
python3 "$ROOT/tests/web/web_filter_docs.py" >pages.jsonl 3>expect.tsv
"$CURATE" import workdir="$T/w" "import.paths=[$T/pages.jsonl]" import.shards=4 >/dev/null 2>&1 ||
  fail "import failed"
wf() { # options... -> runs web-filter, keeping the rejected records
  "$CURATE" web-filter stages=[import,web-filter] workdir="$T/w" keep_rejected=true --force "$@" \
    >run.log 2>&1 || { cat run.log; fail "web-filter $* failed"; }
}
verdicts() { # -> "id<TAB>reason" or "id<TAB>kept<TAB>sha256", sorted
  { zstdcat "$T"/w/web-filter/part-*.jsonl.zst |
      python3 -c 'import hashlib, json, sys
for l in sys.stdin:
    d = json.loads(l)
    print(d["id"] + "\tkept\t" + hashlib.sha256(d["text"].encode()).hexdigest())'
    zstdcat "$T"/w/web-filter/rejected/part-*.jsonl.zst | jq -r '[.id, .metadata.drop_reason] | @tsv'
  } | sort
}

# 1. defaults: every verdict as the reference's, every crafted page as expected
wf
verdicts >got.tsv
python3 "$ROOT/tests/web/web_filter_ref.py" <pages.jsonl | sort >ref.tsv
check "435 pages judged" test "$(wc -l <got.tsv)" = "$(wc -l <pages.jsonl)"
diff ref.tsv got.tsv >diff.txt || { head -20 diff.txt; fail "verdicts differ from the reference"; }
while IFS=$'\t' read -r id want reason; do
  got=$(awk -F'\t' -v id="$id" '$1 == id {print $2}' got.tsv)
  if [ "$want" = trip ]; then
    [ "$got" = "$reason" ] || fail "$id: should trip $reason, got $got"
  else
    [ "$got" != "$reason" ] || fail "$id: should not trip $reason"
  fi
done <expect.tsv
check "many rules met on real pages" test "$(awk -F'\t' 'NR > 40 {print $2}' got.tsv | sort -u | wc -l)" -ge 8
S="$T/w/web-filter/stats.json"
check "javascript and policy lines removed" test \
  "$(jq '.counters.c4_lines_javascript' "$S") $(jq '.counters.c4_lines_policy' "$S")" = "1 1"
check "the page without them is the base page" test \
  "$(awk -F'\t' '$1 == "js-policy" {print $3}' got.tsv)" = "$(awk -F'\t' '$1 == "base" {print $3}' got.tsv)"
check "other sources pass" test "$(jq .counters.other_source "$S")" = 1
check "code in fences is not judged (curly bracket)" grep -q '^curly-in-code	kept' got.tsv

# 2. C4's own terminal-punctuation rule on
wf web-filter.c4_terminal_punct=true
verdicts >got2.tsv
python3 "$ROOT/tests/web/web_filter_ref.py" c4_terminal_punct=true <pages.jsonl | sort >ref2.tsv
diff ref2.tsv got2.tsv >diff2.txt || { head -20 diff2.txt; fail "terminal punctuation: verdicts differ"; }
check "lines without terminal punctuation counted" test "$(jq '.counters.c4_lines_no_terminal_punct' "$T/w/web-filter/stats.json")" -gt 0

# 3. families off: their pages pass those rules
wf web-filter.gopher_quality=false web-filter.gopher_repetition=false web-filter.c4=false web-filter.fineweb=false
check "every family off: every page kept" test "$(zstdcat "$T"/w/web-filter/part-*.jsonl.zst | wc -l)" = "$(wc -l <pages.jsonl)"
wf web-filter.gopher_quality=false
check "gopher_quality off: short-49 is not dropped as short" \
  test "$(verdicts | awk -F'\t' '$1 == "short-49" {print $2}')" != gopher_short_doc
if "$CURATE" web-filter stages=[import,web-filter] workdir="$T/w" --force "web-filter.top_ngram_fracs=[0.2]" >bad.log 2>&1; then
  fail "a wrong number of n-gram fractions was accepted"
fi
contains bad.log "top_ngram_fracs"

# 4. the defaults are the cited ones
"$CURATE" config show workdir=x | sed -n '/^web-filter:/,/^[a-z]/p' >defaults.yaml
for kv in "min_doc_words: 50" "max_doc_words: 100000" "max_symbol_word_ratio: 0.1" \
  "max_non_alpha_words_ratio: 0.8" "dup_line_frac: 0.3" "dup_para_char_frac: 0.2" \
  "line_punct_thr: 0.12" "short_line_thr: 0.67" "char_duplicates_ratio: 0.01" "new_line_ratio: 0.3"; do
  contains defaults.yaml "$kv"
done

# 5. ranks
wf
sha1=$(cat "$T"/w/web-filter/part-*.jsonl.zst | sha256sum)
mpiexec -n 2 "$CURATE" web-filter stages=[import,web-filter] workdir="$T/w" keep_rejected=true --force >/dev/null 2>&1 ||
  fail "2 ranks failed"
check "same shards on 2 ranks" test "$(cat "$T"/w/web-filter/part-*.jsonl.zst | sha256sum)" = "$sha1"
echo "web-filter ok: $(wc -l <got.tsv) pages as the reference"

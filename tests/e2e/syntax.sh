# syntax: the valid and broken snippet of every grammar, plus documents without a grammar,
# through import -> syntax under 1, 2 and 3 ranks: identical shards and counts, the broken
# ones dropped with their first error's place, per-language stats, the error-ratio policy,
# the size and time limits, and `curate syntax-check` output.
source "$(dirname "$0")/lib.sh"
D="$ROOT/tests/data/syntax"
in="$T/in.jsonl"
: >"$in"
for f in "$D"/ok/* "$D"/bad/*; do
  kind=$(basename "$(dirname "$f")") lang=$(basename "$f")
  jq -cRs --arg id "snippet/$kind/$lang" --arg l "$lang" \
    '{id: $id, text: ., metadata: {lang: $l}}' "$f" >>"$in"
done
# language from metadata.path, from the id, none known, a skipped source
jq -cn '{id: "p1", text: "def f(:\n", metadata: {path: "src/a.py"}}' >>"$in"
jq -cn '{id: "gh:o/r:lib/b.rs", text: "fn main() {}\n"}' >>"$in"
jq -cn '{id: "x.pl", text: "my $x = ;", metadata: {lang: "perl"}}' >>"$in"
jq -cn '{id: "w1", source: "web", text: "<p>x</p", metadata: {path: "a.html"}}' >>"$in"
nlang=$(ls "$D/ok" | wc -l)
total=$((2 * nlang + 4))
# Markdown has no syntax errors: its grammars accept every input, broken snippet included
always_ok="markdown markdown_inline"
nbad=$((nlang - 2))

common=(stages=[import,syntax] import.paths=["$in"] import.shards=5 keep_rejected=true)
strip='del(.wall_seconds,.task_seconds,.ranks) | .counters |= with_entries(select(.key | endswith(".parse_us") | not))'
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/n$n" "${common[@]}" 2>"$T/n$n.log" ||
    { cat "$T/n$n.log"; fail "run under -n $n failed"; }
  digest "$T/n$n/syntax" >"$T/n$n.sha"
  jq -S "$strip" "$T/n$n/syntax/stats.json" >"$T/n$n.stats"
done
for n in 2 3; do
  cmp "$T/n1.sha" "$T/n$n.sha" || fail "syntax shards differ between 1 and $n ranks"
  cmp "$T/n1.stats" "$T/n$n.stats" || fail "syntax stats differ between 1 and $n ranks"
done
S="$T/n1/syntax/stats.json"
check "all $total documents read" test "$(jq .docs_in "$S")" = $total
# every broken snippet and the bad path-typed one dropped; the rest kept
check "broken snippets dropped" test "$(jq .drops.syntax_error.docs "$S")" = $((nbad + 1))
check "kept: valid snippets + markdown + rust + perl + web" test "$(jq .docs_out "$S")" = $((total - nbad - 1))
for lang in $(ls "$D/ok"); do
  want="checked:2 passed:1 dropped:1"
  [[ " $always_ok " == *" $lang "* ]] && want="checked:2 passed:2"
  [ $lang = python ] && want="checked:3 passed:1 dropped:2" # + src/a.py
  [ $lang = rust ] && want="checked:3 passed:2 dropped:1"   # + lib/b.rs
  for c in $want; do
    v=$(jq --arg k "syntax.$lang.${c%:*}" '.counters[$k]' "$S")
    [ "$v" = "${c#*:}" ] || fail "$lang: counter ${c%:*} is $v, expected ${c#*:}"
  done
  jq -e --arg k "syntax.$lang.bytes" '.counters[$k] > 0' "$S" >/dev/null || fail "$lang: no bytes"
done
check "perl and web unchecked" test "$(jq '.counters["syntax.unchecked"]' "$S")" = 2
zstdcat "$T"/n1/syntax/part-*.jsonl.zst >"$T/kept.jsonl"
zstdcat "$T"/n1/syntax/rejected/part-*.jsonl.zst >"$T/rejected.jsonl"
check "kept checked docs are syntax_ok" test "$(jq -s '[.[] | select(.metadata.syntax_checked) |
  select(.metadata.syntax_ok != true)] | length' "$T/kept.jsonl")" = 0
check "perl marked unchecked" test "$(jq -s '[.[] | select(.id == "x.pl") |
  .metadata.syntax_checked] == [false]' "$T/kept.jsonl")" = true
check "rejected say where" test "$(jq -s '[.[] | select(.metadata.drop_reason == "syntax_error")
  | select(.metadata.syntax_first_error | test("^[0-9]+:[0-9]+$"))] | length' \
  "$T/rejected.jsonl")" = $((nbad + 1))
ferr=$(jq -r 'select(.id == "snippet/bad/c") | .metadata.syntax_first_error' "$T/rejected.jsonl")
check "C first error at 3:2 ($ferr)" test "$ferr" = "3:2"

# a tolerant ratio keeps files with few error bytes, marked syntax_ok=false
"$CURATE" run workdir="$T/n1" "${common[@]}" syntax.max_error_ratio=0.5 2>"$T/ratio.log"
S2="$T/n1/syntax/stats.json"
kept_ratio=$(jq .docs_out "$S2")
check "ratio 0.5 keeps more ($kept_ratio)" test "$kept_ratio" -gt $((total - nbad - 1))
zstdcat "$T"/n1/syntax/part-*.jsonl.zst | jq -s -e '[.[] | select(.metadata.syntax_ok == false)
  | select(.metadata.syntax_errors > 0)] | length > 0' >/dev/null || fail "no kept doc with errors"

# size and time limits: a 30 MB one-line JSON document
big="$T/big.jsonl"
head -c 30000000 /dev/zero | tr '\0' '[' | jq -cRs '{id: "big.json", text: .}' >"$big"
cat "$in" >>"$big"
lim=(stages=[import,syntax] import.paths=["$big"] import.shards=2 import.max_file_size=1GiB)
start=$SECONDS
"$CURATE" run workdir="$T/lim" "${lim[@]}" syntax.timeout_ms=300 syntax.max_bytes=64MiB 2>"$T/lim.log"
check "30 MB line timed out" test "$(jq .drops.timeout.docs "$T/lim/syntax/stats.json")" = 1
"$CURATE" syntax workdir="$T/lim" "${lim[@]}" syntax.max_bytes=1MiB 2>"$T/lim2.log"
check "30 MB file too large" test "$(jq .drops.too_large.docs "$T/lim/syntax/stats.json")" = 1
check "limits end quickly" test $((SECONDS - start)) -lt 60

# curate syntax-check: ok, or the first error's place
cd "$D"
rc=0; "$CURATE" syntax-check --lang c ok/c bad/c >"$T/sc.out" 2>&1 || rc=$?
check "exit 1 on a broken file" test $rc = 1
cat >"$T/sc.want" <<'EOF'
ok/c: ok (c)
bad/c:3:2: syntax error (c; 1 errors, 0 missing, 24 error bytes)
EOF
diff "$T/sc.want" "$T/sc.out" || fail "syntax-check output"
cp ok/python "$T/x.py"
"$CURATE" syntax-check "$T/x.py" | grep -qx "$T/x.py: ok (python)" || fail "language by extension"
"$CURATE" syntax-check "$T/sc.want" | grep -q "unchecked" || fail "no grammar: unchecked"
rc=0; "$CURATE" syntax-check --lang klingon ok/c 2>"$T/err" || rc=$?
check "unknown --lang is a usage error" test $rc = 2
contains "$T/err" "no grammar for 'klingon'"
check "--list names every grammar" test "$("$CURATE" syntax-check --list | wc -l)" = "$nlang"
# the grammar build refuses a cached tarball that does not match the manifest's integrity
mkdir -p "$T/cache/curate/grammars"
echo "not the tarball" >"$T/cache/curate/grammars/tree-sitter-c-0.23.6.tgz"
rc=0; (cd "$ROOT" && XDG_CACHE_HOME="$T/cache" bash grammars/build.sh "$T/gbuild") 2>"$T/gb.err" || rc=$?
check "grammar build fails on a bad tarball" test $rc != 0
contains "$T/gb.err" "tree-sitter-c-0.23.6.tgz: integrity mismatch: manifest pins sha512-"
check "no library from a bad tarball" test ! -e "$T/gbuild/libcurate-grammars.a"
echo "syntax: $total documents, identical for 1, 2, 3 ranks; $nlang grammars tell valid from broken"

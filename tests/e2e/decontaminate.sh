# decontaminate: evaluation items planted in real source files (verbatim, re-indented and
# re-spaced, inside a 100 KB file, upper-cased in a C header) are all caught with their
# benchmark and item; a function cut from a real stdlib file catches that file; near-misses
# sharing only 9 consecutive words are kept; output is identical for 1, 2 and 3 ranks; a
# malformed evaluation line fails the stage naming FILE:LINE.
source "$(dirname "$0")/lib.sh"
PY=/usr/lib/python3.11
[ -d "$PY/json" ] || PY=$(ls -d /usr/lib/python3.* | head -1)
mkdir -p "$T/in/real" "$T/in/planted" "$T/eval"

# HumanEval-style items (written for this test) with prompt, canonical_solution and test
cat >"$T/eval/he.jsonl" <<'EOF'
{"task_id": "HumanEval/0", "prompt": "def below_threshold_count(values, limit):\n    \"\"\"Count how many numbers in the list values are strictly below limit.\n    >>> below_threshold_count([1, 5, 2, 8], 4)\n    2\n    \"\"\"\n", "canonical_solution": "    total = 0\n    for v in values:\n        if v < limit:\n            total += 1\n    return total\n", "test": "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    assert candidate([1, 5, 2, 8], 4) == 2\n    assert candidate([], 10) == 0\n    assert candidate([3, 3, 3], 3) == 0\n"}
{"task_id": "HumanEval/1", "prompt": "def rotate_words(sentence, k):\n    \"\"\"Rotate the words of sentence left by k places and join them with single spaces.\n    >>> rotate_words('a b c', 1)\n    'b c a'\n    \"\"\"\n", "canonical_solution": "    words = sentence.split()\n    if not words:\n        return ''\n    k %= len(words)\n    return ' '.join(words[k:] + words[:k])\n", "test": "def check(candidate):\n    assert candidate('a b c', 1) == 'b c a'\n    assert candidate('one two three four', 6) == 'three four one two'\n    assert candidate('', 3) == ''\n"}

{"task_id": "HumanEval/2", "prompt": "def nested_depth(s):\n    \"\"\"Return the deepest nesting of round brackets in s.\"\"\"\n", "canonical_solution": "    depth = best = 0\n    for c in s:\n        depth += (c == '(') - (c == ')')\n        best = max(best, depth)\n    return best\n", "test": "def check(candidate):\n    assert candidate('(()(()))') == 3\n    assert candidate('no brackets at all here') == 0\n    assert candidate('()()()') == 1\n"}
EOF
gzip -k "$T/eval/he.jsonl"   # read as HumanEval is distributed
# MBPP-style: integer task_id, text/code/test_list
cat >"$T/eval/mbpp.jsonl" <<'EOF'
{"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.", "code": "def remove_Occ(s,ch):\n    s = s.replace(ch, '', 1)\n    return s[::-1].replace(ch, '', 1)[::-1]", "test_list": ["assert remove_Occ(\"hello\",\"l\") == \"heo\"", "assert remove_Occ(\"abcda\",\"a\") == \"bcd\""]}
EOF
# a function cut from a real file, as a plain text item
sed -n '/^def dedent/,/^def /p' "$PY/textwrap.py" | sed '$d' >"$T/eval/dedent.txt"
item() { jq -r --arg id "$1" "select(.task_id == \$id) | $2" "$T/eval/he.jsonl"; }
# plants text (stdin) in the middle of a real file
plant() { local n; n=$(($(wc -l <"$1") / 2)); { head -n "$n" "$1"; cat; tail -n +"$((n + 1))" "$1"; } >"$2"; }

cp "$PY"/json/*.py "$PY/textwrap.py" "$T/in/real/"
item HumanEval/0 '.prompt + .canonical_solution' | plant "$PY/json/decoder.py" "$T/in/planted/verbatim.py"
# re-indented with tabs, trailing blanks, every line doubled-spaced, docstring re-wrapped
item HumanEval/1 '.prompt + .canonical_solution' | sed 's/    /\t/g; s/$/   /' | fmt -w 24 |
  awk '{ print; print "" }' | plant "$PY/json/encoder.py" "$T/in/planted/reformatted.py"
item HumanEval/2 '.test' | plant "$PY/argparse.py" "$T/in/planted/large.py"
jq -r .text "$T/eval/mbpp.jsonl" | tr a-z A-Z | sed 's|^|/* |; s|$| */|' | plant /usr/include/stdio.h "$T/in/planted/stdio.h"
# near-misses: runs of 9 words of every item, each run cut off by a word of our own
for id in HumanEval/0 HumanEval/1 HumanEval/2; do
  item "$id" '.prompt + .canonical_solution + .test' | tr -cs 'A-Za-z0-9' ' ' |
    awk '{ for (i = 1; i <= NF; i++) { printf "%s ", $i; if (i % 9 == 0) printf "\n# xyzzy "; } print "" }'
done | plant "$PY/json/tool.py" "$T/in/planted/nearmiss.py"

common=(keep_rejected_text=true stages=[import,decontaminate] import.paths=["$T/in"] import.shards=3
        "decontaminate.evalsets=[he=$T/eval/he.jsonl.gz, 'mbpp=$T/eval/mbpp.jsonl:text,code,test_list', std=$T/eval/dedent.txt]")
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/n$n" "${common[@]}" 2>"$T/n$n.log" ||
    { cat "$T/n$n.log"; fail "run on $n ranks"; }
  digest "$T/n$n/decontaminate" >"$T/n$n.sha"
done
cmp "$T/n1.sha" "$T/n2.sha" || fail "output differs between 1 and 2 ranks"
cmp "$T/n1.sha" "$T/n3.sha" || fail "output differs between 1 and 3 ranks"
contains "$T/n1.log" "5 items in 3 benchmarks"

d="$T/n2/decontaminate"
zstdcat "$d"/rejected/part-*.jsonl.zst |
  jq -r '[(.id | sub(".*/in/"; "")), .metadata.contamination.benchmark, .metadata.contamination.item, .metadata.drop_reason] | @tsv' |
  sort >"$T/rejected.tsv"
printf '%s\t%s\t%s\t%s\n' \
  planted/large.py he HumanEval/2 contaminated:he \
  planted/reformatted.py he HumanEval/1 contaminated:he \
  planted/stdio.h mbpp 11 contaminated:mbpp \
  planted/verbatim.py he HumanEval/0 contaminated:he \
  real/textwrap.py std "$T/eval/dedent.txt" contaminated:std >"$T/expected.tsv"
diff "$T/expected.tsv" "$T/rejected.tsv" || fail "rejected documents or their reports differ"
zstdcat "$d"/part-*.jsonl.zst | jq -r '.id | sub(".*/in/"; "")' | sort >"$T/kept"
check "near-miss and untouched real files kept" test "$(cat "$T/kept" | tr '\n' ' ')" = \
  "planted/nearmiss.py real/__init__.py real/decoder.py real/encoder.py real/scanner.py real/tool.py "
# the recorded n-gram is really in the document (normalized) and the offset points at it
zstdcat "$d"/rejected/part-*.jsonl.zst | jq -r 'select(.id | endswith("verbatim.py")) |
  (.text[.metadata.contamination.offset:] | ascii_downcase | [scan("[a-z0-9]+")][0:10] | join(" ")) == .metadata.contamination.ngram' |
  grep -qx true || fail "ngram/offset of the verbatim hit do not match the text"
jq -e '.drops["contaminated:he"].docs == 3 and .drops["contaminated:mbpp"].docs == 1 and .drops["contaminated:std"].docs == 1 and .docs_out == 6' \
  "$d/stats.json" >/dev/null || fail "per-benchmark drop counts in stats.json"

# the near-misses are exactly at the edge: with 9-grams they are caught
"$CURATE" decontaminate workdir="$T/n1" "${common[@]}" decontaminate.n=9 2>"$T/n9.log"
zstdcat "$T"/n1/decontaminate/rejected/part-*.jsonl.zst | jq -r .id | grep -q 'planted/nearmiss.py$' ||
  fail "nearmiss.py is not caught with n = 9, so it does not test the 10-gram edge"

# a threshold above what any document shares keeps everything
"$CURATE" decontaminate workdir="$T/n1" "${common[@]}" decontaminate.threshold=1000 2>"$T/thr.log"
jq -e '.docs_out == 11' "$T/n1/decontaminate/stats.json" >/dev/null || fail "threshold 1000 dropped documents"

# a malformed evaluation line is fatal and named by file and line
{ head -2 "$T/eval/he.jsonl"; echo '{"task_id": "broken", "prompt": '; } >"$T/eval/bad.jsonl"
if mpiexec -n 2 "$CURATE" decontaminate workdir="$T/n1" "${common[@]}" "decontaminate.evalsets=[he=$T/eval/bad.jsonl]" 2>"$T/bad.log"; then
  fail "a malformed evaluation set did not fail the stage"
fi
contains "$T/bad.log" "$T/eval/bad.jsonl:3: invalid JSON"
check "no manifest after a failed setup" test ! -e "$T/n1/decontaminate/manifest.json"
if "$CURATE" decontaminate workdir="$T/n1" "${common[@]}" "decontaminate.evalsets=[]" 2>"$T/none.log"; then
  fail "no evaluation sets did not fail"
fi
contains "$T/none.log" "decontaminate.evalsets: empty, and stage decontaminate needs at least one"
echo "decontaminate: 5 planted/real leaks caught, near-misses kept, identical for 1, 2, 3 ranks"

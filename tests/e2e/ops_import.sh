# import under operational faults (issue 26, findings 1, 4, 8 and 9's named pipe): a file the
# plan listed that cannot be read (EIO, ENOENT, EACCES, injected by tests/fault/eio.c) fails
# its shard, naming the file, and a rerun reads it to the bytes of a clean run, while what is
# wrong with a file's content stays a drop; JSONL with invalid UTF-8 or lone surrogate escapes
# is repaired and counted under invalid_utf8=repair and dropped as invalid_utf8 under drop;
# bytes_out counts the bytes written; a truncated .jsonl.gz's summary agrees with its counts;
# a named pipe is refused or skipped, never opened. All faults are injected, none timed.
source "$(dirname "$0")/lib.sh"

cc -shared -fPIC -o "$T/eio.so" "$ROOT/tests/fault/eio.c" -ldl
# an ASan build wants its runtime first in the library list
asan=$({ ldd "$CURATE" 2>/dev/null || true; } | awk '/libasan|libubsan/ {printf "%s ", $3}')
# faulty MATCH ERRNO AFTER CMD...: CMD with opens of paths containing MATCH failing with
# ERRNO, or with AFTER bytes: their reads failing after that many bytes
faulty() {
  local match=$1 err=$2 after=$3; shift 3
  LD_PRELOAD="$asan$T/eio.so" CURATE_FAULT_EIO="$match" CURATE_FAULT_ERRNO="$err" \
    CURATE_FAULT_AFTER="$after" "$@"
}
# summary_agrees LOG STATS: the log's "N dropped" is docs_in - docs_out and the sum of drops
summary_agrees() {
  local in out sum
  in=$(jq .docs_in "$2") out=$(jq .docs_out "$2") sum=$(jq '[.drops[].docs] | add // 0' "$2")
  [ $((in - out)) -eq "$sum" ] && grep -qF "$in docs in, $out out, $sum dropped;" "$1"
}

# ---- 1: read errors fail the shard; content problems are drops ----
mkdir -p "$T/src/a" "$T/src/b"
for i in 1 2 3; do
  echo "int a$i;" >"$T/src/a/f$i.c"
  echo "int b$i;" >"$T/src/b/g$i.c"
done
echo 'int victim;' >"$T/src/b/victim.c"
printf 'bin\0ary\n' >"$T/src/a/blob.bin"
head -c 3000 /dev/zero | tr '\0' x >"$T/src/a/big.txt"
args=(import.paths="[$T/src]" import.shards=2 import.max_file_size=2KiB)

"$CURATE" import workdir="$T/clean" "${args[@]}" 2>"$T/clean.log"
s="$T/clean/import/stats.json"
check "binary content is a drop" test "$(jq .drops.binary.docs "$s")" = 1
check "a too large file is a drop" test "$(jq .drops.too_large.docs "$s")" = 1
check "nothing unreadable in a clean run" test "$(jq '.drops.unreadable.docs // 0' "$s")" = 0
check "clean run keeps the 7 source files" test "$(jq .docs_out "$s")" = 7

for err in EIO:Input/output ENOENT:'No such file' EACCES:'Permission denied'; do
  name=${err%%:*} text=${err#*:} w="$T/w-$name"
  rc=0
  faulty src/b/victim.c "$name" "" "$CURATE" import workdir="$w" "${args[@]}" \
    2>"$T/$name.log" || rc=$?
  check "$name: import exits non-zero" test "$rc" -ne 0
  contains "$T/$name.log" "$T/src/b/victim.c: cannot open: $text"
  grep -q 'dropped unreadable' "$T/$name.log" && fail "$name: the file was dropped, not failed"
  "$CURATE" status workdir="$w" "${args[@]}" >"$T/$name.status" 2>&1 || true
  grep -qE '^import +done' "$T/$name.status" && fail "$name: status says done, a shard failed"
  "$CURATE" import workdir="$w" "${args[@]}" 2>"$T/$name.rerun.log"
  grep -q 'up to date' "$T/$name.rerun.log" && fail "$name: the rerun skipped the failed stage"
  contains "$T/$name.rerun.log" "resuming: 1 of 2 shards already finished"
  check "$name: rerun gives the bytes of a clean run" \
    test "$(digest "$w/import")" = "$(digest "$T/clean/import")"
done

# an I/O error in the middle of a tree file fails the shard the same way
rc=0
faulty src/b/victim.c EIO 3 "$CURATE" import workdir="$T/w-mid" "${args[@]}" 2>"$T/mid.log" ||
  rc=$?
check "EIO mid-file: import exits non-zero" test "$rc" -ne 0
contains "$T/mid.log" "$T/src/b/victim.c: read error: Input/output error"

# a listed JSONL file failing to open, or to read in the middle (after 100 of its 411 bytes),
# is an error too, not a dropped file nor a truncated one
for i in $(seq 1 20); do printf '{"text":"record %d"}\n' "$i"; done >"$T/ok.jsonl"
for after in "" 100; do
  w="$T/wj$after"
  rc=0
  faulty ok.jsonl EIO "$after" "$CURATE" import workdir="$w" import.paths="[$T/ok.jsonl]" \
    2>"$T/j$after.log" || rc=$?
  check "JSONL (fault after '$after' bytes): import exits non-zero" test "$rc" -ne 0
  contains "$T/j$after.log" "$T/ok.jsonl"
  contains "$T/j$after.log" "Input/output error"
  grep -q 'records before it are kept' "$T/j$after.log" && fail "JSONL: I/O error taken for damage"
  "$CURATE" import workdir="$w" import.paths="[$T/ok.jsonl]" 2>"$T/j$after.rerun.log"
  check "JSONL: the rerun reads all 20 records" test "$(jq .docs_out "$w/import/stats.json")" = 20
done
contains "$T/j.log" "$T/ok.jsonl: cannot open: Input/output error"
contains "$T/j100.log" "$T/ok.jsonl: line 6 (byte offset 100): read error: Input/output error"

# ---- 2: JSONL with invalid UTF-8 and lone surrogates ----
python3 - "$T/latin1.jsonl" "$T/surrogates.jsonl" <<'EOF'
import json, sys
with open(sys.argv[1], 'wb') as f:
    for i in range(100):
        f.write(('{"id":"l%d","text":"%s %d"}\n' % (i, 'café', i)).encode('latin-1'))
with open(sys.argv[2], 'w') as f:
    f.write(json.dumps({'id': 's1', 'text': 'a\ud800b'}) + '\n')      # lone high surrogate
    f.write(json.dumps({'id': 's2', 'text': 'x\udc00 y\udbff'}) + '\n')  # lone low, high at end
    f.write(json.dumps({'id': 's3', 'text': '\U0001f600 pair'}) + '\n')  # a pair stays
    f.write('{"id":"s4","text":"not one: \\\\ud800"}\n')                # an escaped backslash
EOF
grep -qF '"a\ud800b"' "$T/surrogates.jsonl" || fail "python did not write a lone surrogate escape"

"$CURATE" import workdir="$T/u" import.paths="[$T/latin1.jsonl,$T/surrogates.jsonl]" \
  import.shards=1 2>"$T/u.log"
s="$T/u/import/stats.json"
check "repair: all 104 records kept" test "$(jq .docs_out "$s")" = 104
check "repair: nothing dropped" test "$(jq '.drops | length' "$s")" = 0
check "repair: 100 + 1 + 2 repairs counted" test "$(jq .counters.utf8_repaired "$s")" = 103
zstdcat "$T/u/import/part-00000.jsonl.zst" >"$T/u.jsonl"
text() { jq -r --arg id "$1" 'select(.id == $id) | .text' "$T/u.jsonl"; }
meta() { jq -r --arg id "$1" 'select(.id == $id) | .metadata.invalid_utf8' "$T/u.jsonl"; }
check "Latin-1 byte became U+FFFD" test "$(text l7)" = $'caf\uFFFD 7'
check "Latin-1 repair in metadata" test "$(meta l7)" = 1
check "lone high surrogate became U+FFFD" test "$(text s1)" = $'a\uFFFDb'
check "lone low and trailing high surrogates" test "$(text s2)" = $'x\uFFFD y\uFFFD'
check "two repairs in metadata" test "$(meta s2)" = 2
check "a surrogate pair is decoded, not repaired" test "$(text s3)" = $'\U0001F600 pair'
check "no repair without one" test "$(meta s3)" = null
check "an escaped backslash is no escape" test "$(text s4)" = 'not one: \ud800'

"$CURATE" import workdir="$T/ud" import.paths="[$T/latin1.jsonl,$T/surrogates.jsonl]" \
  import.shards=1 import.invalid_utf8=drop 2>"$T/ud.log"
s="$T/ud/import/stats.json"
check "drop: the 102 invalid records dropped as invalid_utf8" \
  test "$(jq .drops.invalid_utf8.docs "$s")" = 102
check "drop: not as bad_json" test "$(jq '.drops.bad_json.docs // 0' "$s")" = 0
check "drop: the two valid ones kept" test "$(jq .docs_out "$s")" = 2

# ---- 3: bytes_out after repair; a truncated .jsonl.gz's summary agrees with its counts ----
mkdir -p "$T/lat"
printf 'caf\xe9\n' >"$T/lat/one.txt"    # 5 bytes, 7 once repaired
printf 'plain\n' >"$T/lat/two.txt"
"$CURATE" import workdir="$T/b" import.paths="[$T/lat]" import.shards=1 2>"$T/b.log"
s="$T/b/import/stats.json"
written=$(zstdcat "$T/b/import/part-00000.jsonl.zst" | jq -s '[.[].text | utf8bytelength] | add')
check "bytes_out ($(jq .bytes_out "$s")) is the bytes written ($written)" \
  test "$(jq .bytes_out "$s")" = "$written"
check "bytes_in is the bytes read" test "$(jq .bytes_in "$s")" = 11
check "tree repair counted" test "$(jq .counters.utf8_repaired "$s")" = 1
check "summary agrees (tree)" summary_agrees "$T/b.log" "$s"

python3 -c "
import json, random
r = random.Random(1)
for i in range(100):
    print(json.dumps({'text': ''.join(r.choice('abcdefghij') for _ in range(50))}))
" | gzip -c | head -c 2000 >"$T/truncated.jsonl.gz"
"$CURATE" import workdir="$T/tr" import.paths="[$T/truncated.jsonl.gz]" 2>"$T/tr.log"
s="$T/tr/import/stats.json"
contains "$T/tr.log" "truncated gzip member"
check "a truncated file is a drop, not an error" test "$(jq .drops.read_error.docs "$s")" = 1
check "the records before the damage are kept" test "$(jq .docs_out "$s")" -gt 0
check "summary agrees with the counts (truncated gzip)" summary_agrees "$T/tr.log" "$s"

# ---- 4: named pipes are never opened ----
mkfifo "$T/pipe.jsonl"
rc=0
timeout 60 "$CURATE" import workdir="$T/f" import.paths="[$T/pipe.jsonl]" 2>"$T/f.log" || rc=$?
check "a named pipe in import.paths does not hang" test "$rc" -ne 124
check "a named pipe in import.paths is an error" test "$rc" -ne 0
contains "$T/f.log" "$T/pipe.jsonl is a named pipe"
mkdir -p "$T/withpipe"
echo 'int x;' >"$T/withpipe/x.c"
mkfifo "$T/withpipe/pipe.c"
rc=0
timeout 60 "$CURATE" import workdir="$T/fp" import.paths="[$T/withpipe]" 2>"$T/fp.log" || rc=$?
check "a named pipe in a tree does not hang" test "$rc" -ne 124
check "a named pipe in a tree is skipped" test "$rc" -eq 0
contains "$T/fp.log" "1 named pipes, sockets or devices under import.paths skipped"
check "the tree's file imported" test "$(jq .docs_out "$T/fp/import/stats.json")" = 1
echo "ops_import ok"

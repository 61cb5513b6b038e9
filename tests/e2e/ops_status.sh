# curate status tells what is on disk and what a run would redo (issue 26, finding 6): a done
# stage whose shard was deleted is not done, and the run redoes that shard alone; a global
# stage shows its own output count, stale or interrupted; a changed shard count is named as
# the option it is, not as changed inputs; a stage whose plan cannot be made (a missing file)
# still shows what it has; --verify compares checksums.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
w="$T/w"
has() { grep -Eq -- "$2" "$1" || { echo "--- $1:"; cat "$1"; fail "/$2/ not in $1"; }; }
common=(workdir="$w" stages=[import,reshard,tokenize] import.paths=[/usr/include/linux] import.shards=6
        reshard.shards=2 tokenize.tokenizer="$TOK_QWEN3" tokenize.shard_tokens=400000)
"$CURATE" run "${common[@]}" 2>"$T/run.log" || { cat "$T/run.log"; fail "run"; }
"$CURATE" status "${common[@]}" >"$T/st1" 2>&1
has "$T/st1" "^reshard +done +2/2 shards"
ntok=$(jq .shard_count "$w/tokenize/manifest.json")
has "$T/st1" "^tokenize +done +$ntok/$ntok shards"
digest "$w/import" >"$T/import.sha"
# a deleted shard: not done, named; the run redoes it alone and gets the same bytes
rm "$w/import/part-00003.jsonl.zst"
"$CURATE" status "${common[@]}" >"$T/st2" 2>&1
has "$T/st2" "^import +partial +5/6 shards +part-00003.jsonl.zst is missing \\(1 file\\): a run redoes those shards"
"$CURATE" run "${common[@]}" 2>"$T/rerun.log" || { cat "$T/rerun.log"; fail "rerun after a deleted shard"; }
contains "$T/rerun.log" "part-00003.jsonl.zst is missing (1 output file damaged or gone): rerunning what is missing"
contains "$T/rerun.log" "resuming: 5 of 6 shards already finished, skipped"
digest "$w/import" | cmp - "$T/import.sha" || fail "the redone shard differs"
contains "$T/rerun.log" "stage reshard: up to date"
# a global stage's token file gone: the stage reruns whole, and says so
rm "$w/tokenize/part-00000.idx"
"$CURATE" status "${common[@]}" >"$T/st3" 2>&1
contains "$T/st3" "part-00000.idx is missing (1 file): a run redoes the whole stage"
"$CURATE" run "${common[@]}" 2>/dev/null || fail "rerun after a deleted token file"
# stale: the global stage's own count, and the option that changed
"$CURATE" status "${common[@]}" tokenize.shard_tokens=300000 >"$T/st4" 2>&1
has "$T/st4" "^tokenize +stale +$ntok/$ntok shards +tokenize.shard_tokens changed \\(400000 -> 300000\\)"
"$CURATE" status "${common[@]}" import.shards=4 >"$T/st5" 2>&1
contains "$T/st5" "import.shards changed (6 -> 4)"
grep -q "its inputs changed" "$T/st5" && fail "import.shards reported as changed inputs"
# an interrupted global stage: no manifest, its part records left
rm "$w/reshard/manifest.json"
"$CURATE" status "${common[@]}" >"$T/st6" 2>&1
contains "$T/st6" "interrupted; a rerun keeps what its phases finished"
grep -q "reshard.*/6 shards" "$T/st6" && fail "a global stage counted against its inputs"
"$CURATE" run "${common[@]}" 2>/dev/null || fail "rerun after an interrupted reshard"
# a plan that cannot be made (the tokenizer is gone): what is on disk still shows
"$CURATE" status "${common[@]}" tokenize.tokenizer="$T/gone.json" >"$T/st7" 2>&1
has "$T/st7" "^tokenize +done\\?"
contains "$T/st7" "cannot check: $T/gone.json"
has "$T/st7" "^import +done "
# --verify: a shard of the right size with other bytes
python3 - "$w/import/part-00001.jsonl.zst" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0xff
open(sys.argv[1], "wb").write(bytes(b))
PY
"$CURATE" status "${common[@]}" >"$T/st8" 2>&1
has "$T/st8" "^import +done "
"$CURATE" status --verify "${common[@]}" >"$T/st9" 2>&1
has "$T/st9" "^import +partial .*part-00001.jsonl.zst has another SHA-256 than the manifest records"
# a run over that damaged shard: the rank that reads it names it; the others say another
# rank failed, never "unknown error"
! mpiexec -n 2 "$CURATE" run "${common[@]}" reshard.shards=3 2>"$T/dmg.log" || fail "a damaged input shard went unnoticed"
contains "$T/dmg.log" "part-00001.jsonl.zst"
grep -q "unknown error" "$T/dmg.log" && { cat "$T/dmg.log"; fail "a rank said 'unknown error'"; }
echo "ops_status: deleted shards, global counts, option names and unknown plans are told"

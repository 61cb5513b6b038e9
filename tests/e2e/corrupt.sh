# A corrupt or truncated shard is detected by its checksum, with an error naming the file;
# the stage that reads it fails that shard only and keeps the others; inspect reports it.
source "$(dirname "$0")/lib.sh"
cat >"$T/c.yaml" <<YAML
workdir: $T/w
stages: [import, filter]
import: {paths: [$ROOT/pipeline], shards: 3}
YAML
"$CURATE" import -c "$T/c.yaml" 2>/dev/null
"$CURATE" inspect "$T/w/import" >"$T/inspect.ok"
contains "$T/inspect.ok" "checksum ok"
shard="$T/w/import/part-00001.jsonl.zst"
size=$(stat -c %s "$shard")
# flip one byte in the middle: zstd's frame checksum or the manifest's SHA-256 catches it
printf '\xff' | dd of="$shard" bs=1 seek=$((size / 2)) conv=notrunc status=none
rc=0; "$CURATE" filter -c "$T/c.yaml" 2>"$T/err" || rc=$?
check "filter fails on the corrupt input" test $rc = 1
contains "$T/err" "part-00001.jsonl.zst"
check "the other shards finished" test -f "$T/w/filter/.parts/part-00000.json"
check "the other shards finished" test -f "$T/w/filter/.parts/part-00002.json"
check "no manifest for a failed stage" test ! -f "$T/w/filter/manifest.json"
rc=0; "$CURATE" inspect "$T/w/import" >/dev/null 2>"$T/err2" || rc=$?
check "inspect exits non-zero on a corrupt shard" test $rc = 1
contains "$T/err2" "part-00001.jsonl.zst"

# the same bytes with a valid zstd stream: only the manifest checksum can tell
"$CURATE" import -c "$T/c.yaml" --force 2>/dev/null
zstdcat "$shard" | sed 's/"source":"import"/"source":"imp0rt"/' | zstd -q -c >"$T/re.zst"
cp "$T/re.zst" "$shard"
"$CURATE" filter -c "$T/c.yaml" --force 2>"$T/err3" && fail "modified shard accepted"
contains "$T/err3" "checksum mismatch"
contains "$T/err3" "part-00001.jsonl.zst"

# truncated: the end of the zstd frame is missing
"$CURATE" import -c "$T/c.yaml" --force 2>/dev/null
head -c $((size / 3)) "$shard" >"$T/cut" && cp "$T/cut" "$shard"
"$CURATE" filter -c "$T/c.yaml" --force verify_inputs=false 2>"$T/err4" && fail "truncated shard accepted"
contains "$T/err4" "part-00001.jsonl.zst"
# after repairing the input (rerun import), the filter rerun completes
"$CURATE" import -c "$T/c.yaml" --force 2>/dev/null
"$CURATE" filter -c "$T/c.yaml" 2>"$T/log5"
check "filter completes after the input is repaired" test -f "$T/w/filter/manifest.json"

# a damaged upstream manifest is refused, naming the file and the place, never planned from
# (a "shards" that is not a list once gave the next stage nothing to do, and it succeeded)
m="$T/w/import/manifest.json"
cp "$m" "$T/m.good"
jq '.shards = {}' "$T/m.good" >"$m"
rc=0; "$CURATE" filter -c "$T/c.yaml" --force 2>"$T/err6" || rc=$?
check "filter fails on a manifest without a shard list" test $rc = 1
contains "$T/err6" "import/manifest.json: \"shards\" is missing or not an array"
"$CURATE" status -c "$T/c.yaml" >"$T/status6" 2>/dev/null
check "status does not call the stage done" grep -q '^import  *partial' "$T/status6"
jq '.shards[1].name = "../../escape.jsonl.zst"' "$T/m.good" >"$m"
"$CURATE" filter -c "$T/c.yaml" 2>"$T/err7" && fail "a shard outside the stage accepted"
contains "$T/err7" "import/manifest.json: shard 1: name \"../../escape.jsonl.zst\" is not a file name"
rc=0; "$CURATE" inspect "$T/w/import" >/dev/null 2>"$T/err8" || rc=$?
check "inspect exits non-zero on a bad manifest" test $rc = 1
contains "$T/err8" "import/manifest.json: shard 1"
# the stage that owns it reruns instead of trusting it, and the pipeline recovers
"$CURATE" import -c "$T/c.yaml" 2>"$T/log9"
contains "$T/log9" "stage import: rerunning, its manifest is unusable"
"$CURATE" filter -c "$T/c.yaml" 2>/dev/null
check "filter completes after the manifest is rebuilt" test -f "$T/w/filter/manifest.json"
echo "corruption detected and contained"

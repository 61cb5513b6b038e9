# dedup-exact and dedup-near on real code (/usr/include/linux) with planted duplicates:
# byte-identical shards and manifests for 1, 2 and 3 ranks with a 256 KiB memory budget
# (spilling), the same as with an unbounded budget; the keep rule; levels; metadata.sha256
# against sha256sum; cluster metadata and histogram; a bad record counted and skipped.
source "$(dirname "$0")/lib.sh"
src=/usr/include/linux
mkdir -p "$T/tree/ws" "$T/tree/edit"
# planted: whitespace-only copies (exact dup after normalization) and lightly edited copies
for f in $(ls "$src"/*.h | head -40); do sed 's/$/  /' "$f" >"$T/tree/ws/$(basename "$f")"; done
i=0
for f in $(ls "$src"/*.h | sed -n '41,100p'); do
  i=$((i + 1))
  awk -v s=$i 'BEGIN { srand(s) } { if (rand() < 0.02) print "int zz" int(rand() * 1e6) ";"; else print }' \
    "$f" >"$T/tree/edit/$(basename "$f")"
done
common=("stages=[import,dedup-exact,dedup-near]" "import.paths=[$src, $T/tree]" import.shards=5)
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/n$n" "${common[@]}" memory_budget=256KiB 2>"$T/n$n.log"
  { digest "$T/n$n/dedup-exact"; digest "$T/n$n/dedup-near"; } >"$T/n$n.sha"
  jq -c '[.docs_in, .docs_out, .drops, .counters]' "$T/n$n/dedup-exact/stats.json" \
    "$T/n$n/dedup-near/stats.json" >"$T/n$n.stats"
done
cmp "$T/n1.sha" "$T/n2.sha" || fail "dedup differs between 1 and 2 ranks"
cmp "$T/n1.sha" "$T/n3.sha" || fail "dedup differs between 1 and 3 ranks"
cmp "$T/n1.stats" "$T/n3.stats" || fail "dedup stats differ between 1 and 3 ranks"
contains "$T/n3.log" "stage dedup-near: 5 input shards on 3 ranks"
# each rank's time per phase, for finding the slow one (docs/dedup.md)
for stage in dedup-exact dedup-near; do
  check "$stage: phase times of 3 ranks" test "$(jq '[.phase_seconds[].wall | length] | unique' \
    "$T/n3/$stage/stats.json" | tr -d ' \n')" = "[3]"
done
check "dedup-near: its phases, in order" test "$(jq -r '.phase_seconds | keys_unsorted | join(" ")' \
  "$T/n3/dedup-near/stats.json")" = "read_minhash exchange_groups group_signatures exchange_bands \
bucket_pairs exchange_pairs join_signatures exchange_signatures check_pairs exchange_edges \
large_star exchange_large_star collect_members exchange_members decide_clusters exchange_decisions rewrite rewrite_commit"
# unbounded memory gives the same bytes
mpiexec -n 2 "$CURATE" run workdir="$T/big" "${common[@]}" memory_budget=4GiB 2>"$T/big.log"
{ digest "$T/big/dedup-exact"; digest "$T/big/dedup-near"; } >"$T/big.sha"
cmp "$T/n1.sha" "$T/big.sha" || fail "a 256 KiB budget changed the result"

ex="$T/n2/dedup-exact" nr="$T/n2/dedup-near"
check "shard layout kept" test "$(jq .shard_count "$ex/manifest.json")" = 5
check "shard layout kept" test "$(jq .shard_count "$nr/manifest.json")" = 5
# every whitespace copy and its original: one is dropped naming the other (the smaller id,
# $T/tree/... before /usr/..., is kept)
dups=$(jq '.drops.duplicate.docs' "$ex/stats.json")
check "40 whitespace copies dropped (got $dups)" test "$dups" -ge 40
pairs=$(zstdcat "$ex"/rejected/part-*.jsonl.zst | jq -r --arg ws "$T/tree/ws/" --arg src "$src/" \
  'select(.id | startswith($src)) | select(.metadata.duplicate_of == $ws + (.id | ltrimstr($src))) | .id' | wc -l)
check "40 originals name their whitespace copy (got $pairs)" test "$pairs" = 40
# metadata.sha256 (normalize=none) is sha256sum of the file
"$CURATE" dedup-exact workdir="$T/n2" "${common[@]}" dedup-exact.normalize=none 2>/dev/null
f=$(ls "$src"/*.h | sed -n 200p)
got=$(zstdcat "$ex"/part-*.jsonl.zst | jq -r --arg id "$f" 'select(.id == $id) | .metadata.sha256')
check "sha256 of $f matches sha256sum" test "$got" = "$(sha256sum <"$f" | cut -d' ' -f1)"
# near: the edited copies are found, kept one per cluster, with cluster metadata
near=$(jq '.drops.near_duplicate.docs' "$nr/stats.json")
# pairs (original, edited copy) that both survive dedup
left=$(zstdcat "$nr"/part-*.jsonl.zst | jq -r --arg e "$T/tree/edit/" --arg src "$src/" \
  '.id | select(startswith($e) or startswith($src)) | ltrimstr($e) | ltrimstr($src)' | sort | uniq -d | wc -l)
check "pairs of edited copy and original both kept: $left of 60" test "$left" -le 5
# each dropped document names its cluster by the kept document's id
zstdcat "$nr"/part-*.jsonl.zst | jq -r .id | sort >"$T/kept_ids"
zstdcat "$nr"/rejected/part-*.jsonl.zst | jq -r '.metadata.cluster_id' | sort -u >"$T/cluster_ids"
check "rejected near duplicates name kept documents" test -z "$(comm -13 "$T/kept_ids" "$T/cluster_ids")"
check "rejected have cluster_size >= 2" test "$(zstdcat "$nr"/rejected/part-*.jsonl.zst | jq -c 'select(.metadata.cluster_size < 2 or .metadata.drop_reason != "near_duplicate")' | wc -l)" = 0
check "histogram counted" test "$(jq '.counters.cluster_size_2' "$nr/stats.json")" -ge 35
check "every output doc has a cluster" test "$(zstdcat "$nr"/part-*.jsonl.zst | jq -c 'select(.metadata.cluster_size == null)' | wc -l)" = 0

# keep rule and levels on JSONL: most stars, then the smallest id; repo level apart
cat >"$T/k.jsonl" <<'J'
{"id":"b","text":"same text\n","metadata":{"stars":5}}
{"id":"a","text":"same text  \n","metadata":{"stars":5}}
{"id":"0","text":"same text","metadata":{"stars":2}}
{"id":"z","text":"same text","source":"repo"}
{"id":"y","text":"same text","source":"repo","metadata":{"stars":1}}
{"id":"x","text":"other text"}
J
"$CURATE" run workdir="$T/k" "stages=[import,dedup-exact]" "import.paths=[$T/k.jsonl]" import.shards=2 2>"$T/k.log"
kept=$(zstdcat "$T/k/dedup-exact"/part-*.jsonl.zst | jq -r .id | sort | tr '\n' ' ')
check "keep rule: kept $kept" test "$kept" = "a x y "
check "dropped name the kept one" test "$(zstdcat "$T/k/dedup-exact"/rejected/part-*.jsonl.zst | jq -r '"\(.id)>\(.metadata.duplicate_of)"' | sort | tr '\n' ' ')" = "0>a b>a z>y "
# one JSONL file is one shard: with more ranks than shards the idle ranks are named in a
# warning, and the result is the same
mpiexec -n 2 "$CURATE" dedup-exact workdir="$T/k" "stages=[import,dedup-exact]" --force 2>"$T/k2.log"
contains "$T/k2.log" "stage dedup-exact: 1 input shard on 2 ranks: 1 rank will have nothing"
kept=$(zstdcat "$T/k/dedup-exact"/part-*.jsonl.zst | jq -r .id | sort | tr '\n' ' ')
check "keep rule at 2 ranks on 1 shard: kept $kept" test "$kept" = "a x y "

# normalization: whitespace merges indentation changes, trailing does not, none keeps CRLF apart
printf '%s\n' '{"id":"p","text":"int  x;\n\tint y;"}' '{"id":"q","text":"int x; int y;"}' \
  '{"id":"r","text":"int x;\r\n"}' '{"id":"s","text":"int x;\n"}' >"$T/n.jsonl"
for m in none trailing whitespace; do
  "$CURATE" run workdir="$T/norm" "stages=[import,dedup-exact]" "import.paths=[$T/n.jsonl]" \
    dedup-exact.normalize=$m 2>/dev/null
  echo "$m $(zstdcat "$T/norm/dedup-exact"/part-*.jsonl.zst | jq -r .id | sort | tr -d '\n')"
done >"$T/norm.out"
check "normalize modes" test "$(cat "$T/norm.out" | tr '\n' ' ')" = "none pqrs trailing pqr whitespace pr "

# a bad record in an input shard is named, counted and skipped; the others stay
s="$T/k/import/part-00000.jsonl.zst"
{ zstdcat "$s"; echo '{"id": broken'; } | zstd -q -c >"$T/bad.zst" && cp "$T/bad.zst" "$s"
"$CURATE" dedup-exact workdir="$T/k" "stages=[import,dedup-exact]" verify_inputs=false --force 2>"$T/bad.log"
contains "$T/bad.log" "part-00000.jsonl.zst: record"
check "bad record counted" test "$(jq .drops.bad_record.docs "$T/k/dedup-exact/stats.json")" = 1
kept=$(zstdcat "$T/k/dedup-exact"/part-*.jsonl.zst | jq -r .id | sort | tr '\n' ' ')
check "others kept after a bad record: $kept" test "$kept" = "a x y "
echo "dedup identical for 1, 2, 3 ranks and any budget; $dups exact and $near near duplicates dropped"

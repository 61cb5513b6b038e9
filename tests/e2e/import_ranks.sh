# import of real trees (/usr/include, Python's standard library) gives byte-identical shards,
# manifest and stats counts under singleton, mpiexec -n 1, -n 2 and -n 3.
source "$(dirname "$0")/lib.sh"
paths="[/usr/include"
for p in /usr/lib/python3*/; do [ -d "$p" ] && paths="$paths, ${p%/}" && break; done
paths="$paths]"
common=(import.paths="$paths" import.shards=12 keep_rejected=true)

"$CURATE" import workdir="$T/single" "${common[@]}" 2>"$T/single.log"
digest "$T/single/import" >"$T/single.sha"
check "stage wrote 12 shards" test "$(jq .shard_count "$T/single/import/manifest.json")" = 12
records=$(jq .records "$T/single/import/manifest.json")
check "import read thousands of files ($records)" test "$records" -gt 1000
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" import workdir="$T/n$n" "${common[@]}" 2>"$T/n$n.log"
  digest "$T/n$n/import" >"$T/n$n.sha"
  check "shards under -n $n identical to singleton" cmp "$T/single.sha" "$T/n$n.sha"
  check "stats counts under -n $n identical" \
    test "$(jq -c 'del(.wall_seconds,.task_seconds,.ranks)' "$T/n$n/import/stats.json")" = \
         "$(jq -c 'del(.wall_seconds,.task_seconds,.ranks)' "$T/single/import/stats.json")"
done
contains "$T/n3.log" "on 3 ranks"
# every shard's checksum in the manifest is the file's
(cd "$T/n3/import" && jq -r '.shards[] | "\(.sha256)  \(.name)"' manifest.json | sha256sum -c --quiet) \
  || fail "manifest checksums do not match the shards"
# a record reads back as the file it came from
first=$(zstdcat "$T/n2/import/part-00000.jsonl.zst" | sed -n 1p)
id=$(jq -r .id <<<"$first")
jq -j .text <<<"$first" >"$T/first"
cmp "$T/first" "$id" || fail "text of $id differs from the file"
echo "import identical for singleton and 1, 2, 3 ranks: $records records"

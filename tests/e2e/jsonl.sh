# import of JSONL, JSONL.gz (two members) and JSONL.zst from other tools, with field names
# mapped; bad lines and a truncated file are counted and skipped and lose no other record.
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
# The Stack style: content + repo fields, no id
for i in $(seq 1 50); do
  printf '{"content":"def f%d():\\n    return %d\\n","max_stars_repo_name":"o/r%d","lang":"Python","size":%d}\n' $i $i $i $i
done >"$T/in/stack.jsonl"
{ head -20 "$T/in/stack.jsonl" | gzip -c; tail -30 "$T/in/stack.jsonl" | gzip -c; } >"$T/in/two-members.jsonl.gz"
# Dolma style with metadata, an id, an extra field, a bad line, an empty line, a line without text
{
  echo '{"id":"d1","text":"hello\u0000world","source":"dol\u0000ma","added":"2024-01-01","metadata":{"url":"http://x"}}'
  echo '{"id":"d2","text":"second", "source":"dolma"'
  echo
  echo '{"id":"d3","source":"dolma"}'
  echo '{"id":4,"text":"numeric id"}'
} | zstd -q -c >"$T/in/dolma.jsonl.zst"
# a truncated gzip: the records before the damage are kept
gzip -c "$T/in/stack.jsonl" | head -c 600 >"$T/in/truncated.jsonl.gz"

"$CURATE" import workdir="$T/w" import.paths="[$T/in]" import.format=jsonl \
  import.fields.text=content import.shards=2 2>"$T/log1" || true
# content is the text field for the Stack files; the Dolma file has none: all of its
# records lack 'content', so import it again with its own mapping below
m="$T/w/import/manifest.json"
check "manifest written" test -f "$m"
stack=$(zstdcat "$T"/w/import/part-*.jsonl.zst | jq -r 'select(.metadata.max_stars_repo_name) | .id' | wc -l)
check "50 records from the two-member gzip (+ the truncated file's first records)" test "$stack" -ge 50
check "metadata carries unmapped fields" \
  test "$(zstdcat "$T"/w/import/part-*.jsonl.zst | jq -r 'select(.id|endswith("two-members.jsonl.gz:1")) | .metadata.lang')" = Python
check "read_error counted for the truncated file" test "$(jq .drops.read_error.docs "$T/w/import/stats.json")" = 1
contains "$T/log1" "truncated.jsonl.gz"

"$CURATE" import workdir="$T/w2" import.paths="[$T/in/dolma.jsonl.zst]" import.shards=1 2>"$T/log2"
s="$T/w2/import/stats.json"
check "bad JSON counted" test "$(jq .drops.bad_json.docs "$s")" = 1
check "missing text counted" test "$(jq .drops.no_text.docs "$s")" = 1
check "two records kept" test "$(jq .docs_out "$s")" = 2
contains "$T/log2" "dolma.jsonl.zst:2: not a JSON object"
contains "$T/log2" "dolma.jsonl.zst:4: field 'text' is missing"
zstdcat "$T/w2/import/part-00000.jsonl.zst" >"$T/out.jsonl"
check "embedded NUL kept as \\u0000" grep -qF 'hello\u0000world' "$T/out.jsonl"
check "NUL in source kept, not cut there" grep -qF '"source":"dol\u0000ma"' "$T/out.jsonl"
check "Dolma extra fields kept" test "$(head -1 "$T/out.jsonl" | jq -r .metadata.added)" = 2024-01-01
check "metadata object merged" test "$(head -1 "$T/out.jsonl" | jq -r .metadata.url)" = http://x
check "numeric id kept as a string" test "$(sed -n 2p "$T/out.jsonl" | jq -r .id)" = 4
check "source default" test "$(sed -n 2p "$T/out.jsonl" | jq -r .source)" = import
echo "jsonl import ok"

# tokenize: documents become Megatron token shards that an independent reader (written from
# Megatron's format description, tests/parity/megatron_read.js) decodes back to the input
# texts, with FIM in SPM order at the configured rate and an EOD token; shards are
# byte-identical for 1, 2 and 3 ranks (in input order and shuffled); bad settings are named.
source "$(dirname "$0")/lib.sh"
command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing"; exit 77; }
source "$ROOT/tests/parity/env.sh"
common=(stages=[import,tokenize] import.paths=[/usr/include/linux] import.shards=3
        tokenize.tokenizer="$TOK_QWEN3" tokenize.shard_tokens=300000 memory_budget=256KiB)
tdigest() { (cd "$1" && sha256sum manifest.json part-*.bin part-*.idx); }
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/n$n" "${common[@]}" 2>"$T/n$n.log" || { cat "$T/n$n.log"; fail "run on $n ranks"; }
  tdigest "$T/n$n/tokenize" >"$T/n$n.sha"
done
cmp "$T/n1.sha" "$T/n2.sha" || fail "token shards differ between 1 and 2 ranks"
cmp "$T/n1.sha" "$T/n3.sha" || fail "token shards differ between 1 and 3 ranks"
m="$T/n1/tokenize/manifest.json"
shards=$(jq .shard_count "$m")
check "several shards" test "$shards" -ge 3
check "manifest lists .bin and .idx" test "$(jq '.files | length' "$m")" = $((2 * shards))
(cd "$T/n1/tokenize" && jq -r '.files[] | "\(.sha256)  \(.name)"' manifest.json | sha256sum -c --quiet) \
  || fail "manifest checksums"
zstdcat "$T"/n1/import/part-*.jsonl.zst | jq -c .text >"$T/texts"
node "$ROOT/tests/parity/megatron_read.js" "$T/n1/tokenize" "$TOK_QWEN3" "$T/texts" fim >"$T/read" \
  || fail "the Megatron reader did not get the documents back"
docs=$(wc -l <"$T/texts")
read -r _ ndocs _ ntok _ nfim <"$T/read"
check "every document" test "$ndocs" = "$docs"
# rate 0.5: the FIM share of $docs documents is well inside 0.4..0.6
check "FIM rate near 0.5 ($nfim of $docs)" test $((nfim * 10)) -gt $((docs * 4)) -a $((nfim * 10)) -lt $((docs * 6))
# tokens info agrees with the reader; decode prints a document back
total=0
for f in "$T"/n1/tokenize/part-*.idx; do
  t=$("$CURATE" tokens info "${f%.idx}" | awk '/^tokens/ {print $2}'); total=$((total + t))
done
check "tokens info sums to the reader's count" test "$total" = "$ntok"
"$CURATE" tokens info "$T/n1/tokenize/part-00000" >"$T/info"
contains "$T/info" "dtype int32"
"$CURATE" tokens decode "$T/n1/tokenize/part-00000" --doc 0 -t "$TOK_QWEN3" >"$T/doc0"
contains "$T/doc0" "<|endoftext|>"
# rate 0 and no EOD: plain documents in input order, nothing else
"$CURATE" tokenize workdir="$T/n1" "${common[@]}" tokenize.fim.rate=0 2>"$T/plain.log"
node "$ROOT/tests/parity/megatron_read.js" "$T/n1/tokenize" "$TOK_QWEN3" "$T/texts" plain >/dev/null \
  || fail "plain documents"
# shuffled: a permutation, the same for 1 and 3 ranks
for n in 1 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/s$n" "${common[@]}" tokenize.shuffle=true tokenize.seed=7 tokenize.fim.rate=0 2>"$T/s$n.log"
  tdigest "$T/s$n/tokenize" >"$T/s$n.sha"
done
cmp "$T/s1.sha" "$T/s3.sha" || fail "shuffled shards differ between 1 and 3 ranks"
node "$ROOT/tests/parity/megatron_read.js" "$T/s1/tokenize" "$TOK_QWEN3" "$T/texts" shuffled >/dev/null \
  || fail "shuffled documents"
# a rerun is up to date; a smaller shard size rewrites and leaves no stale shard
"$CURATE" run workdir="$T/n1" "${common[@]}" tokenize.fim.rate=0 2>"$T/rerun.log"
contains "$T/rerun.log" "stage tokenize: up to date"
"$CURATE" tokenize workdir="$T/n1" "${common[@]}" tokenize.shard_tokens=100000000 2>"$T/big.log"
check "one shard left" test "$(ls "$T"/n1/tokenize/part-*.bin | wc -l)" = 1
# a tokenizer without the FIM sentinels: the error names the token
! "$CURATE" run workdir="$T/l3" stages=[import,tokenize] import.paths=[/usr/include/linux/tc_act] \
  tokenize.tokenizer="$TOK_LLAMA3" 2>"$T/l3.log" || fail "missing sentinel accepted"
contains "$T/l3.log" "'<|endoftext|>' is not in the vocabulary"

# a bad record in an input shard is named, counted and skipped; the others are kept
b="$T/bad"
"$CURATE" import workdir="$b" import.paths=[/usr/include/linux/tc_act] import.shards=2 2>/dev/null
(cd "$b/import" && zstdcat part-00000.jsonl.zst >x && echo '{"id": broken' >>x &&
 zstd -q -f x -o part-00000.jsonl.zst && rm x &&
 jq --arg s "$(sha256sum part-00000.jsonl.zst | cut -c1-64)" --argjson n "$(stat -c %s part-00000.jsonl.zst)" \
   '.shards[0].sha256 = $s | .shards[0].bytes = $n' manifest.json >m && mv m manifest.json)
good=$(jq .records "$b/import/manifest.json")
"$CURATE" tokenize workdir="$b" stages=[import,tokenize] tokenize.tokenizer="$TOK_QWEN3" 2>"$T/bad.log" \
  || fail "a bad record failed the stage"
contains "$T/bad.log" "part-00000.jsonl.zst: record"
check "bad_record counted" test "$(jq .drops.bad_record.docs "$b/tokenize/stats.json")" = 1
check "good records kept" test "$(jq .counters.token_docs "$b/tokenize/stats.json")" = "$good"
# the tokenizer file is an input: the same path with other content reruns the stage
cp "$TOK_QWEN3" "$T/q.json"
"$CURATE" tokenize workdir="$b" stages=[import,tokenize] tokenize.tokenizer="$T/q.json" 2>/dev/null
"$CURATE" tokenize workdir="$b" stages=[import,tokenize] tokenize.tokenizer="$T/q.json" 2>"$T/same.log"
contains "$T/same.log" "stage tokenize: up to date"
echo >>"$T/q.json"
"$CURATE" tokenize workdir="$b" stages=[import,tokenize] tokenize.tokenizer="$T/q.json" 2>"$T/changed.log"
grep -q "up to date" "$T/changed.log" && fail "a changed tokenizer file did not rerun the stage"
echo "tokenize: $docs documents, $ntok tokens in $shards shards, $nfim FIM; identical for 1, 2, 3 ranks"

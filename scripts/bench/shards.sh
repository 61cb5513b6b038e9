# Benchmark of document shards: import, read, a map stage, memory for a huge record.
# Sourced by scripts/bench.sh (which defines C, W, R, best, rss_kib, mbs, ratio); prints
# its section of docs/benchmarks.md.
SRC=${BENCH_TREE:-/usr/include}

bytes=$(find "$SRC" -type f -size -10M -print0 | du -cb --files0-from=- | tail -1 | cut -f1)
files=$(find "$SRC" -type f | wc -l)

# 1. import (walk, read, JSON-encode, zstd -3, SHA-256, fsync) vs tar | zstd -3 of the same tree
imp() { rm -rf "$W/imp"; "$C" import workdir="$W/imp" import.paths="[$SRC]" import.shards=8 keep_rejected=false; }
ref_imp() { tar cf - "$SRC" 2>/dev/null | zstd -3 -T1 -q -c >"$W/ref.tar.zst"; }
t_imp=$(best imp); t_ref_imp=$(best ref_imp)

# 2. reading shards: parse every record (inspect --summary) vs zstdcat alone (the floor)
raw=$(jq .raw_bytes "$W/imp/import/manifest.json")
read_shards() { "$C" inspect --summary "$W/imp/import"; }
ref_read() { zstdcat "$W"/imp/import/part-*.jsonl.zst >/dev/null; }
ref_jq() { zstdcat "$W"/imp/import/part-*.jsonl.zst | jq -c .metadata >/dev/null; }
t_read=$(best read_shards); t_zcat=$(best ref_read); t_jq=$(best ref_jq)

# 3. a map stage (filter) over the shards vs zstdcat | zstd -3 (read + rewrite floor)
cat >"$W/f.yaml" <<YAML
workdir: $W/imp
stages: [import, filter]
import: {paths: [$SRC], shards: 8}
keep_rejected: false
filter: {min_chars: 64, max_line_length: 1000, min_alnum_fraction: 0.25}
YAML
filt() { "$C" filter -c "$W/f.yaml" --force; }
ref_filt() { zstdcat "$W"/imp/import/part-*.jsonl.zst | zstd -3 -T1 -q -c >"$W/ref.zst"; }
t_filt=$(best filt); t_ref_filt=$(best ref_filt)

# 4. the same import on 2 ranks
imp2() { rm -rf "$W/imp2"; mpiexec -n 2 "$C" import workdir="$W/imp2" import.paths="[$SRC]" import.shards=8 keep_rejected=false; }
t_imp2=$(best imp2)

# 5. memory: one shard with a 50 MB record, read back; RSS vs the record size
{ printf '{"id":"big","text":"'; head -c 50000000 /dev/zero | tr '\0' x; printf '"}\n'
  for i in $(seq 1000); do printf '{"id":"%d","text":"small small small"}\n' "$i"; done; } >"$W/big.jsonl"
"$C" import workdir="$W/big" import.paths="[$W/big.jsonl]" import.shards=1 >/dev/null 2>&1
rss_write=$(rss_kib "$C" import workdir="$W/big2" import.paths="[$W/big.jsonl]" import.shards=1)
rss_read=$(rss_kib "$C" inspect --summary "$W/big/import")
rss_base=$(rss_kib "$C" version)

cat <<MD
## Document shards

Input: \`$SRC\`, $files files, $(mbs "$bytes" 1) MB.

| what | curate | reference | ratio (curate time / reference time) |
|---|---|---|---|
| import a tree into 8 shards (walk, read, JSON, zstd -3, SHA-256, fsync), 1 rank | $(printf %.2f "$t_imp") s, $(mbs "$bytes" "$t_imp") MB/s | \`tar cf - | zstd -3 -T1\`: $(printf %.2f "$t_ref_imp") s | $(ratio "$t_imp" "$t_ref_imp") |
| the same import, 2 ranks | $(printf %.2f "$t_imp2") s | 1 rank: $(printf %.2f "$t_imp") s | speedup $(ratio "$t_imp" "$t_imp2") |
| read and parse every record (\`inspect --summary\`) | $(printf %.2f "$t_read") s, $(mbs "$raw" "$t_read") MB/s of JSONL | \`zstdcat\` alone (floor): $(printf %.2f "$t_zcat") s; \`zstdcat \| jq -c .metadata\`: $(printf %.2f "$t_jq") s | $(ratio "$t_read" "$t_zcat") vs zstdcat, $(ratio "$t_read" "$t_jq") vs jq |
| \`filter\` map stage: read, parse, filter, write, checksum | $(printf %.2f "$t_filt") s, $(mbs "$raw" "$t_filt") MB/s | \`zstdcat \| zstd -3 -T1\`: $(printf %.2f "$t_ref_filt") s | $(ratio "$t_filt" "$t_ref_filt") |

## Memory: streaming bounded by the largest record

A JSONL file holding one 50 MB record and 1,000 small ones:

| what | peak RSS |
|---|---|
| \`curate version\` (process baseline: MPI, libraries) | $((rss_base / 1024)) MiB |
| import it into one shard | $((rss_write / 1024)) MiB |
| read the shard back (\`inspect --summary\`) | $((rss_read / 1024)) MiB |

Memory grows with the largest record (its line, its parsed text, its JSON form), not with the
shard: the record is held a few times over while it passes through, and nothing else is.

Command: \`make bench\` (or \`BENCH_TREE=/path BENCH_REPEAT=5 bash scripts/bench.sh shards\`).

MD

# Benchmark of deduplication: dedup-exact's hash against sha256sum, MinHash signature speed
# per core, documents/s of both stages at 1 and 2 ranks on over a million documents, and the
# peak memory of a rank under a small budget. Sourced by scripts/bench.sh (which defines C,
# W, R, best, rss_kib, mbs, ratio); prints its section of docs/benchmarks.md.
SRC=${BENCH_TREE:-/usr/include}
# test_minhash --bench measures the library's hashing in-process (one core)
TB=${BENCH_TESTS:-build/release/tests}
[ -x "$TB/test_minhash" ] || make --no-print-directory MODE=release "$TB/test_minhash" >/dev/null
find "$SRC" -type f -size -10M | sort >"$W/dd_files"

# 1. hashing alone, on the same files: SHA-256 (EVP) vs sha256sum, MinHash 112 x word 5-grams
read -r nfiles fbytes t_sha t_mw t_mc < <("$TB/test_minhash" --bench <"$W/dd_files" |
  awk '{ print $2, $4, $6, $8, $10 }')
t_sha_ref=$(best sh -c "xargs sha256sum <'$W/dd_files'")

# 2. the stages on >= 1M small documents: every 2 non-blank lines of the tree's headers as
# JSON strings, every line valid JSON: backslashes doubled with "&&" (the match twice; the
# replacement "\\\\" is one backslash in mawk and POSIX awk, which left "\." and "\"" in
# 1.4% of the lines), quotes escaped, tabs as \t, other control characters dropped, and
# bytes that are not UTF-8 (a Latin-1 copyright sign) replaced by U+FFFD
dd_docs() { # tree -> JSONL on stdout
  find "$1" -type f -name '*.h' -print0 | sort -z | xargs -0 cat | LC_ALL=C awk '
  function utf8(s,   out) { # each byte outside a well-formed UTF-8 sequence -> U+FFFD
    out = ""
    while (s != "") {
      if (match(s, /^([\001-\177]|[\302-\337][\200-\277]|\340[\240-\277][\200-\277]|[\341-\354\356\357][\200-\277][\200-\277]|\355[\200-\237][\200-\277]|\360[\220-\277][\200-\277][\200-\277]|[\361-\363][\200-\277][\200-\277][\200-\277]|\364[\200-\217][\200-\277][\200-\277])+/)) {
        out = out substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
      } else {
        out = out "\357\277\275"; s = substr(s, 2)
      }
    }
    return out
  }
  NF {
    gsub(/\\/, "&&"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); gsub(/[\000-\037]/, "")
    buf = buf ($0 ~ /[\200-\377]/ ? utf8($0) : $0) "\\n"
    if (++k == 2) { printf "{\"id\":\"d%08d\",\"text\":\"%s\"}\n", ++n, buf; buf = ""; k = 0 } }'
}
dd_docs "$SRC" >"$W/dd_docs.jsonl"
# import never splits a JSONL file, and shards are what the ranks share out: one file would
# be one shard, read and rewritten by one rank while the other waits. So 16 files.
mkdir -p "$W/dd_split"
split -n l/16 -d -a 2 --additional-suffix=.jsonl "$W/dd_docs.jsonl" "$W/dd_split/dd_"
"$C" import workdir="$W/dd" "import.paths=[$(ls "$W"/dd_split/*.jsonl | paste -sd,)]" \
  import.shards=16 keep_rejected=false >/dev/null 2>&1
# what the stages see: the records import kept (it drops lines that are not valid JSON)
ndocs=$(jq .records "$W/dd/import/manifest.json")
nshards=$(jq .shard_count "$W/dd/import/manifest.json")
raw=$(jq .raw_bytes "$W/dd/import/manifest.json")
RD=${BENCH_REPEAT_DEDUP:-1} # whole-stage runs on 1M documents take minutes: best of RD
stage() { # ranks stage [options]
  local n=$1 s=$2; shift 2
  mpiexec -n "$n" "$C" "$s" workdir="$W/dd" "stages=[import,$s]" keep_rejected=false --force "$@"
}
R_all=$R; R=$RD
t_ex1=$(best stage 1 dedup-exact); t_ex2=$(best stage 2 dedup-exact)
t_nr1=$(best stage 1 dedup-near); t_nr2=$(best stage 2 dedup-near)
# reference for exact dedup: the texts through coreutils sort -u (one process, no ranks)
ref_ex() { zstdcat "$W"/dd/import/part-*.jsonl.zst | jq -r '.text | @base64' | sort -u -S 25% | wc -l; }
t_ref_ex=$(best ref_ex)
R=$R_all
stage 2 dedup-exact >/dev/null 2>&1
ex_out=$(jq .records "$W/dd/dedup-exact/manifest.json")
stage 2 dedup-near >/dev/null 2>&1
nr_out=$(jq .records "$W/dd/dedup-near/manifest.json")
nr_clusters=$(jq '.counters.clusters // 0' "$W/dd/dedup-near/stats.json")

# 3. memory: the peak RSS of each of 2 ranks of dedup-near under budgets far below the data
rank_rss() { # budget -> largest peak RSS of the 2 ranks, KiB (one file per rank: PMI_RANK)
  rm -f "$W"/dd_rss.*
  mpiexec -n 2 sh -c '/usr/bin/time -f %M -o "$0.$PMI_RANK" "$@"' "$W/dd_rss" "$C" dedup-near \
    workdir="$W/dd" "stages=[import,dedup-near]" keep_rejected=false --force memory_budget="$1" >/dev/null 2>&1
  cat "$W"/dd_rss.* | sort -n | tail -1
}
rss_16=$(rank_rss 16MiB); rss_64=$(rank_rss 64MiB); rss_1g=$(rank_rss 4GiB)
rss_base=$(rss_kib "$C" version)

dps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
cat <<MD
## Deduplication

Hashing alone, in memory, one core: \`$SRC\`, $nfiles files, $(mbs "$fbytes" 1) MB
(\`test_minhash --bench\`, the functions the stages call).

| what | curate | reference | ratio (curate time / reference time) |
|---|---|---|---|
| SHA-256 of every file (dedup-exact's hash, OpenSSL EVP) | $(printf %.3f "$t_sha") s, $(mbs "$fbytes" "$t_sha") MB/s | \`xargs sha256sum\` (files from page cache): $(printf %.3f "$t_sha_ref") s | $(ratio "$t_sha" "$t_sha_ref") |
| MinHash signature, 112 hashes, word 5-grams | $(printf %.3f "$t_mw") s, $(mbs "$fbytes" "$t_mw") MB/s per core | anchor: about 400 MB/s per core in plain C | $(awk -v m="$(mbs "$fbytes" "$t_mw")" 'BEGIN { printf "%.2f", 400 / m }') |
| MinHash signature, 112 hashes, character 5-grams | $(printf %.3f "$t_mc") s, $(mbs "$fbytes" "$t_mc") MB/s per core | | |

Whole stages on $ndocs documents (every two non-blank lines of the headers, $(mbs "$raw" 1) MB of
JSONL in $nshards shards), default options, \`keep_rejected=false\`, best of $RD:

| what | 1 rank | 2 ranks | reference |
|---|---|---|---|
| \`dedup-exact\` ($ex_out kept) | $(printf %.1f "$t_ex1") s, $(dps "$ndocs" "$t_ex1") docs/s | $(printf %.1f "$t_ex2") s, $(dps "$ndocs" "$t_ex2") docs/s, speedup $(ratio "$t_ex1" "$t_ex2") | \`zstdcat \| jq -r '.text\|@base64' \| sort -u\`: $(printf %.1f "$t_ref_ex") s, $(dps "$ndocs" "$t_ref_ex") docs/s; ratio 1 rank / reference $(ratio "$t_ex1" "$t_ref_ex") |
| \`dedup-near\` ($nr_out kept, $nr_clusters clusters) | $(printf %.1f "$t_nr1") s, $(dps "$ndocs" "$t_nr1") docs/s | $(printf %.1f "$t_nr2") s, $(dps "$ndocs" "$t_nr2") docs/s, speedup $(ratio "$t_nr1" "$t_nr2") | |
| \`dedup-near\` / \`dedup-exact\` (goal: at most 2) | $(ratio "$t_nr1" "$t_ex1") | $(ratio "$t_nr2" "$t_ex2") | |

Peak RSS of the larger of 2 ranks running \`dedup-near\` on the same $(mbs "$raw" 1) MB:

| memory_budget | peak RSS per rank |
|---|---|
| (process baseline, \`curate version\`) | $((rss_base / 1024)) MiB |
| 16 MiB | $((rss_16 / 1024)) MiB |
| 64 MiB | $((rss_64 / 1024)) MiB |
| 4 GiB (nothing spills) | $((rss_1g / 1024)) MiB |

Command: \`bash scripts/bench.sh dedup\` (\`BENCH_REPEAT_DEDUP=3\` for best of 3 on the stages).

MD

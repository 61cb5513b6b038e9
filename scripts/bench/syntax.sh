# Benchmark of the syntax stage: MB/s per core of `curate syntax` over shards of real source
# files against a bare loop of ts_parser_parse_string over the same files in memory
# (`curate syntax-check --parse-only`, which times only the loop). Sourced by
# scripts/bench.sh (C, W, R, best, mbs, ratio); prints its section of docs/benchmarks.md.
SB="$W/syntax"
mkdir -p "$SB/tree"

# about BENCH_SYNTAX_MB MB per language: every k-th file of each sorted tree, copied
per=$(( ${BENCH_SYNTAX_MB:-12} * 1000000 ))
trees=()
py=$(ls -d /usr/lib/python3.*/ 2>/dev/null | head -1)
[ -n "$py" ] && trees+=("${py%/}:*.py:python")
trees+=("/usr/include:*.h:c")
[ -d /usr/share/gocode/src ] && trees+=("/usr/share/gocode/src:*.go:go")
[ -d /usr/share/cargo/registry ] && trees+=("/usr/share/cargo/registry:*.rs:rust")
langs=""
for t in "${trees[@]}"; do
  IFS=: read -r src glob lang <<<"$t"
  find "$src" -name "$glob" -type f -size +0 -size -4M | LC_ALL=C sort >"$SB/$lang.all"
  total=$(tr '\n' '\0' <"$SB/$lang.all" | du -cb --files0-from=- | tail -1 | cut -f1)
  awk -v k=$(( total / per + 1 )) 'NR % k == 1 || k == 1' "$SB/$lang.all" |
    while read -r f; do mkdir -p "$SB/tree/$lang/$(dirname "${f#$src/}")"; cp "$f" "$SB/tree/$lang/${f#$src/}"; done
  langs="$langs $lang"
done
(cd "$SB/tree" && find . -type f | LC_ALL=C sort) >"$SB/files"
nfiles=$(wc -l <"$SB/files")
bytes=$(cd "$SB/tree" && tr '\n' '\0' <"$SB/files" | du -cb --files0-from=- | tail -1 | cut -f1)

cfg=(stages=[import,syntax] import.paths=["$SB/tree"] import.shards=8 keep_rejected=false
     syntax.max_bytes=64MiB)
"$C" import workdir="$SB/w" "${cfg[@]}" >/dev/null 2>&1

# the stage on 1 and 2 ranks: read shards, parse, walk errors, write shards. On a shared
# machine CPU time (user + sys) is the fair measure of MB/s per core; wall time is shown too.
stage1() { "$C" syntax workdir="$SB/w" "${cfg[@]}" --force; }
stage2() { mpiexec -n 2 "$C" syntax workdir="$SB/w" "${cfg[@]}" --force; }
t_stage=$(best stage1)
t_stage2=$(best stage2)
c_stage="" parse_us=""
for _ in $(seq "$R"); do
  c=$(/usr/bin/time -f "%U %S" "$C" syntax workdir="$SB/w" "${cfg[@]}" --force 2>&1 >/dev/null |
      tail -1 | awk '{ print $1 + $2 }')
  u=$(jq '[.counters | to_entries[] | select(.key | endswith(".parse_us")) | .value] | add / 1e6' \
      "$SB/w/syntax/stats.json")
  c_stage=$(awk -v a="$c" -v b="$c_stage" 'BEGIN { print (b == "" || a < b) ? a : b }')
  parse_us=$(awk -v a="$u" -v b="$parse_us" 'BEGIN { print (b == "" || a < b) ? a : b }')
done
S="$SB/w/syntax/stats.json"

# the fixed cost of a run (process and MPI start, plan, manifests), measured on a one-file
# input, so the per-byte overhead can be told apart from it
mkdir -p "$SB/one" && cp "$SB/tree/$(head -1 "$SB/files")" "$SB/one/"
ocfg=(stages=[import,syntax] import.paths=["$SB/one"] import.shards=1 keep_rejected=false)
"$C" import workdir="$SB/w1" "${ocfg[@]}" >/dev/null 2>&1
c_start=""
for _ in $(seq "$R"); do
  c=$(/usr/bin/time -f "%U %S" "$C" syntax workdir="$SB/w1" "${ocfg[@]}" --force 2>&1 >/dev/null |
      tail -1 | awk '{ print $1 + $2 }')
  c_start=$(awk -v a="$c" -v b="$c_start" 'BEGIN { print (b == "" || a < b) ? a : b }')
done

# the bare loop: only ts_parser_parse_string + ts_tree_delete over the files in memory
t_bare="" c_bare=""
for _ in $(seq "$R"); do
  out=$(cd "$SB/tree" && xargs -a "$SB/files" "$C" syntax-check --parse-only)
  w=$(awk '{ for (i = 1; i <= NF; i++) if ($(i+1) == "s,") t += $i } END { print t }' <<<"$out")
  c=$(awk '{ t += $NF + 0; for (i = 1; i <= NF; i++) if ($i == "cpu") t2 += $(i+1) } END { print t2 }' <<<"$out")
  t_bare=$(awk -v a="$w" -v b="$t_bare" 'BEGIN { print (b == "" || a < b) ? a : b }')
  c_bare=$(awk -v a="$c" -v b="$c_bare" 'BEGIN { print (b == "" || a < b) ? a : b }')
done

rates=$(jq -r --argjson l "$(printf '%s\n' $langs | jq -R . | jq -s .)" '.counters as $c | $l[] |
  "| \(.) | \($c["syntax.\(.).checked"]) | \($c["syntax.\(.).passed"]) | \($c["syntax.\(.).bytes"] / $c["syntax.\(.).parse_us"] * 100 | floor / 100) |"' "$S")

cat <<MD
## Syntax stage (Tree-sitter)

Input: $nfiles files, $(mbs "$bytes" 1) MB, sampled from Debian's source trees:$langs
(imported into 8 shards first; the stage reads and writes shards, the bare loop reads nothing).

| what | wall | CPU (user + sys) | MB/s per core (by CPU) | ratio to the bare loop (CPU; wall) |
|---|---|---|---|---|
| bare loop: \`ts_parser_parse_string\` over the files in memory (\`syntax-check --parse-only\`) | $(printf %.2f "$t_bare") s | $(printf %.2f "$c_bare") s | $(mbs "$bytes" "$c_bare") | 1.00 |
| \`curate syntax\`, 1 rank: the whole command (start, read + parse + error walk + write shards) | $(printf %.2f "$t_stage") s | $(printf %.2f "$c_stage") s | $(mbs "$bytes" "$c_stage") | $(ratio "$c_stage" "$c_bare"); $(ratio "$t_stage" "$t_bare") |
| of which the fixed cost of a run (the same command on a one-file input) | | $(printf %.2f "$c_start") s | | $(ratio "$c_start" "$c_bare") of the bare loop |
| \`curate syntax\` less that fixed cost: the per-byte cost | | $(awk -v a="$c_stage" -v b="$c_start" 'BEGIN { printf "%.2f", a - b }') s | $(mbs "$bytes" "$(awk -v a="$c_stage" -v b="$c_start" 'BEGIN { print a - b }')") | $(awk -v a="$c_stage" -v b="$c_start" -v c="$c_bare" 'BEGIN { printf "%.2f", (a - b) / c }') |
| of which parsing and the error walk (the stage's \`parse_us\` counters, wall) | $(printf %.2f "$parse_us") s | | | -; $(ratio "$parse_us" "$t_bare") |
| \`curate syntax\`, 2 ranks (\`mpiexec -n 2\`) | $(printf %.2f "$t_stage2") s | | | speedup $(ratio "$t_stage" "$t_stage2") over 1 rank (wall) |

Per language (1 rank; MB/s of parsing and the error walk alone):

| language | files | passed | MB/s |
|---|---|---|---|
$rates

The stage's overhead over the parser is the CPU ratio of the second row minus one; the per-byte
overhead, which is what grows with a corpus, is that of the fourth row: shard reading (zstd,
JSON), the error walk, metadata, shard writing and checksums. The fixed cost (process and MPI
start, the plan, manifests) is paid once per run and rank. Command:
\`bash scripts/bench.sh syntax\` (\`BENCH_SYNTAX_MB\`: MB sampled per language, default 12).

MD

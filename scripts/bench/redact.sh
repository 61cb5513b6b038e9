# Benchmark of the redact stage against npm's secretlint 13.0.6 (recommended preset) on one
# core: the real C, Python and Go source of this machine (/usr/include, Python's standard
# library, Go's standard library from golang-1.19-src: *.h, *.c, *.py, *.go), curate redact
# (1 rank: read shards, every rule, write shards with metadata) against secretlint reading
# the same files; and what each finds there, by kind, since the corpus holds no planted secret.
# Sourced by scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio); prints its section.
RW="$W/redact"
mkdir -p "$RW"
sl=$(bash scripts/secretlint.sh 2>/dev/null || true)
if [ -z "$sl" ]; then
  printf '## redact\n\nSkipped: secretlint could not be fetched (scripts/secretlint.sh).\n\n'
  return 0
fi
sld=$(cd "$(dirname "$sl")/../.." && pwd)
go=$(ls -d /usr/share/go-1.*/src | head -1) py=$(ls -d /usr/lib/python3.[0-9]* | head -1)
roots=(/usr/include "$py" "$go")
"$C" import workdir="$RW/w" "import.paths=[/usr/include, $py, $go]" "import.include=['*.h', '*.c', '*.py', '*.go']" \
  import.shards=8 >/dev/null 2>&1
rbytes=$(find "${roots[@]}" -type f \( -name '*.h' -o -name '*.c' -o -name '*.py' -o -name '*.go' \) -printf '%s\n' |
  awk '{ s += $1 } END { print s }')
rfiles=$(jq .records "$RW/w/import/manifest.json")
echo '{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}' >"$RW/rc.json"
globs=()
for r in "${roots[@]}"; do globs+=("$r/**/*.{h,c,py,go}"); done
r_cur() { "$C" redact stages=[import,redact] workdir="$RW/w" --force; }
r_ref() { (cd "$sld" && "$sl" --secretlintrc "$RW/rc.json" --format json --no-maskSecrets "${globs[@]}" >"$RW/sl.json" || true); }
t_rc=$(best r_cur); t_rr=$(best r_ref)
found=$(jq -r '.counters | to_entries[] | select(.key | startswith("found_")) | "\(.key[6:]) \(.value)"' \
  "$RW/w/redact/stats.json" | awk '{printf "%s %s, ", $1, $2}')
files_c=$(jq '.counters.documents_with_findings' "$RW/w/redact/stats.json")
sl_files=$(jq '[.[] | select(.messages | length > 0)] | length' "$RW/sl.json")
sl_found=$(jq -r '[.[].messages[].ruleId | sub("@secretlint/secretlint-rule-"; "")] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' "$RW/sl.json")
cat <<MD
## redact

\`scripts/bench/redact.sh\`: $rfiles real source files ($(mbs "$rbytes" 1) MB: /usr/include, Python's and
Go's standard libraries, \*.h \*.c \*.py \*.go), one core. curate runs the whole stage (read zstd
shards, every rule of its table, write shards with the placeholders and metadata); secretlint
13.0.6 with its recommended preset reads the same files and prints JSON.

| | seconds | MB/s | ratio |
|---|---|---|---|
| \`curate redact\` (1 rank) | $t_rc | $(mbs "$rbytes" "$t_rc") | $(ratio "$t_rr" "$t_rc") x secretlint's speed |
| \`secretlint --format json\` | $t_rr | $(mbs "$rbytes" "$t_rr") | 1 |

Findings on these files, which hold no planted secret: curate ${found%, } in $files_c files
(e-mail and IP addresses are real ones, in copyright lines and tests); secretlint ${sl_found:-none} in
$sl_files files. docs/redact.md classifies them.

MD

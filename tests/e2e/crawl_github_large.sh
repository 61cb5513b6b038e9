# crawl-github on a repository of real size, under the ASan build: Go's standard library and
# three Rust crates from Debian's packages, committed as about 3,000 commits over seven months
# with edits, renames, deletions, merges, binary and large files, a submodule, a link, and
# paths and messages that are not UTF-8 (tests/data/bigrepo/: built once, cached under
# ~/.cache/curate by its recipe). Checked against git itself (bigrepo_check.py): file documents
# against ls-tree, commit documents against log and diff-tree; the commit documents do not
# depend on the BM25 cache's budget (a budget smaller than one snapshot empties it at every
# commit), and the whole history (every non-merge commit) is crawled with the dev build.
source "$(dirname "$0")/lib.sh"
ASAN=${CURATE_ASAN:-$ROOT/build/asan/curate}
[ -x "$ASAN" ] || { echo "skip: no ASan build at $ASAN"; exit 77; }
R=$(bash "$ROOT/tests/data/bigrepo/build.sh")
g() { git --git-dir="$R" "$@"; }

# the repository is what the recipe says
commits=$(g rev-list --count HEAD) merges=$(g rev-list --merges --count HEAD)
days=$(( ($(g log -1 --format=%ct HEAD) - $(g log --format=%ct HEAD | tail -1)) / 86400 ))
echo "repository: $commits commits, $merges merges, $days days, $(g ls-tree -r HEAD | wc -l) entries at HEAD"
check "thousands of commits" test "$commits" -ge 3000
check "merges" test "$merges" -ge 40
check "more than 100 days" test "$days" -gt 100
check "a submodule" test "$(g ls-tree -r HEAD | awk '$1 == "160000"' | wc -l)" = 1
check "a link" test "$(g ls-tree -r HEAD | awk '$1 == "120000"' | wc -l)" = 1
check "paths that are not UTF-8" test "$(g ls-tree -r --name-only HEAD | grep -c '\\3')" -gt 3
check "messages with an encoding header" test "$(g log --format=%e | grep -c .)" -ge 3
check "a file over 1 MiB" test "$(g log --format= --raw --no-abbrev | awk '{ print $4 }' | sort -u |
  g cat-file --batch-check='%(objectsize)' | awk '$1 > 1048576' | wc -l)" -ge 1

echo "{\"path\": \"$R\", \"name\": \"curate/bigrepo\", \"stars\": 5000, \"forks\": 400}" >"$T/list.jsonl"
crawl() { # build, workdir, options...
  local bin=$1 w=$T/$2; shift 2
  "$bin" crawl-github workdir="$w" crawl-github.repos="[$T/list.jsonl]" "$@" >"$w.log" 2>&1 ||
    { tail -40 "$w.log"; fail "crawl-github $w"; }
  zstdcat "$w"/crawl-github/part-*.jsonl.zst >"$w.jsonl"
}
chk() { python3 "$ROOT/tests/e2e/bigrepo_check.py" "$@" || fail "bigrepo_check $*"; }

# 1. ASan, default options: files, the repository document, the newest 1000 commits
crawl "$ASAN" asan
chk files "$R" curate/bigrepo "$T/asan.jsonl" "$T/asan/crawl-github/stats.json"
chk commits "$R" curate/bigrepo "$T/asan.jsonl" "$T/asan/crawl-github/stats.json" 1000
check "the default budget holds the cache" test "$(jq '.counters.commit_cache_trims // 0' "$T/asan/crawl-github/stats.json")" = 0

# 2. ASan, a cache budget smaller than one snapshot's indexes: emptied between commits, never
#    while a context holds them; the documents are those of the default budget, byte for byte
crawl "$ASAN" small crawl-github.commit.cache_budget=1MiB crawl-github.commit.max_commits=30
trims=$(jq '.counters.commit_cache_trims // 0' "$T/small/crawl-github/stats.json")
echo "small budget: $trims trims in 30 commits"
check "the small budget empties the cache" test "$trims" -ge 25
jq -c 'select(.source == "commit")' "$T/small.jsonl" | sort >"$T/small.commits"
jq -r '.metadata.commit' "$T/small.commits" >"$T/small.ids"
check "30 commit documents" test "$(wc -l <"$T/small.ids")" -ge 28
jq -c --rawfile ids "$T/small.ids" 'select(.source == "commit" and
  (.metadata.commit as $c | $ids | split("\n") | index($c)))' "$T/asan.jsonl" | sort >"$T/asan.commits"
check "commit documents do not depend on the budget" cmp -s "$T/small.commits" "$T/asan.commits"

# 3. the whole history, dev build: every non-merge commit, each against git
crawl "$CURATE" all crawl-github.commit.max_commits=100000
chk commits "$R" curate/bigrepo "$T/all.jsonl" "$T/all/crawl-github/stats.json" 100000
echo "ok"

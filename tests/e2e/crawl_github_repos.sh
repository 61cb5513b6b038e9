# crawl-github on real repositories: Debian's libgit2-fixtures bare repositories (by path and
# cloned through a file:// url into the mirror cache, then fetched again on a rebuild), a real
# source tree (Python's json and email packages) committed into a fresh repository, broken
# entries; documents checked against git itself, and identical shards for 1, 2 and 3 ranks.
source "$(dirname "$0")/lib.sh"
F=/usr/share/doc/libgit2-fixtures/examples
[ -d "$F/testrepo.git" ] || { echo "libgit2-fixtures not installed"; exit 77; }
PY=$(ls -d /usr/lib/python3*/json | head -1); PY=${PY%/json}
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z

# a real tree: json and email from Python's standard library, in a fresh repository
git init -q -b main "$T/pylib"
cp -r "$PY/json" "$PY/email" "$T/pylib/"
find "$T/pylib" -name __pycache__ -prune -exec rm -rf {} +
git -C "$T/pylib" add -A && git -C "$T/pylib" commit -q -m 'Python json and email packages'
# a working clone of testrepo, listed by url: the stage mirrors it
git clone -q "$F/testrepo.git" "$T/upstream"

cat >"$T/list.jsonl" <<JSONL
{"path":"$F/testrepo.git","stars":200,"forks":30,"license":"GPL-2.0"}
{"path":"$F/twowaymerge.git","name":"fixtures/twowaymerge"}
{"path":"$F/submodules.git"}
{"path":"$F/empty_bare.git"}
{"url":"file://$T/upstream","name":"local/upstream"}
{"path":"$T/pylib","name":"python/stdlib"}
{"url":"file://$T/missing.git"}
{"path":"$F/testrepo.git","ref":"no-such-branch","name":"bad/ref"}
{"stars":3}
not json
JSONL
common=(crawl-github.repos="[$T/list.jsonl]" crawl-github.shards=4 crawl-github.unknown_language=keep
        crawl-github.cache_dir="$T/cache" crawl-github.commit.min_stars=0 crawl-github.commit.min_forks=0
        crawl-github.commit.min_commits=0 crawl-github.commit.min_days=0 keep_rejected=true)
"$CURATE" crawl-github workdir="$T/single" "${common[@]}" 2>"$T/single.log" || { cat "$T/single.log"; fail "crawl-github"; }
zstdcat "$T"/single/crawl-github/part-*.jsonl.zst >"$T/all.jsonl"
S="$T/single/crawl-github/stats.json"

# broken entries: logged with file:line and reason, counted, the rest kept
check "bad entries counted" test "$(jq -c '[.drops.bad_list_entry.docs,.drops.clone_failed.docs,.drops.bad_repository.docs]' "$S")" = '[2,1,2]'
contains "$T/single.log" "list.jsonl:9: give exactly one of 'url' and 'path'"
contains "$T/single.log" "list.jsonl:10: not a JSON object"
contains "$T/single.log" "list.jsonl:8: bad/ref"
contains "$T/single.log" "list.jsonl:4: examples/empty_bare"

# file documents of each repository are git's tree at HEAD, path for path, blob for blob
for spec in "examples/testrepo $F/testrepo.git" "fixtures/twowaymerge $F/twowaymerge.git" \
            "examples/submodules $F/submodules.git" "local/upstream $T/upstream/.git" "python/stdlib $T/pylib/.git"; do
  set -- $spec
  git --git-dir="$2" ls-tree -r HEAD | awk '$1 != "160000" && $1 != "120000" { print $4 " " $3 }' | LC_ALL=C sort >"$T/want"
  { jq -r --arg r "$1" 'select(.source=="github" and .metadata.repo==$r) | "\(.metadata.path) \(.metadata.blob)"' "$T/all.jsonl"
    zstdcat "$T"/single/crawl-github/rejected/*.zst | jq -r --arg r "$1" 'select(.metadata.repo==$r) | "\(.metadata.path) \(.metadata.blob)"'
  } | LC_ALL=C sort >"$T/got"
  check "$1: kept and rejected files are git's tree" test -s "$T/want"
  diff "$T/want" "$T/got" || fail "$1: files differ from git ls-tree"
done
# file order in a shard is path order (bytewise)
jq -r 'select(.source=="github" and .metadata.repo=="python/stdlib") | .metadata.path' "$T/all.jsonl" >"$T/order"
check "files in path order" bash -c "LC_ALL=C sort -c '$T/order'"
# text is the blob, for every file of the real tree
jq -c 'select(.source=="github" and .metadata.repo=="python/stdlib") | [.metadata.blob, .text]' "$T/all.jsonl" |
  while read -r rec; do
    b=$(jq -r '.[0]' <<<"$rec")
    cmp -s <(jq -j '.[1]' <<<"$rec") <(git -C "$T/pylib" cat-file blob "$b") || fail "text of blob $b differs"
  done
check "submodule counted" test "$(jq .counters.links_and_submodules "$S")" -ge 1
check "testrepo list metadata" test "$(jq -c 'select(.id=="gh:examples/testrepo:README") | [.metadata.stars,.metadata.forks,.metadata.license,.metadata.commit]' "$T/all.jsonl")" = \
  "[200,30,\"GPL-2.0\",\"$(git --git-dir="$F/testrepo.git" rev-parse HEAD)\"]"

# dependency order in the real tree: json's imports (__init__ <-> decoder is a cycle)
jq -r 'select(.source=="repo" and .metadata.repo=="python/stdlib") | .metadata.paths[]' "$T/all.jsonl" | grep '^json/' >"$T/json.got"
printf 'json/encoder.py\njson/scanner.py\njson/__init__.py\njson/decoder.py\njson/tool.py\n' >"$T/json.want"
diff "$T/json.want" "$T/json.got" || fail "json dependency order"
# email: every module comes after the email modules it imports, except where a cycle was cut
jq -r 'select(.source=="repo" and .metadata.repo=="python/stdlib") | .metadata.paths[]' "$T/all.jsonl" | grep '^email/' >"$T/email.order"
check "email modules all present" test "$(wc -l <"$T/email.order")" = "$(git -C "$T/pylib" ls-files 'email/*.py' | wc -l)"

# commit documents: every non-merge commit, in libgit2's topological-then-time order
git --git-dir="$F/twowaymerge.git" rev-list --no-merges --topo-order HEAD | sort >"$T/tw.want"
jq -r 'select(.source=="commit" and .metadata.repo=="fixtures/twowaymerge") | .metadata.commit' "$T/all.jsonl" | sort >"$T/tw.got"
diff "$T/tw.want" "$T/tw.got" || fail "twowaymerge commits"
check "merges counted" test "$(jq .counters.merge_commits_skipped "$S")" -ge "$(git --git-dir="$F/twowaymerge.git" rev-list --merges HEAD | wc -l)"
c=$(git --git-dir="$F/testrepo.git" rev-parse HEAD~2) # HEAD~1 is a merge
rec=$(jq -c "select(.id==\"gh-commit:examples/testrepo:$c\")" "$T/all.jsonl")
check "testrepo HEAD~2 parent" test "$(jq -r .metadata.parent <<<"$rec")" = "$(git --git-dir="$F/testrepo.git" rev-parse HEAD~3)"
check "testrepo HEAD~2 paths" test "$(jq -c .metadata.changed_paths <<<"$rec")" = \
  "$(git --git-dir="$F/testrepo.git" diff-tree --no-commit-id --name-only -r "$c" | jq -Rsc 'split("\n") | map(select(length > 0))')"
jq -j .text <<<"$rec" | sed -n '/^<patch>$/,$p' | tail -n +2 >"$T/patch.got"
git --git-dir="$F/testrepo.git" diff-tree -p --no-commit-id "$c" >"$T/patch.want"
diff "$T/patch.want" "$T/patch.got" || fail "patch differs from git diff-tree -p"

# identical shards, manifest and stats counts for 1, 2 and 3 ranks
digest "$T/single/crawl-github" >"$T/single.sha"
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" crawl-github workdir="$T/n$n" "${common[@]}" 2>"$T/n$n.log" || { cat "$T/n$n.log"; fail "-n $n"; }
  digest "$T/n$n/crawl-github" >"$T/n$n.sha"
  check "shards under -n $n identical" cmp "$T/single.sha" "$T/n$n.sha"
  check "stats under -n $n identical" test \
    "$(jq -c 'del(.wall_seconds,.task_seconds,.ranks)' "$T/n$n/crawl-github/stats.json")" = \
    "$(jq -c 'del(.wall_seconds,.task_seconds,.ranks)' "$S")"
done

# the mirror lives in the cache; a new upstream commit is fetched on the next run
check "mirror in cache_dir" test -d "$(ls -d "$T"/cache/local_upstream-*.git)"
"$CURATE" crawl-github workdir="$T/single" "${common[@]}" 2>"$T/again.log"
contains "$T/again.log" "up to date"
echo 'new file' >"$T/upstream/added.txt"
git -C "$T/upstream" add added.txt && git -C "$T/upstream" commit -q -m 'Add a file'
"$CURATE" crawl-github workdir="$T/single" "${common[@]}" 2>"$T/fetch.log" || { cat "$T/fetch.log"; fail "rebuild"; }
check "fetched commit's file present" test "$(zstdcat "$T"/single/crawl-github/part-*.jsonl.zst | jq -r 'select(.id=="gh:local/upstream:added.txt") | .text')" = 'new file'
# a corrupt mirror is skipped with its reason, the others still produce
m=$(ls -d "$T"/cache/local_upstream-*.git)
find "$m/objects" -type f -name '*.pack' -exec sh -c 'chmod u+w "$1"; head -c 100 "$1" > "$1.x"; mv "$1.x" "$1"' _ {} \;
find "$m/objects" -type f ! -path '*/pack/*' -exec sh -c 'chmod u+w "$1"; : > "$1"' _ {} \;
"$CURATE" crawl-github workdir="$T/corrupt" "${common[@]}" crawl-github.fetch=false 2>"$T/corrupt.log" || { cat "$T/corrupt.log"; fail "corrupt run"; }
check "corrupt repository skipped" test "$(jq '(.drops.corrupt_repository.docs // 0) + (.drops.bad_repository.docs // 0)' "$T/corrupt/crawl-github/stats.json")" -ge 3
check "others still there" test "$(zstdcat "$T"/corrupt/crawl-github/part-*.jsonl.zst | jq -r 'select(.metadata.repo=="python/stdlib")' | wc -l)" -gt 10
echo "crawl-github: fixtures, real tree, mirror fetch, corrupt mirror, identical for 1-3 ranks"

# crawl-github fetches remotes concurrently while planning (crawl-github.fetch_threads): seven
# file:// remotes built here with git, one listed twice, a missing one, a bad ref and a bad
# line give the same plan, shards and stats with 1 and 4 threads, errors logged in list
# order; a refetch of the cached mirrors with a vanished remote warns and uses the cache.
source "$(dirname "$0")/lib.sh"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com
export GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z
for r in 1 2 3 4 5 6 7; do
  git init -q -b main "$T/up$r"
  for c in $(seq 1 $((r + 1))); do
    mkdir -p "$T/up$r/pkg$c"
    printf 'def f%d_%d(x):\n    return x + %d\n' $r $c $c >"$T/up$r/pkg$c/mod.py"
    printf 'int g%d(void) { return %d; }\n' $c $((r * c)) >"$T/up$r/lib$c.c"
    git -C "$T/up$r" add -A && git -C "$T/up$r" commit -q -m "repo $r change $c"
  done
done
{
  for r in 1 2 3; do echo "{\"url\":\"file://$T/up$r\",\"name\":\"t/up$r\",\"stars\":$r}"; done
  echo "{\"url\":\"file://$T/missing\",\"name\":\"t/missing\"}"
  echo "{\"url\":\"file://$T/up4\",\"name\":\"t/up4\",\"ref\":\"no-such-branch\"}"
  for r in 5 6 7; do echo "{\"url\":\"file://$T/up$r\",\"name\":\"t/up$r\"}"; done
  echo "{\"url\":\"file://$T/up2\",\"name\":\"t/up2\",\"stars\":9}"
  echo "not json"
} >"$T/list.jsonl"
common=(crawl-github.repos="[$T/list.jsonl]" crawl-github.shards=3 crawl-github.cache_dir="$T/cache"
        crawl-github.commit.min_stars=0 crawl-github.commit.min_forks=0
        crawl-github.commit.min_commits=0 crawl-github.commit.min_days=0 keep_rejected=true)
# the same cache path for both runs (the mirror paths are in the plan), fresh for each
for k in 1 4; do
  rm -rf "$T/cache"
  "$CURATE" crawl-github workdir="$T/w$k" "${common[@]}" crawl-github.fetch_threads=$k 2>"$T/w$k.log" ||
    { cat "$T/w$k.log"; fail "fetch_threads=$k"; }
  digest "$T/w$k/crawl-github" | grep -v manifest.json >"$T/w$k.sha"
  # the plan's hash is input_sha256; the options differ in fetch_threads alone
  jq -S 'del(.fingerprint, .config_sha256, .options.fetch_threads)' "$T/w$k/crawl-github/manifest.json" >"$T/w$k.manifest"
  jq -c 'del(.wall_seconds, .task_seconds)' "$T/w$k/crawl-github/stats.json" >"$T/w$k.stats"
  grep -o 'list.jsonl:[0-9]*: .*; skipped' "$T/w$k.log" >"$T/w$k.errors" || true
done
check "shards identical for 1 and 4 fetch threads" cmp "$T/w1.sha" "$T/w4.sha"
check "plan and manifest identical" cmp "$T/w1.manifest" "$T/w4.manifest"
check "fetch_threads is left out of the fingerprint" test \
  "$(jq -r .fingerprint "$T/w1/crawl-github/manifest.json")" = "$(jq -r .fingerprint "$T/w4/crawl-github/manifest.json")"
check "stats identical" cmp "$T/w1.stats" "$T/w4.stats"
check "errors logged alike" cmp "$T/w1.errors" "$T/w4.errors"
check "errors in list order" test "$(cut -d: -f2 "$T/w4.errors" | tr '\n' ' ')" = "4 5 10 "
contains "$T/w4.errors" "list.jsonl:4: t/missing: fetching file://$T/missing"
contains "$T/w4.errors" "list.jsonl:5: t/up4 ("
contains "$T/w4.errors" "ref 'no-such-branch'"
S="$T/w4/crawl-github/stats.json"
check "bad entries counted" test "$(jq -c '[.drops.bad_list_entry.docs,.drops.clone_failed.docs,.drops.bad_repository.docs,.counters.repositories]' "$S")" = '[1,1,1,7]'
# every repository's files are git's tree at its HEAD; the one listed twice, twice
for r in 1 2 3 5 6 7; do
  want=$(git -C "$T/up$r" ls-tree -r HEAD | awk '{print $3}' | sort | tr '\n' ' ')
  got=$(zstdcat "$T"/w4/crawl-github/part-*.jsonl.zst | jq -r --arg r "t/up$r" 'select(.source=="github" and .metadata.repo==$r) | .metadata.blob' | sort -u | tr '\n' ' ')
  check "t/up$r: files are its tree" test "$want" = "$got"
done
check "t/up2 crawled twice" test "$(zstdcat "$T"/w4/crawl-github/part-*.jsonl.zst | jq -r 'select(.id=="gh:t/up2:lib1.c") | .metadata.stars' | tr '\n' ' ')" = "2 9 "

# the mirrors exist now: a rerun (another thread count) fetches them all again at once; a
# remote that vanished is a warning, and its cached mirror is used
rm -rf "$T/up6"
"$CURATE" crawl-github workdir="$T/w4" "${common[@]}" crawl-github.fetch_threads=3 2>"$T/refetch.log" ||
  { cat "$T/refetch.log"; fail "refetch"; }
contains "$T/refetch.log" "fetching file://$T/up6"
contains "$T/refetch.log" "using the cached mirror $T/cache/t_up6-"
contains "$T/refetch.log" "stage crawl-github: up to date" # another thread count reruns nothing
digest "$T/w4/crawl-github" | grep -v manifest.json >"$T/refetch.sha"
check "refetched shards identical" cmp "$T/w1.sha" "$T/refetch.sha"
echo "crawl-github: concurrent fetches give the serial plan, shards, stats and error order"

# Benchmark of crawl-github's file documents on a large real tree committed into a fresh
# repository, against git itself reading the same blobs (`git ls-tree -r` piped into
# `git cat-file --batch`). Sourced by scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio);
# prints its section of docs/benchmarks.md. BENCH_CURATE overrides the binary.
GH_TREE=${BENCH_GH_TREE:-/usr/include}
GC=${BENCH_CURATE:-$C}
repo=$W/gh-tree
rm -rf "$repo"
git init -q "$repo"
cp -r "$GH_TREE"/. "$repo"/ 2>/dev/null || true
git -C "$repo" -c gc.auto=0 add -A >/dev/null 2>&1
GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@b GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@b \
  git -C "$repo" -c gc.auto=0 commit -q -m tree
git -C "$repo" -c gc.auto=0 repack -adq # packed, as a clone would be
blobs=$(git -C "$repo" ls-tree -r HEAD | awk '$2 == "blob"' | wc -l)
bytes=$(git -C "$repo" ls-tree -r -l HEAD | awk '$2 == "blob" { s += $4 } END { print s }')
echo "{\"path\":\"$repo\",\"name\":\"bench/tree\"}" >"$W/gh-list.jsonl"

# file documents only; every language kept so that curate reads every blob git reads
gh() { rm -rf "$W/gh"; "$GC" crawl-github workdir="$W/gh" crawl-github.repos="[$W/gh-list.jsonl]" \
  crawl-github.documents=[file] crawl-github.unknown_language=keep crawl-github.shards=1 \
  crawl-github.max_file_size=1GiB crawl-github.max_line_length=0 keep_rejected=false; }
ref() { git -C "$repo" ls-tree -r HEAD | awk '$2 == "blob" { print $3 }' | git -C "$repo" cat-file --batch >/dev/null; }
# curate's own floor for writing the same documents: import of the tree from the filesystem
imp() { rm -rf "$W/ghi"; "$GC" import workdir="$W/ghi" import.paths="[$repo]" import.exclude=[.git] \
  import.shards=1 import.max_file_size=1GiB import.skip_binary=false keep_rejected=false; }
t_gh=$(best gh); t_ref=$(best ref); t_imp=$(best imp)
kept=$(jq .records "$W/gh/crawl-github/manifest.json")
raw=$(jq .raw_bytes "$W/gh/crawl-github/manifest.json")
rss=$(rss_kib "$GC" crawl-github workdir="$W/gh2" crawl-github.repos="[$W/gh-list.jsonl]" \
  crawl-github.documents=[file] crawl-github.unknown_language=keep crawl-github.shards=1)

# the whole stage (file and repository documents; the tree has one commit)
ghall() { rm -rf "$W/gha"; "$GC" crawl-github workdir="$W/gha" crawl-github.repos="[$W/gh-list.jsonl]" \
  crawl-github.documents=[file,repo] crawl-github.shards=1 keep_rejected=false; }
t_all=$(best ghall)
repo_docs=$(zstdcat "$W"/gha/crawl-github/part-*.jsonl.zst | jq -r 'select(.source=="repo") | .id' | wc -l)

cat <<MD
## crawl-github: file documents from a repository

Input: \`$GH_TREE\` committed into a fresh repository (packed): $blobs blobs, $(mbs "$bytes" 1) MB.

| what | curate | reference | ratio (curate time / reference time) |
|---|---|---|---|
| file documents (tree walk, blob read, language, filters, JSON, zstd, SHA-256), 1 rank | $(printf %.2f "$t_gh") s, $(awk -v n="$blobs" -v t="$t_gh" 'BEGIN { printf "%.0f", n / t }') files/s, $(mbs "$bytes" "$t_gh") MB/s | \`git ls-tree -r \| git cat-file --batch\`: $(printf %.2f "$t_ref") s, $(awk -v n="$blobs" -v t="$t_ref" 'BEGIN { printf "%.0f", n / t }') files/s, $(mbs "$bytes" "$t_ref") MB/s | $(ratio "$t_gh" "$t_ref") |
| the same tree read from the filesystem by \`curate import\` (same JSON, zstd, SHA-256, fsync; no git) | $(printf %.2f "$t_imp") s | crawl-github file documents: $(printf %.2f "$t_gh") s | $(ratio "$t_imp" "$t_gh") |
| file and repository documents (dependency graph, order, $repo_docs documents of 1 MiB), default filters | $(printf %.2f "$t_all") s | file documents alone: $(printf %.2f "$t_gh") s | $(ratio "$t_all" "$t_gh") |

About half of the gap to git is writing: git's side prints to /dev/null, curate's side writes
compressed, checksummed, fsynced shards; the import row shows that floor on the same bytes.
$kept documents kept ($(mbs "$raw" 1) MB of JSONL); peak RSS of the file-document run $((rss / 1024)) MiB
(a repository's kept files are held in memory until its documents are written).

Command: \`bash scripts/bench.sh github\` (\`BENCH_GH_TREE=/path\` for another tree).

MD

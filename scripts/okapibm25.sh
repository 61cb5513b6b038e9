#!/usr/bin/env bash
# Fetches (once) the npm package okapibm25@1.4.1, the reference BM25 that crawl-github's own
# implementation is tested against, into ~/.cache/curate/okapibm25-1.4.1/ and prints the path
# of its dist/BM25.js. Exit 1 when it cannot be fetched (no registry).
set -euo pipefail
d="${XDG_CACHE_HOME:-$HOME/.cache}/curate/okapibm25-1.4.1"
if [ ! -f "$d/package/dist/BM25.js" ]; then
  mkdir -p "$d"
  (cd "$d" && npm pack --silent okapibm25@1.4.1 >/dev/null 2>&1 && tar xzf okapibm25-1.4.1.tgz) \
    || { echo "okapibm25: npm pack okapibm25@1.4.1 failed" >&2; exit 1; }
fi
echo "$d/package/dist/BM25.js"

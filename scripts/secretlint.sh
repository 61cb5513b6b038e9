#!/usr/bin/env bash
# Fetches (once, cached under ~/.cache/curate) npm's secretlint with its recommended rule
# preset, pinned, and prints the path of its CLI. The redact test and benchmark compare the
# redact stage with it; fails (exit 1) with a message when npm cannot fetch it.
set -euo pipefail
ver=13.0.6 preset=13.0.7
d="${XDG_CACHE_HOME:-$HOME/.cache}/curate/secretlint-$ver"
cli="$d/node_modules/.bin/secretlint"
if [ ! -x "$cli" ] || [ ! -d "$d/node_modules/@secretlint/secretlint-rule-preset-recommend" ]; then
  command -v npm >/dev/null || { echo "secretlint: npm not found" >&2; exit 1; }
  mkdir -p "$d"
  npm install --silent --no-save --no-audit --no-fund --ignore-scripts --prefix "$d" \
    "secretlint@$ver" "@secretlint/secretlint-rule-preset-recommend@$preset" >/dev/null 2>&1 ||
    { echo "secretlint: npm install secretlint@$ver failed" >&2; exit 1; }
fi
echo "$cli"

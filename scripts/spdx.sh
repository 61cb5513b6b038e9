#!/usr/bin/env bash
# Fetches (once, cached under ~/.cache/curate) npm's spdx-license-list, pinned, and prints the
# path of its full licence list, spdx-full.json (the package's full.js only requires it): id ->
# {name, url, osiApproved, licenseText}, which the licence identifier (stages/github/license.c)
# loads. Fails (exit 1) with a message when npm cannot fetch it.
set -euo pipefail
ver=6.12.0
d="${XDG_CACHE_HOME:-$HOME/.cache}/curate/spdx-license-list-$ver"
json="$d/node_modules/spdx-license-list/spdx-full.json"
if [ ! -s "$json" ]; then
  command -v npm >/dev/null || { echo "spdx: npm not found" >&2; exit 1; }
  mkdir -p "$d"
  npm install --silent --no-save --no-audit --no-fund --ignore-scripts --prefix "$d" \
    "spdx-license-list@$ver" >/dev/null 2>&1 ||
    { echo "spdx: npm install spdx-license-list@$ver failed" >&2; exit 1; }
  [ -s "$json" ] || { echo "spdx: spdx-license-list@$ver has no spdx-full.json" >&2; exit 1; }
fi
echo "$json"

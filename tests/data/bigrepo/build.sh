#!/usr/bin/env bash
# Builds the large test repository from its recipe (bigrepo.py) once and prints its path: a
# bare repository under ~/.cache/curate/bigrepo-KEY/, KEY the hash of the recipe and of the
# versions of the Debian packages whose trees it commits. Built into a temporary folder and
# renamed, so a killed build leaves no half repository behind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pkgs="golang-1.19-src librust-syn-dev librust-serde-dev librust-regex-syntax-dev"
vers=$(dpkg-query -W -f='${Package}=${Version}\n' $pkgs 2>/dev/null) ||
  { echo "bigrepo: missing Debian packages ($pkgs): run make deps" >&2; exit 1; }
key=$(cat "$here/bigrepo.py" "$here/build.sh" <(echo "$vers") | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/curate"
out="$cache/bigrepo-$key/repo.git"
if [ ! -d "$out" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/bigrepo-tmp.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  git init -q --bare "$tmp/repo.git"
  python3 "$here/bigrepo.py" /usr/share/go-1.19/src /usr/share/cargo/registry |
    git --git-dir="$tmp/repo.git" fast-import --quiet
  git --git-dir="$tmp/repo.git" symbolic-ref HEAD refs/heads/main
  git --git-dir="$tmp/repo.git" gc -q --prune=now 2>/dev/null || true
  mkdir -p "$(dirname "$out")"
  mv "$tmp/repo.git" "$out"
  for old in "$cache"/bigrepo-*/; do # earlier recipes' repositories
    [ "$old" = "$cache/bigrepo-$key/" ] || rm -rf "$old"
  done
fi
echo "$out"

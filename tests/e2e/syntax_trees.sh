# syntax over real source trees from Debian packages: Python's standard library, C headers
# under /usr/include, Go (golang-*-dev under /usr/share/gocode) and Rust (librust-*-dev under
# /usr/share/cargo/registry), about 3 MB sampled from each. Prints the pass rate per language;
# fails below a floor set under what these trees gave when the test was written, or when the
# stage and `curate syntax-check` disagree on a file. Trees that are absent are skipped.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/data/syntax/trees.sh"
specs=""
py=$(ls -d /usr/lib/python3.*/ 2>/dev/null | head -1)
[ -n "$py" ] && sample "${py%/}" '*.py' python 3000000 && specs="$specs python:95"
sample /usr/include '*.h' c 3000000 && specs="$specs c:20"
if [ -d /usr/share/gocode/src ]; then
  sample /usr/share/gocode/src '*.go' go 3000000 && specs="$specs go:90"
else echo "skip go: no /usr/share/gocode (scripts/deps.sh installs golang-*-dev)"; fi
if [ -d /usr/share/cargo/registry ]; then
  sample /usr/share/cargo/registry '*.rs' rust 3000000 && specs="$specs rust:85"
else echo "skip rust: no /usr/share/cargo/registry (scripts/deps.sh installs librust-*-dev)"; fi
check_rates "$specs"
echo "syntax over real trees:$specs (language:floor %)"

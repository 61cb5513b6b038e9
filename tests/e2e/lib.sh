# Helpers for the end-to-end tests: each test sources this, works in its own temporary
# directory, and fails with a message naming the check.
set -euo pipefail
: "${CURATE:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/dev/curate}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d "${TESTS_TMP:-/tmp}/e2e.XXXXXX")
fail() { echo "FAIL: $*" >&2; exit 1; }
check() { # description, command...
  local what=$1; shift
  "$@" || fail "$what"
}
contains() { grep -qF -- "$2" "$1" || { echo "--- $1:"; head -50 "$1"; fail "'$2' not in $1"; }; }
# The hash of every shard and the manifest of a stage, one line each.
digest() { (cd "$1" && shopt -s nullglob && sha256sum manifest.json part-*.jsonl.zst rejected/part-*.jsonl.zst); }

# syntax over real Java: about 3 MB of java.base from a JDK's lib/src.zip (openjdk-17-source,
# or any JDK that ships its sources). Skipped (77) when no src.zip is installed: the package is
# 47 MB, too big for scripts/deps.sh.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/data/syntax/trees.sh"
zip=""
for z in /usr/lib/jvm/*/lib/src.zip; do [ -r "$z" ] && zip=$z && break; done
[ -n "$zip" ] || { echo "skip: no JDK src.zip (apt-get install openjdk-17-source)"; exit 77; }
command -v unzip >/dev/null || { echo "skip: unzip not installed"; exit 77; }
unzip -q "$zip" 'java.base/java/*' -d "$T/src" || fail "cannot extract $zip"
sample "$T/src" '*.java' java 3000000
check_rates "java:90"
echo "syntax over real Java from $zip"

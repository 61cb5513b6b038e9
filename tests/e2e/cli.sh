# The command line: help generated from the tables, clear errors and non-zero exits for
# unknown commands, options and config keys, and configs/default.yaml equal to the generated
# documentation of every option.
source "$(dirname "$0")/lib.sh"
"$CURATE" --help >"$T/help"
for c in import filter run status config inspect version; do
  contains "$T/help" "  $c "
  "$CURATE" "$c" --help >"$T/help.$c" || fail "curate $c --help exited non-zero"
  contains "$T/help.$c" "usage: curate $c"
done
contains "$T/help.import" "-c, --config FILE"

rc=0; "$CURATE" frobnicate 2>"$T/err" || rc=$?
check "unknown command exits 2" test $rc = 2
contains "$T/err" "curate: unknown command 'frobnicate'"
rc=0; "$CURATE" import --bogus 2>"$T/err" || rc=$?
check "unknown option exits 2" test $rc = 2
contains "$T/err" "curate import: unknown option '--bogus'"
rc=0; "$CURATE" import -c 2>"$T/err" || rc=$?
check "missing option value exits 2" test $rc = 2
rc=0; "$CURATE" 2>/dev/null || rc=$?
check "no command exits 2" test $rc = 2

# configs/default.yaml documents every option: it is exactly the generated one
"$CURATE" config defaults >"$T/defaults.yaml"
diff -u "$ROOT/configs/default.yaml" "$T/defaults.yaml" || fail "configs/default.yaml is stale: run 'curate config defaults > configs/default.yaml'"
# and loads back to the defaults
"$CURATE" config show -c "$ROOT/configs/default.yaml" >"$T/show1"
"$CURATE" config show >"$T/show0"
cmp "$T/show0" "$T/show1" || fail "default.yaml does not load to the defaults"

# config errors name the file, line and key
printf 'workdir: /tmp/x\nimport:\n  shards: 4\n  shardz: 3\n' >"$T/bad1.yaml"
rc=0; "$CURATE" config show -c "$T/bad1.yaml" 2>"$T/err" || rc=$?
check "unknown key exits 2" test $rc = 2
contains "$T/err" "$T/bad1.yaml:4: import.shardz: unknown key"
contains "$T/err" "did you mean 'import.shards'"
printf 'import:\n  shards: many\n' >"$T/bad2.yaml"
"$CURATE" import -c "$T/bad2.yaml" 2>"$T/err" && fail "bad type accepted"
contains "$T/err" "$T/bad2.yaml:2: import.shards:"
printf 'import:\n  shards: 0\n' >"$T/bad3.yaml"
"$CURATE" import -c "$T/bad3.yaml" 2>"$T/err" && fail "out of bounds accepted"
contains "$T/err" "$T/bad3.yaml:2: import.shards:"
contains "$T/err" "minimum"
"$CURATE" config show import.shards=-3 2>"$T/err" && fail "bad override accepted"
contains "$T/err" "command line: import.shards:"
"$CURATE" config show --origin -c "$T/bad1.yaml" filter.min_chars=7 2>/dev/null && fail "bad file accepted"
printf 'workdir: /tmp/x\nimport:\n  shards: 4\n' >"$T/ok.yaml"
"$CURATE" config show --origin -c "$T/ok.yaml" filter.min_chars=7 >"$T/show"
contains "$T/show" "shards: 4"
contains "$T/show" "$T/ok.yaml:3"
contains "$T/show" "min_chars: 7"
contains "$T/show" "command line"
"$CURATE" version | grep -q '^curate ' || fail "version"
# under mpiexec only rank 0 prints
check "help printed once under 3 ranks" test "$(mpiexec -n 3 "$CURATE" version | wc -l)" = 1
echo "cli ok"

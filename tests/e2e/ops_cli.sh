# Command-line mistakes caught before anything runs (issue 26, finding 9): an option given
# twice (-c a -c b), a stage listed twice in `stages`, an empty `stages`, and a stage run alone
# that `stages` does not place after another, whose error gives the exact command line to run
# it (which then works). None of them touches the workdir. README's `curate run -c
# configs/demo.yaml ...` line works as written, from the repository root.
source "$(dirname "$0")/lib.sh"
mkdir -p "$T/in"
for i in 1 2 3 4; do printf 'int f%d(void) { return %d; }\n' $i $i >"$T/in/f$i.c"; done
W=$T/w
printf 'workdir: %s\nstages: [import, filter]\nimport:\n  paths: [%s]\n' "$W" "$T/in" >"$T/a.yaml"
cp "$T/a.yaml" "$T/b.yaml"
expect_2() { # log, command...: exits 2
  local log=$1 rc=0; shift
  "$@" 2>"$log" || rc=$?
  check "'$*' exits 2 (got $rc)" test $rc = 2
}

# ---- -c twice: the second is named ----
expect_2 "$T/cc.log" "$CURATE" run -c "$T/a.yaml" -c "$T/b.yaml"
contains "$T/cc.log" "option '--config' given twice ('$T/a.yaml', then '$T/b.yaml')"
expect_2 "$T/cc2.log" "$CURATE" import -c "$T/a.yaml" --config="$T/b.yaml"
contains "$T/cc2.log" "then '$T/b.yaml'"

# ---- a stage listed twice, and no stage at all ----
printf 'workdir: %s\nstages: [import, filter,\n         import]\n' "$W" >"$T/twice.yaml"
expect_2 "$T/twice.log" "$CURATE" run -c "$T/twice.yaml"
contains "$T/twice.log" "$T/twice.yaml:2: stages: 'import' listed twice"
expect_2 "$T/twice2.log" "$CURATE" filter -c "$T/twice.yaml"
contains "$T/twice2.log" "'import' listed twice"
printf 'workdir: %s\nstages: []\n' "$W" >"$T/empty.yaml"
expect_2 "$T/empty.log" "$CURATE" run -c "$T/empty.yaml"
contains "$T/empty.log" "$T/empty.yaml:2: stages: the list is empty, nothing to run"
expect_2 "$T/first.log" "$CURATE" run -c "$T/a.yaml" "stages=[filter,import]"
contains "$T/first.log" "stage filter reads the output of the stage before it"
contains "$T/first.log" "has no stage before it"
check "no mistake touched the workdir" test ! -e "$W"

# ---- a later stage alone: the error says exactly what to pass, and that works ----
"$CURATE" run -c "$T/a.yaml" 2>"$T/run.log" || { cat "$T/run.log"; fail "run"; }
expect_2 "$T/alone.log" "$CURATE" reshard -c "$T/a.yaml" reshard.shards=2
want="curate reshard -c $T/a.yaml reshard.shards=2 stages=[import,filter,reshard]"
contains "$T/alone.log" "does not list it; pass \`stages\` with it after the stage it should read: $want"
check "the failed stage command wrote nothing" test ! -e "$W/reshard"
read -ra again <<<"${want#curate }"
"$CURATE" "${again[@]}" 2>"$T/again.log" || { cat "$T/again.log"; fail "the suggested command"; }
contains "$T/again.log" "stage reshard: 4 docs in, 4 out"
records() { jq '[.shards[].records] | add' "$1/manifest.json"; }
check "reshard wrote filter's documents" test "$(records "$W/reshard")" = "$(records "$W/filter")"

# ---- README's run line works as written ----
line=$(grep -m1 '^bin/curate run -c configs/demo.yaml' "$ROOT/README.md" | sed 's/ *#.*//')
[ -n "$line" ] || fail "README has no 'bin/curate run -c configs/demo.yaml' line"
read -ra cmd <<<"$line"
cmd[0]=$CURATE
(cd "$ROOT" && "${cmd[@]}" workdir="$T/demo" progress_interval=1000) 2>"$T/demo.log" ||
  { tail -5 "$T/demo.log"; fail "README's '$line' fails"; }
contains "$T/demo.log" "stages complete"
echo "ops_cli ok"

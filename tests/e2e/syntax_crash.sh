# syntax: inputs on which libtree-sitter 0.20.7 corrupts its heap (a node of 2^16 children or
# more, tree-sitter#2134) in eight grammars, among ordinary files, a large valid file and a large
# broken one: the stage drops each crashing document as parser_fault and keeps or drops the rest
# as usual, under 1 and 2 ranks with identical shards, with the dev and the ASan build; `curate
# syntax-check` names the fault. Before the child-process check (stages/syntax.c) one such
# file killed the rank and the stage.
source "$(dirname "$0")/lib.sh"
in="$T/in.jsonl"
add() { # id lang python-expression of the text
  python3 -c "import json, sys; print(json.dumps({'id': sys.argv[1], 'text': $3, 'metadata': {'lang': sys.argv[2]}}))" "$1" "$2" >>"$in"
}
add crash.json json "'[' * 65535"  # 65,535 bytes: the smallest crash (65,534 do not)
add crash2.json json "'[1,' * 22000"
add crash.py python "'x = ' + 'f(a, ' * 22000"
add crash.lua lua "'x = ' + '{' * 70000"
add crash.rs rust "'fn f() ' + '{' * 70000"
add crash.sh bash "'\$(' * 70000"
add crash.go go "'package x\nvar x = ' + '(' * 70000"
add crash.yaml yaml "'[' * 70000"
add ok.py python "'def f(x):\n    return x + 1\n'"
add bad.py python "'def f(:\n'"
add ok.json json "'{\"a\": [1, 2, 3]}\n'"
add deep_ok.py python "'x = ' + '[' * 30000 + ']' * 30000 + '\n'"  # balanced: parses
add large_ok.go go "open('/usr/share/go-1.19/src/net/http/server.go').read()"
add large_bad.go go "open('/usr/share/go-1.19/src/net/http/server.go').read() + '\nfunc ('"
common=(stages=[import,syntax] import.paths=["$in"] import.shards=4 keep_rejected=true)
for b in "$CURATE" "${CURATE_ASAN:-$ROOT/build/asan/curate}"; do
  [ -x "$b" ] || continue
  for n in 1 2; do
    w="$T/$(basename "$(dirname "$b")")-$n"
    mpiexec -n $n "$b" run workdir="$w" "${common[@]}" 2>"$w.log" ||
      { tail -30 "$w.log"; fail "syntax with $b under -n $n failed"; }
    digest "$w/syntax" | grep -v manifest >"$w.sha"
    S="$w/syntax/stats.json"
    check "$b -n $n: 8 parser faults" test "$(jq .drops.parser_fault.docs "$S")" = 8
    check "$b -n $n: 2 syntax errors" test "$(jq .drops.syntax_error.docs "$S")" = 2
    check "$b -n $n: 4 kept" test "$(jq .docs_out "$S")" = 4
    zstdcat "$w"/syntax/part-*.zst | jq -r .id | sort | tr '\n' ' ' >"$w.kept"
    check "$b -n $n: the right ones kept" test "$(cat "$w.kept")" = "deep_ok.py large_ok.go ok.json ok.py "
    zstdcat "$w"/syntax/rejected/part-*.zst |
      jq -r 'select(.metadata.drop_reason == "parser_fault") | .id' | sort | tr '\n' ' ' >"$w.faults"
    check "$b -n $n: the crashing ones are the faults" test "$(cat "$w.faults")" = \
      "crash.go crash.json crash.lua crash.py crash.rs crash.sh crash.yaml crash2.json "
    cmp -s "$T/$(basename "$(dirname "$CURATE")")-1.sha" "$w.sha" || fail "$b -n $n: shards differ from the dev build's on 1 rank"
  done
done
python3 -c "print('[' * 65535)" >"$T/crash.json"
rc=0; "$CURATE" syntax-check "$T/crash.json" >"$T/cli.out" 2>/dev/null || rc=$?
contains "$T/cli.out" "parser fault (json)"
check "syntax-check exits non-zero on a fault ($rc)" test $rc -ne 0
echo "syntax: 8 inputs that crash libtree-sitter 0.20.7 dropped as parser_fault, the rest as usual"

# Config errors surface before any stage runs (issue 26, finding 3): an error in the last
# stage stops `curate run` before the first starts (nothing is written), naming file, line
# and key; `curate config check` and `curate status` say the same; a stage command checks
# its own stage.
source "$(dirname "$0")/lib.sh"
cat >"$T/bad.yaml" <<YAML
workdir: $T/w
stages: [import, dedup-exact, dedup-near, decontaminate, tokenize]
import: {paths: [/usr/include/linux, $T/nowhere]}
dedup-near:
  bands: 20
  rows: 8
decontaminate: {evalsets: ["he=$T/he.jsonl"]}
tokenize:
  tokenizer: $T/tok.json
  groups:
    code: {match: [lang=c]}
phases:
  p1: {groups: {code: {weight: 1, epochs: 2}}}
YAML
! "$CURATE" run -c "$T/bad.yaml" 2>"$T/run.log" || fail "a bad config ran"
check "nothing was written" test ! -e "$T/w"
contains "$T/run.log" "the config has 6 problems; nothing was run"
contains "$T/run.log" "$T/bad.yaml:3: import.paths: '$T/nowhere' does not exist"
contains "$T/run.log" "$T/bad.yaml:5: dedup-near.bands: bands x rows (20 x 8 = 160) is more than num_hashes (112)"
contains "$T/run.log" "$T/bad.yaml:7: decontaminate.evalsets: '$T/he.jsonl' does not exist"
contains "$T/run.log" "$T/bad.yaml:9: tokenize.tokenizer: '$T/tok.json' does not exist"
contains "$T/run.log" "$T/bad.yaml:11: tokenize.groups.code.match: 'lang=c': the field is source, id, bytes or metadata.KEY"
contains "$T/run.log" "$T/bad.yaml:13: phases.p1.groups.code: give one of weight, tokens or epochs (more than one is set)"
# a required option left unset is named with the file
! "$CURATE" run -c "$T/bad.yaml" stages=[import,relevance] import.paths=[/usr/include/linux] 2>"$T/rel.log" || fail "relevance without a model ran"
contains "$T/rel.log" "$T/bad.yaml: relevance.model: not set, and stage relevance needs it"
# config check says the same and exits 1; status lists them after the stages
! "$CURATE" config check -c "$T/bad.yaml" >"$T/check.out" 2>"$T/check.log" || fail "config check passed a bad config"
contains "$T/check.log" "the config has 6 problems:"
"$CURATE" status -c "$T/bad.yaml" >"$T/status" 2>&1
contains "$T/status" "config: 6 problems a run would stop at:"
contains "$T/status" "dedup-near.bands: bands x rows"
# a stage command checks its own stage only
! "$CURATE" dedup-near -c "$T/bad.yaml" 2>"$T/one.log" || fail "dedup-near ran with bad bands"
contains "$T/one.log" "the config has 1 problem; nothing was run"
# fixed, the same config checks clean and runs
"$CURATE" config check -c "$T/bad.yaml" stages=[import,dedup-exact] import.paths=[/usr/include/linux/tc_act] >"$T/ok.out" \
  || fail "a good config failed the check"
contains "$T/ok.out" "2 stages checked, no problems"
"$CURATE" run -c "$T/bad.yaml" stages=[import,dedup-exact] import.paths=[/usr/include/linux/tc_act] 2>/dev/null || fail "the good config"
echo "ops_config: six problems named before any stage ran"

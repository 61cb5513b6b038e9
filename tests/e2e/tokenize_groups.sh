# tokenize groups and phases: documents are split into Megatron datasets by named match
# rules (a document may be in several) and by a field (group_by), each with its own FIM
# rate, EOD, order and shard size; every group is byte-identical for 1, 2 and 3 ranks, holds
# exactly the documents its rule selects (read back with the independent reader,
# tests/parity/megatron_read.js), and FIMs exactly the documents the seeded draw picks, a
# share within binomial bounds of its rate. The phases' blend files parse as Megatron's
# --data-path does (tests/parity/megatron_blend.py) with the configured weights; a changed
# weight rewrites only the blends, a changed FIM rate retokenizes only that group.
source "$(dirname "$0")/lib.sh"
export LC_ALL=C
command -v node >/dev/null && command -v npm >/dev/null || { echo "node/npm missing"; exit 77; }
source "$ROOT/tests/parity/env.sh"
mkdir -p "$T/in"
# real text: the kernel's UAPI headers, as documents of four sources and three languages
python3 - "$T/in/corpus.jsonl" <<'PY'
import glob, json, sys
files = sorted(glob.glob("/usr/include/linux/*.h"))[:600]
sources = ["github", "github", "repo", "commit", "web"]
langs = ["c", "python", "markdown"]
cats = ["docs", "forum", "blog"]
with open(sys.argv[1], "w") as out:
    for i, f in enumerate(files):
        text = open(f, "rb").read().decode("utf-8", "replace")
        rec = {"id": f"doc-{i:04d}", "text": text, "source": sources[i % 5],
               "metadata": {"lang": langs[i % 3], "category": cats[i % 7 % 3]}}
        out.write(json.dumps(rec) + "\n")
    # an empty commit: no tokens at all in a group without EOD
    out.write(json.dumps({"id": "empty", "text": "", "source": "commit", "metadata": {"lang": "c"}}) + "\n")
PY
cat >"$T/g.yaml" <<YAML
stages: [import, tokenize]
memory_budget: 256KiB
import: {paths: [$T/in/corpus.jsonl], shards: 3}
tokenize:
  tokenizer: $TOK_QWEN3
  seed: 3
  shard_tokens: 60000
  groups:
    file: {match: [source=github], fim: {rate: 0.5}}
    repo: {match: [source=repo], fim: {rate: 0.1}, shuffle: true}
    commit: {match: [source=commit], fim: {rate: 0}, eod: ""}
    web: {match: [source=web, "metadata.category!=forum"], fim: {rate: 1}}
    long: {match: ["bytes>=6000", "metadata.lang=c|python"], shard_tokens: 150000}
phases:
  p1:
    seq_length: 8192
    groups: {file: {weight: 3}, web: {weight: 1}}
  p2:
    seq_length: 32768
    tokens: 2000000
    groups:
      file: {tokens: 300000, fim: {rate: 0.1}}
      repo: {epochs: 2}
      commit: {tokens: 100000}
      web: {tokens: 50000, fim: {rate: 0.1}}
      long: {epochs: 1}
YAML
groups="commit file file.fim0.1 long repo web web.fim0.1"
datasets() { (cd "$1" && for d in $(ls); do [ -f "$d/group.json" ] && echo "$d"; done | xargs); }
tdigest() { (cd "$1" && sha256sum manifest.json */group.json */part-*.bin */part-*.idx); }
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" run -c "$T/g.yaml" workdir="$T/n$n" 2>"$T/n$n.log" || { cat "$T/n$n.log"; fail "run on $n ranks"; }
  tdigest "$T/n$n/tokenize" >"$T/n$n.sha"
done
cmp "$T/n1.sha" "$T/n2.sha" || fail "groups differ between 1 and 2 ranks"
cmp "$T/n1.sha" "$T/n3.sha" || fail "groups differ between 1 and 3 ranks"
w="$T/n1"
check "one directory per dataset" test "$(datasets "$w/tokenize")" = "$groups"
check "no top-level shards" test -z "$(ls "$w/tokenize" | grep '^part-' || true)"
check "several shards in file" test "$(ls "$w"/tokenize/file/part-*.bin | wc -l)" -ge 2

# each group holds exactly what its rule selects, in input order (repo: shuffled)
zstdcat "$w"/import/part-*.jsonl.zst >"$T/all.jsonl"
rule_of() { # group -> jq filter
  case $1 in
    file*) echo 'select(.source=="github")' ;;
    repo) echo 'select(.source=="repo")' ;;
    commit) echo 'select(.source=="commit")' ;;
    web*) echo 'select(.source=="web" and .metadata.category!="forum")' ;;
    long) echo 'select((.text|utf8bytelength)>=6000 and (.metadata.lang=="c" or .metadata.lang=="python"))' ;;
  esac
}
rate() { case $1 in file) echo 0.5 ;; repo) echo 0.1 ;; commit) echo 0 ;; web) echo 1 ;; long) echo 0.5 ;; *.fim0.1) echo 0.1 ;; esac; }
# the seeded draw of tokenize.c (splitmix64 over an FNV-1a hash of the id), reimplemented:
# the documents a rate FIMs, and that share's binomial bound (4 sigma)
cat >"$T/draw.py" <<'PY'
import json, math, sys
M = (1 << 64) - 1
def mix(h):
    h ^= h >> 30; h = (h * 0xbf58476d1ce4e5b9) & M
    h ^= h >> 27; h = (h * 0x94d049bb133111eb) & M
    return h ^ (h >> 31)
def u(seed, ident):
    h = 0xcbf29ce484222325 ^ mix((seed + 0x9e3779b97f4a7c15) & M)
    for b in ident.encode():
        h = ((h ^ b) * 0x100000001b3) & M
    st = (mix(h) + 0x9e3779b97f4a7c15) & M
    return (mix(st) >> 11) / 9007199254740992.0
seed, rate, ids_path, flags_path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
ids = [json.loads(l) for l in open(ids_path)]
want = [1 if rate > 0 and u(seed, i) < rate else 0 for i in ids]
got = [int(l) for l in open(flags_path)]
assert got == want, f"FIM'd documents differ from the seeded draw ({sum(got)} vs {sum(want)})"
n, k = len(ids), sum(got)
sd = math.sqrt(n * rate * (1 - rate))
assert abs(k - n * rate) <= 4 * sd + 1e-9, f"{k} of {n} FIM'd at rate {rate}"
print(f"{n} {k}")
PY
for g in $groups; do
  filt=$(rule_of "$g")
  mode=fim eod='<|endoftext|>'
  [ "$g" = repo ] && mode=shuffled
  [ "$g" = commit ] && eod=''
  jq -c "$filt | .text" "$T/all.jsonl" >"$T/$g.texts"
  jq -c "$filt | .id" "$T/all.jsonl" >"$T/$g.ids"
  check "group $g is not empty" test -s "$T/$g.texts"
  FIM_LIST="$T/$g.flags" node "$ROOT/tests/parity/megatron_read.js" "$w/tokenize/$g" "$TOK_QWEN3" \
    "$T/$g.texts" "$mode" "$eod" >"$T/$g.read" || fail "group $g: the reader did not get its documents back"
  read -r _ nd _ nt _ nf <"$T/$g.read"
  check "group $g: tokens in group.json" test "$(jq .tokens "$w/tokenize/$g/group.json")" = "$nt"
  check "group $g: FIM count in group.json" test "$(jq .fim_docs "$w/tokenize/$g/group.json")" = "$nf"
  if [ "$g" != repo ]; then # shuffled: the flags are in another order than the ids
    python3 "$T/draw.py" 3 "$(rate "$g")" "$T/$g.ids" "$T/$g.flags" >"$T/$g.draw" || fail "group $g: FIM draw"
  fi
  echo "group $g: $nd documents, $nt tokens, $nf FIM" >>"$T/summary"
done
python3 - "$T" <<'PY' || fail "a lower rate FIMs a subset of the documents a higher one does"
import sys
t = sys.argv[1]
a = [int(l) for l in open(f"{t}/file.flags")]; b = [int(l) for l in open(f"{t}/file.fim0.1.flags")]
assert len(a) == len(b) and all(y <= x for x, y in zip(a, b)) and sum(b) < sum(a)
PY
# repo: FIM'd at its rate, order a permutation that is not the input order
read -r _ nd _ _ _ nf <"$T/repo.read"
check "repo FIM share within bounds ($nf of $nd)" python3 -c "import math,sys; n,k=$nd,$nf; sys.exit(abs(k-n*0.1)>4*math.sqrt(n*0.09))"
check "commit: no FIM" test "$(jq .fim_docs "$w/tokenize/commit/group.json")" = 0
check "web: all FIM" test "$(jq .fim_docs "$w/tokenize/web/group.json")" = "$(jq .docs "$w/tokenize/web/group.json")"
check "bytes_in counts the texts, not their JSON lines" test "$(jq .bytes_in "$w/tokenize/stats.json")" = \
  "$(jq -r '.text | utf8bytelength' "$T/all.jsonl" | awk '{s += $1} END {print s}')"
check "forum pages are in no group" test "$(jq .counters.ungrouped_docs "$w/tokenize/stats.json")" -gt 0

# stats, manifest, tokens info
st="$w/tokenize/stats.json"
check "stats: every group" test "$(jq -r '.groups | keys | join(" ")' "$st")" = "$groups"
check "stats: tokens by language" test "$(jq '.groups.file.tokens_by_lang | add' "$st")" = "$(jq .groups.file.tokens "$st")"
check "stats: tokens_by_group" test "$(jq .tokens_by_group.long "$st")" = "$(jq .tokens "$w/tokenize/long/group.json")"
check "manifest tokens sum over the groups" test "$(jq .counters.tokens "$st")" = "$(jq '[.tokens_by_group[]] | add' "$st")"
(cd "$w/tokenize" && jq -r '.files[] | "\(.sha256)  \(.name)"' manifest.json | sha256sum -c --quiet) || fail "manifest checksums"
"$CURATE" tokens info "$w/tokenize" >"$T/info"
contains "$T/info" "file.fim0.1"
check "tokens info: the total" test "$(awk '$1=="total" {print $3}' "$T/info")" = "$(jq .counters.tokens "$st")"
"$CURATE" tokens info "$w/tokenize/web" >"$T/info-web"
check "tokens info of one group" test "$(awk '$1=="." {print $3}' "$T/info-web")" = "$(jq .tokens "$w/tokenize/web/group.json")"
"$CURATE" tokens info "$w/tokenize/web/part-00000.bin" >/dev/null || fail "tokens info PREFIX.bin"
"$CURATE" report "$w" -o "$T/report.html" >/dev/null || fail "report"
contains "$T/report.html" "Stage <b>tokenize</b>: 7 groups."
contains "$T/report.html" "Group <b>long</b>: tokens per language (2 of 2 shown)."
python3 -c "import xml.dom.minidom,re,sys; [xml.dom.minidom.parseString(m) for m in re.findall(r'<svg.*?</svg>', open(sys.argv[1]).read(), re.S)]" "$T/report.html" \
  || fail "the report's charts are well-formed SVG"

# the blends: Megatron's parsing, weights as configured, NeMo's YAML, the JSON
b="$w/blends"
python3 "$ROOT/tests/parity/megatron_blend.py" "$b/p1.megatron" >"$T/p1.blend" || fail "p1 blend"
contains "$T/p1.blend" "weight_sum 1.000000000000"
check "p1: file 3/4" test "$(awk '$1=="file" {print $2}' "$T/p1.blend")" = 0.750000000000
check "p1: web 1/4" test "$(awk '$1=="web" {print $2}' "$T/p1.blend")" = 0.250000000000
check "p1: one prefix per shard with tokens" test "$(head -1 "$T/p1.blend" | cut -d' ' -f2)" = \
  "$(( $(ls "$w"/tokenize/file/part-*.bin | wc -l) + $(ls "$w"/tokenize/web/part-*.bin | wc -l) ))"
python3 "$ROOT/tests/parity/megatron_blend.py" "$b/p2.megatron" >"$T/p2.blend" || fail "p2 blend"
python3 - "$T/p2.blend" "$w/tokenize" <<'PY' || fail "p2 weights are the configured token counts"
import json, sys
got = {l.split()[0]: float(l.split()[1]) for l in list(open(sys.argv[1]))[1:]}
tok = lambda g: json.load(open(f"{sys.argv[2]}/{g}/group.json"))["tokens"]
want = {"file.fim0.1": 300000, "repo": 2 * tok("repo"), "commit": 100000, "web.fim0.1": 50000, "long": tok("long")}
s = sum(want.values())
assert set(got) == set(want), got
for g in want:
    assert abs(got[g] - want[g] / s) < 1e-9, (g, got[g], want[g] / s)
PY
python3 - "$b" <<'PY' || fail "NeMo YAML and JSON blends"
import json, sys, yaml
b = sys.argv[1]
y = yaml.safe_load(open(f"{b}/p2.nemo.yaml"))
j = json.load(open(f"{b}/p2.json"))
assert y["model"]["encoder_seq_length"] == 32768 == j["seq_length"]
pre = y["model"]["data"]["data_prefix"]
words = open(f"{b}/p2.megatron").read().split()
assert len(pre) == len(j["paths"]) == len(words) and len(pre) % 2 == 0
for a, c, m in zip(pre[0::2], j["paths"][0::2], words[0::2]):
    assert abs(a - c) < 1e-11 and abs(float(m) - c) < 1e-11
assert pre[1::2] == j["paths"][1::2] == words[1::2]
g = {x["group"]: x for x in j["groups"]}
assert g["file"]["dataset"] == "file.fim0.1" and g["file"]["fim_rate"] == 0.1
assert abs(sum(x["weight"] for x in j["groups"]) - 1) < 1e-12
assert abs(g["repo"]["epochs"] * g["repo"]["tokens"] - g["repo"]["phase_tokens"]) <= 1
assert abs(g["commit"]["phase_tokens"] - 2000000 * g["commit"]["weight"]) < 1
PY

# a rerun is up to date; new weights rewrite only the blends
"$CURATE" run -c "$T/g.yaml" workdir="$w" 2>"$T/rerun.log"
contains "$T/rerun.log" "stage tokenize: up to date"
cp "$b/p1.megatron" "$T/p1.before"
"$CURATE" run -c "$T/g.yaml" workdir="$w" phases.p1.groups.web.weight=3 2>"$T/weights.log"
contains "$T/weights.log" "stage tokenize: up to date"
python3 "$ROOT/tests/parity/megatron_blend.py" "$b/p1.megatron" >"$T/p1b.blend"
check "new weights: web 1/2" test "$(awk '$1=="web" {print $2}' "$T/p1b.blend")" = 0.500000000000
tdigest "$w/tokenize" | cmp - "$T/n1.sha" || fail "new weights changed token files"
# a changed FIM rate retokenizes that group alone, and equals a fresh run
"$CURATE" run -c "$T/g.yaml" workdir="$w" tokenize.groups.repo.fim.rate=0.3 2>"$T/fim.log"
check "one group tokenized" test "$(jq .counters.groups_tokenized "$w/tokenize/stats.json")" = 1
check "the others kept" test "$(jq .counters.groups_reused "$w/tokenize/stats.json")" = 6
contains "$T/fim.log" "1 tokenized, 6 kept"
mpiexec -n 2 "$CURATE" run -c "$T/g.yaml" workdir="$T/fresh" tokenize.groups.repo.fim.rate=0.3 2>"$T/fresh.log"
tdigest "$w/tokenize" >"$T/inc.sha"
tdigest "$T/fresh/tokenize" | cmp - "$T/inc.sha" || fail "an incremental rerun differs from a fresh run"
check "unchanged groups' files untouched" test "$(grep -v -e ' repo/' -e manifest.json "$T/inc.sha")" = "$(grep -v -e ' repo/' -e manifest.json "$T/n1.sha")"
check "the changed group's files changed" test "$(grep ' repo/part' "$T/inc.sha")" != "$(grep ' repo/part' "$T/n1.sha")"
# a group removed from the config goes away; --force retokenizes everything
"$CURATE" run -c "$T/g.yaml" workdir="$w" tokenize.groups.repo.fim.rate=0.3 phases.p2.groups.web.fim.rate=1 --force 2>"$T/force.log"
check "--force: nothing kept" test "$(jq .counters.groups_reused "$w/tokenize/stats.json")" = 0
check "the unused variant is gone" test ! -e "$w/tokenize/web.fim0.1"

# group_by: one dataset per language, the same for 1 and 3 ranks
for n in 1 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/by$n" stages=[import,tokenize] import.paths="[$T/in/corpus.jsonl]" \
    import.shards=3 tokenize.tokenizer="$TOK_QWEN3" tokenize.group_by=metadata.lang \
    tokenize.groups.python.fim.rate=0 memory_budget=256KiB 2>"$T/by$n.log" || { cat "$T/by$n.log"; fail "group_by on $n ranks"; }
  tdigest "$T/by$n/tokenize" >"$T/by$n.sha"
done
cmp "$T/by1.sha" "$T/by3.sha" || fail "group_by differs between 1 and 3 ranks"
check "a dataset per language" test "$(datasets "$T/by1/tokenize")" = "c markdown python"
jq -c 'select(.metadata.lang=="python") | .text' "$T/all.jsonl" >"$T/py.texts"
node "$ROOT/tests/parity/megatron_read.js" "$T/by1/tokenize/python" "$TOK_QWEN3" "$T/py.texts" plain >/dev/null \
  || fail "group_by python: its documents, without FIM (its own rate 0)"

# configs/seed-coder.yaml's groups and phases on this corpus (Qwen's sentinels for the
# report's): the two phases' blends, continued pretraining at FIM 0.1 and 32K context
"$CURATE" run -c "$ROOT/configs/seed-coder.yaml" workdir="$T/sc" stages=[import,tokenize] \
  import.paths="[$T/in/corpus.jsonl]" import.shards=2 tokenize.tokenizer="$TOK_QWEN3" \
  'tokenize.fim.prefix=<|fim_prefix|>' 'tokenize.fim.middle=<|fim_middle|>' \
  'tokenize.fim.suffix=<|fim_suffix|>' memory_budget=256KiB 2>"$T/sc.log" || { cat "$T/sc.log"; fail "seed-coder.yaml"; }
check "seed-coder datasets" test "$(datasets "$T/sc/tokenize")" = "commit file file.fim0.1 long repo web web.fim0.1"
check "seed-coder: the continued phase at 32K" test "$(jq .seq_length "$T/sc/blends/continued.json")" = 32768
check "seed-coder: file at FIM 0.1 there" test "$(jq -r '.groups[] | select(.group=="file") | .dataset' "$T/sc/blends/continued.json")" = file.fim0.1
python3 "$ROOT/tests/parity/megatron_blend.py" "$T/sc/blends/pretrain.megatron" >"$T/sc.blend" || fail "seed-coder pretrain blend"
python3 - "$T/sc.blend" "$T/sc/tokenize" <<'PY' || fail "seed-coder pretrain: one epoch each, weights follow the sizes"
import json, sys
got = {l.split()[0]: float(l.split()[1]) for l in list(open(sys.argv[1]))[1:]}
tok = {g: json.load(open(f"{sys.argv[2]}/{g}/group.json"))["tokens"] for g in ("file", "web")}
assert set(got) == set(tok) and all(abs(got[g] - tok[g] / sum(tok.values())) < 1e-9 for g in tok), got
PY

# errors name the place
! "$CURATE" tokenize -c "$T/g.yaml" workdir="$w" 'tokenize.groups.bad.match=[lang=c]' 2>"$T/err.log" || fail "a bad rule accepted"
contains "$T/err.log" "tokenize.groups.bad.match: 'lang=c': the field is source, id, bytes or metadata.KEY"
! "$CURATE" tokenize -c "$T/g.yaml" workdir="$w" phases.p1.groups.nope.weight=1 2>"$T/err2.log" || fail "an unknown group accepted"
contains "$T/err2.log" "phases.p1.groups.nope: no tokenize dataset 'nope'"
! "$CURATE" tokenize -c "$T/g.yaml" workdir="$w" phases.p1.groups.web.tokens=5 2>"$T/err3.log" || fail "weight and tokens accepted"
contains "$T/err3.log" "phases.p1.groups.web: give one of weight, tokens or epochs (more than one is set)"
cat "$T/summary"

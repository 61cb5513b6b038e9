# The oracle stage with its http engine against tests/oracle/server.py, a STAND-IN for a real
# LLM server that speaks vLLM's chat-completions wire format and answers deterministically:
# - the sample is the one the rule defines (recomputed here from the ids), and the label
#   shards are byte-identical for 1, 2 and 3 ranks;
# - every injected fault (429 with and without Retry-After, 500, 503, a stall past the timeout,
#   a reset mid-body, malformed JSON, no rating, out of range, a refusal, empty, truncated) is
#   survived or reported under its reason, and every sampled document is labelled exactly once;
# - SIGKILL mid-run (of the one rank, and of one of 2 ranks), then a rerun: the server's log
#   shows no question answered before the kill asked again, and the labels equal an
#   uninterrupted run's;
# - the cache answers a rerun, the API key never shows, logprobs give the weighted rating,
#   the fastText files train a model, and bad setups fail with clear errors.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SERVER="$ROOT/tests/oracle/server.py"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start_server() { # name, server options...
  local name=$1; shift
  $PY "$SERVER" --port-file "$T/$name.port" --log "$T/$name.req" "$@" 2>"$T/$name.err" &
  pids+=($!)
  for _ in $(seq 1 600); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
  [ -s "$T/$name.port" ] || { cat "$T/$name.err"; fail "stand-in server $name did not start"; }
  eval "${name}_url=http://127.0.0.1:$(cat "$T/$name.port")/v1"
}
start_server main
start_server slow --stall-s 1000
start_server keyed --api-key 's3cr3t-KEY-123'

# 120 code documents in 4 languages over 3 input files, and 40 web pages
mkdir -p "$T/in" "$T/web"
$PY - "$T" <<'PYEOF'
import json, random, sys
r = random.Random(7)
langs = ["python"] * 6 + ["c"] * 3 + ["go"] * 2 + ["rust"]
for part in range(3):
    with open(f"{sys.argv[1]}/in/part{part}.jsonl", "w") as f:
        for i in range(part * 40, part * 40 + 40):
            f.write(json.dumps({"id": f"gh:o/r:f{i:03d}", "text": f"def f{i}(x):\n    return x * {i}\n",
                                "source": "github", "metadata": {"lang": r.choice(langs)}}) + "\n")
        f.write(json.dumps({"id": f"page{part}", "text": "a page", "source": "web"}) + "\n")
with open(f"{sys.argv[1]}/web/pages.jsonl", "w") as f:
    for i in range(40):
        cat = r.choice(["blog", "forum", "documentation"])
        f.write(json.dumps({"id": f"web{i:02d}", "text": f"How to sort a list {i}\nuse sorted() {i * 3}",
                            "source": "web", "metadata": {"category": cat, "url": f"http://x/{i}"}}) + "\n")
PYEOF
common=(stages=[import,oracle] import.paths=["$T/in"] import.format=jsonl import.shards=3
        oracle.model=stand-in-coder oracle.sample=30 oracle.per_stratum=12 oracle.seed=5
        oracle.shards=4 oracle.concurrency=3)

# ---- the sample and its rank invariance ----
for n in 1 2 3; do
  mpiexec -n $n "$CURATE" run workdir="$T/n$n" "${common[@]}" oracle.base_url=["$main_url"] \
    2>"$T/n$n.log" || { cat "$T/n$n.log"; fail "run on $n ranks"; }
  digest "$T/n$n/oracle" >"$T/n$n.sha"
done
cmp "$T/n1.sha" "$T/n2.sha" || fail "labels differ between 1 and 2 ranks"
cmp "$T/n1.sha" "$T/n3.sha" || fail "labels differ between 1 and 3 ranks"
contains "$T/n1.log" "30 documents sampled from 4 languages"
zstdcat "$T"/n1/import/part-*.jsonl.zst >"$T/corpus.jsonl"
zstdcat "$T"/n1/oracle/part-*.jsonl.zst >"$T/labels.jsonl"
$PY - "$T/corpus.jsonl" "$T/labels.jsonl" "$T/n1/oracle/stats.json" <<'PYEOF' || fail "the sample is not the rule's"
import hashlib, json, sys
M = (1 << 64) - 1
def key(seed, s):
    h = 0xcbf29ce484222325 ^ seed
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & M
    h ^= h >> 30; h = (h * 0xbf58476d1ce4e5b9) & M
    h ^= h >> 27; h = (h * 0x94d049bb133111eb) & M
    return h ^ (h >> 31)
docs = [json.loads(l) for l in open(sys.argv[1])]
code = [d for d in docs if d["source"] != "web"]
by = {}
for d in code:
    by.setdefault(d["metadata"]["lang"], []).append(d)
cands = []
for lang, ds in by.items():
    cands += sorted(ds, key=lambda d: key(5, d["id"]))[:12]
want = [d["id"] for d in sorted(cands, key=lambda d: key(5, d["id"]))[:30]]
labels = [json.loads(l) for l in open(sys.argv[2])]
order = {d["id"]: i for i, d in enumerate(docs)}
got = [d["id"] for d in labels]
assert sorted(got) == sorted(want), (sorted(got), sorted(want))
assert got == sorted(got, key=order.get), "labels are not in input order"
st = json.load(open(sys.argv[3]))
assert st["sample"]["population"] == {k: len(v) for k, v in sorted(by.items())}, st["sample"]
for d in labels:
    assert d["status"] == "ok" and d["score"] == d["rating"] / 10
    h = d["oracle"]["prompt_sha256"]
    assert d["rating"] == int(h[:8], 16) % 11, d  # the stand-in's rule, from the prompt's hash
    assert d["oracle"]["template"] == "code-quality" and d["oracle"]["explanation"].startswith("Stand-in review")
    assert d["text"] == next(x["text"] for x in docs if x["id"] == d["id"])
hist = st["ratings_by_lang"]
assert sum(map(sum, hist.values())) == 30 and set(hist) <= set(by)
print("sample:", st["sample"]["per_stratum"])
PYEOF
# curate report charts the ratings per language, with the stage's counts
"$CURATE" report "$T/n1" -o "$T/report.html" >/dev/null || fail "report"
for lang in $(jq -r '.ratings_by_lang | keys[]' "$T/n1/oracle/stats.json"); do
  contains "$T/report.html" "<b>oracle</b>, $lang: $(jq ".ratings_by_lang.$lang | add" "$T/n1/oracle/stats.json") rated."
done
# the cache answers a rerun; runtime options change nothing; a new template reruns
"$CURATE" run workdir="$T/n1" "${common[@]}" oracle.base_url=["$main_url"] oracle.concurrency=7 \
  2>"$T/rt.log" || fail "rerun"
contains "$T/rt.log" "stage oracle: up to date"
before=$(wc -l <"$T/main.req")
"$CURATE" run workdir="$T/n1" "${common[@]}" oracle.base_url=["$main_url"] --force 2>"$T/force.log" ||
  fail "forced rerun"
test "$(wc -l <"$T/main.req")" = "$before" || fail "a forced rerun asked the server again"
jq -e '.counters.cache_hits == 30 and .counters.asked == 0' "$T/n1/oracle/stats.json" >/dev/null ||
  fail "cache hits not counted"
# a side stage: the stage after oracle reads what oracle read, the documents
"$CURATE" run workdir="$T/n1" "${common[@]/stages=\[import,oracle\]/stages=[import,oracle,filter]}" \
  oracle.base_url=["$main_url"] 2>"$T/side.log" || { cat "$T/side.log"; fail "a stage after oracle"; }
contains "$T/side.log" "stage oracle: up to date"
test "$(jq .docs_in "$T/n1/filter/stats.json")" = 123 || fail "the stage after oracle did not read the documents"
printf 'Rate this {language} file.\n{content}\nRating: [[X]]\n' >"$T/mine.txt"
"$CURATE" run workdir="$T/n1" "${common[@]}" oracle.base_url=["$main_url"] oracle.template="$T/mine.txt" \
  2>"$T/tpl.log" || fail "own template"
test "$(wc -l <"$T/main.req")" = $((before + 30)) || fail "a new template did not ask again"
zstdcat "$T"/n1/oracle/part-*.jsonl.zst | jq -e -s 'all(.oracle.template == "mine")' >/dev/null || fail "template name"

# ---- faults: each survived or reported, every document labelled once ----
mkdir -p "$T/faults"
$PY - "$T/faults/f.jsonl" <<'PYEOF'
import json, sys
faults = ["429:2", "429ra", "500:2", "503", "stall", "reset", "badjson", "badjson:9", "norating",
          "outofrange", "refuse", "empty", "truncated"]
with open(sys.argv[1], "w") as f:
    for i in range(12):
        f.write(json.dumps({"id": f"plain{i}", "text": f"x = {i}", "source": "github", "metadata": {"lang": "python"}}) + "\n")
    for name in faults:
        f.write(json.dumps({"id": "fault-" + name, "text": f"y = 1  # @@fault:{name}@@", "source": "github",
                            "metadata": {"lang": "python"}}) + "\n")
PYEOF
"$CURATE" run workdir="$T/fw" stages=[import,oracle] import.paths=["$T/faults"] import.format=jsonl \
  oracle.model=stand-in-coder oracle.base_url=["$slow_url"] oracle.sample=100 oracle.shards=2 \
  oracle.concurrency=4 oracle.timeout=10 oracle.retries=3 oracle.backoff=0.01 oracle.backoff_max=0.02 \
  2>"$T/faults.log" || { cat "$T/faults.log"; fail "the run with faults failed"; }
zstdcat "$T"/fw/oracle/part-*.jsonl.zst >"$T/f_ok.jsonl"
zstdcat "$T"/fw/oracle/rejected/part-*.jsonl.zst >"$T/f_rej.jsonl"
$PY - "$T/f_ok.jsonl" "$T/f_rej.jsonl" "$T/fw/oracle/stats.json" "$T/slow.req" <<'PYEOF' || fail "faults"
import json, sys
ok = [json.loads(l) for l in open(sys.argv[1])]
rej = [json.loads(l) for l in open(sys.argv[2])]
st = json.load(open(sys.argv[3]))
ids = [d["id"] for d in ok + rej]
assert len(ids) == len(set(ids)) == 25, ids  # each document once
status = {d["id"]: d["status"] for d in ok + rej}
want = {"fault-badjson:9": "bad_response", "fault-norating": "unparseable", "fault-outofrange": "out_of_range",
        "fault-refuse": "refused", "fault-empty": "empty", "fault-truncated": "truncated"}
for i, s in status.items():
    assert s == want.get(i, "ok"), (i, s)
assert all(d["score"] is None for d in rej) and next(d for d in rej if d["id"] == "fault-outofrange")["rating"] == 12
assert "answer" in next(d for d in rej if d["id"] == "fault-norating")["oracle"]  # kept for audit
c = st["counters"]
assert (c["retries_429"], c["retries_5xx"], c["retries_timeout"], c["retries_connection"],
        c["retries_bad_response"]) == (3, 3, 1, 1, 4), c
assert c["retry_wait_ms"] >= 1000, c  # Retry-After: 1 was honoured
assert {k: v["docs"] for k, v in st["drops"].items()} == {v: 1 for v in want.values()}, st["drops"]
log = [json.loads(l) for l in open(sys.argv[4])]
assert c["requests"] == len(log), (c["requests"], len(log))
print("faults:", {k: v for k, v in c.items() if k.startswith("retries")})
PYEOF
contains "$T/faults.log" "not a chat completion after 4 attempts"

# ---- SIGKILL mid-run, then a rerun ----
# (the server's log before the kill, after the rerun, what was killed): no question the
# server answered before the kill (a stall excepted) is asked again, and every other is
no_repeats() {
  $PY - "$1" "$2" "$3" <<'PYEOF'
import json, sys
before = [json.loads(l) for l in open(sys.argv[1])]
after = [json.loads(l) for l in open(sys.argv[2])][len(before):]
answered = {r["sha256"] for r in before if r["status"] == 200 and r["fault"] != "stall"}
again = [r for r in after if r["sha256"] in answered]
assert not again, again
assert len(after) == 40 - len(answered), (len(after), len(answered))
print(f"{sys.argv[3]}: {len(answered)} answered before the kill, {len(after)} asked after")
PYEOF
}
# the stall holds one request open (the first time its prompt is asked) until the kill: with
# one request in flight, everything the server answered before it reached the cache
mkdir -p "$T/kill"
$PY - "$T/kill/k.jsonl" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(40):
        text = f"z = {i}" + ("  # @@fault:stall@@" if i == 23 else "")
        f.write(json.dumps({"id": f"k{i:02d}", "text": text, "source": "github", "metadata": {"lang": "go"}}) + "\n")
PYEOF
kill_args=(stages=[import,oracle] import.paths=["$T/kill"] import.format=jsonl oracle.model=stand-in-coder
           oracle.base_url=["$slow_url"] oracle.sample=40 oracle.shards=4 oracle.concurrency=1)
: >"$T/slow.req"
"$CURATE" run workdir="$T/kw" "${kill_args[@]}" 2>"$T/kill.log" &
victim=$!
for _ in $(seq 1 6000); do grep -q '"fault": "stall"' "$T/slow.req" && break; sleep 0.05; done
grep -q '"fault": "stall"' "$T/slow.req" || fail "the killed run never reached the stalled request"
kill -9 $victim
wait $victim 2>/dev/null && fail "the killed run exited 0"
cp "$T/slow.req" "$T/before.req"
"$CURATE" run workdir="$T/kw" "${kill_args[@]}" 2>"$T/resume.log" || { cat "$T/resume.log"; fail "resume"; }
no_repeats "$T/before.req" "$T/slow.req" "kill of the one rank" ||
  fail "a question answered before the kill was asked again"
"$CURATE" run workdir="$T/kclean" "${kill_args[@]}" 2>"$T/clean.log" || fail "uninterrupted run"
diff <(cd "$T/kw/oracle" && sha256sum part-* rejected/part-*) \
     <(cd "$T/kclean/oracle" && sha256sum part-* rejected/part-*) || fail "resumed labels differ"

# the same with 2 ranks, SIGKILL of one: a stall in each rank's first label shard (shards 0
# and 1 go to ranks 0 and 1) holds each rank's only request open, so again everything the
# server answered had reached a cache
mkdir -p "$T/kill2"
$PY - "$T/kill2/k.jsonl" <<'PYEOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(40):
        text = f"w = {i}" + ("  # @@fault:stall@@" if i in (5, 15) else "")
        f.write(json.dumps({"id": f"m{i:02d}", "text": text, "source": "github", "metadata": {"lang": "go"}}) + "\n")
PYEOF
kill2_args=("${kill_args[@]/import.paths=\[$T\/kill\]/import.paths=[$T/kill2]}")
: >"$T/slow.req"
mpiexec -n 2 "$CURATE" run workdir="$T/kw2" "${kill2_args[@]}" >"$T/kill2.out" 2>"$T/kill2.log" &
job=$!
for _ in $(seq 1 6000); do [ "$(grep -c '"fault": "stall"' "$T/slow.req")" = 2 ] && break; sleep 0.05; done
[ "$(grep -c '"fault": "stall"' "$T/slow.req")" = 2 ] || fail "the 2-rank run never reached both stalled requests"
rank=$(pgrep -f "^$CURATE run workdir=$T/kw2" | head -1)
[ -n "$rank" ] || fail "no rank process to kill"
kill -9 "$rank"
wait $job 2>/dev/null && fail "the 2-rank run survived the kill of a rank"
cp "$T/slow.req" "$T/before2.req"
mpiexec -n 2 "$CURATE" run workdir="$T/kw2" "${kill2_args[@]}" 2>"$T/resume2.log" || { cat "$T/resume2.log"; fail "resume on 2 ranks"; }
no_repeats "$T/before2.req" "$T/slow.req" "kill of one of 2 ranks" ||
  fail "2 ranks: a question answered before the kill was asked again"
"$CURATE" run workdir="$T/kclean2" "${kill2_args[@]}" 2>"$T/clean2.log" || fail "uninterrupted run (2)"
diff <(cd "$T/kw2/oracle" && sha256sum part-* rejected/part-*) \
     <(cd "$T/kclean2/oracle" && sha256sum part-* rejected/part-*) || fail "labels resumed on 2 ranks differ"

# ---- the API key: needed, used, never shown ----
"$CURATE" run workdir="$T/key" "${common[@]}" oracle.base_url=["$keyed_url"] 2>"$T/nokey.log" &&
  fail "a server that wants a key accepted none"
contains "$T/nokey.log" "$keyed_url/models: HTTP 401"
ORACLE_KEY='s3cr3t-KEY-123' "$CURATE" run workdir="$T/key" "${common[@]}" oracle.base_url=["$keyed_url"] \
  oracle.api_key_env=ORACLE_KEY 2>"$T/key.log" || { cat "$T/key.log"; fail "run with the key"; }
"$CURATE" run workdir="$T/key" "${common[@]}" oracle.base_url=["$keyed_url"] oracle.api_key_env=NO_SUCH_VAR \
  2>"$T/novar.log" --force && fail "an unset key variable accepted"
contains "$T/novar.log" "NO_SUCH_VAR, which is not set"
if grep -rl 's3cr3t' "$T/key" "$T"/key.log "$T"/nokey.log; then fail "the API key was written"; fi

# ---- logprobs: the probability-weighted rating ----
"$CURATE" run workdir="$T/lp" "${common[@]}" oracle.base_url=["$main_url"] oracle.logprobs=true \
  2>"$T/lp.log" || { cat "$T/lp.log"; fail "logprobs run"; }
zstdcat "$T"/lp/oracle/part-*.jsonl.zst >"$T/lp.jsonl"
$PY - "$T/lp.jsonl" "$ROOT/tests/oracle" <<'PYEOF' || fail "rating_expected"
import json, math, sys
sys.path.insert(0, sys.argv[2])
import server  # the stand-in's own distribution
n = 0
for d in map(json.loads, open(sys.argv[1])):
    h = d["oracle"]["prompt_sha256"]
    r = int(h[:8], 16) % 11
    p = {int(t): math.exp(lp) for t, lp in server.digit_distribution(r, int(str(r)[0]), h)}
    if r == 10:  # "1" "0": the "0" token's own probability splits P("1")
        q0 = math.exp(-0.01)
        p[10], p[1] = p[1] * q0, p[1] * (1 - q0)
    want = sum(v * k for k, v in p.items()) / sum(p.values())
    assert abs(d["oracle"]["rating_expected"] - want) < 1e-9, (d["id"], r, d["oracle"]["rating_expected"], want)
    n += 1
assert n == 30
print("logprobs: 30 expected ratings match the server's distributions")
PYEOF

# ---- web labels into a fastText model ----
"$CURATE" run workdir="$T/ft" stages=[import,oracle] import.paths=["$T/web"] import.format=jsonl \
  oracle.model=stand-in-coder oracle.base_url=["$main_url"] oracle.template=web-relevance oracle.sample=40 \
  oracle.fasttext=true oracle.fasttext_threshold=5 2>"$T/ft.log" || { cat "$T/ft.log"; fail "web labels"; }
zstdcat "$T"/ft/oracle/part-*.jsonl.zst >"$T/ft.jsonl"
$PY - "$T/ft.jsonl" "$T/ft/oracle" <<'PYEOF' || fail "fastText files"
import json, sys
labels = {d["id"]: d for d in map(json.loads, open(sys.argv[1]))}
assert len(labels) == 40 and all("{category}" not in d["oracle"]["explanation"] for d in labels.values())
lines = open(sys.argv[2] + "/fasttext.train.txt").read().splitlines() + open(sys.argv[2] + "/fasttext.valid.txt").read().splitlines()
assert len(lines) == 40
want = sorted(("__label__code" if d["rating"] >= 5 else "__label__other") + " " + " ".join(d["text"].split())
              for d in labels.values())
assert sorted(lines) == want
ntrain = len(open(sys.argv[2] + "/fasttext.train.txt").read().splitlines())
assert 18 <= ntrain <= 38, ntrain  # 70% of 40 by a hash of the id
st = json.load(open(sys.argv[2] + "/stats.json"))
assert st["fasttext"]["train"] == ntrain and set(st["ratings_by_category"]) == {"blog", "forum", "documentation"}
PYEOF
"$CURATE" fasttext supervised -input "$T/ft/oracle/fasttext.train.txt" -output "$T/ft/model" -epoch 5 \
  -thread 1 >/dev/null 2>&1 || fail "fasttext supervised on the oracle's file"
"$CURATE" fasttext test "$T/ft/model.bin" "$T/ft/oracle/fasttext.valid.txt" >"$T/ft.test" || fail "fasttext test"
contains "$T/ft.test" "P@1"

# ---- bad setups ----
"$CURATE" run workdir="$T/bad" "${common[@]}" oracle.base_url=["$main_url"] oracle.model=nope 2>"$T/model.log" &&
  fail "an unknown model accepted"
contains "$T/model.log" 'does not serve the model "nope"'
contains "$T/model.log" "stand-in-coder"
"$CURATE" run workdir="$T/bad" "${common[@]}" oracle.base_url=[http://127.0.0.1:1/v1] oracle.retries=1 \
  oracle.backoff=0.01 2>"$T/unreach.log" && fail "an unreachable server accepted"
contains "$T/unreach.log" "unreachable (2 attempts): http://127.0.0.1:1/v1/models"
grep -q "documents sampled" "$T/unreach.log" && fail "the corpus was read before the server was checked"
printf 'no slot here\n' >"$T/noslot.txt"
"$CURATE" run workdir="$T/bad" "${common[@]}" oracle.base_url=["$main_url"] oracle.template="$T/noslot.txt" \
  2>"$T/noslot.log" && fail "a template without {content} accepted"
contains "$T/noslot.log" "$T/noslot.txt: the template has no {content} slot"
printf '{"id":"a401","text":"@@fault:401@@","source":"github"}\n' >"$T/in/zz401.jsonl"
"$CURATE" run workdir="$T/bad401" "${common[@]}" oracle.base_url=["$main_url"] oracle.sample=1000 \
  2>"$T/401.log" && fail "a 401 mid-run accepted"
contains "$T/401.log" "refused the request: $main_url/chat/completions: HTTP 401"
echo "oracle: sample by rule, same labels for 1-3 ranks, faults survived, kill resumed, key hidden"

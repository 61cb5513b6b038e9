# Benchmark of the oracle's http engine: requests/s and the client's CPU per request on one
# rank as a function of oracle.concurrency, against tests/oracle/server.py (the STAND-IN LLM
# server) with a fixed 50 ms service time; the reference client is curl's own parallel mode
# (`curl --parallel --parallel-max N`, libcurl multi too) sending the same number of requests
# to the same server in the same run. The ideal is concurrency / 50 ms.
# Sourced by scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio); prints its section.
OW="$W/oracle"
mkdir -p "$OW"
python3 tests/oracle/server.py --port-file "$OW/port" --delay-ms 50 2>"$OW/server.err" &
opid=$!
for _ in $(seq 1 600); do [ -s "$OW/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$OW/port")/v1"
# as many documents as the largest run asks (distinct texts: nothing is answered twice)
N_MAX=2048
mkdir -p "$OW/in"
python3 - "$OW/in/docs.jsonl" "$N_MAX" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"id": f"b{i:05d}", "text": f"def f{i}(x):\n    return x * {i}\n" * 20,
                            "source": "github", "metadata": {"lang": "python"}}) + "\n")
PY
"$C" import workdir="$OW/wd" import.paths="[$OW/in]" import.format=jsonl >/dev/null 2>&1
body='{"model":"stand-in-coder","messages":[{"role":"user","content":"Rate this code."}],"temperature":0,"max_tokens":512}'
echo "$body" >"$OW/body.json"
run_curate() { # concurrency n -> "wall user sys"
  rm -rf "$OW/wd/oracle" "$OW/cache"
  /usr/bin/time -f "%e %U %S" -o "$OW/time" "$C" oracle workdir="$OW/wd" stages="[import, oracle]" \
    oracle.model=stand-in-coder oracle.base_url="[$url]" oracle.sample="$2" oracle.shards=1 \
    oracle.concurrency="$1" oracle.cache_dir="$OW/cache" >/dev/null 2>&1 || echo "bench: oracle failed" >&2
  cat "$OW/time"
}
run_curl() { # concurrency n -> "wall user sys"
  for i in $(seq "$2"); do
    [ "$i" -gt 1 ] && echo next
    printf 'url = "%s/chat/completions"\nheader = "Content-Type: application/json"\ndata = "@%s"\noutput = "/dev/null"\n' \
      "$url" "$OW/body.json"
  done >"$OW/curl.cfg"
  /usr/bin/time -f "%e %U %S" -o "$OW/time" curl -s --no-progress-meter --fail --parallel \
    --parallel-max "$1" -K "$OW/curl.cfg" ||
    echo "bench: curl failed" >&2
  cat "$OW/time"
}
# the best of R runs by wall time, as "wall cpu"
best_of() { # function concurrency n
  local b="" bc=""
  for _ in $(seq "$R"); do
    read -r w u s < <("$@")
    if [ -z "$b" ] || awk -v w="$w" -v b="$b" 'BEGIN { exit !(w < b) }'; then
      b=$w; bc=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
    fi
  done
  echo "$b $bc"
}
rows=""
for c in 1 4 16 64 256; do
  n=$(( c * 8 < 40 ? 40 : c * 8 ))
  read -r wc cc < <(best_of run_curate "$c" "$n")
  read -r wr cr < <(best_of run_curl "$c" "$n")
  rows+=$(awk -v c="$c" -v n="$n" -v wc="$wc" -v cc="$cc" -v wr="$wr" -v cr="$cr" 'BEGIN {
    printf "| %d | %d | %.0f | %.0f | %.0f | %.2f | %.2f | %.1f%% | %.2f |\n", c, n, c / 0.05,
      n / wc, n / wr, cc / n * 1000, cr / n * 1000, cc / wc * 100, (n / wc) / (n / wr) }')$'\n'
done
kill "$opid" 2>/dev/null; wait "$opid" 2>/dev/null || true

# the builtin engine on a tiny random causal LM: prompts/s of the whole stage on the CPU
# against the PyTorch reference's equations (float32, the same threads) over prompts of the
# same token counts, the 10 digit rows of lm_head included
source tests/parity/env.sh >/dev/null
"$C" scorer init --preset tiny --seed 3 -t "$TOK_QWEN3" -o "$OW/lm" --lm untied >/dev/null 2>&1
NB=32
run_builtin() {
  rm -rf "$OW/wd/oracle" "$OW/bcache"
  "$C" oracle workdir="$OW/wd" stages="[import, oracle]" oracle.engine=builtin oracle.model="$OW/lm" \
    oracle.sample=$NB oracle.shards=1 oracle.max_chars=2KiB oracle.cache_dir="$OW/bcache" >/dev/null 2>&1 ||
    echo "bench: builtin oracle failed" >&2
}
t_b=$(best run_builtin)
zstdcat "$OW"/wd/oracle/part-*.jsonl.zst | python3 -c 'import json, sys; print(" ".join(str(json.loads(l)["oracle"]["prompt_tokens"]) for l in sys.stdin))' >"$OW/lens"
ptok=$(awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s }' "$OW/lens")
ref_builtin() {
  /usr/bin/python3 - "$OW/lm" "$OW/lens" <<'PY'
import os, sys, time, torch
sys.path.insert(0, "tests/parity")
import scorer_ref as R
torch.set_num_threads(os.cpu_count())
cfg, w = R.load(sys.argv[1], torch.float32)
lens = [int(x) for x in open(sys.argv[2]).read().split()]
g = torch.Generator().manual_seed(0)
seqs = [torch.randint(cfg["vocab_size"], (n,), generator=g).tolist() for n in lens]
head = w["lm_head.weight"][15:25]  # ten rows, as the digits'
with torch.no_grad():
    R.final_hidden(cfg, w, seqs[0])  # warm-up
    t0 = time.perf_counter()
    for ids in seqs:
        (head @ R.final_hidden(cfg, w, ids)).softmax(-1)
    print(time.perf_counter() - t0)
PY
}
t_r=""
for _ in $(seq "$R"); do
  t=$(ref_builtin)
  t_r=$(awk -v t="$t" -v b="$t_r" 'BEGIN { print (b == "" || t < b) ? t : b }')
done

cat <<MD
## oracle: the http engine against a 50 ms server

One rank of \`curate oracle\` (the whole stage: sampling, prompts, the SQLite answer cache,
JSON, label shards) against tests/oracle/server.py, the Python stand-in for an LLM server,
answering every request after a fixed 50 ms; the reference client is curl $(curl --version | head -1 | cut -d' ' -f2)
in its parallel mode (\`--parallel --parallel-max N\`) sending the same number of requests to
the same server in the same run. CPU is user + system time of the client process, all of it
(startup, the model list, sampling, shards: at low concurrency that fixed cost dominates). Both
clients share this machine's cores with the Python server, which caps what either can reach
at high concurrency.

| concurrency | requests | ideal req/s | curate req/s | curl req/s | curate CPU ms/request | curl CPU ms/request | curate CPU (share of one core) | speed (curate / curl) |
|---|---|---|---|---|---|---|---|---|
$rows
The builtin engine on the CPU ($(nproc) threads), a \`scorer init --preset tiny --lm untied\`
checkpoint, $NB prompts (the code-quality template around documents cut at 2 KiB, ChatML,
$ptok tokens in all): the whole \`curate oracle\` stage (sampling, tokenizing, the forward
pass, the 10 digit rows, the cache, label shards) against the PyTorch reference's equations
(tests/parity/scorer_ref.py in float32, torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'), the same threads) over random
prompts of the same token counts, same run:

| engine | prompts/s | tokens/s | speed (curate / PyTorch) |
|---|---|---|---|
| curate builtin | $(awk -v n=$NB -v t="$t_b" 'BEGIN { printf "%.1f", n / t }') | $(awk -v n="$ptok" -v t="$t_b" 'BEGIN { printf "%.0f", n / t }') | $(ratio "$t_r" "$t_b") |
| PyTorch reference | $(awk -v n=$NB -v t="$t_r" 'BEGIN { printf "%.1f", n / t }') | $(awk -v n="$ptok" -v t="$t_r" 'BEGIN { printf "%.0f", n / t }') | 1 |

Command: \`bash scripts/bench.sh oracle\`.

MD

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

cat <<MD
## oracle: the http engine against a 50 ms server

One rank of \`curate oracle\` (the whole stage: sampling, prompts, the SQLite answer cache,
JSON, label shards) against tests/oracle/server.py, the Python stand-in for an LLM server,
answering every request after a fixed 50 ms; the reference client is curl $(curl --version | head -1 | cut -d' ' -f2)
in its parallel mode (\`--parallel --parallel-max N\`) sending the same number of requests to
the same server in the same run. CPU is user + system time of the client process. Both
clients share this machine's cores with the Python server, which caps what either can reach
at high concurrency.

| concurrency | requests | ideal req/s | curate req/s | curl req/s | curate CPU ms/request | curl CPU ms/request | curate CPU (share of one core) | speed (curate / curl) |
|---|---|---|---|---|---|---|---|---|
$rows
Command: \`bash scripts/bench.sh oracle\`.

MD

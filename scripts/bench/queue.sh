# Benchmark of the shard queue against the static plan: a map stage (redact) over 24 shards
# of /usr/include on 2 ranks, one of them made slow (CURATE_TEST_SLOW_RANK=1: it waits 0.5 s
# before each shard, as a node with a slow disk or a noisy neighbour would), schedule queue
# against static, same run; then the same for a global stage's phase (quality's scoring, a
# tiny scorer, 24 input shards). Sourced by scripts/bench.sh (C, W, R, best, ratio).
QW="$W/queue"
mkdir -p "$QW"
"$C" import workdir="$QW/w" "import.paths=[/usr/include]" import.shards=24 >/dev/null 2>&1
q_run() { CURATE_TEST_SHARD_DELAY=0.5 CURATE_TEST_SLOW_RANK=1 mpiexec -n 2 "$C" redact stages=[import,redact] \
  workdir="$QW/w" schedule="$1" --force; }
q_fast() { mpiexec -n 2 "$C" redact stages=[import,redact] workdir="$QW/w" --force; }
t_static=$(best q_run static); t_queue=$(best q_run queue); t_fast=$(best q_fast)
source tests/parity/env.sh >/dev/null
"$C" scorer init --preset tiny --seed 1 -t "$TOK_QWEN3" -o "$QW/model" >/dev/null 2>&1
qq=(stages=[import,quality] workdir="$QW/w" quality.model="$QW/model" quality.threads=1 quality.max_tokens=256 --force)
p_run() { CURATE_TEST_SHARD_DELAY=0.5 CURATE_TEST_SLOW_RANK=1 mpiexec -n 2 "$C" quality "${qq[@]}" schedule="$1"; }
p_fast() { mpiexec -n 2 "$C" quality "${qq[@]}"; }
p_static=$(best p_run static); p_queue=$(best p_run queue); p_fast=$(best p_fast)
cat <<MD
## Shard queue: one slow rank

\`scripts/bench/queue.sh\`: \`curate redact\` over 24 shards of /usr/include on 2 ranks; rank 1
waits 0.5 s before each shard it makes (CURATE_TEST_SLOW_RANK), rank 0 does not. With the
static plan rank 1 makes its 12 shards whatever happens; with the queue it makes what it gets
to while rank 0 takes the rest.

| schedule | seconds | ratio |
|---|---|---|
| static (the longest-first plan, fixed up front) | $t_static | 1 |
| queue (the default) | $t_queue | $(ratio "$t_static" "$t_queue") x faster |
| no slow rank (queue) | $t_fast | |

The same for the scoring phase of a global stage (\`curate quality\`, a \`scorer init --preset
tiny\` model on the CPU, 24 input shards of /usr/include, \`max_tokens\` 256), whose input
shards the queue hands out too (pipeline/phase.c); rank 1 waits 0.5 s before each shard it
scores:

| schedule | seconds | ratio |
|---|---|---|
| static | $p_static | 1 |
| queue (the default) | $p_queue | $(ratio "$p_static" "$p_queue") x faster |
| no slow rank (queue) | $p_fast | |

Command: \`bash scripts/bench.sh queue\`.

MD

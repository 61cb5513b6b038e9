# `curate scorer train device=cuda` on the CUDA emulator (libcurate-cuda-emu.so beside curate,
# tests/cuda_emu/): the CUDA engine (scorer/train_cuda.cu) driven by the trainer. The first
# step's gradient against PyTorch autograd (tests/parity/train_ref.py, float64) on the five
# parity shapes (MHA at head size 12, tied GQA in bf16 with llama3 RoPE, GQA at 16 in f16
# sharded, GQA at 64, qwen2 with q/k/v biases): every tensor within the bf16 tolerance, 5e-2
# of its largest value (measured worst 2.2e-2; docs/scorer-train-cuda.md); recomputation on
# and off, and the emulator's threads in reverse and random order, to the bit; packs of at most
# 64 tokens against one pack within fp32 accumulation. Then AdamW steps on the GPU engine and
# on the CPU: every weight within Adam's bound (at most about lr a step each, so 2 lr a step
# apart) and the same bits in random thread order. tests/unit/test_train_cuda.c checks the
# engine against train_cpu.c directly.
# On a GPU (scripts/gpu/run.sh): CURATE_CUDA_LIB set from outside to a real libcurate-cuda.so
# runs the same checks on the device; the thread orders (CURATE_CUDA_EMU_ORDER, which only the
# emulator reads) become plain reruns, which must give the same bits too. CURATE_PYTHON: the
# python3 with torch there (default /usr/bin/python3, Debian's python3-torch).
source "$(dirname "$0")/lib.sh"
PY=${CURATE_PYTHON:-/usr/bin/python3}
REF="$ROOT/tests/parity/scorer_ref.py" TR="$ROOT/tests/parity/train_ref.py"
$PY -c 'import torch' || fail "$PY has no torch (scripts/deps.sh installs python3-torch)"
if [ -n "${CURATE_CUDA_LIB:-}" ] && [ "$(basename "$CURATE_CUDA_LIB")" != libcurate-cuda-emu.so ]; then
  gpu=1
  [ -f "$CURATE_CUDA_LIB" ] || fail "no $CURATE_CUDA_LIB"
  nvidia-smi -L >/dev/null 2>&1 || fail "CURATE_CUDA_LIB=$CURATE_CUDA_LIB, but no GPU (nvidia-smi -L)"
  where="on the GPU"
else
  gpu=0
  export CURATE_CUDA_LIB="$(dirname "$CURATE")/libcurate-cuda-emu.so"
  [ -f "$CURATE_CUDA_LIB" ] || fail "no $CURATE_CUDA_LIB (make builds it in every mode)"
  where="on the emulator"
fi
# LOG was written by a run on the device asked for: the emulator's, or a real GPU's
on_device() {
  if [ $gpu = 1 ]; then
    grep -q "on cuda:" "$1" && ! grep -q "curate CUDA emulator" "$1"
  else
    grep -q "curate CUDA emulator" "$1"
  fi
}
# a run in the emulator's thread order ORDER, or on a GPU a plain rerun: its environment, its name
order_env() { [ $gpu = 1 ] || echo "CURATE_CUDA_EMU_ORDER=$1"; }
order_run() { if [ $gpu = 1 ]; then echo "a second run on the GPU"; else echo "threads in $1 order"; fi; }
cd "$T"
one_step="pretokenized=true val_fraction=0 shuffle=false batch_tokens=1000000 device=cuda"
for c in mha gqa-tied-bf16-llama3 gqa-headdim-linear-f16-sharded gqa-hd64 qwen2-bias; do
  $PY "$REF" gen "ck-$c" "$c"
  $PY "$TR" labels "lab-$c.jsonl" 6 2 250 90
  $PY "$TR" grads "ck-$c" "lab-$c.jsonl" "ref-$c.st"
  for rc in off on; do
    "$CURATE" scorer train -m "ck-$c" -o "out-$c" "lab-$c.jsonl" $one_step recompute=$rc \
      --dump-grads "ours-$c-$rc.st" 2>"log-$c" || { cat "log-$c"; fail "$c: scorer train device=cuda --dump-grads"; }
    on_device "log-$c" || { cat "log-$c"; fail "$c: not trained $where"; }
    out=$($PY "$TR" compare "ours-$c-$rc.st" "ref-$c.st" 5e-2) || fail "$c (recompute $rc): gradient: $out"
    echo "$c, recompute $rc: cuda gradient against autograd: $out"
  done
  cmp -s "ours-$c-off.st" "ours-$c-on.st" || fail "$c: recomputation changes the gradient"
  "$CURATE" scorer train -m "ck-$c" -o "out-$c" "lab-$c.jsonl" $one_step micro_tokens=64 \
    --dump-grads "packs-$c.st" 2>"log-$c" || { cat "log-$c"; fail "$c: micro_tokens=64"; }
  out=$($PY "$TR" compare "packs-$c.st" "ours-$c-off.st" 1e-5) || fail "$c: packs of 64 tokens against one: $out"
  echo "$c: packs of at most 64 tokens against one pack: $out"
done
orders="reverse random"
[ $gpu = 1 ] && orders=rerun
for order in $orders; do
  c=qwen2-bias
  env $(order_env $order) "$CURATE" scorer train -m "ck-$c" -o "out-$c" "lab-$c.jsonl" \
    $one_step --dump-grads "$order.st" 2>"log-$order" || { cat "log-$order"; fail "$(order_run $order)"; }
  cmp -s "$order.st" "ours-$c-off.st" || fail "$c: $(order_run $order) gives another gradient"
done
if [ $gpu = 1 ]; then
  echo "qwen2-bias: a second run on the GPU gives the same gradient"
else
  echo "qwen2-bias: threads in forward, reverse and random order give the same gradient"
fi

# AdamW: 24 records in micro-batches of at most 100 tokens, lr at most 1e-3
$PY "$TR" labels steps.jsonl 24 3 250 60
steps="pretokenized=true val_fraction=0 shuffle=false batch_tokens=100 lr=1e-3 beta2=0.95 weight_decay=0.1 warmup=0.2"
for c in gqa-hd64 qwen2-bias; do
  "$CURATE" scorer train -m "ck-$c" -o "cpu-$c" steps.jsonl $steps device=cpu 2>"alog-$c" ||
    { cat "alog-$c"; fail "$c: scorer train device=cpu"; }
  "$CURATE" scorer train -m "ck-$c" -o "gpu-$c" steps.jsonl $steps device=cuda 2>"alog-$c" ||
    { cat "alog-$c"; fail "$c: scorer train device=cuda"; }
  on_device "alog-$c" || { cat "alog-$c"; fail "$c: not trained $where"; }
  n=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["steps"])' "gpu-$c/metrics.json")
  [ "$n" -ge 5 ] || fail "$c: $n AdamW steps, not at least 5"
  out=$($PY - "gpu-$c/model.safetensors" "cpu-$c/model.safetensors" "$n" "$REF" <<'PYEOF'
import sys, importlib.util
spec = importlib.util.spec_from_file_location("scorer_ref", sys.argv[4])
ref = importlib.util.module_from_spec(spec); spec.loader.exec_module(ref)
a, b, n = ref.read_safetensors(sys.argv[1]), ref.read_safetensors(sys.argv[2]), int(sys.argv[3])
worst = max(((a[k] - b[k]).abs().max().item(), k) for k in b)
bound = 2 * 1.01 * 1e-3 * n  # each step moves a weight by at most about lr in either engine
print(f"{n} steps, worst |cuda - cpu| {worst[0]:.3g} at {worst[1]} (bound {bound:.3g})")
sys.exit(not worst[0] <= bound)
PYEOF
) || fail "$c: AdamW on cuda and cpu: $out"
  echo "$c: AdamW on cuda against cpu: $out"
done
c=qwen2-bias
env $(order_env random) "$CURATE" scorer train -m "ck-$c" -o "rnd-$c" steps.jsonl $steps \
  device=cuda 2>"alog-rnd" || { cat "alog-rnd"; fail "$c: training, $(order_run random)"; }
on_device alog-rnd || { cat alog-rnd; fail "$c: not trained $where"; }
cmp -s "rnd-$c/model.safetensors" "gpu-$c/model.safetensors" || fail "$c: training, $(order_run random), gives other weights"
echo "$c: training, $(order_run random), writes the same checkpoint"
echo "the CUDA trainer matches autograd and the CPU trainer $where"

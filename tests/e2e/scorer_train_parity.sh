# The trainer's gradient against PyTorch autograd (tests/parity/train_ref.py, float64, the
# equations of scorer_ref.py plus the MSE loss) on random checkpoints of five shapes: MHA with
# head size 12, tied GQA (bf16 weights, llama3 RoPE), GQA with head size 16 (f16, sharded),
# GQA with head size 64, and a qwen2 one with q/k/v biases; every tensor's gradient within
# 1e-4 of its largest value, with and without recomputation, and on 2 ranks. Then 16 AdamW
# steps (warmup, cosine decay, weight decay on matrices only, clipping, beta2 0.95) against
# torch.optim.AdamW over the same batches, the weights within 1e-4.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
REF="$ROOT/tests/parity/scorer_ref.py" TR="$ROOT/tests/parity/train_ref.py"
$PY -c 'import torch' || fail "python3-torch is missing (scripts/deps.sh installs it)"
cd "$T"
one_step="pretokenized=true val_fraction=0 shuffle=false batch_tokens=1000000"
for c in mha gqa-tied-bf16-llama3 gqa-headdim-linear-f16-sharded gqa-hd64 qwen2-bias; do
  $PY "$REF" gen "ck-$c" "$c"
  $PY "$TR" labels "lab-$c.jsonl" 5 2 250 40
  $PY "$TR" grads "ck-$c" "lab-$c.jsonl" "ref-$c.st"
  for rc in off on; do
    "$CURATE" scorer train -m "ck-$c" -o "out-$c" "lab-$c.jsonl" $one_step recompute=$rc \
      --dump-grads "ours-$c-$rc.st" 2>"log-$c" || { cat "log-$c"; fail "$c: scorer train --dump-grads"; }
    out=$($PY "$TR" compare "ours-$c-$rc.st" "ref-$c.st" 1e-4) || fail "$c (recompute $rc): gradient: $out"
    echo "$c, recompute $rc: gradient against autograd: $out"
  done
  cmp -s "ours-$c-off.st" "ours-$c-on.st" || fail "$c: recomputation changes the gradient"
done
mpiexec -n 2 "$CURATE" scorer train -m ck-qwen2-bias -o out2 lab-qwen2-bias.jsonl $one_step \
  --dump-grads two.st 2>log2 || { cat log2; fail "2 ranks: --dump-grads"; }
out=$($PY "$TR" compare two.st ref-qwen2-bias.st 1e-4) || fail "2 ranks: gradient: $out"
echo "qwen2-bias on 2 ranks: $out"

# AdamW: 40 records in micro-batches of at most 40 tokens, unshuffled: the plan curate makes
$PY "$TR" labels steps.jsonl 30 3 250 30
hp='"lr": 1e-3, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "max_grad_norm": 1.0, "warmup": 0.2, "min_lr_ratio": 0.1, "schedule": "cosine"'
echo "{\"hparams\": {$hp}, \"steps\": $($PY "$TR" plan steps.jsonl 40 1)}" >plan.json
nsteps=$($PY -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["steps"]))' plan.json)
[ "$nsteps" -ge 10 ] || fail "the AdamW plan has $nsteps steps, not at least 10"
for c in gqa-hd64 qwen2-bias mha; do
  "$CURATE" scorer train -m "ck-$c" -o "adam-$c" steps.jsonl pretokenized=true val_fraction=0 \
    shuffle=false batch_tokens=40 lr=1e-3 beta2=0.95 weight_decay=0.1 warmup=0.2 \
    2>"alog-$c" || { cat "alog-$c"; fail "$c: scorer train"; }
  steps=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["steps"])' "adam-$c/metrics.json")
  [ "$steps" = "$nsteps" ] || fail "$c: curate made $steps steps, the reference plan $nsteps"
  $PY "$TR" adamw "ck-$c" steps.jsonl "aref-$c.st" plan.json
  out=$($PY "$TR" compare "adam-$c/model.safetensors" "aref-$c.st" 1e-4) || fail "$c: $nsteps AdamW steps: $out"
  echo "$c: $nsteps AdamW steps against torch.optim.AdamW: $out"
done

"""The trainer's reference: the scorer's loss, its gradient by PyTorch autograd in float64, and
a torch.optim.AdamW loop, over the same batches curate forms (scorer_ref.py has the model's
equations; this file adds the loss and the optimizer). The labels are pretokenized JSONL
records {"id", "ids": [...], "score"}.

  train_ref.py labels OUT N SEED VOCAB MAXLEN   writes N random records
  train_ref.py grads DIR LABELS OUT             the gradient of the first step (every record
                                                in one step): mean (pred - y)^2, as float64
                                                safetensors named like the weights
  train_ref.py adamw DIR LABELS OUT STEPS_JSON  AdamW steps over the plan in STEPS_JSON (a list
                                                of steps, each a list of record indices) with
                                                the hyperparameters in it; writes the weights
  train_ref.py plan LABELS BATCH_TOKENS ACCUM   the plan curate makes without shuffling: greedy
                                                micro-batches of at most BATCH_TOKENS tokens,
                                                ACCUM of them per step, as JSON
  train_ref.py compare OURS REF TOL             per tensor max |ours - ref| / max |ref| <= TOL
  train_ref.py bench DIR LABELS BATCH_TOKENS STEPS
                                                fp32 training tokens/s of this reference (all
                                                CPU threads): STEPS AdamW steps (0: one
                                                forward and backward, no optimizer)
"""
import json
import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import scorer_ref  # noqa: E402


def read_labels(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def predict(cfg, w, ids):
    return scorer_ref.final_hidden(cfg, w, ids) @ w["score.weight"][0]


def load_trainable(dir):
    cfg, w = scorer_ref.load(dir)
    # what curate trains: the weights of a sequence classifier (a CausalLM's lm_head is not)
    w = {k: v.clone().requires_grad_(True) for k, v in w.items() if k != "lm_head.weight"}
    return cfg, w


def loss_of(cfg, w, recs):
    return sum((predict(cfg, w, r["ids"]) - r["score"]) ** 2 for r in recs) / len(recs)


def plan(recs, batch_tokens, accum):
    micro, i = [], 0
    while i < len(recs):
        m, tokens = [i], len(recs[i]["ids"])
        i += 1
        while i < len(recs) and tokens + len(recs[i]["ids"]) <= batch_tokens:
            m.append(i)
            tokens += len(recs[i]["ids"])
            i += 1
        micro.append(m)
    return [sum(micro[s:s + accum], []) for s in range(0, len(micro), accum)]


def lr_at(h, step, nsteps):
    """curate's schedule: linear warmup over ceil(warmup * nsteps) steps, then cosine (or
    linear) decay to min_lr_ratio * lr at the last step."""
    warm = math.ceil(h["warmup"] * nsteps) if h["warmup"] > 0 else 0
    if step < warm:
        return h["lr"] * (step + 1) / warm
    if h["schedule"] == "constant" or nsteps <= warm + 1:
        return h["lr"]
    x = (step - warm) / (nsteps - warm - 1)
    f = 0.5 * (1 + math.cos(math.pi * x)) if h["schedule"] == "cosine" else 1 - x
    return h["lr"] * (h["min_lr_ratio"] + (1 - h["min_lr_ratio"]) * f)


def decays(name):
    # HF Trainer's rule, which curate follows: no decay for biases and norm weights
    return not (name.endswith(".bias") or "norm" in name)


def adamw(dir, labels, out, plan_json):
    cfg, w = load_trainable(dir)
    recs = read_labels(labels)
    spec = json.load(open(plan_json))
    h, steps = spec["hparams"], spec["steps"]
    groups = [{"params": [w[k] for k in w if decays(k)], "weight_decay": h["weight_decay"]},
              {"params": [w[k] for k in w if not decays(k)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"])
    for s, idx in enumerate(steps):
        opt.zero_grad()
        loss_of(cfg, w, [recs[i] for i in idx]).backward()
        if h["max_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(list(w.values()), h["max_grad_norm"])
        for g in opt.param_groups:
            g["lr"] = lr_at(h, s, len(steps))
        opt.step()
    scorer_ref.write_safetensors(out, {k: v.detach() for k, v in w.items()}, "F32")


def grads(dir, labels, out):
    cfg, w = load_trainable(dir)
    loss_of(cfg, w, read_labels(labels)).backward()
    scorer_ref.write_safetensors(out, {k: v.grad for k, v in w.items()}, "F32")


def compare(ours, ref, tol):
    a, b = scorer_ref.read_safetensors(ours), scorer_ref.read_safetensors(ref)
    if set(a) != set(b):
        sys.exit(f"tensor names differ: only ours {sorted(set(a) - set(b))}, "
                 f"only the reference {sorted(set(b) - set(a))}")
    worst = (0.0, "")
    for k in sorted(b):
        scale = b[k].abs().max().item()
        err = (a[k] - b[k]).abs().max().item() / (scale if scale > 0 else 1)
        if err > float(tol):
            sys.exit(f"{k}: max error {err:.3g} relative to max |ref| {scale:.3g} > {tol}")
        worst = max(worst, (err, k))
    print(f"{len(b)} tensors, worst {worst[1]}: {worst[0]:.3g}")


def make_labels(out, n, seed, vocab, maxlen):
    r = random.Random(int(seed))
    with open(out, "w") as f:
        for i in range(int(n)):
            ids = [r.randrange(int(vocab)) for _ in range(r.randint(1, int(maxlen)))]
            f.write(json.dumps({"id": f"doc-{i}", "ids": ids, "score": round(r.random(), 3)}) + "\n")


def bench(dir, labels, batch_tokens, steps):
    import time
    cfg, w = scorer_ref.load(dir, torch.float32)
    w = {k: v.requires_grad_(True) for k, v in w.items() if k != "lm_head.weight"}
    recs = read_labels(labels)
    pl = plan(recs, int(batch_tokens), 1)
    steps = int(steps)
    opt = torch.optim.AdamW(list(w.values()), lr=1e-4) if steps else None
    todo = pl[:max(steps, 1)]
    t0, tokens = time.perf_counter(), 0
    for idx in todo:
        batch = [recs[i] for i in idx]
        loss_of(cfg, w, batch).backward()
        if opt:
            opt.step()
            opt.zero_grad()
        tokens += sum(len(r["ids"]) for r in batch)
    dt = time.perf_counter() - t0
    print(f"tokens_per_s\t{tokens / dt:.1f}\nseconds\t{dt:.3f}\ntokens\t{tokens}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "labels":
        make_labels(*args)
    elif cmd == "grads":
        grads(*args)
    elif cmd == "adamw":
        adamw(*args)
    elif cmd == "plan":
        print(json.dumps(plan(read_labels(args[0]), int(args[1]), int(args[2]))))
    elif cmd == "compare":
        compare(*args)
    elif cmd == "bench":
        bench(*args)
    else:
        sys.exit(__doc__)

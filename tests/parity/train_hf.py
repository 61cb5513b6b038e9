"""The CUDA trainer's benchmark partner (scripts/bench/train_gpu.sh): a plain PyTorch +
transformers fine-tuning loop over the same checkpoint and batches as `curate scorer train
device=cuda`, and the FLOPs count both sides' MFU uses. Only `bench` needs torch and
transformers (the GPU machines lent to sessions have them); the rest is plain Python.

  train_hf.py labels OUT DIR N LEN SEED   N pretokenized records of exactly LEN ids, each in
                                          [1, vocab of DIR/config.json) (never the pad id 0),
                                          targets in [0, 1]: what pretokenized=true reads
  train_hf.py mfu DIR LEN TOKENS_PER_S NAME
                                          the training FLOPs a token at LEN tokens a sequence,
                                          the TFLOP/s of that rate and its MFU against the
                                          dense bf16 peak of the GPU NAME (nvidia-smi's name)
  train_hf.py bench DIR LABELS SEQS WARMUP STEPS
                                          transformers on cuda: WARMUP untimed then STEPS
                                          timed AdamW steps of SEQS records each, in file order

Output: "key<TAB>value" lines, as scorer_hf.py's bench prints them.

The FLOPs of one training pass over a sequence of n tokens are 3 times the forward's (the
backward is two products for each of the forward's: PaLM, appendix B), and the forward's are
curate's scorer_flops: 2 N n for the layers' matrices (N = L (2 H d + 2 H kv + 3 H F): q, k,
v, o, gate, up, down), 4 d L n (n + 1) / 2 for causal attention (QK^T and PV over the keys at
or before each query: half of the full square, n (n + 1) / 2 pairs), 2 H for the head on the
last token; the embedding is a gather (0). So per token, at n = S:
    6 N + 6 L d (S + 1) + 6 H / S
PaLM's 6 N + 12 L d S counts the full square; ours counts the causal half. Recomputation and
gradient checkpointing are not counted (model FLOPs, not hardware FLOPs).
"""
import json
import math
import random
import sys
import time

# curate's defaults (configs/default.yaml, scorer-train): the loop uses the same schedule
LR, WARMUP_FRAC, MIN_LR_RATIO, WEIGHT_DECAY, MAX_GRAD_NORM = 2e-5, 0.03, 0.1, 0.01, 1.0
BETAS, EPS = (0.9, 0.999), 1e-8
PAD = 0  # the pad id of scorer_hf.py's checkpoints; labels never contain it


def config(dir):
    with open(f"{dir}/config.json") as f:
        return json.load(f)


def labels(out, dir, n, length, seed):
    vocab = config(dir)["vocab_size"]
    r = random.Random(int(seed))
    with open(out, "w") as f:
        for i in range(int(n)):
            ids = [r.randrange(1, vocab) for _ in range(int(length))]
            f.write(json.dumps({"id": f"seq-{i}", "ids": ids, "score": round(r.random(), 3)}) + "\n")


def attention_width(cfg, heads="num_attention_heads"):
    """d: heads x head size (the kv heads' with heads="num_key_value_heads")."""
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    return cfg[heads] * hd


def matrix_params(cfg):
    """N: the weights of the layers' matrices (no embedding, no norms; the head apart)."""
    H, L, F = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"]
    q, kv = attention_width(cfg), attention_width(cfg, "num_key_value_heads")
    return L * (2 * H * q + 2 * H * kv + 3 * H * F)


def train_flops_per_token(cfg, n):
    """6 N + 6 L d (n + 1) + 6 H / n: 3 x scorer_flops(n) / n (the docstring above)."""
    H, L, d = cfg["hidden_size"], cfg["num_hidden_layers"], attention_width(cfg)
    forward = 2 * matrix_params(cfg) * n + 4 * d * L * n * (n + 1) / 2 + 2 * H
    return 3 * forward / n


def peak_tflops(name):
    """The dense bf16 tensor-core peak of the GPU named, in TFLOP/s (NVIDIA's data sheets give
    twice these, with sparsity), and whether it was assumed for a name not known here."""
    n = name.upper()
    if "H100" in n and "PCIE" in n:
        return 756.0, False
    if ("H100" in n or "H200" in n) and "NVL" in n:
        return 835.0, False
    if "H100" in n or "H200" in n or "H800" in n:  # SXM (the "80GB HBM3" H100), and H200
        return 989.0, False
    if "A100" in n or "A800" in n:
        return 312.0, False
    return 989.0, True  # unknown: the H100 SXM's, as scripts/bench/scorer_gpu.sh assumes


def rate_fields(cfg, n, tokens_per_s, name):
    """The "key<TAB>value" lines of a training rate's FLOPs and MFU."""
    per_token = train_flops_per_token(cfg, n)
    tf = per_token * tokens_per_s / 1e12
    peak, assumed = peak_tflops(name)
    return ("matrix_params\t%d\nlayers\t%d\nattention_width\t%d\nhidden\t%d\n"
            "flops_per_token\t%.6g\ntflops\t%.2f\npeak_tflops\t%.0f%s\nmfu\t%.4f"
            % (matrix_params(cfg), cfg["num_hidden_layers"], attention_width(cfg),
               cfg["hidden_size"], per_token, tf, peak, " (assumed)" if assumed else "", tf / peak))


def mfu(dir, length, tokens_per_s, name):
    print(rate_fields(config(dir), int(length), float(tokens_per_s), name))


def lr_at(step, nsteps):
    """curate's schedule (scorer/train.c lr_at): linear warmup over ceil(0.03 steps) steps
    with step k (from 0) at lr (k + 1) / W, then cosine to 0.1 lr at the last step."""
    warm = math.ceil(WARMUP_FRAC * nsteps)
    if step < warm:
        return LR * (step + 1) / warm
    if nsteps <= warm + 1:
        return LR
    x = (step - warm) / (nsteps - warm - 1)
    return LR * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) * 0.5 * (1 + math.cos(math.pi * x)))


def bench(dir, labels_file, seqs, warmup, steps):
    """LlamaForSequenceClassification (one label, regression, pad_token_id set) from DIR in
    fp32 with sdpa attention, under torch.autocast bf16: bf16 GEMMs and attention, fp32
    weights, gradient and AdamW state, as curate's engine keeps them. torch.optim.AdamW
    (fused) with curate's hyperparameters and schedule, decay on matrices only (curate's and
    HF Trainer's rule), clip_grad_norm_ to 1, MSE (transformers' own regression loss) on the
    records' scores. Batches: SEQS records in file order, all one length (no padding, no
    mask). Gradient checkpointing only if the first step runs out of memory without it."""
    try:
        import torch
        import transformers
    except ImportError as e:
        sys.exit(f"train_hf.py bench: {e}: it needs PyTorch and transformers "
                 f"({sys.executable} has not both; the GPU machines have them)")
    if not torch.cuda.is_available():
        sys.exit("train_hf.py bench: torch sees no GPU")
    seqs, warmup, steps = int(seqs), int(warmup), int(steps)
    with open(labels_file) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    need = seqs * (warmup + steps)
    if len(recs) < need:
        sys.exit(f"{labels_file}: {len(recs)} records, {need} needed")
    n = len(recs[0]["ids"])
    if any(len(r["ids"]) != n for r in recs[:need]):
        sys.exit(f"{labels_file}: the records are not all {n} tokens long")
    batches = []
    for k in range(warmup + steps):
        b = recs[k * seqs:(k + 1) * seqs]
        batches.append((torch.tensor([r["ids"] for r in b], device="cuda"),
                        torch.tensor([r["score"] for r in b], dtype=torch.float32, device="cuda")))
    pad = config(dir).get("pad_token_id")
    kw = dict(num_labels=1, problem_type="regression", pad_token_id=PAD if pad is None else pad,
              attn_implementation="sdpa")
    cls = transformers.LlamaForSequenceClassification
    try:
        m = cls.from_pretrained(dir, dtype=torch.float32, **kw)
    except TypeError:  # transformers 4 names it torch_dtype
        m = cls.from_pretrained(dir, torch_dtype=torch.float32, **kw)
    m.config.use_cache = False
    m = m.to("cuda").train()

    def optimizer():
        decay = [p for p in m.parameters() if p.dim() >= 2]
        other = [p for p in m.parameters() if p.dim() < 2]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                 {"params": other, "weight_decay": 0.0}],
                                lr=LR, betas=BETAS, eps=EPS, fused=True)
        total = warmup + steps
        return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda k: lr_at(k, total) / LR)

    def step(opt, sched, ids, y):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = m(input_ids=ids, labels=y).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), MAX_GRAD_NORM)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    opt, sched = optimizer()
    checkpointing, losses = False, []
    try:
        losses.append(step(opt, sched, *batches[0]))
    except torch.cuda.OutOfMemoryError:
        checkpointing = True
    if checkpointing:  # (outside the except: its traceback holds the step's tensors)
        opt = sched = None
        m.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        try:
            m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        except TypeError:
            m.gradient_checkpointing_enable()
        opt, sched = optimizer()
        losses.append(step(opt, sched, *batches[0]))
    for k in range(1, warmup):
        losses.append(step(opt, sched, *batches[k]))
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for k in range(warmup, warmup + steps):
        losses.append(step(opt, sched, *batches[k]))
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    tokens = steps * seqs * n
    name = torch.cuda.get_device_name()
    print("device\t%s" % name)
    print("transformers\t%s\ntorch\t%s" % (transformers.__version__, torch.__version__))
    print("gradient_checkpointing\t%s" % ("on" if checkpointing else "off"))
    print("steps\t%d\ntokens\t%d\nseconds\t%.3f" % (steps, tokens, dt))
    print("first_loss\t%.5f\nlast_loss\t%.5f" % (losses[0].item(), losses[-1].item()))
    print("peak_memory_gib\t%.1f" % (torch.cuda.max_memory_allocated() / 2**30))
    print("tokens_per_s\t%.1f" % (tokens / dt))
    print(rate_fields(config(dir), n, tokens / dt, name))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"labels": (labels, 5), "mfu": (mfu, 4), "bench": (bench, 5)}.get(cmd)
    if not fn or len(args) != fn[1]:
        sys.exit(__doc__)
    fn[0](*args)


if __name__ == "__main__":
    main()

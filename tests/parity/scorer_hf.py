"""The scorer against Hugging Face transformers' own LlamaForSequenceClassification.

transformers is not a Debian package, so this runs where it is installed (the GPU machines lent
to sessions have it; tests/e2e/scorer_hf.sh skips elsewhere). The checkpoints are made by
transformers itself (random init, save_pretrained), so curate's loader reads what users have.

  scorer_hf.py make DIR PRESET DTYPE SEED        writes a checkpoint (PRESETS) in f32 or bf16
  scorer_hf.py score DIR DEVICE DTYPE ATTN IDS...  "%.9f\\tIDS" per file, each sequence alone
  scorer_hf.py lengths KIND N MAX SEED           N lengths: "fixed" (all MAX) or "mix"
  scorer_hf.py bench DIR LENGTHS BUDGET          bf16 sdpa on cuda: tokens/s, TFLOP/s, MFU
"""
import json
import math
import os
import random
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForSequenceClassification

# name: hidden, layers, heads, kv heads, ffn, vocab, rope scaling
PRESETS = {
    "tiny-gqa": (256, 3, 8, 2, 688, 1000, None),
    "tiny-mha-llama3": (128, 2, 4, 4, 352, 600,
                        {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 256}),
    # the report's scorer: Llama-2 structure, hidden 2048, 24 layers, 16 heads, FFN 5504
    "1.3b": (2048, 24, 16, 16, 5504, 32000, None),
}
PAD = 0  # the pad id: sequences here never contain it


def make(dir, preset, dtype, seed):
    H, L, nh, nkv, F, V, rope = PRESETS[preset]
    torch.manual_seed(int(seed))
    kw = dict(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=nh,
              num_key_value_heads=nkv, intermediate_size=F, max_position_embeddings=4096,
              rms_norm_eps=1e-5, num_labels=1, pad_token_id=PAD, bos_token_id=1,
              tie_word_embeddings=False)
    if not rope:
        cfg = LlamaConfig(**kw)
    else:  # transformers 5 takes rope_parameters; 4 took rope_theta and rope_scaling
        try:
            cfg = LlamaConfig(**kw, rope_parameters=dict(rope, rope_theta=500000.0))
        except TypeError:
            cfg = LlamaConfig(**kw, rope_theta=500000.0, rope_scaling=rope)
    with torch.device("cpu"):
        model = LlamaForSequenceClassification(cfg)
    # HF's init (std 0.02) makes later layers nearly inert at small sizes; wider weights make
    # every layer count in the comparison
    if preset.startswith("tiny"):
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() == 2:
                    p.normal_(0, 1 / math.sqrt(p.shape[1]))
    model = model.to(torch.bfloat16 if dtype == "bf16" else torch.float32)
    model.save_pretrained(dir)


def load(dir, device, dtype, attn):
    dt = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype]
    # the class config.json names: Llama's, or Qwen2's for a trained qwen2 scorer
    auto = transformers.AutoModelForSequenceClassification
    try:
        m = auto.from_pretrained(dir, dtype=dt, attn_implementation=attn)
    except TypeError:  # transformers 4 names it torch_dtype
        m = auto.from_pretrained(dir, torch_dtype=dt, attn_implementation=attn)
    return m.to(device).eval()


def score(dir, device, dtype, attn, files):
    m = load(dir, device, dtype, attn)
    with torch.no_grad():
        for f in files:
            ids = [int(x) for x in open(f).read().split()]
            x = torch.tensor([ids], device=device)
            y = m(input_ids=x).logits[0, 0].float().item()
            print("%.9f\t%s" % (y, f))


def lengths(kind, n, mx, seed):
    """Fixed lengths, or a mix like source files: log-normal around 600 tokens in [16, max]."""
    r = random.Random(int(seed))
    n, mx = int(n), int(mx)
    if kind == "fixed":
        out = [mx] * n
    else:
        out = [min(mx, max(16, int(math.exp(math.log(600) + r.gauss(0, 1))))) for _ in range(n)]
    print(" ".join(map(str, out)))


def flops(cfg, n):
    """The count curate's bench uses (scorer_flops): GEMMs plus causal attention."""
    H, L, F = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size
    hd = getattr(cfg, "head_dim", None) or H // cfg.num_attention_heads
    q, kv = cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd
    per_layer = H * q * 2 + H * kv * 2 + 3 * H * F
    return 2 * per_layer * L * n + 4 * q * L * n * (n + 1) / 2 + 2 * H


def bench(dir, lengths_file, budget, peak=989.0):
    """transformers as its users batch it: sorted by length, right-padded batches of at most
    BUDGET padded tokens, an attention mask, bf16, sdpa. Tokens/s counts real tokens."""
    m = load(dir, "cuda", "bf16", "sdpa")
    cfg = m.config
    lens = [int(x) for x in open(lengths_file).read().split()]
    g = torch.Generator().manual_seed(0)
    seqs = sorted((torch.randint(1, cfg.vocab_size, (n,), generator=g) for n in lens),
                  key=len, reverse=True)
    batches, cur = [], []
    for s in seqs:
        if cur and len(cur[0]) * (len(cur) + 1) > int(budget):
            batches.append(cur)
            cur = []
        cur.append(s)
    batches.append(cur)
    inputs = []
    for b in batches:
        w = len(b[0])
        ids = torch.full((len(b), w), PAD, dtype=torch.long)
        mask = torch.zeros((len(b), w), dtype=torch.long)
        for i, s in enumerate(b):
            ids[i, :len(s)] = s
            mask[i, :len(s)] = 1
        inputs.append((ids.cuda(), mask.cuda()))
    with torch.no_grad():
        m(input_ids=inputs[-1][0][:1], attention_mask=inputs[-1][1][:1])  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for ids, mask in inputs:
            m(input_ids=ids, attention_mask=mask).logits.float().cpu()
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    total = sum(lens)
    tf = sum(flops(cfg, n) for n in lens) / dt / 1e12
    print("device\t%s" % torch.cuda.get_device_name())
    print("transformers\t%s\ttorch\t%s" % (transformers.__version__, torch.__version__))
    print("sequences\t%d\ntokens\t%d\nbatches\t%d\nseconds\t%.3f" % (len(lens), total, len(inputs), dt))
    print("tokens_per_s\t%.1f\ntflops\t%.4f\nmfu\t%.4f" % (total / dt, tf, tf / peak))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make":
        make(*args)
    elif cmd == "score":
        score(args[0], args[1], args[2], args[3], args[4:])
    elif cmd == "lengths":
        lengths(*args)
    elif cmd == "bench":
        bench(*args)
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main()

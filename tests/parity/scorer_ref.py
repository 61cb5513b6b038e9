"""The scorer's reference: the Llama equations of LlamaForSequenceClassification (and of
LlamaForCausalLM's next-token logits) written in plain PyTorch (float64), a safetensors reader
and writer of our own (the `safetensors` and `transformers` packages are not Debian packages),
and random checkpoints of several shapes.

  scorer_ref.py gen DIR CASE        writes a checkpoint of shape CASE (CASES or LM_CASES) to DIR
  scorer_ref.py cases | lm-cases    lists the regression or the causal-LM cases
  scorer_ref.py score DIR IDS...    prints "%.9f\tIDS" per file of space-separated token ids
  scorer_ref.py logits DIR T1,T2,.. IDS...
                                    prints the next-token logits of tokens T1, T2, ... (from
                                    the full vocabulary projection) then IDS, tab-separated
  scorer_ref.py probs DIR T1,T2,.. IDS...   the same for their softmax over T1, T2, ...
  scorer_ref.py compare OURS REF TOL FLOOR [softmax|line]
                                    compares two such listings column by column (error
                                    relative to max(|ref|, FLOOR)); softmax: OURS holds logits,
                                    compared after a softmax over each line's columns; line:
                                    relative to max(|ref|, FLOOR, the line's largest |ref|)
  scorer_ref.py head-from-score SRC DST ROW untied|tied
                                    a causal LM whose head row ROW is SRC's score.weight: in
                                    lm_head.weight (SRC's own, untied) or in the embedding
                                    (tied; ROW must be an id no input uses), all F32
  scorer_ref.py bench DIR LEN SEQS  fp32 tokens/s of this reference on all CPU threads
"""
import json
import math
import os
import struct
import sys

import torch

DT = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def read_safetensors(path, to=torch.float64):
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    base = 8 + hlen
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dtype, _ = DT[e["dtype"]]
        buf = bytearray(raw[base + b:base + end])
        t = torch.frombuffer(buf, dtype=torch.uint8) if len(buf) else torch.zeros(0, dtype=torch.uint8)
        out[name] = t.view(dtype).reshape(e["shape"]).to(to)
    return out


def write_safetensors(path, tensors, dtype):
    tdt, size = DT[dtype]
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        data = t.to(tdt).contiguous().view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load(dir, to=torch.float64):
    cfg = json.load(open(os.path.join(dir, "config.json")))
    one = os.path.join(dir, "model.safetensors")
    if os.path.exists(one):
        return cfg, read_safetensors(one, to)
    idx = json.load(open(os.path.join(dir, "model.safetensors.index.json")))
    w = {}
    for f in sorted(set(idx["weight_map"].values())):
        w.update(read_safetensors(os.path.join(dir, f), to))
    return cfg, w


def inv_freq(cfg, n):
    """RoPE inverse frequencies as transformers' rope_init functions define them."""
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg.get("rope_theta", 10000.0)
    rs = cfg.get("rope_scaling") or {}
    if cfg.get("rope_parameters"):  # transformers 5 keeps theta and scaling together
        rs = cfg["rope_parameters"]
        base = rs.get("rope_theta", base)
    kind = rs.get("rope_type", rs.get("type", "default"))
    maxp = cfg.get("max_position_embeddings", 2048)
    if kind == "dynamic" and n > maxp:
        f = rs["factor"]
        base = base * ((f * n / maxp) - (f - 1)) ** (hd / (hd - 2))
    inv = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    if kind == "linear":
        inv = inv / rs["factor"]
    elif kind == "llama3":
        f, lo, hi = rs["factor"], rs.get("low_freq_factor", 1), rs.get("high_freq_factor", 4)
        old = rs.get("original_max_position_embeddings", 8192)
        wl = 2 * math.pi / inv
        smooth = (old / wl - lo) / (hi - lo)
        mid = (1 - smooth) * inv / f + smooth * inv
        inv = torch.where(wl > old / lo, inv / f, torch.where(wl < old / hi, inv, mid))
    return inv


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def final_hidden(cfg, w, ids):
    """The last token's hidden state after the final RMSNorm."""
    nh, nkv = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    n = len(ids)
    h = w["model.embed_tokens.weight"][torch.tensor(ids)]
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv_freq(cfg, n)[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    dt = h.dtype
    cos, sin = emb.cos()[:, None, :].to(dt), emb.sin()[:, None, :].to(dt)
    mask = torch.full((n, n), float("-inf"), dtype=dt).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = lambda s: w[f"model.layers.{l}.{s}.weight"]
        x = rmsnorm(h, p("input_layernorm"), eps)
        b = lambda s: w.get(f"model.layers.{l}.{s}.bias", 0)  # qwen2's q, k, v biases
        q = (x @ p("self_attn.q_proj").T + b("self_attn.q_proj")).view(n, nh, hd)
        k = (x @ p("self_attn.k_proj").T + b("self_attn.k_proj")).view(n, nkv, hd)
        v = (x @ p("self_attn.v_proj").T + b("self_attn.v_proj")).view(n, nkv, hd)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        att = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd) + mask
        o = torch.einsum("hqk,khd->qhd", att.softmax(-1), v).reshape(n, nh * hd)
        h = h + o @ p("self_attn.o_proj").T
        x = rmsnorm(h, p("post_attention_layernorm"), eps)
        g, u = x @ p("mlp.gate_proj").T, x @ p("mlp.up_proj").T
        h = h + (torch.nn.functional.silu(g) * u) @ p("mlp.down_proj").T
    return rmsnorm(h[-1], w["model.norm.weight"], eps)


def score(cfg, w, ids):
    return float(final_hidden(cfg, w, ids) @ w["score.weight"][0])


def logits(cfg, w, ids):
    """LlamaForCausalLM's next-token logits over the whole vocabulary: lm_head, which HF ties
    to the embedding when tie_word_embeddings is true (a lm_head.weight in the file is then
    unused; the config's default is untied)."""
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return head @ final_hidden(cfg, w, ids)


# name: (hidden, layers, heads, kv_heads, head_dim or None, ffn, vocab, dtype, tied, rope, shards)
CASES = {
    "mha": (48, 2, 4, 4, None, 90, 300, "F32", False, None, 1),  # FFN not a multiple of 8
    "gqa-tied-bf16-llama3": (64, 3, 8, 2, None, 112, 500, "BF16", True,
                             {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                              "high_freq_factor": 4.0, "original_max_position_embeddings": 64}, 1),
    "gqa-headdim-linear-f16-sharded": (64, 2, 6, 3, 16, 80, 400, "F16", False,
                                       {"type": "linear", "factor": 2.0}, 2),
    "mqa-dynamic": (32, 2, 4, 1, None, 64, 256, "F32", False,
                    {"rope_type": "dynamic", "factor": 2.0}, 1),
    # the head sizes of real models (64, 128), which the CUDA path's tensor-core attention takes
    "gqa-hd64": (256, 2, 4, 2, None, 384, 300, "BF16", False, None, 1),
    "mha-hd128": (256, 2, 2, 2, None, 320, 300, "F32", True, None, 1),
    # transformers 5's config: "rope_parameters" holds the theta and the scaling
    "gqa-v5-rope-parameters": (64, 2, 8, 4, None, 96, 300, "F32", False,
                               {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 4.0,
                                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 32}, 1),
    # Qwen2 (model_type qwen2): biases on the q, k and v projections, tied embeddings
    "qwen2-bias": (64, 2, 4, 2, None, 96, 300, "F32", True, None, 1),
}


# Causal LMs, as CASES plus the head: "lm" (lm_head.weight), "tied" (tie_word_embeddings and no
# lm_head.weight), "tied+lm" (tied, with a lm_head.weight that HF leaves unused), "none"
# (untied and no lm_head.weight: no LM head at all, an error)
LM_CASES = {
    "lm-gqa": ((64, 2, 8, 2, None, 96, 300, "F32", False, None, 1), "lm"),
    "lm-gqa-tied-bf16-llama3": ((64, 3, 4, 2, None, 112, 500, "BF16", True,
                                 {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 64}, 1), "tied"),
    "lm-gqa-hd64-f16-sharded": ((256, 2, 4, 2, None, 384, 300, "F16", False, None, 2), "lm"),
    "lm-mqa-tied-unused-head": ((32, 2, 4, 1, None, 64, 256, "F32", True, None, 1), "tied+lm"),
}
LM_ERROR_CASES = {
    "lm-no-head": ((64, 2, 8, 2, None, 96, 300, "F32", False, None, 1), "none"),
}


def gen(dir, case, seed=7):
    if case in CASES:
        shape, head = CASES[case], "score"
    else:
        shape, head = {**LM_CASES, **LM_ERROR_CASES}[case]
    H, L, nh, nkv, hd, F, V, dtype, tied, rope, shards = shape
    g = torch.Generator().manual_seed(seed)
    d = hd or H // nh
    rnd = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    # larger than HF's 0.02 so every term matters and scores are O(1)
    w = {"model.embed_tokens.weight": rnd(V, H)}
    for l in range(L):
        pre = f"model.layers.{l}."
        w[pre + "input_layernorm.weight"] = 1 + 0.1 * rnd(H)
        w[pre + "self_attn.q_proj.weight"] = rnd(nh * d, H) / math.sqrt(H)
        w[pre + "self_attn.k_proj.weight"] = rnd(nkv * d, H) / math.sqrt(H)
        w[pre + "self_attn.v_proj.weight"] = rnd(nkv * d, H) / math.sqrt(H)
        if case.startswith("qwen2"):
            w[pre + "self_attn.q_proj.bias"] = 0.5 * rnd(nh * d)
            w[pre + "self_attn.k_proj.bias"] = 0.5 * rnd(nkv * d)
            w[pre + "self_attn.v_proj.bias"] = 0.5 * rnd(nkv * d)
        w[pre + "self_attn.o_proj.weight"] = rnd(H, nh * d) / math.sqrt(nh * d)
        w[pre + "post_attention_layernorm.weight"] = 1 + 0.1 * rnd(H)
        w[pre + "mlp.gate_proj.weight"] = rnd(F, H) / math.sqrt(H)
        w[pre + "mlp.up_proj.weight"] = rnd(F, H) / math.sqrt(H)
        w[pre + "mlp.down_proj.weight"] = rnd(H, F) / math.sqrt(F)
    w["model.norm.weight"] = 1 + 0.1 * rnd(H)
    if head == "score":
        w["score.weight"] = rnd(1, H) / math.sqrt(H)
        if not tied:
            w["lm_head.weight"] = rnd(V, H)  # a CausalLM leftover, unused as in HF
    else:
        # rows of norm about 1 (the embedding's too when it is the head), so logits are O(1)
        # like the score
        if tied:
            w["model.embed_tokens.weight"] /= math.sqrt(H)
        if head in ("lm", "tied+lm"):
            w["lm_head.weight"] = rnd(V, H) / math.sqrt(H)
    os.makedirs(dir, exist_ok=True)
    cfg = {"architectures": ["LlamaForSequenceClassification"], "model_type": "llama",
           "vocab_size": V, "hidden_size": H, "num_hidden_layers": L, "num_attention_heads": nh,
           "num_key_value_heads": nkv, "intermediate_size": F, "max_position_embeddings": 64,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0 if rope is None else 50000.0,
           "rope_scaling": rope, "tie_word_embeddings": tied, "hidden_act": "silu",
           "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}, "bos_token_id": 1}
    if hd:
        cfg["head_dim"] = hd
    if case.startswith("qwen2"):
        cfg.update(model_type="qwen2", architectures=["Qwen2ForSequenceClassification"],
                   use_sliding_window=False)
    if head != "score":
        cfg["architectures"] = ["LlamaForCausalLM"]
        del cfg["id2label"], cfg["label2id"]
    if "rope_theta" in (rope or {}):
        del cfg["rope_theta"], cfg["rope_scaling"]
        cfg["rope_parameters"] = rope
    json.dump(cfg, open(os.path.join(dir, "config.json"), "w"), indent=2)
    names = list(w)
    if shards == 1:
        write_safetensors(os.path.join(dir, "model.safetensors"), w, dtype)
        return
    wm = {}
    for s in range(shards):
        part = {k: w[k] for k in names[s::shards]}
        fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        write_safetensors(os.path.join(dir, fn), part, dtype)
        wm.update({k: fn for k in part})
    json.dump({"metadata": {}, "weight_map": wm}, open(os.path.join(dir, "model.safetensors.index.json"), "w"))


def compare(ours_path, ref_path, tol, floor, mode=""):
    """Fails naming the first value whose error relative to max(|ref|, floor) exceeds tol;
    else prints the worst. Lines are "V1\tV2\t...\tNAME", the same names in the same order."""
    tol, floor = float(tol), float(floor)
    ours = [l.split("\t") for l in open(ours_path).read().splitlines()]
    ref = [l.split("\t") for l in open(ref_path).read().splitlines()]
    if not ours or len(ours) != len(ref):
        sys.exit(f"{ours_path}: {len(ours)} lines, {ref_path}: {len(ref)}")
    worst = 0.0
    for a, b in zip(ours, ref):
        if a[-1] != b[-1] or len(a) != len(b):
            sys.exit(f"lines differ in name or width: {a[-1]} ({len(a) - 1} values) and {b[-1]} ({len(b) - 1})")
        va, vb = [float(x) for x in a[:-1]], [float(x) for x in b[:-1]]
        if mode == "softmax":
            va = torch.tensor(va, dtype=torch.float64).softmax(-1).tolist()
        line = max(abs(y) for y in vb) if mode == "line" else 0.0
        for k, (x, y) in enumerate(zip(va, vb)):
            rel = abs(x - y) / max(abs(y), floor, line)
            worst = max(worst, rel)
            if not rel <= tol:  # (a NaN fails too)
                sys.exit(f"{a[-1]}: value {k}: {x} against {y}: relative error {rel:.2e} > {tol:g}")
    print(f"worst relative error {worst:.2e} over {len(ours)} lines of {len(ours[0]) - 1} values")


def head_from_score(src, dst, row, kind):
    cfg, w = load(src, torch.float32)  # F16 and BF16 values are exact in F32
    row = int(row)
    target = "model.embed_tokens.weight" if kind == "tied" else "lm_head.weight"
    w[target][row] = w.pop("score.weight")[0]
    cfg["tie_word_embeddings"] = kind == "tied"
    if kind == "tied":
        w.pop("lm_head.weight", None)
    os.makedirs(dst, exist_ok=True)
    json.dump(cfg, open(os.path.join(dst, "config.json"), "w"), indent=2)
    write_safetensors(os.path.join(dst, "model.safetensors"), w, "F32")


def main():
    if sys.argv[1] == "gen":
        gen(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "bench":
        import time
        torch.set_num_threads(os.cpu_count())
        cfg, w = load(sys.argv[2], torch.float32)
        n, seqs = int(sys.argv[3]), int(sys.argv[4])
        g = torch.Generator().manual_seed(0)
        batch = [torch.randint(cfg["vocab_size"], (n,), generator=g).tolist() for _ in range(seqs + 1)]
        with torch.no_grad():
            score(cfg, w, batch[0])  # warm-up, as curate's bench does
            t0 = time.perf_counter()
            for ids in batch[1:]:
                score(cfg, w, ids)
            dt = time.perf_counter() - t0
        print("tokens_per_s\t%.2f" % (n * seqs / dt))
    elif sys.argv[1] == "cases":
        print("\n".join(CASES))
    elif sys.argv[1] == "lm-cases":
        print("\n".join(LM_CASES))
    elif sys.argv[1] in ("logits", "probs"):
        cfg, w = load(sys.argv[2])
        tokens = [int(t) for t in sys.argv[3].split(",")]
        for f in sys.argv[4:]:
            ids = [int(x) for x in open(f).read().split()]
            v = logits(cfg, w, ids)[tokens]
            if sys.argv[1] == "probs":
                v = v.softmax(-1)
            print("\t".join("%.12g" % x for x in v.tolist()) + "\t" + f)
    elif sys.argv[1] == "compare":
        compare(*sys.argv[2:])
    elif sys.argv[1] == "head-from-score":
        head_from_score(*sys.argv[2:])
    else:
        cfg, w = load(sys.argv[2])
        for f in sys.argv[3:]:
            ids = [int(x) for x in open(f).read().split()]
            print("%.9f\t%s" % (score(cfg, w, ids), f))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""megatron_blend: reads a blend file the way Megatron-LM does, written from its documented
format (megatron/core/datasets/utils.py get_blend_from_list; --data-args-path reads a file
whose whitespace-separated words are the --data-path list): either a list of dataset
prefixes, or a flat list "W1 PREFIX1 W2 PREFIX2 ..." whose weights are numbers (if any
weight does not parse as a float, all words are prefixes). Weights are then normalized to
sum to 1, as BlendedMegatronDatasetBuilder does.

  megatron_blend.py FILE      prints "datasets N weight_sum S" and then one line per
                              directory of the prefixes: "DIR WEIGHT" (summed, normalized)

Fails (exit 1) when a prefix lacks its .bin or .idx file, a .idx is not a Megatron index, or
a weight is negative."""
import os
import struct
import sys


def get_blend_from_list(blend):
    if blend is None:
        return None
    if len(blend) % 2 == 1:
        weights, prefixes = None, blend
    else:
        raw_w, prefixes = blend[0::2], blend[1::2]
        weights = []
        for w in raw_w:
            try:
                weights.append(float(w))
            except ValueError:
                weights.append(None)
        if any(w is None for w in weights):
            assert all(w is None for w in weights), "mixed weights and prefixes"
            weights, prefixes = None, blend
    return [p.strip() for p in prefixes], weights


def check_index(path):
    with open(path, "rb") as f:
        head = f.read(34)
    if head[:9] != b"MMIDIDX\x00\x00" or struct.unpack("<Q", head[9:17])[0] != 1:
        raise SystemExit(f"megatron_blend: {path}: not a Megatron index")


def main():
    words = open(sys.argv[1]).read().split()
    prefixes, weights = get_blend_from_list(words)
    if weights is None:
        weights = [1.0] * len(prefixes)
    if any(w < 0 for w in weights):
        raise SystemExit("megatron_blend: a negative weight")
    total = sum(weights)
    by_dir = {}
    for p, w in zip(prefixes, weights):
        for ext in (".bin", ".idx"):
            if not os.path.isfile(p + ext):
                raise SystemExit(f"megatron_blend: {p}{ext} does not exist")
        check_index(p + ".idx")
        d = os.path.basename(os.path.dirname(p))
        by_dir[d] = by_dir.get(d, 0.0) + w / total
    print(f"datasets {len(prefixes)} weight_sum {sum(w / total for w in weights):.12f}")
    for d in sorted(by_dir):
        print(f"{d} {by_dir[d]:.12f}")


main()

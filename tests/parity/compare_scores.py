"""Compares two score listings ("SCORE\tNAME" per line, same names in the same order):
fails naming the first line whose error, relative to max(|reference|, FLOOR), exceeds TOL;
else prints the worst relative error.

  compare_scores.py OURS REFERENCE TOL FLOOR
"""
import sys

ours_path, ref_path, tol, floor = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
ours = [l.split("\t") for l in open(ours_path).read().splitlines()]
ref = [l.split("\t") for l in open(ref_path).read().splitlines()]
if not ours or len(ours) != len(ref):
    sys.exit(f"{ours_path}: {len(ours)} scores, {ref_path}: {len(ref)}")
worst = 0.0
for (a, fa), (b, fb) in zip(ours, ref):
    if fa != fb:
        sys.exit(f"names differ: {fa} and {fb}")
    rel = abs(float(a) - float(b)) / max(abs(float(b)), floor)
    worst = max(worst, rel)
    if not rel <= tol:  # (a NaN fails too)
        sys.exit(f"{fa}: {a} against {b}: relative error {rel:.2e} > {tol:g}")
print(f"worst relative error {worst:.2e} over {len(ours)} sequences")

# fasttext_lib.sh: helpers of the fastText tests and benchmark (sourced after tests/e2e/lib.sh):
# Reuters from Debian's weka in fastText's format, multilingual lines from the system's gettext catalogs, and a comparison
# of two predict-prob outputs (same labels on every line, probabilities within 1e-5).
command -v fasttext >/dev/null || { echo "skip: Debian fasttext not installed"; exit 77; }
ft_reuters() { # Corn|Grain train|test -> fastText lines on stdout
  python3 - "/usr/share/doc/weka/examples/Reuters$1-$2.arff" <<'PY'
import re, sys
data = False
for line in open(sys.argv[1], encoding="latin-1"):
    line = line.rstrip("\n")
    if line.startswith("@data"):
        data = True
        continue
    m = re.match(r"^'(.*)',([01])$", line) if data else None
    if m:
        text = m.group(1).replace("\\n", " ").replace("\\'", "'").lower()
        print(f"__label__{m.group(2)} {text}")
PY
}
ft_multilingual() { # N [labels] -> N lines per language from gettext catalogs, deterministic;
  # with "labels", each line starts with __label__LANG
  python3 - "$1" "${2:-}" <<'PY'
import gettext, glob, os, sys
n = int(sys.argv[1])
langs = ["de", "fr", "es", "it", "pt", "nl", "pl", "ru", "uk", "cs", "sv", "fi", "tr", "ja",
         "zh_CN", "ko", "el", "hu", "ro", "vi", "ar", "he", "id", "da"]
for lang in langs:
    out = []
    for mo in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        try:
            cat = gettext.GNUTranslations(open(mo, "rb"))._catalog
        except Exception:
            continue
        for k in sorted(cat, key=str):
            v = cat[k]
            if isinstance(k, str) and isinstance(v, str) and 40 <= len(v) <= 300 and "\n" not in v:
                out.append(v)
            if len(out) >= n:
                break
        if len(out) >= n:
            break
    for v in out:
        print(f"__label__{lang} {v}" if sys.argv[2] == "labels" else v)
PY
}
ft_same_predictions() { # a b -> fails unless labels agree and probabilities are within 1e-5
  python3 - "$1" "$2" <<'PY'
import sys
a = open(sys.argv[1]).read().split("\n")
b = open(sys.argv[2]).read().split("\n")
if len(a) != len(b):
    sys.exit(f"{len(a)} lines vs {len(b)}")
worst = 0.0
for i, (x, y) in enumerate(zip(a, b)):
    xs, ys = x.split(), y.split()
    if xs[0::2] != ys[0::2] or len(xs) != len(ys):
        sys.exit(f"line {i + 1}: labels differ: {x!r} vs {y!r}")
    for p, q in zip(xs[1::2], ys[1::2]):
        worst = max(worst, abs(float(p) - float(q)))
if worst > 1e-5:
    sys.exit(f"probabilities differ by {worst:g}")
print(f"{len(a)} lines: same labels, probabilities within {worst:g}")
PY
}
ft_same_model() { # a b -> fails unless two model files are the same bytes, except for the order
  # of the prune index's (bucket, row) pairs: fastText writes them in its unordered_map's
  # iteration order, which no other program reproduces and no reader depends on
  python3 - "$1" "$2" <<'PY'
import struct, sys
def split(path):
    b = open(path, "rb").read()
    o = 8 + 12 * 4 + 8  # magic, version, the args block
    size, _, _, _, pruned = struct.unpack_from("<iiiqq", b, o)
    o += 28
    for _ in range(size):
        o = b.index(b"\0", o) + 1 + 8 + 1
    n = max(pruned, 0)
    pairs = sorted(struct.unpack_from("<ii", b, o + 8 * i) for i in range(n))
    return b[:o], pairs, b[o + 8 * n:]
a, b = split(sys.argv[1]), split(sys.argv[2])
for what, x, y in zip(("header and dictionary", "prune index", "matrices"), a, b):
    if x != y:
        sys.exit(f"{sys.argv[1]} and {sys.argv[2]}: the {what} differ")
PY
}

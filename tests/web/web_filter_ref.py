# The web-filter stage's rules written again in Python from datatrove's equations
# (GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter, FineWebQualityFilter) with
# curate's documented word rule (whitespace tokens; a word is a token without the ASCII
# punctuation around it): reads JSONL documents on stdin, prints "id<TAB>reason" for each
# dropped one and "id<TAB>kept<TAB>sha256 of the text" for each kept one. The test compares
# this with the stage's output. Only defaults; fences honoured.
import hashlib, json, re, string, sys

PUNCT = set(string.punctuation)
STOP = {"the", "be", "to", "of", "and", "that", "have", "with"}
POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]
STOP_CHARS = tuple([".", "!", "?", '"', "'", ";", ":", ")", "\u2026", "\u3002", "\uff01", "\uff1f",
                    "\u061f", "\u06d4", "\u0964", "\u201d", "\u00bb"])
WS = " \t\n\r\f\v"
PUNCT_RULE = "c4_terminal_punct=true" in sys.argv[1:]  # off by default, as in FineWeb's recipe


def fence_len(line):
    m = re.match(r"^ {0,3}(`{3,})", line)
    return len(m.group(1)) if m else 0


def lines_marked(text):
    out, open_ = [], 0
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()  # a final newline ends the last line; it starts no empty one
    for line in parts:
        if open_:
            k = fence_len(line)
            if k >= open_ and line.lstrip(" ")[k:].strip(WS) == "":
                open_ = 0
            out.append((line, True))
        else:
            open_ = fence_len(line)
            out.append((line, bool(open_)))
    return out


def prose_of(text):
    return "\n".join(l for l, code in lines_marked(text) if not code)


def dups(items):
    seen, n, c = set(), 0, 0
    for x in items:
        if x in seen:
            n += 1
            c += len(x)
        else:
            seen.add(x)
    return n, c


def words_of(t):
    return [w for w in re.split("[ \t\n\r\f\v]+", t) if w]


def repetition(t):
    L = len(t)
    if L == 0:
        return None
    paras = re.split(r"\n{2,}", t.strip(WS))
    n, c = dups(paras)
    if n / len(paras) > 0.3:
        return "gopher_dup_para_frac"
    if c / L > 0.2:
        return "gopher_dup_para_char_frac"
    lines = re.split(r"\n+", t)
    n, c = dups(lines)
    if n / len(lines) > 0.3:
        return "gopher_dup_line_frac"
    if c / L > 0.2:
        return "gopher_dup_line_char_frac"
    words = words_of(t)
    for n, frac in ((2, 0.2), (3, 0.18), (4, 0.16)):
        grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
        if not grams:
            continue
        count, first = {}, {}
        for i, g in enumerate(grams):
            count[g] = count.get(g, 0) + 1
            first.setdefault(g, i)
        top = max(count, key=lambda g: (count[g], -first[g]))
        if len(top) * count[top] / L > frac:
            return f"gopher_top_{n}_gram"
    for n, frac in zip(range(5, 11), (0.15, 0.14, 0.13, 0.12, 0.11, 0.10)):
        if len(words) < n:
            continue
        seen, rep, i = set(), 0, 0
        while i < len(words) - n + 1:
            g = "".join(words[i:i + n])
            if g in seen:
                rep += len(g)
                i += n
            else:
                seen.add(g)
                i += 1
        if rep / L > frac:
            return f"gopher_duplicated_{n}_n_grams"
    return None


def quality(t):
    toks = words_of(t)
    words = [w.strip(string.punctuation) for w in toks]
    real = [w for w in words if w]
    alpha = sum(any(ord(c) >= 0x80 or c.isascii() and c.isalpha() for c in w) for w in words)
    if len(real) < 50:
        return "gopher_short_doc"
    if len(real) > 100000:
        return "gopher_long_doc"
    avg = sum(map(len, real)) / len(real)
    if avg < 3:
        return "gopher_below_avg_word_length"
    if avg > 10:
        return "gopher_above_avg_word_length"
    if t.count("#") / len(toks) > 0.1:
        return "gopher_too_many_hashes"
    if (t.count("...") + t.count("\u2026")) / len(toks) > 0.1:
        return "gopher_too_many_ellipsis"
    lines = re.split(r"\n+", t)
    st = [l.strip(WS) for l in lines]
    if sum(s.startswith("-") or s.startswith("\u2022") for s in st) / len(lines) > 0.9:
        return "gopher_too_many_bullets"
    if sum(s.endswith("...") or s.endswith("\u2026") for s in st) / len(lines) > 0.3:
        return "gopher_too_many_end_ellipsis"
    if alpha / len(toks) < 0.8:
        return "gopher_below_alpha_threshold"
    if sum(w in STOP for w in real) < 2:
        return "gopher_few_stop_words"
    return None


def sentences(s):
    k = sum(1 for i, c in enumerate(s) if c in ".?!" and (i + 1 == len(s) or s[i + 1] in WS))
    return max(k, 1)


def c4(text):
    out, nsent = [], 0
    for line, code in lines_marked(text):
        if code:
            out.append(line)
            continue
        s = line.strip(WS)
        words = [w for w in re.split("[ \t\n\r\f\v]+", s) if w]
        if any(len(w) > 1000 for w in words):
            continue
        s = re.sub(r"\[\d*\]|\[edit\]|\[citation needed\]", "", s)
        if PUNCT_RULE and (not s.endswith((".", "?", "!", '"', "'")) or s.endswith("...")):
            continue
        if len(words) < 3:
            continue
        low = s.lower()
        if "lorem ipsum" in low:
            return "c4_lorem_ipsum", None
        if "javascript" in low:
            continue
        if "{" in s:
            return "c4_curly_bracket", None
        if any(p in low for p in POLICY):
            continue
        nsent += sentences(s)
        out.append(s)
    if nsent < 5:
        return "c4_too_few_sentences", None
    return None, "\n".join(out).strip(WS)


def fineweb(t):
    lines = [l for l in re.split(r"\n+", t) if l.strip(WS)]
    if not lines:
        return "fineweb_empty"
    if sum(l.endswith(STOP_CHARS) for l in lines) / len(lines) < 0.12:
        return "fineweb_line_punct_ratio"
    if sum(len(l) <= 30 for l in lines) / len(lines) > 0.67:
        return "fineweb_short_line_ratio"
    nonnl = len(t) - t.count("\n")
    if nonnl and dups(lines)[1] / nonnl > 0.01:
        return "fineweb_char_dup_ratio"
    w = words_of(t)
    if w and t.count("\n") / len(w) > 0.3:
        return "fineweb_list_ratio"
    return None


for line in sys.stdin:
    d = json.loads(line)
    text = d["text"]
    if d.get("source") != "web":
        print(f"{d['id']}\tkept\t{hashlib.sha256(text.encode()).hexdigest()}")
        continue
    p = prose_of(text)
    if not p.strip(WS):
        print(f"{d['id']}\tkept\t{hashlib.sha256(text.encode()).hexdigest()}")
        continue
    r = repetition(p) or quality(p)
    if not r:
        r, text = c4(text)
    if not r:
        r = fineweb(prose_of(text))
    if r:
        print(f"{d['id']}\t{r}")
    else:
        print(f"{d['id']}\tkept\t{hashlib.sha256(text.encode()).hexdigest()}")

# Documents for tests/e2e/web_filter.sh: for each rule of the web-filter stage, one page that
# trips it and one just on the other side of its threshold, built from real prose (the
# sentences of Debian's GPL-3 text), as JSONL on stdout; the expected verdicts on fd 3 as
# "id<TAB>trip|pass<TAB>reason". Then real pages: every plain-text README, NEWS and
# changelog under /usr/share/doc (up to 400, sorted), as web pages, for the reference check.
import glob, gzip, json, os, re

S = [x.strip() for x in re.split(r"(?<=[.!?])\s+", " ".join(open("/usr/share/common-licenses/GPL-3").read().split()))
     if len(x.split()) >= 6 and not x.endswith("...")][5:]
exp = os.fdopen(3, "w")
docs = []


def page(pid, text, want, reason):
    docs.append({"id": pid, "text": text, "source": "web"})
    exp.write(f"{pid}\t{want}\t{reason}\n")


def toks(t):
    return t.split()


base_lines = S[0:12]
base = "\n".join(base_lines)
T = len(toks(base))
page("base", base, "pass", "-")

# Gopher quality: words, mean length, symbols, bullets, ellipses, letters, stop words
words = [w for w in " ".join(S).split() if w.isalpha() and w.lower() not in
         {"the", "be", "to", "of", "and", "that", "have", "with"}]
def wpage(ws, per=8):
    return "\n".join(" ".join(ws[i:i + per]) + "." for i in range(0, len(ws), per))
page("short-49", wpage(S and [w for w in " ".join(S[:20]).split() if w.isalpha()][:49]), "trip", "gopher_short_doc")
page("short-50", wpage([w for w in " ".join(S[:20]).split() if w.isalpha()][:50]), "pass", "gopher_short_doc")
page("long", wpage([f"word{i}x" for i in range(100001)], 10) + "\nthe with the.", "trip", "gopher_long_doc")
import itertools
two = ["".join(p) for p in itertools.product("bcdfghklmnprstvw", "aeiou")]
three = ["".join(p) for p in itertools.product("bcdfghklmnprstvw", "aeiou", "bdgklmnprst")]
page("avg-2", wpage(two[:70] + ["the", "with"]), "trip", "gopher_below_avg_word_length")
page("avg-3", wpage(three[:70] + ["the", "with"]), "pass", "gopher_below_avg_word_length")
eleven = [w + "abcdefghij"[:11 - len(w)] for w in three]  # 3 + 8 = 11 letters
ten = [w + "abcdefghij"[:10 - len(w)] for w in three]
page("avg-11", wpage(eleven[:70]), "trip", "gopher_above_avg_word_length")
page("avg-10", wpage(ten[:70]), "pass", "gopher_above_avg_word_length")
def marked(k, mark, where="pre"):
    out, n = [], 0
    for line in base_lines:
        ws = line.split()
        for j in range(1, len(ws) - 1):  # never the first or last word of a line
            if n < k:
                ws[j] = mark + ws[j] if where == "pre" else ws[j] + mark
                n += 1
        out.append(" ".join(ws))
    assert n == k
    return "\n".join(out)
k = T // 10
page("hash-trip", marked(k + 1, "#"), "trip", "gopher_too_many_hashes")
page("hash-pass", marked(k, "#"), "pass", "gopher_too_many_hashes")
page("ellipsis-trip", marked(k + 1, "...", "post"), "trip", "gopher_too_many_ellipsis")
page("ellipsis-pass", marked(k, "...", "post"), "pass", "gopher_too_many_ellipsis")
page("bullets-trip", "\n".join("- " + l for l in S[20:30]), "trip", "gopher_too_many_bullets")
page("bullets-pass", "\n".join(("- " if i < 9 else "") + l for i, l in enumerate(S[20:30])), "pass", "gopher_too_many_bullets")
page("endell-trip", "\n".join(l[:-1] + ("..." if i < 4 else ".") for i, l in enumerate(S[30:40])), "trip", "gopher_too_many_end_ellipsis")
page("endell-pass", "\n".join(l[:-1] + ("..." if i < 3 else ".") for i, l in enumerate(S[30:40])), "pass", "gopher_too_many_end_ellipsis")
page("alpha-trip", "\n".join(l + " " + " ".join(str(100 + i * 50 + j) for j in range(len(l.split()))) + " end." for i, l in enumerate(base_lines)), "trip", "gopher_below_alpha_threshold")
page("alpha-pass", "\n".join(l + " " + str(100 + i) + " end." for i, l in enumerate(base_lines)), "pass", "gopher_below_alpha_threshold")
page("stop-1", wpage(words[:80] + ["the"]), "trip", "gopher_few_stop_words")
page("stop-2", wpage(words[:80] + ["the", "with"]), "pass", "gopher_few_stop_words")

# Gopher repetition: paragraphs and lines, by count and by characters
paras = S[40:50]
page("dup-para-trip", "\n\n".join(paras[:6] + paras[:4]), "trip", "gopher_dup_para_frac")
page("dup-para-pass", "\n\n".join(paras[:7] + paras[1:4]), "pass", "gopher_dup_para_frac")
long_p = " ".join(S[50:56])
page("dup-parachar-trip", "\n\n".join([long_p] + S[60:70] + [long_p]), "trip", "gopher_dup_para_char_frac")
page("dup-line-trip", "\n".join(paras[:6] + paras[:4]), "trip", "gopher_dup_line_frac")
page("dup-line-pass", "\n".join(paras[:7] + paras[1:4]), "pass", "gopher_dup_line_frac")
page("dup-linechar-trip", "\n".join([long_p] + S[60:70] + [long_p]), "trip", "gopher_dup_line_char_frac")
rep = " ".join(S[70].split()[:14])
page("top2-trip", "\n".join(f"{rep.split()[0]} {rep.split()[1]} " * 6 + l for l in S[72:80]), "trip", "gopher_top_2_gram")
page("dupngram-trip", "\n".join(l + " " + rep for l in S[80:88]), "trip", "gopher_duplicated_7_n_grams")

# C4: page rules and removed lines
page("lorem", base + "\nLorem ipsum dolor sit amet, consectetur.", "trip", "c4_lorem_ipsum")
page("curly", base + "\nThe value of { is a brace, not prose.", "trip", "c4_curly_bracket")
page("curly-in-code", base + "\n```c\nint main(void) { return 0; }\n```", "pass", "c4_curly_bracket")
page("sent-4", "\n".join(S[100:104]), "trip", "c4_too_few_sentences")
page("js-policy", base + "\nPlease enable JavaScript to view this page.\nThis site uses cookies for analytics.\nshort line", "pass", "c4")

# FineWeb
nopunct = "\n".join(l.rstrip(".") + " and more words to pass the length" for l in S[110:130])
page("punct-trip", nopunct, "trip", "fineweb_line_punct_ratio")
short = [" ".join(three[i * 5:i * 5 + 5]) + "." for i in range(40)]
longl = S[130:140]
page("short-trip", "\n".join(short[:21] + longl[:9]), "trip", "fineweb_short_line_ratio")
page("short-pass", "\n".join(short[:20] + longl[:10]), "pass", "fineweb_short_line_ratio")
page("list-trip", "the " + ten[900 % len(ten)] + " with.\n" + "\n".join(" ".join(ten[i * 3:i * 3 + 3]) + "." for i in range(40)), "trip", "fineweb_list_ratio")
page("list-pass", "the " + ten[900 % len(ten)] + " with.\n" + "\n".join(" ".join(ten[i * 4:i * 4 + 4]) + "." for i in range(40)), "pass", "fineweb_list_ratio")
page("chardup-trip", "\n".join(S[140:170] + [S[140]]), "trip", "fineweb_char_dup_ratio")
page("chardup-pass", "\n".join(S[140:170]), "pass", "fineweb_char_dup_ratio")

# real pages: plain-text documentation, as a site would serve it
files = sorted(f for f in glob.glob("/usr/share/doc/*/*") if re.search(r"/(README|NEWS|changelog)[^/]*$", f, re.I))
n = 0
for f in files:
    try:
        raw = gzip.open(f).read() if f.endswith(".gz") else open(f, "rb").read()
        text = raw.decode("utf-8")
    except Exception:
        continue
    if not text.strip() or len(text) > 200000:
        continue
    docs.append({"id": f, "text": text, "source": "web"})
    n += 1
    if n == 400:
        break
docs.append({"id": "code-file", "text": "int x;\n", "source": "github"})
for d in docs:
    print(json.dumps(d, ensure_ascii=False))

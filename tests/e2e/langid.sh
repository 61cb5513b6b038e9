# The langid stage with fastText's lid.176.ftz (npm, scripts/lid176.sh): on real multilingual
# pages (gettext catalogs of 24 languages, five lines a page; Reuters news in English; pages
# whose prose is German or French around Python code in Markdown fences) metadata.language and
# language_score are exactly Debian's `fasttext predict-prob` on the prose (fences left out,
# newlines as spaces); with code_fences=false the code counts again, as fasttext on the whole
# page says; the languages list, threshold, tag action and sources options do what they say;
# the same shards on 1 and 2 ranks.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/fasttext_lib.sh"
lid=$(bash "$ROOT/scripts/lid176.sh") || { echo "skip: lid.176.ftz cannot be fetched"; exit 77; }
cd "$T"
ft_multilingual 40 labels >multi.txt
py=$(ls -d /usr/lib/python3.[0-9]* | head -1)
# pages.jsonl: the documents (source web; a few of source import, which langid leaves alone);
# prose.txt / whole.txt: each web page's prose and whole text on one line, for fasttext
python3 - "$py" >pages.jsonl 3>prose.txt 4>whole.txt <<'PY'
import glob, json, os, re, sys
prose, whole = os.fdopen(3, "w"), os.fdopen(4, "w")
pages, by = [], {}
for line in open("multi.txt", encoding="utf-8"):
    lab, text = line.rstrip("\n").split(" ", 1)
    by.setdefault(lab[9:], []).append(text)
for lang in sorted(by):
    t = by[lang]
    for i in range(0, len(t), 5):
        pages.append((f"{lang}-{i}", "\n".join(t[i:i + 5])))
news, data = [], False
for line in open("/usr/share/doc/weka/examples/ReutersGrain-test.arff", encoding="latin-1"):
    m = re.match(r"^'(.*)',([01])$", line.rstrip("\n")) if data else None
    data = data or line.startswith("@data")
    if m and len(news) < 30:
        news.append(m.group(1).replace("\\n", "\n").replace("\\'", "'"))
pages += [(f"news-{i}", n) for i, n in enumerate(news)]
code = [open(f, encoding="utf-8").read()[:1500] for f in sorted(glob.glob(sys.argv[1] + "/*.py"))[:20]]
de, fr = by["de"], by["fr"]
for i, c in enumerate(code):
    # a short sentence around a long fenced block; an unclosed fence runs to the end
    p = de[i] if i % 2 else fr[i]
    fence = "````" if i % 3 == 0 else "```python"
    close = "````" if i % 3 == 0 else "```"
    tail = f"\n{close}\n\n{p}" if i % 5 else ""
    pages.append((f"code-{i}", f"{p}\n\n{fence}\n{c}{tail}"))
def flat(s):
    return " ".join(s.split("\n"))
def strip_fences(s):
    out, open_ = [], 0
    for line in s.split("\n"):
        m = re.match(r"^ {0,3}(`{3,})", line)
        if open_:
            if m and len(m.group(1)) >= open_ and line.strip(" \t\r").strip("`") == "":
                open_ = 0
        elif m:
            open_ = len(m.group(1))
        else:
            out.append(line)
    return "\n".join(out)
for pid, text in pages:
    print(json.dumps({"id": pid, "text": text, "source": "web"}, ensure_ascii=False))
    prose.write(flat(strip_fences(text)) + "\n")
    whole.write(flat(text) + "\n")
for i in range(5):
    print(json.dumps({"id": f"other-{i}", "text": by["ja"][i], "source": "import"}, ensure_ascii=False))
PY
npages=$(wc -l <prose.txt)
check "many pages" test "$npages" -gt 200
"$CURATE" import workdir="$T/w" "import.paths=[$T/pages.jsonl]" import.shards=3 >/dev/null 2>&1 ||
  fail "import failed"
lang() { # workdir options... -> runs langid
  local w=$1; shift
  "$CURATE" langid stages=[import,langid] workdir="$w" "langid.model=$lid" --force "$@" >"$T/run.log" 2>&1 ||
    { cat "$T/run.log"; fail "langid $* failed"; }
}
out() { zstdcat "$1"/langid/part-*.jsonl.zst | jq -c '{id, source, language: .metadata.language, score: .metadata.language_score}'; }
# fasttext's line i against the document whose id is the page's: same label, same probability
same() { # fasttext-output metadata-jsonl
  python3 - "$1" "$2" <<'PY'
import json, sys
ids = [json.loads(l)["id"] for l in open("pages.jsonl") if json.loads(l)["source"] == "web"]
ref = dict(zip(ids, open(sys.argv[1]).read().split("\n")))
got = {j["id"]: j for j in map(json.loads, open(sys.argv[2]))}
n = 0
for pid, line in ref.items():
    lab, p = line.split()
    g = got[pid]
    # fastText prints exp(log(p + 1e-5)), which can pass 1; curate keeps probabilities <= 1
    if g["language"] != lab[9:] or g["score"] != min(float(p), 1.0):
        sys.exit(f"{pid}: fasttext says {lab} {p}, curate {g['language']} {g['score']}")
    n += 1
for j in got.values():
    if j["source"] != "web" and j["language"] is not None:
        sys.exit(f"{j['id']}: source {j['source']} was identified")
print(n, "pages agree")
PY
}

# 1. tag only: every page identified as fasttext does, fences left out
lang "$T/w" langid.action=tag
out "$T/w" >tag.jsonl
check "every document kept" test "$(wc -l <tag.jsonl)" = $((npages + 5))
fasttext predict-prob "$lid" prose.txt 1 >prose.ref
check "prose: labels and probabilities of fasttext predict-prob" same prose.ref tag.jsonl
check "several languages" test "$(jq -r .language tag.jsonl | sort -u | wc -l)" -ge 20
S="$T/w/langid/stats.json"
check "identified counted" test "$(jq '.counters["identified"]' "$S")" = "$npages"
check "other sources counted" test "$(jq '.counters["other_source"]' "$S")" = 5
check "German counted" test "$(jq '.counters["lang_de"]' "$S")" = \
  "$(jq -r 'select(.language == "de") | .id' tag.jsonl | wc -l)"
check "code pages: prose language" test \
  "$(jq -r 'select(.id | startswith("code-")) | .language' tag.jsonl | sort -u | tr '\n' ' ')" = "de fr "

# 2. code_fences=false: the whole page is fastText's input, and the code changes verdicts
lang "$T/w" langid.action=tag langid.code_fences=false
out "$T/w" >whole.jsonl
fasttext predict-prob "$lid" whole.txt 1 >whole.ref
check "whole pages: as fasttext predict-prob" same whole.ref whole.jsonl
check "the code changes some code pages' verdicts" test \
  "$(jq -r 'select(.id | startswith("code-")) | [.language, .score] | @tsv' whole.jsonl | sort | md5sum)" != \
  "$(jq -r 'select(.id | startswith("code-")) | [.language, .score] | @tsv' tag.jsonl | sort | md5sum)"

# 3. drop: languages and threshold, each its own reason
lang "$T/w" "langid.languages=[de, __label__fr]" langid.threshold=0.9
out "$T/w" >drop.jsonl
want_keep=$(jq -r 'select(.source != "web" or ((.language == "de" or .language == "fr") and .score >= 0.9)) | .id' tag.jsonl | sort)
check "kept: de and fr at >= 0.9, and other sources" test "$(jq -r .id drop.jsonl | sort)" = "$want_keep"
want_lang=$(jq -r 'select(.source == "web" and .language != "de" and .language != "fr")' tag.jsonl | jq -s length)
want_score=$(jq -r 'select(.source == "web" and (.language == "de" or .language == "fr") and .score < 0.9)' tag.jsonl | jq -s length)
S="$T/w/langid/stats.json"
check "reason language" test "$(jq '.drops.language.docs' "$S")" = "$want_lang"
check "reason language_score" test "$(jq '.drops.language_score.docs // 0' "$S")" = "$want_score"
check "some pages below 0.9" test "$want_score" -gt 0
if "$CURATE" langid stages=[import,langid] workdir="$T/w" "langid.model=$lid" "langid.languages=[xx]" --force >bad.log 2>&1; then
  fail "an unknown language was accepted"
fi
contains bad.log "xx"

# 4. the default threshold 0.65 and sources: web only by default; import listed
lang "$T/w" "langid.sources=[web, import]" langid.action=tag
check "import documents identified too" test \
  "$(out "$T/w" | jq -r 'select(.source == "import") | .language' | sort -u)" = ja
check "default threshold is datatrove's 0.65" test \
  "$("$CURATE" config show workdir=x | sed -n '/^langid:/,/^[a-z]/p' | awk '/threshold:/ {print $2}')" = 0.65

# 5. ranks: the same shards under 2 ranks
lang "$T/w" langid.action=tag
sha1=$(cat "$T"/w/langid/part-*.jsonl.zst | sha256sum)
mpiexec -n 2 "$CURATE" langid stages=[import,langid] workdir="$T/w" "langid.model=$lid" langid.action=tag --force >/dev/null 2>&1 ||
  fail "2 ranks failed"
check "same shards on 2 ranks" test "$(cat "$T"/w/langid/part-*.jsonl.zst | sha256sum)" = "$sha1"
echo "langid ok: $npages pages as fasttext predict-prob"

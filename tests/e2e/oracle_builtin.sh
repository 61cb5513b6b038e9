# The oracle's builtin engine on a tiny random LlamaForCausalLM (`scorer init --lm`, Qwen3's
# tokenizer, whose digits are single tokens): every label's digit distribution equals the
# softmax, over the tokens "0".."9", of the next-token logits the PyTorch reference
# (tests/parity/scorer_ref.py, float64) computes for the same prompt (the template rendered
# here in Python, wrapped in ChatML and opened on "Rating: [["), within 1e-4 relative; the
# rating is its mean, with its mode and entropy; the labels are the same for 1 and 2 ranks;
# the emulated CUDA path matches the CPU within the bf16 tolerance; and a checkpoint without
# an lm_head or a tied embedding, or a vocabulary without digit tokens, is a clear error.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/env.sh" >/dev/null
PY=/usr/bin/python3
REF="$ROOT/tests/parity/scorer_ref.py"
$PY -c 'import torch' || fail "python3-torch is missing (scripts/deps.sh installs it)"
"$CURATE" scorer init --preset tiny --seed 13 -t "$TOK_QWEN3" -o "$T/lm" --lm untied || fail "scorer init --lm"
"$CURATE" scorer init --preset tiny --seed 13 -t "$TOK_QWEN3" -o "$T/tied" --lm tied || fail "scorer init --lm tied"
mkdir -p "$T/in"
$PY - "$T/in/docs.jsonl" <<'PYEOF'
import json, sys
langs = ["python", "c", "go"]
with open(sys.argv[1], "w") as f:
    for i in range(9):
        text = f"def f{i}(x):\n    return x * {i}\n" * (1 + i % 4) + ("é ünïcode\n" if i == 4 else "")
        f.write(json.dumps({"id": f"d{i}", "text": text, "source": "github", "metadata": {"lang": langs[i % 3]}}) + "\n")
PYEOF
common=(stages=[import,oracle] import.paths=["$T/in"] import.format=jsonl import.shards=2
        oracle.engine=builtin oracle.sample=9 oracle.shards=3 oracle.threads=1 oracle.max_chars=200)
for n in 1 2; do
  mpiexec -n $n "$CURATE" run workdir="$T/n$n" "${common[@]}" oracle.model="$T/lm" 2>"$T/n$n.log" ||
    { cat "$T/n$n.log"; fail "builtin run on $n ranks"; }
  digest "$T/n$n/oracle" >"$T/n$n.sha"
done
cmp "$T/n1.sha" "$T/n2.sha" || fail "builtin labels differ between 1 and 2 ranks"
zstdcat "$T"/n1/oracle/part-*.jsonl.zst >"$T/labels.jsonl"
test "$(wc -l <"$T/labels.jsonl")" = 9 || fail "not every document labelled"

# the prompts, rendered independently, and their token ids with our tokenizer
"$CURATE" oracle-template code-quality >"$T/template.txt"
mkdir -p "$T/prompts"
$PY - "$T/labels.jsonl" "$T/template.txt" "$T/prompts" <<'PYEOF'
import json, sys
tpl = open(sys.argv[2]).read()
for d in map(json.loads, open(sys.argv[1])):
    text = d["text"].encode()
    content = text.decode()
    if len(text) > 200:
        cut = 200
        while text[cut] & 0xC0 == 0x80:
            cut -= 1
        content = text[:cut].decode() + "\n[... truncated]"
    p = tpl.replace("{language}", d["metadata"]["lang"]).replace("{content}", content)
    chat = "<|im_start|>user\n" + p + "<|im_end|>\n<|im_start|>assistant\nRating: [["
    open(f"{sys.argv[3]}/{d['id']}.txt", "w").write(chat)
PYEOF
digits=""
for v in 0 1 2 3 4 5 6 7 8 9; do
  printf %s "$v" >"$T/digit"
  digits+="${digits:+,}$("$CURATE" tokenizer encode -t "$T/lm/tokenizer.json" "$T/digit")"
done
for f in "$T"/prompts/*.txt; do
  "$CURATE" tokenizer encode -t "$T/lm/tokenizer.json" "$f" >"${f%.txt}.ids"
done
"$CURATE" tokenizer encode -t "$T/lm/tokenizer.json" <(printf 10) | grep -q ' ' ||
  fail "Qwen3's tokenizer is expected to write 10 as two tokens"
ls "$T"/prompts/*.ids >"$T/files"
$PY "$REF" probs "$T/lm" "$digits" $(cat "$T/files") >"$T/ref.probs" || fail "the reference"
$PY - "$T/labels.jsonl" "$T/ref.probs" "$T/files" <<'PYEOF' || fail "builtin digit probabilities differ from the reference"
import json, math, sys
labels = {d["id"]: d for d in map(json.loads, open(sys.argv[1]))}
files = open(sys.argv[3]).read().split()
ref = {}
for line in open(sys.argv[2]):
    *ps, path = line.rstrip("\n").split("\t")
    ref[path.rsplit("/", 1)[1][:-4]] = [float(x) for x in ps]
assert set(ref) == set(labels), (sorted(ref), sorted(labels))
worst = 0
for i, d in labels.items():
    o = d["oracle"]
    got = o["rating_probs"]
    assert len(got) == 11 and got[10] == 0, got
    for v in range(10):
        rel = abs(got[v] - ref[i][v]) / max(ref[i][v], 1e-12)
        worst = max(worst, rel)
        assert rel < 1e-4, (i, v, got[v], ref[i][v])
    mean = sum(v * p for v, p in enumerate(got))
    assert abs(d["rating"] - mean) < 1e-12 and abs(d["score"] - mean / 10) < 1e-12
    assert o["rating_mode"] == max(range(10), key=lambda v: got[v])
    ent = -sum(p * math.log(p) for p in got if p > 0)
    assert abs(o["rating_entropy"] - ent) < 1e-9
    assert o["engine"] == "builtin" and o["completion_tokens"] == 0
    assert o["prompt_tokens"] == len(open(f"{sys.argv[3].rsplit('/', 1)[0]}/prompts/{i}.ids").read().split())
print(f"builtin: 9 labels, digit probabilities within {worst:.1e} of the reference")
PYEOF

# the tied checkpoint reads its digit rows from the embedding
"$CURATE" run workdir="$T/tied" "${common[@]}" oracle.model="$T/tied" 2>"$T/tied.log" ||
  { cat "$T/tied.log"; fail "tied checkpoint"; }
$PY "$REF" probs "$T/tied" "$digits" "$T/prompts/d0.ids" >"$T/tied.ref"
$PY - "$T/tied" "$T/tied.ref" <<'PYEOF' || fail "tied: probabilities differ from the reference"
import json, subprocess, sys
d = next(json.loads(l) for l in subprocess.run(["sh", "-c", f"zstdcat {sys.argv[1]}/oracle/part-*.jsonl.zst"],
         capture_output=True, text=True).stdout.splitlines() if json.loads(l)["id"] == "d0")
ref = [float(x) for x in open(sys.argv[2]).read().split("\t")[:-1]]
assert all(abs(a - b) / b < 1e-4 for a, b in zip(d["oracle"]["rating_probs"], ref)), (d["oracle"]["rating_probs"], ref)
PYEOF

# the CUDA source on the CPU emulator: the same distributions within the bf16 tolerance
emu="$(dirname "$CURATE")/libcurate-cuda-emu.so"
[ -f "$emu" ] || fail "no $emu (make builds it in every mode)"
CURATE_CUDA_LIB=$emu "$CURATE" run workdir="$T/cuda" "${common[@]}" oracle.model="$T/lm" oracle.device=cuda \
  2>"$T/cuda.log" || { cat "$T/cuda.log"; fail "builtin on the emulated GPU"; }
contains "$T/cuda.log" "on cuda:"
zstdcat "$T"/cuda/oracle/part-*.jsonl.zst >"$T/cuda.jsonl"
$PY "$REF" logits "$T/lm" "$digits" $(cat "$T/files") >"$T/ref.logits"
$PY - "$T/labels.jsonl" "$T/cuda.jsonl" "$T/ref.logits" <<'PYEOF' || fail "emulated CUDA distributions differ from the CPU's"
import json, math, sys
cpu = {d["id"]: d["oracle"]["rating_probs"] for d in map(json.loads, open(sys.argv[1]))}
gpu = {d["id"]: d["oracle"]["rating_probs"] for d in map(json.loads, open(sys.argv[2]))}
assert set(cpu) == set(gpu)
worst = 0
for line in open(sys.argv[3]):
    *ls, path = line.rstrip("\n").split("\t")
    i = path.rsplit("/", 1)[1][:-4]
    # docs/scorer.md: a bf16 logit is within 3e-2 of max(1, the sequence's largest |logit|);
    # a softmax probability then moves by at most exp(2 * that) - 1, relative
    bound = math.exp(2 * 3e-2 * max(1, max(abs(float(x)) for x in ls))) - 1
    for c, g in zip(cpu[i][:10], gpu[i][:10]):
        rel = abs(g - c) / c
        worst = max(worst, rel / bound)
        assert rel <= bound, (i, c, g, bound)
print(f"emulated CUDA: digit probabilities within {worst:.2f} of the bf16 bound of the CPU's")
PYEOF

# clear errors
"$CURATE" scorer init --preset tiny --seed 1 -t "$TOK_QWEN3" -o "$T/cls" || fail "scorer init"
"$CURATE" run workdir="$T/bad" "${common[@]}" oracle.model="$T/cls" 2>"$T/nohead.log" &&
  fail "a checkpoint without an lm_head accepted"
contains "$T/nohead.log" "no tensor 'lm_head.weight'"
"$CURATE" run workdir="$T/bad" "${common[@]}" oracle.model="$T/lm" oracle.chat_template=plain 2>"$T/chat.log" &&
  fail "a chat template without {prompt} accepted"
contains "$T/chat.log" "neither a preset (chatml, llama3) nor a text with a {prompt} slot"
echo "oracle builtin: digit probabilities match PyTorch, 1 and 2 ranks agree, emulated CUDA agrees"

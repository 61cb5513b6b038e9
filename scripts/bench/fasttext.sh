# Benchmark of the fastText classifier and the relevance stage against Debian's fasttext 0.9.2:
# training words/s/thread, prediction MB/s on one core (a dense .bin and lid.176.ftz),
# quantize's time on the trained .bin, and
# memory per rank when several ranks on one node classify with one large model (the .bin's
# input matrix is memory-mapped and shared; fasttext loads a private copy per process).
# Sourced by scripts/bench.sh (C, W, R, best, rss_kib, mbs, ratio); prints its section.
FW="$W/fasttext"
mkdir -p "$FW"
source tests/parity/fasttext_lib.sh >/dev/null
for s in train test; do ft_reuters Grain $s; ft_reuters Corn $s; done >"$FW/reuters.txt"
for i in $(seq 8); do cat "$FW/reuters.txt"; done >"$FW/train.txt"
for i in $(seq 16); do cat "$FW/reuters.txt"; done | cut -d' ' -f2- >"$FW/predict.txt"
ntok=$(( $(wc -w <"$FW/train.txt") + $(wc -l <"$FW/train.txt") ))
pbytes=$(stat -c %s "$FW/predict.txt")
opts="-dim 50 -epoch 5 -wordNgrams 2 -bucket 200000 -verbose 0"

# 1. training, 1 and 2 threads: words/s/thread = epochs x tokens / seconds / threads
tr_cur() { "$C" fasttext supervised -input "$FW/train.txt" -output "$FW/cur" $opts -thread "$1"; }
tr_ref() { fasttext supervised -input "$FW/train.txt" -output "$FW/ref" $opts -thread "$1"; }
t_cur1=$(best tr_cur 1); t_ref1=$(best tr_ref 1); t_cur2=$(best tr_cur 2); t_ref2=$(best tr_ref 2)
wps() { awk -v n="$ntok" -v s="$1" -v t="$2" 'BEGIN { printf "%.0f", 5 * n / s / t }'; }

# 2. prediction on one core: the trained .bin, then lid.176.ftz
pr_cur() { "$C" fasttext predict "$1" "$FW/predict.txt" 1; }
pr_ref() { fasttext predict "$1" "$FW/predict.txt" 1; }
t_pc=$(best pr_cur "$FW/ref.bin"); t_pr=$(best pr_ref "$FW/ref.bin")
lid=$(bash scripts/lid176.sh 2>/dev/null || true)
if [ -n "$lid" ]; then
  t_lc=$(best pr_cur "$lid"); t_lr=$(best pr_ref "$lid")
fi

# 3. quantize the trained .bin (dim 50, ~200k rows): norms, pruning, k-means, codes
qopts="-qnorm -cutoff 100000"
q_cur() { cp "$FW/ref.bin" "$FW/qc.bin"; "$C" fasttext quantize -output "$FW/qc" $qopts -verbose 0; }
q_ref() { cp "$FW/ref.bin" "$FW/qr.bin"; fasttext quantize -output "$FW/qr" -input "$FW/train.txt" $qopts; }
t_qc=$(best q_cur); t_qr=$(best q_ref)

# 4. memory: a 1M-bucket, dim-100 model (~400 MB) shared by ranks of the relevance stage
sed 's/^__label__1/__label__code/; s/^__label__0/__label__other/' "$FW/reuters.txt" >"$FW/lab.txt"
fasttext supervised -input "$FW/lab.txt" -output "$FW/big" -dim 100 -epoch 1 -wordNgrams 2 \
  -bucket 1000000 -verbose 0 -thread 2 >/dev/null 2>&1
msize=$(stat -c %s "$FW/big.bin")
mkdir -p "$FW/docs"
python3 - "$FW/reuters.txt" "$FW/docs" <<'PY'
import json, sys
out = [open(f"{sys.argv[2]}/part{k}.jsonl", "w") for k in range(4)]
for i, l in enumerate(open(sys.argv[1])):
    for c in range(4):  # four copies, one file each: a shard per rank
        out[c].write(json.dumps({"id": f"r{c}-{i}", "text": l.split(" ", 1)[1], "source": "web",
                                 "metadata": {"has_code_markup": False}}) + "\n")
PY
"$C" import workdir="$FW/wd" import.paths="[$FW/docs]" import.shards=4 >/dev/null 2>&1
# the peak over the run of the summed proportional set size (shared pages split between
# the processes that map them) and the largest single RSS, sampled every 50 ms
mem_run() { # command... -> "sum_pss_kib max_rss_kib"
  "$@" >/dev/null 2>&1 &
  local pid=$! peak=0 rss=0
  while kill -0 $pid 2>/dev/null; do
    read -r p r < <(for q in $(pgrep -f "^($C relevance|fasttext predict)"); do
        awk '/^Pss:/ { p = $2 } /^Rss:/ { r = $2 } END { print p + 0, r + 0 }' /proc/$q/smaps_rollup 2>/dev/null
      done | awk '{ p += $1; if ($2 > r) r = $2 } END { print p + 0, r + 0 }')
    [ "${p:-0}" -gt "$peak" ] && peak=$p
    [ "${r:-0}" -gt "$rss" ] && rss=$r
    sleep 0.05
  done
  wait $pid || echo "bench: $* failed" >&2
  echo "$peak $rss"
}
rel() { mpiexec -n "$1" "$C" relevance workdir="$FW/wd" stages="[import, relevance]" relevance.model="$FW/big.bin" --force; }
refp() { for i in $(seq "$1"); do fasttext predict "$FW/big.bin" "$FW/predict.txt" >/dev/null & done; wait; }
declare -A pss rss rpss rrss
for n in 1 2 4; do
  read -r pss[$n] rss[$n] < <(mem_run rel $n)
  read -r rpss[$n] rrss[$n] < <(mem_run refp $n)
done
mib() { echo $(( $1 / 1024 )); }

# 5. accuracy with two threads (Hogwild: every run differs): P@2 of HOGWILD_RUNS models each
#    tool trains on two-label gettext lines (language, family); mean, standard deviation, range.
#    This comparison was a test until it failed by chance (issue 25); it is a measurement.
HR=${HOGWILD_RUNS:-10}
ft_multilingual 300 labels | awk '
  BEGIN { split("de nl sv da", g); for (i in g) fam[g[i]] = "germanic"
          split("fr es it pt ro", r); for (i in r) fam[r[i]] = "romance"
          split("pl ru uk cs", s); for (i in s) fam[s[i]] = "slavic" }
  { l = substr($1, 10); $1 = $1 " __label__" (l in fam ? fam[l] : "other")
    print > (NR % 3 ? "'"$FW"'/lang_train.txt" : "'"$FW"'/lang_test.txt") }'
hopts="-bucket 100000 -thread 2 -verbose 0 -dim 20 -loss ns -neg 5 -minn 2 -maxn 4 -epoch 20 -lr 0.5"
p2s() { # tool... -> HR values of P@2, one a line
  for _ in $(seq "$HR"); do
    "$@" supervised -input "$FW/lang_train.txt" -output "$FW/lang" $hopts >/dev/null 2>&1
    "$@" test "$FW/lang.bin" "$FW/lang_test.txt" 2 | awk '$1 == "P@2" { print $2 }'
  done
}
summary() { awk '{ s += $1; q += $1 * $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
  END { m = s / NR; printf "%.4f | %.4f | %.3f-%.3f", m, sqrt(q / NR - m * m), lo, hi }'; }
h_cur=$(p2s "$C" fasttext | summary) h_ref=$(p2s fasttext | summary)

cat <<MD
## fastText classifier and the relevance stage

Input: Reuters Grain and Corn (Debian \`weka\`) in fastText's format; training on 8 copies
($ntok tokens), prediction on 16 copies without labels ($(mbs "$pbytes" 1) MB). Options:
\`$opts\`. Reference: Debian's \`fasttext\` 0.9.2 with the same options, same run.

| what | curate | fasttext | ratio (curate / fasttext) |
|---|---|---|---|
| training, 1 thread | $(wps "$t_cur1" 1) words/s/thread ($(printf %.2f "$t_cur1") s) | $(wps "$t_ref1" 1) words/s/thread ($(printf %.2f "$t_ref1") s) | speed $(ratio "$t_ref1" "$t_cur1") |
| training, 2 threads | $(wps "$t_cur2" 2) words/s/thread ($(printf %.2f "$t_cur2") s) | $(wps "$t_ref2" 2) words/s/thread ($(printf %.2f "$t_ref2") s) | speed $(ratio "$t_ref2" "$t_cur2") |
| predict, dense .bin (dim 50), 1 core | $(mbs "$pbytes" "$t_pc") MB/s ($(printf %.2f "$t_pc") s) | $(mbs "$pbytes" "$t_pr") MB/s ($(printf %.2f "$t_pr") s) | speed $(ratio "$t_pr" "$t_pc") |
| quantize \`$qopts\` of that .bin, 1 core | $(printf %.2f "$t_qc") s ($(stat -c %s "$FW/qc.ftz") bytes) | $(printf %.2f "$t_qr") s ($(stat -c %s "$FW/qr.ftz") bytes) | speed $(ratio "$t_qr" "$t_qc") |
MD
[ -n "$lid" ] && cat <<MD
| predict, lid.176.ftz (quantized, 176 labels), 1 core | $(mbs "$pbytes" "$t_lc") MB/s ($(printf %.2f "$t_lc") s) | $(mbs "$pbytes" "$t_lr") MB/s ($(printf %.2f "$t_lr") s) | speed $(ratio "$t_lr" "$t_lc") |
MD
cat <<MD

Memory with a large model ($(mbs "$msize" 1) MB .bin: 1M buckets, dim 100) on one node:
\`curate relevance\` under \`mpiexec -n N\` (the model memory-mapped, its pages shared) against N
\`fasttext predict\` processes (each loads its own copy). PSS splits shared pages between the
processes mapping them, so its sum is the node's real footprint; RSS counts them in full for
each process. Only the rows a page's words touch are read from the map. The stage's time is
not compared here: it includes hashing the model file for the stage's fingerprint.

| ranks | curate: node total (sum of PSS) | curate: largest RSS | fasttext: node total (sum of PSS) | fasttext: largest RSS |
|---|---|---|---|---|
| 1 | $(mib "${pss[1]}") MiB | $(mib "${rss[1]}") MiB | $(mib "${rpss[1]}") MiB | $(mib "${rrss[1]}") MiB |
| 2 | $(mib "${pss[2]}") MiB | $(mib "${rss[2]}") MiB | $(mib "${rpss[2]}") MiB | $(mib "${rrss[2]}") MiB |
| 4 | $(mib "${pss[4]}") MiB | $(mib "${rss[4]}") MiB | $(mib "${rpss[4]}") MiB | $(mib "${rrss[4]}") MiB |

Accuracy with two threads (Hogwild updates: every run's model differs), P@2 over $HR models
each tool trains (\`$hopts\`) on two-label gettext lines (language and family), same run:

| tool | mean P@2 | standard deviation | range |
|---|---|---|---|
| curate | $h_cur |
| fasttext | $h_ref |

Command: \`bash scripts/bench.sh fasttext\`.

MD

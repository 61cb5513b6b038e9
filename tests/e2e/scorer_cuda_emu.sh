# The CUDA scorer's own source (scorer/scorer_cuda.cu: host code, kernels, cuBLASLt calls) on
# the CPU, through the emulator (tests/cuda_emu/, docs/scorer.md), which make builds beside
# curate as libcurate-cuda-emu.so: tests/e2e/scorer_cuda.sh on every parity checkpoint with
# lengths up to 200 (tile edges at 64, 128; all packed into one batch) and each attention
# kernel (auto: k_flash<64>/<128> at head sizes 64/128, k_flash<0> at 16, the reference at 8
# and 12; smem: k_flash<0>; reference); then the same scores with each block's threads (and
# the blocks) run in reverse order, and in a random order in which warps also drift apart
# between barriers: equal to the bit, or a barrier is missing (a race); then the LM mode (K = 11
# outputs per sequence: `--lm`, the causal LMs of scorer_ref.py's LM_CASES) against the CPU
# within the bf16 tolerance (docs/scorer.md: relative to max(|cpu|, 1, the sequence's largest
# |cpu| logit)), a head row that is score.weight giving the score to the bit, and in random
# thread order to the bit; then one checkpoint
# and one causal LM under ASan+UBSan (a memcheck of device memory and shared memory) when the
# ASan build has the emulated library too.
source "$(dirname "$0")/lib.sh"
emu="$(dirname "$CURATE")/libcurate-cuda-emu.so"
[ -f "$emu" ] || fail "no $emu (make builds it in every mode)"
CURATE_CUDA_EMU_LIB=$emu SCORER_CUDA_LENGTHS="1 3 15 16 17 63 64 65 127 128 129 200" \
  TESTS_TMP=$T bash "$ROOT/tests/e2e/scorer_cuda.sh" || fail "tests/e2e/scorer_cuda.sh on the emulator"
d=$(echo "$T"/e2e.*) # scorer_cuda.sh's checkpoints, inputs and scores
export CURATE_CUDA_LIB=$emu
# the kernels auto picks (the device line names them)
for want in "gqa-hd64:register" "mha-hd128:register" "gqa-headdim-linear-f16-sharded:shared-memory" "mqa-dynamic:reference"; do
  # the whole output first, then its first line: `| head -1` could leave the pipe before curate's
  # last write (its stdout is unbuffered), and pipefail would count curate's SIGPIPE
  line=$("$CURATE" scorer bench --device cuda -m "$d/${want%%:*}" --tokens 16 --seqs 1)
  line=${line%%$'\n'*}
  grep -q "${want#*:}" <<<"$line" || fail "${want%%:*}: auto attention is not the ${want#*:} kernel: $line"
done
for c in gqa-hd64 mha-hd128 gqa-headdim-linear-f16-sharded mqa-dynamic; do
  for attn in auto smem reference; do
    for order in reverse random; do
      CURATE_CUDA_EMU_ORDER=$order CURATE_CUDA_ATTENTION=$attn "$CURATE" scorer score --ids \
        --device cuda -m "$d/$c" "$d"/ids*.txt >"$T/$c.$attn.$order" || fail "$c: cuda, $attn attention, $order order"
      cmp -s "$d/$c.$attn" "$T/$c.$attn.$order" ||
        { diff "$d/$c.$attn" "$T/$c.$attn.$order" | head || true; fail "$c ($attn attention): threads in $order order give other scores"; }
    done
  done
  echo "$c: threads in forward, reverse and random order give the same scores"
done
# LM mode: 11 logits per sequence (the digits "0".."10" of an oracle prompt, say), packed
PY=/usr/bin/python3 REF=$ROOT/tests/parity/scorer_ref.py
lm_tokens() { echo 0,1,5,17,42,99,128,200,255,17,$(($($PY -c 'import json, sys; print(json.load(open(sys.argv[1] + "/config.json"))["vocab_size"])' "$1") - 1)); }
for c in $($PY "$REF" lm-cases); do
  $PY "$REF" gen "$T/$c" "$c"
  toks=$(lm_tokens "$T/$c")
  "$CURATE" scorer score --ids --device cpu --lm "$toks" -m "$T/$c" "$d"/ids*.txt >"$T/$c.cpu" || fail "$c: cpu --lm"
  "$CURATE" scorer score --ids --device cuda --lm "$toks" -m "$T/$c" "$d"/ids*.txt >"$T/$c.cuda" || fail "$c: cuda --lm"
  out=$($PY "$REF" compare "$T/$c.cuda" "$T/$c.cpu" 3e-2 1 line) || fail "$c: CUDA logits differ from CPU beyond the bf16 tolerance: $out"
  echo "$c: cuda logits against cpu: $out"
done
# score.weight as row 290 of the head, among other rows: the CUDA score, to its %.6f
for c in gqa-hd64 mha-hd128; do
  for kind in untied tied; do
    [ $kind = untied ] && [ $c = mha-hd128 ] && continue # (a tied checkpoint: no lm_head.weight)
    $PY "$REF" head-from-score "$d/$c" "$T/$c-$kind" 290 $kind
    "$CURATE" scorer score --ids --device cuda --lm 3,290,7 -m "$T/$c-$kind" "$d"/ids*.txt >"$T/$c-$kind.lm" ||
      fail "$c: cuda --lm with score.weight as an LM row ($kind)"
    cut -f2,4 "$T/$c-$kind.lm" >"$T/$c-$kind.col"
    $PY "$REF" compare "$T/$c-$kind.col" "$d/$c.auto" 1e-6 1 >/dev/null ||
      fail "$c: score.weight as row 290 of the LM head ($kind): its CUDA logit is not the CUDA score"
  done
done
echo "cuda: score.weight as an LM head row gives the score"
c=lm-gqa-hd64-f16-sharded
CURATE_CUDA_EMU_ORDER=random "$CURATE" scorer score --ids --device cuda --lm "$(lm_tokens "$T/$c")" -m "$T/$c" \
  "$d"/ids*.txt >"$T/$c.random" || fail "$c: cuda --lm, random order"
cmp -s "$T/$c.cuda" "$T/$c.random" || fail "$c: threads in random order give other logits"
# the ASan build named in TEST_BUILDS (tests/run.sh), else build/asan
asan=
for b in ${TEST_BUILDS:-build/dev build/asan}; do
  case $b in /*) ;; *) b=$ROOT/$b ;; esac
  case $b in *asan) asan=$b ;; esac
done
if [ -x "$asan/curate" ] && [ -f "$asan/libcurate-cuda-emu.so" ]; then
  for attn in auto smem reference; do
    CURATE_CUDA_LIB=$asan/libcurate-cuda-emu.so CURATE_CUDA_ATTENTION=$attn "$asan/curate" scorer score \
      --ids --device cuda -m "$d/mha-hd128" "$d/ids0017.txt" "$d/ids0065.txt" "$d/ids0200.txt" \
      >"$T/asan.$attn" 2>"$T/asan.log" || { tail -30 "$T/asan.log"; fail "ASan build, $attn attention"; }
    grep -F -f "$T/asan.$attn" "$d/mha-hd128.$attn" | cmp -s - "$T/asan.$attn" ||
      fail "ASan build ($attn attention): other scores than the dev build"
  done
  c=lm-gqa-hd64-f16-sharded
  CURATE_CUDA_LIB=$asan/libcurate-cuda-emu.so "$asan/curate" scorer score --ids --device cuda \
    --lm "$(lm_tokens "$T/$c")" -m "$T/$c" "$d/ids0017.txt" "$d/ids0065.txt" "$d/ids0200.txt" \
    >"$T/asan.lm" 2>"$T/asan.log" || { tail -30 "$T/asan.log"; fail "ASan build, --lm"; }
  grep -F -f "$T/asan.lm" "$T/$c.cuda" | cmp -s - "$T/asan.lm" || fail "ASan build (--lm): other logits than the dev build"
  echo "ASan+UBSan ($asan): no error in any attention kernel, nor in the LM head"
else
  echo "no ASan build with the emulated library at ${asan:-build/asan}: ASan run skipped"
fi
echo "the CUDA scorer's source runs correctly on the emulator"

# fastText's negative sampling and quantization against Debian's fasttext 0.9.2 on Reuters
# (weka): `-loss ns` trained by curate reaches fasttext's P@1 (within 0.01, one thread) and
# its .bin predicts identically in fasttext; `curate fasttext quantize` on the same .bin as
# fasttext's quantize (plain, -qnorm with -cutoff and an uneven -dsub, -retrain, -qout) writes
# an .ftz that fasttext reads and predicts with byte for byte as curate does, within 10% of
# fasttext's file size and 0.02 of its P@1.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/fasttext_lib.sh"
cd "$T"
ft_reuters Grain train >train.txt
ft_reuters Grain test >test.txt
check "Reuters Grain converted" test "$(wc -l <train.txt)" -gt 1500
p_at_1() { "$@" | awk '$1 == "P@1" { print $2 }'; }
near() { awk -v a="$1" -v b="$2" -v e="$3" 'BEGIN { d = a - b; exit !(d > -e && d < e) }'; }

# 1. negative sampling: the same options, one thread each
opts="-wordNgrams 2 -bucket 100000 -thread 1 -verbose 0 -dim 20 -loss ns"
for neg in 5 2; do
  fasttext supervised -input train.txt -output ref_ns $opts -neg $neg >/dev/null
  "$CURATE" fasttext supervised -input train.txt -output cur_ns $opts -neg $neg >/dev/null 2>&1
  p_ref=$(p_at_1 fasttext test ref_ns.bin test.txt)
  p_cur=$(p_at_1 "$CURATE" fasttext test cur_ns.bin test.txt)
  echo "ns -neg $neg: P@1 fasttext $p_ref curate $p_cur"
  check "ns -neg $neg: P@1 within 0.01 ($p_cur vs $p_ref)" near "$p_cur" "$p_ref" 0.01
  fasttext predict-prob cur_ns.bin test.txt 2 >ns.ref
  "$CURATE" fasttext predict-prob cur_ns.bin test.txt 2 >ns.cur
  check "ns -neg $neg: curate's .bin predicts identically in fasttext" cmp -s ns.ref ns.cur
  check "ns -neg $neg: the model file says loss ns (2)" \
    test "$(od -An -tu4 -j32 -N4 cur_ns.bin | tr -d ' ')" = 2
done

# 2. quantize: both tools on copies of one fasttext .bin
fasttext supervised -input train.txt -output base -wordNgrams 2 -bucket 100000 -thread 1 \
  -verbose 0 -dim 10 >/dev/null
# a model with 932 labels (each line's first word) so that -qout has 256 output rows
awk '{ $1 = "__label__" $2; print }' train.txt >many.txt
fasttext supervised -input many.txt -output many -loss hs -dim 10 -epoch 2 -thread 1 \
  -verbose 0 >/dev/null
quant_case() { # name base test-file options...
  local name=$1 base=$2 data=$3; shift 3
  cp "$base.bin" "ref_$name.bin"; cp "$base.bin" "cur_$name.bin"
  fasttext quantize -output "ref_$name" -input train.txt "$@" >/dev/null 2>&1
  "$CURATE" fasttext quantize -output "cur_$name" -input train.txt -verbose 0 "$@"
  check "$name: fasttext wrote its .ftz" test -s "ref_$name.ftz"
  fasttext predict-prob "cur_$name.ftz" "$data" 2 >"$name.ref"
  "$CURATE" fasttext predict-prob "cur_$name.ftz" "$data" 2 >"$name.cur"
  check "$name: fasttext predicts with curate's .ftz byte for byte as curate" \
    cmp -s "$name.ref" "$name.cur"
  local s_ref s_cur p_ref p_cur
  s_ref=$(stat -c %s "ref_$name.ftz") s_cur=$(stat -c %s "cur_$name.ftz")
  p_ref=$(p_at_1 fasttext test "ref_$name.ftz" "$data")
  p_cur=$(p_at_1 "$CURATE" fasttext test "cur_$name.ftz" "$data")
  echo "$name: size fasttext $s_ref curate $s_cur; P@1 fasttext $p_ref curate $p_cur"
  check "$name: size within 10% ($s_cur vs $s_ref)" near "$s_cur" "$s_ref" "$((s_ref / 10))"
  check "$name: P@1 within 0.02 ($p_cur vs $p_ref)" near "$p_cur" "$p_ref" 0.02
}
quant_case plain base test.txt
quant_case qnorm_cutoff base test.txt -qnorm -cutoff 8000 -dsub 3
quant_case retrain base test.txt -qnorm -cutoff 4000 -retrain -epoch 3 -lr 0.1 -thread 1
quant_case qout many many.txt -qout -qnorm -cutoff 3000
check "the pruned .ftz is far smaller than its .bin" \
  test "$(stat -c %s cur_retrain.ftz)" -lt "$(($(stat -c %s cur_retrain.bin) / 20))"
"$CURATE" fasttext test cur_retrain.ftz - <test.txt >stdin.t
check "a quantized model reads standard input" test "$(head -1 stdin.t)" = "N	604"

# 3. errors: clear messages, non-zero exits, nothing written
set +e
"$CURATE" fasttext quantize -output base_qout -qout 2>err1; rc1=$?
cp base.bin small.bin
"$CURATE" fasttext quantize -output small -qout 2>err2; rc2=$?
"$CURATE" fasttext quantize -output ref_plain.ftz 2>err3; rc3=$?
cp cur_plain.ftz twice.bin
"$CURATE" fasttext quantize -output twice 2>err4; rc4=$?
"$CURATE" fasttext quantize -output small -dsub 0 2>err5; rc5=$?
"$CURATE" fasttext quantize -output small -cutoff 500 -retrain 2>err6; rc6=$?
grep '^__label__0' train.txt >one_label.txt
"$CURATE" fasttext supervised -input one_label.txt -output one $opts 2>err7; rc7=$?
set -e
check "missing .bin fails" test $rc1 = 1
contains err1 "base_qout.bin: No such file"
check "-qout with 2 labels fails" test $rc2 = 1
contains err2 "small.bin: matrix too small for quantization: 2 rows, at least 256 needed"
check "no small.ftz after a failure" test ! -e small.ftz
check "-output naming the .ftz fails" test $rc3 = 1
contains err3 "ref_plain.ftz.bin: No such file"
check "quantizing a quantized model fails" test $rc4 = 1
contains err4 "twice.bin: the model is already quantized"
check "-dsub 0 fails" test $rc5 = 1
contains err5 "-dsub: expected an integer in [1, 65536], got '0'"
check "-retrain without -input fails" test $rc6 = 1
contains err6 "-retrain needs -input FILE"
check "ns with one label fails (fastText would loop forever)" test $rc7 = 1
contains err7 "-loss ns needs two labels or more with a nonzero count"
echo "fasttext ns and quantize parity ok"

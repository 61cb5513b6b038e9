# fastText parity with Debian's fasttext 0.9.2 on Reuters (weka): models trained by fasttext
# (softmax, hs, ova, char n-grams) give the same labels and probabilities (1e-5) in curate; a
# model trained by curate predicts identically in fasttext; with one thread curate trains
# fastText's model byte for byte; '-' reads standard input.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/fasttext_lib.sh"
cd "$T"
ft_reuters Grain train >train.txt
ft_reuters Grain test >test.txt
check "Reuters Grain converted" test "$(wc -l <train.txt)" -gt 1500

# 1. fasttext's models read by curate: every line, top 2 labels with probabilities
opts="-wordNgrams 2 -bucket 100000 -thread 1 -verbose 0 -dim 20"
fasttext supervised -input train.txt -output ref_sm $opts >/dev/null
fasttext supervised -input train.txt -output ref_hs $opts -loss hs >/dev/null
fasttext supervised -input train.txt -output ref_ova $opts -loss ova >/dev/null
fasttext supervised -input train.txt -output ref_sub $opts -minn 2 -maxn 4 -epoch 2 >/dev/null
for m in ref_sm ref_hs ref_ova ref_sub; do
  fasttext predict-prob $m.bin test.txt 2 >$m.ref
  "$CURATE" fasttext predict-prob $m.bin test.txt 2 >$m.cur
  check "$m: curate's predict-prob matches fasttext's" ft_same_predictions $m.ref $m.cur
  fasttext predict $m.bin test.txt >$m.ref1
  "$CURATE" fasttext predict $m.bin test.txt >$m.cur1
  check "$m: predict prints the same labels" cmp -s $m.ref1 $m.cur1
  fasttext test $m.bin test.txt >$m.reft
  "$CURATE" fasttext test $m.bin test.txt >$m.curt
  check "$m: test prints the same N, P@1, R@1" cmp -s $m.reft $m.curt
done
# threshold and k as fastText: all labels above 0.3
fasttext predict-prob ref_ova.bin test.txt 5 0.3 >thr.ref
"$CURATE" fasttext predict-prob ref_ova.bin test.txt 5 0.3 >thr.cur
check "k and threshold as fasttext" ft_same_predictions thr.ref thr.cur
"$CURATE" fasttext predict-prob ref_sm.bin - 2 <test.txt >stdin.cur
check "'-' reads standard input" cmp -s stdin.cur ref_sm.cur

# 2. curate's model read by fasttext
"$CURATE" fasttext supervised -input train.txt -output cur $opts >/dev/null 2>&1
check "curate wrote .bin and .vec" test -s cur.bin -a -s cur.vec
fasttext predict-prob cur.bin test.txt 2 >cur.ref
"$CURATE" fasttext predict-prob cur.bin test.txt 2 >cur.cur
check "fasttext predicts with curate's model as curate does" ft_same_predictions cur.ref cur.cur
"$CURATE" fasttext supervised -input train.txt -output cur_hs $opts -loss hs -minn 3 -maxn 5 >/dev/null 2>&1
fasttext predict-prob cur_hs.bin test.txt 2 >cur_hs.ref
"$CURATE" fasttext predict-prob cur_hs.bin test.txt 2 >cur_hs.cur
check "the same with hs and char n-grams" ft_same_predictions cur_hs.ref cur_hs.cur
check ".vec header is 'words dim'" test "$(head -1 cur.vec | wc -w)" = 2

# 3. training: with one thread curate's model is fastText's byte for byte (its initial
# weights, vocabulary order, random draws and float arithmetic are fastText's), for each loss,
# with character n-grams, and with options fastText reads as floats (-lr, -t) and -seed
"$CURATE" fasttext supervised -input train.txt -output cur_sm $opts >/dev/null 2>&1
"$CURATE" fasttext supervised -input train.txt -output cur_hs1 $opts -loss hs >/dev/null 2>&1
"$CURATE" fasttext supervised -input train.txt -output cur_ova $opts -loss ova >/dev/null 2>&1
"$CURATE" fasttext supervised -input train.txt -output cur_sub $opts -minn 2 -maxn 4 -epoch 2 \
  >/dev/null 2>&1
for m in sm ova sub; do
  check "$m: curate's .bin is fasttext's byte for byte" cmp -s ref_$m.bin cur_$m.bin
done
check "hs: curate's .bin is fasttext's byte for byte" cmp -s ref_hs.bin cur_hs1.bin
more="-lr 0.3 -t 0.001 -seed 7 -lrUpdateRate 50"
fasttext supervised -input train.txt -output ref_more $opts $more >/dev/null
"$CURATE" fasttext supervised -input train.txt -output cur_more $opts $more >/dev/null 2>&1
check "-lr 0.3 -t 0.001 -seed 7 -lrUpdateRate 50: the same bytes" cmp -s ref_more.bin cur_more.bin
ft_reuters Corn train >corn_train.txt
ft_reuters Corn test >corn_test.txt
fasttext supervised -input corn_train.txt -output corn_ref $opts -epoch 10 >/dev/null
"$CURATE" fasttext supervised -input corn_train.txt -output corn_cur $opts -epoch 10 >/dev/null 2>&1
check "Corn, 10 epochs: the same bytes" cmp -s corn_ref.bin corn_cur.bin
fasttext test corn_cur.bin corn_test.txt >corn.reft
"$CURATE" fasttext test corn_cur.bin corn_test.txt >corn.curt
check "Corn: test prints fasttext's N, P@1, R@1" cmp -s corn.reft corn.curt
# several threads (Hogwild): the model depends on timing, so only its parity is checked
"$CURATE" fasttext supervised -input train.txt -output cur4 ${opts/-thread 1/-thread 4} >/dev/null 2>&1
fasttext predict-prob cur4.bin test.txt 2 >cur4.ref
"$CURATE" fasttext predict-prob cur4.bin test.txt 2 >cur4.cur
check "a 4-thread model predicts the same in fasttext" ft_same_predictions cur4.ref cur4.cur

# 4. errors: clear messages, non-zero exits
set +e
"$CURATE" fasttext predict missing.bin test.txt 2>err1; rc1=$?
head -c 1000 ref_sm.bin >trunc.bin
"$CURATE" fasttext predict trunc.bin test.txt 2>err2; rc2=$?
head -c $(($(stat -c %s ref_sm.bin) - 100)) ref_sm.bin >trunc2.bin
"$CURATE" fasttext predict trunc2.bin test.txt 2>err5; rc5=$?
printf 'not a model at all' >bad.bin
"$CURATE" fasttext test bad.bin test.txt 2>err6; rc6=$?
"$CURATE" fasttext supervised -input train.txt 2>err3; rc3=$?
"$CURATE" fasttext supervised -input train.txt -output x -loss nce 2>err4; rc4=$?
set -e
check "missing model fails" test $rc1 = 1
contains err1 "missing.bin: No such file"
check "truncated model fails" test $rc2 = 1
contains err2 "trunc.bin: offset 64: dictionary of"
check "model cut inside the output matrix fails" test $rc5 = 1
contains err5 "trunc2.bin: offset"
contains err5 "matrix of 2 rows is longer than the file"
check "not a model fails" test $rc6 = 1
contains err6 "bad.bin: offset 0: not a fastText model"
check "missing -output fails" test $rc3 = 1
contains err3 "-input and -output are required"
check "unsupported loss fails" test $rc4 = 1
contains err4 "-loss: 'nce' is not one of softmax, hs, ns, ova"
echo "fasttext parity ok"

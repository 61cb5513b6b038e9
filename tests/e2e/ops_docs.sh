# Generated and operational files stay current: docs/stages.md is exactly `curate config
# reference`, configs/seed-coder.yaml loads, and the Slurm templates are valid bash whose
# #SBATCH lines sbatch reads (none after the first command).
source "$(dirname "$0")/lib.sh"
"$CURATE" config reference >"$T/stages.md"
diff -u "$ROOT/docs/stages.md" "$T/stages.md" ||
  fail "docs/stages.md is stale: run 'curate config reference > docs/stages.md'"
for s in $("$CURATE" --help | sed -n '/^stages:/,/^$/p' | awk 'NF && !/stages:/ {print $1}'); do
  contains "$T/stages.md" "## $s"
done

"$CURATE" config show -c "$ROOT/configs/seed-coder.yaml" >"$T/sc.yaml"
contains "$T/sc.yaml" "rate: 0.5"
contains "$T/sc.yaml" "  n: 10"
"$CURATE" status -c "$ROOT/configs/seed-coder.yaml" workdir="$T/w" >"$T/status" 2>&1
contains "$T/status" "crawl-github   not run"
contains "$T/status" "quality        not run"

for f in "$ROOT"/scripts/slurm/*.sbatch; do
  bash -n "$f" || fail "$f: not valid bash"
  first=$(grep -n '^[^#]' "$f" | head -1 | cut -d: -f1)
  last=$(grep -n '^#SBATCH' "$f" | tail -1 | cut -d: -f1)
  check "$f: every #SBATCH line comes before the first command" test "$last" -lt "$first"
  contains "$f" "srun --mpi=pmi2"
done
echo "docs/stages.md, configs/seed-coder.yaml and the Slurm templates are current"

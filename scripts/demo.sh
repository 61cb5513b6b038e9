#!/usr/bin/env bash
# make demo: runs the pipeline of configs/demo.yaml on the embedded default input, under
# MPI ranks when mpiexec is there (2 by default, DEMO_RANKS to change), then shows where the
# outputs are and what they hold.
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=${DEMO_RANKS:-2}
cfg=configs/demo.yaml
echo "demo: curate run -c $cfg under mpiexec -n $ranks"
mpiexec -n "$ranks" bin/curate run -c "$cfg" "$@"
workdir=$(bin/curate config show -c "$cfg" | sed -n 's/^workdir: *//p' | tr -d '"')
echo
bin/curate status -c "$cfg" 2>/dev/null
echo
bin/curate inspect --summary "$workdir/reshard"
echo
echo "demo: outputs are under $workdir/ (one folder per stage: shards, manifest.json, stats.json)"
echo "demo: look at records with: bin/curate inspect -n 5 $workdir/reshard"

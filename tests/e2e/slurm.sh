# Slurm: a one-node cluster on localhost (munged, slurmctld, slurmd from Debian, every file in
# a temporary directory, ports picked free), the demo config submitted with
# scripts/slurm/pipeline.sbatch as a 2-task job; its outputs must be those of a local
# 1-rank run, every stage must have run on 2 ranks (srun's PMI-2 reached MPICH), and the
# report must exist; then scripts/slurm/stage.sbatch reruns the last stage alone, and
# pipeline.sbatch with --force reruns the first and writes the report again. Everything
# started is stopped on any exit.
source "$(dirname "$0")/lib.sh"
for p in munged mungekey slurmctld slurmd sbatch; do
  command -v "$p" >/dev/null || PATH=$PATH:/usr/sbin command -v "$p" >/dev/null \
    || fail "$p is not installed (scripts/deps.sh installs slurmctld slurmd munge)"
done
export PATH=$PATH:/usr/sbin
# slurmd must be root to start job steps as the submitting user
[ "$(id -u)" -eq 0 ] || { echo "needs root to run slurmd"; exit 77; }
source "$ROOT/tests/e2e/demo.env"

S=$T/slurm
mkdir -p "$S"/{munge,state,spool,log}
chmod 700 "$S/munge"
cleanup() {
  local rc=$?
  # (each step may fail, a daemon gone or no job left: errexit must not cut the cleanup short)
  [ -f "$S/slurm.conf" ] && SLURM_CONF=$S/slurm.conf scancel --quiet --full --user=root 2>/dev/null || true
  for f in slurmd.pid slurmctld.pid munge/pid; do
    [ -s "$S/$f" ] && kill "$(cat "$S/$f")" 2>/dev/null || true
  done
  # a daemon that has not exited yet still holds its ports and the test's files
  for i in $(seq 50); do
    alive=0
    for f in slurmd.pid slurmctld.pid munge/pid; do
      [ -s "$S/$f" ] && kill -0 "$(cat "$S/$f")" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  if [ $rc -ne 0 ]; then
    for l in "$S"/log/*.log "$T"/job.log; do [ -f "$l" ] && { echo "--- $l"; tail -20 "$l"; }; done
  fi
  return $rc
}
trap cleanup EXIT

mungekey --create --keyfile="$S/munge/munge.key" --bits=1024
munged --force --key-file="$S/munge/munge.key" --socket="$S/munge/sock" \
  --pid-file="$S/munge/pid" --log-file="$S/munge/log" --seed-file="$S/munge/seed"

# ports nobody listens on, so several test runs and a real Slurm can share the machine: 53 in
# a row (slurmctld, slurmd, srun's 51), each free now, and below the ephemeral range, where the
# kernel never hands one to a connect() before the daemons bind it (a port from bind(0) could)
read -r p1 p2 p3 < <(python3 -c 'import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(1000):
    b = random.randrange(10000, max(lo, 10100) - 53)
    if all(free(p) for p in range(b, b + 53)):
        print(b, b + 1, b + 2)
        break
else:
    raise SystemExit("no 53 free ports in a row below the ephemeral range")')
host=$(hostname -s)
cat >"$S/slurm.conf" <<CONF
ClusterName=curatetest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
SrunPortRange=$p3-$((p3 + 50))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
PlugStackConfig=$S/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
: >"$S/plugstack.conf"
export SLURM_CONF=$S/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N "$host"
deadline=$((SECONDS + 180))
while [ $SECONDS -lt $deadline ]; do
  sinfo -h -o %t 2>/dev/null | grep -qx idle && break
  sleep 0.2
done
check "the node comes up idle" sinfo -h -o %t | grep -qx idle

cd "$DEMO"
# sbatch --wait polls at growing intervals (up to half a minute); scontrol answers at once
run_job() { # log, sbatch arguments... -> waits, fails unless the job completed
  local log=$1 job state=
  shift
  job=$(CURATE=$CURATE sbatch --parsable --ntasks=2 --ntasks-per-node=2 --output="$log" "$@")
  echo "submitted job $job: $*"
  # a generous bound on a busy machine; an scontrol that fails (slurmctld slow to answer) is
  # asked again, the job's state unknown until it answers
  local deadline=$((SECONDS + 1800))
  while [ $SECONDS -lt $deadline ]; do
    state=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)
    case $state in ''|PENDING|CONFIGURING|RUNNING|COMPLETING) sleep 0.25 ;; *) break ;; esac
  done
  scontrol show job "$job" | grep -E 'JobState|NumTasks'
  check "job $job completes (state $state)" test "$state" = COMPLETED
}
run_job "$T/job.log" scripts/slurm/pipeline.sbatch -c configs/demo.yaml workdir="$T/w" "${DEMO_ARGS[@]}"
contains "$T/job.log" "stages complete"
contains "$T/job.log" "report: $T/w/report.html"
check "the report is written" test -s "$T/w/report.html"

# every configured stage ran as one 2-rank MPI job, not two singletons
for s in $(demo_stages); do
  check "stage $s ran on 2 ranks" test "$(jq .ranks "$T/w/$s/stats.json")" = 2
done

# and gave the bytes of a local 1-rank run
"$CURATE" run -c configs/demo.yaml workdir="$T/local" "${DEMO_ARGS[@]}" 2>"$T/local.log"
demo_digest "$T/w" >"$T/slurm.sha"
demo_digest "$T/local" >"$T/local.sha"
diff "$T/slurm.sha" "$T/local.sha" || fail "the Slurm job's outputs differ from a 1-rank run"
# one stage with the stage template: the last stage, with one option changed, reruns alone
last=$(demo_stages | awk '{print $NF}')
run_job "$T/stage.log" scripts/slurm/stage.sbatch "$last" -c configs/demo.yaml workdir="$T/w" \
  "${DEMO_ARGS[@]}" zstd_level=4
contains "$T/stage.log" "stage $last: rerunning: a global option that changes output bytes"
check "stage $last reran on 2 ranks" test "$(jq .ranks "$T/w/$last/stats.json")" = 2
# --force goes to `curate run` only: the job reruns the stage from scratch and still ends with
# the report (config show, which finds the workdir, takes no --force)
first=$(demo_stages | awk '{print $1}')
rm "$T/w/report.html"
run_job "$T/force.log" scripts/slurm/pipeline.sbatch -c configs/demo.yaml workdir="$T/w" \
  "${DEMO_ARGS[@]}" "stages=[$first]" --force
contains "$T/force.log" "stages complete"
grep -q "stage $first: up to date" "$T/force.log" && fail "--force did not rerun stage $first"
contains "$T/force.log" "report: $T/w/report.html"
check "the report is written after a --force run" test -s "$T/w/report.html"

# SIGTERM from Slurm (scancel --signal=TERM, what a time limit sends first) while the quality
# stage scores: every task stops between shards and the job fails with the resume line,
# nothing half-written is left, and the job submitted again resumes from the kept scores and
# ends with the bytes of the local run. CURATE_TEST_SHARD_DELAY (tests only) makes each input
# shard wait 2 s, so the signal lands mid-phase; should the stage finish first (a very slow
# start), the job must simply have completed.
qdir=$T/w/quality/.phases/scores
job=$(CURATE=$CURATE CURATE_TEST_SHARD_DELAY=2 sbatch --parsable --ntasks=2 --ntasks-per-node=2 \
  --output="$T/term.log" scripts/slurm/stage.sbatch quality -c configs/demo.yaml workdir="$T/w" \
  "${DEMO_ARGS[@]}" --force)
deadline=$((SECONDS + 600))
while [ $SECONDS -lt $deadline ]; do
  [ "$(compgen -G "$qdir/in-*.json" | wc -l)" -ge 1 ] && break
  scontrol show job "$job" 2>/dev/null | grep -qE 'JobState=(COMPLETED|FAILED|CANCELLED)' && break
  sleep 0.1
done
scancel --signal=TERM "$job" || true
state=
while [ $SECONDS -lt $deadline ]; do
  state=$(scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)
  case $state in ''|PENDING|CONFIGURING|RUNNING|COMPLETING) sleep 0.25 ;; *) break ;; esac
done
if grep -q "stopped on request" "$T/term.log"; then
  check "the signalled job fails (state $state)" test "$state" = FAILED
  contains "$T/term.log" "run the same command again to resume"
  check "no manifest for a stopped stage" test ! -e "$T/w/quality/manifest.json"
  left=$(cd "$qdir" && ls | grep -Ev '^in-[0-9]{5}\.(json|scores)$' || true)
  check "nothing half-written: $left" test -z "$left"
  kept=$(compgen -G "$qdir/in-*.json" | wc -l)
  echo "slurm: SIGTERM stopped the quality stage with $kept input shards scored"
  run_job "$T/resume.log" scripts/slurm/stage.sbatch quality -c configs/demo.yaml workdir="$T/w" "${DEMO_ARGS[@]}"
  contains "$T/resume.log" " $kept reused"
else
  check "not stopped, so complete (state $state)" test "$state" = COMPLETED
fi
# (only quality's: the last stage was rerun above at another zstd level)
demo_digest "$T/w" | grep -E '(^| )quality/' >"$T/resumed.sha"
grep -E '(^| )quality/' "$T/local.sha" >"$T/local-quality.sha"
check "quality has outputs to compare" test -s "$T/local-quality.sha"
diff "$T/resumed.sha" "$T/local-quality.sha" || fail "after SIGTERM and a resubmission, quality's outputs differ from a 1-rank run"
echo "slurm: the demo ran as a 2-task job of $(demo_stages | wc -w) stages and matched a local run"

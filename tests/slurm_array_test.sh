#!/usr/bin/env bash
# The SLURM job array for real: starts a private single-node cluster (munged, slurmctld, slurmd
# on localhost, private ports, everything under one temporary folder), submits a tiny experiment
# through experiments/slurm/submit.sh as 3 shards plus the dependent merge job, and checks that
# the merged dataset holds exactly the unsharded grid, each point once.
#
#   tests/slurm_array_test.sh <ffnbench binary>
#
# Exit 77 (ctest: skipped) with the reason when the Debian packages slurmctld, slurmd,
# slurm-client and munge are not installed or we are not root (slurmd must be).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ffnbench=$(realpath "${1:?usage: $0 <ffnbench binary>}")

skip() { echo "SKIPPED: $*"; exit 77; }
for tool in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$tool" > /dev/null || skip "$tool not installed (Debian: slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "slurmd runs jobs as their user and must run as root"
block=${SLURM_TEST_BLOCK:-"[gemm_ffn]\nimpl = openblas\nd = 16\nd_ff = 32"}
variant=$(printf "%b" "$block" | head -1 | tr -d '[]' | cut -d: -f1)
variants=$("$ffnbench" list)  # not piped into grep -q: an early exit would SIGPIPE it under pipefail
grep -q "^  $variant:" <<< "$variants" || skip "variant $variant is not built into $ffnbench"

tmp=$(mktemp -d /tmp/ffnbench-slurm.XXXXXX)
cleanup() {  # stop the daemons we started (by their pid files), wait for them, then remove all
  local pids=()
  for daemon in slurmd slurmctld munged; do
    if [ -s "$tmp/$daemon.pid" ]; then pids+=("$(cat "$tmp/$daemon.pid")"); fi
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2> /dev/null || true
    for _ in $(seq 40); do
      local alive=0
      for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive=1; done
      [ $alive -eq 0 ] && break
      sleep 0.25
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $*" >&2
  for f in "$tmp"/log/* "$tmp"/jobs/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done >&2
  exit 1
}
mkdir -p "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/jobs"

free_port() {  # a port nothing listens on
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null || { echo "$p"; return; }
  done
  fail "no free port"
}

# munge: a key of our own, a private socket.
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 600 "$tmp/munge.key"
munged --force --socket="$tmp/munge.sock" --key-file="$tmp/munge.key" --pid-file="$tmp/munged.pid" \
  --log-file="$tmp/log/munged.log" --seed-file="$tmp/munge.seed"

host=$(hostname -s)
cat > "$tmp/slurm.conf" << EOF
ClusterName=ffnbench-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=10 State=UP
EOF
export SLURM_CONF=$tmp/slurm.conf
slurmctld -i
slurmd
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2> /dev/null)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %T 2> /dev/null)" = idle ] || fail "the node did not come up"

ini=$tmp/slurm_tiny.ini
printf "name = slurm_tiny\ntokens = 3,8,17\nthreads = 1,all\nrepetitions = 1\nwarmup_s = 0\ninput_pool_mib = 4\nmin_time_s = 0\ncounters = none\n\n%b\n" \
  "$block" > "$ini"
export FFNBENCH=$ffnbench FFNBENCH_RESULTS=$tmp/results
export SBATCH_TIMELIMIT=5
cd "$tmp/jobs"  # job output files land here
submitted=$(bash "$here/experiments/slurm/submit.sh" 3 "$ini") || fail "submit.sh: $submitted"
echo "$submitted"
array=$(echo "$submitted" | sed -n 's/^array job \([0-9]*\).*/\1/p')
[ -n "$array" ] || fail "no array job id in: $submitted"

for _ in $(seq 240); do
  [ -z "$(squeue -h 2> /dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h)" ] || fail "jobs still queued after 120 s: $(squeue)"

# Every array task ran its own shard, inside the CPUs SLURM gave it.
for k in 1 2 3; do
  grep -q "shard $k/3 of $ini" "$tmp"/jobs/ffnbench-sweep-"${array}"_*.out || fail "no array task ran shard $k/3"
done
merged=$tmp/results/slurm_tiny/merged-$array
[ -f "$merged/points.csv" ] || fail "the merge job wrote no $merged/points.csv"

# The merged points are the unsharded grid, each once.
expected=$("$ffnbench" sweep "$ini" --dry-run | sed 's/  \[invalid\]$//' | sort)
got=$(tail -n +2 "$merged/points.csv" | cut -d, -f4 | sort)
[ -n "$expected" ] || fail "empty grid"
if [ "$expected" != "$got" ]; then
  diff <(echo "$expected") <(echo "$got") >&2 || true
  fail "merged points differ from the unsharded grid"
fi
shards=0
for f in "$tmp"/results/slurm_tiny/*/*/points.csv; do
  case $f in */merged-*) ;; *) shards=$((shards + 1)) ;; esac
done
[ "$shards" -eq 3 ] || fail "expected 3 shard run folders, found $shards"
# The tasks ran with the script's pinning: one OpenMP place per core, bound close.
for m in "$tmp"/results/slurm_tiny/*/*/machine.json; do
  grep -q '"pinning": "OMP_PLACES=cores (user) OMP_PROC_BIND=close (user)"' "$m" || fail "$m: not pinned by the script"
done
status=$(tail -n +2 "$merged/points.csv" | grep -vc ',ok,' || true)
[ "$status" -eq 0 ] || fail "$status points did not finish ok"
echo "PASSED: $(echo "$got" | wc -l) points in 3 shards merged into $merged"

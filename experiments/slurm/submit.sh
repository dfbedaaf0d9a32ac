#!/usr/bin/env bash
# Submits an experiment as a SLURM job array of n shards plus the dependent merge job.
#
#   experiments/slurm/submit.sh <n shards> <experiment.ini> [sweep options and overrides]
#
# sbatch options come from its SBATCH_* environment variables, e.g.
#   SBATCH_PARTITION=icelake SBATCH_TIMELIMIT=02:00:00 experiments/slurm/submit.sh 8 experiments/scaling.ini
# and FFNBENCH, FFNBENCH_RESULTS, FFNBENCH_MACHINE_ID as sweep_array.sbatch describes. Job output
# files (ffnbench-sweep-<job>_<task>.out, ffnbench-merge-<job>.out) land in the current folder.
# Checks the experiment first (nothing is queued for bad input), then prints the job ids.
set -euo pipefail
slurm_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$slurm_dir/../.." && pwd)
usage="usage: $0 <n shards> <experiment.ini> [sweep options and overrides]"
n=${1:?$usage}
shift
ini=${1:?$usage}
shift
[ -f "$ini" ] || { echo "submit: no experiment file $ini" >&2; exit 2; }
ini=$(realpath "$ini")
case $n in '' | *[!0-9]* | 0) echo "submit: the number of shards must be a positive integer, not '$n'" >&2; exit 2 ;; esac
export FFNBENCH=${FFNBENCH:-$repo/build/release/ffnbench}
export FFNBENCH_RESULTS=${FFNBENCH_RESULTS:-$PWD/results}
[ -x "$FFNBENCH" ] || { echo "submit: $FFNBENCH is not built (scripts/build.sh)" >&2; exit 2; }
"$FFNBENCH" sweep "$ini" "$@" --shard "1/$n" --dry-run > /dev/null  # also: n <= points

array=$(sbatch --parsable --array=0-$((n - 1)) "$slurm_dir/sweep_array.sbatch" "$ini" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterany:"$array" "$slurm_dir/merge.sbatch" "$array" "$n")
merge=${merge%%;*}
echo "array job $array ($n shards), merge job $merge: $FFNBENCH_RESULTS/<experiment>/merged-$array"

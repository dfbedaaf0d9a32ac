#!/usr/bin/env bash
# Copies a run folder into results/reference/<machine_id>/<experiment>/, trimmed to what the
# references need: points.csv, stages.csv, machine.json, ceilings.json, experiment.ini,
# schema.json where the run has one, and reps.csv when it is small (the claims' CIs pair its
# rounds). counters.csv, benchmark.json and figures/ stay behind. The folder it replaces goes.
#
# usage: bash scripts/refresh_reference.sh RUN_DIR [REFERENCE_ROOT]
#   REFERENCE_ROOT defaults to results/reference of this checkout.
set -euo pipefail

REPS_LIMIT_BYTES=$((256 * 1024))

die() { echo "refresh_reference: $*" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: bash scripts/refresh_reference.sh RUN_DIR [REFERENCE_ROOT]"
run=$1
root=${2:-"$(cd "$(dirname "$0")/.." && pwd)/results/reference"}
for f in points.csv machine.json experiment.ini; do
  [ -f "$run/$f" ] || die "invalid value '$run' for 'RUN_DIR': must be a run folder (it has no $f)"
done

machine_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["machine_id"])' "$run/machine.json") \
  || die "invalid value '$run/machine.json' for 'machine.json': has no machine_id"
experiment=$(sed -n 's/^[[:space:]]*name[[:space:]]*=[[:space:]]*\([^#;[:space:]]*\).*/\1/p' "$run/experiment.ini" | head -1)
[ -n "$experiment" ] || die "invalid value '$run/experiment.ini' for 'name': the experiment has no name key"

dest="$root/$machine_id/$experiment"
tmp="$root/.$machine_id.$experiment.partial-$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp "$run/points.csv" "$tmp/"
# The calibration a run was given is copied beside it (ceilings.json): its temporary path on the
# machine that ran is not a fact of the run.
sed -E 's#^([[:space:]]*ceilings[[:space:]]*=[[:space:]]*).*#\1ceilings.json#' "$run/experiment.ini" > "$tmp/experiment.ini"
for f in stages.csv ceilings.json schema.json; do
  if [ -f "$run/$f" ]; then cp "$run/$f" "$tmp/"; else echo "refresh_reference: $run has no $f" >&2; fi
done
if [ -f "$run/reps.csv" ]; then
  if [ "$(stat -c %s "$run/reps.csv")" -le $REPS_LIMIT_BYTES ]; then cp "$run/reps.csv" "$tmp/"
  else echo "refresh_reference: reps.csv is over $((REPS_LIMIT_BYTES / 1024)) KiB: left out" >&2; fi
fi
# The temporary file the runner passed is a path of the machine that ran, not a fact of the run.
sed -E -e 's#(--run-folder-file )[^ "]+#\1<temporary file>#g' -e 's#(--ceilings )[^ "]+#\1<the run folder'"'"'s ceilings.json>#g' \
  "$run/machine.json" > "$tmp/machine.json"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$tmp" "$dest"
trap - EXIT
echo "$dest ($(du -sh "$dest" | cut -f1))"

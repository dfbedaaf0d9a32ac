#!/usr/bin/env bash
# Runs one experiment with the release build and draws every figure of its run folder.
# usage: scripts/experiment.sh experiments/<name>.ini [sweep options and overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
ini=${1:?usage: scripts/experiment.sh experiments/<name>.ini [options]}
shift
where=$(mktemp)
trap 'rm -f "$where"' EXIT
status=0
./build/release/ffnbench sweep "$ini" --run-folder-file "$where" "$@" || status=$?
# Figures also after a partial or failed sweep: every finished point is on disk.
run=$(cat "$where")
if [ -n "$run" ]; then
  # The machine's ceilings beside the run, for the roofline and "% of the ceiling" figures.
  [ -f "$run/ceilings.json" ] || ./build/release/ffnbench calibrate --out "$run" --budget "${FFNBENCH_CALIBRATE_BUDGET:-10}" >/dev/null ||
    echo "calibrate failed; figures drawn without ceilings" >&2
  for script in plots/*_figures.py; do
    /usr/bin/python3 "$script" "$run" || echo "figures: $script failed on $run" >&2
  done
  echo "results and figures: $run"
fi
exit $status

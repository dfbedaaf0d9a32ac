#!/usr/bin/env bash
# Runs one experiment with the release build and draws every figure of its run folder.
# usage: scripts/experiment.sh experiments/<name>.ini [sweep options and overrides]
set -euo pipefail
cd "$(dirname "$0")/.."
ini=${1:?usage: scripts/experiment.sh experiments/<name>.ini [options]}
shift
where=$(mktemp)
status=0
# The machine's ceilings first, so that stages.csv places every stage on its roofline; the run
# folder keeps a copy. A failed calibration leaves the fractions empty, with the reason.
calib=$(mktemp -d)
trap 'rm -f "$where"; rm -rf "$calib"' EXIT
ceilings=()
if ./build/release/ffnbench calibrate --out "$calib" --budget "${FFNBENCH_CALIBRATE_BUDGET:-10}" >/dev/null; then
  ceilings=(--ceilings "$calib/ceilings.json")
else
  echo "calibrate failed; stages and figures without ceilings" >&2
fi
./build/release/ffnbench sweep "$ini" --run-folder-file "$where" "${ceilings[@]}" "$@" || status=$?
# Figures also after a partial or failed sweep: every finished point is on disk.
run=$(cat "$where")
if [ -n "$run" ]; then
  # A resumed run whose first sweep had no ceilings still gets them for the figures.
  [ -f "$run/ceilings.json" ] || [ ${#ceilings[@]} -eq 0 ] || cp "$calib/ceilings.json" "$run/"
  for script in plots/*_figures.py; do
    /usr/bin/python3 "$script" "$run" || echo "figures: $script failed on $run" >&2
  done
  echo "results and figures: $run"
fi
exit $status

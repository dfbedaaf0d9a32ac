#!/usr/bin/env bash
# The quality loop (issue 13) in one command: train every layer family on Fashion-MNIST
# (training/, cached under the models folder by a hash of each model's configuration, so a rerun
# skips training), export each trained block, sweep the trained layers at their trained shapes on
# the real activations they see (next to random weights and the papers' shapes), and draw the
# figures of the run folder.
# usage: scripts/quality.sh [--training INI] [--experiment INI] [--models DIR] [sweep options...]
#   defaults: training/configs/quality.ini, experiments/quality.ini, results/models
#   FFNBENCH_SKIP_SETUP=1 skips the apt check and the build (the test suite's run).
set -euo pipefail
cd "$(dirname "$0")/.."
training=training/configs/quality.ini
experiment=experiments/quality.ini
models=results/models
while [[ $# -gt 0 ]]; do
  case $1 in
    --training) training=$2; shift 2 ;;
    --experiment) experiment=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ "${FFNBENCH_SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh
  bash scripts/build.sh release
fi
/usr/bin/python3 -m training.train "$training" --out "$models"
# The experiment names its files under results/models/; another models folder takes its place.
ini=$experiment
if [ "${models%/}" != results/models ]; then
  ini=$(mktemp --suffix .ini)
  trap 'rm -f "$ini"' EXIT
  sed "s#results/models/#${models%/}/#g" "$experiment" >"$ini"
fi
bash scripts/experiment.sh "$ini" "$@"

#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build, run
# experiments/quick.ini and draw its figures. Extra arguments go to `ffnbench sweep`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
bash scripts/experiment.sh experiments/quick.ini "$@"

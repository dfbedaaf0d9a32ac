#!/usr/bin/env bash
# Builds and runs the test suites on a fresh Debian 12 machine (installs what is missing first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
bash scripts/build.sh cachesim   # the binary valgrind runs: the cachesim sweep test uses it
ctest --preset release --output-on-failure "$@"

#!/usr/bin/env bash
# Builds and runs the test suites on a fresh Debian 12 machine (installs what is missing first).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh release
ctest --preset release --output-on-failure "$@"

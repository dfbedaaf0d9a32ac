#!/usr/bin/env bash
# The sanitizer suite: builds the debug-asan preset (AddressSanitizer + UndefinedBehaviorSanitizer,
# -O0) and runs its tests (LeakSanitizer suppressions and the sanitizer skip list: tests/CMakeLists.txt).
# Extra arguments go to ctest (e.g. -j2, -R Name).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh debug-asan
ctest --preset debug-asan "$@"

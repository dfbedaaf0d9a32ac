// One point as a command line: `ffnbench run-point` rebuilds it in a child process (for the
// counter backends that re-run points, e.g. cachesim under valgrind).
#pragma once

#include <string>
#include <vector>

#include "sweep/grid.hpp"

namespace ffnbench {

// {"run-point", "--variant", v, "--set", "k=v", ..., "--tokens", N, "--threads", T, "--seed", S
//  [, "--cold"] [, "--repeat-inputs"]}; the backend appends "--iterations", I. T is `threads`, which the re-running
// backend chooses (CounterBackend::offline_threads).
std::vector<std::string> run_point_args(const Point& point, uint64_t seed, bool cold, bool fresh_inputs, int threads);

}  // namespace ffnbench

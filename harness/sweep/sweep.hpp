// The sweep: expand and validate the grid, pick counters, create the run folder, measure each
// point and append its rows as it ends.
#pragma once

#include <string>
#include <vector>

#include "sweep/experiment.hpp"
#include "sweep/grid.hpp"

namespace ffnbench {

struct SweepOptions {
  bool resume = false;
  std::string resume_dir;        // empty: the newest run of this experiment on this machine
  Shard shard;                   // 1/1: the whole grid
  bool dry_run = false;          // list the points and exit
  std::vector<std::string> benchmark_flags;  // --benchmark_* passed through
  std::string command_line;
  std::string run_folder_file;   // if set, the run folder's path is written there
  bool remeasure_noisy = false;  // with resume: points whose status_reason says noisy run again

};

// Returns the exit status: 0 all points ok, 1 some point failed its gate or errored,
// 130 interrupted. Bad input throws ConfigError before anything is written.
int run_sweep(const Experiment& experiment, const SweepOptions& options);

}  // namespace ffnbench

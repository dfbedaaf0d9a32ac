// `ffnbench merge`: run folders from any number of machines -> one dataset folder.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace ffnbench {

struct MergeOptions {
  std::vector<std::string> inputs;  // run folders, merged folders, or folders with run folders below
                                    // them (results/<experiment>), in command-line order
  std::string out;                  // the folder to create; must not exist
  std::string keep;                 // duplicated points: "" (refuse), first, last or a run_id
  std::set<std::string> ignored_keys;  // experiment keys allowed to differ between inputs
};

struct MergeSummary {
  size_t inputs = 0, machines = 0, points = 0, duplicates_dropped = 0;
  std::vector<std::string> notes;  // one line each: renamed run_ids, differing git commits, ...
};

// Checks everything first (each input readable and uncorrupted, the same CSV headers, the same
// experiment, the same CPU behind each machine_id, duplicated points resolved by `keep`) and
// throws ConfigError naming what differs; only then writes, into a temporary folder renamed to
// `out` at the end, so bad input writes nothing. Output: points/stages/reps/counters.csv
// (concatenated in input order), experiment.ini, machines/<machine_id>.json,
// ceilings/<machine_id>.json where calibrated, merge.json (what came from where).
MergeSummary merge_runs(const MergeOptions& options);

}  // namespace ffnbench

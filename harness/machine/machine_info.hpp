// machine.json: everything needed to interpret a run on another day or another machine.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ffnbench {

// A short, readable, stable id: "<vendor>-<uarch or model>-<cores>c-<hash>", used as a folder
// name and a CSV column. The hash covers CPU identity, caches and hostname. The environment
// variable FFNBENCH_MACHINE_ID, when set, replaces it (the nodes of a homogeneous cluster
// partition counted as one machine); ConfigError if it is not a plain folder name.
std::string machine_id();

// The git commit of the source tree the binary was built from ("unknown" outside git);
// a "-dirty" suffix when the tree had uncommitted changes.
std::string git_commit();

struct PmuStatus {
  bool hardware_counters = false;
  std::string detail;  // e.g. "perf_event_open(instructions): No such file or directory"
};
PmuStatus pmu_status();

nlohmann::json machine_json(const std::string& command_line);

}  // namespace ffnbench

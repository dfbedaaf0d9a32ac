// Each stage against the ceiling that bounds it: the roofline of one stage, from its cost model
// (FLOPs, bytes at its working set's cache level, bytes streamed from memory) and the machine's
// measured ceilings (ceilings.json).
#pragma once

#include <string>

#include "calibrate/calibrate.hpp"

namespace ffnbench {

// The model of one stage for one call (Cost::stage_* of the kernel).
struct StageModel {
  double flops = 0;
  double bytes = 0;        // moved between the cores and the level holding the working set
  double stream_bytes = 0; // read or written once from/to memory (inputs, outputs, big intermediates)
  double working_set_bytes = 0;
  std::string compute_precision = "fp32";  // of its multiply-adds (Cost::stage_compute_precision)
};

// Where the stage stands. The bound time is the largest of flops / peak, bytes / bandwidth of
// the working set's level, and stream_bytes / DRAM bandwidth (each resource is its own roof);
// `bound` names the one that gives it, `fraction` = bound time / measured time (1 = at the
// ceiling). Empty `bound` when nothing could be computed; `note` says why.
struct StageBound {
  std::string level;  // L1, L2, L3 or DRAM: where the working set lives
  std::string bound;  // compute, L1, L2, L3 or DRAM
  double bound_s = 0;
  double fraction = 0;
  std::string note;
};

// The smallest data cache of `caches` holding `working_set_bytes` (a private cache holds a
// thread's working set; a shared one holds all threads' shared data: the model's working set
// is what one thread needs, shared data counted once), or DRAM.
std::string working_set_level(const std::vector<CacheInfo>& caches, double working_set_bytes);

// Reads a ceilings.json; throws ConfigError("ceilings", path, why) when it cannot.
Ceilings read_ceilings_file(const std::string& path);

StageBound stage_bound(const Ceilings& ceilings, int threads, const StageModel& stage, double measured_s);

}  // namespace ffnbench

// Counting the points of a sweep with a backend that re-runs each point in a child process
// (cachesim): after every point is timed, so the re-runs never share the cores with a timing.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "counters/backend.hpp"
#include "sweep/grid.hpp"
#include "sweep/measure.hpp"

namespace ffnbench {

// A point timed whose counters the backend still has to measure.
struct OfflineRerun {
  const Point* point;
  PointMeasurement measurement;
  std::vector<std::string> run_point_args;
};

// Runs the re-runs of a re-running backend, one per core at a time, longest first, and hands
// each point, with its counters, to `write` in grid order as soon as it and all before it are
// done. Points with the same re-run command share one re-run (the simulation is deterministic).
// Ctrl-C stops new re-runs; every point whose counters are in is still written, the others are
// not (--resume measures them again). A re-run that fails on its own leaves its points'
// counters empty, with why: their timings stand.
void run_offline_counters(CounterBackend& backend, std::vector<OfflineRerun>& reruns,
                          const std::function<void(const OfflineRerun&)>& write);

}  // namespace ffnbench

// Interleaved rounds: the points a claim or figure compares are built once, then each round
// visits every point once in an order shuffled from the seed, so the machine's drift over
// minutes hits them alike and their ratios can be paired round by round.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "counters/backend.hpp"
#include "sweep/grid.hpp"
#include "sweep/measure.hpp"

namespace ffnbench {

// A group: the points that share tokens and threads (what a speedup compares), in grid order.
// Groups come by thread count (so input pools of one team serve them in turn), then in the order
// of their first point in `points`.
std::vector<std::vector<const Point*>> interleaving_groups(const std::vector<const Point*>& points);

// The visiting order of round `round`: a permutation of 0..n-1 shuffled from (seed, round).
std::vector<size_t> round_order(size_t n, uint64_t seed, int round);

// Memory a prepared point may not push below: the group is split before it would.
struct MemoryGuard {
  int64_t reserve_bytes = int64_t{2} << 30;        // keep at least this much available
  std::function<int64_t()> available;               // MemAvailable (tests fake it)
};

// The caller configures `counters` for the group's thread count.
// Prepares the group's points (their input pools from `pools`), runs `settings.repetitions`
// rounds, and returns each point's measurement in the group's order. When the next point would
// not fit beside those already built, the built ones run as a sub-group of their own first,
// and `log` says so. `on_measured` receives every finished point as its sub-group ends.
void run_interleaved(const std::vector<const Point*>& group, const MeasureSettings& settings,
                     CounterBackend& counters, const MemoryGuard& guard, const PoolSource& pools,
                     const std::function<void(const Point&, PointMeasurement)>& on_measured,
                     const std::function<void(const std::string&)>& log);

}  // namespace ffnbench

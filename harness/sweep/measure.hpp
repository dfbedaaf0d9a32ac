// Measuring one point: build, correctness gate, then Google Benchmark times the kernel while the
// counter backend counts around each repetition's timed loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/aligned.hpp"
#include "core/variant.hpp"
#include "counters/backend.hpp"
#include "sweep/grid.hpp"

namespace ffnbench {

struct MeasureSettings {
  int repetitions = 5;
  double warmup_s = 0.1;
  double min_time_s = 0.2;
  bool cold_cache = false;
  uint64_t seed = 1;
};

struct RepRecord {
  int64_t iterations = 0;
  double time_per_call_s = 0;         // Google Benchmark's real time / iterations
  double overhead_s = 0;              // the harness's own time around the loop (counters, timers)
  std::vector<double> stage_s_per_call;
  std::vector<CounterValue> counters; // per forward call
};

struct PointMeasurement {
  std::string status = "ok";          // ok | gate_failed | error | interrupted
  std::string reason;
  int64_t d_in = 0, d_out = 0;
  Cost cost;
  std::vector<std::string> stage_names;
  std::map<std::string, std::string> extras;
  std::string cpu_list;
  double gate_max_error = 0;
  std::vector<RepRecord> reps;
  std::vector<CounterValue> offline_counters;  // per call, from a re-run (cachesim)
};

// Set by the SIGINT handler; a running point stops at its next iteration.
extern std::atomic<bool> g_interrupted;

// Passes `--benchmark_*` flags through to Google Benchmark (once per process).
void initialize_timing_engine(std::vector<std::string> benchmark_flags);

// The input X[tokens][d_in] of every point: uniform in [-1, 1), distinct per token, the same for
// every variant of one width and seed (filled by the point's threads: first touch).
AlignedVector<float> make_inputs(int64_t tokens, int64_t d_in, uint64_t seed);

PointMeasurement measure_point(const Point& point, const MeasureSettings& settings,
                               CounterBackend& counters);

}  // namespace ffnbench

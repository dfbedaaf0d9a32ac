// Measuring points: build, correctness gate, then Google Benchmark times the kernel while the
// counter backend counts around each repetition's timed loop. A point is prepared once
// (PreparedPoint) and then visited once per repetition: all visits in a row (schedule
// sequential) or one visit per round of a group (schedule interleaved, sweep/schedule.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/aligned.hpp"
#include "core/variant.hpp"
#include "counters/backend.hpp"
#include "sweep/gate.hpp"
#include "sweep/grid.hpp"

namespace ffnbench {

struct MeasureSettings {
  int repetitions = 5;
  double warmup_s = 0.1;
  double min_time_s = 0.2;
  bool cold_cache = false;
  uint64_t seed = 1;
  bool fresh_inputs = true;  // inputs = fresh: every call reads the next batch of a pool
};

struct RepRecord {
  int64_t iterations = 0;
  double time_per_call_s = 0;         // Google Benchmark's real time / iterations
  double overhead_s = 0;              // the harness's own time around the loop (counters, timers)
  int round = 0;                      // the round of the visit (sequential: the repetition)
  int position = 0;                   // the visit's place within its round (sequential: 0)
  std::vector<double> stage_s_per_call;
  std::vector<CounterValue> counters; // per forward call
};

// What else ran while a point was timed, summed over its visits (sweep: machine/noise.hpp).
struct PointNoise {
  double wall_s = 0;                 // seconds of visits with known fractions
  double steal_s = 0, other_s = 0;   // steal and other processes' share, weighted by wall time
  double mhz_sum = 0;
  int mhz_samples = 0;
  std::string note;                  // why a fraction is unknown (the last reason seen)
};

struct PointMeasurement {
  std::string status = "ok";          // ok | gate_failed | error | interrupted
  std::string reason;
  int64_t d_in = 0, d_out = 0;
  Cost cost;
  std::vector<std::string> stage_names;
  std::map<std::string, std::string> extras;
  std::string cpu_list;
  GateResult gate;                    // the first call's and one timed call's check, combined
  int64_t input_batches = 1;          // distinct batches the calls cycle through
  PointNoise noise;
  std::vector<RepRecord> reps;
  std::vector<CounterValue> offline_counters;  // per call, from a re-run (cachesim)
};

// Set by the SIGINT handler; a running point stops at its next iteration.
extern std::atomic<bool> g_interrupted;

// Passes `--benchmark_*` flags through to Google Benchmark (once per process).
void initialize_timing_engine(std::vector<std::string> benchmark_flags);

// The inputs of a point: `batches` consecutive batches of `tokens` distinct tokens, uniform in
// [-1, 1), the same for every variant of one width and seed (batch 0 is the same whatever the
// pool size). Call c reads batch c mod batches. Filled by the current OpenMP team (the point's
// threads): they touch its pages first.
class InputPool {
 public:
  InputPool(int64_t tokens, int64_t d_in, int64_t batches, uint64_t seed);
  const float* batch(int64_t call) const { return data_.data() + (call % batches_) * tokens_ * d_in_; }
  int64_t batches() const { return batches_; }
  int64_t tokens() const { return tokens_; }
  int64_t d_in() const { return d_in_; }
  size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  int64_t tokens_, d_in_, batches_;
  AlignedVector<float> data_;
};

// Batches a pool needs: with fresh inputs, enough that the pool is at least twice `llc_bytes`
// (so no call finds its input in the last-level cache), and at least 2; with repeat, 1.
int64_t input_pool_batches(int64_t tokens, int64_t d_in, bool fresh, double llc_bytes);
// The size of the last-level data cache here (the largest level of cpu_info()), in bytes.
double last_level_cache_bytes();

// The legacy single batch: X[tokens][d_in] (batch 0 of every pool).
AlignedVector<float> make_inputs(int64_t tokens, int64_t d_in, uint64_t seed);

// Where a point gets its input pool: (d_in, batches) -> pool; null: the point makes its own.
using PoolSource = std::function<std::shared_ptr<const InputPool>(int64_t d_in, int64_t batches)>;

// One point, built and gated, between its visits. Kept alive for the whole group, so every visit
// times the same weights.
class PreparedPoint {
 public:
  // Builds the kernel (threads: omp_set_num_threads(point.threads) first), runs the first
  // call on batch 0 and gates it, then warms up for settings.warmup_s and fixes the
  // iterations per repetition. On a failure measurement().status says what happened.
  PreparedPoint(const Point& point, const MeasureSettings& settings, const PoolSource& pools = nullptr);

  bool ready() const { return m_.status == "ok"; }
  const Point& point() const { return point_; }

  // One repetition: warm-up (`warm`: one call if a call takes under a tenth of the repetition,
  // else a read of the kernel's memory regions), then Google Benchmark's timed loop, counted.
  void visit(CounterBackend& counters, int round, int position, bool warm);

  // After the last visit: gates the last timed call's output, fills extras; the measurement.
  PointMeasurement finish();

  PointMeasurement& measurement() { return m_; }

 private:
  Point point_;
  MeasureSettings settings_;
  std::shared_ptr<const InputPool> pool_;
  std::unique_ptr<Kernel> kernel_;
  AlignedVector<float> y_;
  StageTimer timer_;
  int64_t calls_ = 0;       // forward calls made: the next one reads batch calls_ mod batches
  int64_t iterations_ = 1;
  double t_call_ = 0;
  PointMeasurement m_;
};

// Prepares the point and visits it `repetitions` times in a row (schedule = sequential).
PointMeasurement measure_point(const Point& point, const MeasureSettings& settings,
                               CounterBackend& counters);

}  // namespace ffnbench

// Measuring points: build, correctness gate, then Google Benchmark times the kernel while the
// counter backend counts around each repetition's timed loop. A point is prepared once
// (PreparedPoint) and then visited once per repetition: all visits in a row (schedule
// sequential) or one visit per round of a group (schedule interleaved, sweep/schedule.hpp).
#pragma once

#include <atomic>
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/aligned.hpp"
#include "core/variant.hpp"
#include "counters/backend.hpp"
#include "sweep/gate.hpp"
#include "sweep/pytorch_gate.hpp"
#include "sweep/grid.hpp"

namespace ffnbench {

struct MeasureSettings {
  int repetitions = 5;
  double warmup_s = 0.1;
  double min_time_s = 0.2;
  bool cold_cache = false;
  uint64_t seed = 1;
  bool fresh_inputs = true;  // inputs = fresh: every call reads the next batch of a pool
  double llc_bytes = 0;      // the cache the pool must exceed twice; 0: last_level_cache_bytes()
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
  std::string onednn_isa;             // oneDNN's effective ISA, for kernels that run oneDNN
  std::string needs_isa;              // Kernel::needs_isa: what a valgrind re-run cannot execute
  GateResult gate;                    // the first call's and one timed call's check, combined
  std::optional<PytorchCheck> pytorch;  // trained weights: the outputs against PyTorch's (fidelity)
  int64_t input_batches = 1;          // distinct batches the calls cycle through
  PointNoise noise;
  std::vector<RepRecord> reps;
  std::vector<CounterValue> offline_counters;  // per call, from a re-run (cachesim)
};

// Set by the SIGINT handler; a running point stops at its next iteration.
extern std::atomic<bool> g_interrupted;

// Passes `--benchmark_*` flags through to Google Benchmark (once per process).
void initialize_timing_engine(std::vector<std::string> benchmark_flags);

// The inputs of points: a pool of `pool_tokens` distinct tokens of width d_in, uniform in [-1, 1),
// the same for every variant of one width and seed (token i is the same whatever the pool's size:
// the first N tokens are those of a pool of N). A call with N tokens reads batch c mod (pool_tokens / N),
// the next N tokens each call. Filled by the current OpenMP team (the first point's threads): they
// touch its pages first. Points of one width and thread count share one.
class InputPool {
 public:
  InputPool(int64_t pool_tokens, int64_t d_in, uint64_t seed);
  // Real activations: tensor x [n, d_in] of a safetensors file (FileContentError, key `key`, when
  // it has none of that width), as a pool of max(n, min_tokens) tokens, the rows cycled when a
  // call needs more than n. Read by the current OpenMP team.
  static std::shared_ptr<const InputPool> from_file(const std::string& path, const std::string& key, int64_t d_in,
                                                    int64_t min_tokens);
  const float* batch(int64_t call, int64_t tokens) const {
    return data_.data() + (call % batches(tokens)) * tokens * d_in_;
  }
  int64_t batches(int64_t tokens) const { return std::max<int64_t>(pool_tokens_ / tokens, 1); }
  int64_t pool_tokens() const { return pool_tokens_; }
  int64_t d_in() const { return d_in_; }
  size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  InputPool(int64_t pool_tokens, int64_t d_in, AlignedVector<float> data)
      : pool_tokens_(pool_tokens), d_in_(d_in), data_(std::move(data)) {}
  int64_t pool_tokens_, d_in_;
  AlignedVector<float> data_;
};

// The activations file's x [n, d_in] (and y [n, d_out] when `d_out` > 0 and the file has one),
// checked: a missing tensor, another dtype, width or row count is a FileContentError naming the
// file, the tensor, what it has and what is needed. Returns n.
int64_t check_activations_file(const std::string& path, const std::string& key, int64_t d_in, int64_t d_out);

// Tokens a pool needs for calls of `tokens` tokens: with fresh inputs, enough that the batches the
// calls cycle through hold at least twice `llc_bytes` (so no call finds its input in the
// last-level cache) and at least two batches; with repeat, one batch.
int64_t input_pool_tokens(int64_t tokens, int64_t d_in, bool fresh, double llc_bytes);
// The size of the last-level data cache here (the largest level of cpu_info()), in bytes.
double last_level_cache_bytes();

// Where a point gets its input pool: (d_in, tokens needed) -> a pool of at least that many
// tokens; null: the point makes its own.
// `file`: an activations file (inputs = <file>), or empty for the seeded uniform pool.
using PoolSource =
    std::function<std::shared_ptr<const InputPool>(int64_t d_in, int64_t pool_tokens, const std::string& file)>;

// Pools shared by the points of one thread count (a pool is first touched by its threads), grown
// when a point needs more tokens; a new thread count starts afresh.
class PoolCache {
 public:
  std::shared_ptr<const InputPool> get(int threads, int64_t d_in, int64_t pool_tokens, uint64_t seed,
                                       const std::string& file = "");
  PoolSource source(int threads, uint64_t seed) {
    return [this, threads, seed](int64_t d_in, int64_t n, const std::string& file) {
      return get(threads, d_in, n, seed, file);
    };
  }

 private:
  int threads_ = 0;
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<const InputPool>> by_width_;  // (file, d_in)
};

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
  const Point& point_;  // the caller's: it outlives the prepared point (rows and re-runs refer to it)
  MeasureSettings settings_;
  std::shared_ptr<const InputPool> pool_;
  std::unique_ptr<Kernel> kernel_;
  AlignedVector<float> y_;
  StageTimer timer_;
  const float* input(int64_t call) const { return pool_->batch(call % batches_, point_.tokens); }
  int64_t calls_ = 0;       // forward calls made: the next one reads batch calls_ mod batches_
  int64_t batches_ = 1;
  int64_t iterations_ = 1;
  double t_call_ = 0;
  PointMeasurement m_;
};

// Prepares the point and visits it `repetitions` times in a row (schedule = sequential).
PointMeasurement measure_point(const Point& point, const MeasureSettings& settings,
                               CounterBackend& counters, const PoolSource& pools = nullptr);

}  // namespace ffnbench

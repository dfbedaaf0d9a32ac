// The variant interface: what a kernel family declares and what an instantiated kernel does.
// A variant lives in variants/<name>/ and registers itself with FFNBENCH_REGISTER_VARIANT;
// nothing in harness/ changes when one is added.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/params.hpp"

namespace ffnbench {

// Analytic cost of one forward call over `tokens` tokens (likwid-bench style: stated next to
// the kernel). A multiply-add counts as 2 FLOPs.
struct Cost {
  double flops = 0;             // total FLOPs of the call
  double weight_bytes = 0;      // bytes of weights/tables the call reads (each byte once)
  double activation_bytes = 0;  // bytes of inputs read + outputs written (+ intermediates)
  double working_set_bytes = 0; // bytes that must stay cache-resident for the ideal traffic
  // Per-stage FLOPs, same order as Kernel::stage_names() (may be empty).
  std::vector<double> stage_flops;
  // Per-stage roofline inputs (harness/sweep/roofline.hpp), same order: the bytes the stage
  // moves between the cores and the cache level holding its working set (each gathered row
  // counted per use: a gather re-reads), the bytes it streams once from or to memory (inputs,
  // outputs, intermediates too large to stay cached), and that working set (what one thread must
  // keep resident for the first kind of traffic; it picks the level). Empty: no memory model.
  std::vector<double> stage_bytes;
  std::vector<double> stage_stream_bytes;
  std::vector<double> stage_working_set_bytes;
  // The precision of each stage's multiply-adds where it is not fp32 ("bf16", "int8"; empty or
  // "fp32": fp32 FMAs). calibrate measures the fp32 FMA peak only, so a stage computing in bf16
  // or int8 is not placed against it.
  std::vector<std::string> stage_compute_precision;
};

// Accumulates wall time per stage of one forward call. Kernels call begin/end around stages;
// the harness reads and resets the totals once per repetition. Cost: two steady_clock reads.
class StageTimer {
 public:
  explicit StageTimer(size_t stages = 0) : seconds_(stages, 0.0) {}
  void resize(size_t stages) { seconds_.assign(stages, 0.0); }
  void reset() { std::fill(seconds_.begin(), seconds_.end(), 0.0); }
  const std::vector<double>& seconds() const { return seconds_; }
  // For stages run fused in one loop: add a share of its wall time measured another way.
  void add(size_t index, double seconds) {
    if (index < seconds_.size()) seconds_[index] += seconds;
  }

  // RAII: times the enclosing scope into stage `index` (no-op when the timer is null).
  class Scope {
   public:
    Scope(StageTimer* timer, size_t index)
        : timer_(timer), index_(index), start_(std::chrono::steady_clock::now()) {}
    ~Scope() {
      if (timer_ != nullptr && index_ < timer_->seconds_.size())
        timer_->seconds_[index_] +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    StageTimer* timer_;
    size_t index_;
    std::chrono::steady_clock::time_point start_;
  };

 private:
  std::vector<double> seconds_;
};

// A memory region a kernel owns (weights, tables); flushed from the caches in cold-cache mode.
struct MemoryRegion {
  const void* data;
  size_t bytes;
};

// An instantiated variant: weights built for one configuration.
// Threads: the harness sets omp_set_num_threads(T) (pinned, one per core) before forward();
// kernels parallelize with OpenMP (or a BLAS using the same OpenMP pool) and read
// omp_get_max_threads().
class Kernel {
 public:
  virtual ~Kernel() = default;

  virtual int64_t d_in() const = 0;
  virtual int64_t d_out() const = 0;

  // Y[tokens][d_out] = f(X[tokens][d_in]); row-major, 64-byte aligned, fp32 at the interface.
  // May be called repeatedly; must not allocate per call once warm (scratch kept in the kernel).
  virtual void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) = 0;

  // Plain scalar reference of the same math (single-threaded, obviously correct).
  virtual void reference(const float* X, float* Y, int64_t tokens) const = 0;

  virtual Cost cost(int64_t tokens) const = 0;

  // Largest allowed |opt - ref| / (|ref| + atol_scale) elementwise for the correctness gate.
  virtual double tolerance() const { return 1e-4; }
  // Quantized kernels (int8): a bound on |opt - ref| per output element that the last call's
  // quantization steps allow, in the output's units (0: none). The gate's tolerance is then
  // max(tolerance(), error_bound() / rms(ref)).
  virtual double error_bound() const { return 0.0; }

  // Routing kernels (lookup codes, tree branches, top-k experts) can take another branch than the
  // reference when a decision value lies within float rounding of its threshold; such a row then
  // differs wholesale. For each of `rows` rows of X, the reference's smallest decision margin: the
  // distance of any of that row's routing decisions from its threshold (a LookupFFN z coordinate
  // from 0, an FFF node logit from 0, the gap between the k-th and (k+1)-th router logits), in the
  // units decision_epsilon() states. The gate forgives a row that differs from the reference only
  // when its margin is <= decision_epsilon(); every other mismatch fails the point.
  // Empty (the default): the kernel does not route, and no mismatch is forgiven.
  virtual std::vector<double> decision_margins(const float* X, int64_t rows) const {
    (void)X;
    (void)rows;
    return {};
  }
  virtual double decision_epsilon() const { return 0.0; }

  // Whether forward() runs oneDNN primitives: points.csv then names oneDNN's effective ISA.
  virtual bool uses_onednn() const { return false; }
  // The instruction-set extensions the kernel cannot run without, in words (e.g. "AVX512-BF16 or
  // AMX (oneDNN's bf16 matmul)"); empty when it runs on AVX. A re-run under valgrind, which
  // decodes no AVX-512, is skipped for such a kernel, and its status_reason says why.
  virtual std::string needs_isa() const { return ""; }

  // Names of the stages forward() reports into (empty: a single stage).
  virtual std::vector<std::string> stage_names() const { return {}; }

  // Regions to flush in cold-cache mode: everything a call reads (weights, tables, scratch), the
  // copies a library keeps of them included (oneDNN's reordered weights). Together they cover at
  // least cost().weight_bytes; a test checks it for every variant.
  virtual std::vector<MemoryRegion> memory_regions() const { return {}; }
  // What a call reads that memory_regions() cannot reach (a library's private buffers), in words;
  // empty when the regions are complete. Cold points carry it in status_reason.
  virtual std::string cold_mode_gaps() const { return ""; }

  // Extra per-point facts computed during the last forward() (e.g. MoE tokens per expert),
  // written to points.csv as an `extras` column ("key=value;key=value").
  virtual std::map<std::string, std::string> extras() const { return {}; }

  // Facts about the output Y[tokens] the last timed call computed from X[tokens] (e.g. a
  // quantized kernel's error against fp32 on a few rows); added to extras. Called once per point,
  // outside the timed region.
  virtual std::map<std::string, std::string> output_statistics(const float* X, const float* Y, int64_t tokens) const {
    (void)X;
    (void)Y;
    (void)tokens;
    return {};
  }

  // Routing statistics (e.g. FFF's leaf distribution) of the call that read X[tokens], for a
  // kernel that does not keep its last call's routing; added to extras. The harness calls it
  // once per point, outside the timed region, with the last timed call's batch.
  virtual std::map<std::string, std::string> routing_statistics(const float* X, int64_t tokens) const {
    (void)X;
    (void)tokens;
    return {};
  }
};

// A kernel family: declares parameters, validates configurations, builds kernels.
class Variant {
 public:
  virtual ~Variant() = default;
  virtual std::string name() const = 0;
  virtual std::string doc() const = 0;

  // Every parameter, including "impl" (a Choice) and, where supported, "precision".
  // The harness adds no parameters of its own here: tokens and threads are experiment axes.
  virtual std::vector<ParamSpec> params() const = 0;

  // Cross-parameter checks after each value passed its spec (e.g. b must divide d').
  // Throws ConfigError naming the key, the value and what is allowed.
  virtual void validate(const Config& config) const { (void)config; }

  // Builds weights deterministically from `seed`. `max_tokens` lets a kernel size its scratch.
  virtual std::unique_ptr<Kernel> build(const Config& config, uint64_t seed,
                                        int64_t max_tokens) const = 0;

  // Memory model, stated next to cost(): the bytes a kernel built for `config` holds at its peak
  // from build() through a forward() of `max_tokens` tokens on `threads` threads — weights and
  // tables (a library's copies of them included), scratch, and what build() holds only while
  // building. The harness adds the inputs and outputs and refuses a point that cannot fit before
  // anything is allocated for it. A test checks the model against the peak RSS of a real build.
  // 0: no model (the point is not pre-flighted).
  virtual double memory_bytes(const Config& config, int64_t max_tokens, int threads) const {
    (void)config;
    (void)max_tokens;
    (void)threads;
    return 0;
  }
};

}  // namespace ffnbench

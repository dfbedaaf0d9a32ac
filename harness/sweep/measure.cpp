#include "sweep/measure.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "common/random.hpp"
#include "common/safetensors.hpp"
#include "core/registry.hpp"
#include "machine/noise.hpp"
#include "machine/onednn_isa.hpp"
#include "machine/topology.hpp"
#include "sweep/cache_flush.hpp"
#include "sweep/pinning.hpp"
#include "sweep/experiment.hpp"

namespace ffnbench {

std::atomic<bool> g_interrupted{false};

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Inputs are the same for every variant of one width and seed; this stream is reserved for X.
constexpr uint64_t kInputStream = 0x19'0007;

// Keeps Google Benchmark's per-repetition runs; formatting is the sweep's job, not this one's.
class CollectingReporter final : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs)
      if (r.run_type == Run::RT_Iteration) this->runs.push_back(r);
  }
  std::vector<Run> runs;
};

std::vector<int> cpus_of(const std::string& cpu_list) {  // "0 1" (pinned_cpus) -> {0, 1}
  std::vector<int> cpus;
  std::stringstream ss(cpu_list);
  for (int c; ss >> c;)
    if (c >= 0) cpus.push_back(c);
  return cpus;
}

void add_noise(PointNoise& total, const NoiseFacts& f) {
  if (f.steal_frac && f.other_frac) {
    total.wall_s += f.wall_s;
    total.steal_s += *f.steal_frac * f.wall_s;
    total.other_s += *f.other_frac * f.wall_s;
  } else if (!f.note.empty()) {
    total.note = f.note;
  }
  if (f.freq_mhz) {
    total.mhz_sum += *f.freq_mhz;
    ++total.mhz_samples;
  }
}

}  // namespace

InputPool::InputPool(int64_t pool_tokens, int64_t d_in, uint64_t seed)
    : pool_tokens_(std::max<int64_t>(pool_tokens, 1)), d_in_(d_in), data_(static_cast<size_t>(pool_tokens_ * d_in)) {
  fill_uniform(data_.data(), data_.size(), seed, kInputStream, -1.0f, 1.0f);
}

int64_t check_activations_file(const std::string& path, const std::string& key, int64_t d_in, int64_t d_out) {
  const SafetensorsFile file = SafetensorsFile::open(path, key);
  auto fail = [&](const std::string& what) { return FileContentError(key, path, what); };
  const TensorInfo* x = file.find("x");
  if (x == nullptr) throw fail(fmt::format("has no tensor 'x'; the configuration needs the block's inputs as F32 [n, {}]", d_in));
  if (x->dtype != "F32" || x->shape.size() != 2 || x->shape[1] != d_in || x->shape[0] < 1)
    throw fail(fmt::format("tensor 'x' is {} {}, but the configuration needs F32 [n, {}] (n >= 1 rows of width d_in = {})",
                           x->dtype, shape_text(x->shape), d_in, d_in));
  const TensorInfo* y = file.find("y");
  if (y != nullptr && d_out > 0 && (y->dtype != "F32" || y->shape != std::vector<int64_t>{x->shape[0], d_out}))
    throw fail(fmt::format("tensor 'y' is {} {}, but the configuration needs F32 [{}, {}] (PyTorch's outputs for x's rows)",
                           y->dtype, shape_text(y->shape), x->shape[0], d_out));
  return x->shape[0];
}

std::shared_ptr<const InputPool> InputPool::from_file(const std::string& path, const std::string& key, int64_t d_in,
                                                      int64_t min_tokens) {
  const int64_t n = check_activations_file(path, key, d_in, 0);
  const SafetensorsFile file = SafetensorsFile::open(path, key);
  AlignedVector<float> rows(static_cast<size_t>(n * d_in));
  file.read_f32(*file.find("x"), rows.data());
  const int64_t tokens = std::max(n, min_tokens);
  if (tokens == n) return std::shared_ptr<const InputPool>(new InputPool(tokens, d_in, std::move(rows)));
  AlignedVector<float> cycled(static_cast<size_t>(tokens * d_in));
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < tokens; ++t) std::copy_n(rows.data() + (t % n) * d_in, d_in, cycled.data() + t * d_in);
  return std::shared_ptr<const InputPool>(new InputPool(tokens, d_in, std::move(cycled)));
}

std::shared_ptr<const InputPool> PoolCache::get(int threads, int64_t d_in, int64_t pool_tokens, uint64_t seed,
                                                const std::string& file) {
  if (threads != threads_) {
    by_width_.clear();  // their pages were touched by another team
    threads_ = threads;
  }
  auto& pool = by_width_[{file, d_in}];
  if (!pool || pool->pool_tokens() < pool_tokens) {
    pool.reset();  // its memory goes back before the larger one is filled
    pool = file.empty() ? std::make_shared<InputPool>(pool_tokens, d_in, seed)
                        : InputPool::from_file(file, "inputs", d_in, pool_tokens);
  }
  return pool;
}

double last_level_cache_bytes() {
  double llc = 0;
  for (const auto& c : cpu_info().caches)
    if (c.type != "Instruction") llc = std::max(llc, static_cast<double>(c.size_bytes));
  return llc > 0 ? llc : 32.0 * (1 << 20);  // unknown: assume a 32 MiB L3
}

int64_t input_pool_tokens(int64_t tokens, int64_t d_in, bool fresh, double llc_bytes) {
  if (!fresh) return tokens;
  // floor(pool / N) batches hold at least pool - N tokens: 2·LLC worth plus two batches.
  const auto llc_tokens = static_cast<int64_t>(std::ceil(2.0 * llc_bytes / (4.0 * static_cast<double>(d_in))));
  return llc_tokens + 2 * tokens;
}

void initialize_timing_engine(std::vector<std::string> benchmark_flags) {
  static bool done = false;
  if (done) return;
  done = true;
  std::vector<char*> argv;
  static std::string program = "ffnbench";
  argv.push_back(program.data());
  static std::vector<std::string> kept;
  kept = std::move(benchmark_flags);
  for (auto& f : kept) argv.push_back(f.data());
  int argc = static_cast<int>(argv.size());
  benchmark::Initialize(&argc, argv.data());
  if (argc > 1) throw ConfigError("benchmark flag", argv[1], "is not a Google Benchmark flag (--benchmark_*)");
}

PreparedPoint::PreparedPoint(const Point& point, const MeasureSettings& settings, const PoolSource& pools)
    : point_(point), settings_(settings) {
  omp_set_num_threads(point.threads);
  m_.cpu_list = pinned_cpus(point.threads);
  const Variant& variant = Registry::instance().get(point.variant);
  kernel_ = variant.build(point.config, settings.seed, point.tokens);
  m_.d_in = kernel_->d_in();
  m_.d_out = kernel_->d_out();
  m_.cost = kernel_->cost(point.tokens);
  m_.stage_names = kernel_->stage_names();
  if (kernel_->uses_onednn()) m_.onednn_isa = onednn_effective_isa();
  m_.needs_isa = kernel_->needs_isa();
  // The point's inputs: an activations file (its rows, cycled), fresh (a uniform pool) or repeat.
  const std::string file = is_inputs_file(point.inputs) ? point.inputs : "";
  const bool fresh = !file.empty() || (settings.fresh_inputs && point.inputs != "repeat");
  const int64_t pool_tokens =
      file.empty() ? input_pool_tokens(point.tokens, m_.d_in, fresh,
                                       settings.llc_bytes > 0 ? settings.llc_bytes : last_level_cache_bytes())
                   : point.tokens;  // the file's rows, at least one batch
  if (pools) pool_ = pools(m_.d_in, pool_tokens, file);
  if (!pool_)
    pool_ = file.empty() ? std::make_shared<InputPool>(pool_tokens, m_.d_in, settings.seed)
                         : InputPool::from_file(file, "inputs", m_.d_in, pool_tokens);
  // A repeat point may be handed a larger pool: it still reads one batch.
  batches_ = fresh ? pool_->batches(point.tokens) : 1;
  m_.input_batches = batches_;
  if (settings.cold_cache) {
    const std::string gaps = kernel_->cold_mode_gaps();
    if (!gaps.empty()) m_.reason = "cold mode cannot flush: " + gaps;
  }

  y_.resize(point.tokens * m_.d_out);
  fill_parallel(y_.data(), y_.size(), std::nanf(""));  // an output the kernel forgets cannot pass
  timer_.resize(m_.stage_names.size());
  kernel_->forward(input(0), y_.data(), point.tokens, &timer_);
  calls_ = 1;
  m_.gate = check_against_reference(*kernel_, input(0), y_.data(), point.tokens);
  if (!m_.gate.passed) {
    m_.status = "gate_failed";
    m_.reason = "first call: " + m_.gate.detail;
    return;
  }
  // Trained weights: our reference and our kernel against PyTorch's outputs of the export.
  const std::string weights = point.config.has("weights") ? point.config.str("weights") : "";
  if (const std::string activations = pytorch_activations_for(weights); !activations.empty()) {
    check_activations_file(activations, "activations", m_.d_in, m_.d_out);
    m_.pytorch = check_against_pytorch(*kernel_, activations, point.tokens);
    if (!m_.pytorch->passed()) {
      m_.status = "gate_failed";
      m_.reason = "cross-framework gate: " + m_.pytorch->detail();
      return;
    }
  }

  // Warm-up, then iterations per repetition from the last warm call: enough to fill min_time_s.
  // The harness warms up itself because Google Benchmark refuses MinWarmUpTime together with
  // a fixed iteration count, and a fixed count is what lets the counters bracket exactly the
  // run Google Benchmark reports.
  for (auto w0 = Clock::now(); t_call_ == 0 || seconds_since(w0) < settings.warmup_s;) {
    auto t0 = Clock::now();
    kernel_->forward(input(calls_++), y_.data(), point.tokens, nullptr);
    t_call_ = std::max(seconds_since(t0), 1e-9);
  }
  iterations_ = std::clamp<int64_t>(static_cast<int64_t>(std::ceil(settings.min_time_s / t_call_)), 1,
                                    100'000'000);
}

void PreparedPoint::visit(CounterBackend& counters, int round, int position, bool warm) {
  omp_set_num_threads(point_.threads);
  std::vector<MemoryRegion> regions = kernel_->memory_regions();
  if (warm) {
    // A call shorter than a tenth of the repetition is cheap to repeat; a longer one is warmed by
    // reading what it reads (its weights, scratch and the next input), which costs a fraction of it.
    if (iterations_ >= 10) {
      kernel_->forward(input(calls_++), y_.data(), point_.tokens, nullptr);
    } else {
      regions.push_back({input(calls_), point_.tokens * pool_->d_in() * sizeof(float)});
      regions.push_back({y_.data(), y_.size() * sizeof(float)});
      benchmark::DoNotOptimize(touch_regions(regions));
      regions.resize(regions.size() - 2);
    }
  }
  const size_t input_slot = regions.size();
  regions.push_back({nullptr, point_.tokens * pool_->d_in() * sizeof(float)});
  regions.push_back({y_.data(), y_.size() * sizeof(float)});

  RepRecord rec;
  rec.round = round;
  rec.position = position;
  bool recorded = false;
  auto body = [&](benchmark::State& state) {
    timer_.reset();
    auto c0 = Clock::now();
    counters.start();
    double overhead = seconds_since(c0);
    for (auto _ : state) {
      const float* x = input(calls_++);
      if (settings_.cold_cache) {
        state.PauseTiming();
        regions[input_slot].data = x;
        flush_regions(regions);
        state.ResumeTiming();
      }
      kernel_->forward(x, y_.data(), point_.tokens, &timer_);
      if (g_interrupted.load(std::memory_order_relaxed)) {
        state.SkipWithError("interrupted");
        break;
      }
    }
    auto c1 = Clock::now();
    counters.stop();
    rec.counters = counters.read();
    overhead += seconds_since(c1);
    rec.iterations = state.iterations();
    rec.overhead_s = overhead;
    const double n = static_cast<double>(std::max<int64_t>(rec.iterations, 1));
    rec.stage_s_per_call.clear();
    for (double s : timer_.seconds()) rec.stage_s_per_call.push_back(s / n);
    for (auto& v : rec.counters) v.value /= n;
    recorded = true;
  };

  benchmark::ClearRegisteredBenchmarks();
  benchmark::RegisterBenchmark("point", body)
      ->UseRealTime()
      ->Unit(benchmark::kSecond)
      ->Iterations(iterations_)
      ->Repetitions(1);
  CollectingReporter reporter;
  const NoiseProbe before = take_noise_probe();
  benchmark::RunSpecifiedBenchmarks(&reporter, "^point($|/)");
  const NoiseProbe after = take_noise_probe();
  benchmark::ClearRegisteredBenchmarks();
  add_noise(m_.noise, measure(before, after, cpus_of(m_.cpu_list)));

  if (g_interrupted.load()) {
    m_.status = "interrupted";
    m_.reason = "interrupted by the user";
    return;
  }
  if (reporter.runs.size() != 1 || !recorded) {
    m_.status = "error";
    m_.reason = fmt::format("timing engine reported {} runs for one repetition", reporter.runs.size());
    return;
  }
  const auto& run = reporter.runs.front();
  if (run.error_occurred) {
    m_.status = "error";
    m_.reason = run.error_message;
    return;
  }
  rec.time_per_call_s = run.real_accumulated_time / static_cast<double>(run.iterations);
  m_.reps.push_back(std::move(rec));
}

PointMeasurement PreparedPoint::finish() {
  if (ready() && calls_ > 1) {
    // The output of the last timed call, against the reference on the batch it read.
    GateResult timed = check_against_reference(*kernel_, input(calls_ - 1), y_.data(), point_.tokens);
    m_.gate = combine(m_.gate, timed);
    if (!timed.passed) {
      m_.status = "gate_failed";
      m_.reason = "a timed call: " + timed.detail;
    }
  }
  if (kernel_) {
    m_.extras = kernel_->extras();
    if (calls_ > 0) {  // the routing and the output of the last call, outside the timed region
      for (auto& [k, v] : kernel_->routing_statistics(input(calls_ - 1), point_.tokens)) m_.extras[k] = v;
      for (auto& [k, v] : kernel_->output_statistics(input(calls_ - 1), y_.data(), point_.tokens)) m_.extras[k] = v;
    }
  }
  kernel_.reset();  // its memory goes back before the next group is built
  pool_.reset();
  return std::move(m_);
}

PointMeasurement measure_point(const Point& point, const MeasureSettings& settings,
                               CounterBackend& counters, const PoolSource& pools) {
  PreparedPoint prepared(point, settings, pools);
  for (int r = 0; r < settings.repetitions && prepared.ready(); ++r)
    prepared.visit(counters, r, 0, /*warm=*/false);
  return prepared.finish();
}

}  // namespace ffnbench

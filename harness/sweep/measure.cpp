#include "sweep/measure.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <cmath>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "sweep/cache_flush.hpp"
#include "sweep/gate.hpp"
#include "sweep/pinning.hpp"

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

}  // namespace

AlignedVector<float> make_inputs(int64_t tokens, int64_t d_in, uint64_t seed) {
  AlignedVector<float> X(tokens * d_in);
  fill_uniform(X.data(), X.size(), seed, kInputStream, -1.0f, 1.0f);
  return X;
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

PointMeasurement measure_point(const Point& point, const MeasureSettings& settings,
                               CounterBackend& counters) {
  PointMeasurement m;
  omp_set_num_threads(point.threads);
  m.cpu_list = pinned_cpus(point.threads);

  const Variant& variant = Registry::instance().get(point.variant);
  auto kernel = variant.build(point.config, settings.seed, point.tokens);
  m.d_in = kernel->d_in();
  m.d_out = kernel->d_out();
  m.cost = kernel->cost(point.tokens);
  m.stage_names = kernel->stage_names();

  AlignedVector<float> X = make_inputs(point.tokens, m.d_in, settings.seed);
  AlignedVector<float> Y(point.tokens * m.d_out);
  std::fill(Y.begin(), Y.end(), std::nanf(""));  // an output the kernel forgets cannot pass

  StageTimer timer(m.stage_names.size());
  kernel->forward(X.data(), Y.data(), point.tokens, &timer);
  GateResult gate = check_against_reference(*kernel, X.data(), Y.data(), point.tokens);
  m.gate_max_error = gate.max_error;
  if (!gate.passed) {
    m.status = "gate_failed";
    m.reason = gate.detail;
    return m;
  }

  // Warm-up, then iterations per repetition from the last warm call: enough to fill min_time_s.
  // The harness warms up itself because Google Benchmark refuses MinWarmUpTime together with
  // a fixed iteration count, and a fixed count is what lets the counters bracket exactly the
  // run Google Benchmark reports.
  double t_call = 0;
  for (auto w0 = Clock::now(); t_call == 0 || seconds_since(w0) < settings.warmup_s;) {
    auto t0 = Clock::now();
    kernel->forward(X.data(), Y.data(), point.tokens, nullptr);
    t_call = std::max(seconds_since(t0), 1e-9);
  }
  const int64_t iterations =
      std::clamp<int64_t>(static_cast<int64_t>(std::ceil(settings.min_time_s / t_call)), 1, 100'000'000);

  std::vector<MemoryRegion> flush = kernel->memory_regions();
  flush.push_back({X.data(), X.size() * sizeof(float)});
  flush.push_back({Y.data(), Y.size() * sizeof(float)});

  std::vector<RepRecord> records;
  auto body = [&](benchmark::State& state) {
    RepRecord rec;
    timer.reset();
    auto c0 = Clock::now();
    counters.start();
    double overhead = seconds_since(c0);
    for (auto _ : state) {
      if (settings.cold_cache) {
        state.PauseTiming();
        flush_regions(flush);
        state.ResumeTiming();
      }
      kernel->forward(X.data(), Y.data(), point.tokens, &timer);
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
    for (double s : timer.seconds()) rec.stage_s_per_call.push_back(s / n);
    for (auto& v : rec.counters) v.value /= n;
    records.push_back(std::move(rec));
  };

  benchmark::ClearRegisteredBenchmarks();
  benchmark::RegisterBenchmark("point", body)
      ->UseRealTime()
      ->Unit(benchmark::kSecond)
      ->Iterations(iterations)
      ->Repetitions(settings.repetitions);
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter, "^point($|/)");
  benchmark::ClearRegisteredBenchmarks();

  if (g_interrupted.load()) {
    m.status = "interrupted";
    m.reason = "interrupted by the user";
    return m;
  }
  // One body call per repetition (fixed iterations); keep the last ones should the engine ever
  // add calls of its own.
  const auto& runs = reporter.runs;
  if (runs.size() != static_cast<size_t>(settings.repetitions) || records.size() < runs.size()) {
    m.status = "error";
    m.reason = fmt::format("timing engine reported {} runs for {} repetitions", runs.size(),
                           settings.repetitions);
    return m;
  }
  const size_t first = records.size() - runs.size();
  for (size_t r = 0; r < runs.size(); ++r) {
    if (runs[r].error_occurred) {
      m.status = "error";
      m.reason = runs[r].error_message;
      return m;
    }
    RepRecord rec = std::move(records[first + r]);
    rec.time_per_call_s = runs[r].real_accumulated_time / static_cast<double>(runs[r].iterations);
    m.reps.push_back(std::move(rec));
  }
  m.extras = kernel->extras();
  return m;
}

}  // namespace ffnbench

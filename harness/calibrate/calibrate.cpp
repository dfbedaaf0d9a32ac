#include "calibrate/calibrate.hpp"
#include "machine/topology.hpp"

#include <omp.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "calibrate/kernels.hpp"
#include "calibrate/likwid_bench.hpp"
#include "core/params.hpp"

namespace ffnbench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSamples = 3;                 // timed samples per measurement; the best is kept
constexpr int64_t kFmaChunk = 2000;         // fma_peak iterations per repetition (~5 µs)
constexpr int64_t kTriadUnit = 3 * kBlockFloats * sizeof(float);  // per-thread sizes are multiples

std::string read_cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int read_int(const std::string& path, int fallback) {
  std::ifstream in(path);
  int v = fallback;
  in >> v;
  return in ? v : fallback;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

// Allowed CPUs with the first hardware thread of every core first, SMT siblings after.
std::vector<int> cpus_cores_first() {
  std::vector<int> first, rest;
  std::set<std::pair<int, int>> seen;  // (package, core)
  for (int cpu : allowed_cpus()) {
    const std::string topo = fmt::format("/sys/devices/system/cpu/cpu{}/topology/", cpu);
    const auto core = std::make_pair(read_int(topo + "physical_package_id", 0), read_int(topo + "core_id", cpu));
    (seen.insert(core).second ? first : rest).push_back(cpu);
  }
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

// Pins the calling thread to one CPU for its lifetime, then restores the previous mask.
class PinThread {
 public:
  explicit PinThread(int cpu) {
    CPU_ZERO(&saved_);
    saved_ok_ = pthread_getaffinity_np(pthread_self(), sizeof saved_, &saved_) == 0;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  }
  ~PinThread() {
    if (saved_ok_) pthread_setaffinity_np(pthread_self(), sizeof saved_, &saved_);
  }
  PinThread(const PinThread&) = delete;
  PinThread& operator=(const PinThread&) = delete;

 private:
  cpu_set_t saved_;
  bool saved_ok_ = false;
};

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

// One buffer per worker, allocated and first-touched by that worker on its pinned CPU.
std::vector<Buffer> allocate_per_worker(const std::vector<int>& cpus, int64_t bytes) {
  const int threads = static_cast<int>(cpus.size());
  std::vector<Buffer> buffers(threads);
  const size_t alloc = static_cast<size_t>((bytes + 4095) / 4096 * 4096);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    PinThread pin(cpus[t]);
    auto* p = static_cast<float*>(std::aligned_alloc(4096, alloc));
    if (p != nullptr)
      for (size_t i = 0; i < alloc / sizeof(float); ++i) p[i] = 1.0f + static_cast<float>(i & 15) * 1e-3f;
    buffers[t].reset(p);
  }
  for (const auto& b : buffers)
    if (!b) throw std::runtime_error(fmt::format("calibrate: cannot allocate {}", format_bytes(static_cast<double>(bytes))));
  return buffers;
}

// Runs body(thread, reps) on pinned workers, growing reps until one run takes about
// target_s / (kSamples + 1); returns the best seconds per repetition over kSamples runs.
template <class Body>
double best_seconds_per_rep(const std::vector<int>& cpus, double target_s, Body body) {
  const int threads = static_cast<int>(cpus.size());
  const double per_sample = std::max(target_s / (kSamples + 1), 1e-4);
  int64_t reps = 1;
  int samples = 0;
  bool done = false;
  double best = std::numeric_limits<double>::infinity();
  Clock::time_point t0;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(3 * target_s + 1));
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    PinThread pin(cpus[t]);
    body(t, 1);  // warm caches and TLBs
    for (;;) {
#pragma omp barrier
      if (done) break;
#pragma omp master
      t0 = Clock::now();
      body(t, reps);
#pragma omp barrier
#pragma omp master
      {
        const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
        if (dt >= 0.5 * per_sample) {
          best = std::min(best, dt / static_cast<double>(reps));
          done = ++samples >= kSamples;
        } else {
          reps = static_cast<int64_t>(static_cast<double>(reps) * std::clamp(1.2 * per_sample / std::max(dt, 1e-9), 2.0, 1000.0));
        }
        if (Clock::now() > deadline && std::isfinite(best)) done = true;  // a loaded machine: keep what we have
      }
    }
  }
  return best;
}

int64_t round_down(int64_t v, int64_t unit) { return std::max(unit, v / unit * unit); }

std::string fma_kernel_doc() {
  return fmt::format("fma_peak: {} independent packed FMA chains, registers only", kFmaAccumulators);
}

// Peak GFLOP/s of `isa` on the workers pinned to `cpus`.
double measure_peak(Isa isa, const std::vector<int>& cpus, double target_s) {
  const double flops_per_rep = fma_flops_per_iteration(isa) * kFmaChunk * static_cast<double>(cpus.size());
  const double s = best_seconds_per_rep(cpus, target_s, [&](int, int64_t reps) { fma_peak(isa, kFmaChunk * reps); });
  return flops_per_rep / s * 1e-9;
}

// GB/s of the load and the triad kernel over `bytes_per_thread` per worker (one buffer each,
// first-touched by its worker; triad splits it into three arrays).
std::pair<double, double> measure_bandwidth(Isa isa, const std::vector<int>& cpus, int64_t bytes_per_thread,
                                            double target_s, bool load, bool triad) {
  const auto buffers = allocate_per_worker(cpus, bytes_per_thread);
  const size_t floats = static_cast<size_t>(bytes_per_thread) / sizeof(float);
  const size_t third = floats / 3;
  const double threads = static_cast<double>(cpus.size());
  double load_gbs = 0, triad_gbs = 0;
  if (load) {
    const double s = best_seconds_per_rep(cpus, target_s, [&](int w, int64_t reps) {
      load_stream(isa, buffers[w].get(), floats, reps);
    });
    load_gbs = static_cast<double>(floats * sizeof(float)) * threads / s * 1e-9;
  }
  if (triad) {
    const double s = best_seconds_per_rep(cpus, target_s, [&](int w, int64_t reps) {
      float* base = buffers[w].get();
      triad_stream(isa, base, base + third, base + 2 * third, third, reps);
    });
    triad_gbs = static_cast<double>(3 * third * sizeof(float)) * threads / s * 1e-9;
  }
  return {load_gbs, triad_gbs};
}

Isa isa_named(const std::string& name) { return name == "avx512" ? Isa::Avx512 : Isa::Avx2; }

}  // namespace

int usable_cores() {
  std::set<std::pair<int, int>> cores;
  for (int cpu : allowed_cpus()) {
    const std::string topo = fmt::format("/sys/devices/system/cpu/cpu{}/topology/", cpu);
    cores.insert({read_int(topo + "physical_package_id", 0), read_int(topo + "core_id", cpu)});
  }
  return std::max<int>(1, static_cast<int>(cores.size()));
}

std::vector<int> pick_cpus(int threads) {
  const std::vector<int> cpus = cpus_cores_first();
  if (threads < 1 || threads > static_cast<int>(cpus.size()))
    throw ConfigError("threads", std::to_string(threads),
                      fmt::format("between 1 and {} (the CPUs this process may use; {} cores)", cpus.size(),
                                  usable_cores()));
  return {cpus.begin(), cpus.begin() + threads};
}

std::vector<LevelPlan> plan_levels(const std::vector<CacheInfo>& caches, int threads, int logical_cpus,
                                   int64_t dram_cap, std::vector<std::string>& notes) {
  std::vector<LevelPlan> plan;
  auto add = [&](const std::string& level, int64_t per_thread) {
    per_thread = round_down(per_thread, kTriadUnit);
    plan.push_back({level, per_thread * threads, per_thread});
  };
  auto share = [&](const CacheInfo& c) {
    const int instances = std::max(1, logical_cpus / std::max(1, c.shared_cpus));
    return c.size_bytes / ((threads + instances - 1) / instances);
  };
  const CacheInfo* l1 = data_cache(caches, 1);
  const CacheInfo* l2 = data_cache(caches, 2);
  const CacheInfo* l3 = data_cache(caches, 3);
  const CacheInfo* llc = last_level_cache(caches);
  const int64_t l1_bytes = l1 ? l1->size_bytes : 32 << 10;
  add("L1", l1_bytes / 2);
  if (l2) add("L2", (l1_bytes + share(*l2)) / 2);
  if (l2 && l3) {
    const int64_t l2_share = share(*l2);
    const int64_t per_thread = std::min(share(*l3) / 2, 8 * l2_share);
    if (per_thread >= 2 * l2_share) add("L3", per_thread);
    else notes.push_back(fmt::format("L3 skipped at {} threads: its share per thread ({}) is not twice the L2",
                                     threads, format_bytes(static_cast<double>(share(*l3)))));
  }
  const int64_t llc_bytes = llc ? llc->size_bytes : 0;
  const int64_t want = std::max<int64_t>(4 * llc_bytes, 256ll << 20);
  const int64_t total = std::min(want, dram_cap);
  if (total < 4 * llc_bytes) {
    const std::string note = fmt::format(
        "DRAM working set capped at {}, below 4 × LLC ({}): the reported LLC ({}) may be a VM artefact; "
        "if it is real, the DRAM figures include LLC hits",
        format_bytes(static_cast<double>(total)), format_bytes(4.0 * llc_bytes), format_bytes(static_cast<double>(llc_bytes)));
    if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
  }
  add("DRAM", total / threads);
  return plan;
}

std::optional<double> Ceilings::peak_gflops(int threads) const {
  std::optional<double> best;
  for (const auto& p : peak_flops)
    if (p.threads == threads && (!best || p.gflops > *best)) best = p.gflops;
  return best;
}

std::optional<double> Ceilings::bandwidth_gbs(const std::string& level, int threads, const std::string& kernel) const {
  for (const auto& b : bandwidth)
    if (b.level == level && b.threads == threads && b.kernel == kernel) return b.gbs;
  return std::nullopt;
}

namespace {

// Compares every ceiling with likwid-bench on the same working set and thread count. The cores
// may be shared with other work, so one disturbed run says nothing: a pair outside 15% is
// measured again, ours right before likwid-bench's so both see the same machine, up to
// kCrossCheckRounds times; the last pair compared is recorded, and a ceiling is raised when the
// new measurement beats it (a ceiling is a maximum).
constexpr int kCrossCheckRounds = 5;

void cross_check(Ceilings& c, double target_s, const std::function<void(const std::string&)>& progress) {
  auto check = [&](std::string what, const std::string& unit, double& ours, const std::function<double()>& again,
                   const std::string& test, int64_t bytes, int threads, int64_t iterations, bool flops) {
    CrossCheck x;
    x.what = std::move(what);
    x.unit = unit;
    x.command = likwid_bench_command(test, bytes, threads, iterations);
    try {
      double now = ours;
      for (int round = 0; round < kCrossCheckRounds && !x.ok; ++round) {
        if (round > 0) {
          now = again();
          ours = std::max(ours, now);
        }
        const LikwidBenchResult r = run_likwid_bench(test, bytes, threads, iterations);
        x.ours = now;
        x.likwid_bench = (flops ? r.mflops_per_s : r.mbytes_per_s) * 1e-3;
        x.ratio = x.likwid_bench > 0 ? now / x.likwid_bench : 0;
        x.ok = std::abs(x.ratio - 1) <= 0.15;
      }
    } catch (const std::exception& e) {
      x.error = e.what();
    }
    progress(fmt::format("crosscheck {:<28} ours {:8.1f} likwid-bench {:8.1f} {} ratio {:.3f}{}", x.what, x.ours,
                         x.likwid_bench, unit, x.ratio, x.error.empty() ? (x.ok ? "" : "  OUTSIDE 15%") : "  " + x.error));
    c.crosscheck.push_back(std::move(x));
  };
  for (auto& p : c.peak_flops) {
    const std::vector<int> cpus = pick_cpus(p.threads);
    check(fmt::format("peak {}, {} thread{}", p.isa, p.threads, p.threads > 1 ? "s" : ""), "GFLOP/s", p.gflops,
          [&] { return measure_peak(isa_named(p.isa), cpus, target_s); },
          p.isa == "avx512" ? "peakflops_sp_avx512_fma" : "peakflops_sp_avx_fma", 32000ll * p.threads, p.threads,
          200000, true);  // 32 kB per thread (L1-resident); 200000 passes take about 0.2 s
  }
  for (auto& b : c.bandwidth) {
    const std::vector<int> cpus = pick_cpus(b.threads);
    const bool wide = b.isa == "avx512", load = b.kernel == "load";
    // The FMA forms of likwid-bench's triad ("stream"), as ours uses an FMA.
    const std::string test = load ? (wide ? "load_avx512" : "load_avx") : (wide ? "stream_avx512_fma" : "stream_avx_fma");
    // About 0.2 s at our rate (likwid-bench otherwise takes a second per run).
    const int64_t iterations = std::max<int64_t>(10, static_cast<int64_t>(0.2 * b.gbs * 1e9 / b.bytes));
    check(fmt::format("{} {} {}, {} thread{}", b.level, b.kernel, b.isa, b.threads, b.threads > 1 ? "s" : ""), "GB/s",
          b.gbs,
          [&] {
            const auto [l, t] = measure_bandwidth(isa_named(b.isa), cpus, b.bytes_per_thread, target_s, load, !load);
            return load ? l : t;
          },
          test, b.bytes, b.threads, iterations, false);
  }
}

}  // namespace

Ceilings run_calibration(const CalibrateOptions& options, const std::function<void(const std::string&)>& progress) {
  Ceilings c;
  c.cpu = read_cpu_model();
  c.created = utc_now();
  c.budget_s = options.budget_s;
  c.caches = read_cpu_caches();
  if (c.caches.empty()) {  // a guest without sysfs cache folders: what CPUID says (machine/topology)
    for (const auto& k : cpu_info().caches)
      c.caches.push_back({k.level, k.type, k.size_bytes, k.ways, k.line_bytes, std::max(1, k.shared_by_cpus)});
    if (!c.caches.empty()) c.notes.push_back("cache sizes from CPUID: this system's sysfs has no cache folders");
  }
  const std::vector<Isa> isas = supported_isas();
  if (isas.empty()) throw std::runtime_error("calibrate: this CPU has neither AVX2+FMA nor AVX-512");
  const Isa wide = widest_isa();

  std::vector<int> threads = options.threads.empty() ? std::vector<int>{1, usable_cores()} : options.threads;
  std::sort(threads.begin(), threads.end());
  threads.erase(std::unique(threads.begin(), threads.end()), threads.end());
  std::map<int, std::vector<LevelPlan>> plans;
  size_t measurements = 0;
  for (int t : threads) {
    pick_cpus(t);  // validates the count before anything runs
    plans[t] = plan_levels(c.caches, t, static_cast<int>(allowed_cpus().size()), options.dram_cap_bytes, c.notes);
    measurements += isas.size() + 2 * plans[t].size();
  }
  const double target = options.budget_s / static_cast<double>(measurements);

  for (int t : threads) {
    const std::vector<int> cpus = pick_cpus(t);
    for (Isa isa : isas) {
      c.peak_flops.push_back({to_string(isa), t, measure_peak(isa, cpus, target), fma_kernel_doc()});
      progress(fmt::format("peak {:<6} {} thread(s): {:8.1f} GFLOP/s", to_string(isa), t, c.peak_flops.back().gflops));
    }
    for (const LevelPlan& level : plans[t]) {
      const auto [load, triad] = measure_bandwidth(wide, cpus, level.bytes_per_thread, target, true, true);
      for (const auto& [kernel, gbs] : {std::pair{"load", load}, std::pair{"triad", triad}}) {
        c.bandwidth.push_back({level.level, kernel, to_string(wide), t, level.bytes, level.bytes_per_thread, gbs});
        progress(fmt::format("{:<4} {:<5} {} thread(s), {:>10}: {:8.1f} GB/s", level.level, kernel, t,
                             format_bytes(static_cast<double>(level.bytes)), gbs));
      }
    }
  }
  if (options.crosscheck) {
    if (likwid_bench_available()) cross_check(c, target, progress);
    else c.notes.push_back("crosscheck asked for, but likwid-bench is not installed (Debian package likwid)");
  }
  return c;
}

nlohmann::json to_json(const Ceilings& c) {
  using nlohmann::json;
  json j;
  j["schema"] = "ffnbench.ceilings/1";
  j["cpu"] = c.cpu;
  j["created"] = c.created;
  j["budget_s"] = c.budget_s;
  j["caches"] = json::array();
  for (const auto& k : c.caches)
    j["caches"].push_back({{"level", k.level}, {"type", k.type}, {"bytes", k.size_bytes}, {"assoc", k.assoc},
                           {"line", k.line_bytes}, {"shared_cpus", k.shared_cpus}});
  j["peak_flops"] = json::array();
  for (const auto& p : c.peak_flops)
    j["peak_flops"].push_back({{"isa", p.isa}, {"threads", p.threads}, {"gflops", p.gflops}, {"kernel", p.kernel}});
  j["bandwidth"] = json::array();
  for (const auto& b : c.bandwidth)
    j["bandwidth"].push_back({{"level", b.level}, {"kernel", b.kernel}, {"isa", b.isa}, {"threads", b.threads},
                              {"bytes", b.bytes}, {"bytes_per_thread", b.bytes_per_thread}, {"gbs", b.gbs}});
  j["crosscheck"] = json::array();
  for (const auto& x : c.crosscheck) {
    json e = {{"what", x.what}, {"ours", x.ours}, {"likwid_bench", x.likwid_bench}, {"unit", x.unit},
              {"ratio", x.ratio}, {"ok", x.ok}, {"command", x.command}};
    if (!x.error.empty()) e["error"] = x.error;
    j["crosscheck"].push_back(e);
  }
  j["notes"] = c.notes;
  return j;
}

Ceilings ceilings_from_json(const nlohmann::json& j) {
  if (!j.is_object() || j.value("schema", "") != "ffnbench.ceilings/1")
    throw std::runtime_error("not an ffnbench ceilings file (schema ffnbench.ceilings/1)");
  try {
    Ceilings c;
    c.cpu = j.value("cpu", "");
    c.created = j.value("created", "");
    c.budget_s = j.value("budget_s", 0.0);
    for (const auto& k : j.at("caches"))
      c.caches.push_back({k.at("level").get<int>(), k.at("type").get<std::string>(), k.at("bytes").get<int64_t>(),
                          k.at("assoc").get<int>(), k.at("line").get<int>(), k.at("shared_cpus").get<int>()});
    for (const auto& p : j.at("peak_flops"))
      c.peak_flops.push_back({p.at("isa").get<std::string>(), p.at("threads").get<int>(), p.at("gflops").get<double>(),
                              p.value("kernel", "")});
    for (const auto& b : j.at("bandwidth"))
      c.bandwidth.push_back({b.at("level").get<std::string>(), b.at("kernel").get<std::string>(),
                             b.value("isa", ""), b.at("threads").get<int>(), b.at("bytes").get<int64_t>(),
                             b.value("bytes_per_thread", int64_t{0}), b.at("gbs").get<double>()});
    for (const auto& x : j.value("crosscheck", nlohmann::json::array())) {
      CrossCheck e;
      e.what = x.value("what", "");
      e.unit = x.value("unit", "");
      e.command = x.value("command", "");
      e.ours = x.value("ours", 0.0);
      e.likwid_bench = x.value("likwid_bench", 0.0);
      e.ratio = x.value("ratio", 0.0);
      e.ok = x.value("ok", false);
      e.error = x.value("error", "");
      c.crosscheck.push_back(e);
    }
    c.notes = j.value("notes", std::vector<std::string>{});
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("malformed ceilings file: ") + e.what());
  }
}

}  // namespace ffnbench

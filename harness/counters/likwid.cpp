// The `likwid` backend: likwid 5.2's perfmon library on the CPUs the point's OpenMP workers are
// pinned to, with likwid's performance groups and their metric formulas.
//
// Event names it takes (the experiment's `events`):
//   - a group of this CPU (`likwid-perfctr -a`): FLOPS_SP, FLOPS_AVX, L3, L3CACHE, MEM, ...
//   - likwid event strings EVENT:COUNTER (e.g. FP_ARITH_INST_RETIRED_512B_PACKED_SINGLE:PMC0),
//     all gathered into one custom event set;
//   - the backend-neutral aliases flops (FLOPS_SP), llc (L3CACHE, else L3), mem (MEM, else MEM1).
// likwid does not multiplex: with several event sets, repetition r measures set r mod n (each
// value is a whole-repetition count, running = enabled, never scaled).
//
// read() returns the raw events summed over the measured CPUs (name EVENT:COUNTER) and the
// group's metrics (name "metric:<GROUP>:<metric name>"). Metrics are rates or ratios over the
// interval, not per-call counts: rates ([MFLOP/s], [MBytes/s]) and volumes are summed over CPUs,
// everything else (CPI, ratios, clock) is averaged. derived.hpp's is_interval_metric() tells
// them apart.
//
// likwid counts per CPU, in direct mode (/dev/cpu/N/msr, root) or through likwid-accessD; it
// counts everything that runs on those CPUs. Without MSR access (VMs) probe() says so in one
// line and auto-detection moves on to papi.
#include <likwid.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <mutex>
#include <stdexcept>

#include "core/params.hpp"
#include "counters/backend.hpp"
#include "counters/factory.hpp"

namespace ffnbench {
namespace {

// likwid reports access problems as ERROR lines on stderr (some notes on stdout); capture what
// it writes to `fd` while f runs, to build one reason.
template <class F>
std::string capture_output(int fd, F f) {
  std::FILE* stream = fd == 1 ? stdout : stderr;
  std::fflush(stream);
  std::FILE* tmp = std::tmpfile();
  const int saved = dup(fd);
  if (tmp == nullptr || saved < 0) {
    f();
    return {};
  }
  dup2(fileno(tmp), fd);
  f();
  std::fflush(stream);
  dup2(saved, fd);
  close(saved);
  std::string text;
  std::rewind(tmp);
  char buf[512];
  while (std::fgets(buf, sizeof buf, tmp) != nullptr) text += buf;
  std::fclose(tmp);
  return text;
}

template <class F>
std::string capture_stderr(F f) {
  return capture_output(2, f);
}

// The most telling line of likwid's error output ("Cannot access MSR device file ...").
std::string first_cause(const std::string& text) {
  size_t pos = 0;
  std::string fallback;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("ERROR - [", 0) == 0) {
      const size_t close = line.find("] ");
      if (fallback.empty() && close != std::string::npos) fallback = line.substr(close + 2);
      continue;
    }
    if (!line.empty()) return line;
  }
  return fallback;
}

std::once_flag topology_once;
int topology_status = -1;

int ensure_topology() {
  std::call_once(topology_once, [] {
    topology_status = topology_init();
    if (topology_status == 0) init_configuration();
  });
  return topology_status;
}

std::string cpu_short_name() {
  CpuInfo_t info = get_cpuInfo();
  return info != nullptr && info->short_name != nullptr ? info->short_name : "unknown";
}

// Groups likwid knows for this CPU (none for a CPU newer than likwid, which then prints a note
// about a missing perfgroups folder on stdout: our reason line says it instead).
std::vector<std::string> available_groups() {
  char **names = nullptr, **shorts = nullptr, **longs = nullptr;
  int n = 0;
  capture_output(1, [&] { capture_stderr([&] { n = perfmon_getGroups(&names, &shorts, &longs); }); });
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.emplace_back(names[i]);
  if (n > 0) perfmon_returnGroups(n, names, shorts, longs);
  std::sort(out.begin(), out.end());
  return out;
}

// Checks that likwid can program the counters of `cpu`: "" when it can, else one line.
// In direct and access-daemon mode both need the msr device; when it is missing we say so
// without calling likwid (whose daemon mode forks a helper process just to fail).
std::string msr_access_problem(int cpu) {
  Configuration_t config = get_configuration();
  const int mode = config != nullptr ? config->daemonMode : ACCESSMODE_DIRECT;
  const char* mode_name = mode == ACCESSMODE_DAEMON ? "access-daemon mode" : "direct mode";
  if (mode != ACCESSMODE_PERF) {
    const std::string msr = fmt::format("/dev/cpu/{}/msr", cpu);
    const std::string msr_safe = msr + "_safe";
    if (access(msr.c_str(), F_OK) != 0 && access(msr_safe.c_str(), F_OK) != 0)
      return fmt::format("cannot access MSRs: {}: {} ({}); load the msr module (modprobe msr) and "
                         "run as root or through likwid-accessD", msr, std::strerror(errno), mode_name);
    if (mode == ACCESSMODE_DIRECT && access(msr.c_str(), R_OK | W_OK) != 0 &&
        access(msr_safe.c_str(), R_OK | W_OK) != 0)
      return fmt::format("cannot access MSRs: {}: {} ({}); run as root or through likwid-accessD",
                         msr, std::strerror(errno), mode_name);
  }
  // The device is there: let likwid try for real (flush first: the daemon is forked).
  std::fflush(stdout);
  int rc = 0;
  const std::string said = capture_stderr([&] {
    rc = perfmon_init(1, &cpu);
    if (rc == 0) perfmon_finalize();
  });
  if (rc == 0) return {};
  std::string cause = first_cause(said);
  while (!cause.empty() && (cause.back() == '.' || cause.back() == ' ')) cause.pop_back();
  return fmt::format("cannot access MSRs: {} ({})", cause.empty() ? "perfmon_init failed" : cause, mode_name);
}

int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) return c;
  return 0;
}

// The CPU each of the point's workers is pinned to (sched_getcpu where a worker is not pinned
// to exactly one CPU: likwid then measures wherever it ran at configure time).
std::vector<int> worker_cpus(int threads, bool& all_pinned) {
  std::vector<int> cpus(threads, -1);
  std::vector<char> pinned(threads, 0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (pthread_getaffinity_np(pthread_self(), sizeof set, &set) == 0 && CPU_COUNT(&set) == 1) {
      for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus[t] = c;
      pinned[t] = 1;
    } else {
      cpus[t] = sched_getcpu();
    }
  }
  all_pinned = std::all_of(pinned.begin(), pinned.end(), [](char p) { return p != 0; });
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

bool is_summed_metric(const std::string& metric_name) {
  for (const char* unit : {"/s]", "[GBytes]", "[MBytes]", "[GB]", "[MB]", "[J]"})
    if (metric_name.find(unit) != std::string::npos) return true;
  return false;
}

class LikwidBackend final : public CounterBackend {
 public:
  ~LikwidBackend() override { finalize(); }

  std::string name() const override { return "likwid"; }

  BackendStatus probe() override {
    if (ensure_topology() != 0) return {false, "likwid cannot read the CPU topology (topology_init failed)"};
    if (available_groups().empty())
      return {false, fmt::format("likwid has no performance groups for this CPU ({})", cpu_short_name())};
    const std::string problem = msr_access_problem(first_allowed_cpu());
    if (!problem.empty()) return {false, problem};
    return {true, fmt::format("likwid groups for {}", cpu_short_name())};
  }

  void configure(const std::vector<std::string>& events, int threads) override {
    if (ensure_topology() != 0) throw std::runtime_error("likwid: topology_init failed");
    finalize();
    sets_ = event_sets(events);  // ConfigError for unknown groups, before touching counters
    if (sets_.empty()) return;   // nothing asked for: counts nothing

    bool all_pinned = false;
    cpus_ = worker_cpus(std::max(1, threads), all_pinned);
    const std::string problem = msr_access_problem(cpus_.front());
    if (!problem.empty()) throw std::runtime_error("likwid: " + problem);
    if (!all_pinned)
      std::fprintf(stderr, "likwid: the point's threads are not pinned one per CPU; counting CPUs %s\n",
                   fmt::format("{}", fmt::join(cpus_, ",")).c_str());

    int rc = 0;
    std::fflush(stdout);
    std::string said = capture_stderr([&] { rc = perfmon_init(static_cast<int>(cpus_.size()), cpus_.data()); });
    if (rc != 0) throw std::runtime_error("likwid: perfmon_init failed: " + first_cause(said));
    initialized_ = true;
    for (auto& set : sets_) {
      said = capture_stderr([&] { set.group_id = perfmon_addEventSet(set.spec.c_str()); });
      if (set.group_id < 0)
        throw ConfigError("events", set.label,
                          fmt::format("a likwid group or EVENT:COUNTER list this CPU ({}) has: {}",
                                      cpu_short_name(), first_cause(said)));
    }
    active_ = 0;
    setup(sets_[0]);
  }

  void start() override {
    if (!initialized_) return;
    if (measured_ && sets_.size() > 1) {  // next repetition measures the next set
      active_ = (active_ + 1) % sets_.size();
      setup(sets_[active_]);
    }
    t0_ = std::chrono::steady_clock::now();
    if (perfmon_startCounters() != 0) throw std::runtime_error("likwid: perfmon_startCounters failed");
  }

  void stop() override {
    if (!initialized_) return;
    if (perfmon_stopCounters() != 0) throw std::runtime_error("likwid: perfmon_stopCounters failed");
    enabled_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    measured_ = true;
  }

  std::vector<CounterValue> read() override {
    std::vector<CounterValue> out;
    if (!initialized_ || !measured_) return out;
    const int gid = sets_[active_].group_id;
    const int threads = perfmon_getNumberOfThreads();
    auto value = [&](std::string event, double v) {
      CounterValue c;
      c.event = std::move(event);
      c.value = v;
      c.source = Source::Hw;
      c.enabled_s = c.running_s = enabled_s_;
      out.push_back(std::move(c));
    };
    for (int e = 0; e < perfmon_getNumberOfEvents(gid); ++e) {
      double sum = 0;
      for (int t = 0; t < threads; ++t) sum += perfmon_getLastResult(gid, e, t);
      value(fmt::format("{}:{}", perfmon_getEventName(gid, e), perfmon_getCounterName(gid, e)), sum);
    }
    for (int m = 0; m < perfmon_getNumberOfMetrics(gid); ++m) {
      const std::string metric = perfmon_getMetricName(gid, m);
      double sum = 0;
      for (int t = 0; t < threads; ++t) sum += perfmon_getLastMetric(gid, m, t);
      value(fmt::format("metric:{}:{}", sets_[active_].label, metric),
            is_summed_metric(metric) || threads == 0 ? sum : sum / threads);
    }
    return out;
  }

 private:
  struct EventSet {
    std::string label;  // group name, or "custom" for EVENT:COUNTER strings
    std::string spec;   // what perfmon_addEventSet receives
    int group_id = -1;
  };

  // Resolves the event names into likwid event sets; unknown names are ConfigErrors.
  static std::vector<EventSet> event_sets(const std::vector<std::string>& events) {
    const std::vector<std::string> groups = available_groups();
    auto has = [&](const std::string& g) { return std::find(groups.begin(), groups.end(), g) != groups.end(); };
    const std::string allowed = fmt::format(
        "a likwid group of this CPU ({}: {}), an EVENT:COUNTER string, or flops, llc, mem",
        cpu_short_name(), fmt::join(groups, ", "));
    std::vector<EventSet> sets;
    std::vector<std::string> custom;
    auto add_group = [&](const std::string& g) {
      if (std::none_of(sets.begin(), sets.end(), [&](const EventSet& s) { return s.label == g; }))
        sets.push_back({g, g});
    };
    for (const auto& name : events) {
      if (name.find(':') != std::string::npos) {
        custom.push_back(name);
      } else if (has(name)) {
        add_group(name);
      } else if (name == "flops" || name == "llc" || name == "mem") {
        const std::vector<std::string> candidates =
            name == "flops" ? std::vector<std::string>{"FLOPS_SP"}
            : name == "llc" ? std::vector<std::string>{"L3CACHE", "L3"}
                            : std::vector<std::string>{"MEM", "MEM1"};
        auto it = std::find_if(candidates.begin(), candidates.end(), has);
        if (it == candidates.end())
          throw ConfigError("events", name,
                            fmt::format("likwid has no {} group for this CPU ({}); groups: {}",
                                        fmt::join(candidates, " or "), cpu_short_name(), fmt::join(groups, ", ")));
        add_group(*it);
      } else {
        throw ConfigError("events", name, allowed);
      }
    }
    if (!custom.empty()) sets.push_back({"custom", fmt::format("{}", fmt::join(custom, ","))});
    return sets;
  }

  void setup(const EventSet& set) {
    if (perfmon_setupCounters(set.group_id) != 0)
      throw std::runtime_error(fmt::format("likwid: perfmon_setupCounters({}) failed", set.label));
  }

  void finalize() {
    if (initialized_) perfmon_finalize();
    initialized_ = false;
    measured_ = false;
  }

  std::vector<EventSet> sets_;
  std::vector<int> cpus_;
  size_t active_ = 0;
  bool initialized_ = false, measured_ = false;
  std::chrono::steady_clock::time_point t0_;
  double enabled_s_ = 0;
};

const CounterBackendRegistrar registrar{"likwid", 10, [] { return std::make_unique<LikwidBackend>(); }};

}  // namespace
}  // namespace ffnbench

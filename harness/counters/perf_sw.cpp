// The `perf` backend: the kernel's software events (perf_event_open, PERF_TYPE_SOFTWARE) in every
// OpenMP worker of the point, summed, with no library in between. PAPI reaches the same events
// through libpfm4, which must know the CPU: one older than the CPU (Debian 12's on Emerald
// Rapids) makes PAPI switch its whole CPU component off. These still count there, in VMs too.
// Event names are PAPI's perf:: names, so experiment files need no change.
//
// Each worker opens its own counters (pid 0: the calling thread, no inheritance) inside one
// `omp parallel` region; libgomp keeps a stable pool, so they are the threads that run the
// kernel. Start, stop and read are ioctl/read calls on the file descriptors from the benchmark
// thread: no parallel region around the timed loop.
#include <linux/perf_event.h>
#include <omp.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <stdexcept>

#include "core/params.hpp"
#include "counters/backend.hpp"
#include "counters/factory.hpp"

namespace ffnbench {
namespace {

const std::map<std::string, uint64_t>& software_events() {
  static const std::map<std::string, uint64_t> events = {
      {"perf::TASK-CLOCK", PERF_COUNT_SW_TASK_CLOCK},
      {"perf::CPU-CLOCK", PERF_COUNT_SW_CPU_CLOCK},
      {"perf::PAGE-FAULTS", PERF_COUNT_SW_PAGE_FAULTS},
      {"perf::MINOR-FAULTS", PERF_COUNT_SW_PAGE_FAULTS_MIN},
      {"perf::MAJOR-FAULTS", PERF_COUNT_SW_PAGE_FAULTS_MAJ},
      {"perf::CONTEXT-SWITCHES", PERF_COUNT_SW_CONTEXT_SWITCHES},
      {"perf::CPU-MIGRATIONS", PERF_COUNT_SW_CPU_MIGRATIONS},
  };
  return events;
}

std::string allowed_events() {
  std::string names;
  for (const auto& [name, config] : software_events()) names += (names.empty() ? "" : ", ") + name;
  return "a software event (" + names + ")";
}

// A disabled counter of `config` for the calling thread: the fd, or -errno.
int open_counter(uint64_t config) {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = config;
  attr.disabled = 1;
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  const long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
  return fd >= 0 ? static_cast<int>(fd) : -errno;
}

class PerfSoftwareBackend final : public CounterBackend {
 public:
  ~PerfSoftwareBackend() override { close_all(); }

  std::string name() const override { return "perf"; }

  BackendStatus probe() override {
    const int fd = open_counter(PERF_COUNT_SW_TASK_CLOCK);
    if (fd < 0)
      return {false, fmt::format("perf_event_open: {} (check /proc/sys/kernel/perf_event_paranoid)",
                                 std::strerror(-fd))};
    close(fd);
    return {true, "kernel software events through perf_event_open; no hardware events"};
  }

  void configure(const std::vector<std::string>& events, int threads) override {
    close_all();
    names_.clear();
    unavailable_.clear();
    std::vector<uint64_t> configs;
    for (const auto& name : events) {
      auto it = software_events().find(name);
      if (it != software_events().end()) {
        names_.push_back(name);
        configs.push_back(it->second);
      } else if (name == "flops" || name == "llc" || name == "mem" || is_hardware_perf_name(name)) {
        unavailable_.emplace_back(name, "the perf backend counts the kernel's software events only");
      } else {
        throw ConfigError("events", name, allowed_events());
      }
    }
    if (names_.empty()) return;
    const int team = std::max(1, threads);
    fds_.assign(static_cast<size_t>(team) * names_.size(), -1);
#pragma omp parallel num_threads(team)
    {
      const size_t row = static_cast<size_t>(omp_get_thread_num()) * names_.size();
      for (size_t e = 0; e < names_.size(); ++e) fds_[row + e] = open_counter(configs[e]);
    }
    for (int fd : fds_)
      if (fd < 0) {
        const int err = -fd;
        close_all();
        throw std::runtime_error(fmt::format("perf: perf_event_open failed in a worker: {}", std::strerror(err)));
      }
  }

  void start() override {
    for (int fd : fds_) ioctl(fd, PERF_EVENT_IOC_RESET, 0);
    for (int fd : fds_) ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
  }

  void stop() override {
    for (int fd : fds_) ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
  }

  std::vector<CounterValue> read() override {
    std::vector<CounterValue> out;
    for (size_t e = 0; e < names_.size(); ++e) {
      CounterValue v;
      v.event = names_[e];
      v.source = Source::Sw;
      for (size_t i = e; i < fds_.size(); i += names_.size()) {
        uint64_t data[3] = {};  // value, time enabled, time running (ns)
        if (::read(fds_[i], data, sizeof data) != static_cast<ssize_t>(sizeof data))
          throw std::runtime_error("perf: reading a counter failed");
        v.value += static_cast<double>(data[0]);
        v.enabled_s = std::max(v.enabled_s, data[1] * 1e-9);  // the workers' intervals overlap
        v.running_s = std::max(v.running_s, data[2] * 1e-9);
      }
      out.push_back(v);
    }
    return out;
  }

  std::vector<std::pair<std::string, std::string>> unavailable() const override { return unavailable_; }

 private:
  static bool is_hardware_perf_name(const std::string& name) {
    return name == "perf::INSTRUCTIONS" || name == "perf::CYCLES" || name == "perf::CACHE-MISSES" ||
           name == "perf::CACHE-REFERENCES" || name == "perf::BRANCH-MISSES";
  }

  void close_all() {
    for (int fd : fds_)
      if (fd >= 0) close(fd);
    fds_.clear();
  }

  std::vector<std::string> names_;
  std::vector<int> fds_;  // [thread][event]
  std::vector<std::pair<std::string, std::string>> unavailable_;
};

const CounterBackendRegistrar registrar{"perf", 30, [] { return std::make_unique<PerfSoftwareBackend>(); }};

}  // namespace
}  // namespace ffnbench

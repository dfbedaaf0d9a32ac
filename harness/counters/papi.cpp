// The `papi` backend: PAPI 7 event sets created, started and stopped inside every OpenMP worker
// of the point (each thread counts itself), summed over threads.
//
// Why per-thread sets: PAPI's perf_event component opens counters for the calling thread only
// (no inheritance), so the kernel's OpenMP workers must each own a set. libgomp keeps a stable
// pool, so team member i of `omp parallel num_threads(T)` is the same OS thread in configure,
// start, stop and inside the kernel (OpenBLAS's OpenMP build shares the pool); start() checks it.
//
// Events of a component other than the CPU one (e.g. perf_event_uncore: memory-controller
// traffic) are socket-wide, so they are counted once, on the benchmark thread, not summed.
//
// Multiplexing: when the hardware events do not fit the counters together (PAPI_add_event
// returns PAPI_ECNFLCT), the sets are rebuilt as kernel-multiplexed sets and values are marked
// multiplexed. PAPI scales such values itself but does not expose perf's time_running, so
// running_s is the round-robin share enabled_s · fit / hw_events, where `fit` is how many of the
// hardware events could be added together before the conflict.
#include <omp.h>
#include <papi.h>
#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <stdexcept>

#include "core/params.hpp"
#include "counters/backend.hpp"
#include "counters/factory.hpp"

namespace ffnbench {
namespace {

constexpr const char* kNoPmuReason =
    "no PMU: hardware presets unavailable (papi_avail lists none); software events only";

constexpr const char* kEventsAllowed =
    "a PAPI preset (papi_avail, e.g. PAPI_SP_OPS) or native event (papi_native_avail, e.g. "
    "perf::TASK-CLOCK) known on this machine";

unsigned long papi_thread_id() { return static_cast<unsigned long>(pthread_self()); }

// PAPI_library_init and PAPI_thread_init once per process; the result (or why it failed) is kept.
const std::string& papi_init_error() {
  static const std::string error = [] {
    int rc = PAPI_library_init(PAPI_VER_CURRENT);
    if (rc != PAPI_VER_CURRENT)
      return fmt::format("PAPI_library_init failed: {}", rc > 0 ? "version mismatch" : PAPI_strerror(rc));
    if ((rc = PAPI_thread_init(papi_thread_id)) != PAPI_OK)
      return fmt::format("PAPI_thread_init failed: {}", PAPI_strerror(rc));
    if ((rc = PAPI_multiplex_init()) != PAPI_OK)
      return fmt::format("PAPI_multiplex_init failed: {}", PAPI_strerror(rc));
    return std::string();
  }();
  return error;
}

void require_papi() {
  if (!papi_init_error().empty()) throw std::runtime_error("papi: " + papi_init_error());
}

int available_preset_count() {
  int code = 0 | PAPI_PRESET_MASK, n = 0;
  if (PAPI_enum_event(&code, PAPI_ENUM_FIRST) != PAPI_OK) return 0;
  do {
    if (PAPI_query_event(code) == PAPI_OK) ++n;
  } while (PAPI_enum_event(&code, PAPI_PRESET_ENUM_AVAIL) == PAPI_OK);
  return n;
}

// Software events are perf's PERF_COUNT_SW_* (task clock, faults, switches): they count without a
// PMU and are labelled `sw`.
bool is_software_event(int code) {
  PAPI_event_info_t info;
  if (PAPI_get_event_info(code, &info) != PAPI_OK) return false;
  return std::strstr(info.long_descr, "PERF_COUNT_SW_") != nullptr;
}

bool is_cpu_component(int cidx) {
  const PAPI_component_info_t* info = PAPI_get_component_info(cidx);
  return info != nullptr && std::strcmp(info->name, "perf_event") == 0;
}

// Why PAPI's CPU component (which also serves perf's software events) is switched off, or "" when
// it is on. E.g. a libpfm4 older than the CPU finds "no default PMU" and PAPI disables the whole
// component, software events included.
std::string cpu_component_disabled_reason() {
  for (int cidx = 0; cidx < PAPI_num_components(); ++cidx) {
    const PAPI_component_info_t* info = PAPI_get_component_info(cidx);
    if (info == nullptr || std::strcmp(info->name, "perf_event") != 0) continue;
    if (!info->disabled) return {};
    return fmt::format("PAPI's perf_event component is disabled: {} (papi_component_avail)",
                       info->disabled_reason);
  }
  return "PAPI was built without its perf_event component";
}

// Tries one event alone on a scratch set of the calling thread: PAPI_OK or PAPI's error code.
int try_add_alone(int code) {
  int set = PAPI_NULL;
  int rc = PAPI_create_eventset(&set);
  if (rc != PAPI_OK) return rc;
  rc = PAPI_add_event(set, code);
  if (rc == PAPI_OK) {
    // Some events add but fail at start (e.g. perf refuses the attribute): test that too.
    if ((rc = PAPI_start(set)) == PAPI_OK) {
      long long v = 0;
      PAPI_stop(set, &v);
    }
  }
  PAPI_cleanup_eventset(set);
  PAPI_destroy_eventset(&set);
  return rc;
}

std::string unavailable_reason(const std::string& name, int code, int rc) {
  if (IS_PRESET(code))
    return fmt::format("PAPI preset {} is not available here: {} ({})", name, PAPI_strerror(rc),
                       available_preset_count() == 0 ? kNoPmuReason : "papi_avail lists it as No");
  return fmt::format("PAPI cannot count {} here: {}{}", name, PAPI_strerror(rc),
                     rc == PAPI_ENOEVNT ? " (the PMU does not expose it)" : "");
}

// The backend-neutral aliases every backend takes: flops (FP32 FLOPs, vector widths weighted,
// FMA = 2) and llc (last-level cache accesses and misses); mem is reported unavailable.
std::vector<std::string> expand_aliases(const std::vector<std::string>& events) {
  std::vector<std::string> out;
  for (const auto& name : events) {
    if (name == "flops") out.push_back("PAPI_SP_OPS");
    else if (name == "llc") out.insert(out.end(), {"PAPI_L3_TCA", "PAPI_L3_TCM"});
    else out.push_back(name);
  }
  return out;
}

// Our own error codes next to PAPI's (which are negative).
constexpr int kPoolChanged = 1;   // a worker is not the thread that created its set
constexpr int kPoolTooSmall = 2;  // the parallel region got fewer threads than asked for

// One event the backend counts, in the order of read().
struct Event {
  std::string name;
  int code = 0;
  int cidx = 0;
  Source source = Source::Hw;
  bool per_thread = true;  // CPU component: one count per thread, summed
};

// One event set owned by one thread, with the events (indices into events_) it counts.
struct ThreadSet {
  int handle = PAPI_NULL;
  pthread_t owner{};
  std::vector<size_t> event_index;
  std::vector<long long> values;
  int error = PAPI_OK;  // first PAPI error seen inside a parallel region
};

class PapiBackend final : public CounterBackend {
 public:
  ~PapiBackend() override { release_sets(); }

  std::string name() const override { return "papi"; }

  BackendStatus probe() override {
    if (!papi_init_error().empty()) return {false, papi_init_error()};
    if (const std::string off = cpu_component_disabled_reason(); !off.empty()) return {false, off};
    int code = 0;
    int rc = PAPI_event_name_to_code("perf::TASK-CLOCK", &code);
    if (rc == PAPI_OK) rc = try_add_alone(code);
    if (rc != PAPI_OK)
      return {false, fmt::format("perf::TASK-CLOCK cannot be counted: {} (check "
                                 "/proc/sys/kernel/perf_event_paranoid)", PAPI_strerror(rc))};
    if (available_preset_count() == 0) return {true, kNoPmuReason};
    return {true, fmt::format("{} PAPI presets available", available_preset_count())};
  }

  // PAPI's preset table is known even when its CPU component is off; native names are not.
  void check_event_names(const std::vector<std::string>& events) override {
    if (!papi_init_error().empty()) return;
    for (const auto& name : expand_aliases(events)) {
      int code = 0;
      if (name.rfind("PAPI_", 0) == 0 && PAPI_event_name_to_code(name.c_str(), &code) != PAPI_OK)
        throw ConfigError("events", name, kEventsAllowed);
    }
  }

  void configure(const std::vector<std::string>& events, int threads) override {
    require_papi();
    release_sets();
    events_.clear();
    unavailable_.clear();
    threads_ = std::max(1, threads);

    for (const auto& name : expand_aliases(events)) {
      if (name == "mem") {
        unavailable_.emplace_back(name, "PAPI has no portable memory-controller event: name this machine's "
                                        "uncore CAS events (papi_native_avail | grep -i cas_count)");
        continue;
      }
      Event e;
      e.name = name;
      if (PAPI_event_name_to_code(name.c_str(), &e.code) != PAPI_OK)
        throw ConfigError("events", name, kEventsAllowed);
      int rc = try_add_alone(e.code);
      if (rc != PAPI_OK) {
        unavailable_.emplace_back(name, unavailable_reason(name, e.code, rc));
        continue;
      }
      e.cidx = PAPI_get_event_component(e.code);
      e.source = is_software_event(e.code) ? Source::Sw : Source::Hw;
      e.per_thread = is_cpu_component(e.cidx);
      events_.push_back(std::move(e));
    }
    build_sets();
  }

  void start() override {
    if (events_.empty()) return;
    start_ns_ = PAPI_get_real_nsec();
    for_each_set([](ThreadSet& s) { return PAPI_start(s.handle); });
    check_sets("PAPI_start");
  }

  void stop() override {
    if (events_.empty()) return;
    for_each_set([](ThreadSet& s) { return PAPI_stop(s.handle, s.values.data()); });
    stop_ns_ = PAPI_get_real_nsec();
    check_sets("PAPI_stop");
  }

  std::vector<CounterValue> read() override {
    std::vector<CounterValue> out(events_.size());
    const double enabled = (stop_ns_ - start_ns_) * 1e-9;
    for (size_t i = 0; i < events_.size(); ++i) {
      out[i].event = events_[i].name;
      out[i].source = events_[i].source;
      out[i].enabled_s = enabled;
      const bool mpx = multiplexed_ && events_[i].source == Source::Hw;
      out[i].running_s = mpx ? enabled * mpx_share_ : enabled;
      out[i].multiplexed = mpx;
    }
    for (const auto& sets : {std::cref(thread_sets_), std::cref(master_sets_)})
      for (const auto& s : sets.get())
        for (size_t k = 0; k < s.event_index.size(); ++k)
          out[s.event_index[k]].value += static_cast<double>(s.values[k]);
    return out;
  }

  std::vector<std::pair<std::string, std::string>> unavailable() const override { return unavailable_; }

 private:
  // Runs f on every set, each on its owning thread: the per-thread sets inside one parallel
  // region of threads_ workers, the socket-wide ones on the calling thread.
  template <class F>
  void for_each_set(F f) {
    if (!thread_sets_.empty()) {
      for (auto& s : thread_sets_) s.error = kPoolTooSmall;  // until its worker reaches it
#pragma omp parallel num_threads(threads_)
      {
        ThreadSet& s = thread_sets_[omp_get_thread_num()];
        s.error = pthread_equal(s.owner, pthread_self()) ? f(s) : kPoolChanged;
      }
    }
    for (auto& s : master_sets_) s.error = f(s);
  }

  void check_sets(const char* what) {
    for (const auto& sets : {std::cref(thread_sets_), std::cref(master_sets_)})
      for (const auto& s : sets.get()) {
        if (s.error == PAPI_OK) continue;
        if (s.error == kPoolChanged || s.error == kPoolTooSmall)
          throw std::runtime_error(fmt::format(
              "papi: {}: the OpenMP team is not the {} workers that configure() set up; counters "
              "are per thread", what, threads_));
        throw std::runtime_error(fmt::format("papi: {} failed: {}", what, PAPI_strerror(s.error)));
      }
  }

  // Creates `set` on the calling thread with the events `indices` of component `cidx`. Returns
  // PAPI's error (PAPI_ECNFLCT when they do not fit the counters together and multiplex is off).
  int fill_set(ThreadSet& set, int cidx, const std::vector<size_t>& indices, bool multiplex) {
    set.owner = pthread_self();
    int rc = PAPI_create_eventset(&set.handle);
    if (rc != PAPI_OK) return rc;
    if (multiplex) {
      if ((rc = PAPI_assign_eventset_component(set.handle, cidx)) != PAPI_OK) return rc;
      if ((rc = PAPI_set_multiplex(set.handle)) != PAPI_OK) return rc;
    }
    for (size_t i : indices) {
      if ((rc = PAPI_add_event(set.handle, events_[i].code)) != PAPI_OK) return rc;
      set.event_index.push_back(i);
    }
    set.values.assign(set.event_index.size(), 0);
    return PAPI_OK;
  }

  void build_sets() {
    multiplexed_ = false;
    int rc = try_build_sets(false);
    if (rc == PAPI_ECNFLCT || rc == PAPI_ECOUNT) {
      // How many hardware events fit together before the conflict gives the running share.
      size_t fit = 0;
      for (const auto& sets : {std::cref(thread_sets_), std::cref(master_sets_)})
        if (!sets.get().empty())
          for (size_t i : sets.get().front().event_index) fit += events_[i].source == Source::Hw;
      const auto hw = std::count_if(events_.begin(), events_.end(),
                                    [](const Event& e) { return e.source == Source::Hw; });
      mpx_share_ = hw > 0 ? std::min(1.0, static_cast<double>(std::max<size_t>(fit, 1)) / hw) : 1.0;
      release_sets();
      multiplexed_ = true;
      rc = try_build_sets(true);
    }
    if (rc != PAPI_OK) {
      release_sets();
      if (rc == kPoolTooSmall)
        throw std::runtime_error(fmt::format(
            "papi: OpenMP gave fewer than {} threads (OMP_THREAD_LIMIT?); counters need every worker",
            threads_));
      throw std::runtime_error(fmt::format("papi: cannot build the event sets: {}", PAPI_strerror(rc)));
    }
  }

  int try_build_sets(bool multiplex) {
    std::map<int, std::vector<size_t>> socket_wide;  // component -> events
    std::vector<size_t> per_thread;
    int cpu_cidx = 0;
    for (size_t i = 0; i < events_.size(); ++i) {
      if (events_[i].per_thread) {
        per_thread.push_back(i);
        cpu_cidx = events_[i].cidx;
      } else {
        socket_wide[events_[i].cidx].push_back(i);
      }
    }
    for (auto& [cidx, indices] : socket_wide) {
      master_sets_.emplace_back();
      if (int rc = fill_set(master_sets_.back(), cidx, indices, multiplex); rc != PAPI_OK) return rc;
    }
    if (per_thread.empty()) return PAPI_OK;
    thread_sets_.assign(threads_, ThreadSet{});
#pragma omp parallel num_threads(threads_)
    {
      ThreadSet& s = thread_sets_[omp_get_thread_num()];
      s.error = omp_get_num_threads() == threads_ ? PAPI_register_thread() : kPoolTooSmall;
      if (s.error == PAPI_OK) s.error = fill_set(s, cpu_cidx, per_thread, multiplex);
    }
    for (const auto& s : thread_sets_)
      if (s.error != PAPI_OK) return s.error;
    return PAPI_OK;
  }

  // Sets must be stopped and destroyed by the thread that owns them.
  static void destroy(ThreadSet& s) {
    if (s.handle == PAPI_NULL) return;
    int state = 0;
    if (PAPI_state(s.handle, &state) == PAPI_OK && (state & PAPI_RUNNING))
      PAPI_stop(s.handle, s.values.data());
    PAPI_cleanup_eventset(s.handle);
    PAPI_destroy_eventset(&s.handle);
  }

  void release_sets() {
    if (!thread_sets_.empty()) {
      const int n = static_cast<int>(thread_sets_.size());
#pragma omp parallel num_threads(n)
      {
        const int t = omp_get_thread_num();
        if (t < n && pthread_equal(thread_sets_[t].owner, pthread_self())) destroy(thread_sets_[t]);
      }
    }
    for (auto& s : master_sets_) destroy(s);
    thread_sets_.clear();
    master_sets_.clear();
  }

  std::vector<Event> events_;
  std::vector<std::pair<std::string, std::string>> unavailable_;
  std::vector<ThreadSet> thread_sets_;  // index = OpenMP thread number
  std::vector<ThreadSet> master_sets_;  // socket-wide components, on the benchmark thread
  int threads_ = 1;
  bool multiplexed_ = false;
  double mpx_share_ = 1.0;
  long long start_ns_ = 0, stop_ns_ = 0;
};

const CounterBackendRegistrar registrar{"papi", 20, [] { return std::make_unique<PapiBackend>(); }};

}  // namespace
}  // namespace ffnbench

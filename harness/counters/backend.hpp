// The counter-backend interface: one per folder entry in harness/counters/, chosen per run.
// A value that was not measured is never filled from the cost model: it stays empty and the
// reason is recorded.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace ffnbench {

// Where a number came from. hw: a hardware PMU counter; sw: an OS software event
// (perf::TASK-CLOCK, perf::PAGE-FAULTS); sim: valgrind's cache simulator; model: the cost model.
enum class Source { Hw, Sw, Sim, Model };
const char* to_string(Source s);

struct CounterValue {
  std::string event;      // name as the backend knows it (e.g. "PAPI_SP_OPS", "perf::TASK-CLOCK")
  double value = 0;       // summed over the point's threads, over the measured interval
  Source source = Source::Hw;
  double enabled_s = 0;   // time the event set was enabled (0 if the backend cannot tell)
  double running_s = 0;   // time it actually counted; running < enabled means multiplexed
  bool multiplexed = false;
};

struct BackendStatus {
  bool available = false;
  std::string reason;     // one line: why not (or what works, e.g. "software events only")
};

class CounterBackend {
 public:
  virtual ~CounterBackend() = default;
  virtual std::string name() const = 0;

  // Can this backend count on this machine? Cheap; may be called by `ffnbench list`.
  virtual BackendStatus probe() = 0;

  // Prepares the event list for points run with `threads` OpenMP threads. Unknown event names
  // throw ConfigError("events", name, what is allowed); events that exist but cannot be counted
  // here are kept out and reported by unavailable().
  virtual void configure(const std::vector<std::string>& events, int threads) = 0;

  // Throws ConfigError("events", name, allowed) for names this backend can tell are wrong without
  // counting anything (e.g. a misspelt PAPI preset), even where probe() fails: when no backend
  // counts here, a bad name is still exit status 2, not a silent `none`.
  virtual void check_event_names(const std::vector<std::string>& events) { (void)events; }

  // Around the timed loop of one repetition, called on the benchmark thread. In-process backends
  // reach every OpenMP worker themselves (one `omp parallel` region in start and in stop).
  virtual void start() = 0;
  virtual void stop() = 0;
  // Totals over the last start/stop interval.
  virtual std::vector<CounterValue> read() = 0;

  // Backend-specific settings from the experiment's [counters] section (e.g. cachesim_cpu).
  // Unknown keys throw ConfigError("counters.<key>", value, what this backend takes).
  virtual void set_option(const std::string& key, const std::string& value);

  // Backends that count a point by re-running it in a child process (cachesim) return true;
  // the harness then calls measure_offline once per point after timing it, with the arguments
  // of `ffnbench run-point` that rebuild the point (see harness/cli/cmd_run_point.cpp), and
  // start/stop/read are not used.
  virtual bool measures_offline() const { return false; }
  // The thread count a re-run uses for a point of `point_threads`, and (when they differ) the
  // note its row carries saying so.
  virtual int offline_threads(int point_threads) const { return point_threads; }
  virtual std::string offline_threads_note() const { return {}; }
  // Per-forward-call values over `iterations` calls of the point.
  virtual std::vector<CounterValue> measure_offline(const std::vector<std::string>& run_point_args,
                                                    int iterations) {
    (void)run_point_args;
    (void)iterations;
    return {};
  }

  // Events asked for that this backend cannot count here, with the reason for each.
  virtual std::vector<std::pair<std::string, std::string>> unavailable() const { return {}; }
};

// Known backend names, in auto-detection order.
std::vector<std::string> counter_backend_names();

// Builds a backend by name ("papi", "likwid", "cachesim", "none"); throws ConfigError("counters",
// name, allowed) for unknown names.
std::unique_ptr<CounterBackend> make_counter_backend(const std::string& name);

// "auto": the first backend whose probe() succeeds; `log` receives one line per fallback
// ("likwid: cannot access MSRs ... -> trying papi").
std::unique_ptr<CounterBackend> detect_counter_backend(std::vector<std::string>& log);

}  // namespace ffnbench

// Backends register a name, an auto-detection rank (lower is tried first) and a maker.
// Ranks: likwid 10, papi 20, none 100. A backend registered with kOptInOnly (cachesim: it re-runs
// the point under valgrind) is never chosen by `auto`, only by name.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "counters/backend.hpp"

namespace ffnbench {

inline constexpr int kOptInOnly = 1000;

// `counters = auto` for an event list: the first auto-detected backend that is available here and
// accepts every event name (configure(events, threads) succeeds), configured and ready. `log`
// gets one line per backend passed over, with its reason. When no available backend knows an
// event, the ConfigError of the first one that refused it is thrown (a bad name stays exit 2,
// and never silently lands on `none`). An empty list is accepted by every backend.
std::unique_ptr<CounterBackend> detect_counter_backend(const std::vector<std::string>& events, int threads,
                                                       std::vector<std::string>& log);

struct CounterBackendRegistrar {
  CounterBackendRegistrar(std::string name, int auto_rank,
                          std::function<std::unique_ptr<CounterBackend>()> make);
};

}  // namespace ffnbench

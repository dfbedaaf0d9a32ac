// Backends register a name, an auto-detection rank (lower is tried first) and a maker.
// Ranks: likwid 10, papi 20, none 100. A backend registered with kOptInOnly (cachesim: it re-runs
// the point under valgrind) is never chosen by `auto`, only by name.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "counters/backend.hpp"

namespace ffnbench {

inline constexpr int kOptInOnly = 1000;

struct CounterBackendRegistrar {
  CounterBackendRegistrar(std::string name, int auto_rank,
                          std::function<std::unique_ptr<CounterBackend>()> make);
};

}  // namespace ffnbench

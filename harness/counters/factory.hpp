// Backends register a name, an auto-detection rank (lower is tried first) and a maker.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "counters/backend.hpp"

namespace ffnbench {

struct CounterBackendRegistrar {
  CounterBackendRegistrar(std::string name, int auto_rank,
                          std::function<std::unique_ptr<CounterBackend>()> make);
};

}  // namespace ffnbench

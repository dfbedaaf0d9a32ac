#include "common/memory.hpp"

#include <fmt/format.h>

#include <fstream>
#include <string>

#include "core/params.hpp"

namespace ffnbench {

int64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

void check_fits_in_memory(const std::string& key, const std::string& value, double bytes,
                          const std::string& what) {
  const int64_t available = available_memory_bytes();
  if (available > 0 && bytes > 0.9 * static_cast<double>(available))
    throw ConfigError(key, value,
                      fmt::format("{} would need {}, more than the {} of memory available here",
                                  what, format_bytes(bytes), format_bytes(static_cast<double>(available))));
}

}  // namespace ffnbench

#include "sweep/memory_preflight.hpp"

#include <fmt/format.h>

#include "common/memory.hpp"
#include "core/registry.hpp"
#include "sweep/measure.hpp"

namespace ffnbench {

double point_memory_bytes(const Point& point, double llc_bytes) {
  const double kernel = Registry::instance().get(point.variant).memory_bytes(point.config, point.tokens, point.threads);
  if (kernel <= 0) return 0;
  double pool = 0;
  if (point.config.has("d")) {
    const int64_t d = point.config.integer("d");
    const int64_t tokens = is_inputs_file(point.inputs)
                               ? point.tokens
                               : input_pool_tokens(point.tokens, d, point.inputs != "repeat", llc_bytes);
    pool = 4.0 * static_cast<double>(d) * static_cast<double>(tokens);
  }
  return kernel + pool;
}

void preflight_memory(std::vector<Point>& points, double llc_bytes) {
  const double available = static_cast<double>(available_memory_bytes());
  if (available <= 0) return;
  const std::string source = available_memory_source();
  for (auto& p : points) {
    if (p.invalid) continue;
    const double need = point_memory_bytes(p, llc_bytes);
    if (need > 0.9 * available)
      p.invalid = ConfigError("memory", format_bytes(need),
                              fmt::format("this point needs {} (its weights, scratch, output and input pool, as its "
                                          "variant's memory model counts them), {} available ({}); ffnbench refuses "
                                          "a point above 90% of it before allocating anything",
                                          format_bytes(need), format_bytes(available), source));
  }
}

}  // namespace ffnbench

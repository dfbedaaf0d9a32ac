#include "counters/validate.hpp"

#include <cmath>
#include <fmt/format.h>

namespace ffnbench {

const char* to_string(CountedQuantity q) {
  switch (q) {
    case CountedQuantity::Flops: return "flops";
    case CountedQuantity::LlcMisses: return "llc_misses";
    case CountedQuantity::MemBytes: return "mem_bytes";
  }
  return "?";
}

double tolerance_of(CountedQuantity q) { return q == CountedQuantity::Flops ? kFlopTolerance : kTrafficTolerance; }

double count_ratio(double counted, double expected) {
  if (!std::isfinite(counted) || !std::isfinite(expected) || expected <= 0) return NAN;
  return counted / expected;
}

bool within_tolerance(double ratio, double tolerance) {
  return std::isfinite(ratio) && std::fabs(ratio - 1) <= tolerance + 1e-12;
}

CountCheck compare_count(const std::string& backend, const std::string& kernel, const std::string& event,
                         CountedQuantity quantity, double expected, double counted) {
  CountCheck c{backend, kernel, event, quantity, expected, counted, count_ratio(counted, expected),
               tolerance_of(quantity), false};
  c.pass = within_tolerance(c.ratio, c.tolerance);
  return c;
}

int validation_exit_status(const std::vector<CountCheck>& checks) {
  for (const auto& c : checks)
    if (!c.pass) return 1;
  return 0;
}

std::string format_checks(const std::vector<CountCheck>& checks) {
  std::string out = fmt::format("{:<9} {:<12} {:<11} {:<40} {:>14} {:>14} {:>8} {:>6}  {}\n", "backend", "kernel",
                                "quantity", "event", "expected", "counted", "ratio", "bound", "verdict");
  for (const auto& c : checks)
    out += fmt::format("{:<9} {:<12} {:<11} {:<40} {:>14.6g} {:>14.6g} {:>8} {:>5.0f}%  {}\n", c.backend, c.kernel,
                       to_string(c.quantity), c.event.empty() ? "-" : c.event, c.expected, c.counted,
                       std::isfinite(c.ratio) ? fmt::format("{:.4f}", c.ratio) : std::string("n/a"),
                       100 * c.tolerance, c.pass ? "ok" : "FAIL");
  return out;
}

bool any_hardware_counting(const std::vector<BackendCapability>& backends) {
  for (const auto& b : backends)
    if (b.available && (b.flops || b.llc || b.mem)) return true;
  return false;
}

std::string no_pmu_message(const std::vector<BackendCapability>& backends, const std::string& pmu_detail) {
  std::string out =
      "no hardware PMU: no counter backend counts FLOPs, LLC misses or memory traffic here, so there is "
      "nothing to validate\n";
  for (const auto& b : backends) {
    out += fmt::format("  {}: {}{}", b.name, b.available ? "" : "unavailable: ", b.reason);
    if (b.available && !b.not_countable.empty()) out += fmt::format(" ({})", fmt::join(b.not_countable, "; "));
    out += "\n";
  }
  if (!pmu_detail.empty()) out += fmt::format("  hardware events: {}\n", pmu_detail);
  return out;
}

double sgemm_flops(double m, double n, double k) { return 2 * m * n * k; }
double stream_llc_misses(double bytes_read, double line_bytes) { return line_bytes > 0 ? bytes_read / line_bytes : NAN; }

}  // namespace ffnbench

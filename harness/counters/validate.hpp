// `ffnbench validate-counters`: counted against exactly known work, per backend and event.
// The pure part (ratios, pass/fail, what is printed, whether anything can be validated) lives
// here so that tests feed it fabricated counts; cmd_validate_counters.cpp runs the kernels.
//
// Kernels and what they must count:
//   fma          calibrate's register-only FMA kernel: iterations · fma_flops_per_iteration FLOPs;
//   sgemm        one cblas_sgemm m×n×k: 2·m·n·k FLOPs;
//   stream_read  vector loads over a buffer ≥ 4 × LLC, `passes` times: passes · bytes of memory
//                traffic, passes · bytes / line LLC misses.
// Bounds: FLOPs within ±5% (kFlopTolerance), traffic (LLC misses, memory bytes) within ±15%
// (kTrafficTolerance: prefetchers and the page walker add lines; other tenants add controller
// traffic).
#pragma once

#include <string>
#include <vector>

namespace ffnbench {

inline constexpr double kFlopTolerance = 0.05;
inline constexpr double kTrafficTolerance = 0.15;

enum class CountedQuantity { Flops, LlcMisses, MemBytes };
const char* to_string(CountedQuantity q);       // "flops", "llc_misses", "mem_bytes"
double tolerance_of(CountedQuantity q);         // kFlopTolerance or kTrafficTolerance

struct CountCheck {
  std::string backend;   // "papi", "likwid", "cachesim"
  std::string kernel;    // "fma", "sgemm", "stream_read"
  std::string event;     // the events the count came from (Counted::from)
  CountedQuantity quantity = CountedQuantity::Flops;
  double expected = 0;
  double counted = 0;
  double ratio = 0;      // counted / expected; NaN when expected is not positive or counted not finite
  double tolerance = 0;
  bool pass = false;     // |ratio − 1| ≤ tolerance
};

// counted / expected, NaN when expected ≤ 0 or either is not finite.
double count_ratio(double counted, double expected);
// |ratio − 1| ≤ tolerance (false for NaN).
bool within_tolerance(double ratio, double tolerance);

CountCheck compare_count(const std::string& backend, const std::string& kernel, const std::string& event,
                         CountedQuantity quantity, double expected, double counted);

// 1 (kExitFailure) when any check fails, else 0 (also for no checks).
int validation_exit_status(const std::vector<CountCheck>& checks);

// One line per check: backend, kernel, quantity, event, expected, counted, ratio, bound, ok/FAIL.
std::string format_checks(const std::vector<CountCheck>& checks);

// What one backend can count of the three quantities on this machine, and why not.
struct BackendCapability {
  std::string name;
  bool available = false;
  std::string reason;                       // probe()'s line
  bool flops = false, llc = false, mem = false;
  std::vector<std::string> not_countable;   // "flops: <why>", ...
};

// Whether any backend counts a hardware quantity (a PMU is there and reachable).
bool any_hardware_counting(const std::vector<BackendCapability>& backends);

// The message when nothing counts in hardware: starts "no hardware PMU", then one line per
// backend with its reason, then pmu_detail (machine_info's perf_event_open check) when given.
std::string no_pmu_message(const std::vector<BackendCapability>& backends, const std::string& pmu_detail);

// Expected values.
double sgemm_flops(double m, double n, double k);                      // 2·m·n·k
double stream_llc_misses(double bytes_read, double line_bytes);         // bytes / line

}  // namespace ffnbench

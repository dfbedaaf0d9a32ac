// `ffnbench calibrate`: the machine's roofline ceilings per thread count, measured with the
// micro-kernels of kernels.hpp on pinned threads, written to ceilings.json.
//
// ceilings.json (schema "ffnbench.ceilings/1"):
// {
//   "schema": "ffnbench.ceilings/1",
//   "cpu": "Intel(R) Xeon(R) ...", "created": "2025-01-01T12:00:00Z", "budget_s": 30,
//   "caches": [{"level": 1, "type": "Data", "bytes": 49152, "assoc": 12, "line": 64, "shared_cpus": 1}, ...],
//   "peak_flops": [                      // FP32, per ISA and thread count
//     {"isa": "avx512", "threads": 2, "gflops": 420.1,
//      "kernel": "fma_peak: 12 independent packed FMA chains, registers only"}, ...],
//   "bandwidth": [                       // per level, kernel and thread count
//     {"level": "L1", "kernel": "load", "isa": "avx512", "threads": 1,
//      "bytes": 24576,                   // working set of all threads together
//      "bytes_per_thread": 24576, "gbs": 398.2}, ...],
//   "crosscheck": [                      // only with --crosscheck: likwid-bench on the same sets
//     {"what": "peak avx512, 1 thread", "ours": 205.1, "likwid_bench": 203.7, "unit": "GFLOP/s",
//      "ratio": 1.007, "ok": true, "command": "likwid-bench -t peakflops_sp_avx512_fma -w S0:32000B:1 -i 200000"}],
//   "notes": ["DRAM working set capped at 1.0 GiB, below 4 × LLC (1.9 GiB): ..."]
// }
// GB/s are 1e9 bytes/s; triad bytes are 12 per element (two loads, one store, write-allocate not
// counted, as likwid-bench and STREAM count).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "calibrate/caches.hpp"

namespace ffnbench {

struct CalibrateOptions {
  std::vector<int> threads;            // thread counts to measure (each ≤ usable cores)
  double budget_s = 30;                // total time for the timed kernels (allocation not included)
  int64_t dram_cap_bytes = 1ll << 30;  // the DRAM working set is min(4 × LLC, this)
  bool crosscheck = false;             // also run likwid-bench on the same sets
};

struct PeakCeiling {
  std::string isa;
  int threads = 0;
  double gflops = 0;
  std::string kernel;
};

struct BandwidthCeiling {
  std::string level;   // L1, L2, L3, DRAM
  std::string kernel;  // load, triad
  std::string isa;
  int threads = 0;
  int64_t bytes = 0;
  int64_t bytes_per_thread = 0;
  double gbs = 0;
};

struct CrossCheck {
  std::string what, unit, command;
  double ours = 0, likwid_bench = 0, ratio = 0;
  bool ok = false;
  std::string error;  // why likwid-bench gave no number (then ok = false)
};

struct Ceilings {
  std::string cpu, created;
  double budget_s = 0;
  std::vector<CacheInfo> caches;
  std::vector<PeakCeiling> peak_flops;
  std::vector<BandwidthCeiling> bandwidth;
  std::vector<CrossCheck> crosscheck;
  std::vector<std::string> notes;

  // The widest ISA's peak at `threads` (empty if not measured).
  std::optional<double> peak_gflops(int threads) const;
  // Bandwidth of `level` with `kernel` at `threads` (empty if not measured).
  std::optional<double> bandwidth_gbs(const std::string& level, int threads, const std::string& kernel = "load") const;
};

// One memory level to measure: its name and working set (all threads together).
struct LevelPlan {
  std::string level;
  int64_t bytes = 0;
  int64_t bytes_per_thread = 0;
};

// Working sets from the caches: L1 = ½ L1d per thread, L2 = ½ (L1d + L2) per thread, L3 = a
// thread's share of ½ L3 clamped to [4, 8] × L2 per thread (skipped when L3 would not exceed
// L2), DRAM = max(4 × LLC, 256 MiB) capped at dram_cap (a note says so when the cap is below
// 4 × LLC). Sizes are rounded down to the kernels' 512-byte blocks (× 3 arrays for triad).
// Threads are placed one per core first (pick_cpus), so a cache instance shared by `shared_cpus`
// of the machine's `logical_cpus` holds ceil(threads / instances) of them.
std::vector<LevelPlan> plan_levels(const std::vector<CacheInfo>& caches, int threads, int logical_cpus,
                                   int64_t dram_cap, std::vector<std::string>& notes);

// Measures everything; `progress` gets one line per measurement.
Ceilings run_calibration(const CalibrateOptions& options, const std::function<void(const std::string&)>& progress);

nlohmann::json to_json(const Ceilings& c);
Ceilings ceilings_from_json(const nlohmann::json& j);  // throws std::runtime_error on a bad schema

// CPUs to pin `threads` workers to: allowed CPUs, distinct cores first. Throws ConfigError
// ("threads", n, "at most <cores> ...") when there are not enough.
std::vector<int> pick_cpus(int threads);

// Number of distinct cores this process may run on.
int usable_cores();

}  // namespace ffnbench

// Derived metrics of a point: pure functions of its model cost, its time and the counter values
// any backend measured. A quantity nothing measured stays empty (std::nullopt), never the model.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "counters/backend.hpp"

namespace ffnbench {

// One quantity found in counter values: its value, where it came from and which events made it.
struct Counted {
  double value = 0;
  Source source = Source::Hw;
  std::string from;  // "PAPI_SP_OPS", "perf::LLC-LOAD-MISSES+perf::LLC-STORE-MISSES", ...
};

// The quantities points.csv has columns for, recognised by event name across backends:
//   flops        PAPI_SP_OPS; else FP_ARITH_INST_RETIRED scalar/128/256/512-bit single events
//                weighted 1/4/8/16 (PAPI native or likwid names; FMA already counts 2).
//   instructions PAPI_TOT_INS, perf::INSTRUCTIONS, likwid INSTR_RETIRED_ANY / RETIRED_INSTRUCTIONS,
//                cachesim Ir.
//   llc_misses   PAPI_L3_TCM; perf::LLC-LOAD-MISSES + perf::LLC-STORE-MISSES; perf::CACHE-MISSES;
//                likwid L3_CACHE_REQ_MISS / MEM_LOAD_RETIRED_L3_MISS; cachesim LL_misses.
//   llc_refs     PAPI_L3_TCA; perf::LLC-LOADS + perf::LLC-STORES; perf::CACHE-REFERENCES;
//                likwid L3_CACHE_REQ; cachesim LL_refs.
//   mem_bytes    memory-controller CAS counts × 64 B (likwid CAS_COUNT_RD/WR, PAPI uncore
//                UNC_M_CAS_COUNT).
// Values are per forward call; interval metrics (is_interval_metric) are ignored.
struct CountedQuantities {
  std::optional<Counted> flops, instructions, llc_misses, llc_refs, mem_bytes;
};
CountedQuantities find_counted_quantities(const std::vector<CounterValue>& per_call);

// likwid's group metrics ("metric:<GROUP>:<name>"): rates and ratios over the measured interval,
// not counts, so never divided by iterations or summed into per-call values.
bool is_interval_metric(const CounterValue& v);

enum class BandwidthBasis { None, MemoryController, LlcMissEstimate };
const char* to_string(BandwidthBasis b);  // "", "memory_controller", "llc_misses_x_line"

enum class FlopAgreement { Unmeasured, Agrees, Shortfall, Excess };
const char* to_string(FlopAgreement a);  // "unmeasured", "agrees", "shortfall", "excess"

struct PointInputs {
  double flops_model = 0;      // Cost::flops of one call
  double bytes_model = 0;      // Cost::weight_bytes + activation_bytes of one call
  double tokens = 0;
  double time_s = 0;           // median time of one call
  double line_bytes = 64;      // LLC line size, for the miss-based traffic estimate
  double flop_tolerance = 0.2; // |counted/model − 1| within this agrees
  CountedQuantities counted;
};

struct DerivedMetrics {
  double gflops_model_per_s = 0;
  double intensity_model = 0;                    // flops_model / bytes_model (FLOP/B)
  std::optional<double> gflops_counted_per_s;
  std::optional<double> intensity_counted;       // counted (else model) FLOPs / traffic bytes
  std::optional<double> llc_misses_per_token;
  std::optional<double> llc_misses_per_kilo_instruction;
  std::optional<double> llc_miss_ratio;          // misses / references
  std::optional<double> mem_bytes;               // per call; the miss estimate from hw misses only
  std::optional<double> mem_bw_gbs;
  BandwidthBasis bandwidth_basis = BandwidthBasis::None;
  FlopAgreement flop_agreement = FlopAgreement::Unmeasured;
  std::optional<double> flop_ratio;              // counted / model
  std::string flop_note;                         // one line when not Agrees/Unmeasured
};

DerivedMetrics derive_metrics(const PointInputs& in);

// Attainable GFLOP/s at arithmetic intensity `ai` under a roofline with `peak_gflops` and
// `bandwidth_gbs`: min(peak, ai · bandwidth).
double roofline_attainable(double ai, double peak_gflops, double bandwidth_gbs);

}  // namespace ffnbench

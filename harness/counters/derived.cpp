#include "counters/derived.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <functional>

namespace ffnbench {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }
bool contains(const std::string& s, const std::string& p) { return s.find(p) != std::string::npos; }

// Sums value × weight(event) over the events with a non-zero weight; empty when none matched.
std::optional<Counted> sum_weighted(const std::vector<CounterValue>& values,
                                    const std::function<double(const std::string&)>& weight) {
  std::optional<Counted> out;
  for (const auto& v : values) {
    if (is_interval_metric(v)) continue;
    const double w = weight(v.event);
    if (w == 0) continue;
    if (!out) out = Counted{0, v.source, ""};
    out->value += w * v.value;
    out->from += (out->from.empty() ? "" : "+") + v.event;
  }
  return out;
}

// The first rule that matches anything wins: rules go from the most to the least specific.
std::optional<Counted> first_match(const std::vector<CounterValue>& values,
                                   const std::vector<std::function<double(const std::string&)>>& rules) {
  for (const auto& rule : rules)
    if (auto c = sum_weighted(values, rule)) return c;
  return std::nullopt;
}

auto exactly(std::vector<std::string> names) {
  return [names = std::move(names)](const std::string& e) {
    return std::find(names.begin(), names.end(), e) != names.end() ? 1.0 : 0.0;
  };
}

// likwid names events EVENT:COUNTER.
auto likwid_event(std::vector<std::string> events) {
  return [events = std::move(events)](const std::string& e) {
    for (const auto& name : events)
      if (starts_with(e, name + ":")) return 1.0;
    return 0.0;
  };
}

double fp_arith_single_weight(const std::string& e) {
  if (!contains(e, "FP_ARITH")) return 0;
  if (contains(e, "SCALAR_SINGLE")) return 1;
  if (contains(e, "128B_PACKED_SINGLE")) return 4;
  if (contains(e, "256B_PACKED_SINGLE")) return 8;
  if (contains(e, "512B_PACKED_SINGLE")) return 16;
  return 0;
}

}  // namespace

bool is_interval_metric(const CounterValue& v) { return starts_with(v.event, "metric:"); }

CountedQuantities find_counted_quantities(const std::vector<CounterValue>& values) {
  CountedQuantities q;
  q.flops = first_match(values, {exactly({"PAPI_SP_OPS"}), fp_arith_single_weight});
  q.instructions = first_match(values, {exactly({"PAPI_TOT_INS"}), exactly({"perf::INSTRUCTIONS"}),
                                        likwid_event({"INSTR_RETIRED_ANY", "RETIRED_INSTRUCTIONS"}),
                                        exactly({"Ir"})});
  q.llc_misses = first_match(values, {exactly({"PAPI_L3_TCM"}),
                                      exactly({"perf::LLC-LOAD-MISSES", "perf::LLC-STORE-MISSES"}),
                                      exactly({"perf::CACHE-MISSES"}),
                                      likwid_event({"L3_CACHE_REQ_MISS", "MEM_LOAD_RETIRED_L3_MISS"}),
                                      exactly({"LL_misses"})});
  q.llc_refs = first_match(values, {exactly({"PAPI_L3_TCA"}), exactly({"perf::LLC-LOADS", "perf::LLC-STORES"}),
                                    exactly({"perf::CACHE-REFERENCES"}), likwid_event({"L3_CACHE_REQ"}),
                                    exactly({"LL_refs"})});
  // CAS commands move one 64-byte line each; a CAS_COUNT ALL event already holds RD + WR.
  q.mem_bytes = first_match(values, {[](const std::string& e) {
                                       return contains(e, "CAS_COUNT") && contains(e, "ALL") ? 64.0 : 0.0;
                                     },
                                     [](const std::string& e) {
                                       return contains(e, "CAS_COUNT") && (contains(e, "RD") || contains(e, "WR"))
                                                  ? 64.0 : 0.0;
                                     }});
  return q;
}

const char* to_string(BandwidthBasis b) {
  switch (b) {
    case BandwidthBasis::None: return "";
    case BandwidthBasis::MemoryController: return "memory_controller";
    case BandwidthBasis::LlcMissEstimate: return "llc_misses_x_line";
  }
  return "";
}

const char* to_string(FlopAgreement a) {
  switch (a) {
    case FlopAgreement::Unmeasured: return "unmeasured";
    case FlopAgreement::Agrees: return "agrees";
    case FlopAgreement::Shortfall: return "shortfall";
    case FlopAgreement::Excess: return "excess";
  }
  return "";
}

DerivedMetrics derive_metrics(const PointInputs& in) {
  DerivedMetrics d;
  const CountedQuantities& c = in.counted;
  const bool timed = in.time_s > 0;
  if (timed) d.gflops_model_per_s = in.flops_model / in.time_s * 1e-9;
  if (in.bytes_model > 0) d.intensity_model = in.flops_model / in.bytes_model;
  if (c.flops && timed) d.gflops_counted_per_s = c.flops->value / in.time_s * 1e-9;

  if (c.mem_bytes) {
    d.mem_bytes = c.mem_bytes->value;
    d.bandwidth_basis = BandwidthBasis::MemoryController;
  } else if (c.llc_misses && c.llc_misses->source == Source::Hw) {
    // Only hardware misses are traffic of the timed run; simulated ones (cachesim, another run,
    // maybe another CPU's caches) never become a bandwidth.
    d.mem_bytes = c.llc_misses->value * in.line_bytes;
    d.bandwidth_basis = BandwidthBasis::LlcMissEstimate;
  }
  if (d.mem_bytes && timed) d.mem_bw_gbs = *d.mem_bytes / in.time_s * 1e-9;
  if (d.mem_bytes && *d.mem_bytes > 0) d.intensity_counted = (c.flops ? c.flops->value : in.flops_model) / *d.mem_bytes;

  if (c.llc_misses) {
    if (in.tokens > 0) d.llc_misses_per_token = c.llc_misses->value / in.tokens;
    if (c.instructions && c.instructions->value > 0)
      d.llc_misses_per_kilo_instruction = 1000.0 * c.llc_misses->value / c.instructions->value;
    if (c.llc_refs && c.llc_refs->value > 0) d.llc_miss_ratio = c.llc_misses->value / c.llc_refs->value;
  }

  if (c.flops && in.flops_model > 0) {
    const double ratio = c.flops->value / in.flops_model;
    d.flop_ratio = ratio;
    if (ratio < 1 - in.flop_tolerance) {
      d.flop_agreement = FlopAgreement::Shortfall;
      d.flop_note = fmt::format(
          "counted FLOPs ({}) are {:.0f}% of the model: work elided by the compiler, a scalar or "
          "non-FP kernel the event does not see, or a model that overcounts",
          c.flops->from, 100 * ratio);
    } else if (ratio > 1 + in.flop_tolerance) {
      d.flop_agreement = FlopAgreement::Excess;
      d.flop_note = fmt::format(
          "counted FLOPs ({}) are {:.0f}% of the model: masked-off or padded vector lanes, "
          "recomputation, or a model that undercounts",
          c.flops->from, 100 * ratio);
    } else {
      d.flop_agreement = FlopAgreement::Agrees;
    }
  }
  return d;
}

double roofline_attainable(double ai, double peak_gflops, double bandwidth_gbs) {
  return std::min(peak_gflops, ai * bandwidth_gbs);
}

}  // namespace ffnbench

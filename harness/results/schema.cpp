#include "results/schema.hpp"

#include <fmt/format.h>

#include "build_info.hpp"

namespace ffnbench {

std::string schema_json_text() {
  return fmt::format("{{\n  \"results_schema\": {},\n  \"written_by\": \"ffnbench {}\"\n}}\n", kResultsSchema,
                     build_info::kVersion);
}

const std::vector<std::string>& points_core_columns() {
  static const std::vector<std::string> columns = {
      "run_id", "machine_id", "git_commit", "point_id", "block", "variant", "impl", "precision",
      "d_in", "d_out", "tokens", "threads", "cache_mode", "inputs", "input_batches", "schedule", "repetitions", "iterations",
      "time_median_s", "time_ci_low_s", "time_ci_high_s", "time_min_s", "time_max_s", "time_cov", "tokens_per_s", "flops_model",
      "gflops_model_per_s", "bytes_model", "weight_bytes_model", "working_set_bytes_model",
      "flops_hw", "llc_misses", "llc_refs", "mem_bytes", "mem_bw_gbs", "bandwidth_basis",
      "intensity_model", "gflops_hw_per_s", "llc_misses_per_token", "llc_mpki", "llc_miss_ratio",
      "flop_agreement", "flop_note", "counter_backend",
      "counter_source", "counter_fallbacks", "status", "status_reason", "extras", "cpu_list", "onednn_isa", "gate_max_error",
      "gate_rows_checked", "gate_rows_forgiven", "quality_metric", "quality_dataset", "quality_value", "quality_dense",
      "fidelity_rel_error", "fidelity_reference_error", "fidelity_rows_checked", "fidelity_rows_forgiven", "steal_frac", "other_load_frac", "cpu_mhz",
      "harness_overhead_frac"};
  return columns;
}

std::vector<std::string> points_header(const std::vector<std::string>& param_names) {
  std::vector<std::string> h = points_core_columns();
  for (const auto& p : param_names) h.push_back("p_" + p);
  return h;
}

const std::vector<std::string>& stages_header() {
  static const std::vector<std::string> h = {
      "run_id", "point_id", "stage", "time_median_s", "fraction", "flops_model",
      // the stage's roofline (sweep/roofline.hpp): model traffic, achieved rates, its bound
      "bytes_model", "stream_bytes_model", "working_set_bytes", "gflops_per_s", "gbs", "level", "bound",
      "bound_time_s", "ceiling_fraction", "roofline_note"};
  return h;
}

const std::vector<std::string>& reps_header() {
  static const std::vector<std::string> h = {"run_id", "point_id", "repetition", "iterations",
                                             "time_s", "overhead_s", "round", "position"};
  return h;
}

const std::vector<std::string>& counters_header() {
  static const std::vector<std::string> h = {"run_id",    "point_id",  "repetition", "event",
                                             "value",     "source",    "enabled_s",  "running_s",
                                             "multiplexed", "note"};
  return h;
}

}  // namespace ffnbench

#include "sweep/point_rows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "results/schema.hpp"

namespace ffnbench {

namespace {

std::string num(double v) { return fmt::format("{:.6g}", v); }

// Which counted events feed the summary columns of points.csv. Hardware values only: a column
// stays empty unless one of these was measured (never the model's number).
const std::vector<std::string> kFlopEvents = {"PAPI_SP_OPS", "PAPI_FP_OPS", "FLOPS_SP", "fp_ops_sp"};
const std::vector<std::string> kLlcMissEvents = {"PAPI_L3_TCM", "LLC_MISSES", "perf::LLC-LOAD-MISSES",
                                                 "LL_misses"};
const std::vector<std::string> kLlcRefEvents = {"PAPI_L3_TCA", "LLC_REFERENCES",
                                                "perf::LLC-LOADS", "LL_refs"};
const std::vector<std::string> kMemByteEvents = {"MEM_BYTES", "mem_bytes"};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? NAN : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median over repetitions of the first event in `names` that was counted.
std::string counted(const PointMeasurement& m, const std::vector<std::string>& names, double* out = nullptr) {
  for (const auto& name : names) {
    std::vector<double> values;
    for (const auto& rep : m.reps)
      for (const auto& c : rep.counters)
        if (c.event == name && c.source == Source::Hw) values.push_back(c.value);
    for (const auto& c : m.offline_counters)
      if (c.event == name && (c.source == Source::Hw || c.source == Source::Sim)) values.push_back(c.value);
    if (!values.empty()) {
      double v = median_of(values);
      if (out) *out = v;
      return num(v);
    }
  }
  return "";
}

std::string extras_text(const std::map<std::string, std::string>& extras) {
  std::string s;
  for (const auto& [k, v] : extras) s += (s.empty() ? "" : ";") + k + "=" + v;
  return s;
}

std::vector<std::string> base_row(const RunContext& run, const Experiment& x, const Point& p) {
  const auto& c = p.config;
  std::vector<std::string> row(points_core_columns().size());
  auto set = [&](const char* col, std::string v) {
    const auto& cols = points_core_columns();
    row[std::find(cols.begin(), cols.end(), col) - cols.begin()] = std::move(v);
  };
  set("run_id", run.run_id);
  set("machine_id", run.machine_id);
  set("git_commit", run.git_commit);
  set("point_id", p.point_id);
  set("block", p.block);
  set("variant", p.variant);
  set("impl", c.has("impl") ? c.str("impl") : "");
  set("precision", c.has("precision") ? c.str("precision") : "fp32");
  set("tokens", std::to_string(p.tokens));
  set("threads", std::to_string(p.threads));
  set("cache_mode", x.cache_mode);
  set("repetitions", std::to_string(x.repetitions));
  set("counter_backend", run.counter_backend);
  for (const auto& name : run.param_names) row.push_back(c.has(name) ? c.str(name) : "");
  return row;
}

void set_column(std::vector<std::string>& row, const char* col, std::string v) {
  const auto& cols = points_core_columns();
  row[std::find(cols.begin(), cols.end(), col) - cols.begin()] = std::move(v);
}

}  // namespace

TimeSummary summarize_times(std::vector<double> s) {
  TimeSummary t;
  if (s.empty()) return t;
  t.median = median_of(s);
  t.min = *std::min_element(s.begin(), s.end());
  t.max = *std::max_element(s.begin(), s.end());
  double mean = 0;
  for (double v : s) mean += v;
  mean /= s.size();
  double var = 0;
  for (double v : s) var += (v - mean) * (v - mean);
  t.cov = s.size() > 1 ? std::sqrt(var / (s.size() - 1)) / mean : 0.0;
  return t;
}

std::vector<std::string> make_unmeasured_row(const RunContext& run, const Experiment& x,
                                             const Point& p, const std::string& status,
                                             const std::string& reason) {
  auto row = base_row(run, x, p);
  set_column(row, "status", status);
  set_column(row, "status_reason", reason);
  return row;
}

PointRows make_rows(const RunContext& run, const Experiment& x, const Point& p,
                    const PointMeasurement& m) {
  PointRows out;
  auto row = base_row(run, x, p);
  set_column(row, "d_in", std::to_string(m.d_in));
  set_column(row, "d_out", std::to_string(m.d_out));
  set_column(row, "status", m.status);
  set_column(row, "status_reason", m.reason);
  set_column(row, "cpu_list", m.cpu_list);
  set_column(row, "gate_max_error", num(m.gate_max_error));
  set_column(row, "flops_model", num(m.cost.flops));
  set_column(row, "bytes_model", num(m.cost.weight_bytes + m.cost.activation_bytes));
  set_column(row, "weight_bytes_model", num(m.cost.weight_bytes));
  set_column(row, "working_set_bytes_model", num(m.cost.working_set_bytes));
  set_column(row, "extras", extras_text(m.extras));
  if (!m.reps.empty()) {
    std::vector<double> times, overhead;
    for (const auto& r : m.reps) {
      times.push_back(r.time_per_call_s);
      overhead.push_back(r.overhead_s / (r.time_per_call_s * r.iterations));
    }
    TimeSummary t = summarize_times(times);
    set_column(row, "iterations", std::to_string(m.reps.front().iterations));
    set_column(row, "time_median_s", num(t.median));
    set_column(row, "time_min_s", num(t.min));
    set_column(row, "time_max_s", num(t.max));
    set_column(row, "time_cov", num(t.cov));
    set_column(row, "tokens_per_s", num(p.tokens / t.median));
    set_column(row, "gflops_model_per_s", num(m.cost.flops / t.median / 1e9));
    set_column(row, "harness_overhead_frac", num(median_of(overhead)));
    set_column(row, "flops_hw", counted(m, kFlopEvents));
    set_column(row, "llc_misses", counted(m, kLlcMissEvents));
    set_column(row, "llc_refs", counted(m, kLlcRefEvents));
    double mem_bytes = NAN;
    set_column(row, "mem_bytes", counted(m, kMemByteEvents, &mem_bytes));
    if (std::isfinite(mem_bytes)) set_column(row, "mem_bw_gbs", num(mem_bytes / t.median / 1e9));
    std::set<std::string> sources;
    for (const auto& r : m.reps)
      for (const auto& c : r.counters) sources.insert(to_string(c.source));
    for (const auto& c : m.offline_counters) sources.insert(to_string(c.source));
    set_column(row, "counter_source", fmt::format("{}", fmt::join(sources, "+")));

    for (size_t s = 0; s < m.stage_names.size(); ++s) {
      std::vector<double> st;
      for (const auto& r : m.reps) st.push_back(s < r.stage_s_per_call.size() ? r.stage_s_per_call[s] : NAN);
      double med = median_of(st);
      out.stages.push_back({run.run_id, p.point_id, m.stage_names[s], num(med), num(med / t.median),
                            s < m.cost.stage_flops.size() ? num(m.cost.stage_flops[s]) : ""});
    }
    for (size_t r = 0; r < m.reps.size(); ++r) {
      const auto& rep = m.reps[r];
      out.reps.push_back({run.run_id, p.point_id, std::to_string(r), std::to_string(rep.iterations),
                          num(rep.time_per_call_s), num(rep.overhead_s)});
      for (const auto& c : rep.counters)
        out.counters.push_back({run.run_id, p.point_id, std::to_string(r), c.event, num(c.value),
                                to_string(c.source), num(c.enabled_s), num(c.running_s),
                                c.multiplexed ? "1" : "0", ""});
    }
  }
  for (const auto& c : m.offline_counters)  // a re-run, not a repetition
    out.counters.push_back({run.run_id, p.point_id, "rerun", c.event, num(c.value), to_string(c.source),
                            num(c.enabled_s), num(c.running_s), c.multiplexed ? "1" : "0", ""});
  for (const auto& [event, reason] : run.unavailable_events)
    out.counters.push_back({run.run_id, p.point_id, "", event, "", "", "", "", "", reason});
  out.point = std::move(row);
  return out;
}

}  // namespace ffnbench

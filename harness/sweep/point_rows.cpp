#include "sweep/point_rows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "counters/derived.hpp"
#include "machine/noise.hpp"
#include "stats/order_stats.hpp"
#include "results/quality.hpp"
#include "results/schema.hpp"
#include "sweep/roofline.hpp"

namespace ffnbench {

namespace {

std::string num(double v) { return fmt::format("{:.6g}", v); }

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? NAN : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One value per event for the point: the median over repetitions of in-process counts, plus the
// values of an out-of-process re-run (cachesim). Per forward call.
std::vector<CounterValue> representative_counts(const PointMeasurement& m) {
  std::map<std::string, std::vector<const CounterValue*>> by_event;
  for (const auto& rep : m.reps)
    for (const auto& c : rep.counters) by_event[c.event].push_back(&c);
  std::vector<CounterValue> out;
  for (const auto& [event, values] : by_event) {
    std::vector<double> v;
    for (const auto* c : values) v.push_back(c->value);
    CounterValue rep = *values.front();
    rep.value = median_of(v);
    rep.multiplexed = std::any_of(values.begin(), values.end(), [](auto* c) { return c->multiplexed; });
    out.push_back(rep);
  }
  out.insert(out.end(), m.offline_counters.begin(), m.offline_counters.end());
  return out;
}

std::string optional_num(const std::optional<double>& v) { return v ? num(*v) : ""; }

std::string extras_text(const std::map<std::string, std::string>& extras) {
  std::string s;
  for (const auto& [k, v] : extras) s += (s.empty() ? "" : ";") + k + "=" + v;
  return s;
}

// One stages.csv row: time, share of the call, and the stage against its roofline.
std::vector<std::string> stage_row(const RunContext& run, const Point& p, const PointMeasurement& m, size_t s,
                                   double median_s, double call_median_s) {
  const Cost& c = m.cost;
  auto at = [s](const std::vector<double>& v) { return s < v.size() ? std::optional<double>(v[s]) : std::nullopt; };
  const auto flops = at(c.stage_flops), bytes = at(c.stage_bytes), stream = at(c.stage_stream_bytes),
             working_set = at(c.stage_working_set_bytes);
  const bool timed = median_s > 0;
  auto rate = [&](std::optional<double> v) { return v && timed ? num(*v / median_s / 1e9) : ""; };
  std::optional<double> traffic;
  if (bytes || stream) traffic = bytes.value_or(0) + stream.value_or(0);
  StageBound b;
  if (!bytes || !working_set || !stream) b.note = "the variant states no traffic model for this stage";
  else if (!run.ceilings) b.note = run.ceilings_note;
  else {
    const std::string precision = s < c.stage_compute_precision.size() ? c.stage_compute_precision[s] : "fp32";
    b = stage_bound(*run.ceilings, p.threads, {flops.value_or(0), *bytes, *stream, *working_set, precision}, median_s);
  }
  return {run.run_id, p.point_id, m.stage_names[s], num(median_s), num(median_s / call_median_s),
          optional_num(flops), optional_num(bytes), optional_num(stream), optional_num(working_set),
          rate(flops), rate(traffic), b.level, b.bound, b.bound.empty() ? "" : num(b.bound_s),
          b.bound.empty() ? "" : num(b.fraction), b.note};
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
  set("inputs", p.inputs);
  // Trained weights: the quality they were trained to (meta.json), for every row of the point.
  if (auto q = read_quality(c.has("weights") ? c.str("weights") : "", p.block + ".weights")) {
    set("quality_metric", q->metric);
    set("quality_dataset", q->dataset);
    set("quality_value", num(q->value));
    set("quality_dense", std::isfinite(q->dense) ? num(q->dense) : "");
  }
  set("schedule", x.schedule);
  set("repetitions", std::to_string(x.repetitions));
  set("counter_backend", run.counter_backend);
  set("counter_fallbacks", run.counter_fallbacks);
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
  set_column(row, "onednn_isa", m.onednn_isa);
  set_column(row, "gate_max_error", num(m.gate.max_error));
  set_column(row, "gate_rows_checked", std::to_string(m.gate.rows_checked));
  set_column(row, "gate_rows_forgiven", std::to_string(m.gate.forgiven_rows));
  if (m.pytorch) {  // the optimized kernel's and the reference's largest error against PyTorch
    set_column(row, "fidelity_rel_error", num(m.pytorch->optimized.max_kept_error));
    set_column(row, "fidelity_reference_error", num(m.pytorch->reference.max_kept_error));
    set_column(row, "fidelity_rows_checked", std::to_string(m.pytorch->optimized.rows_checked));
    set_column(row, "fidelity_rows_forgiven", std::to_string(m.pytorch->optimized.forgiven_rows));
  }
  set_column(row, "input_batches", std::to_string(m.input_batches));
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
    // The median's distribution-free 95% CI (order statistics); none below 6 repetitions.
    const stats::Interval ci = stats::median_ci(times);
    const double ci_rel_halfwidth = ci.attainable && ci.estimate != 0 ? (ci.high - ci.low) / 2 / ci.estimate : NAN;
    if (ci.attainable) {
      set_column(row, "time_ci_low_s", num(ci.low));
      set_column(row, "time_ci_high_s", num(ci.high));
    }
    const auto& noise = m.noise;
    const double steal = noise.wall_s > 0 ? noise.steal_s / noise.wall_s : NAN;
    if (noise.wall_s > 0) {
      set_column(row, "steal_frac", num(steal));
      set_column(row, "other_load_frac", num(noise.other_s / noise.wall_s));
    }
    if (noise.mhz_samples > 0) set_column(row, "cpu_mhz", num(noise.mhz_sum / noise.mhz_samples));
    const std::string noisy = noisy_reason(ci_rel_halfwidth, steal);
    if (!noisy.empty() && m.status == "ok")
      set_column(row, "status_reason", m.reason.empty() ? noisy : m.reason + "; " + noisy);
    set_column(row, "tokens_per_s", num(p.tokens / t.median));
    set_column(row, "gflops_model_per_s", num(m.cost.flops / t.median / 1e9));
    set_column(row, "harness_overhead_frac", num(median_of(overhead)));
    PointInputs in;
    in.flops_model = m.cost.flops;
    in.bytes_model = m.cost.weight_bytes + m.cost.activation_bytes;
    in.tokens = static_cast<double>(p.tokens);
    in.time_s = t.median;
    in.line_bytes = run.llc_line_bytes;
    in.counted = find_counted_quantities(representative_counts(m));
    DerivedMetrics dm = derive_metrics(in);
    const auto& q = in.counted;
    set_column(row, "flops_hw", q.flops ? num(q.flops->value) : "");
    set_column(row, "llc_misses", q.llc_misses ? num(q.llc_misses->value) : "");
    set_column(row, "llc_refs", q.llc_refs ? num(q.llc_refs->value) : "");
    set_column(row, "mem_bytes", optional_num(dm.mem_bytes));
    set_column(row, "mem_bw_gbs", optional_num(dm.mem_bw_gbs));
    set_column(row, "bandwidth_basis", to_string(dm.bandwidth_basis));
    set_column(row, "intensity_model", num(dm.intensity_model));
    set_column(row, "gflops_hw_per_s", optional_num(dm.gflops_counted_per_s));
    set_column(row, "llc_misses_per_token", optional_num(dm.llc_misses_per_token));
    set_column(row, "llc_mpki", optional_num(dm.llc_misses_per_kilo_instruction));
    set_column(row, "llc_miss_ratio", optional_num(dm.llc_miss_ratio));
    set_column(row, "flop_agreement", to_string(dm.flop_agreement));
    set_column(row, "flop_note", dm.flop_note);
    std::set<std::string> sources;
    for (const auto& r : m.reps)
      for (const auto& c : r.counters) sources.insert(to_string(c.source));
    for (const auto& c : m.offline_counters) sources.insert(to_string(c.source));
    set_column(row, "counter_source", fmt::format("{}", fmt::join(sources, "+")));

    for (size_t s = 0; s < m.stage_names.size(); ++s) {
      std::vector<double> st;
      for (const auto& r : m.reps) st.push_back(s < r.stage_s_per_call.size() ? r.stage_s_per_call[s] : NAN);
      out.stages.push_back(stage_row(run, p, m, s, median_of(st), t.median));
    }
    for (size_t r = 0; r < m.reps.size(); ++r) {
      const auto& rep = m.reps[r];
      out.reps.push_back({run.run_id, p.point_id, std::to_string(r), std::to_string(rep.iterations),
                          num(rep.time_per_call_s), num(rep.overhead_s),
                          std::to_string(rep.round), std::to_string(rep.position)});
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

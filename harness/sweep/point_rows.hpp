// Turning one measured point into rows of points.csv, stages.csv, reps.csv and counters.csv.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "calibrate/calibrate.hpp"

#include "counters/backend.hpp"
#include "sweep/experiment.hpp"
#include "sweep/grid.hpp"
#include "sweep/measure.hpp"

namespace ffnbench {

struct RunContext {
  std::string run_id, machine_id, git_commit, counter_backend;
  std::string counter_fallbacks;  // backends passed over before counter_backend, each with why
  std::vector<std::string> param_names;  // the p_<param> columns, in order
  std::vector<std::pair<std::string, std::string>> unavailable_events;  // (event, reason)
  double llc_line_bytes = 64;  // for the LLC-miss traffic estimate
  std::optional<Ceilings> ceilings;  // the stages' roofline; absent: ceilings_note says why
  std::string ceilings_note;
};

struct PointRows {
  std::vector<std::string> point;
  std::vector<std::vector<std::string>> stages, reps, counters;
};

// Order statistics over repetitions.
struct TimeSummary {
  double median = 0, min = 0, max = 0, cov = 0;
};
TimeSummary summarize_times(std::vector<double> seconds);

PointRows make_rows(const RunContext& run, const Experiment& experiment, const Point& point,
                    const PointMeasurement& m);
// A row for a point that was not measured (invalid cell): parameters and the reason only.
std::vector<std::string> make_unmeasured_row(const RunContext& run, const Experiment& experiment,
                                             const Point& point, const std::string& status,
                                             const std::string& reason);

}  // namespace ffnbench

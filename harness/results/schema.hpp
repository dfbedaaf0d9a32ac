// The column sets of points.csv, stages.csv, reps.csv and counters.csv (DESIGN.md §3).
#pragma once

#include <string>
#include <vector>

namespace ffnbench {

// Core columns of points.csv, in order; the `p_<param>` columns follow.
const std::vector<std::string>& points_core_columns();
// points.csv header for an experiment whose variants declare `param_names` (sorted, unique).
std::vector<std::string> points_header(const std::vector<std::string>& param_names);
const std::vector<std::string>& stages_header();
const std::vector<std::string>& reps_header();
const std::vector<std::string>& counters_header();

}  // namespace ffnbench

// The column sets of points.csv, stages.csv, reps.csv and counters.csv (DESIGN.md §3).
#pragma once

#include <string>
#include <vector>

namespace ffnbench {

// The results schema this build writes (schema.json of every run and merged folder). Bump it when
// a column of the four CSVs is added, removed or renamed; merge/migrate.cpp reads older folders
// (1: written before schema.json, without inputs, schedule, the CIs, gate_rows_*, the noise
// columns and reps.csv's round and position; 2: without points.csv's onednn_isa).
inline constexpr int kResultsSchema = 3;
// schema.json's text: {"results_schema": N, "written_by": "ffnbench <version>"}.
std::string schema_json_text();

// Core columns of points.csv, in order; the `p_<param>` columns follow.
const std::vector<std::string>& points_core_columns();
// points.csv header for an experiment whose variants declare `param_names` (sorted, unique).
std::vector<std::string> points_header(const std::vector<std::string>& param_names);
const std::vector<std::string>& stages_header();
const std::vector<std::string>& reps_header();
const std::vector<std::string>& counters_header();

}  // namespace ffnbench

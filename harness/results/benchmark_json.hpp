// benchmark.json: a run folder in Google Benchmark's JSON reporter format (as GB 1.7 writes it),
// so that GB's tools (tools/compare.py) and dashboards that read that format can read our runs.
//
// context: GB's keys (date, host_name, executable, num_cpus, mhz_per_cpu, cpu_scaling_enabled,
// caches[] {type, level, size, num_sharing}, load_avg, library_build_type) from machine.json,
// plus ffnbench's facts (machine_id, git_commit, cpu_model, microarchitecture, libraries, ...).
// benchmarks: per point (points.csv order), one "iteration" entry per repetition of reps.csv,
// then the "aggregate" entries mean, median, stddev, cv (the last with aggregate_unit
// "percentage", its value a fraction as GB writes it) when there are 2+ repetitions. Times are in
// ms per call. cpu_time repeats real_time: ffnbench times wall clock only (the kernel runs on T
// threads of its own; GB's UseRealTime), so there is no per-repetition CPU time to give, and the
// same number keeps compare.py's CPU column from showing a ratio of something unmeasured.
// A point that failed (status other than ok, or no repetition) has no entry in benchmarks[]: GB
// would write one with error_occurred and zero times, which dashboards plot and compare.py's
// geometric mean multiplies in as times. context.failed_points lists them instead
// ({name, point_id, status, reason}).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ffnbench {

// GB-style name from a point_id: "block|k=v;k=v|N=64|T=2" -> "block/k:v/k:v/N:64/T:2".
std::string benchmark_name(const std::string& point_id);

// The document for a run folder (one machine). Throws ConfigError for a folder that is not a run
// folder (see load_dataset) or holds several machines' runs (a merged folder).
nlohmann::ordered_json benchmark_json(const std::string& run_folder);  // keys in GB's order

// Writes run_folder/benchmark.json atomically (temporary file in the folder + rename) and returns
// its path. Throws ConfigError("benchmark.json", path, reason) when it cannot be written.
std::string write_benchmark_json(const std::string& run_folder);

// For the sweep to call BEFORE a run (once the run folder exists): throws
// ConfigError("benchmark.json", path, reason) unless the folder exists, a file can be created and
// written in it, and no folder named benchmark.json is in the way. Leaves nothing behind.
void check_benchmark_json_writable(const std::string& run_folder);

}  // namespace ffnbench

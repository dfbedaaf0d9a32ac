// `ffnbench compare`: two run folders, point by point. The runs were not paired in time, so each
// point's time ratio B/A is the Hodges–Lehmann estimate with the Moses 95% CI over the two
// runs' repetitions, and the Mann–Whitney U test says whether the two samples differ at all.
#pragma once

#include <string>
#include <vector>

#include "stats/order_stats.hpp"
#include "stats/rank_tests.hpp"

namespace ffnbench {

struct CompareOptions {
  std::string run_a, run_b;  // run folders (or folders written by `ffnbench merge`)
  double threshold = 0.05;   // a change smaller than this fraction is not reported as one
  // points.csv columns to pair points on. Empty: pair by point_id, and refuse runs of
  // different experiments or column sets. Given: pair on these, whatever the runs are.
  std::vector<std::string> match;
  double alpha = 0.05;  // significance of the U test
  double level = 0.95;  // of the ratio's CI
};

// "5%", "5", "0.5%" -> 0.05, 0.05, 0.005: a number of percent, '%' optional (so 0.05 is 0.05%,
// not 5%). Any finite value >= 0: 100% flags a doubling (or a halving), 200% a tripling.
// Throws ConfigError("threshold", text, allowed) for anything else ("abc", "-3%", "", "nan").
double parse_threshold(const std::string& text);

// "variant,impl, tokens" -> {"variant", "impl", "tokens"}; ConfigError("match", text, ...) for
// an empty list or item.
std::vector<std::string> parse_match(const std::string& text);

enum class Change {
  none,         // not significant, or within the threshold
  regression,   // B slower: p < alpha and CI low > 1 + threshold
  improvement,  // B faster: p < alpha and CI high < 1 / (1 + threshold)
  untested,     // a side failed or has fewer than 2 repetitions
};
const char* to_string(Change c);

struct PointComparison {
  std::string key;                 // point_id, or "col=value;..." with --match
  std::string point_a, point_b;    // the point_ids paired
  size_t reps_a = 0, reps_b = 0;   // repetitions with a usable time
  double median_a = stats::kNaN, median_b = stats::kNaN;  // seconds per call
  stats::Interval ratio;           // time B / time A
  stats::MannWhitney test;         // of B's times against A's
  Change change = Change::none;
  std::string note;                // why untested
};

struct Comparison {
  std::string path_a, path_b, experiment_a, experiment_b;
  std::vector<PointComparison> points;  // in A's order
  std::vector<std::string> only_a, only_b;
  std::vector<std::string> warnings;    // for stderr: few repetitions, ...
  size_t count(Change c) const;
};

// Loads and pairs the two runs. Bad input throws ConfigError before anything is printed:
// a missing or unreadable run folder, runs of different experiments or column sets (naming the
// difference) unless options.match is given, match columns that are not in both points.csv, a
// key that names two points of one run, no point in common.
Comparison compare_runs(const CompareOptions& options);

// The report `ffnbench compare` prints: one line per point, then a summary.
std::string format_comparison(const Comparison& c, const CompareOptions& options);

// "12.3 ms", "850 us", "1.20 s".
std::string format_seconds(double s);

}  // namespace ffnbench

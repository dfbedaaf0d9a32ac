#include "compare/compare.hpp"
#include "core/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "core/params.hpp"
#include "merge/dataset.hpp"
#include "merge/experiment_diff.hpp"
#include "results/csv.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

namespace {


// Google Benchmark's compare.py: "9+ repetitions recommended".
constexpr size_t kRecommendedRepetitions = 9;

struct Side {
  Dataset data;
  std::string label;  // "A" / "B"
  std::string experiment;
  // key -> row of points.csv, in file order.
  std::vector<std::string> keys;
  std::map<std::string, size_t> row_of_key;
  std::map<std::pair<std::string, std::string>, std::vector<double>> times;  // (run_id, point_id)
};

std::string experiment_name(const Dataset& d) {
  const auto settings = experiment_settings(d.experiment_text);
  if (auto it = settings.find("name"); it != settings.end() && !it->second.empty()) return it->second;
  // results/<experiment>/<machine_id>/<run_id>
  fs::path p = fs::path(d.path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  const std::string from_path = p.parent_path().parent_path().filename().string();
  return from_path.empty() ? "(unnamed)" : from_path;
}

Side load_side(const std::string& path, const std::string& label) {
  if (path.empty())
    throw ConfigError("run " + label, "", "is missing: ffnbench compare <run A> <run B>");
  if (!fs::exists(path))
    throw ConfigError("run " + label, path,
                      "does not exist: give a run folder written by `ffnbench sweep` "
                      "(results/<experiment>/<machine_id>/<run_id>) or by `ffnbench merge`");
  Side s{load_dataset(path), label, "", {}, {}, {}};
  s.experiment = experiment_name(s.data);
  const CsvTable& reps = s.data.reps;
  const size_t rid = reps.column("run_id"), pid = reps.column("point_id"), tcol = reps.column("time_s");
  for (const auto& row : reps.rows) {
    char* end = nullptr;
    errno = 0;
    const double t = std::strtod(row[tcol].c_str(), &end);
    if (row[tcol].empty() || end == row[tcol].c_str() || *end != '\0' || errno == ERANGE || !std::isfinite(t) || t <= 0)
      continue;  // a repetition without a time (failed) says nothing about speed
    s.times[{row[rid], row[pid]}].push_back(t);
  }
  return s;
}

void check_same_experiment(const Side& a, const Side& b) {
  if (a.experiment != b.experiment)
    throw ConfigError("experiment", fmt::format("'{}' (A) vs '{}' (B)", a.experiment, b.experiment),
                      "compare pairs points of two runs of one experiment (the `name` in experiment.ini, else "
                      "the folder results/<experiment>/...); to pair points of different experiments, say on "
                      "which points.csv columns: --match variant,impl,tokens,threads");
  const std::set<std::string> ca(a.data.points.header.begin(), a.data.points.header.end()),
      cb(b.data.points.header.begin(), b.data.points.header.end());
  if (ca != cb)
    throw ConfigError("schema", fmt::format("{} vs {}", a.data.points.path, b.data.points.path),
                      fmt::format("the two points.csv must have the same columns; B's differ from A's: {} "
                                  "(runs of different ffnbench versions or parameter sets; --match <columns> "
                                  "pairs them anyway)",
                                  describe_column_difference(a.data.points.header, b.data.points.header)));
}

void index_points(Side& s, const std::vector<std::string>& match) {
  const CsvTable& points = s.data.points;
  std::vector<size_t> cols;
  if (match.empty()) {
    cols.push_back(points.column("point_id"));
  } else {
    for (const auto& m : match) {
      auto it = std::find(points.header.begin(), points.header.end(), m);
      if (it == points.header.end())
        throw ConfigError("match", m,
                          fmt::format("must be a column of both points.csv; {} ({}) has: {}", points.path,
                                      s.label, fmt::join(points.header, ", ")));
      cols.push_back(static_cast<size_t>(it - points.header.begin()));
    }
  }
  const size_t mid = points.column("machine_id");
  for (size_t r = 0; r < points.rows.size(); ++r) {
    const auto& row = points.rows[r];
    std::string key;
    if (match.empty()) {
      key = row[cols[0]];
    } else {
      for (size_t i = 0; i < cols.size(); ++i) key += fmt::format("{}{}={}", i ? ";" : "", match[i], row[cols[i]]);
    }
    auto [it, fresh] = s.row_of_key.try_emplace(key, r);
    if (!fresh) {
      const auto& first = points.rows[it->second];
      if (match.empty())
        throw ConfigError("run " + s.label, s.data.path,
                          fmt::format("holds point '{}' twice ({}:{} of machine {}, line {} of machine {}): compare "
                                      "one run folder per side, or pair on more columns, e.g. --match "
                                      "point_id,machine_id",
                                      key, points.path, points.lines[it->second], first[mid], points.lines[r],
                                      row[mid]));
      throw ConfigError("match", fmt::format("{}", fmt::join(match, ",")),
                        fmt::format("must tell the points of a run apart, but '{}' names two points of {} ({}, "
                                    "lines {} and {}): add columns that differ between them",
                                    key, s.label, points.path, points.lines[it->second], points.lines[r]));
    }
    s.keys.push_back(key);
  }
}

std::string status_of(const Side& s, size_t row) {
  const auto& h = s.data.points.header;
  auto it = std::find(h.begin(), h.end(), "status");
  return it == h.end() ? "ok" : s.data.points.rows[row][static_cast<size_t>(it - h.begin())];
}

const std::vector<double>& times_of(const Side& s, size_t row) {
  static const std::vector<double> none;
  const auto& points = s.data.points;
  const auto& r = points.rows[row];
  auto it = s.times.find({r[points.column("run_id")], r[points.column("point_id")]});
  return it == s.times.end() ? none : it->second;
}

}  // namespace

double parse_threshold(const std::string& text) {
  static const std::string allowed =
      "a percentage >= 0: '5%', '5' (both 5%), '0.5%'; a change smaller than it is not flagged";
  std::string t = trim(text);
  if (!t.empty() && t.back() == '%') t = trim(t.substr(0, t.size() - 1));
  if (t.empty()) throw ConfigError("threshold", text, allowed);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size() || errno == ERANGE || !std::isfinite(v) || v < 0)
    throw ConfigError("threshold", text, allowed);
  return v / 100.0;
}

std::vector<std::string> parse_match(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string item = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (item.empty())
      throw ConfigError("match", text,
                        "a comma-separated list of points.csv columns to pair points on, e.g. "
                        "variant,impl,tokens,threads (no empty item)");
    out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

const char* to_string(Change c) {
  switch (c) {
    case Change::regression: return "regression";
    case Change::improvement: return "improvement";
    case Change::untested: return "untested";
    case Change::none: break;
  }
  return "none";
}

size_t Comparison::count(Change c) const {
  return static_cast<size_t>(std::count_if(points.begin(), points.end(), [c](const auto& p) { return p.change == c; }));
}

Comparison compare_runs(const CompareOptions& options) {
  if (!(options.threshold >= 0) || !std::isfinite(options.threshold))
    throw ConfigError("threshold", fmt::format("{}", options.threshold), "a fraction >= 0");
  Side a = load_side(options.run_a, "A");
  Side b = load_side(options.run_b, "B");
  if (options.match.empty()) check_same_experiment(a, b);
  index_points(a, options.match);
  index_points(b, options.match);

  Comparison c;
  c.path_a = a.data.path;
  c.path_b = b.data.path;
  c.experiment_a = a.experiment;
  c.experiment_b = b.experiment;
  for (const auto& key : a.keys) {
    auto it = b.row_of_key.find(key);
    if (it == b.row_of_key.end()) {
      c.only_a.push_back(key);
      continue;
    }
    const size_t ra = a.row_of_key.at(key), rb = it->second;
    PointComparison p;
    p.key = key;
    p.point_a = a.data.points.rows[ra][a.data.points.column("point_id")];
    p.point_b = b.data.points.rows[rb][b.data.points.column("point_id")];
    const auto& ta = times_of(a, ra);
    const auto& tb = times_of(b, rb);
    p.reps_a = ta.size();
    p.reps_b = tb.size();
    p.median_a = stats::median(ta);
    p.median_b = stats::median(tb);
    const std::string sa = status_of(a, ra), sb = status_of(b, rb);
    auto failed = [](const std::string& status) { return !status.empty() && status != "ok"; };
    if (failed(sa) || failed(sb)) {
      p.change = Change::untested;
      p.note = failed(sa) ? fmt::format("status {} in A", sa) : fmt::format("status {} in B", sb);
    } else if (p.reps_a < 2 || p.reps_b < 2) {
      p.change = Change::untested;
      p.note = fmt::format("{} vs {} repetitions: a test needs 2+ on each side", p.reps_a, p.reps_b);
    } else {
      p.ratio = stats::ratio_ci_unpaired(tb, ta, options.level);
      p.test = stats::mann_whitney_u(tb, ta);
      const bool significant = p.test.p < options.alpha && p.ratio.attainable;
      if (significant && p.ratio.low > 1.0 + options.threshold) p.change = Change::regression;
      else if (significant && p.ratio.high < 1.0 / (1.0 + options.threshold)) p.change = Change::improvement;
      if (p.reps_a < kRecommendedRepetitions || p.reps_b < kRecommendedRepetitions)
        c.warnings.push_back(fmt::format(
            "{}: {} vs {} repetitions: results unreliable, {}+ repetitions recommended (as Google Benchmark's "
            "compare.py warns)",
            key, p.reps_a, p.reps_b, kRecommendedRepetitions));
    }
    c.points.push_back(std::move(p));
  }
  for (const auto& key : b.keys)
    if (!a.row_of_key.count(key)) c.only_b.push_back(key);
  if (c.points.empty())
    throw ConfigError(options.match.empty() ? "point_id" : "match",
                      options.match.empty() ? fmt::format("{} vs {}", c.path_a, c.path_b) : fmt::format("{}", fmt::join(options.match, ",")),
                      fmt::format("the two runs have no point in common ({} points in A, {} in B){}",
                                  a.keys.size(), b.keys.size(),
                                  options.match.empty() ? "" : ": pair on columns whose values both runs share"));
  return c;
}

std::string format_seconds(double s) {
  if (!std::isfinite(s)) return "-";
  const double a = std::fabs(s);
  if (a >= 1.0) return fmt::format("{:.3g} s", s);
  if (a >= 1e-3) return fmt::format("{:.3g} ms", s * 1e3);
  if (a >= 1e-6) return fmt::format("{:.3g} us", s * 1e6);
  return fmt::format("{:.3g} ns", s * 1e9);
}

std::string format_comparison(const Comparison& c, const CompareOptions& options) {
  std::string out;
  out += fmt::format("A: {} ({})\nB: {} ({})\n", c.path_a, c.experiment_a, c.path_b, c.experiment_b);
  out += fmt::format("time ratio B/A: Hodges-Lehmann estimate, Moses {:g}% CI, Mann-Whitney two-sided p; "
                     "flagged when p < {:g} and the CI lies beyond x{:.4g} or x{:.4g} (threshold {:g}%)\n\n",
                     options.level * 100, options.alpha, 1.0 + options.threshold, 1.0 / (1.0 + options.threshold),
                     options.threshold * 100);
  size_t width = 5;
  for (const auto& p : c.points) width = std::max(width, p.key.size());
  out += fmt::format("{:<{}}  {:>7}  {:>10}  {:>10}  {:>7}  {:>17}  {:>8}  {}\n", "point", width, "reps", "A median",
                     "B median", "B/A", "CI", "p", "change");
  bool short_ci = false;
  for (const auto& p : c.points) {
    const std::string reps = fmt::format("{}/{}", p.reps_a, p.reps_b);
    if (p.change == Change::untested) {
      out += fmt::format("{:<{}}  {:>7}  {:>10}  {:>10}  {:>7}  {:>17}  {:>8}  untested: {}\n", p.key, width, reps,
                         format_seconds(p.median_a), format_seconds(p.median_b), "-", "-", "-", p.note);
      continue;
    }
    const bool low_cov = !p.ratio.attainable;
    short_ci = short_ci || low_cov;
    const std::string ci = fmt::format("[{:.3f}, {:.3f}]{}", p.ratio.low, p.ratio.high, low_cov ? "*" : "");
    const std::string pvalue = p.test.p < 1e-4 ? fmt::format("{:.1e}", p.test.p) : fmt::format("{:.4f}", p.test.p);
    out += fmt::format("{:<{}}  {:>7}  {:>10}  {:>10}  {:>7.3f}  {:>17}  {:>8}  {}\n", p.key, width, reps,
                       format_seconds(p.median_a), format_seconds(p.median_b), p.ratio.estimate, ci, pvalue,
                       p.change == Change::none ? "" : to_string(p.change));
  }
  if (short_ci)
    out += fmt::format("* too few repetitions for a {:g}% CI: [min, max] of the pairwise ratios, with less "
                       "coverage; never flagged\n",
                       options.level * 100);
  auto list = [&](const char* side, const std::vector<std::string>& keys) {
    if (keys.empty()) return;
    out += fmt::format("only in {} ({}):", side, keys.size());
    for (size_t i = 0; i < std::min<size_t>(keys.size(), 10); ++i) out += " " + keys[i];
    if (keys.size() > 10) out += fmt::format(" ... and {} more", keys.size() - 10);
    out += "\n";
  };
  list("A", c.only_a);
  list("B", c.only_b);
  out += fmt::format("\n{} points compared: {} regressions, {} improvements, {} unchanged, {} untested\n",
                     c.points.size(), c.count(Change::regression), c.count(Change::improvement), c.count(Change::none),
                     c.count(Change::untested));
  return out;
}

}  // namespace ffnbench

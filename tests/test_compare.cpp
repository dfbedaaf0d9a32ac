// `ffnbench compare`: two small run folders with known repetition times, compared point by point.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "compare/compare.hpp"
#include "core/params.hpp"
#include "results/csv.hpp"
#include "support_run_folders.hpp"

namespace fs = std::filesystem;

namespace ffnbench {
namespace {

using testing::SyntheticPoint;
using testing::SyntheticRun;

SyntheticPoint point(int64_t tokens, const std::string& impl = "openblas") {
  SyntheticPoint p;
  p.tokens = tokens;
  p.impl = impl;
  return p;
}

// reps.csv in the interleaved schema (round, position), with these times per point_id.
void write_reps(const fs::path& dir, const std::string& run_id, const std::map<std::string, std::vector<double>>& times) {
  std::string text = csv_line({"run_id", "point_id", "repetition", "iterations", "time_s", "overhead_s", "round", "position"});
  size_t position = 0;
  for (const auto& [pid, ts] : times) {
    for (size_t r = 0; r < ts.size(); ++r)
      text += csv_line({run_id, pid, std::to_string(r), "10", fmt::format("{:.17g}", ts[r]), "0", std::to_string(r),
                        std::to_string(position)});
    ++position;
  }
  std::ofstream(dir / "reps.csv") << text;
}

// n times around `base`, spread by `step` in an order given by `stride` (coprime with n: no two equal).
std::vector<double> times(double base, size_t n = 10, size_t stride = 1, double jitter = 0, double step = 0.01) {
  std::vector<double> v;
  for (size_t i = 0; i < n; ++i) v.push_back(base * (1.0 + step * static_cast<double>((i * stride) % n) + jitter));
  return v;
}

struct Runs {
  fs::path root, a, b;
};

// A: three points. B: the first 20% slower, the second 20% faster, the third unchanged.
Runs make_runs(const std::string& tag, size_t reps = 10, double slower = 1.2, double step = 0.01) {
  Runs r;
  r.root = testing::test_temp_dir(tag);
  SyntheticRun run;
  run.points = {point(64), point(128), point(256)};
  run.run_id = "20240101-120000";
  r.a = testing::write_run(r.root / "tiny", run);
  const auto& p = run.points;
  write_reps(r.a, run.run_id,
             {{p[0].point_id(), times(1e-3, reps, 1, 0, step)}, {p[1].point_id(), times(2e-3, reps, 1, 0, step)},
              {p[2].point_id(), times(4e-3, reps, 1, 0, step)}});
  run.run_id = "20240102-120000";
  r.b = testing::write_run(r.root / "tiny", run);
  write_reps(r.b, run.run_id,
             {{p[0].point_id(), times(slower * 1e-3, reps, 7, step / 20, step)},
              {p[1].point_id(), times(0.8 * 2e-3, reps, 7, step / 20, step)},
              {p[2].point_id(), times(4e-3, reps, 7, step / 20, step)}});
  return r;
}

CompareOptions options_for(const Runs& r) {
  CompareOptions o;
  o.run_a = r.a.string();
  o.run_b = r.b.string();
  return o;
}

template <class F>
ConfigError config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return ConfigError("", "", "");
}

TEST(CompareThreshold, PercentagesWithOrWithoutTheSign) {
  EXPECT_DOUBLE_EQ(parse_threshold("5%"), 0.05);
  EXPECT_DOUBLE_EQ(parse_threshold("5"), 0.05);
  EXPECT_DOUBLE_EQ(parse_threshold("0.5%"), 0.005);
  EXPECT_DOUBLE_EQ(parse_threshold(" 10 % "), 0.10);
  EXPECT_DOUBLE_EQ(parse_threshold("0"), 0.0);
  EXPECT_DOUBLE_EQ(parse_threshold("150%"), 1.5);  // a 2.5x change
  for (const char* bad : {"abc", "-3%", "", "%", "nan", "inf%", "5%%", "5x", "1e999"}) {
    ConfigError e = config_error([&] { parse_threshold(bad); });
    EXPECT_EQ(e.key(), "threshold") << bad;
    EXPECT_EQ(e.value(), bad);
    EXPECT_NE(e.allowed().find("percentage"), std::string::npos);
  }
}

TEST(CompareMatch, CommaSeparatedColumns) {
  EXPECT_EQ(parse_match("variant, impl,tokens"), (std::vector<std::string>{"variant", "impl", "tokens"}));
  EXPECT_EQ(config_error([] { parse_match("variant,,tokens"); }).key(), "match");
  EXPECT_EQ(config_error([] { parse_match(""); }).key(), "match");
}

TEST(CompareRuns, FlagsARegressionAndAnImprovementWithTheirIntervals) {
  Runs r = make_runs("cmp");
  Comparison c = compare_runs(options_for(r));
  ASSERT_EQ(c.points.size(), 3u);
  const auto& slow = c.points[0];
  EXPECT_EQ(slow.change, Change::regression);
  EXPECT_EQ(slow.reps_a, 10u);
  EXPECT_EQ(slow.reps_b, 10u);
  EXPECT_NEAR(slow.ratio.estimate, 1.2, 0.02);
  EXPECT_LT(slow.ratio.low, 1.2);
  EXPECT_GT(slow.ratio.high, 1.2);
  EXPECT_TRUE(slow.ratio.attainable);
  EXPECT_GE(slow.ratio.coverage, 0.95);
  EXPECT_TRUE(slow.test.exact);
  EXPECT_NEAR(slow.test.p, 2.0 / 184756, 1e-12);  // complete separation of 10 and 10: 2 / C(20, 10)
  EXPECT_EQ(c.points[1].change, Change::improvement);
  EXPECT_NEAR(c.points[1].ratio.estimate, 0.8, 0.02);
  EXPECT_EQ(c.points[2].change, Change::none);
  EXPECT_GT(c.points[2].test.p, 0.05);
  EXPECT_EQ(c.count(Change::regression), 1u);
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_TRUE(c.only_a.empty());

  const std::string report = format_comparison(c, options_for(r));
  EXPECT_NE(report.find("regression"), std::string::npos) << report;
  EXPECT_NE(report.find("improvement"), std::string::npos);
  EXPECT_NE(report.find("1 regressions, 1 improvements, 1 unchanged"), std::string::npos) << report;
  fs::remove_all(r.root);
}

TEST(CompareRuns, AChangeWithinTheThresholdIsNotFlagged) {
  Runs r = make_runs("cmp_thr", 10, 1.03, 0.001);  // 3% slower, every repetition (spread 0.9%)
  CompareOptions o = options_for(r);
  Comparison c = compare_runs(o);
  EXPECT_LT(c.points[0].test.p, 0.05);  // significant, but small
  EXPECT_EQ(c.points[0].change, Change::none);
  o.threshold = 0.01;
  EXPECT_EQ(compare_runs(o).points[0].change, Change::regression);
  fs::remove_all(r.root);
}

TEST(CompareRuns, WarnsBelowNineRepetitionsAndNeverFlagsAnIntervalShortOfItsLevel) {
  Runs r = make_runs("cmp_few", 3);
  Comparison c = compare_runs(options_for(r));
  ASSERT_EQ(c.warnings.size(), 3u);
  EXPECT_NE(c.warnings[0].find("3 vs 3 repetitions"), std::string::npos) << c.warnings[0];
  EXPECT_NE(c.warnings[0].find("9+"), std::string::npos);
  // 3 vs 3: p >= 0.1 and the CI cannot reach 95%: nothing is flagged.
  EXPECT_FALSE(c.points[0].ratio.attainable);
  EXPECT_EQ(c.count(Change::regression), 0u);
  EXPECT_NE(format_comparison(c, options_for(r)).find("* too few repetitions"), std::string::npos);
  fs::remove_all(r.root);
}

TEST(CompareRuns, PointsOfOneSideOnlyAreListed) {
  Runs r = make_runs("cmp_only");
  SyntheticRun more;
  more.run_id = "20240103-120000";
  more.points = {point(64), point(512)};
  fs::path c_dir = testing::write_run(r.root / "tiny", more);
  write_reps(c_dir, more.run_id, {{more.points[0].point_id(), times(1e-3)}, {more.points[1].point_id(), times(1e-3)}});
  CompareOptions o = options_for(r);
  o.run_b = c_dir.string();
  Comparison c = compare_runs(o);
  EXPECT_EQ(c.points.size(), 1u);
  EXPECT_EQ(c.only_a.size(), 2u);
  ASSERT_EQ(c.only_b.size(), 1u);
  EXPECT_EQ(c.only_b[0], more.points[1].point_id());
  fs::remove_all(r.root);
}

TEST(CompareRuns, RefusesRunsOfDifferentExperimentsUnlessToldWhatToPairOn) {
  Runs r = make_runs("cmp_exp");
  std::ofstream(r.b / "experiment.ini") << "name = other\ntokens = 64\n";
  ConfigError e = config_error([&] { compare_runs(options_for(r)); });
  EXPECT_EQ(e.key(), "experiment");
  EXPECT_NE(e.value().find("'tiny' (A) vs 'other' (B)"), std::string::npos) << e.value();
  EXPECT_NE(e.allowed().find("--match"), std::string::npos);
  CompareOptions o = options_for(r);
  o.match = {"tokens", "threads"};
  Comparison c = compare_runs(o);
  ASSERT_EQ(c.points.size(), 3u);
  EXPECT_EQ(c.points[0].key, "tokens=64;threads=1");
  EXPECT_EQ(c.points[0].change, Change::regression);
  fs::remove_all(r.root);
}

TEST(CompareRuns, RefusesRunsWithOtherColumnsNamingTheDifference) {
  Runs r = make_runs("cmp_schema");
  SyntheticRun other;
  other.run_id = "20240104-120000";
  other.param_names = {"d", "d_ff", "experts"};
  other.points = {point(64)};
  fs::path c_dir = testing::write_run(r.root / "tiny", other);
  write_reps(c_dir, other.run_id, {{other.points[0].point_id(), times(1e-3)}});
  CompareOptions o = options_for(r);
  o.run_b = c_dir.string();
  ConfigError e = config_error([&] { compare_runs(o); });
  EXPECT_EQ(e.key(), "schema");
  EXPECT_NE(e.allowed().find("p_experts"), std::string::npos) << e.allowed();
  EXPECT_NE(e.allowed().find("p_tau"), std::string::npos) << e.allowed();
  o.match = {"point_id"};
  EXPECT_EQ(compare_runs(o).points.size(), 1u);
  fs::remove_all(r.root);
}

TEST(CompareRuns, BadInputNamesKeyValueAndWhatIsAllowed) {
  Runs r = make_runs("cmp_bad");
  CompareOptions o = options_for(r);
  o.run_a = (r.root / "nope").string();
  ConfigError missing = config_error([&] { compare_runs(o); });
  EXPECT_EQ(missing.key(), "run A");
  EXPECT_EQ(missing.value(), o.run_a);
  o = options_for(r);
  o.match = {"no_such_column"};
  ConfigError col = config_error([&] { compare_runs(o); });
  EXPECT_EQ(col.key(), "match");
  EXPECT_EQ(col.value(), "no_such_column");
  o.match = {"variant"};  // all three points are gemm_ffn
  ConfigError ambiguous = config_error([&] { compare_runs(o); });
  EXPECT_EQ(ambiguous.key(), "match");
  EXPECT_NE(ambiguous.allowed().find("tell the points of a run apart"), std::string::npos);
  fs::remove_all(r.root);
}

TEST(CompareRuns, FailedPointsAreUntested) {
  Runs r = make_runs("cmp_failed");
  std::string points = testing::slurp(r.b / "points.csv");
  const std::string pid = point(128).point_id();
  size_t at = points.find(pid);
  ASSERT_NE(at, std::string::npos);
  size_t ok = points.find(",ok,", at);
  points.replace(ok, 4, ",gate_failed,");
  std::ofstream(r.b / "points.csv") << points;
  Comparison c = compare_runs(options_for(r));
  EXPECT_EQ(c.points[1].change, Change::untested);
  EXPECT_EQ(c.points[1].note, "status gate_failed in B");
  fs::remove_all(r.root);
}

TEST(CompareCli, ExitStatusSaysWhetherThereIsARegression) {
  Runs r = make_runs("cmp_cli");
  const auto before = std::distance(fs::directory_iterator(r.a), fs::directory_iterator());
  auto regression = testing::run_cli(fmt::format("compare {} {}", r.a.string(), r.b.string()));
  EXPECT_EQ(regression.status, 1) << regression.output;
  EXPECT_NE(regression.output.find("regression"), std::string::npos) << regression.output;
  // B against itself: nothing changed.
  auto same = testing::run_cli(fmt::format("compare {} {} --threshold 5%", r.b.string(), r.b.string()));
  EXPECT_EQ(same.status, 0) << same.output;
  EXPECT_NE(same.output.find("0 regressions"), std::string::npos) << same.output;
  // A large threshold forgives a 20% slowdown.
  auto forgiven = testing::run_cli(fmt::format("compare {} {} --threshold 30", r.a.string(), r.b.string()));
  EXPECT_EQ(forgiven.status, 0) << forgiven.output;
  auto matched = testing::run_cli(fmt::format("compare {} {} --match tokens --match threads", r.a.string(), r.b.string()));
  EXPECT_EQ(matched.status, 1) << matched.output;
  EXPECT_NE(matched.output.find("tokens=64;threads=1"), std::string::npos) << matched.output;
  EXPECT_EQ(std::distance(fs::directory_iterator(r.a), fs::directory_iterator()), before);  // writes nothing
  fs::remove_all(r.root);
}

TEST(CompareCli, HelpSaysWhatIsComparedAndHow) {
  auto help = testing::run_cli("compare --help");
  EXPECT_EQ(help.status, 0) << help.output;
  for (const char* word : {"Hodges-Lehmann", "Moses", "Mann-Whitney", "--threshold", "--match", "Exit status"})
    EXPECT_NE(help.output.find(word), std::string::npos) << word << "\n" << help.output;
}

TEST(CompareCli, BadInputExitsTwoWithOneMessage) {
  Runs r = make_runs("cmp_cli_bad", 5);
  auto bad = testing::run_cli(fmt::format("compare {} {} --threshold abc", r.a.string(), r.b.string()));
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("invalid value 'abc' for 'threshold'"), std::string::npos) << bad.output;
  auto one = testing::run_cli(fmt::format("compare {}", r.a.string()));
  EXPECT_EQ(one.status, 2) << one.output;
  EXPECT_NE(one.output.find("'runs'"), std::string::npos) << one.output;
  auto missing = testing::run_cli(fmt::format("compare {} {}", r.a.string(), (r.root / "missing").string()));
  EXPECT_EQ(missing.status, 2) << missing.output;
  EXPECT_NE(missing.output.find("'run B'"), std::string::npos) << missing.output;
  auto few = testing::run_cli(fmt::format("compare {} {}", r.a.string(), r.b.string()));
  EXPECT_NE(few.output.find("warning:"), std::string::npos) << few.output;
  EXPECT_NE(few.output.find("9+ repetitions recommended"), std::string::npos) << few.output;
  fs::remove_all(r.root);
}

}  // namespace
}  // namespace ffnbench

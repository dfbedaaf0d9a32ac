// The statistics behind every CI, ratio and verdict, checked against answers worked out by hand
// (binomial and Mann–Whitney counts), published Mann–Whitney tables, and the p-values that
// scipy (and so Google Benchmark's compare.py) reports.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "stats/order_stats.hpp"
#include "stats/rank_tests.hpp"
#include "stats/verdict.hpp"

namespace ffnbench::stats {
namespace {

std::vector<double> iota_values(size_t n, double first = 1.0) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

TEST(StatsBinomial, HalfCdfMatchesCountsOverPowersOfTwo) {
  EXPECT_DOUBLE_EQ(binomial_half_cdf(10, 0), 1.0 / 1024);
  EXPECT_DOUBLE_EQ(binomial_half_cdf(10, 1), 11.0 / 1024);
  EXPECT_DOUBLE_EQ(binomial_half_cdf(10, 2), 56.0 / 1024);
  EXPECT_DOUBLE_EQ(binomial_half_cdf(20, 5), 21700.0 / 1048576);
  EXPECT_DOUBLE_EQ(binomial_half_cdf(7, 7), 1.0);
  EXPECT_NEAR(binomial_half_cdf(1001, 500), 0.5, 1e-12);  // symmetric: P(X <= 500) = 1/2
}

TEST(StatsMedianCi, TenValuesUseTheSecondAndNinthOrderStatistics) {
  // 1 - 2·P(B(10) <= 1) = 1 - 22/1024 = 97.85% >= 95%, while ranks 3 and 8 cover only 89.06%.
  Interval ci = median_ci({7, 3, 10, 1, 5, 9, 2, 8, 4, 6});
  EXPECT_TRUE(ci.attainable);
  EXPECT_EQ(ci.n, 10u);
  EXPECT_EQ(ci.low_rank, 2u);
  EXPECT_EQ(ci.high_rank, 9u);
  EXPECT_DOUBLE_EQ(ci.low, 2);
  EXPECT_DOUBLE_EQ(ci.high, 9);
  EXPECT_DOUBLE_EQ(ci.estimate, 5.5);
  EXPECT_DOUBLE_EQ(ci.coverage, 1.0 - 22.0 / 1024);
}

TEST(StatsMedianCi, PublishedRanksForNineAndTwentyValues) {
  Interval nine = median_ci(iota_values(9));
  EXPECT_EQ(nine.low_rank, 2u);
  EXPECT_EQ(nine.high_rank, 8u);
  EXPECT_DOUBLE_EQ(nine.coverage, 1.0 - 20.0 / 512);
  EXPECT_DOUBLE_EQ(nine.estimate, 5);
  Interval twenty = median_ci(iota_values(20));
  EXPECT_EQ(twenty.low_rank, 6u);
  EXPECT_EQ(twenty.high_rank, 15u);
  EXPECT_NEAR(twenty.coverage, 0.9586, 1e-4);
}

TEST(StatsMedianCi, FewerThanSixValuesCannotReach95Percent) {
  Interval five = median_ci({5, 1, 4, 2, 3});
  EXPECT_FALSE(five.attainable);
  EXPECT_DOUBLE_EQ(five.low, 1);
  EXPECT_DOUBLE_EQ(five.high, 5);
  EXPECT_DOUBLE_EQ(five.coverage, 1.0 - 2.0 / 32);  // 93.75%
  Interval six = median_ci(iota_values(6));
  EXPECT_TRUE(six.attainable);
  EXPECT_EQ(six.low_rank, 1u);
  EXPECT_EQ(six.high_rank, 6u);
  EXPECT_DOUBLE_EQ(six.coverage, 1.0 - 2.0 / 64);
  // At 90% five values suffice.
  EXPECT_TRUE(median_ci(iota_values(5), 0.90).attainable);
}

TEST(StatsMedianCi, EdgeCases) {
  Interval none = median_ci({});
  EXPECT_EQ(none.n, 0u);
  EXPECT_FALSE(none.attainable);
  EXPECT_TRUE(std::isnan(none.estimate));
  Interval one = median_ci({3.5});
  EXPECT_FALSE(one.attainable);
  EXPECT_DOUBLE_EQ(one.low, 3.5);
  EXPECT_DOUBLE_EQ(one.high, 3.5);
  EXPECT_DOUBLE_EQ(one.coverage, 0.0);
  Interval with_nan = median_ci({1, NAN, 2, INFINITY, 3});
  EXPECT_EQ(with_nan.n, 3u);
  EXPECT_DOUBLE_EQ(with_nan.estimate, 2);
  EXPECT_THROW(median_ci({1, 2}, 1.5), std::invalid_argument);
  EXPECT_THROW(median_ci({1, 2}, 0.0), std::invalid_argument);
}

TEST(StatsMedianCi, LargeSamplesTakeTheNarrowestIntervalThatReachesTheLevel) {
  for (size_t n : {50u, 101u, 1000u}) {
    Interval ci = median_ci(iota_values(n));
    ASSERT_TRUE(ci.attainable) << n;
    EXPECT_EQ(ci.low_rank + ci.high_rank, n + 1);
    EXPECT_GE(ci.coverage, 0.95);
    // One rank further in would fall short.
    EXPECT_LT(1.0 - 2.0 * binomial_half_cdf(n, ci.low_rank), 0.95) << n;
    // About n/2 - 1.96·√n/2 (normal approximation).
    EXPECT_NEAR(static_cast<double>(ci.low_rank), n / 2.0 - 0.98 * std::sqrt(static_cast<double>(n)), 2.0);
  }
}

TEST(StatsPairedRatio, MedianOfPerRoundRatios) {
  Interval same = paired_ratio({2, 4, 6, 8, 10, 12}, {1, 2, 3, 4, 5, 6});
  EXPECT_DOUBLE_EQ(same.estimate, 2);
  EXPECT_DOUBLE_EQ(same.low, 2);
  EXPECT_DOUBLE_EQ(same.high, 2);
  EXPECT_TRUE(same.attainable);
  // Ratios 1.1, 0.9, 1.2, 1.0, 1.05, 0.95, 1.3 -> sorted 0.9 0.95 1.0 1.05 1.1 1.2 1.3;
  // n = 7: ranks 1 and 7 (98.4%); ranks 2 and 6 would cover 87.5%.
  Interval r = paired_ratio({1.1, 0.9, 1.2, 1.0, 1.05, 0.95, 1.3}, {1, 1, 1, 1, 1, 1, 1});
  EXPECT_DOUBLE_EQ(r.estimate, 1.05);
  EXPECT_DOUBLE_EQ(r.low, 0.9);
  EXPECT_DOUBLE_EQ(r.high, 1.3);
  EXPECT_DOUBLE_EQ(r.coverage, 1.0 - 2.0 / 128);
  // A pair with a missing or non-positive time is dropped, not the whole sample.
  EXPECT_EQ(paired_ratio({1, 2, NAN, 4}, {1, 0, 3, 2}).n, 2u);
  EXPECT_THROW(paired_ratio({1, 2}, {1}), std::invalid_argument);
}

TEST(StatsPairedRatio, PairsByRound) {
  // Round 2 has no partner in b; round 0 has two samples in a, one in b.
  auto [a, b] = pair_by_round({{1, 10.0}, {0, 1.0}, {2, 7.0}, {0, 1.5}}, {{0, 2.0}, {1, 20.0}, {3, 9.0}});
  EXPECT_EQ(a, (std::vector<double>{1.0, 10.0}));
  EXPECT_EQ(b, (std::vector<double>{2.0, 20.0}));
}

TEST(StatsMannWhitney, NullCountsForThreeAndThree) {
  EXPECT_EQ(mann_whitney_null_counts(3, 3), (std::vector<double>{1, 1, 2, 3, 3, 3, 3, 2, 1, 1}));
  EXPECT_EQ(mann_whitney_null_counts(2, 2), (std::vector<double>{1, 1, 2, 1, 1}));
  auto c = mann_whitney_null_counts(10, 7);
  EXPECT_DOUBLE_EQ(std::accumulate(c.begin(), c.end(), 0.0), 19448);  // C(17, 7)
}

TEST(StatsMannWhitney, CriticalValuesMatchPublishedTables) {
  // Two-sided alpha = 0.05 (reject when min(U, mn - U) <= c), e.g. Zar, Biostatistical Analysis, Table B.11.
  EXPECT_EQ(mann_whitney_critical_value(3, 3), -1);
  EXPECT_EQ(mann_whitney_critical_value(3, 5), 0);
  EXPECT_EQ(mann_whitney_critical_value(3, 6), 1);
  EXPECT_EQ(mann_whitney_critical_value(4, 4), 0);
  EXPECT_EQ(mann_whitney_critical_value(5, 5), 2);
  EXPECT_EQ(mann_whitney_critical_value(6, 6), 5);
  EXPECT_EQ(mann_whitney_critical_value(7, 7), 8);
  EXPECT_EQ(mann_whitney_critical_value(8, 8), 13);
  EXPECT_EQ(mann_whitney_critical_value(9, 9), 17);
  EXPECT_EQ(mann_whitney_critical_value(10, 10), 23);
  EXPECT_EQ(mann_whitney_critical_value(5, 10), 8);
  EXPECT_EQ(mann_whitney_critical_value(5, 20), 20);
  EXPECT_EQ(mann_whitney_critical_value(20, 20), 127);
  EXPECT_EQ(mann_whitney_critical_value(10, 10, 0.01), 16);
}

TEST(StatsMannWhitney, ExactPForTinySamples) {
  // Complete separation of 3 and 3: P(U = 0) = 1/C(6,3) = 1/20, two-sided 0.1 (scipy: 0.1).
  MannWhitney sep = mann_whitney_u({1, 2, 3}, {4, 5, 6});
  EXPECT_TRUE(sep.exact);
  EXPECT_DOUBLE_EQ(sep.u, 0);
  EXPECT_DOUBLE_EQ(sep.p, 0.1);
  EXPECT_DOUBLE_EQ(mann_whitney_u({4, 5, 6}, {1, 2, 3}).u, 9);
  EXPECT_DOUBLE_EQ(mann_whitney_u({4, 5, 6}, {1, 2, 3}).p, 0.1);
  // Interleaved: U = 3, P(U <= 3) = 7/20, p = 0.7.
  MannWhitney mixed = mann_whitney_u({1, 3, 5}, {2, 4, 6});
  EXPECT_DOUBLE_EQ(mixed.u, 3);
  EXPECT_DOUBLE_EQ(mixed.p, 0.7);
  // 4 vs 4 separated: 2/70.
  EXPECT_DOUBLE_EQ(mann_whitney_u({1, 2, 3, 4}, {5, 6, 7, 8}).p, 2.0 / 70);
  // Google Benchmark's tools/gbench/Inputs/test3_run{0,1}.json, BM_Two: compare.py prints
  // p = 1.0000 for time (9, 8 vs 10, 7) and 0.6667 for CPU (90, 80 vs 89, 70) with scipy >= 1.7.
  EXPECT_DOUBLE_EQ(mann_whitney_u({9, 8}, {10, 7}).p, 1.0);
  EXPECT_DOUBLE_EQ(mann_whitney_u({90, 80}, {89, 70}).p, 2.0 / 3);
}

TEST(StatsMannWhitney, NormalApproximationWithTieAndContinuityCorrection) {
  // Older compare.py (scipy's asymptotic p) printed 0.6985 for BM_Two's CPU times.
  MannWhitney old = mann_whitney_u({90, 80}, {89, 70}, UMethod::asymptotic);
  EXPECT_FALSE(old.exact);
  EXPECT_NEAR(old.p, 0.6985353583033387, 1e-12);
  // Ties (2 three times, 3 twice): midranks give R_a = 1 + 3 + 3 + 5.5, U = 2.5; σ² =
  // 16/12 · (9 - 30/56); z = (13.5 - 8 - 0.5)/σ; p = erfc(z/√2) = 0.13665824773814753.
  MannWhitney tied = mann_whitney_u({1, 2, 2, 3}, {2, 3, 4, 5});
  EXPECT_TRUE(tied.ties);
  EXPECT_FALSE(tied.exact);
  EXPECT_DOUBLE_EQ(tied.u, 2.5);
  EXPECT_NEAR(tied.p, 0.13665824773814753, 1e-12);
  // All equal: nothing to tell apart.
  EXPECT_DOUBLE_EQ(mann_whitney_u({1, 1, 1}, {1, 1}).p, 1.0);
  // Large samples go asymptotic and agree with the exact p where both exist.
  std::vector<double> a = iota_values(40, 0.0), b = iota_values(40, 5.5);
  double exact = mann_whitney_u(a, b, UMethod::exact).p, approx = mann_whitney_u(a, b, UMethod::asymptotic).p;
  EXPECT_NEAR(exact, approx, 0.05 * exact);
  EXPECT_FALSE(mann_whitney_u(iota_values(60), iota_values(60, 0.5)).exact);
  EXPECT_TRUE(std::isnan(mann_whitney_u({}, {1, 2}).p));
}

TEST(StatsRatioUnpaired, HodgesLehmannIsTheMedianPairwiseRatio) {
  // Ratios a_i / b_j: 2 1 .5 4 2 1 8 4 2 -> median 2. 3 vs 3 cannot reach 95% (90%): [min, max].
  Interval ci = ratio_ci_unpaired({10, 20, 40}, {5, 10, 20});
  EXPECT_NEAR(ci.estimate, 2.0, 1e-12);
  EXPECT_FALSE(ci.attainable);
  EXPECT_NEAR(ci.low, 0.5, 1e-12);
  EXPECT_NEAR(ci.high, 8.0, 1e-12);
  EXPECT_DOUBLE_EQ(ci.coverage, 0.9);
  EXPECT_EQ(ci.n, 9u);
}

TEST(StatsRatioUnpaired, MosesIntervalFromMannWhitneyCriticalValues) {
  // a = 2·b, powers of two: the 16 ratios are 2^e, e = -2 (1), -1 (2), 0 (3), 1 (4), 2 (3), 3 (2), 4 (1).
  // 4 vs 4: critical value 0, k = 1: [min, max] = [1/4, 16] with coverage 1 - 2/70.
  Interval four = ratio_ci_unpaired({2, 4, 8, 16}, {1, 2, 4, 8});
  EXPECT_NEAR(four.estimate, 2.0, 1e-12);
  EXPECT_TRUE(four.attainable);
  EXPECT_NEAR(four.low, 0.25, 1e-12);
  EXPECT_NEAR(four.high, 16.0, 1e-12);
  EXPECT_DOUBLE_EQ(four.coverage, 1.0 - 2.0 / 70);
  // 5 vs 5: critical value 2, k = 3: the 3rd and 23rd of 25 ratios, 2^-2 and 2^4; P(U <= 2) = 4/252.
  Interval five = ratio_ci_unpaired({2, 4, 8, 16, 32}, {1, 2, 4, 8, 16});
  EXPECT_EQ(five.low_rank, 3u);
  EXPECT_EQ(five.high_rank, 23u);
  EXPECT_NEAR(five.estimate, 2.0, 1e-12);
  EXPECT_NEAR(five.low, 0.25, 1e-12);
  EXPECT_NEAR(five.high, 16.0, 1e-12);
  EXPECT_NEAR(five.coverage, 1.0 - 8.0 / 252, 1e-12);
}

TEST(StatsRatioUnpaired, ShiftedSamplesAndLargeSizes) {
  std::vector<double> a, b;
  for (int i = 0; i < 60; ++i) {
    a.push_back(1.0 + 0.001 * i);
    b.push_back(1.5 * (1.0 + 0.001 * ((i * 7) % 60)));
  }
  Interval ci = ratio_ci_unpaired(b, a);  // b is 1.5x a
  EXPECT_NEAR(ci.estimate, 1.5, 1e-9);
  EXPECT_TRUE(ci.attainable);
  EXPECT_LT(ci.low, 1.5);
  EXPECT_GT(ci.high, 1.5);
  EXPECT_GT(ci.low, 1.4);
  EXPECT_LT(ci.high, 1.6);
  EXPECT_NEAR(ci.coverage, 0.95, 0.002);
  EXPECT_GE(ci.coverage, 0.95);
  // Non-positive and missing times are left out.
  EXPECT_EQ(ratio_ci_unpaired({1, 0, -1, NAN, 2}, {1, 2}).n, 4u);
  EXPECT_TRUE(std::isnan(ratio_ci_unpaired({}, {1}).estimate));
}

TEST(StatsVerdict, HoldsOnlyWhenTheIntervalClearsTheClaim) {
  Interval ci;
  ci.attainable = true;
  ci.low = 1.8;
  ci.high = 2.4;
  EXPECT_EQ(verdict(ci, 1.5), Verdict::holds);
  EXPECT_EQ(verdict(ci, 2.0), Verdict::inconclusive);
  EXPECT_EQ(verdict(ci, 3.0), Verdict::fails);
  EXPECT_EQ(verdict(ci, 3.0, Claim::at_most), Verdict::holds);
  EXPECT_EQ(verdict(ci, 1.5, Claim::at_most), Verdict::fails);
  EXPECT_EQ(verdict(ci, 2.0, Claim::at_most), Verdict::inconclusive);
  EXPECT_EQ(verdict(ci, NAN), Verdict::inconclusive);
  ci.attainable = false;  // [min, max] of 5 values: below the level asked for
  EXPECT_EQ(verdict(ci, 1.5), Verdict::inconclusive);
  EXPECT_EQ(to_string(Verdict::holds), "holds");
  EXPECT_EQ(to_string(Verdict::fails), "fails");
  EXPECT_EQ(to_string(Verdict::inconclusive), "inconclusive");
  // End to end: eight rounds, every one at least 1.9x.
  Interval speedup = paired_ratio({2.0, 2.1, 1.95, 2.05, 2.2, 1.9, 2.0, 2.1}, std::vector<double>(8, 1.0));
  EXPECT_EQ(verdict(speedup, 1.5), Verdict::holds);
}

}  // namespace
}  // namespace ffnbench::stats

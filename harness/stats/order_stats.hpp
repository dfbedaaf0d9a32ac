// Distribution-free intervals read off order statistics: the CI of a median, and of the median
// ratio of paired samples (DESIGN.md §8: every median has a 95% CI, every ratio a CI from paired
// rounds). No distribution is assumed; only that the values are independent draws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace ffnbench::stats {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// An estimate with an interval [low, high] that covers the true value with probability
// `coverage` (exact under the method's assumptions). `attainable` is false when no interval of
// the method reaches `level` with this many values: the widest one is returned ([min, max] for
// order statistics) with its smaller coverage, and a verdict on it is `inconclusive`.
struct Interval {
  double estimate = kNaN, low = kNaN, high = kNaN;
  double level = 0.95;     // asked for
  double coverage = kNaN;  // reached (>= level when attainable)
  bool attainable = false;
  size_t n = 0;            // values the interval is read from (values, pairs)
  // 1-based order statistics of the sorted values that are the bounds (0 when n == 0).
  size_t low_rank = 0, high_rank = 0;
};

// P(X <= k) for X ~ Binomial(n, 1/2), exact (log-gamma terms summed; accurate for any n).
double binomial_half_cdf(size_t n, size_t k);

// The sample median (mean of the two middle values for an even count); NaN when empty.
double median(std::vector<double> values);

// CI of the median by order statistics: sorted x(1) <= ... <= x(n), the interval
// [x(k), x(n+1-k)] covers the median with probability 1 - 2·P(Bin(n, 1/2) <= k-1); k is the
// largest rank whose coverage is >= level. n < 6 cannot reach 95% (n = 5: [min, max] covers
// with 93.75%): [min, max] is returned, attainable = false. Non-finite values are ignored.
// Throws std::invalid_argument for a level outside (0, 1).
Interval median_ci(std::vector<double> values, double level = 0.95);

// Ratios a[i] / b[i] of paired samples (pair i = one round of an interleaved schedule, so drift
// hits both alike), their median and its order-statistic CI (median_ci of the ratios). Pairs
// with a non-finite or non-positive member are ignored. Throws std::invalid_argument when the
// sizes differ.
Interval paired_ratio(const std::vector<double>& a, const std::vector<double>& b, double level = 0.95);

// Pairs two points' repetitions by round: a sample is (round, value). The k-th sample of round r
// in `a` (in the given order) pairs with the k-th sample of round r in `b`; samples without a
// partner are left out. Returns the paired values in order of round, for paired_ratio.
std::pair<std::vector<double>, std::vector<double>> pair_by_round(
    const std::vector<std::pair<int64_t, double>>& a, const std::vector<std::pair<int64_t, double>>& b);

}  // namespace ffnbench::stats

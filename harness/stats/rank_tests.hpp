// Two-sample rank methods for runs that were not paired in time (two run folders, two
// machines): the Mann–Whitney U test, and the Hodges–Lehmann estimate with the Moses
// distribution-free CI of a ratio of locations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "stats/order_stats.hpp"

namespace ffnbench::stats {

// Samples up to this size (each) get the exact null distribution of U; beyond it the normal
// approximation is used. Exact counting costs O(m·n·m·n) additions: 6M at 50 × 50.
inline constexpr size_t kExactUMaxSize = 50;

// Counts of the null distribution of U for sizes m, n (no ties): element u is the number of
// the C(m+n, m) rankings with U = u, u = 0 .. m·n. Doubles: exact up to 2^53, then to 1e-16.
std::vector<double> mann_whitney_null_counts(size_t m, size_t n);

// The largest c with P(U <= c) <= alpha / 2 under the null (exact for m, n <= kExactUMaxSize,
// else the normal approximation with continuity correction); -1 when even P(U <= 0) exceeds it
// (too few values to reject at this alpha). This is the two-sided critical value of the
// published Mann–Whitney tables: reject when min(U, m·n - U) <= c.
int64_t mann_whitney_critical_value(size_t m, size_t n, double alpha = 0.05);

enum class UMethod {
  automatic,   // exact when there are no ties and both sizes <= kExactUMaxSize, else asymptotic
  exact,       // exact null distribution; ties are broken as if absent (conservative-ish)
  asymptotic,  // normal approximation, tie-corrected variance, continuity correction
};

struct MannWhitney {
  double u = kNaN;  // U of `a`: pairs (a_i, b_j) with a_i > b_j, a tie counting 1/2 (scipy's U1)
  double p = kNaN;  // two-sided p-value; NaN when a sample is empty
  size_t n_a = 0, n_b = 0;
  bool exact = false;  // p from the exact distribution
  bool ties = false;   // some value occurs in both or twice
};

// Two-sided Mann–Whitney U test of `a` against `b` (non-finite values ignored).
// automatic differs from scipy.stats.mannwhitneyu's 'auto' (exact only when a sample has <= 8
// values) for 9..50 values: the exact p is used where it is cheap, as the normal approximation is
// off in the tails there. asymptotic reproduces scipy's (and so Google Benchmark's compare.py's)
// p-values: z = (max(U, m·n - U) - m·n/2 - 1/2) / σ, σ² = m·n/12 · ((N+1) - Σ(t³-t)/(N(N-1))).
MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b,
                           UMethod method = UMethod::automatic);

// Ratio of the locations of `a` over `b` (e.g. the time of run B over run A) for unpaired
// samples of positive values (others ignored). On d_ij = log a_i - log b_j (all m·n of them):
// estimate = exp(median d) (Hodges–Lehmann), interval = exp of [d(k), d(m·n+1-k)] (Moses), with
// k - 1 = mann_whitney_critical_value(m, n, 1 - level); coverage = 1 - 2·P(U <= k-1).
// Not attainable (e.g. 3 vs 3 at 95%: even [min d, max d] covers with 90%): [min d, max d].
// `n` of the result is m·n; low_rank/high_rank are ranks among the sorted differences.
Interval ratio_ci_unpaired(const std::vector<double>& a, const std::vector<double>& b, double level = 0.95);

// The standard normal quantile Φ⁻¹(p), p in (0, 1).
double normal_quantile(double p);

}  // namespace ffnbench::stats

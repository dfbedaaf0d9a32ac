#include "stats/rank_tests.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <stdexcept>

namespace ffnbench::stats {

namespace {

std::vector<double> finite_only(const std::vector<double>& v) {
  std::vector<double> out;
  out.reserve(v.size());
  for (double x : v)
    if (std::isfinite(x)) out.push_back(x);
  return out;
}

std::vector<double> logs_of_positive(const std::vector<double>& v) {
  std::vector<double> out;
  out.reserve(v.size());
  for (double x : v)
    if (std::isfinite(x) && x > 0) out.push_back(std::log(x));
  return out;
}

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// P(U <= c) under the null; c may be negative (0) or beyond m·n (1).
double lower_tail(const std::vector<double>& counts, double total, int64_t c) {
  if (c < 0) return 0.0;
  const size_t last = std::min(static_cast<size_t>(c), counts.size() - 1);
  double sum = 0.0;
  for (size_t u = 0; u <= last; ++u) sum += counts[u];
  return std::min(sum / total, 1.0);
}

bool use_exact(size_t m, size_t n) { return m <= kExactUMaxSize && n <= kExactUMaxSize; }

// A comparison of many points asks for the same few (m, n) again and again.
struct NullDistribution {
  std::vector<double> counts;
  double total = 0;
};
const NullDistribution& null_distribution(size_t m, size_t n) {
  static std::mutex mutex;
  static std::map<std::pair<size_t, size_t>, NullDistribution> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, fresh] = cache.try_emplace({m, n});
  if (fresh) {
    it->second.counts = mann_whitney_null_counts(m, n);
    it->second.total = std::accumulate(it->second.counts.begin(), it->second.counts.end(), 0.0);
  }
  return it->second;  // std::map nodes stay put
}

}  // namespace

double normal_quantile(double p) {
  if (!(p > 0.0 && p < 1.0)) throw std::invalid_argument(fmt::format("normal_quantile({}) needs p in (0, 1)", p));
  // Bisection on the CDF: slow-ish (200 steps) but exact to the last bit, and called rarely.
  double lo = -40.0, hi = 40.0;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    (normal_cdf(mid) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::vector<double> mann_whitney_null_counts(size_t m, size_t n) {
  // f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u): the largest of the i+j values is either one of
  // the i (it exceeds all j of the other sample: +j to U) or one of the j. Two layers in i.
  const size_t width = m * n + 1;
  std::vector<std::vector<double>> prev(n + 1, std::vector<double>(width, 0.0)), cur = prev;
  for (size_t j = 0; j <= n; ++j) prev[j][0] = 1.0;  // i = 0: U = 0 only
  for (size_t i = 1; i <= m; ++i) {
    std::fill(cur[0].begin(), cur[0].end(), 0.0);
    cur[0][0] = 1.0;  // j = 0
    for (size_t j = 1; j <= n; ++j) {
      const size_t top = i * j;  // U ranges over 0 .. i·j
      for (size_t u = 0; u <= top; ++u) cur[j][u] = cur[j - 1][u] + (u >= j ? prev[j][u - j] : 0.0);
      std::fill(cur[j].begin() + static_cast<std::ptrdiff_t>(top + 1), cur[j].end(), 0.0);
    }
    std::swap(prev, cur);
  }
  return prev[n];
}

int64_t mann_whitney_critical_value(size_t m, size_t n, double alpha) {
  if (!(alpha > 0.0 && alpha < 1.0)) throw std::invalid_argument(fmt::format("alpha {} must lie in (0, 1)", alpha));
  if (m == 0 || n == 0) return -1;
  if (use_exact(m, n)) {
    const auto& [counts, total] = null_distribution(m, n);
    double cum = 0.0;
    int64_t c = -1;
    for (size_t u = 0; u < counts.size(); ++u) {
      cum += counts[u];
      // A hair of slack so that a tail equal to alpha/2 (e.g. 1/40 = 0.025) counts as inside.
      if (cum / total > alpha / 2 * (1 + 1e-12)) break;
      c = static_cast<int64_t>(u);
    }
    return c;
  }
  const double mn = static_cast<double>(m) * static_cast<double>(n);
  const double sigma = std::sqrt(mn * static_cast<double>(m + n + 1) / 12.0);
  // Φ((c + 1/2 - mn/2) / σ) <= alpha/2.
  const double c = std::floor(mn / 2 - 0.5 + normal_quantile(alpha / 2) * sigma);
  return c < 0 ? -1 : static_cast<int64_t>(c);
}

MannWhitney mann_whitney_u(const std::vector<double>& a_in, const std::vector<double>& b_in, UMethod method) {
  const std::vector<double> a = finite_only(a_in), b = finite_only(b_in);
  MannWhitney r;
  r.n_a = a.size();
  r.n_b = b.size();
  if (a.empty() || b.empty()) return r;
  const size_t m = a.size(), n = b.size(), total_n = m + n;

  // Midranks of the pooled sample; tie groups t for the variance correction.
  std::vector<std::pair<double, bool>> pooled;  // value, from a
  pooled.reserve(total_n);
  for (double x : a) pooled.push_back({x, true});
  for (double x : b) pooled.push_back({x, false});
  std::sort(pooled.begin(), pooled.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  double rank_sum_a = 0.0, tie_term = 0.0;
  for (size_t i = 0; i < total_n;) {
    size_t j = i;
    while (j < total_n && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k)
      if (pooled[k].second) rank_sum_a += midrank;
    if (j - i > 1) {
      r.ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  const double mn = static_cast<double>(m) * static_cast<double>(n);
  r.u = rank_sum_a - static_cast<double>(m) * static_cast<double>(m + 1) / 2.0;

  const bool exact = method == UMethod::exact || (method == UMethod::automatic && !r.ties && use_exact(m, n));
  if (exact) {
    r.exact = true;
    const auto& [counts, total] = null_distribution(m, n);
    const double low = lower_tail(counts, total, static_cast<int64_t>(std::floor(r.u)));
    // P(U >= u) = P(U <= m·n - u) by symmetry.
    const double high = lower_tail(counts, total, static_cast<int64_t>(std::floor(mn - std::ceil(r.u))));
    r.p = std::min(1.0, 2.0 * std::min(low, high));
    return r;
  }
  const double N = static_cast<double>(total_n);
  const double variance = mn / 12.0 * ((N + 1.0) - tie_term / (N * (N - 1.0)));
  if (!(variance > 0)) {  // every value equal: nothing tells the samples apart
    r.p = 1.0;
    return r;
  }
  const double big_u = std::max(r.u, mn - r.u);
  const double z = (big_u - mn / 2.0 - 0.5) / std::sqrt(variance);
  r.p = std::min(1.0, 2.0 * normal_cdf(-z));
  return r;
}

Interval ratio_ci_unpaired(const std::vector<double>& a_in, const std::vector<double>& b_in, double level) {
  if (!(level > 0.0 && level < 1.0))
    throw std::invalid_argument(fmt::format("confidence level {} must lie in (0, 1), e.g. 0.95", level));
  const std::vector<double> la = logs_of_positive(a_in), lb = logs_of_positive(b_in);
  Interval ci;
  ci.level = level;
  if (la.empty() || lb.empty()) return ci;
  const size_t m = la.size(), n = lb.size();
  std::vector<double> d;
  d.reserve(m * n);
  for (double x : la)
    for (double y : lb) d.push_back(x - y);
  std::sort(d.begin(), d.end());
  const size_t count = d.size();
  ci.n = count;
  ci.estimate = std::exp(count % 2 ? d[count / 2] : 0.5 * (d[count / 2 - 1] + d[count / 2]));

  const int64_t c = mann_whitney_critical_value(m, n, 1.0 - level);
  const size_t k = c < 0 ? 1 : static_cast<size_t>(c) + 1;  // ranks k .. m·n+1-k
  ci.attainable = c >= 0;
  ci.low_rank = k;
  ci.high_rank = count + 1 - k;
  ci.low = std::exp(d[ci.low_rank - 1]);
  ci.high = std::exp(d[ci.high_rank - 1]);
  // Coverage 1 - 2·P(U <= k-1).
  const int64_t below = static_cast<int64_t>(k) - 1;
  double tail;
  if (use_exact(m, n)) {
    const auto& [counts, total] = null_distribution(m, n);
    tail = lower_tail(counts, total, below);
  } else {
    const double mn = static_cast<double>(m) * static_cast<double>(n);
    const double sigma = std::sqrt(mn * static_cast<double>(m + n + 1) / 12.0);
    tail = normal_cdf((static_cast<double>(below) + 0.5 - mn / 2.0) / sigma);
  }
  ci.coverage = 1.0 - 2.0 * tail;
  return ci;
}

}  // namespace ffnbench::stats

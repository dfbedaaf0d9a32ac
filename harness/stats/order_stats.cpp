#include "stats/order_stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

namespace ffnbench::stats {

namespace {

void check_level(double level) {
  if (!(level > 0.0 && level < 1.0))
    throw std::invalid_argument(fmt::format("confidence level {} must lie in (0, 1), e.g. 0.95", level));
}

std::vector<double> finite_sorted(std::vector<double> values) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
               values.end());
  std::sort(values.begin(), values.end());
  return values;
}

double median_of_sorted(const std::vector<double>& s) {
  if (s.empty()) return kNaN;
  const size_t n = s.size();
  return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
}

}  // namespace

double binomial_half_cdf(size_t n, size_t k) {
  if (k >= n) return 1.0;
  if (n <= 62) {  // exact counts: C(62, 31) and their sum (< 2^62) fit 64 bits; one rounding
    uint64_t c = 1, sum = 1;  // C(n, 0)
    for (size_t i = 1; i <= k; ++i) {
      c = c / i * (n + 1 - i) + c % i * (n + 1 - i) / i;  // C(n, i) = C(n, i-1)·(n+1-i)/i, exact
      sum += c;
    }
    return std::ldexp(static_cast<double>(sum), -static_cast<int>(n));
  }
  // Sum the pmf C(n, i) / 2^n in log space, largest term first to keep precision.
  const double log_total = static_cast<double>(n) * std::log(2.0);
  const double lg_n1 = std::lgamma(static_cast<double>(n) + 1.0);
  double sum = 0.0;
  for (size_t i = k + 1; i-- > 0;) {
    const double log_c = lg_n1 - std::lgamma(static_cast<double>(i) + 1.0) -
                         std::lgamma(static_cast<double>(n - i) + 1.0);
    const double term = std::exp(log_c - log_total);
    sum += term;
    if (term < sum * 1e-18) break;  // the remaining (smaller) terms no longer change the sum
  }
  return std::min(sum, 1.0);
}

double median(std::vector<double> values) { return median_of_sorted(finite_sorted(std::move(values))); }

Interval median_ci(std::vector<double> values, double level) {
  check_level(level);
  const std::vector<double> s = finite_sorted(std::move(values));
  Interval ci;
  ci.level = level;
  ci.n = s.size();
  if (s.empty()) return ci;
  const size_t n = s.size();
  ci.estimate = median_of_sorted(s);
  // Coverage of [x(k), x(n+1-k)] is 1 - 2·P(B <= k-1); it falls as k grows. Take the largest
  // k (the narrowest interval) whose coverage still reaches the level.
  size_t k = 0;
  double coverage = kNaN;
  for (size_t c = 1; 2 * c <= n + 1; ++c) {
    const double cov = 1.0 - 2.0 * binomial_half_cdf(n, c - 1);
    if (cov < level) break;
    k = c;
    coverage = cov;
  }
  if (k == 0) {  // even [min, max] falls short of the level
    ci.attainable = false;
    ci.low_rank = 1;
    ci.high_rank = n;
    ci.coverage = 1.0 - 2.0 * binomial_half_cdf(n, 0);
  } else {
    ci.attainable = true;
    ci.low_rank = k;
    ci.high_rank = n + 1 - k;
    ci.coverage = coverage;
  }
  ci.low = s[ci.low_rank - 1];
  ci.high = s[ci.high_rank - 1];
  return ci;
}

Interval paired_ratio(const std::vector<double>& a, const std::vector<double>& b, double level) {
  if (a.size() != b.size())
    throw std::invalid_argument(
        fmt::format("paired_ratio needs samples of equal size (pairs), got {} and {}", a.size(), b.size()));
  std::vector<double> ratios;
  ratios.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i)
    if (std::isfinite(a[i]) && std::isfinite(b[i]) && a[i] > 0 && b[i] > 0) ratios.push_back(a[i] / b[i]);
  return median_ci(std::move(ratios), level);
}

std::pair<std::vector<double>, std::vector<double>> pair_by_round(
    const std::vector<std::pair<int64_t, double>>& a, const std::vector<std::pair<int64_t, double>>& b) {
  std::map<int64_t, std::vector<double>> by_round_a, by_round_b;
  for (const auto& [round, v] : a) by_round_a[round].push_back(v);
  for (const auto& [round, v] : b) by_round_b[round].push_back(v);
  std::pair<std::vector<double>, std::vector<double>> out;
  for (const auto& [round, va] : by_round_a) {
    auto it = by_round_b.find(round);
    if (it == by_round_b.end()) continue;
    for (size_t k = 0; k < std::min(va.size(), it->second.size()); ++k) {
      out.first.push_back(va[k]);
      out.second.push_back(it->second[k]);
    }
  }
  return out;
}

}  // namespace ffnbench::stats

#include "moe/routing.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include "common/random.hpp"

namespace ffnbench {

void route_top_k(const float* logits, int64_t experts, int64_t k, int32_t* chosen, float* weights) {
  float max = logits[0];
  for (int64_t e = 1; e < experts; ++e) max = std::max(max, logits[e]);
  // Selection by repeated arg-max: strict '>' keeps the lower index on ties.
  float total = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    int32_t best = -1;
    for (int64_t e = 0; e < experts; ++e) {
      bool taken = false;
      for (int64_t j = 0; j < i; ++j) taken = taken || chosen[j] == e;
      if (!taken && (best < 0 || logits[e] > logits[best])) best = static_cast<int32_t>(e);
    }
    chosen[i] = best;
    weights[i] = std::exp(logits[best] - max);  // softmax numerators; the denominator cancels
    total += weights[i];
  }
  for (int64_t i = 0; i < k; ++i) weights[i] /= total;
}

void fill_router(float* router, int64_t d, int64_t experts, uint64_t seed) {
  const float a = 1.0f / std::sqrt(static_cast<float>(d));
  fill_uniform(router, static_cast<size_t>(d * experts), seed, 61, -a, a);
}

double top_k_margin(const float* logits, const double* scale, int64_t experts, int64_t k) {
  if (k >= experts) return std::numeric_limits<double>::infinity();
  std::vector<int32_t> chosen(k);
  std::vector<float> weights(k);
  route_top_k(logits, experts, k, chosen.data(), weights.data());
  std::vector<bool> taken(experts, false);
  for (int32_t c : chosen) taken[c] = true;
  double margin = std::numeric_limits<double>::infinity();
  for (int32_t a : chosen)
    for (int64_t b = 0; b < experts; ++b) {
      if (taken[b]) continue;
      const double gap = double(logits[a]) - double(logits[b]);  // >= 0: a was chosen over b
      const double s = scale[a] + scale[b];
      margin = std::min(margin, s > 0 ? gap / s : (gap > 0 ? std::numeric_limits<double>::infinity() : 0.0));
    }
  return margin;
}

// Why γ_d + 2u. A length-d dot product evaluated in float, in any summation order, with or
// without FMA, is within γ_d·Σ|x_i·w_i| of the exact value, γ_d = d·u/(1 − d·u) (Higham, Accuracy
// and Stability of Numerical Algorithms, §3.1); that bounds the optimized logits (OpenBLAS sgemm).
// The reference sums in double and rounds once to float: within u·|l| + d·2^-53·Σ|x_i·w_i| <
// 2u·Σ|x_i·w_i| (for d < 2^28) of exact. Expert a beats b in the reference's float logits but loses
// in the optimized ones only if their reference gap is at most the sum of both logits' two errors,
// (γ_d + 2u)·(scale_a + scale_b): a margin, in the units top_k_margin uses, of at most γ_d + 2u.
// At d = 512 that is 3.1e-5 (random rows have margins of order 1/sqrt(d) ≈ 0.04 spread about 0).
double top_k_epsilon(int64_t d) {
  const double u = std::ldexp(1.0, -24), du = static_cast<double>(d) * u;
  return du / (1.0 - du) + 2.0 * u;
}

}  // namespace ffnbench

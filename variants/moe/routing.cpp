#include "moe/routing.hpp"

#include <cmath>

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

}  // namespace ffnbench

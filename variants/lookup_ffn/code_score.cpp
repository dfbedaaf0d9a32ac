#include "lookup_ffn/code_score.hpp"

#include <algorithm>
#include <cmath>

#include "common/fast_math.hpp"

namespace ffnbench {

void code_score_reference(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores) {
  for (int64_t k = 0; k < h; ++k) {
    uint32_t code = 0;
    double sum = 0, prod = 1;
    for (int64_t j = 0; j < tau; ++j) {
      const double v = z[k * tau + j];
      code = (code << 1) | (v > 0 ? 1u : 0u);
      sum += std::abs(v);
      prod *= 1.0 + std::exp(-2.0 * std::abs(v));
    }
    codes[k] = code;
    scores[k] = static_cast<float>(sum / prod);
  }
}

void code_score_token(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores) {
  // One contiguous, vectorized pass over the h·τ values (|z| and 1 + exp(-2|z|)), then short
  // per-table reductions over τ. (Vectorizing over tables instead needs stride-τ gathers.)
  constexpr int64_t kMaxValues = 4096;
  alignas(64) float magnitude[kMaxValues], factor[kMaxValues];
  for (int64_t base = 0; base < h; base += kMaxValues / tau) {
    const int64_t tables = std::min(h - base, kMaxValues / tau);
    const float* zb = z + base * tau;
    const int64_t n = tables * tau;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      magnitude[i] = zb[i] < 0.0f ? -zb[i] : zb[i];
      factor[i] = 1.0f + fast_exp(-2.0f * magnitude[i]);
    }
    for (int64_t k = 0; k < tables; ++k) {
      uint32_t code = 0;
      float sum = 0.0f, prod = 1.0f;
      for (int64_t j = 0; j < tau; ++j) {
        code = (code << 1) | (zb[k * tau + j] > 0.0f ? 1u : 0u);
        sum += magnitude[k * tau + j];
        prod *= factor[k * tau + j];
      }
      codes[base + k] = code;
      scores[base + k] = sum / prod;
    }
  }
}

}  // namespace ffnbench

#include "common/softmax.hpp"

#include <cmath>

#include "common/fast_math.hpp"

namespace ffnbench {

void softmax_row(float* x, int64_t n, float scale) {
  float max = -INFINITY;
#pragma omp simd reduction(max : max)
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i] * scale);
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) {
    x[i] = fast_exp(x[i] * scale - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void softmax_row_reference(const float* x, double* out, int64_t n, double scale) {
  double max = -INFINITY, sum = 0;
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i] * scale);
  for (int64_t i = 0; i < n; ++i) sum += out[i] = std::exp(x[i] * scale - max);
  for (int64_t i = 0; i < n; ++i) out[i] /= sum;
}

}  // namespace ffnbench

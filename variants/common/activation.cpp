#include "common/activation.hpp"

namespace ffnbench {

void bias_activation_rows(float* x, int64_t rows, int64_t width, const float* bias, Activation a) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * width;
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) row[j] = activate(a, row[j] + (bias ? bias[j] : 0.0f));
  }
}

}  // namespace ffnbench

// Numerically stable row softmax (max subtracted first), vectorized with fast_exp.
#pragma once

#include <cstdint>

namespace ffnbench {

// x[0..n) <- softmax(x · scale) in place.
void softmax_row(float* x, int64_t n, float scale = 1.0f);
// Scalar reference in double.
void softmax_row_reference(const float* x, double* out, int64_t n, double scale = 1.0);

}  // namespace ffnbench

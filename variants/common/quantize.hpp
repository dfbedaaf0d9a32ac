// Symmetric int8 quantization: what an int8 FFN does to its weights once and to its activations
// on every call (dynamic quantization). A value v with step s becomes q = round(v / s) in
// [−127, 127]; s = max|v| / 127, so nothing saturates and the rounding error is at most s / 2
// (uniform over ±s/2 for values that are not themselves multiples of s: variance s² / 12).
#pragma once

#include <cstdint>

namespace ffnbench {

// Per-tensor dynamic quantization: returns the step s = max|x| / 127 (1 when x is all zero) and
// writes q[i] = round(x[i] / s). Two passes (the max, then the conversion), each a static OpenMP
// loop, AVX-512 where the CPU has it. Cost per element: 1 max + 1 mul + 1 convert.
float quantize_s8(const float* x, int64_t n, int8_t* q);

// The same step and values on the calling thread, scalar (the reference's form).
float quantization_step_reference(const float* x, int64_t n);
inline int8_t quantize_value(float v, float inv_step) {
  float r = __builtin_nearbyintf(v * inv_step);  // round to nearest even, as cvtps2dq does
  r = r > 127.0f ? 127.0f : (r < -127.0f ? -127.0f : r);
  return static_cast<int8_t>(r);
}

// Per-output-channel weights: W [rows][cols] row-major, column j quantized with its own step
// scales[j] = max_i |W[i][j]| / 127 (1 for an all-zero column); q [rows][cols].
void quantize_columns_s8(const float* w, int64_t rows, int64_t cols, int8_t* q, float* scales);

}  // namespace ffnbench

#include "common/quantize.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/simd.hpp"

namespace ffnbench {
namespace {

float max_abs(const float* x, int64_t n) {
  float m = 0.0f;
#if defined(__AVX512F__)
#pragma omp parallel reduction(max : m)
  {
    const int t = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t per = (n / threads + 15) / 16 * 16, lo = std::min<int64_t>(n, t * per),
                  hi = std::min<int64_t>(n, lo + per);
    __m512 acc = _mm512_setzero_ps();
    int64_t i = lo;
    for (; i + 16 <= hi; i += 16) acc = _mm512_max_ps(acc, _mm512_abs_ps(_mm512_loadu_ps(x + i)));
    if (i < hi) {
      const __mmask16 tail = static_cast<__mmask16>((1u << (hi - i)) - 1);
      acc = _mm512_max_ps(acc, _mm512_abs_ps(_mm512_maskz_loadu_ps(tail, x + i)));
    }
    m = std::max(m, _mm512_reduce_max_ps(acc));
  }
#else
#pragma omp parallel for simd schedule(static) reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(x[i]));
#endif
  return m;
}

}  // namespace

float quantize_s8(const float* x, int64_t n, int8_t* q) {
  const float m = max_abs(x, n);
  const float step = m > 0.0f ? m / 127.0f : 1.0f, inv = 1.0f / step;
#if defined(__AVX512F__)
  const __m512 vinv = _mm512_set1_ps(inv);
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), threads = omp_get_num_threads();
    const int64_t per = (n / threads + 63) / 64 * 64, lo = std::min<int64_t>(n, t * per),
                  hi = std::min<int64_t>(n, lo + per);
    int64_t i = lo;
    // cvtps2dq rounds to nearest even (MXCSR's default); cvtsepi32 saturates to int8. The scale
    // keeps |x / s| <= 127, so saturation never binds beyond float rounding of the product.
    for (; i + 16 <= hi; i += 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i),
                       _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + i), vinv))));
    for (; i < hi; ++i) q[i] = quantize_value(x[i], inv);
  }
#else
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) q[i] = quantize_value(x[i], inv);
#endif
  return step;
}

float quantization_step_reference(const float* x, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(x[i]));
  return m > 0.0f ? m / 127.0f : 1.0f;
}

void quantize_columns_s8(const float* w, int64_t rows, int64_t cols, int8_t* q, float* scales) {
  std::vector<float> m(cols, 0.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m[j] = std::max(m[j], std::abs(w[i * cols + j]));
  for (int64_t j = 0; j < cols; ++j) scales[j] = m[j] > 0.0f ? m[j] / 127.0f : 1.0f;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) q[i * cols + j] = quantize_value(w[i * cols + j], 1.0f / scales[j]);
}

}  // namespace ffnbench

#include "gemm_ffn/layer_norm.hpp"

#include <cmath>

#include "common/simd.hpp"

namespace ffnbench {
namespace {

const bool kHasAvx512 = __builtin_cpu_supports("avx512f");

__attribute__((target("avx512f"))) inline __mmask16 tail_mask(int64_t n) {
  return static_cast<__mmask16>((1u << n) - 1u);
}

// One row, 16 lanes at a time, two accumulators per pass to break the add chain.
__attribute__((target("avx512f"))) void row_avx512(const float* __restrict x, float* __restrict u, int64_t d,
                                                   const float* __restrict gamma, const float* __restrict beta) {
  const int64_t full = d / 16 * 16;
  const __mmask16 m = tail_mask(d - full);
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= full; i += 32) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
  }
  for (; i < full; i += 16) s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
  if (m) s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(m, x + full));
  const float mean = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) / static_cast<float>(d);

  const __m512 mu = _mm512_set1_ps(mean);
  __m512 q0 = _mm512_setzero_ps(), q1 = _mm512_setzero_ps();
  for (i = 0; i + 32 <= full; i += 32) {
    const __m512 a = _mm512_sub_ps(_mm512_loadu_ps(x + i), mu), b = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), mu);
    q0 = _mm512_fmadd_ps(a, a, q0);
    q1 = _mm512_fmadd_ps(b, b, q1);
  }
  for (; i < full; i += 16) {
    const __m512 a = _mm512_sub_ps(_mm512_loadu_ps(x + i), mu);
    q0 = _mm512_fmadd_ps(a, a, q0);
  }
  if (m) {
    const __m512 a = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + full), mu);
    q1 = _mm512_fmadd_ps(a, a, q1);
  }
  const float var = _mm512_reduce_add_ps(_mm512_add_ps(q0, q1)) / static_cast<float>(d);
  const __m512 r = _mm512_set1_ps(1.0f / std::sqrt(var + kLayerNormEpsilon));

  for (i = 0; i < full; i += 16) {
    const __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mu), r);
    _mm512_storeu_ps(u + i, _mm512_fmadd_ps(n, _mm512_loadu_ps(gamma + i), _mm512_loadu_ps(beta + i)));
  }
  if (m) {
    const __m512 n = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + full), mu), r);
    _mm512_mask_storeu_ps(u + full, m,
                          _mm512_fmadd_ps(n, _mm512_maskz_loadu_ps(m, gamma + full), _mm512_maskz_loadu_ps(m, beta + full)));
  }
}

void row_portable(const float* __restrict x, float* __restrict u, int64_t d, const float* __restrict gamma,
                  const float* __restrict beta) {
  float sum = 0.0f, sq = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < d; ++i) sum += x[i];
  const float mean = sum / static_cast<float>(d);
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < d; ++i) sq += (x[i] - mean) * (x[i] - mean);
  const float r = 1.0f / std::sqrt(sq / static_cast<float>(d) + kLayerNormEpsilon);
#pragma omp simd
  for (int64_t i = 0; i < d; ++i) u[i] = (x[i] - mean) * r * gamma[i] + beta[i];
}

inline void row(const float* x, float* u, int64_t d, const float* gamma, const float* beta) {
  if (kHasAvx512) row_avx512(x, u, d, gamma, beta);
  else row_portable(x, u, d, gamma, beta);
}

}  // namespace

void layer_norm_rows(const float* X, int64_t ld_x, float* U, int64_t ld_u, int64_t rows, int64_t d,
                     const float* gamma, const float* beta, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < rows; ++r) row(X + r * ld_x, U + r * ld_u, d, gamma, beta);
}

void layer_norm_reference(const float* x, double* u, int64_t d, const float* gamma, const float* beta) {
  double mean = 0, var = 0;
  for (int64_t i = 0; i < d; ++i) mean += x[i];
  mean /= static_cast<double>(d);
  for (int64_t i = 0; i < d; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(d);
  const double r = 1.0 / std::sqrt(var + static_cast<double>(kLayerNormEpsilon));
  for (int64_t i = 0; i < d; ++i) u[i] = (x[i] - mean) * r * gamma[i] + beta[i];
}

}  // namespace ffnbench

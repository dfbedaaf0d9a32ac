// Branch-free exp, erf and tanh on floats, written so that `#pragma omp simd` loops vectorize
// them (AVX2/AVX-512) without libmvec. Accuracy (checked in tests/test_fast_math.cpp):
// exp relative error < 4e-7 over [-87, 88]; erf absolute error < 5e-7 (A&S 7.1.26 plus float
// rounding); tanh absolute error < 3e-7.
#pragma once

#include <bit>
#include <cstdint>

#include "common/simd.hpp"

namespace ffnbench {

namespace exp_constants {  // shared by the scalar and the AVX-512 forms
inline constexpr float kLow = -87.0f, kHigh = 88.0f, kLog2e = 1.44269504088896341f;
inline constexpr float kLn2High = 0.693359375f, kLn2Low = -2.12194440e-4f;  // Cody-Waite split of ln2
inline constexpr float kPoly[7] = {1.38888889e-3f, 8.33333333e-3f, 4.16666667e-2f, 1.66666667e-1f, 0.5f, 1.0f, 1.0f};
}  // namespace exp_constants

inline float fast_exp(float x) {
  using namespace exp_constants;
  x = x < kLow ? kLow : (x > kHigh ? kHigh : x);
  // x = k·ln2 + r with |r| ≤ ln2/2; exp(x) = 2^k · exp(r), exp(r) by a degree-6 polynomial.
  const float k = __builtin_rintf(x * kLog2e);  // rint vectorizes; round does not
  const float r = (x - k * kLn2High) - k * kLn2Low;
  float p = kPoly[0];
  for (int i = 1; i < 7; ++i) p = p * r + kPoly[i];
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

// The same exp on 16 floats, for kernels written with AVX-512 intrinsics (same results as
// fast_exp up to the FMA contraction of its steps).
__attribute__((target("avx512f"))) inline __m512 fast_exp16(__m512 x) {
  using namespace exp_constants;
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kLow)), _mm512_set1_ps(kHigh));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT);
  const __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Low), _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2High), x));
  __m512 p = _mm512_set1_ps(kPoly[0]);
  for (int i = 1; i < 7; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kPoly[i]));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

// erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7), odd-extended.
inline float fast_erf(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * fast_exp(-ax * ax);
  return x < 0.0f ? -y : y;
}

inline float fast_tanh(float x) {
  // tanh(x) = 1 - 2 / (exp(2x) + 1): saturates cleanly to ±1 at large |x|.
  return 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f);
}

}  // namespace ffnbench

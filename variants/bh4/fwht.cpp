#include "bh4/fwht.hpp"

#include <immintrin.h>

namespace ffnbench {

const char* to_string(FwhtPath p) {
  switch (p) {
    case FwhtPath::Scalar: return "scalar";
    case FwhtPath::Avx2: return "avx2";
    case FwhtPath::Avx512: return "avx512";
  }
  return "?";
}

FwhtPath best_fwht_path() {
  if (__builtin_cpu_supports("avx512f")) return FwhtPath::Avx512;
  if (__builtin_cpu_supports("avx2")) return FwhtPath::Avx2;
  return FwhtPath::Scalar;
}

void fwht_scalar(float* v, int64_t n) {
  for (int64_t h = 1; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; ++j) {
        const float a = v[j], b = v[j + h];
        v[j] = a + b;
        v[j + h] = a - b;
      }
}

namespace {

// Butterflies with h ≥ `from` as whole-vector add/sub across the row (any vector width).
__attribute__((target("avx2"))) void wide_levels_avx2(float* v, int64_t n, int64_t from) {
  for (int64_t h = from; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; j += 8) {
        __m256 a = _mm256_loadu_ps(v + j), b = _mm256_loadu_ps(v + j + h);
        _mm256_storeu_ps(v + j, _mm256_add_ps(a, b));
        _mm256_storeu_ps(v + j + h, _mm256_sub_ps(a, b));
      }
}

// In-register butterfly level: partner = permuted v; lanes whose `h` bit is set take partner - v.
__attribute__((target("avx2"))) inline __m256 level_avx2(__m256 v, __m256 partner, __m256 upper) {
  return _mm256_blendv_ps(_mm256_add_ps(v, partner), _mm256_sub_ps(partner, v), upper);
}

__attribute__((target("avx2"))) void fwht_avx2(float* v, int64_t n) {
  const __m256 upper1 = _mm256_castsi256_ps(_mm256_setr_epi32(0, -1, 0, -1, 0, -1, 0, -1));
  const __m256 upper2 = _mm256_castsi256_ps(_mm256_setr_epi32(0, 0, -1, -1, 0, 0, -1, -1));
  const __m256 upper4 = _mm256_castsi256_ps(_mm256_setr_epi32(0, 0, 0, 0, -1, -1, -1, -1));
  for (int64_t i = 0; i < n; i += 8) {  // levels h = 1, 2, 4 inside one register
    __m256 x = _mm256_loadu_ps(v + i);
    x = level_avx2(x, _mm256_permute_ps(x, 0xB1), upper1);
    x = level_avx2(x, _mm256_permute_ps(x, 0x4E), upper2);
    x = level_avx2(x, _mm256_permute2f128_ps(x, x, 0x01), upper4);
    _mm256_storeu_ps(v + i, x);
  }
  wide_levels_avx2(v, n, 8);
}

__attribute__((target("avx512f"))) void fwht_avx512(float* v, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {  // levels h = 1, 2, 4, 8 inside one register
    __m512 x = _mm512_loadu_ps(v + i);
    __m512 p = _mm512_permute_ps(x, 0xB1);
    x = _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xAAAA, p, x);
    p = _mm512_permute_ps(x, 0x4E);
    x = _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xCCCC, p, x);
    p = _mm512_shuffle_f32x4(x, x, 0xB1);
    x = _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xF0F0, p, x);
    p = _mm512_shuffle_f32x4(x, x, 0x4E);
    x = _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xFF00, p, x);
    _mm512_storeu_ps(v + i, x);
  }
  for (int64_t h = 16; h < n; h *= 2)
    for (int64_t i = 0; i < n; i += 2 * h)
      for (int64_t j = i; j < i + h; j += 16) {
        __m512 a = _mm512_loadu_ps(v + j), b = _mm512_loadu_ps(v + j + h);
        _mm512_storeu_ps(v + j, _mm512_add_ps(a, b));
        _mm512_storeu_ps(v + j + h, _mm512_sub_ps(a, b));
      }
}

}  // namespace

void fwht_rows(float* data, int64_t rows, int64_t n, int64_t stride, FwhtPath path) {
  // Rows narrower than a register take the next narrower path.
  if (path == FwhtPath::Avx512 && n < 16) path = FwhtPath::Avx2;
  if (path == FwhtPath::Avx2 && n < 8) path = FwhtPath::Scalar;
  for (int64_t r = 0; r < rows; ++r) {
    float* v = data + r * stride;
    switch (path) {
      case FwhtPath::Avx512: fwht_avx512(v, n); break;
      case FwhtPath::Avx2: fwht_avx2(v, n); break;
      case FwhtPath::Scalar: fwht_scalar(v, n); break;
    }
  }
}

}  // namespace ffnbench

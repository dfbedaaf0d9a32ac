#include "bh4/fwht.hpp"

#include <algorithm>

#include "common/simd.hpp"

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

void fwht_scalar(float* v, int64_t n, int64_t from) {
  for (int64_t h = from; h < n; h *= 2)
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

__attribute__((target("avx2"))) void fwht_avx2(float* v, int64_t n, int64_t from) {
  if (from >= 8) return wide_levels_avx2(v, n, from);
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

// Levels h = 1, 2, 4, 8: inside one register.
__attribute__((target("avx512f"))) inline __m512 in_register_levels(__m512 x) {
  __m512 p = _mm512_permute_ps(x, 0xB1);
  x = _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xAAAA, p, x);
  p = _mm512_permute_ps(x, 0x4E);
  x = _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xCCCC, p, x);
  p = _mm512_shuffle_f32x4(x, x, 0xB1);
  x = _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xF0F0, p, x);
  p = _mm512_shuffle_f32x4(x, x, 0x4E);
  return _mm512_mask_sub_ps(_mm512_add_ps(x, p), 0xFF00, p, x);
}

// One butterfly level among kCount registers, partners kHalf registers apart.
template <int kCount, int kHalf>
__attribute__((target("avx512f"))) inline void register_level(__m512* x) {
#pragma GCC unroll 8
  for (int i = 0; i < kCount; i += 2 * kHalf)
#pragma GCC unroll 8
    for (int j = i; j < i + kHalf; ++j) {
      const __m512 a = x[j], b = x[j + kHalf];
      x[j] = _mm512_add_ps(a, b);
      x[j + kHalf] = _mm512_sub_ps(a, b);
    }
}

// The butterfly levels among kCount ≤ 8 registers (spelled out so that x stays in registers).
template <int kCount>
__attribute__((target("avx512f"))) inline void register_butterflies(__m512* x) {
  if constexpr (kCount >= 2) register_level<kCount, 1>(x);
  if constexpr (kCount >= 4) register_level<kCount, 2>(x);
  if constexpr (kCount >= 8) register_level<kCount, 4>(x);
}

// Registers v + stride·i for i < kCount (stride in floats): load, up to three levels, store.
// The first pass also does the in-register levels.
template <int kCount, bool kFirst>
__attribute__((target("avx512f"))) inline void level_group(float* v, int64_t stride) {
  __m512 x[kCount];
#pragma GCC unroll 8
  for (int i = 0; i < kCount; ++i) {
    x[i] = _mm512_loadu_ps(v + i * stride);
    if (kFirst) x[i] = in_register_levels(x[i]);
  }
  register_butterflies<kCount>(x);
#pragma GCC unroll 8
  for (int i = 0; i < kCount; ++i) _mm512_storeu_ps(v + i * stride, x[i]);
}

template <bool kFirst>
__attribute__((target("avx512f"))) void level_group(float* v, int64_t stride, int64_t count) {
  switch (count) {
    case 8: return level_group<8, kFirst>(v, stride);
    case 4: return level_group<4, kFirst>(v, stride);
    case 2: return level_group<2, kFirst>(v, stride);
    default: return level_group<1, kFirst>(v, stride);
  }
}

// The levels in passes of three: each pass loads 8 registers, does three levels and stores them
// (a pass per level would be store-bound: n = 512 takes 2 passes instead of 6). from is 1 (all
// levels) or a multiple of 16 (whole registers only).
__attribute__((target("avx512f"))) void fwht_avx512(float* v, int64_t n, int64_t from) {
  const int64_t vectors = n / 16;
  int64_t spacing = from / 16;
  if (from == 1) {
    spacing = std::min<int64_t>(vectors, 8);
    for (int64_t i = 0; i < vectors; i += spacing) level_group<true>(v + 16 * i, 16, spacing);
  }
  for (; spacing < vectors; spacing *= 8) {
    const int64_t count = std::min<int64_t>(8, vectors / spacing);
    for (int64_t block = 0; block < vectors; block += spacing * count)
      for (int64_t i = block; i < block + spacing; ++i) level_group<false>(v + 16 * i, 16 * spacing, count);
  }
}

}  // namespace

void fwht_rows(float* data, int64_t rows, int64_t n, int64_t stride, FwhtPath path, int64_t from) {
  // Rows narrower than a register, or levels that start inside one, take a narrower path.
  if (path == FwhtPath::Avx512 && (n < 16 || (from > 1 && from < 16))) path = FwhtPath::Avx2;
  if (path == FwhtPath::Avx2 && (n < 8 || (from > 1 && from < 8))) path = FwhtPath::Scalar;
  for (int64_t r = 0; r < rows; ++r) {
    float* v = data + r * stride;
    switch (path) {
      case FwhtPath::Avx512: fwht_avx512(v, n, from); break;
      case FwhtPath::Avx2: fwht_avx2(v, n, from); break;
      case FwhtPath::Scalar: fwht_scalar(v, n, from); break;
    }
  }
}

}  // namespace ffnbench

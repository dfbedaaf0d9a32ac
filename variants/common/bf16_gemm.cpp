#include "common/bf16_gemm.hpp"

#include <algorithm>
#include <cstring>

#include "common/bf16.hpp"
#include "common/simd.hpp"

namespace ffnbench {
namespace {

// ROWS rows × (16·VECS) columns; per step one pair of k against VECS vectors of 16 column pairs.
template <int ROWS, int VECS>
__attribute__((target("avx512f,avx512bf16"))) inline void micro_tile(const uint16_t* in, int64_t in_stride, float* out,
                                                                    int64_t out_stride, const uint16_t* w, int64_t K,
                                                                    int64_t w_stride) {
  __m512 acc[ROWS][VECS];
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t m = 0; m < K / 2; ++m) {
    __m512bh wk[VECS];
    for (int v = 0; v < VECS; ++v) wk[v] = (__m512bh)_mm512_loadu_si512(w + 2 * (m * w_stride + 16 * v));
    for (int r = 0; r < ROWS; ++r) {
      int32_t pair;
      std::memcpy(&pair, in + r * in_stride + 2 * m, sizeof(pair));
      const __m512bh x = (__m512bh)_mm512_set1_epi32(pair);
      for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], x, wk[v]);
    }
  }
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < VECS; ++v) _mm512_storeu_ps(out + r * out_stride + 16 * v, acc[r][v]);
}

template <int VECS>
__attribute__((target("avx512f,avx512bf16"))) void column_chunk(const uint16_t* in, int64_t in_stride, float* out,
                                                               int64_t out_stride, int64_t rows, const uint16_t* w,
                                                               int64_t K, int64_t w_stride) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    micro_tile<4, VECS>(in + r * in_stride, in_stride, out + r * out_stride, out_stride, w, K, w_stride);
  for (; r < rows; ++r) micro_tile<1, VECS>(in + r * in_stride, in_stride, out + r * out_stride, out_stride, w, K, w_stride);
}

__attribute__((target("avx512f,avx512bf16"))) void rows_to_bf16_avx512(const float* in, int64_t in_stride, uint16_t* out,
                                                                      int64_t out_stride, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = in + r * in_stride;
    uint16_t* dst = out + r * out_stride;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    for (; i < n; ++i) dst[i] = bf16_bits(src[i]);
  }
}

}  // namespace

bool cpu_has_avx512_bf16() {
  static const bool bf16 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return bf16;
}

void pack_bf16_pairs(const float* w, int64_t K, int64_t N, uint16_t* packed) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) packed[((k / 2) * N + j) * 2 + k % 2] = bf16_bits(w[k * N + j]);
}

float packed_bf16_at(const uint16_t* packed, int64_t N, int64_t k, int64_t j) {
  return bf16_to_float(packed[((k / 2) * N + j) * 2 + k % 2]);
}

void rows_to_bf16(const float* in, int64_t in_stride, uint16_t* out, int64_t out_stride, int64_t rows, int64_t n) {
  if (cpu_has_avx512_bf16()) return rows_to_bf16_avx512(in, in_stride, out, out_stride, rows, n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) out[r * out_stride + i] = bf16_bits(in[r * in_stride + i]);
}

__attribute__((target("avx512f,avx512bf16"))) void gemm_bf16_pairs(const uint16_t* in, int64_t in_stride, float* out,
                                                                  int64_t out_stride, int64_t rows, int64_t K,
                                                                  int64_t N, const uint16_t* w, int64_t w_stride) {
  for (int64_t col = 0; col < N; col += 64) {
    const int64_t vecs = std::min<int64_t>(4, (N - col) / 16);
    const uint16_t* wc = w + 2 * col;  // pair row m of this chunk: wc + 2·(m·w_stride)
    switch (vecs) {
      case 4: column_chunk<4>(in, in_stride, out + col, out_stride, rows, wc, K, w_stride); break;
      case 3: column_chunk<3>(in, in_stride, out + col, out_stride, rows, wc, K, w_stride); break;
      case 2: column_chunk<2>(in, in_stride, out + col, out_stride, rows, wc, K, w_stride); break;
      default: column_chunk<1>(in, in_stride, out + col, out_stride, rows, wc, K, w_stride); break;
    }
  }
}

float dot_bf16_pairs(const float* v, const uint16_t* w, int64_t K, int64_t w_stride, int64_t j) {
  float s = 0.0f;
  for (int64_t k = 0; k < K; k += 2) {
    s += v[k + 1] * packed_bf16_at(w, w_stride, k + 1, j);
    s += v[k] * packed_bf16_at(w, w_stride, k, j);
  }
  return s;
}

}  // namespace ffnbench

#include "bh4/block_kernel.hpp"

#include <algorithm>
#include <cstring>

#include "common/bf16.hpp"
#include "common/blas.hpp"
#include "common/simd.hpp"

namespace ffnbench {

namespace {

// ROWS tokens × (16·VECS) columns of one block: accumulators stay in registers over k.
template <int ROWS, int VECS>
__attribute__((target("avx512f"))) inline void micro_tile(const float* in, int64_t in_stride, float* out,
                                                         int64_t out_stride, const float* w, int64_t b) {
  __m512 acc[ROWS][VECS];
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t k = 0; k < b; ++k) {
    __m512 wk[VECS];
    for (int v = 0; v < VECS; ++v) wk[v] = _mm512_loadu_ps(w + k * b + 16 * v);
    for (int r = 0; r < ROWS; ++r) {
      const __m512 x = _mm512_set1_ps(in[r * in_stride + k]);
      for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_fmadd_ps(x, wk[v], acc[r][v]);
    }
  }
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < VECS; ++v) _mm512_storeu_ps(out + r * out_stride + 16 * v, acc[r][v]);
}

template <int VECS>
__attribute__((target("avx512f"))) void block_columns(const float* in, int64_t in_stride, float* out,
                                                      int64_t out_stride, int64_t rows, const float* w, int64_t b) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) micro_tile<4, VECS>(in + r * in_stride, in_stride, out + r * out_stride, out_stride, w, b);
  for (; r < rows; ++r) micro_tile<1, VECS>(in + r * in_stride, in_stride, out + r * out_stride, out_stride, w, b);
}

__attribute__((target("avx512f"))) void product_avx512(const float* in, int64_t in_stride, float* out,
                                                       int64_t out_stride, int64_t rows, int64_t padded,
                                                       int64_t b, const float* w) {
  for (int64_t blk = 0; blk < padded / b; ++blk) {
    const float* wb = w + blk * b * b;
    const float* ib = in + blk * b;
    float* ob = out + blk * b;
    // Column chunks of 64 (4 zmm); the weights' row k chunk is at wb + k·b + col.
    for (int64_t col = 0; col < b; col += 64) {
      const int64_t vecs = std::min<int64_t>(4, (b - col) / 16);
      switch (vecs) {
        case 4: block_columns<4>(ib, in_stride, ob + col, out_stride, rows, wb + col, b); break;
        case 3: block_columns<3>(ib, in_stride, ob + col, out_stride, rows, wb + col, b); break;
        case 2: block_columns<2>(ib, in_stride, ob + col, out_stride, rows, wb + col, b); break;
        default: block_columns<1>(ib, in_stride, ob + col, out_stride, rows, wb + col, b); break;
      }
    }
  }
}

// bf16: ROWS tokens × (16·VECS) columns; per step one pair of k (a 32-bit broadcast of two bf16
// inputs) against VECS vectors of 16 column pairs.
template <int ROWS, int VECS>
__attribute__((target("avx512f,avx512bf16"))) inline void micro_tile_bf16(const uint16_t* in, int64_t in_stride,
                                                                         float* out, int64_t out_stride,
                                                                         const uint16_t* w, int64_t b) {
  __m512 acc[ROWS][VECS];
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t m = 0; m < b / 2; ++m) {
    __m512bh wk[VECS];
    for (int v = 0; v < VECS; ++v) wk[v] = (__m512bh)_mm512_loadu_si512(w + 2 * (m * b + 16 * v));
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
__attribute__((target("avx512f,avx512bf16"))) void block_columns_bf16(const uint16_t* in, int64_t in_stride, float* out,
                                                                     int64_t out_stride, int64_t rows,
                                                                     const uint16_t* w, int64_t b) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    micro_tile_bf16<4, VECS>(in + r * in_stride, in_stride, out + r * out_stride, out_stride, w, b);
  for (; r < rows; ++r) micro_tile_bf16<1, VECS>(in + r * in_stride, in_stride, out + r * out_stride, out_stride, w, b);
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

bool bf16_microkernel_supports(int64_t b) {
  static const bool bf16 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return bf16 && b % 16 == 0;
}

void pack_bf16_pairs(const float* w, int64_t blocks, int64_t b, uint16_t* packed) {
  for (int64_t blk = 0; blk < blocks; ++blk)
    for (int64_t k = 0; k < b; ++k)
      for (int64_t j = 0; j < b; ++j)
        packed[blk * b * b + ((k / 2) * b + j) * 2 + k % 2] = bf16_bits(w[blk * b * b + k * b + j]);
}

float packed_bf16_weight(const uint16_t* packed, int64_t b, int64_t block, int64_t k, int64_t j) {
  return bf16_to_float(packed[block * b * b + ((k / 2) * b + j) * 2 + k % 2]);
}

void rows_to_bf16(const float* in, int64_t in_stride, uint16_t* out, int64_t out_stride, int64_t rows, int64_t n) {
  if (bf16_microkernel_supports(16)) return rows_to_bf16_avx512(in, in_stride, out, out_stride, rows, n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) out[r * out_stride + i] = bf16_bits(in[r * in_stride + i]);
}

__attribute__((target("avx512f,avx512bf16"))) void block_diagonal_product_bf16(const uint16_t* in, int64_t in_stride,
                                                                              float* out, int64_t out_stride,
                                                                              int64_t rows, int64_t padded, int64_t b,
                                                                              const uint16_t* w) {
  for (int64_t blk = 0; blk < padded / b; ++blk) {
    const uint16_t* wb = w + blk * b * b;
    const uint16_t* ib = in + blk * b;
    float* ob = out + blk * b;
    for (int64_t col = 0; col < b; col += 64) {
      const int64_t vecs = std::min<int64_t>(4, (b - col) / 16);
      const uint16_t* wc = wb + 2 * col;  // pair row m of this chunk: wc + 2·(m·b)
      switch (vecs) {
        case 4: block_columns_bf16<4>(ib, in_stride, ob + col, out_stride, rows, wc, b); break;
        case 3: block_columns_bf16<3>(ib, in_stride, ob + col, out_stride, rows, wc, b); break;
        case 2: block_columns_bf16<2>(ib, in_stride, ob + col, out_stride, rows, wc, b); break;
        default: block_columns_bf16<1>(ib, in_stride, ob + col, out_stride, rows, wc, b); break;
      }
    }
  }
}

const char* to_string(BlockGemm g) { return g == BlockGemm::Microkernel ? "microkernel" : "openblas"; }

bool microkernel_supports(int64_t b) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512 && b % 16 == 0;
}

void block_diagonal_product(BlockGemm how, const float* in, int64_t in_stride, float* out, int64_t out_stride,
                            int64_t rows, int64_t padded, int64_t b, const float* w) {
  if (how == BlockGemm::Microkernel && microkernel_supports(b))
    return product_avx512(in, in_stride, out, out_stride, rows, padded, b, w);
  for (int64_t blk = 0; blk < padded / b; ++blk)
    sgemm_rowmajor(rows, b, b, 1.0f, in + blk * b, in_stride, w + blk * b * b, b, false, 0.0f, out + blk * b,
                   out_stride);
}

}  // namespace ffnbench

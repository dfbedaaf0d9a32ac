#include "bh4/block_kernel.hpp"

#include <algorithm>

#include "common/bf16_gemm.hpp"
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

}  // namespace

bool bf16_microkernel_supports(int64_t b) { return cpu_has_avx512_bf16() && b % 16 == 0; }

void block_diagonal_product_bf16(const uint16_t* in, int64_t in_stride, float* out, int64_t out_stride, int64_t rows,
                                 int64_t padded, int64_t b, const uint16_t* w) {
  for (int64_t blk = 0; blk < padded / b; ++blk)
    gemm_bf16_pairs(in + blk * b, in_stride, out + blk * b, out_stride, rows, b, b, w + blk * b * b, b);
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

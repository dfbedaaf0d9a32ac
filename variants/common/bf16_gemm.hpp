// A bf16 GEMM on AVX512-BF16 (VDPBF16PS), for the projections that run in bf16 (BH4's blocks,
// LookupFFN's dense projection): out[r][j] = Σ_k in[r][k]·W[k][j], in and W in bf16, fp32
// accumulation and output. A register-blocked micro-kernel: 4 rows × 64 columns in 16 zmm
// accumulators; per step one pair of k, a 32-bit broadcast of two bf16 inputs against 16 column
// pairs of W, so W is stored as pairs: [K/2][N][2] (pack_bf16_pairs).
#pragma once

#include <cstdint>

namespace ffnbench {

// AVX512-BF16 on this CPU.
bool cpu_has_avx512_bf16();

// W [K][N] fp32 row-major (K even) -> [K/2][N][2] bf16: for each column j the pair
// (W[2m][j], W[2m+1][j]) side by side, as VDPBF16PS reads it.
void pack_bf16_pairs(const float* w, int64_t K, int64_t N, uint16_t* packed);
// The weight at (k, j) of a pair-packed [K/2][N][2] matrix, as a float.
float packed_bf16_at(const uint16_t* packed, int64_t N, int64_t k, int64_t j);

// rows × n floats (stride in_stride) -> bf16 rows (stride out_stride), round to nearest even.
void rows_to_bf16(const float* in, int64_t in_stride, uint16_t* out, int64_t out_stride, int64_t rows, int64_t n);

// out[r][j] (stride out_stride) = Σ_{k<K} in[r][k]·W[k][j] for j < N, in bf16 (stride in_stride
// elements, K even), W packed by pack_bf16_pairs with its rows N apart (w_stride ≥ N columns:
// a column block of a wider packed matrix). N a multiple of 16. Needs AVX512-BF16.
void gemm_bf16_pairs(const uint16_t* in, int64_t in_stride, float* out, int64_t out_stride, int64_t rows, int64_t K,
                     int64_t N, const uint16_t* w, int64_t w_stride);

// One output of gemm_bf16_pairs exactly as the kernel computes it, for references: v holds the
// row's K inputs already rounded to bf16 (as floats); per pair of k the odd product, then the even
// one, is added to an fp32 sum (VDPBF16PS's order; each product of two bf16 is exact in fp32, so
// only the additions round).
float dot_bf16_pairs(const float* v, const uint16_t* w, int64_t K, int64_t w_stride, int64_t j);

}  // namespace ffnbench

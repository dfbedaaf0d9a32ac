// An int8 GEMM on AVX-512 VNNI (VPDPBUSD), for LookupFFN's dense projection in int8:
// out[r][j] = Σ_k x[r][k]·W[k][j] + bias[j] with x quantized per row on the call (symmetric, step
// s_r = max|x_r| / 127, common/quantize.hpp's rounding) and W per output column once (step t_j).
// VPDPBUSD multiplies unsigned by signed bytes, so each x is stored as q + 128 (u8) and the offset
// is taken back per column: Σ (q + 128)·w = Σ q·w + 128·Σ w. The integer sums are exact; then
// out = float(Σ q·w)·(s_r·t_j) + bias[j], one fused multiply-add.
// Micro-kernel: 4 rows × 64 columns in 16 zmm accumulators, per step four k (a 32-bit broadcast of
// four u8 inputs) against W stored as quads [K/4][N][4] (pack_s8_quads).
#pragma once

#include <cstdint>
#include <vector>

namespace ffnbench {

// AVX-512 VNNI on this CPU.
bool cpu_has_avx512_vnni();

struct PackedS8 {
  int64_t K = 0, N = 0;          // K a multiple of 4 (zero rows added), N as given
  std::vector<int8_t> quads;     // [K/4][N][4]
  std::vector<float> steps;      // t_j, per column
  std::vector<int32_t> sums;     // Σ_k q[k][j], per column (the u8 offset's correction)
};
// W [rows][N] fp32 row-major, its rows zero-padded to K (a multiple of 4, ≥ rows).
PackedS8 pack_s8_quads(const float* w, int64_t rows, int64_t K, int64_t N);
// The quantized weight at (k, j) (for references).
int8_t packed_s8_at(const PackedS8& w, int64_t k, int64_t j);

// rows × K floats (stride in_stride) -> u8 rows q + 128 (stride out_stride), steps[r] = s_r.
void quantize_rows_u8(const float* in, int64_t in_stride, int64_t rows, int64_t K, uint8_t* out, int64_t out_stride,
                      float* steps);

// out[r][j] (stride out_stride) for j < N (N a multiple of 16), from quantize_rows_u8's rows.
// Needs AVX-512 VNNI.
void gemm_u8s8(const uint8_t* in, int64_t in_stride, const float* row_steps, int64_t rows, const PackedS8& w,
               const float* bias, float* out, int64_t out_stride);

// One output exactly as gemm_u8s8 computes it, for references: q the row's K quantized values
// (−127..127) and its step.
float dot_u8s8_reference(const int8_t* q, float row_step, const PackedS8& w, const float* bias, int64_t j);

}  // namespace ffnbench

// The block-diagonal product of BH4 on a tile of tokens: out[r][blk·b + j] = Σ_k in[r][blk·b + k]·W_blk[k][j].
// Two ways: an AVX-512 register-blocked micro-kernel (4 tokens × 64 columns in 16 zmm
// accumulators, the b×b block in L1; needs AVX-512 and b a multiple of 16), or one OpenBLAS
// small GEMM per block. Which is faster depends on the CPU and b: Bh4Transform measures both.
// In bf16 (AVX512-BF16): the same micro-kernel shape on VDPBF16PS, which multiplies pairs of bf16
// (two consecutive k) and accumulates in fp32: twice the multiply-adds per instruction, half the
// weight bytes.
#pragma once

#include <cstdint>

namespace ffnbench {

enum class BlockGemm { Microkernel, Openblas };
const char* to_string(BlockGemm g);

bool microkernel_supports(int64_t b);

// in: rows × (d' floats, stride in_stride); w: [d'/b][b][b]; out: rows × (stride out_stride).
void block_diagonal_product(BlockGemm how, const float* in, int64_t in_stride, float* out, int64_t out_stride,
                            int64_t rows, int64_t padded, int64_t b, const float* w);

// bf16: AVX512-BF16 and b a multiple of 16.
bool bf16_microkernel_supports(int64_t b);
// out[r][blk·b + j] = Σ_k in[r][blk·b + k]·W_blk[k][j], in bf16 (stride in_stride elements), each
// block's W packed by pack_bf16_pairs (common/bf16_gemm.hpp) one after the other, fp32
// accumulation and output.
void block_diagonal_product_bf16(const uint16_t* in, int64_t in_stride, float* out, int64_t out_stride, int64_t rows,
                                 int64_t padded, int64_t b, const uint16_t* w);

}  // namespace ffnbench

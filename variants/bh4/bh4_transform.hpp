// BH4, LookupFFN's projection (DESIGN.md §4): the input zero-padded to d' (next power of two ≥ d);
// one copy = 4 rounds of (block-diagonal matrix of b×b blocks, then the unnormalized
// Walsh-Hadamard transform over d'); `copies` independent copies stacked for more outputs.
// Row-vector convention: a round maps v to H(v·B), with (v·B)[i·b + j] = Σ_k v[i·b + k]·B_i[k][j].
// Shared by the bh4 variant and lookup_ffn's projection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bh4/block_kernel.hpp"
#include "bh4/fwht.hpp"
#include "common/aligned.hpp"
#include "core/variant.hpp"

namespace ffnbench {

// The block products' precision. bf16: the (H_b-folded) block weights stored in bf16 and each
// round's input rounded to bf16 before its block product (AVX512-BF16, fp32 accumulation); the
// Hadamard levels across blocks, the outputs and everything between the rounds stay fp32.
enum class Bh4Precision { Fp32, Bf16 };
Bh4Precision parse_bh4_precision(const std::string& name);  // "fp32", "bf16"

class Bh4Transform {
 public:
  static constexpr int kRounds = 4;

  // Block weights uniform with variance 1/(b·d'), so each round (block product, then H's
  // factor √d') keeps a vector's expected norm: outputs stay O(inputs) through 4 rounds.
  // block_gemm: how the block products run; unset: the faster of the two on this CPU, timed on
  // a tile here (OpenBLAS alone where the micro-kernel cannot run).
  // bf16 needs AVX512-BF16 and b a multiple of 16 (bf16_microkernel_supports; else
  // std::invalid_argument): its products always run on the bf16 micro-kernel.
  Bh4Transform(int64_t d, int64_t b, int64_t copies, uint64_t seed, uint64_t stream,
               std::optional<BlockGemm> block_gemm = std::nullopt, Bh4Precision precision = Bh4Precision::Fp32);
  // Given block weights, laid out as block_weights() returns them: [copies][rounds][d'/b][b][b]
  // with B_i[k][j] at [k][j] (trained weights; std::invalid_argument when the size is wrong).
  Bh4Transform(int64_t d, int64_t b, int64_t copies, AlignedVector<float> weights,
               std::optional<BlockGemm> block_gemm = std::nullopt, Bh4Precision precision = Bh4Precision::Fp32);

  int64_t d() const { return d_; }
  int64_t padded() const { return padded_; }  // d'
  int64_t block() const { return b_; }
  int64_t copies() const { return copies_; }
  int64_t outputs() const { return copies_ * padded_; }
  Bh4Precision precision() const { return precision_; }
  const float* block_weights(int64_t copy, int round) const;  // [d'/b][b][b]

  // Scalar reference, one token: in[d'] (already padded) -> out[copies·d'], in double where it
  // sums. bf16: the arithmetic of apply_tile to the bit (each round's input and the folded weights
  // in bf16, VDPBF16PS's order of fp32 additions, the levels across blocks in fp32), so that both
  // round every round's input alike; tests check the two agree exactly.
  void reference(const float* in, float* out) const;
  // The fp32 math whatever the precision (what a reduced precision is measured against).
  void reference_fp32(const float* in, float* out) const;

  // Optimized, a tile of `rows` tokens: in [rows][d'] -> out [rows][copies·d'] (row stride
  // copies·d'). `work` holds work_floats(rows) floats. Runs on the calling thread.
  void apply_tile(const float* in, float* out, int64_t rows, float* work) const;
  // apply_tile's scratch for a tile of `rows` tokens: a round's fp32 tile, and in bf16 also the
  // round's input in bf16.
  int64_t work_floats(int64_t rows) const {
    return rows * padded_ + (precision_ == Bh4Precision::Bf16 ? (rows * padded_ + 1) / 2 : 0);
  }

  // The copy's dense d'×d' factors (tests: BH4 = B1·H·B2·H·B3·H·B4·H).
  std::vector<float> dense_block_factor(int64_t copy, int round) const;

  FwhtPath fwht_path() const { return path_; }
  BlockGemm block_gemm() const { return block_gemm_; }
  // How the block products run, as extras name it: microkernel, openblas, or microkernel_bf16.
  std::string block_gemm_name() const {
    return precision_ == Bh4Precision::Bf16 ? "microkernel_bf16" : to_string(block_gemm_);
  }
  // Whether apply_tile folds the Hadamard levels inside each block into the block weights
  // (B_i·H_b, so only the levels across blocks are left): when b is at least a register wide.
  bool folds_block_hadamard() const { return !folded_weights_.empty(); }
  // FLOPs per token (a multiply-add = 2), as each path runs them. Block products: 4 rounds of
  // d'·b multiply-adds per copy on both paths. Hadamard add/subtracts per round and copy: the
  // reference (and apply_tile without the fold) runs all log2 d' levels, d' each; the folded
  // apply_tile only the log2(d'/b) levels across blocks (those inside a block are in B_i·H_b).
  double block_flops_per_token() const { return 2.0 * kRounds * padded_ * b_ * copies_; }
  double hadamard_flops_per_token() const;            // apply_tile
  double reference_hadamard_flops_per_token() const;  // reference() (bf16: folded, as apply_tile)
  // Bytes of block weights a path reads (the folded copy replaces the plain one in apply_tile;
  // bf16: its bf16 copy, on both paths).
  double weight_bytes() const { return precision_ == Bh4Precision::Bf16 ? 2.0 * bf16_weights_.size() : 4.0 * weights_.size(); }
  // The weights a path reads, for cold-cache flushes: reference() the plain blocks, apply_tile
  // the folded ones where it folds.
  MemoryRegion weights_region(bool for_apply_tile) const;

 private:
  const float* folded_block_weights(int64_t copy, int round) const;
  void prepare(std::optional<BlockGemm> block_gemm);  // the folded copy and the block GEMM choice
  const uint16_t* bf16_block_weights(int64_t copy, int round) const;
  void reference_rounds(const float* in, float* out, bool fp32) const;

  BlockGemm faster_block_gemm();

  int64_t d_, b_, copies_, padded_;
  FwhtPath path_;
  BlockGemm block_gemm_ = BlockGemm::Openblas;
  Bh4Precision precision_ = Bh4Precision::Fp32;
  AlignedVector<float> weights_;         // [copies][rounds][d'/b][b][b]
  AlignedVector<float> folded_weights_;  // the same blocks times H_b, when folded
  AlignedVector<uint16_t> bf16_weights_; // bf16: the folded blocks in bf16, pair layout (pack_bf16_pairs)
};

int64_t next_power_of_two(int64_t v);

}  // namespace ffnbench

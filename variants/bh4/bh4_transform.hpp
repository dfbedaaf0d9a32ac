// BH4, LookupFFN's projection (DESIGN.md §4): the input zero-padded to d' (next power of two ≥ d);
// one copy = 4 rounds of (block-diagonal matrix of b×b blocks, then the unnormalized
// Walsh-Hadamard transform over d'); `copies` independent copies stacked for more outputs.
// Row-vector convention: a round maps v to H(v·B), with (v·B)[i·b + j] = Σ_k v[i·b + k]·B_i[k][j].
// Shared by the bh4 variant and lookup_ffn's projection.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "bh4/block_kernel.hpp"
#include "bh4/fwht.hpp"
#include "common/aligned.hpp"
#include "core/variant.hpp"

namespace ffnbench {

class Bh4Transform {
 public:
  static constexpr int kRounds = 4;

  // Block weights uniform with variance 1/(b·d'), so each round (block product, then H's
  // factor √d') keeps a vector's expected norm: outputs stay O(inputs) through 4 rounds.
  // block_gemm: how the block products run; unset: the faster of the two on this CPU, timed on
  // a tile here (OpenBLAS alone where the micro-kernel cannot run).
  Bh4Transform(int64_t d, int64_t b, int64_t copies, uint64_t seed, uint64_t stream,
               std::optional<BlockGemm> block_gemm = std::nullopt);
  // Given block weights, laid out as block_weights() returns them: [copies][rounds][d'/b][b][b]
  // with B_i[k][j] at [k][j] (trained weights; std::invalid_argument when the size is wrong).
  Bh4Transform(int64_t d, int64_t b, int64_t copies, AlignedVector<float> weights,
               std::optional<BlockGemm> block_gemm = std::nullopt);

  int64_t d() const { return d_; }
  int64_t padded() const { return padded_; }  // d'
  int64_t block() const { return b_; }
  int64_t copies() const { return copies_; }
  int64_t outputs() const { return copies_ * padded_; }
  const float* block_weights(int64_t copy, int round) const;  // [d'/b][b][b]

  // Scalar reference, one token: in[d'] (already padded) -> out[copies·d'].
  void reference(const float* in, float* out) const;

  // Optimized, a tile of `rows` tokens: in [rows][d'] -> out [rows][copies·d'] (row stride
  // copies·d'). `work` holds rows·d' floats. Runs on the calling thread.
  void apply_tile(const float* in, float* out, int64_t rows, float* work) const;

  // The copy's dense d'×d' factors (tests: BH4 = B1·H·B2·H·B3·H·B4·H).
  std::vector<float> dense_block_factor(int64_t copy, int round) const;

  FwhtPath fwht_path() const { return path_; }
  BlockGemm block_gemm() const { return block_gemm_; }
  // Whether apply_tile folds the Hadamard levels inside each block into the block weights
  // (B_i·H_b, so only the levels across blocks are left): when b is at least a register wide.
  bool folds_block_hadamard() const { return !folded_weights_.empty(); }
  // FLOPs per token (a multiply-add = 2), as each path runs them. Block products: 4 rounds of
  // d'·b multiply-adds per copy on both paths. Hadamard add/subtracts per round and copy: the
  // reference (and apply_tile without the fold) runs all log2 d' levels, d' each; the folded
  // apply_tile only the log2(d'/b) levels across blocks (those inside a block are in B_i·H_b).
  double block_flops_per_token() const { return 2.0 * kRounds * padded_ * b_ * copies_; }
  double hadamard_flops_per_token() const;            // apply_tile
  double reference_hadamard_flops_per_token() const;  // reference()
  // Bytes of block weights a path reads (the folded copy replaces the plain one in apply_tile).
  double weight_bytes() const { return 4.0 * weights_.size(); }
  // The weights a path reads, for cold-cache flushes: reference() the plain blocks, apply_tile
  // the folded ones where it folds.
  MemoryRegion weights_region(bool for_apply_tile) const;

 private:
  const float* folded_block_weights(int64_t copy, int round) const;
  void prepare(std::optional<BlockGemm> block_gemm);  // the folded copy and the block GEMM choice

  BlockGemm faster_block_gemm();

  int64_t d_, b_, copies_, padded_;
  FwhtPath path_;
  BlockGemm block_gemm_ = BlockGemm::Openblas;
  AlignedVector<float> weights_;         // [copies][rounds][d'/b][b][b]
  AlignedVector<float> folded_weights_;  // the same blocks times H_b, when folded
};

int64_t next_power_of_two(int64_t v);

}  // namespace ffnbench

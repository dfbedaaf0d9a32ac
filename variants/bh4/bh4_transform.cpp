#include "bh4/bh4_transform.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bh4/block_kernel.hpp"
#include "common/bf16.hpp"
#include "common/bf16_gemm.hpp"
#include "common/random.hpp"

namespace ffnbench {

Bh4Precision parse_bh4_precision(const std::string& name) {
  return name == "bf16" ? Bh4Precision::Bf16 : Bh4Precision::Fp32;
}

int64_t next_power_of_two(int64_t v) {
  int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}

Bh4Transform::Bh4Transform(int64_t d, int64_t b, int64_t copies, uint64_t seed, uint64_t stream,
                           std::optional<BlockGemm> block_gemm, Bh4Precision precision)
    : d_(d), b_(b), copies_(copies), padded_(next_power_of_two(d)), path_(best_fwht_path()), precision_(precision) {
  weights_.resize(copies_ * kRounds * padded_ * b_);
  const float a = std::sqrt(3.0f / static_cast<float>(b_ * padded_));
  fill_uniform(weights_.data(), weights_.size(), seed, stream, -a, a);
  prepare(block_gemm);
}

Bh4Transform::Bh4Transform(int64_t d, int64_t b, int64_t copies, AlignedVector<float> weights,
                           std::optional<BlockGemm> block_gemm, Bh4Precision precision)
    : d_(d),
      b_(b),
      copies_(copies),
      padded_(next_power_of_two(d)),
      path_(best_fwht_path()),
      precision_(precision),
      weights_(std::move(weights)) {
  if (static_cast<int64_t>(weights_.size()) != copies_ * kRounds * padded_ * b_)
    throw std::invalid_argument("bh4 weights: " + std::to_string(weights_.size()) + " values, the shape needs " +
                                std::to_string(copies_ * kRounds * padded_ * b_));
  prepare(block_gemm);
}

void Bh4Transform::prepare(std::optional<BlockGemm> block_gemm) {
  // H_d' = (levels across b-blocks)·(H_b inside each block), and the block product feeds it,
  // so B_i·H_b (in double, rounded once) takes the place of B_i and most of the transform.
  // Worth it once the levels left start at a whole register (inside one, fwht_rows goes scalar).
  const int64_t register_floats = path_ == FwhtPath::Avx512 ? 16 : path_ == FwhtPath::Avx2 ? 8 : 1;
  if (b_ > 1 && b_ >= register_floats) {
    folded_weights_.resize(weights_.size());
    for (int64_t blk = 0; blk < static_cast<int64_t>(weights_.size()) / (b_ * b_); ++blk) {
      const float* w = weights_.data() + blk * b_ * b_;
      for (int64_t k = 0; k < b_; ++k)
        for (int64_t j = 0; j < b_; ++j) {
          double s = 0;
          for (int64_t m = 0; m < b_; ++m) s += (std::popcount(static_cast<uint64_t>(m & j)) % 2 ? -1.0 : 1.0) * w[k * b_ + m];
          folded_weights_[blk * b_ * b_ + k * b_ + j] = static_cast<float>(s);
        }
    }
  }
  if (precision_ == Bh4Precision::Bf16) {
    if (!bf16_microkernel_supports(b_) || folded_weights_.empty())
      throw std::invalid_argument("bh4 bf16 needs AVX512-BF16 and b a multiple of 16 (b = " + std::to_string(b_) + ")");
    bf16_weights_.resize(folded_weights_.size());
    for (size_t blk = 0; blk < folded_weights_.size() / (b_ * b_); ++blk)
      pack_bf16_pairs(folded_weights_.data() + blk * b_ * b_, b_, b_, bf16_weights_.data() + blk * b_ * b_);
    block_gemm_ = BlockGemm::Microkernel;
    return;
  }
  if (!microkernel_supports(b_)) block_gemm_ = BlockGemm::Openblas;
  else block_gemm_ = block_gemm ? *block_gemm : faster_block_gemm();
}

// Both ways over one tile of random rows, the best of a few calls each (a few ms at the
// paper's size; the tile is shrunk for very wide d').
BlockGemm Bh4Transform::faster_block_gemm() {
  const int64_t rows = std::clamp<int64_t>((int64_t{1} << 22) / (padded_ * std::max<int64_t>(b_, 1)), 4, 64);
  AlignedVector<float> in(rows * padded_), work(rows * padded_), out(rows * outputs());
  fill_uniform(in.data(), in.size(), 7, 7, -1.0f, 1.0f);
  double best[2] = {1e30, 1e30};
  for (int round = 0; round < 4; ++round)  // interleaved, so that a noisy moment hits both
    for (BlockGemm g : {BlockGemm::Microkernel, BlockGemm::Openblas}) {
      block_gemm_ = g;
      const auto t0 = std::chrono::steady_clock::now();
      apply_tile(in.data(), out.data(), rows, work.data());
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (round > 0) best[static_cast<int>(g)] = std::min(best[static_cast<int>(g)], s);  // round 0 warms up
    }
  return best[0] <= best[1] ? BlockGemm::Microkernel : BlockGemm::Openblas;
}

const float* Bh4Transform::block_weights(int64_t copy, int round) const {
  return weights_.data() + (copy * kRounds + round) * padded_ * b_;
}

const float* Bh4Transform::folded_block_weights(int64_t copy, int round) const {
  return folded_weights_.data() + (copy * kRounds + round) * padded_ * b_;
}

const uint16_t* Bh4Transform::bf16_block_weights(int64_t copy, int round) const {
  return bf16_weights_.data() + (copy * kRounds + round) * padded_ * b_;
}

double Bh4Transform::hadamard_flops_per_token() const {
  const int64_t from = folds_block_hadamard() ? b_ : 1;
  return static_cast<double>(kRounds) * padded_ * std::log2(static_cast<double>(padded_ / from)) * copies_;
}

double Bh4Transform::reference_hadamard_flops_per_token() const {
  if (precision_ == Bh4Precision::Bf16) return hadamard_flops_per_token();
  return static_cast<double>(kRounds) * padded_ * std::log2(static_cast<double>(padded_)) * copies_;
}

MemoryRegion Bh4Transform::weights_region(bool for_apply_tile) const {
  if (precision_ == Bh4Precision::Bf16) return {bf16_weights_.data(), bf16_weights_.size() * sizeof(uint16_t)};
  const AlignedVector<float>& w = for_apply_tile && folds_block_hadamard() ? folded_weights_ : weights_;
  return {w.data(), w.size() * sizeof(float)};
}

void Bh4Transform::reference(const float* in, float* out) const {
  reference_rounds(in, out, precision_ == Bh4Precision::Fp32);
}

void Bh4Transform::reference_fp32(const float* in, float* out) const { reference_rounds(in, out, true); }

void Bh4Transform::reference_rounds(const float* in, float* out, bool fp32) const {
  std::vector<float> v(padded_), next(padded_);
  for (int64_t c = 0; c < copies_; ++c) {
    std::copy(in, in + padded_, v.begin());
    for (int r = 0; r < kRounds; ++r) {
      const float* w = block_weights(c, r);
      const uint16_t* low = fp32 ? nullptr : bf16_block_weights(c, r);
      if (!fp32)
        for (float& x : v) x = round_to_bf16(x);
      for (int64_t blk = 0; blk < padded_ / b_; ++blk)
        for (int64_t j = 0; j < b_; ++j) {
          const float* vb = v.data() + blk * b_;
          if (fp32) {
            double s = 0;
            for (int64_t k = 0; k < b_; ++k) s += static_cast<double>(vb[k]) * w[(blk * b_ + k) * b_ + j];
            next[blk * b_ + j] = static_cast<float>(s);
            continue;
          }
          // VDPBF16PS's arithmetic, so that both paths round each round's input alike.
          next[blk * b_ + j] = dot_bf16_pairs(vb, low + blk * b_ * b_, b_, b_, j);
        }
      fwht_scalar(next.data(), padded_, fp32 ? 1 : b_);  // bf16: H_b is inside the folded weights
      v.swap(next);
    }
    std::copy(v.begin(), v.end(), out + c * padded_);
  }
}

void Bh4Transform::apply_tile(const float* in, float* out, int64_t rows, float* work) const {
  // bf16: the round's input in bf16 sits behind the fp32 tile.
  uint16_t* low = reinterpret_cast<uint16_t*>(work + rows * padded_);
  for (int64_t c = 0; c < copies_; ++c) {
    // Rounds alternate work (stride d') -> output slot (stride copies·d') -> work -> output slot.
    const float* src = in;
    int64_t src_stride = padded_;
    for (int r = 0; r < kRounds; ++r) {
      const bool to_out = (r % 2) == 1;
      float* target = to_out ? out + c * padded_ : work;
      const int64_t target_stride = to_out ? outputs() : padded_;
      if (precision_ == Bh4Precision::Bf16) {
        rows_to_bf16(src, src_stride, low, padded_, rows, padded_);
        block_diagonal_product_bf16(low, padded_, target, target_stride, rows, padded_, b_, bf16_block_weights(c, r));
        fwht_rows(target, rows, padded_, target_stride, path_, b_);
      } else if (folds_block_hadamard()) {
        block_diagonal_product(block_gemm_, src, src_stride, target, target_stride, rows, padded_, b_,
                               folded_block_weights(c, r));
        fwht_rows(target, rows, padded_, target_stride, path_, b_);
      } else {
        block_diagonal_product(block_gemm_, src, src_stride, target, target_stride, rows, padded_, b_,
                               block_weights(c, r));
        fwht_rows(target, rows, padded_, target_stride, path_);
      }
      src = target;
      src_stride = target_stride;
    }
  }
}

std::vector<float> Bh4Transform::dense_block_factor(int64_t copy, int round) const {
  std::vector<float> m(padded_ * padded_, 0.0f);
  const float* w = block_weights(copy, round);
  for (int64_t blk = 0; blk < padded_ / b_; ++blk)
    for (int64_t k = 0; k < b_; ++k)
      for (int64_t j = 0; j < b_; ++j) m[(blk * b_ + k) * padded_ + blk * b_ + j] = w[(blk * b_ + k) * b_ + j];
  return m;
}

}  // namespace ffnbench

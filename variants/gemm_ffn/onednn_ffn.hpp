// The dense FFN through oneDNN matmul primitives: bias and activation fused as post-ops,
// fp32 or bf16 (AVX512-BF16 / AMX where the CPU has them). Primitives are made once per token
// count and reused; weights are reordered once into the layout the primitive asks for. The
// primitives run with a user scratchpad (ours, one buffer for both), so every buffer a call
// reads is one this class can name for cold-cache flushing (regions()).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/variant.hpp"
#include "gemm_ffn/dense_weights.hpp"

namespace ffnbench {

class OnednnFfn {
 public:
  OnednnFfn(const DenseFfnWeights& weights, Activation act, bool bf16, int64_t tokens);
  // Y[tokens][d] (fp32) from X[tokens][d] (fp32); bf16 converts X inside the call.
  void forward(const float* X, float* Y, int64_t tokens);
  // oneDNN's implementation names of both matmuls (e.g. "brg:avx512_core_amx").
  std::string impl_info() const;
  int64_t scratch_bytes() const;
  // What a call reads: the reordered weights oneDNN runs on (not the fp32 copies they were made
  // from), the biases, the hidden layer, the bf16 input copy, the scratchpad.
  std::vector<MemoryRegion> regions() const;

 private:
  void make_primitives(int64_t tokens);

  const DenseFfnWeights& w_;
  Activation act_;
  bool bf16_;
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  int64_t tokens_ = -1;
  dnnl::matmul up_, down_;
  dnnl::matmul::primitive_desc up_pd_, down_pd_;
  dnnl::reorder to_bf16_;
  dnnl::memory w1_, b1_, w2_, b2_, x_lp_, hidden_;
  std::unordered_map<int, dnnl::memory> up_args_, down_args_;  // all but SRC / DST, set once
  AlignedVector<uint8_t> scratchpad_;  // shared by both matmuls (they run one after the other)
};

}  // namespace ffnbench

// The dense FFN through oneDNN matmul primitives: bias and activation fused as post-ops,
// fp32 or bf16 (AVX512-BF16 / AMX where the CPU has them). Primitives are made once per token
// count and reused; weights are reordered once into the layout the primitive asks for.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>

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
};

}  // namespace ffnbench

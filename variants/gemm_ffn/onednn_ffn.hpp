// The dense FFN through oneDNN matmul primitives: bias and activation fused as post-ops,
// fp32, bf16 (AVX512-BF16 / AMX where the CPU has them) or int8 (VNNI / AMX-INT8 where the CPU
// has them). Primitives are made once per token count and reused; weights are reordered once
// into the layout the primitive asks for. The primitives run with a user scratchpad (ours, one
// buffer for both), so every buffer a call reads is one this class can name for cold-cache
// flushing (regions()).
//
// int8 is what a real int8 FFN pays on every call: s8 weights with a step per output channel
// (quantized once), X quantized per call to s8 with one step for the batch (dynamic), matmul 1
// s8·s8 with the weights' steps as output scales and, as post-ops, × the batch's X step (a runtime
// scalar), + b1, the activation, into an fp32 hidden layer; the hidden layer quantized per call
// to s8 the same way; matmul 2 likewise with + b2 into Y. (oneDNN 2.6/2.7 adds a bias argument
// before its output scales and runs runtime output scales only through its slower gemm path, so
// the per-call step is a binary post-op and the bias one after it.)
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/onednn_matmuls.hpp"
#include "core/variant.hpp"
#include "gemm_ffn/dense_weights.hpp"

namespace ffnbench {

class OnednnFfn {
 public:
  // `bare`: the two matmuls alone, no bias and no activation (gemm_floor; int8 keeps its
  // quantization of X and of the hidden layer, which no int8 FFN at an fp32 interface can skip).
  OnednnFfn(const DenseFfnWeights& weights, Activation act, OnednnPrecision precision, int64_t tokens,
            bool bare = false);
  // Y[tokens][d] (fp32) from X[tokens][d] (fp32); bf16 converts X inside the call, int8
  // quantizes X and the hidden layer inside the call.
  void forward(const float* X, float* Y, int64_t tokens);
  // oneDNN's implementation names of both matmuls (e.g. "brg:avx512_core_amx").
  std::string impl_info() const;
  int64_t scratch_bytes() const;
  // The bytes an OnednnFfn of this shape holds at `tokens` (its reordered weights, the int8
  // quantized and dequantized copies, the hidden layer, the low-precision input copy), for the
  // harness's memory pre-flight; oneDNN's scratchpad is not known before its primitives exist
  // and is left out (a few MiB of packing buffers).
  static double memory_bytes(int64_t d, int64_t d_ff, OnednnPrecision precision, int64_t tokens);
  // What a call reads: the reordered weights oneDNN runs on (not the fp32 copies they were made
  // from), the biases, the hidden layer, the bf16/int8 input copy, the scratchpad.
  std::vector<MemoryRegion> regions() const;

  // int8: the weights as the kernel multiplies them (q · step per output channel), in fp32 —
  // what the reference computes with; for fp32 and bf16 the weights themselves.
  const DenseFfnWeights& reference_weights() const { return precision_ == OnednnPrecision::Int8 ? dequantized_ : w_; }
  // int8: the steps of the last call's quantized X and hidden layer (0 before the first call).
  float x_step() const { return x_step_; }
  float hidden_step() const { return h_step_; }
  // int8: a bound on |y − reference| per output element from the last call's steps: 6σ of the
  // activation rounding noise carried to the output, σ² = max_k ‖W2[:,k]‖² · (L²·‖W1‖²·sx² +
  // sh²) / 12 (rounding uniform over ±s/2; layer 1's error bounded by W1's operator norm and
  // the activation's largest slope L, the hidden layer's rounding errors independent). 0 for
  // fp32 and bf16.
  double output_error_bound() const;

 private:
  void make_primitives(int64_t tokens);
  void quantize_weights();

  const DenseFfnWeights& w_;
  Activation act_;
  OnednnPrecision precision_;
  bool bare_;
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  int64_t tokens_ = -1;
  dnnl::matmul up_, down_;
  dnnl::matmul::primitive_desc up_pd_, down_pd_;
  dnnl::reorder to_bf16_;
  dnnl::memory w1_, b1_, w2_, b2_, x_lp_, hidden_, hidden_q_, x_step_mem_, h_step_mem_;
  std::unordered_map<int, dnnl::memory> up_args_, down_args_;  // all but SRC / DST, set once
  AlignedVector<uint8_t> scratchpad_;  // shared by both matmuls (they run one after the other)
  // int8: the quantized weights ([in][out], s8), their steps per output channel, the weights
  // they stand for, and the norms of output_error_bound.
  AlignedVector<int8_t> w1_q_, w2_q_;
  std::vector<float> w1_steps_, w2_steps_;
  DenseFfnWeights dequantized_;
  double w1_operator_norm_ = 0, w2_max_column_norm_ = 0;
  float x_step_ = 0, h_step_ = 0;  // memory the step post-ops read (x_step_mem_, h_step_mem_)
};

}  // namespace ffnbench

// oneDNN matmuls at fp32, bf16 and int8 for the families whose matmul-shaped parts are two
// products with a hidden layer between them, rows·A (+ a, act) → hidden → rows·B (+ b):
// MoE's experts (one weight set per expert, token panels of varying row counts) and soft_lookup's
// scores and mix (its softmax between the two). gemm_ffn's OnednnFfn shares the helpers below.
//
// What each precision does inside a call (the same rules as gemm_ffn's int8 and bf16 paths):
//   fp32  both matmuls in fp32, bias and activation as post-ops;
//   bf16  X converted to bf16 (oneDNN reorder), bf16 weights, fp32 accumulation; the hidden layer
//         written in bf16 by matmul 1 (or, with fp32_hidden, in fp32 and converted after the hook);
//   int8  s8 weights with a step per output channel (quantized once), X quantized per call to s8
//         with one step for the rows (dynamic), matmul 1 s8·s8 with, as post-ops, × (weight step
//         × X step) per output channel (a runtime [1, hidden] tensor), + a, the activation, into
//         an fp32 hidden layer; the hidden layer quantized per call the same way; matmul 2 likewise.
// The int8 steps ride in a runtime binary post-op, not in output scales, so one primitive per row
// count serves every weight set (oneDNN 2.6 compiles output scales into the primitive); weights
// are reordered once into the blocked layout the primitive for max_rows chose, which oneDNN's
// brgemm keeps for every row count (checked when a row count is prepared).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/activation.hpp"
#include "common/aligned.hpp"
#include "common/bf16.hpp"
#include "core/variant.hpp"

namespace ffnbench {

enum class OnednnPrecision { Fp32, Bf16, Int8 };
OnednnPrecision parse_onednn_precision(const std::string& name);  // "fp32", "bf16", "int8"
// What oneDNN's matmul at `precision` cannot run without (Kernel::needs_isa): "" for fp32, which
// runs on AVX (the ISA the valgrind child allows).
std::string onednn_needs_isa(const std::string& precision);

// Helpers shared by the oneDNN paths.
dnnl::algorithm onednn_eltwise(Activation a);
// The largest slope of the activation: how far it can stretch an error of its input.
double activation_max_slope(Activation a);
// A user matrix (fp32 or s8, row-major [rows][cols]) reordered into `wanted`.
dnnl::memory onednn_reordered(const dnnl::engine& engine, dnnl::stream& stream, const void* data,
                              dnnl::memory::data_type type, const dnnl::memory::dims& dims,
                              const dnnl::memory::desc& wanted);
// ‖A‖₂ of A [rows][cols] row-major by power iteration on AᵀA, in double.
double operator_norm(const float* a, int64_t rows, int64_t cols);
// max_j ‖A[:, j]‖₂ of A [rows][cols] row-major.
double max_column_norm(const float* a, int64_t rows, int64_t cols);
// 6σ of the int8 activation rounding carried to the output of two layers, σ² = ‖B‖²_maxcol ·
// (L²·‖A‖²·sx² + sh²) / 12 (rounding uniform over ±s/2; layer 1's error bounded by A's operator
// norm and the activation's largest slope L, the hidden layer's rounding errors independent).
double int8_two_layer_bound(double a_operator_norm, double b_max_column_norm, double slope, double x_step,
                            double hidden_step);

struct MatmulPairShape {
  int64_t in = 0, hidden = 0, out = 0;
  Activation act = Activation::None;  // on the hidden layer, after + a
  bool biases = false;                // a [hidden] and b [out]
  bool fp32_hidden = false;           // the hidden layer stays fp32 between the matmuls (for a hook)
};

class OnednnMatmulPair {
 public:
  OnednnMatmulPair(const MatmulPairShape& shape, OnednnPrecision precision, int64_t max_rows);

  // Adds a weight set: A [in][hidden], B [hidden][out] row-major fp32, biases (read at every call:
  // they must outlive this object; null without biases). Quantized (int8) or converted (bf16) and
  // reordered once. effective_a / effective_b (optional, same shapes) receive the weights the
  // kernel multiplies by, in fp32: dequantized (int8), rounded (bf16), copied (fp32). Returns the
  // set's index.
  int add_weights(const float* a, const float* a_bias, const float* b, const float* b_bias, float* effective_a = nullptr,
                  float* effective_b = nullptr);

  // Makes the primitives for `rows` rows (≤ max_rows), once; first() and second() need them.
  void prepare(int64_t rows);
  bool prepared(int64_t rows) const { return by_rows_.count(rows) > 0; }

  // hidden = act(X·A + a) for weight set `set`, X [rows][in] fp32. Returns the hidden layer
  // [rows][hidden] when it is fp32 (fp32 precision, int8, or fp32_hidden), else null.
  float* first(int set, const float* X, int64_t rows);
  // Y [rows][out] = hidden·B + b (bf16 with fp32_hidden converts the hidden layer first; int8
  // quantizes it).
  void second(int set, float* Y, int64_t rows);
  void forward(int set, const float* X, float* Y, int64_t rows) {
    first(set, X, rows);
    second(set, Y, rows);
  }

  // int8: the steps of the last call's quantized X and hidden layer (0 before the first call).
  float x_step() const { return x_step_; }
  float hidden_step() const { return h_step_; }
  OnednnPrecision precision() const { return precision_; }
  // oneDNN's implementation names of both matmuls at the largest prepared row count.
  std::string impl_info() const;
  // Bytes a weight set holds as the kernel reads it (reordered weights, steps, biases).
  double weight_set_bytes() const;
  // The bytes a pair of this shape holds with `weight_sets` sets (their reordered weights and
  // steps, the int8 quantized copy add_weights holds while converting one set, the buffers for
  // max_rows rows), for the harness's memory pre-flight; oneDNN's scratchpad and its primitives'
  // code are not known before the primitives exist and are left out (a few MiB).
  static double memory_bytes(const MatmulPairShape& shape, OnednnPrecision precision, int64_t max_rows,
                             int64_t weight_sets);
  // What a call reads: every set's reordered weights and biases, the hidden layers, the
  // low-precision copies, the step vectors, the scratchpad.
  std::vector<MemoryRegion> regions() const;

 private:
  struct Primitives {
    dnnl::matmul up, down;
    dnnl::matmul::primitive_desc up_pd, down_pd;
    dnnl::reorder x_to_bf16, hidden_to_bf16;
  };
  struct WeightSet {
    dnnl::memory a, b, a_bias, b_bias;
    std::vector<float> a_steps, b_steps;  // int8: per output channel
  };
  dnnl::memory::desc rows_desc(int64_t rows, int64_t cols, dnnl::memory::data_type type) const;

  MatmulPairShape shape_;
  OnednnPrecision precision_;
  int64_t max_rows_;
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_{engine_};
  dnnl::memory::desc a_layout_, b_layout_;  // the weights' blocked layouts (from max_rows)
  std::map<int64_t, Primitives> by_rows_;
  std::vector<WeightSet> sets_;
  // Buffers sized for max_rows, shared by every row count and weight set; first touch by a
  // static OpenMP loop (grow_scratch's rule).
  AlignedVector<uint8_t> x_low_, hidden_, hidden_low_, scratchpad_;
  AlignedVector<float> a_scale_, b_scale_;  // int8: weight step × activation step, per call
  float x_step_ = 0, h_step_ = 0;
};

}  // namespace ffnbench

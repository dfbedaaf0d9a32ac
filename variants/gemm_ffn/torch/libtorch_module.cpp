// impl = libtorch's PyTorch side, built as its own shared module (libffnbench_torch.so, linked to
// libtorch) that libtorch_ffn.cpp loads only when a libtorch kernel is built: every other process
// (each test, each cachesim child) starts without loading libtorch (1 s and 150 MB here, 4 s
// under valgrind). It uses ffnbench's headers only (nothing it would have to resolve in the
// executable).
#include "gemm_ffn/libtorch_ffn.hpp"

#include <ATen/Parallel.h>
#include <ATen/ops/linear.h>
#include <c10/core/InferenceMode.h>
#include <omp.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/normalization.h>
#include <torch/version.h>

namespace ffnbench {
namespace {

namespace F = torch::nn::functional;

// A [rows][cols] row-major fp32 buffer as a tensor that owns a copy, transposed if asked.
at::Tensor copy_of(const AlignedVector<float>& v, std::vector<int64_t> shape, bool transpose, at::ScalarType dtype) {
  at::Tensor t = torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32);
  if (transpose) t = t.t();
  return t.to(dtype).contiguous();
}

class TorchFfn final : public LibtorchFfn {
 public:
  TorchFfn(const DenseFfnWeights& w, const std::string& activation, bool bf16)
      : d_(w.d), activation_(activation), dtype_(bf16 ? torch::kBFloat16 : torch::kFloat32) {
    set_threads();
    // PyTorch's Linear keeps weight [out][in]; ours are [in][out].
    w1_ = copy_of(w.w1, {w.d, w.d_ff}, true, dtype_);
    b1_ = copy_of(w.b1, {w.d_ff}, false, dtype_);
    w2_ = copy_of(w.w2, {w.d_ff, w.d}, true, dtype_);
    b2_ = copy_of(w.b2, {w.d}, false, dtype_);
    if (w.has_layernorm()) {
      gamma_ = copy_of(w.ln_gamma, {w.d}, false, dtype_);
      beta_ = copy_of(w.ln_beta, {w.d}, false, dtype_);
    }
  }

  // What is timed, as a PyTorch user's forward pays it: the input wrapped without a copy (bf16:
  // its conversion), LayerNorm, linear, GELU (a new tensor, as nn.GELU), linear into Y (bf16:
  // a bf16 result converted into Y). PyTorch allocates the intermediates on every call.
  void forward(const float* X, float* Y, int64_t tokens) override {
    set_threads();
    c10::InferenceMode inference;  // no autograd bookkeeping, as torch.inference_mode()
    at::Tensor x = torch::from_blob(const_cast<float*>(X), {tokens, d_}, torch::kFloat32);
    if (dtype_ != torch::kFloat32) x = x.to(dtype_);
    if (gamma_.defined())
      x = F::layer_norm(x, F::LayerNormFuncOptions({d_}).weight(gamma_).bias(beta_).eps(1e-5));
    at::Tensor h = F::linear(x, w1_, b1_);
    if (activation_ == "relu") h = F::relu(h);
    else h = F::gelu(h, F::GELUFuncOptions().approximate(activation_ == "gelu_tanh" ? "tanh" : "none"));
    at::Tensor out = torch::from_blob(Y, {tokens, d_}, torch::kFloat32);
    if (dtype_ == torch::kFloat32) {
      at::linear_out(out, h, w2_, b2_);  // F::linear's own op, writing the caller's buffer: no extra copy
    } else {
      out.copy_(F::linear(h, w2_, b2_));  // bf16 → fp32, what a caller with fp32 activations pays
    }
  }

  std::vector<MemoryRegion> regions() const override {
    std::vector<MemoryRegion> r;
    for (const at::Tensor* t : {&w1_, &b1_, &w2_, &b2_, &gamma_, &beta_})
      if (t->defined()) r.push_back({t->data_ptr(), static_cast<size_t>(t->nbytes())});
    return r;
  }

  std::map<std::string, std::string> extras() const override {
    return {{"torch_version", TORCH_VERSION}, {"torch_threads", std::to_string(at::get_num_threads())}};
  }

 private:
  // at::set_num_threads is process-wide: set it to the point's thread count (the harness's
  // omp_set_num_threads) whenever it differs, so points of other thread counts cannot leak in.
  static void set_threads() {
    const int threads = omp_get_max_threads();
    if (at::get_num_threads() != threads) at::set_num_threads(threads);
  }

  int64_t d_;
  std::string activation_;
  at::ScalarType dtype_;
  at::Tensor w1_, b1_, w2_, b2_, gamma_, beta_;
};

}  // namespace

}  // namespace ffnbench

// The module's one entry point, looked up by name (dlsym) in libtorch_ffn.cpp.
extern "C" ffnbench::LibtorchFfn* ffnbench_make_libtorch_ffn(const ffnbench::DenseFfnWeights* w, const char* activation,
                                                              bool bf16) {
  return new ffnbench::TorchFfn(*w, activation, bf16);
}

// impl = libtorch: the dense FFN as most researchers time it, through PyTorch's C++ frontend
// (Debian's libtorch-dev): torch::nn::functional::layer_norm (optional), linear, gelu (erf or
// tanh) or relu, linear; at::set_num_threads(the point's threads); fp32, or the whole block in
// bf16 (weights, LayerNorm, activations: model.to(torch.bfloat16)). Every torch header stays in
// torch/libtorch_module.cpp, built only with FFNBENCH_LIBTORCH into a module of its own that
// libtorch_ffn.cpp loads on first use; this header is torch-free.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/variant.hpp"
#include "gemm_ffn/dense_weights.hpp"

namespace ffnbench {

class LibtorchFfn {
 public:
  virtual ~LibtorchFfn() = default;
  // Y[tokens][d] = the block applied to X[tokens][d] (fp32 in and out; bf16 converts inside).
  virtual void forward(const float* X, float* Y, int64_t tokens) = 0;
  virtual std::vector<MemoryRegion> regions() const = 0;  // the weight tensors' storage
  virtual std::map<std::string, std::string> extras() const = 0;
};

// Whether this build has libtorch (CMake option FFNBENCH_LIBTORCH) and its module loads; if not, why.
bool libtorch_available();
std::string libtorch_unavailable_reason();

// The block on the same weights as the other impls (`w`, [in][out], copied to PyTorch's [out][in]).
// `activation`: gelu_erf | gelu_tanh | relu. Throws std::logic_error in a build without libtorch.
std::unique_ptr<LibtorchFfn> make_libtorch_ffn(const DenseFfnWeights& w, const std::string& activation, bool bf16);

}  // namespace ffnbench

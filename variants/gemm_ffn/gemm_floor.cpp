// gemm_floor: the two bare cblas_sgemm calls of a dense FFN's shapes, Y = (X·W1)·W2, no bias, no
// activation. It is the BLAS floor the dense baseline is held to (gemm_ffn ≤ 1.10× its time).
#include <memory>

#include "common/blas.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"

namespace ffnbench {
namespace {

class GemmFloorKernel final : public Kernel {
 public:
  GemmFloorKernel(int64_t d, int64_t d_ff, uint64_t seed, int64_t max_tokens)
      : w_(DenseFfnWeights::random(d, d_ff, seed, /*with_bias=*/false)) {
    grow_scratch(hidden_, max_tokens * d_ff);  // zeroed by a static loop: first touch spread over the threads
  }

  int64_t d_in() const override { return w_.d; }
  int64_t d_out() const override { return w_.d; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer*) override {
    grow_scratch(hidden_, tokens * w_.d_ff);
    sgemm_rowmajor(tokens, w_.d_ff, w_.d, 1.0f, X, w_.d, w_.w1.data(), w_.d_ff, false, 0.0f, hidden_.data(), w_.d_ff);
    sgemm_rowmajor(tokens, w_.d, w_.d_ff, 1.0f, hidden_.data(), w_.d_ff, w_.w2.data(), w_.d, false, 0.0f, Y, w_.d);
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
    dense_ffn_reference(w_, Activation::None, X, Y, tokens);
  }

  Cost cost(int64_t tokens) const override {
    const double n = tokens, d = w_.d, f = w_.d_ff;
    Cost c;
    c.flops = 4.0 * n * d * f;
    c.weight_bytes = 8.0 * d * f;
    c.activation_bytes = 8.0 * n * d + 8.0 * n * f;
    c.working_set_bytes = c.weight_bytes;
    return c;
  }

  std::vector<MemoryRegion> memory_regions() const override {
    return {{w_.w1.data(), w_.w1.size() * 4}, {w_.w2.data(), w_.w2.size() * 4}, {hidden_.data(), hidden_.size() * 4}};
  }
  std::string cold_mode_gaps() const override {
    return "OpenBLAS's internal packing buffers (its own allocation, not reachable; rewritten from the weights "
           "and activations on every sgemm call)";
  }

 private:
  DenseFfnWeights w_;
  AlignedVector<float> hidden_;
};

class GemmFloorVariant final : public Variant {
 public:
  std::string name() const override { return "gemm_floor"; }
  std::string doc() const override {
    return "BLAS floor: the two bare cblas_sgemm calls of gemm_ffn's shapes, (X·W1)·W2";
  }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "model width"),
            ParamSpec::integer("d_ff", 2048, 1, 1 << 20, "hidden width")};
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<GemmFloorKernel>(c.integer("d"), c.integer("d_ff"), seed, max_tokens);
  }
};

FFNBENCH_REGISTER_VARIANT(GemmFloorVariant);

}  // namespace
}  // namespace ffnbench

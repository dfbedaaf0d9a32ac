// gemm_floor: the two bare matmuls of a dense FFN's shapes, Y = (X·W1)·W2, no bias, no
// activation. It is the floor the dense baseline is held to (gemm_ffn ≤ 1.05× its time): two
// cblas_sgemm calls (impl = openblas), two bli_sgemm_ex calls (impl = blis, BLIS's typed API,
// its OpenMP build), or oneDNN's two bare matmuls (impl = onednn) in fp32, bf16 (X converted,
// hidden layer in bf16) or int8 (s8 weights with a step per output channel; X and the hidden
// layer quantized per call, which an int8 FFN behind an fp32 interface cannot skip). The fp32
// floor is the fastest of the OpenBLAS, BLIS and oneDNN pairs; bf16's and int8's are oneDNN's
// (plots/ffndataset.py, dense_floor, picks it from the measured points).
#include <fmt/format.h>
#include <omp.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/blas.hpp"
#include "common/blis.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "gemm_ffn/onednn_ffn.hpp"

namespace ffnbench {
namespace {

class GemmFloorKernel final : public Kernel {
 public:
  GemmFloorKernel(int64_t d, int64_t d_ff, const std::string& impl, const std::string& precision, uint64_t seed,
                  int64_t max_tokens)
      : w_(DenseFfnWeights::random(d, d_ff, seed, /*with_bias=*/false)), impl_(impl), precision_(precision) {
    if (impl == "onednn")
      onednn_.emplace(w_, Activation::None, parse_onednn_precision(precision), max_tokens, /*bare=*/true);
    else
      grow_scratch(hidden_, max_tokens * d_ff);  // zeroed by a static loop: first touch spread over the threads
  }

  int64_t d_in() const override { return w_.d; }
  int64_t d_out() const override { return w_.d; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer*) override {
    if (onednn_) return onednn_->forward(X, Y, tokens);
    grow_scratch(hidden_, tokens * w_.d_ff);
    sgemm(tokens, w_.d_ff, w_.d, X, w_.d, w_.w1.data(), w_.d_ff, hidden_.data(), w_.d_ff);
    sgemm(tokens, w_.d, w_.d_ff, hidden_.data(), w_.d_ff, w_.w2.data(), w_.d, Y, w_.d);
  }

  void sgemm(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
             int64_t ldc) {
    if (impl_ == "blis") return blis_sgemm_rowmajor(m, n, k, 1.0f, A, lda, B, ldb, false, 0.0f, C, ldc, omp_get_max_threads());
    sgemm_rowmajor(m, n, k, 1.0f, A, lda, B, ldb, false, 0.0f, C, ldc);
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
    dense_ffn_reference(onednn_ ? onednn_->reference_weights() : w_, Activation::None, X, Y, tokens);
  }
  // As gemm_ffn's: bf16 rounds to 8 significant bits; int8 adds its rounding bound.
  double tolerance() const override { return precision_ == "bf16" ? 5e-2 : 1e-4; }
  double error_bound() const override { return onednn_ ? onednn_->output_error_bound() : 0.0; }
  bool uses_onednn() const override { return onednn_.has_value(); }
  std::string needs_isa() const override { return onednn_needs_isa(precision_); }
  // Which library really ran: oneDNN's implementation, or the file holding the gemm entry point
  // called (dladdr) and BLIS's version.
  std::map<std::string, std::string> extras() const override {
    if (onednn_) return {{"onednn_impl", onednn_->impl_info()}};
    if (impl_ == "blis")
      return {{"blas_library", blis_gemm_library_file()}, {"blis_version", blis_version()}, {"blis_arch", blis_arch()}};
    return {{"blas_library", cblas_sgemm_library_file()}};
  }

  Cost cost(int64_t tokens) const override {
    // Bytes per weight and hidden element as stored (4, 2, 1); int8 also writes its hidden layer in
    // fp32 and reads it back to quantize it, reads X twice (max, then conversion) and writes its
    // s8 copy; bf16 writes and reads a bf16 copy of X.
    const double n = tokens, d = w_.d, f = w_.d_ff;
    const double b = precision_ == "int8" ? 1.0 : precision_ == "bf16" ? 2.0 : 4.0;
    Cost c;
    c.flops = 4.0 * n * d * f;
    c.weight_bytes = 2.0 * d * f * b + (precision_ == "int8" ? 4.0 * (d + f) : 0.0);
    c.activation_bytes = 8.0 * n * d + 2.0 * n * f * b;
    if (precision_ == "bf16") c.activation_bytes += 4.0 * n * d;
    if (precision_ == "int8") c.activation_bytes += 6.0 * n * d + 8.0 * n * f;
    c.working_set_bytes = c.weight_bytes;
    return c;
  }

  std::vector<MemoryRegion> memory_regions() const override {
    if (onednn_) return onednn_->regions();
    return {{w_.w1.data(), w_.w1.size() * 4}, {w_.w2.data(), w_.w2.size() * 4}, {hidden_.data(), hidden_.size() * 4}};
  }
  std::string cold_mode_gaps() const override {
    if (onednn_) return "";  // user scratchpad: every buffer it reads is named
    return std::string(impl_ == "blis" ? "BLIS's packing buffers (its own memory pool"
                                       : "OpenBLAS's internal packing buffers (its own allocation") +
           ", not reachable; rewritten from the weights and activations on every sgemm call)";
  }

 private:
  DenseFfnWeights w_;
  std::string impl_, precision_;
  AlignedVector<float> hidden_;
  std::optional<OnednnFfn> onednn_;
};

class GemmFloorVariant final : public Variant {
 public:
  std::string name() const override { return "gemm_floor"; }
  std::string doc() const override {
    return "floor: the two bare matmuls of gemm_ffn's shapes, (X·W1)·W2 (cblas_sgemm, BLIS, or oneDNN in "
           "fp32/bf16/int8)";
  }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "model width"),
            ParamSpec::integer("d_ff", 2048, 1, 1 << 20, "hidden width"),
            ParamSpec::choice("impl", "openblas", {"openblas", "blis", "onednn"},
                              "openblas: two cblas_sgemm; blis: two bli_sgemm_ex (BLIS's OpenMP build); onednn: two "
                              "bare matmul primitives"),
            ParamSpec::choice("precision", "fp32", {"fp32", "bf16", "int8"},
                              "weights and hidden layer; bf16 and int8 (quantized as gemm_ffn's) need onednn")};
  }
  void validate(const Config& c) const override {
    if (const std::string p = c.str("precision"); p != "fp32" && c.str("impl") != "onednn")
      throw ConfigError("precision", p, fmt::format("needs impl=onednn (impl={} has no {})", c.str("impl"), p));
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<GemmFloorKernel>(c.integer("d"), c.integer("d_ff"), c.str("impl"), c.str("precision"), seed,
                                             max_tokens);
  }
  // fp32 weights, the output, and the whole batch's hidden layer (openblas) or oneDNN's copies.
  double memory_bytes(const Config& c, int64_t tokens, int) const override {
    const double d = double(c.integer("d")), f = double(c.integer("d_ff")), n = double(tokens);
    const double shared = 4 * 2 * d * f + 4 * n * d;
    if (c.str("impl") == "onednn")
      return shared + OnednnFfn::memory_bytes(c.integer("d"), c.integer("d_ff"),
                                              parse_onednn_precision(c.str("precision")), tokens);
    return shared + 4 * n * f;
  }
};

FFNBENCH_REGISTER_VARIANT(GemmFloorVariant);

}  // namespace
}  // namespace ffnbench

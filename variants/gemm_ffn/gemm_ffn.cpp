// gemm_ffn, the dense baseline: Y = act(X·W1 + b1)·W2 + b2 (DESIGN.md §4).
// Cost (likwid-bench style, next to the kernel): FLOPs 4·N·d·d_ff (the two GEMMs; the bias and
// activation terms, O(N·(d_ff + d)), are left out by convention, as in the papers' counts).
#include <fmt/format.h>
#include <omp.h>

#include <memory>
#include <optional>

#include "common/blas.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "gemm_ffn/onednn_ffn.hpp"

namespace ffnbench {
namespace {

class GemmFfnKernel final : public Kernel {
 public:
  GemmFfnKernel(const Config& c, uint64_t seed, int64_t max_tokens)
      : w_(DenseFfnWeights::random(c.integer("d"), c.integer("d_ff"), seed)),
        act_(parse_activation(c.str("activation"))),
        impl_(c.str("impl")),
        bf16_(c.str("precision") == "bf16") {
    if (impl_ == "openblas")
      grow_hidden(std::min(max_tokens, static_cast<int64_t>(omp_get_max_threads()) * panel_rows()) * w_.d_ff);
    if (impl_ == "onednn") onednn_.emplace(w_, act_, bf16_, max_tokens);
  }

  int64_t d_in() const override { return w_.d; }
  int64_t d_out() const override { return w_.d; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer*) override {
    if (impl_ == "naive") return reference(X, Y, tokens);
    if (impl_ == "onednn") return onednn_->forward(X, Y, tokens);
    const int64_t panel = panel_rows();
    if (tokens >= panel * omp_get_max_threads()) forward_openblas_panels(X, Y, tokens, panel);
    else forward_openblas_whole(X, Y, tokens);
  }

  // Large batches: tokens in panels of ~8 MiB of hidden activations, each thread taking whole
  // panels (OpenBLAS runs single-threaded inside a parallel region). A panel's H stays in the
  // core's L2/LLC between GEMM1, the epilogue and GEMM2 instead of streaming N·d_ff floats
  // through DRAM three times; 8 MiB keeps OpenBLAS's per-call packing of the weights (d·d_ff)
  // small next to the panel's compute (measured: 1.06x the bare sgemm pair at d=512,
  // d_ff=2048, N=32768 vs 1.15x without panels and 1.19x with 1 MiB panels).
  void forward_openblas_panels(const float* X, float* Y, int64_t tokens, int64_t panel) {
    const int64_t d = w_.d, f = w_.d_ff;
    const int64_t panels = (tokens + panel - 1) / panel;
    grow_hidden(static_cast<int64_t>(omp_get_max_threads()) * panel * f);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t t0 = p * panel, rows = std::min(panel, tokens - t0);
      float* h = hidden_.data() + static_cast<int64_t>(omp_get_thread_num()) * panel * f;
      two_layers(X + t0 * d, Y + t0 * d, rows, h, /*parallel=*/false);
    }
  }

  // Small batches (fewer panels than threads): the whole batch at once, OpenBLAS threaded.
  void forward_openblas_whole(const float* X, float* Y, int64_t tokens) {
    grow_hidden(tokens * w_.d_ff);
    two_layers(X, Y, tokens, hidden_.data(), /*parallel=*/true);
  }

  // H = act(X·W1 + b1) in place in `h`, then Y = b2 + H·W2.
  void two_layers(const float* X, float* Y, int64_t rows, float* h, bool parallel) {
    const int64_t d = w_.d, f = w_.d_ff;
    sgemm_rowmajor(rows, f, d, 1.0f, X, d, w_.w1.data(), f, false, 0.0f, h, f);
    if (parallel) bias_activation_rows(h, rows, f, w_.b1.data(), act_);
    else bias_activation_rows_serial(h, rows, f, w_.b1.data(), act_);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < rows; ++t) std::copy(w_.b2.begin(), w_.b2.end(), Y + t * d);
    sgemm_rowmajor(rows, d, f, 1.0f, h, f, w_.w2.data(), d, false, 1.0f, Y, d);
  }

  int64_t panel_rows() const {
    const int64_t rows = (8 << 20) / (4 * w_.d_ff);
    return std::max<int64_t>(64, rows / 16 * 16);
  }

  void grow_hidden(int64_t floats) {
    if (static_cast<int64_t>(hidden_.size()) < floats) hidden_.resize(floats);  // once, on the first call
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
    dense_ffn_reference(w_, act_, X, Y, tokens);
  }

  Cost cost(int64_t tokens) const override {
    const double n = tokens, d = w_.d, f = w_.d_ff, wbytes = bf16_ ? 2.0 : 4.0;
    Cost c;
    c.flops = 4.0 * n * d * f;
    c.weight_bytes = (2.0 * d * f) * wbytes + 4.0 * (d + f);
    c.activation_bytes = 4.0 * n * d * 2 + 2.0 * n * f * wbytes;  // X, Y; H written and read
    c.working_set_bytes = c.weight_bytes;
    return c;
  }

  // bf16 rounds inputs, weights and the hidden layer to 8 significant bits (relative step
  // 2^-8); over d-term dot products with random signs the error stays near 1e-2 of the output's
  // rms. fp32: summation order and the activation's approximation (< 5e-7) only.
  double tolerance() const override { return bf16_ ? 5e-2 : 1e-4; }

  std::vector<MemoryRegion> memory_regions() const override {
    return {{w_.w1.data(), w_.w1.size() * 4}, {w_.w2.data(), w_.w2.size() * 4}, {hidden_.data(), hidden_.size() * 4}};
  }

  std::map<std::string, std::string> extras() const override {
    if (!onednn_) return {};
    return {{"onednn_impl", onednn_->impl_info()}};
  }

 private:
  DenseFfnWeights w_;
  Activation act_;
  std::string impl_;
  bool bf16_;
  AlignedVector<float> hidden_;
  std::optional<OnednnFfn> onednn_;
};

class GemmFfnVariant final : public Variant {
 public:
  std::string name() const override { return "gemm_ffn"; }
  std::string doc() const override {
    return "dense FFN baseline Y = act(X·W1 + b1)·W2 + b2 through OpenBLAS or oneDNN";
  }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "model width (d_in = d_out)"),
            ParamSpec::integer("d_ff", 2048, 1, 1 << 20, "hidden width"),
            ParamSpec::choice("activation", "gelu_erf", {"gelu_erf", "gelu_tanh", "relu"}, "hidden activation"),
            ParamSpec::choice("impl", "openblas", {"openblas", "onednn", "naive"},
                              "openblas: 2 sgemm + fused vector epilogue; onednn: matmul with bias+act "
                              "post-ops; naive: the scalar reference"),
            ParamSpec::choice("precision", "fp32", {"fp32", "bf16"}, "weights and hidden layer; bf16 needs onednn")};
  }
  void validate(const Config& c) const override {
    if (c.str("precision") == "bf16" && c.str("impl") != "onednn")
      throw ConfigError("precision", "bf16", fmt::format("needs impl=onednn (impl={} is fp32 only)", c.str("impl")));
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<GemmFfnKernel>(c, seed, max_tokens);
  }
};

FFNBENCH_REGISTER_VARIANT(GemmFfnVariant);

}  // namespace
}  // namespace ffnbench

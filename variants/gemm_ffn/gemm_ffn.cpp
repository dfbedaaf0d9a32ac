// gemm_ffn, the dense baseline: Y = act(X·W1 + b1)·W2 + b2 (DESIGN.md §4), optionally with a
// LayerNorm in front (layernorm = true: Y = act(LN(X)·W1 + b1)·W2 + b2, LN affine with γ = 1,
// β = 0, ε = 1e-5 — LookupFFN's paper times LayerNorm → Linear → GELU → Linear). `weights`
// loads a trained block instead (its γ and β included).
// Cost (likwid-bench style, next to the kernel): FLOPs 4·N·d·d_ff (the two GEMMs; the bias and
// activation terms, O(N·(d_ff + d)), are left out by convention, as in the papers' counts), plus
// 8·N·d for the LayerNorm when it is on (layer_norm.hpp says which 8). With the LayerNorm the
// kernel reports two stages, layernorm and ffn: a pass of its own over the batch for onednn and
// for small openblas/blis batches; fused per panel (LN of the panel, then its two GEMMs, on one
// thread) for large openblas/blis batches, where the layernorm stage is the mean over threads of
// the time each spent normalizing. libtorch is one call into PyTorch (libtorch_ffn.hpp): no stages.
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
#include <memory>
#include <optional>

#include "common/blas.hpp"
#include "common/blis.hpp"
#include "common/precision_error.hpp"
#include "common/trained_weights.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "gemm_ffn/layer_norm.hpp"
#include "gemm_ffn/libtorch_ffn.hpp"
#include "gemm_ffn/onednn_ffn.hpp"

namespace ffnbench {
namespace {

// Trained weights (training/FORMAT.md §3): PyTorch's Linear weights [out, in], LayerNorm's γ, β.
std::vector<TensorNeed> trained_tensors(const Config& c) {
  const int64_t d = c.integer("d"), f = c.integer("d_ff");
  std::vector<TensorNeed> needs = {{"w1.weight", {f, d}}, {"w1.bias", {f}}, {"w2.weight", {d, f}}, {"w2.bias", {d}}};
  if (c.str("layernorm") == "true") {
    needs.push_back({"ln.weight", {d}});
    needs.push_back({"ln.bias", {d}});
  }
  return needs;
}

std::optional<SafetensorsFile> trained_weights(const Config& c) {
  return open_trained_weights(c, "gemm_ffn", trained_tensors(c), {"d", "d_ff", "layernorm", "activation"});
}

// Seeded random weights (LayerNorm γ = 1, β = 0), or the trained ones, relaid out to [in][out].
DenseFfnWeights make_weights(const Config& c, uint64_t seed) {
  const bool ln = c.str("layernorm") == "true";
  if (auto file = trained_weights(c)) {
    DenseFfnWeights w;
    w.d = c.integer("d");
    w.d_ff = c.integer("d_ff");
    w.w1 = load_transposed(*file, "w1.weight");
    w.b1 = load_tensor(*file, "w1.bias");
    w.w2 = load_transposed(*file, "w2.weight");
    w.b2 = load_tensor(*file, "w2.bias");
    if (ln) {
      w.ln_gamma = load_tensor(*file, "ln.weight");
      w.ln_beta = load_tensor(*file, "ln.bias");
    }
    return w;
  }
  DenseFfnWeights w = DenseFfnWeights::random(c.integer("d"), c.integer("d_ff"), seed);
  if (ln) w.add_layernorm();
  return w;
}

// Tokens per panel of the openblas impl: about 8 MiB of hidden activations (see
// forward_openblas_panels), a multiple of 16 rows.
int64_t openblas_panel_rows(int64_t d_ff) {
  const int64_t rows = (8 << 20) / (4 * d_ff);
  return std::max<int64_t>(64, rows / 16 * 16);
}

class GemmFfnKernel final : public Kernel {
 public:
  GemmFfnKernel(const Config& c, uint64_t seed, int64_t max_tokens)
      : w_(make_weights(c, seed)),
        act_(parse_activation(c.str("activation"))),
        impl_(c.str("impl")),
        precision_(c.str("precision")),
        bf16_(precision_ == "bf16"),
        int8_(precision_ == "int8") {
    if (blas_impl()) {
      const int64_t rows = std::min(max_tokens, static_cast<int64_t>(omp_get_max_threads()) * panel_rows());
      grow_scratch(hidden_, rows * w_.d_ff);
      if (w_.has_layernorm()) grow_scratch(normed_, rows * w_.d);
    }
    if (impl_ == "onednn") {
      onednn_.emplace(w_, act_, parse_onednn_precision(precision_), max_tokens);
      if (w_.has_layernorm()) grow_scratch(normed_, max_tokens * w_.d);
    }
    if (impl_ == "libtorch") libtorch_ = make_libtorch_ffn(w_, c.str("activation"), bf16_);
  }

  // openblas and blis share the panel structure and the fused epilogue; only the sgemm differs.
  bool blas_impl() const { return impl_ == "openblas" || impl_ == "blis"; }
  void sgemm(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
             float* C, int64_t ldc, bool parallel) {
    if (impl_ == "blis")
      return blis_sgemm_rowmajor(m, n, k, 1.0f, A, lda, B, ldb, false, beta, C, ldc, parallel ? omp_get_max_threads() : 1);
    sgemm_rowmajor(m, n, k, 1.0f, A, lda, B, ldb, false, beta, C, ldc);
  }

  int64_t d_in() const override { return w_.d; }
  int64_t d_out() const override { return w_.d; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    if (impl_ == "naive") return reference(X, Y, tokens);
    if (libtorch_) return libtorch_->forward(X, Y, tokens);
    const bool ln = w_.has_layernorm();
    if (impl_ == "onednn") {
      const float* src = X;
      if (ln) {
        StageTimer::Scope s(stages, 0);
        src = normalize_whole(X, tokens);
      }
      StageTimer::Scope s(stages, 1);
      return onednn_->forward(src, Y, tokens);
    }
    const int64_t panel = panel_rows();
    if (tokens >= panel * omp_get_max_threads()) return forward_openblas_panels(X, Y, tokens, panel, stages);
    const float* src = X;
    if (ln) {
      StageTimer::Scope s(stages, 0);
      src = normalize_whole(X, tokens);
    }
    StageTimer::Scope s(stages, 1);
    forward_openblas_whole(src, Y, tokens);
  }

  // normed_[0..tokens) = LN(X), a parallel pass of its own (rows split statically, as the
  // buffer's first touch was).
  const float* normalize_whole(const float* X, int64_t tokens) {
    const int64_t d = w_.d;
    grow_scratch(normed_, tokens * d);
    layer_norm_rows(X, d, normed_.data(), d, tokens, d, w_.ln_gamma.data(), w_.ln_beta.data(), /*parallel=*/true);
    return normed_.data();
  }

  // Large batches: tokens in panels of ~8 MiB of hidden activations, each thread taking whole
  // panels (OpenBLAS runs single-threaded inside a parallel region). A panel's H stays in the
  // core's L2/LLC between GEMM1, the epilogue and GEMM2 instead of streaming N·d_ff floats
  // through DRAM three times; 8 MiB keeps OpenBLAS's per-call packing of the weights (d·d_ff)
  // small next to the panel's compute (measured: 1.06x the bare sgemm pair at d=512,
  // d_ff=2048, N=32768 vs 1.15x without panels and 1.19x with 1 MiB panels). With the
  // LayerNorm, each panel is normalized by its thread into that thread's slice of normed_
  // just before its GEMMs (it stays in cache for GEMM1).
  void forward_openblas_panels(const float* X, float* Y, int64_t tokens, int64_t panel, StageTimer* stages) {
    using Clock = std::chrono::steady_clock;
    const int64_t d = w_.d, f = w_.d_ff;
    const int64_t panels = (tokens + panel - 1) / panel;
    const int threads = omp_get_max_threads();
    const bool ln = w_.has_layernorm(), timed = ln && stages != nullptr;
    grow_scratch(hidden_, static_cast<int64_t>(threads) * panel * f);
    if (ln) grow_scratch(normed_, static_cast<int64_t>(threads) * panel * d);
    if (static_cast<int>(ln_seconds_.size()) < threads) ln_seconds_.resize(threads);
    std::fill(ln_seconds_.begin(), ln_seconds_.end(), 0.0);
    const auto t0 = Clock::now();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t r0 = p * panel, rows = std::min(panel, tokens - r0);
      const int tid = omp_get_thread_num();
      float* h = hidden_.data() + static_cast<int64_t>(tid) * panel * f;
      const float* src = X + r0 * d;
      if (ln) {
        const auto l0 = timed ? Clock::now() : Clock::time_point{};
        float* u = normed_.data() + static_cast<int64_t>(tid) * panel * d;
        layer_norm_rows(src, d, u, d, rows, d, w_.ln_gamma.data(), w_.ln_beta.data(), /*parallel=*/false);
        src = u;
        if (timed) ln_seconds_[tid] += std::chrono::duration<double>(Clock::now() - l0).count();
      }
      two_layers(src, Y + r0 * d, rows, h, /*parallel=*/false);
    }
    if (timed) {
      const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
      double ln_share = 0;
      for (int t = 0; t < threads; ++t) ln_share += ln_seconds_[t];
      ln_share = std::min(wall, ln_share / threads);
      stages->add(0, ln_share);
      stages->add(1, wall - ln_share);
    }
  }

  // Small batches (fewer panels than threads): the whole batch at once, the BLAS threaded.
  void forward_openblas_whole(const float* X, float* Y, int64_t tokens) {
    grow_scratch(hidden_, tokens * w_.d_ff);
    two_layers(X, Y, tokens, hidden_.data(), /*parallel=*/true);
  }

  // H = act(X·W1 + b1) in place in `h`, then Y = b2 + H·W2.
  void two_layers(const float* X, float* Y, int64_t rows, float* h, bool parallel) {
    const int64_t d = w_.d, f = w_.d_ff;
    sgemm(rows, f, d, X, d, w_.w1.data(), f, 0.0f, h, f, parallel);
    if (parallel) bias_activation_rows(h, rows, f, w_.b1.data(), act_);
    else bias_activation_rows_serial(h, rows, f, w_.b1.data(), act_);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < rows; ++t) std::copy(w_.b2.begin(), w_.b2.end(), Y + t * d);
    sgemm(rows, d, f, h, f, w_.w2.data(), d, 1.0f, Y, d, parallel);
  }

  int64_t panel_rows() const { return openblas_panel_rows(w_.d_ff); }

  // int8: the fp32 math on the dequantized weights (what the kernel multiplies by); the
  // activations' rounding is what error_bound() allows for.
  void reference(const float* X, float* Y, int64_t tokens) const override {
    dense_ffn_reference(onednn_ ? onednn_->reference_weights() : w_, act_, X, Y, tokens);
  }

  // The stages are reported only with the LayerNorm on, and not by naive (the reference, untimed
  // inside) nor libtorch (one call into PyTorch's modules).
  std::vector<std::string> stage_names() const override {
    if (!w_.has_layernorm() || impl_ == "naive" || impl_ == "libtorch") return {};
    return {"layernorm", "ffn"};
  }

  Cost cost(int64_t tokens) const override {
    // Bytes per weight and per hidden element as stored: 4 (fp32), 2 (bf16), 1 (int8; its hidden
    // layer is also written in fp32 by matmul 1 and read back by the quantization: + 8 per element).
    const double n = tokens, d = w_.d, f = w_.d_ff, wbytes = int8_ ? 1.0 : bf16_ ? 2.0 : 4.0;
    const bool ln = w_.has_layernorm();
    const double ln_flops = ln ? kLayerNormFlopsPerElement * n * d : 0.0;
    Cost c;
    c.flops = 4.0 * n * d * f + ln_flops;
    // libtorch bf16 keeps b1, b2, γ and β in bf16 too (the whole block converted, as model.to(bfloat16)).
    const double vbytes = libtorch_ && bf16_ ? 2.0 : 4.0;
    c.weight_bytes = (2.0 * d * f) * wbytes + vbytes * (d + f) + (ln ? 2.0 * vbytes * d : 0.0);  // W1, W2, b1, b2, γ, β
    if (int8_) c.weight_bytes += 4.0 * (f + d);                                     // steps per channel
    c.activation_bytes = 4.0 * n * d * 2 + 2.0 * n * f * wbytes;  // X, Y; H written and read
    if (ln) c.activation_bytes += 2.0 * 4.0 * n * d;             // LN(X) written and read (fp32)
    if (bf16_) c.activation_bytes += 2.0 * 2.0 * n * d;          // the bf16 copy of the input
    const double int8_extra = int8_ ? 2.0 * 1.0 * n * d + 4.0 * n * d + 8.0 * n * f : 0.0;
    c.activation_bytes += int8_extra;  // int8: X read again for its max, its s8 copy; fp32 hidden out and in
    if (libtorch_) c.activation_bytes += 2.0 * n * f * wbytes;   // F::gelu writes a new tensor: H' out and in
    c.working_set_bytes = c.weight_bytes;
    if (!stage_names().empty()) {
      // LayerNorm streams X in and LN(X) out; the FFN streams LN(X) in, Y out and H out and
      // back, and reads its weights (the GEMMs' packing re-reads them from cache: counted once).
      const double weights = c.weight_bytes - 8.0 * d;
      c.stage_flops = {ln_flops, 4.0 * n * d * f};
      c.stage_bytes = {8.0 * d, weights};
      c.stage_stream_bytes = {8.0 * n * d, 8.0 * n * d + 2.0 * n * f * wbytes + int8_extra};
      c.stage_working_set_bytes = {8.0 * d, weights};
      c.stage_compute_precision = {"fp32", precision_};
    }
    return c;
  }

  // bf16 rounds inputs, weights and the hidden layer to 8 significant bits (relative step
  // 2^-8); over d-term dot products with random signs the error stays near 1e-2 of the output's
  // rms. fp32: summation order and the activation's approximation (< 5e-7) only. int8 against
  // its dequantized weights: the same 1e-4 for the arithmetic (int32 sums are exact; scales,
  // bias and activation in fp32), and error_bound() for the activations' rounding.
  double tolerance() const override { return bf16_ ? 5e-2 : 1e-4; }
  double error_bound() const override { return onednn_ ? onednn_->output_error_bound() : 0.0; }

  bool uses_onednn() const override { return impl_ == "onednn"; }
  // oneDNN has bf16 matmuls only from AVX512-BF16 up (AMX) and runs int8 on VNNI / AMX-INT8.
  // libtorch reads the time-stamp counter with RDTSCP, which valgrind 3.19 cannot decode (the
  // cachesim child dies on it); its bf16 linear also needs AVX-512 BW/VL/DQ to reach oneDNN.
  std::string needs_isa() const override {
    if (libtorch_) return "RDTSCP (PyTorch reads the time-stamp counter with it; valgrind 3.19 cannot decode it)";
    return onednn_needs_isa(precision_);
  }

  // Everything a call reads. onednn runs on its reordered copies of W1/W2 (the fp32 ones are not
  // read by a call, so they are not flushed), its hidden layer, bf16 input copy and scratchpad.
  std::vector<MemoryRegion> memory_regions() const override {
    std::vector<MemoryRegion> r;
    if (libtorch_) return libtorch_->regions();  // its own copies of every weight, γ and β included
    if (onednn_) {
      r = onednn_->regions();
    } else {
      r = {{w_.w1.data(), w_.w1.size() * 4}, {w_.w2.data(), w_.w2.size() * 4}, {w_.b1.data(), w_.b1.size() * 4},
           {w_.b2.data(), w_.b2.size() * 4}};
      if (!hidden_.empty()) r.push_back({hidden_.data(), hidden_.size() * 4});
    }
    if (w_.has_layernorm()) {
      r.push_back({w_.ln_gamma.data(), w_.ln_gamma.size() * 4});
      r.push_back({w_.ln_beta.data(), w_.ln_beta.size() * 4});
      if (!normed_.empty()) r.push_back({normed_.data(), normed_.size() * 4});
    }
    return r;
  }

  std::string cold_mode_gaps() const override {
    if (impl_ == "openblas")
      return "OpenBLAS's internal packing buffers (its own allocation, not reachable; rewritten from the weights "
             "and activations on every sgemm call)";
    if (impl_ == "blis")
      return "BLIS's packing buffers (its own memory pool, not reachable; rewritten from the weights and activations "
             "on every gemm call)";
    if (impl_ == "libtorch")
      return "PyTorch's intermediate tensors (allocated by its CPU allocator on every call) and the packing buffers "
             "of the BLAS/oneDNN it calls";
    if (impl_ == "naive") return "the reference's per-call vectors (d + d_ff doubles, allocated by each call)";
    return "";  // onednn: user scratchpad, so every buffer it reads is ours to name
  }

  // Which library really ran: the file holding the gemm entry point called (dladdr), its version.
  std::map<std::string, std::string> extras() const override {
    if (impl_ == "openblas") return {{"blas_library", cblas_sgemm_library_file()}};
    if (impl_ == "blis")
      return {{"blas_library", blis_gemm_library_file()}, {"blis_version", blis_version()}, {"blis_arch", blis_arch()}};
    if (libtorch_) return libtorch_->extras();
    if (!onednn_) return {};
    std::map<std::string, std::string> e = {{"onednn_impl", onednn_->impl_info()}};
    if (int8_) {  // the last call's dynamic steps
      e["int8_x_step"] = fmt::format("{:.4g}", onednn_->x_step());
      e["int8_hidden_step"] = fmt::format("{:.4g}", onednn_->hidden_step());
    }
    return e;
  }

  // bf16 and int8: the error of the last timed call's output against the fp32 FFN on the
  // unquantized weights, relative RMS over 16 rows spread over the batch.
  std::map<std::string, std::string> output_statistics(const float* X, const float* Y, int64_t tokens) const override {
    if (!bf16_ && !int8_) return {};
    const double error = relative_rms_error_vs_fp32(X, w_.d, Y, w_.d, tokens, 16, [this](const float* x, float* y) {
      dense_ffn_reference(w_, act_, x, y, 1);
    });
    return {{"rel_rms_error_vs_fp32", fmt::format("{:.4g}", error)}};
  }

 private:
  DenseFfnWeights w_;
  Activation act_;
  std::string impl_, precision_;
  bool bf16_, int8_;
  AlignedVector<float> hidden_, normed_;  // scratch: first touched by the threads using each slice
  std::vector<double> ln_seconds_;         // per thread, LayerNorm time of the last panel pass
  std::optional<OnednnFfn> onednn_;
  std::unique_ptr<LibtorchFfn> libtorch_;
};

class GemmFfnVariant final : public Variant {
 public:
  std::string name() const override { return "gemm_ffn"; }
  std::string doc() const override {
    return "dense FFN baseline Y = act(X·W1 + b1)·W2 + b2 (optionally LayerNorm'ed X) through OpenBLAS, BLIS, oneDNN "
           "or libtorch";
  }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "model width (d_in = d_out)"),
            ParamSpec::integer("d_ff", 2048, 1, 1 << 20, "hidden width"),
            ParamSpec::choice("activation", "gelu_erf", {"gelu_erf", "gelu_tanh", "relu"}, "hidden activation"),
            ParamSpec::choice("impl", "openblas", {"openblas", "blis", "onednn", "libtorch", "naive"},
                              "openblas / blis: 2 sgemm + fused vector epilogue; onednn: matmul with bias+act "
                              "post-ops; libtorch: PyTorch's C++ functional linear, gelu, layer_norm; naive: the "
                              "scalar reference"),
            ParamSpec::choice("precision", "fp32", {"fp32", "bf16", "int8"},
                              "weights and hidden layer; bf16 needs onednn or libtorch, int8 (s8 weights with a step "
                              "per output channel, X and the hidden layer quantized per call) needs onednn"),
            ParamSpec::choice("layernorm", "false", {"true", "false"},
                              "LayerNorm (affine, γ = 1, β = 0, ε = 1e-5) in front, as in LookupFFN's dense baseline"),
            weights_param()};
  }
  void validate(const Config& c) const override {
    const std::string impl = c.str("impl"), precision = c.str("precision");
    if (impl == "libtorch" && !libtorch_available())
      throw ConfigError("impl", "libtorch", libtorch_unavailable_reason() + "; allowed here: openblas, blis, onednn, naive");
    if (precision == "bf16" && impl != "onednn" && impl != "libtorch")
      throw ConfigError("precision", precision,
                        fmt::format("needs impl=onednn or impl=libtorch (impl={} has no bf16)", impl));
    if (precision == "int8" && impl != "onednn")
      throw ConfigError("precision", precision, fmt::format("needs impl=onednn (impl={} has no int8)", impl));
    trained_weights(c);
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<GemmFfnKernel>(c, seed, max_tokens);
  }
  // fp32 weights (always built: the reference's), the output, and per impl: openblas's panels of
  // hidden (and normalized) rows per thread, onednn's copies and whole-batch buffers.
  double memory_bytes(const Config& c, int64_t tokens, int threads) const override {
    const double d = double(c.integer("d")), f = double(c.integer("d_ff")), n = double(tokens);
    const bool ln = c.str("layernorm") == "true";
    double bytes = 4 * (2 * d * f + f + d) + (ln ? 8 * d : 0) + 4 * n * d;
    const std::string impl = c.str("impl");
    if (impl == "openblas" || impl == "blis") {
      const double rows = std::min(n, double(threads) * double(openblas_panel_rows(c.integer("d_ff"))));
      bytes += 4 * rows * (f + (ln ? d : 0));
    } else if (impl == "onednn") {
      bytes += OnednnFfn::memory_bytes(c.integer("d"), c.integer("d_ff"), parse_onednn_precision(c.str("precision")),
                                       tokens) + (ln ? 4 * n * d : 0);
    } else if (impl == "libtorch") {  // its own weights; per call H and GELU(H) at once, LN(X), bf16 X and Y
      const double e = c.str("precision") == "bf16" ? 2 : 4;
      bytes += e * (2 * d * f + f + d) + 2 * e * n * f + (ln ? e * n * d : 0) + (e == 2 ? 4 * n * d : 0);
    }
    return bytes;
  }
};

FFNBENCH_REGISTER_VARIANT(GemmFfnVariant);

}  // namespace
}  // namespace ffnbench

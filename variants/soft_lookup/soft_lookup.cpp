// soft_lookup, the soft-assignment "improved LookupFFN": Y = softmax(X·Rᵀ / temperature)·L with
// R [B][d], L [B][d_out]: two dense GEMMs through the same BLAS as gemm_ffn and a stable row
// softmax. Cost per token: 2·d·B + 2·B·d_out FLOPs, + 7·B for the softmax as softmax_row does it
// (scale and max; scale, shift, exp and sum; normalize: 2 + 4 + 1 per bucket, exp counted as one).
// impl onednn: the two GEMMs as oneDNN matmuls at `precision` fp32, bf16 or int8
// (common/onednn_matmuls.hpp, gemm_ffn's rules), the scores in fp32 between them for the same
// softmax: bf16 converts X and the probabilities to bf16; int8 has s8 R and L with a step per
// output channel (per bucket for R, per output column for L) and quantizes X and the
// probabilities per call (one step each for the batch).
#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>

#include "common/aligned.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
#include "common/onednn_matmuls.hpp"
#include "common/precision_error.hpp"
#include "common/random.hpp"
#include "common/softmax.hpp"
#include "common/trained_weights.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"

namespace ffnbench {
namespace {

// Trained weights (training/FORMAT.md §3): R [B, d] and L [B, d_out].
std::optional<SafetensorsFile> trained_weights(const Config& c) {
  const int64_t d = c.integer("d"), d_out = c.integer("d_out") > 0 ? c.integer("d_out") : d, b = c.integer("B");
  return open_trained_weights(c, "soft_lookup", {{"R", {b, d}}, {"L", {b, d_out}}},
                              {"d", "d_out", "B", "temperature"});
}

class SoftLookupKernel final : public Kernel {
 public:
  SoftLookupKernel(const Config& c, uint64_t seed, int64_t max_tokens)
      : d_(c.integer("d")), d_out_(c.integer("d_out") > 0 ? c.integer("d_out") : d_), buckets_(c.integer("B")),
        inv_temperature_(static_cast<float>(1.0 / c.real("temperature"))), reference_impl_(c.str("impl") == "reference"),
        onednn_(c.str("impl") == "onednn"), precision_(c.str("precision")), r_(buckets_ * d_), l_(buckets_ * d_out_) {
    if (auto file = trained_weights(c)) {  // the export's layout is the kernel's: no relayout
      r_ = load_tensor(*file, "R");
      l_ = load_tensor(*file, "L");
    } else {
      const float a = 1.0f / std::sqrt(static_cast<float>(d_));
      fill_uniform(r_.data(), r_.size(), seed, 51, -a, a);  // every element written
      fill_uniform(l_.data(), l_.size(), seed, 52, -1.0f, 1.0f);
    }
    if (onednn_) build_onednn(max_tokens);
    else if (!reference_impl_) grow_scratch(scores_, max_tokens * buckets_);  // first touch by a static loop
  }

  // The matmul pair: A = Rᵀ [d][B], B = L [B][d_out]; bf16 and int8 keep the R and L the kernel
  // multiplies by, in fp32, for the reference, and int8 the norms of its rounding bound.
  void build_onednn(int64_t max_tokens) {
    const OnednnPrecision precision = parse_onednn_precision(precision_);
    AlignedVector<float> rt(d_ * buckets_);
    for (int64_t b = 0; b < buckets_; ++b)
      for (int64_t i = 0; i < d_; ++i) rt[i * buckets_ + b] = r_[b * d_ + i];
    pair_.emplace(MatmulPairShape{d_, buckets_, d_out_, Activation::None, /*biases=*/false, /*fp32_hidden=*/true},
                  precision, std::max<int64_t>(max_tokens, 1));
    if (precision == OnednnPrecision::Fp32) {
      pair_->add_weights(rt.data(), nullptr, l_.data(), nullptr);
      return;
    }
    AlignedVector<float> rt_effective(d_ * buckets_);
    l_reference_.resize(l_.size());
    pair_->add_weights(rt.data(), nullptr, l_.data(), nullptr, rt_effective.data(), l_reference_.data());
    r_reference_.resize(r_.size());
    for (int64_t b = 0; b < buckets_; ++b)
      for (int64_t i = 0; i < d_; ++i) r_reference_[b * d_ + i] = rt_effective[i * buckets_ + b];
    if (precision == OnednnPrecision::Int8) {
      r_max_row_norm_ = max_column_norm(rt_effective.data(), d_, buckets_);
      l_max_column_norm_ = max_column_norm(l_reference_.data(), buckets_, d_out_);
      for (float v : l_reference_) l_max_abs_ = std::max(l_max_abs_, double(std::abs(v)));
    }
  }

  int64_t d_in() const override { return d_; }
  int64_t d_out() const override { return d_out_; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    if (reference_impl_) return reference(X, Y, tokens);
    if (onednn_) return forward_onednn(X, Y, tokens, stages);
    grow_scratch(scores_, tokens * buckets_);
    {
      StageTimer::Scope s(stages, 0);
      sgemm_rowmajor(tokens, buckets_, d_, 1.0f, X, d_, r_.data(), d_, /*b_transposed=*/true, 0.0f, scores_.data(), buckets_);
    }
    {
      StageTimer::Scope s(stages, 1);
#pragma omp parallel for schedule(static)
      for (int64_t t = 0; t < tokens; ++t) softmax_row(scores_.data() + t * buckets_, buckets_, inv_temperature_);
    }
    StageTimer::Scope s(stages, 2);
    sgemm_rowmajor(tokens, d_out_, buckets_, 1.0f, scores_.data(), buckets_, l_.data(), d_out_, false, 0.0f, Y, d_out_);
  }

  void forward_onednn(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
    pair_->prepare(tokens);  // once per token count (the first call of a point)
    float* scores = nullptr;
    {
      StageTimer::Scope s(stages, 0);
      scores = pair_->first(0, X, tokens);
    }
    {
      StageTimer::Scope s(stages, 1);
#pragma omp parallel for schedule(static)
      for (int64_t t = 0; t < tokens; ++t) softmax_row(scores + t * buckets_, buckets_, inv_temperature_);
    }
    StageTimer::Scope s(stages, 2);
    pair_->second(0, Y, tokens);
  }

  // bf16 and int8: the fp32 math on the R and L the kernel multiplies by (rounded, dequantized).
  void reference(const float* X, float* Y, int64_t tokens) const override {
    if (r_reference_.empty()) return reference_with(r_, l_, X, Y, tokens);
    reference_with(r_reference_, l_reference_, X, Y, tokens);
  }

  void reference_with(const AlignedVector<float>& r, const AlignedVector<float>& l, const float* X, float* Y,
                      int64_t tokens) const {
    std::vector<float> logits(buckets_);
    std::vector<double> p(buckets_);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t b = 0; b < buckets_; ++b) {
        double acc = 0;
        for (int64_t i = 0; i < d_; ++i) acc += double(X[t * d_ + i]) * r[b * d_ + i];
        logits[b] = static_cast<float>(acc);
      }
      softmax_row_reference(logits.data(), p.data(), buckets_, inv_temperature_);
      for (int64_t o = 0; o < d_out_; ++o) {
        double acc = 0;
        for (int64_t b = 0; b < buckets_; ++b) acc += p[b] * l[b * d_out_ + o];
        Y[t * d_out_ + o] = static_cast<float>(acc);
      }
    }
  }

  Cost cost(int64_t tokens) const override {
    const double n = static_cast<double>(tokens);
    Cost c;
    c.stage_flops = {2.0 * n * d_ * buckets_, 7.0 * n * buckets_, 2.0 * n * buckets_ * d_out_};
    c.flops = c.stage_flops[0] + c.stage_flops[1] + c.stage_flops[2];
    // Bytes per weight as stored (4, 2, 1; int8 adds a step per bucket and per output column).
    const bool bf16 = onednn_ && precision_ == "bf16", int8 = onednn_ && precision_ == "int8";
    const double wb = int8 ? 1.0 : bf16 ? 2.0 : 4.0, steps = int8 ? 4.0 * (buckets_ + d_out_) : 0.0;
    c.weight_bytes = wb * buckets_ * (d_ + d_out_) + steps;
    // The low-precision copies: bf16 writes and reads X's and the probabilities' bf16 copies (S read
    // once more to convert it); int8 reads X and S once more each for their steps, converts them
    // (one more read) and writes and reads their s8 copies.
    const double x_extra = bf16 ? 2.0 * 2 * n * d_ : int8 ? 4.0 * n * d_ + 2.0 * n * d_ : 0.0;
    const double s_extra = bf16 ? 4.0 * n * buckets_ + 2.0 * 2 * n * buckets_ : int8 ? 8.0 * n * buckets_ + 2.0 * n * buckets_ : 0.0;
    c.activation_bytes = 4.0 * n * (d_ + d_out_ + 2.0 * buckets_) + x_extra + s_extra;
    c.working_set_bytes = c.weight_bytes;
    // scores: X in, S out, R kept; softmax: S in and out; mix: S in, Y out, L kept.
    c.stage_bytes = {wb * buckets_ * d_, 0.0, wb * buckets_ * d_out_};
    c.stage_stream_bytes = {4.0 * n * (d_ + buckets_) + x_extra, 8.0 * n * buckets_, 4.0 * n * (buckets_ + d_out_) + s_extra};
    c.stage_working_set_bytes = {wb * buckets_ * d_, 0.0, wb * buckets_ * d_out_};
    const std::string products = onednn_ ? precision_ : "fp32";  // the softmax stays fp32
    c.stage_compute_precision = {products, "fp32", products};
    return c;
  }

  // fp32: summation order only. bf16: X's and the probabilities' rounding to 8 significant bits
  // against the reference on the rounded R and L (as gemm_ffn's bf16). int8: 1e-4 for the
  // arithmetic plus error_bound().
  double tolerance() const override { return onednn_ && precision_ == "bf16" ? 5e-2 : 1e-4; }
  // int8: 6σ of the last call's activation rounding at the output. X's rounding (step sx) moves
  // logit b by σ_z ≤ max_b ‖R_b‖·sx / (T·√12); the softmax turns that into δp_b = p_b·(δz_b − Σ_c
  // p_c·δz_c), of spread ≤ 2·p_b·σ_z; the probabilities' rounding (step s_p) adds s_p / √12 each.
  // Independent over buckets, the output error has σ² = Σ_b L[b][o]²·(2·p_b·σ_z)² + ‖L[:, o]‖²·
  // s_p² / 12, and Σ_b L[b][o]²·p_b² ≤ min(‖L[:, o]‖²·p_max², max|L|²·p_max) (Σ_b p_b = 1), with
  // p_max = 127·s_p the batch's largest probability.
  double error_bound() const override {
    if (!onednn_ || precision_ != "int8" || pair_->x_step() == 0) return 0.0;
    const double sigma_z = r_max_row_norm_ * pair_->x_step() * inv_temperature_ / std::sqrt(12.0);
    const double sp = pair_->hidden_step(), p_max = 127.0 * sp, l_col = l_max_column_norm_, l_max = l_max_abs_;
    const double spread = std::min(l_col * l_col * p_max * p_max, l_max * l_max * p_max);
    return 6.0 * std::sqrt(4.0 * sigma_z * sigma_z * spread + l_col * l_col * sp * sp / 12.0);
  }

  bool uses_onednn() const override { return onednn_; }
  std::string needs_isa() const override { return onednn_ ? onednn_needs_isa(precision_) : ""; }

  std::map<std::string, std::string> extras() const override {
    if (!onednn_) return {};
    std::map<std::string, std::string> e = {{"onednn_impl", pair_->impl_info()}};
    if (precision_ == "int8") {  // the last call's dynamic steps
      e["int8_x_step"] = fmt::format("{:.4g}", pair_->x_step());
      e["int8_probability_step"] = fmt::format("{:.4g}", pair_->hidden_step());
    }
    return e;
  }

  // bf16 and int8: the error of the last timed call against the fp32 soft lookup on the
  // unrounded R and L, relative RMS over 16 rows spread over the batch.
  std::map<std::string, std::string> output_statistics(const float* X, const float* Y, int64_t tokens) const override {
    if (r_reference_.empty()) return {};
    const double error = relative_rms_error_vs_fp32(X, d_, Y, d_out_, tokens, 16, [this](const float* x, float* y) {
      reference_with(r_, l_, x, y, 1);
    });
    return {{"rel_rms_error_vs_fp32", fmt::format("{:.4g}", error)}};
  }
  std::vector<std::string> stage_names() const override { return {"scores", "softmax", "mix"}; }
  std::vector<MemoryRegion> memory_regions() const override {
    if (onednn_) return pair_->regions();  // its reordered R and L: the fp32 ones are not read
    std::vector<MemoryRegion> r = {{r_.data(), r_.size() * 4}, {l_.data(), l_.size() * 4}};
    if (!scores_.empty()) r.push_back({scores_.data(), scores_.size() * 4});
    return r;
  }
  std::string cold_mode_gaps() const override {
    if (reference_impl_) return "the reference's per-call vectors (2·B values, allocated by each call)";
    if (onednn_) return "";  // user scratchpad: every buffer it reads is ours to name
    return "OpenBLAS's internal packing buffers (its own allocation, not reachable; rewritten from the weights "
           "and activations on every sgemm call)";
  }

 private:
  int64_t d_, d_out_, buckets_;
  float inv_temperature_;
  bool reference_impl_, onednn_;
  std::string precision_;
  AlignedVector<float> r_, l_, scores_;
  // impl onednn: the matmul pair; bf16/int8: the R and L it multiplies by, in fp32 (the
  // reference's); int8: max_b ‖R_b‖, max_o ‖L[:, o]‖ and max|L| of those.
  std::optional<OnednnMatmulPair> pair_;
  AlignedVector<float> r_reference_, l_reference_;
  double r_max_row_norm_ = 0, l_max_column_norm_ = 0, l_max_abs_ = 0;
};

class SoftLookupVariant final : public Variant {
 public:
  std::string name() const override { return "soft_lookup"; }
  std::string doc() const override { return "soft-assignment lookup softmax(X·Rᵀ/temperature)·L: two GEMMs and a softmax"; }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "input width"),
            ParamSpec::integer("d_out", 0, 0, 65536, "output width (0: d)"),
            ParamSpec::integer("B", 1024, 1, 1 << 22, "buckets (rows of R and L)"),
            ParamSpec::real("temperature", 1.0, 1e-6, 1e6, "softmax temperature (> 0)"),
            ParamSpec::choice("impl", "blas", {"blas", "onednn", "reference"},
                              "OpenBLAS GEMMs + vector softmax, the same through oneDNN matmuls, or the scalar reference"),
            ParamSpec::choice("precision", "fp32", {"fp32", "bf16", "int8"},
                              "R, L, X and the probabilities in the two GEMMs (scores and softmax stay fp32); bf16 and "
                              "int8 (s8 R and L with a step per output channel, X and the probabilities quantized per "
                              "call) need onednn"),
            weights_param()};
  }
  void validate(const Config& c) const override {
    const std::string precision = c.str("precision");
    if (precision != "fp32" && c.str("impl") != "onednn")
      throw ConfigError("precision", precision, fmt::format("needs impl=onednn (impl={} has no {})", c.str("impl"), precision));
    const double d_out = c.integer("d_out") > 0 ? c.integer("d_out") : c.integer("d");
    const double copies = c.str("impl") != "onednn" ? 1.0 : precision == "fp32" ? 3.0 : 3.5;  // + Rᵀ, its copy, references
    check_fits_in_memory("B", c.str("B"), copies * 4.0 * c.integer("B") * (c.integer("d") + d_out), "R and L");
    trained_weights(c);
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<SoftLookupKernel>(c, seed, max_tokens);
  }
  // R and L, the N×B scores (not kept by the reference impl) and Y. onednn: its matmul pair
  // (reordered R and L, the batch's fp32 scores and their low-precision copy) in place of the
  // scores, what build_onednn holds while building (Rᵀ, and for bf16 and int8 its effective
  // copy), and the reference's R and L (bf16, int8).
  double memory_bytes(const Config& c, int64_t tokens, int) const override {
    const int64_t d_out_value = c.integer("d_out") > 0 ? c.integer("d_out") : c.integer("d");
    const double d = double(c.integer("d")), d_out = double(d_out_value);
    const double b = double(c.integer("B")), n = double(tokens);
    const double shared = 4 * b * (d + d_out) + 4 * n * d_out;
    if (c.str("impl") != "onednn") return shared + (c.str("impl") == "reference" ? 0 : 4 * n * b);
    const OnednnPrecision precision = parse_onednn_precision(c.str("precision"));
    const bool reduced = precision != OnednnPrecision::Fp32;
    return shared + 4 * d * b * (reduced ? 2 : 1) + (reduced ? 4 * b * (d + d_out) : 0) +
           OnednnMatmulPair::memory_bytes({c.integer("d"), c.integer("B"), d_out_value, Activation::None, false, true},
                                          precision, std::max<int64_t>(tokens, 1), 1);
  }
};

FFNBENCH_REGISTER_VARIANT(SoftLookupVariant);

}  // namespace
}  // namespace ffnbench

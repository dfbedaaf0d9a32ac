// soft_lookup, the soft-assignment "improved LookupFFN": Y = softmax(X·Rᵀ / temperature)·L with
// R [B][d], L [B][d_out]: two dense GEMMs through the same BLAS as gemm_ffn and a stable row
// softmax. Cost per token: 2·d·B + 2·B·d_out FLOPs, + 7·B for the softmax as softmax_row does it
// (scale and max; scale, shift, exp and sum; normalize: 2 + 4 + 1 per bucket, exp counted as one).
#include <fmt/format.h>

#include <memory>
#include <optional>

#include "common/aligned.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
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
        r_(buckets_ * d_), l_(buckets_ * d_out_) {
    if (auto file = trained_weights(c)) {  // the export's layout is the kernel's: no relayout
      r_ = load_tensor(*file, "R");
      l_ = load_tensor(*file, "L");
    } else {
      const float a = 1.0f / std::sqrt(static_cast<float>(d_));
      fill_uniform(r_.data(), r_.size(), seed, 51, -a, a);  // every element written
      fill_uniform(l_.data(), l_.size(), seed, 52, -1.0f, 1.0f);
    }
    if (!reference_impl_) grow_scratch(scores_, max_tokens * buckets_);  // first touch by a static loop
  }

  int64_t d_in() const override { return d_; }
  int64_t d_out() const override { return d_out_; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    if (reference_impl_) return reference(X, Y, tokens);
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

  void reference(const float* X, float* Y, int64_t tokens) const override {
    std::vector<float> logits(buckets_);
    std::vector<double> p(buckets_);
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t b = 0; b < buckets_; ++b) {
        double acc = 0;
        for (int64_t i = 0; i < d_; ++i) acc += double(X[t * d_ + i]) * r_[b * d_ + i];
        logits[b] = static_cast<float>(acc);
      }
      softmax_row_reference(logits.data(), p.data(), buckets_, inv_temperature_);
      for (int64_t o = 0; o < d_out_; ++o) {
        double acc = 0;
        for (int64_t b = 0; b < buckets_; ++b) acc += p[b] * l_[b * d_out_ + o];
        Y[t * d_out_ + o] = static_cast<float>(acc);
      }
    }
  }

  Cost cost(int64_t tokens) const override {
    const double n = static_cast<double>(tokens);
    Cost c;
    c.stage_flops = {2.0 * n * d_ * buckets_, 7.0 * n * buckets_, 2.0 * n * buckets_ * d_out_};
    c.flops = c.stage_flops[0] + c.stage_flops[1] + c.stage_flops[2];
    c.weight_bytes = 4.0 * buckets_ * (d_ + d_out_);
    c.activation_bytes = 4.0 * n * (d_ + d_out_ + 2.0 * buckets_);
    c.working_set_bytes = c.weight_bytes;
    // scores: X in, S out, R kept; softmax: S in and out; mix: S in, Y out, L kept.
    c.stage_bytes = {4.0 * buckets_ * d_, 0.0, 4.0 * buckets_ * d_out_};
    c.stage_stream_bytes = {4.0 * n * (d_ + buckets_), 8.0 * n * buckets_, 4.0 * n * (buckets_ + d_out_)};
    c.stage_working_set_bytes = {4.0 * buckets_ * d_, 0.0, 4.0 * buckets_ * d_out_};
    return c;
  }

  double tolerance() const override { return 1e-4; }
  std::vector<std::string> stage_names() const override { return {"scores", "softmax", "mix"}; }
  std::vector<MemoryRegion> memory_regions() const override {
    std::vector<MemoryRegion> r = {{r_.data(), r_.size() * 4}, {l_.data(), l_.size() * 4}};
    if (!scores_.empty()) r.push_back({scores_.data(), scores_.size() * 4});
    return r;
  }
  std::string cold_mode_gaps() const override {
    if (reference_impl_) return "the reference's per-call vectors (2·B values, allocated by each call)";
    return "OpenBLAS's internal packing buffers (its own allocation, not reachable; rewritten from the weights "
           "and activations on every sgemm call)";
  }

 private:
  int64_t d_, d_out_, buckets_;
  float inv_temperature_;
  bool reference_impl_;
  AlignedVector<float> r_, l_, scores_;
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
            ParamSpec::choice("impl", "blas", {"blas", "reference"}, "OpenBLAS GEMMs + vector softmax, or the scalar reference"),
            weights_param()};
  }
  void validate(const Config& c) const override {
    const double d_out = c.integer("d_out") > 0 ? c.integer("d_out") : c.integer("d");
    check_fits_in_memory("B", c.str("B"), 4.0 * c.integer("B") * (c.integer("d") + d_out), "R and L");
    trained_weights(c);
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<SoftLookupKernel>(c, seed, max_tokens);
  }
  // R and L, the N×B scores (not kept by the reference impl) and Y.
  double memory_bytes(const Config& c, int64_t tokens, int) const override {
    const double d = double(c.integer("d")), d_out = double(c.integer("d_out") > 0 ? c.integer("d_out") : c.integer("d"));
    const double b = double(c.integer("B")), n = double(tokens);
    return 4 * b * (d + d_out) + (c.str("impl") == "reference" ? 0 : 4 * n * b) + 4 * n * d_out;
  }
};

FFNBENCH_REGISTER_VARIANT(SoftLookupVariant);

}  // namespace
}  // namespace ffnbench

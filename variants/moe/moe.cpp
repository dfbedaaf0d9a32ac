// moe: a Mixture-of-Experts FFN. Router logits x·W_r (d × E), softmax, top-k with renormalized
// weights (routing.hpp); each expert a dense FFN of width d_e with GELU(erf) and biases;
// y = Σ_k w_k · expert_k(x). Cost per token: 2·d·E + k·4·d·d_e FLOPs.
// impl grouped: tokens bucketed per expert (counting sort), each expert's tokens gathered into
// a panel and run as GEMMs through the same BLAS as gemm_ffn, then a per-token weighted sum
// (no races: each token reads its k rows). impl per_token: the loop people write first,
// matrix-vector products per token and chosen expert.
#include <fmt/format.h>
#include <omp.h>

#include <memory>
#include <numeric>

#include "common/activation.hpp"
#include "common/aligned.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "moe/routing.hpp"

namespace ffnbench {
namespace {

constexpr int64_t kPanelRows = 4096;  // expert tokens per GEMM panel: bounds the hidden scratch

class MoeKernel final : public Kernel {
 public:
  MoeKernel(const Config& c, uint64_t seed, int64_t max_tokens)
      : d_(c.integer("d")), experts_(c.integer("experts")), k_(c.integer("top_k")), d_e_(c.integer("d_e")),
        grouped_(c.str("impl") == "grouped"), router_(d_ * experts_) {
    const float a = 1.0f / std::sqrt(static_cast<float>(d_));
    fill_uniform(router_.data(), router_.size(), seed, 61, -a, a);
    for (int64_t e = 0; e < experts_; ++e) experts_w_.push_back(DenseFfnWeights::random(d_, d_e_, splitmix64(seed + 1000 * (e + 1))));
    reserve(max_tokens);
  }

  int64_t d_in() const override { return d_; }
  int64_t d_out() const override { return d_; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    reserve(tokens);
    {
      StageTimer::Scope s(stages, 0);
      route(X, tokens);
    }
    if (grouped_) {
      {
        StageTimer::Scope s(stages, 1);
        run_experts_grouped(X, tokens);
      }
      StageTimer::Scope s(stages, 2);
      combine(Y, tokens);
    } else {
      StageTimer::Scope s(stages, 1);
      run_experts_per_token(X, Y, tokens);
    }
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
    std::vector<float> logits(experts_), weights(k_), y(d_);
    std::vector<int32_t> chosen(k_);
    for (int64_t t = 0; t < tokens; ++t) {
      const float* x = X + t * d_;
      for (int64_t e = 0; e < experts_; ++e) {
        double acc = 0;
        for (int64_t i = 0; i < d_; ++i) acc += double(x[i]) * router_[i * experts_ + e];
        logits[e] = static_cast<float>(acc);
      }
      route_top_k(logits.data(), experts_, k_, chosen.data(), weights.data());
      std::fill(Y + t * d_, Y + (t + 1) * d_, 0.0f);
      for (int64_t j = 0; j < k_; ++j) {
        dense_ffn_reference(experts_w_[chosen[j]], Activation::GeluErf, x, y.data(), 1);
        for (int64_t i = 0; i < d_; ++i) Y[t * d_ + i] += weights[j] * y[i];
      }
    }
  }

  Cost cost(int64_t tokens) const override {
    const double n = static_cast<double>(tokens);
    const double expert_bytes = 4.0 * (2.0 * d_ * d_e_ + d_e_ + d_);
    Cost c;
    c.stage_flops = {2.0 * n * d_ * experts_, 4.0 * n * k_ * d_ * d_e_, 2.0 * n * k_ * d_};
    c.flops = 2.0 * n * d_ * experts_ + 4.0 * n * k_ * d_ * d_e_;
    // Experts that can receive tokens: at most E, at most N·k.
    c.weight_bytes = 4.0 * d_ * experts_ + std::min<double>(experts_, n * k_) * expert_bytes;
    c.activation_bytes = 4.0 * n * (2.0 * d_ + 2.0 * k_ * d_ + 2.0 * k_ * d_e_);
    c.working_set_bytes = expert_bytes;
    return c;
  }

  double tolerance() const override { return 1e-4; }
  // Two logits within float rounding can swap the k-th choice: that token differs wholesale.
  std::vector<std::string> stage_names() const override {
    return grouped_ ? std::vector<std::string>{"route", "experts", "combine"} : std::vector<std::string>{"route", "experts"};
  }

  std::map<std::string, std::string> extras() const override {
    std::vector<std::string> counts;
    int64_t max = 0, sum = 0;
    for (int64_t e = 0; e < experts_; ++e) {
      counts.push_back(std::to_string(tokens_per_expert_[e]));
      max = std::max(max, tokens_per_expert_[e]);
      sum += tokens_per_expert_[e];
    }
    const double mean = static_cast<double>(sum) / experts_;
    return {{"expert_tokens", fmt::format("{}", fmt::join(counts, "|"))},
            {"max_over_mean", mean > 0 ? fmt::format("{:.3f}", max / mean) : ""}};
  }

 private:
  void reserve(int64_t tokens) {
    if (static_cast<int64_t>(chosen_.size()) >= tokens * k_) return;
    logits_.resize(tokens * experts_);
    chosen_.resize(tokens * k_);
    weights_.resize(tokens * k_);
    slot_.resize(tokens * k_);
    order_.resize(tokens * k_);
    panel_in_.resize(std::min(tokens * k_, kPanelRows) * d_);
    hidden_.resize(std::min(tokens * k_, kPanelRows) * d_e_);
    expert_out_.resize(tokens * k_ * d_);
    tokens_per_expert_.assign(experts_, 0);
  }

  void route(const float* X, int64_t tokens) {
    sgemm_rowmajor(tokens, experts_, d_, 1.0f, X, d_, router_.data(), experts_, false, 0.0f, logits_.data(), experts_);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t)
      route_top_k(logits_.data() + t * experts_, experts_, k_, chosen_.data() + t * k_, weights_.data() + t * k_);
    // Counting sort of the (token, choice) pairs by expert: order_ lists them expert by expert,
    // slot_ says where each pair's output row lands in expert_out_.
    std::fill(tokens_per_expert_.begin(), tokens_per_expert_.end(), 0);
    for (int64_t i = 0; i < tokens * k_; ++i) ++tokens_per_expert_[chosen_[i]];
    offsets_.assign(experts_ + 1, 0);
    std::partial_sum(tokens_per_expert_.begin(), tokens_per_expert_.end(), offsets_.begin() + 1);
    std::vector<int64_t> next(offsets_.begin(), offsets_.end() - 1);
    for (int64_t i = 0; i < tokens * k_; ++i) {
      const int64_t pos = next[chosen_[i]]++;
      order_[pos] = i;
      slot_[i] = pos;
    }
  }

  // Per expert, panels of its tokens: gather rows, H = GELU(P·W1 + b1), out = H·W2 + b2.
  void run_experts_grouped(const float* X, int64_t /*tokens*/) {
    for (int64_t e = 0; e < experts_; ++e) {
      const DenseFfnWeights& w = experts_w_[e];
      for (int64_t p0 = offsets_[e]; p0 < offsets_[e + 1]; p0 += kPanelRows) {
        const int64_t rows = std::min(kPanelRows, offsets_[e + 1] - p0);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t token = order_[p0 + r] / k_;
          std::copy(X + token * d_, X + (token + 1) * d_, panel_in_.data() + r * d_);
        }
        float* out = expert_out_.data() + p0 * d_;
        sgemm_rowmajor(rows, d_e_, d_, 1.0f, panel_in_.data(), d_, w.w1.data(), d_e_, false, 0.0f, hidden_.data(), d_e_);
        bias_activation_rows(hidden_.data(), rows, d_e_, w.b1.data(), Activation::GeluErf);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < rows; ++r) std::copy(w.b2.begin(), w.b2.end(), out + r * d_);
        sgemm_rowmajor(rows, d_, d_e_, 1.0f, hidden_.data(), d_e_, w.w2.data(), d_, false, 1.0f, out, d_);
      }
    }
  }

  void combine(float* Y, int64_t tokens) const {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t) {
      float* y = Y + t * d_;
      std::fill(y, y + d_, 0.0f);
      for (int64_t j = 0; j < k_; ++j) {
        const float w = weights_[t * k_ + j];
        const float* row = expert_out_.data() + slot_[t * k_ + j] * d_;
#pragma omp simd
        for (int64_t i = 0; i < d_; ++i) y[i] += w * row[i];
      }
    }
  }

  // The naive form: per token and chosen expert, two matrix-vector products (single-threaded
  // BLAS inside the token loop).
  void run_experts_per_token(const float* X, float* Y, int64_t tokens) {
    const int64_t per_thread = d_e_;
    if (static_cast<int64_t>(hidden_.size()) < omp_get_max_threads() * per_thread) hidden_.resize(omp_get_max_threads() * per_thread);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t) {
      float* h = hidden_.data() + omp_get_thread_num() * per_thread;
      float* y = Y + t * d_;
      std::fill(y, y + d_, 0.0f);
      for (int64_t j = 0; j < k_; ++j) {
        const DenseFfnWeights& w = experts_w_[chosen_[t * k_ + j]];
        const float wt = weights_[t * k_ + j];
        std::copy(w.b1.begin(), w.b1.end(), h);
        cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(d_), static_cast<int>(d_e_), 1.0f, w.w1.data(),
                    static_cast<int>(d_e_), X + t * d_, 1, 1.0f, h, 1);
        bias_activation_rows_serial(h, 1, d_e_, nullptr, Activation::GeluErf);
        for (int64_t i = 0; i < d_; ++i) y[i] += wt * w.b2[i];
        cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(d_e_), static_cast<int>(d_), wt, w.w2.data(),
                    static_cast<int>(d_), h, 1, 1.0f, y, 1);
      }
    }
  }

  int64_t d_, experts_, k_, d_e_;
  bool grouped_;
  AlignedVector<float> router_, logits_, weights_, panel_in_, hidden_, expert_out_;
  std::vector<DenseFfnWeights> experts_w_;
  std::vector<int32_t> chosen_;
  std::vector<int64_t> slot_, order_, offsets_, tokens_per_expert_;
};

class MoeVariant final : public Variant {
 public:
  std::string name() const override { return "moe"; }
  std::string doc() const override { return "Mixture-of-Experts FFN: softmax router, top-k renormalized, GELU experts of width d_e"; }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "model width"),
            ParamSpec::integer("experts", 8, 1, 4096, "number of experts E"),
            ParamSpec::integer("top_k", 2, 1, 4096, "experts per token k (k ≤ E)"),
            ParamSpec::integer("d_e", 2048, 1, 1 << 20, "hidden width of each expert"),
            ParamSpec::choice("impl", "grouped", {"grouped", "per_token"},
                              "grouped: tokens bucketed per expert, GEMMs per expert; per_token: matrix-vector per token")};
  }
  void validate(const Config& c) const override {
    if (c.integer("top_k") > c.integer("experts"))
      throw ConfigError("top_k", c.str("top_k"), fmt::format("must be at most experts = {}", c.str("experts")));
    check_fits_in_memory("experts", c.str("experts"),
                         4.0 * c.integer("experts") * (2.0 * c.integer("d") * c.integer("d_e")), "expert weights");
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<MoeKernel>(c, seed, max_tokens);
  }
};

FFNBENCH_REGISTER_VARIANT(MoeVariant);

}  // namespace
}  // namespace ffnbench

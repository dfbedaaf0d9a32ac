// moe: a Mixture-of-Experts FFN. Router logits x·W_r (d × E), softmax, top-k with renormalized
// weights (routing.hpp); each expert a dense FFN of width d_e with GELU(erf) and biases;
// y = Σ_k w_k · expert_k(x).
// Cost (what the code does; total = sum of the stages; the experts' bias + GELU epilogue is left
// out by the same convention as gemm_ffn's):
//   route    2·N·d·E (router GEMM) + N·(E − 1 + 4·k) (max, then shift, exp, sum, normalize per choice)
//   experts  Σ_e 4·n_e·d·d_e over the real tokens per expert n_e (Σ_e n_e = N·k whatever the routing,
//            so the FLOPs do not depend on it; the weight bytes do: only experts with n_e > 0 are read)
//   combine  2·N·k·d (grouped: one FMA per output element and choice);
//   per_token fuses the weighted sum into its expert loop: + 4·N·k·d there (y += w·b2, and the
//   second gemv's y += w·(W2ᵀh)), no combine stage.
// impl grouped: tokens bucketed per expert (counting sort), each expert's tokens gathered into
// a panel and run as GEMMs through the same BLAS as gemm_ffn, then a per-token weighted sum
// (no races: each token reads its k rows). impl per_token: the loop people write first,
// matrix-vector products per token and chosen expert.
#include <fmt/format.h>
#include <omp.h>

#include <cmath>
#include <memory>
#include <numeric>

#include "common/activation.hpp"
#include "common/aligned.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
#include "common/random.hpp"
#include "common/trained_weights.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "moe/routing.hpp"

namespace ffnbench {
namespace {

constexpr int64_t kPanelRows = 4096;  // expert tokens per GEMM panel: bounds the hidden scratch

// Trained weights (training/FORMAT.md §3): experts stacked on the first axis.
std::optional<SafetensorsFile> trained_weights(const Config& c) {
  const int64_t d = c.integer("d"), e = c.integer("experts"), de = c.integer("d_e");
  return open_trained_weights(c, "moe",
                              {{"router.weight", {e, d}},
                               {"w1.weight", {e, de, d}},
                               {"w1.bias", {e, de}},
                               {"w2.weight", {e, d, de}},
                               {"w2.bias", {e, d}}},
                              {"d", "experts", "top_k", "d_e"});
}

class MoeKernel final : public Kernel {
 public:
  MoeKernel(const Config& c, uint64_t seed, int64_t max_tokens)
      : d_(c.integer("d")), experts_(c.integer("experts")), k_(c.integer("top_k")), d_e_(c.integer("d_e")),
        grouped_(c.str("impl") == "grouped"), router_(d_ * experts_) {
    if (auto file = trained_weights(c)) {
      load_trained(*file);
    } else {
      fill_router(router_.data(), d_, experts_, seed);  // every element written
      for (int64_t e = 0; e < experts_; ++e) experts_w_.push_back(DenseFfnWeights::random(d_, d_e_, splitmix64(seed + 1000 * (e + 1))));
    }
    reserve(max_tokens);
  }

  // Trained weights (training/FORMAT.md §3): the router's and the experts' [out, in] Linear
  // weights become row-major [in][out]; the stacked experts are split into one FFN each.
  void load_trained(const SafetensorsFile& file) {
    router_ = load_transposed(file, "router.weight");
    const AlignedVector<float> w1 = load_transposed(file, "w1.weight"), b1 = load_tensor(file, "w1.bias");
    const AlignedVector<float> w2 = load_transposed(file, "w2.weight"), b2 = load_tensor(file, "w2.bias");
    const int64_t matrix = d_ * d_e_;
    for (int64_t e = 0; e < experts_; ++e) {
      DenseFfnWeights w;
      w.d = d_;
      w.d_ff = d_e_;
      w.w1.assign(w1.begin() + e * matrix, w1.begin() + (e + 1) * matrix);
      w.b1.assign(b1.begin() + e * d_e_, b1.begin() + (e + 1) * d_e_);
      w.w2.assign(w2.begin() + e * matrix, w2.begin() + (e + 1) * matrix);
      w.b2.assign(b2.begin() + e * d_, b2.begin() + (e + 1) * d_);
      experts_w_.push_back(std::move(w));
    }
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
    const double n = static_cast<double>(tokens), d = static_cast<double>(d_), de = static_cast<double>(d_e_);
    const double k = static_cast<double>(k_), experts = static_cast<double>(experts_);
    const double expert_bytes = 4.0 * (2.0 * d * de + de + d);
    // Tokens per expert: the last call's when it had this many tokens, else only their sum (N·k)
    // and the number of experts that can be reached (at most E, at most N·k) are known.
    double pairs = n * k, reached = std::min(experts, n * k);
    if (last_tokens_ == tokens) {
      pairs = 0;
      reached = 0;
      for (int64_t e = 0; e < experts_; ++e) {
        pairs += static_cast<double>(tokens_per_expert_[e]);
        reached += tokens_per_expert_[e] > 0 ? 1.0 : 0.0;
      }
    }
    Cost c;
    const double route = 2.0 * n * d * experts + n * route_top_k_flops(experts_, k_);
    const double expert_gemms = 4.0 * pairs * d * de;
    if (grouped_) c.stage_flops = {route, expert_gemms, 2.0 * n * k * d};
    else c.stage_flops = {route, expert_gemms + 4.0 * n * k * d};
    for (double f : c.stage_flops) c.flops += f;
    c.weight_bytes = 4.0 * d * experts + reached * expert_bytes;
    // X (read by the router and gathered), Y, logits, and per (token, choice) the gathered input
    // row, the hidden row and the output row, each written and read (per_token: the input row is
    // read in place, the output row is updated in Y).
    c.activation_bytes = 4.0 * n * (3.0 * d + 2.0 * experts) + 4.0 * pairs * (2.0 * d + 2.0 * de + 2.0 * d);
    c.working_set_bytes = expert_bytes;
    // Route: X and the logits streamed, the router kept. Experts: per (token, choice) the
    // gathered input, hidden and output rows streamed; grouped reads each reached expert's
    // weights once, per_token once per (token, choice). Combine streams the output rows in and Y.
    const double router = 4.0 * d * experts, rows = 4.0 * pairs * (2.0 * d + 2.0 * de + 2.0 * d);
    c.stage_bytes = {router, grouped_ ? reached * expert_bytes : pairs * expert_bytes};
    c.stage_stream_bytes = {4.0 * n * (d + 2.0 * experts), rows};
    c.stage_working_set_bytes = {router, expert_bytes};
    if (grouped_) {
      c.stage_bytes.push_back(0.0);
      c.stage_stream_bytes.push_back(4.0 * pairs * d + 4.0 * n * d);
      c.stage_working_set_bytes.push_back(0.0);
    }
    return c;
  }

  double tolerance() const override { return 1e-4; }

  // Two router logits within float rounding of each other can swap the k-th choice, and that
  // token then differs wholesale. Margin per row: routing.hpp's top_k_margin on the reference's
  // logits, (l_a − l_b) / (Σ|x_i·W_r[i][a]| + Σ|x_i·W_r[i][b]|) minimized over chosen a and
  // unchosen b: a gap relative to the rounding scale of the two dot products.
  std::vector<double> decision_margins(const float* X, int64_t rows) const override {
    std::vector<double> margins(rows), scale(experts_);
    std::vector<float> logits(experts_);
    for (int64_t t = 0; t < rows; ++t) {
      const float* x = X + t * d_;
      for (int64_t e = 0; e < experts_; ++e) {
        double acc = 0, abs_acc = 0;
        for (int64_t i = 0; i < d_; ++i) {
          const double p = double(x[i]) * router_[i * experts_ + e];
          acc += p;
          abs_acc += std::abs(p);
        }
        logits[e] = static_cast<float>(acc);  // as the reference rounds them before choosing
        scale[e] = abs_acc;
      }
      margins[t] = top_k_margin(logits.data(), scale.data(), experts_, k_);
    }
    return margins;
  }
  // γ_d + 2u of the router's length-d dot products (routing.cpp states why); 3.1e-5 at d = 512.
  double decision_epsilon() const override { return top_k_epsilon(d_); }

  std::vector<std::string> stage_names() const override {
    return grouped_ ? std::vector<std::string>{"route", "experts", "combine"} : std::vector<std::string>{"route", "experts"};
  }

  // The router, every expert's weights and biases, and all scratch.
  std::vector<MemoryRegion> memory_regions() const override {
    std::vector<MemoryRegion> r;
    auto add = [&r](const auto& v) {
      if (!v.empty()) r.push_back({v.data(), v.size() * sizeof(v[0])});
    };
    add(router_);
    for (const DenseFfnWeights& w : experts_w_) {
      add(w.w1);
      add(w.b1);
      add(w.w2);
      add(w.b2);
    }
    add(logits_);
    add(weights_);
    add(panel_in_);
    add(hidden_);
    add(expert_out_);
    add(chosen_);
    add(slot_);
    add(order_);
    return r;
  }
  std::string cold_mode_gaps() const override {
    return "OpenBLAS's internal packing buffers (its own allocation, not reachable; rewritten from the weights "
           "and activations on every sgemm call)";
  }

  // Routing statistics of the last call: (token, choice) pairs per expert, the largest over the
  // mean, and the entropy of the pairs' share per expert (bits; log2 E when balanced).
  std::map<std::string, std::string> extras() const override {
    std::vector<std::string> counts;
    int64_t max = 0, sum = 0;
    for (int64_t e = 0; e < experts_; ++e) {
      counts.push_back(std::to_string(tokens_per_expert_[e]));
      max = std::max(max, tokens_per_expert_[e]);
      sum += tokens_per_expert_[e];
    }
    const double mean = static_cast<double>(sum) / experts_;
    double entropy = 0;
    for (int64_t e = 0; e < experts_ && sum > 0; ++e) {
      const double p = static_cast<double>(tokens_per_expert_[e]) / static_cast<double>(sum);
      if (p > 0) entropy -= p * std::log2(p);
    }
    return {{"expert_tokens", fmt::format("{}", fmt::join(counts, "|"))},
            {"max_over_mean", mean > 0 ? fmt::format("{:.3f}", max / mean) : ""},
            {"expert_entropy_bits", sum > 0 ? fmt::format("{:.4f}", entropy) : ""},
            {"routing_stats_over", "last_call"}};
  }

 private:
  // Scratch for `tokens` tokens, grown (never shrunk) with grow_scratch: zeroed by a static
  // OpenMP loop, as the per-row loops that fill them split their rows.
  void reserve(int64_t tokens) {
    const int64_t pairs = tokens * k_, panel = std::min(pairs, kPanelRows);
    grow_scratch(logits_, tokens * experts_);
    grow_scratch(chosen_, pairs);
    grow_scratch(weights_, pairs);
    grow_scratch(slot_, pairs);
    grow_scratch(order_, pairs);
    grow_scratch(panel_in_, panel * d_);
    grow_scratch(hidden_, panel * d_e_);
    grow_scratch(expert_out_, pairs * d_);
    tokens_per_expert_.resize(experts_);
    offsets_.resize(experts_ + 1);
    next_.resize(experts_);
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
    offsets_[0] = 0;
    std::partial_sum(tokens_per_expert_.begin(), tokens_per_expert_.end(), offsets_.begin() + 1);
    std::copy(offsets_.begin(), offsets_.end() - 1, next_.begin());
    last_tokens_ = tokens;
    for (int64_t i = 0; i < tokens * k_; ++i) {
      const int64_t pos = next_[chosen_[i]]++;
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
    const int64_t per_thread = (d_e_ + 15) / 16 * 16;  // whole cache lines per thread
    grow_scratch(hidden_, static_cast<size_t>(omp_get_max_threads() * per_thread));
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
  AlignedVector<int32_t> chosen_;
  AlignedVector<int64_t> slot_, order_;
  std::vector<int64_t> offsets_, next_, tokens_per_expert_;
  int64_t last_tokens_ = -1;  // tokens of the last route(); tokens_per_expert_ belongs to it
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
                              "grouped: tokens bucketed per expert, GEMMs per expert; per_token: matrix-vector per token"),
            weights_param()};
  }
  void validate(const Config& c) const override {
    if (c.integer("top_k") > c.integer("experts"))
      throw ConfigError("top_k", c.str("top_k"), fmt::format("must be at most experts = {}", c.str("experts")));
    check_fits_in_memory("experts", c.str("experts"),
                         4.0 * c.integer("experts") * (2.0 * c.integer("d") * c.integer("d_e")), "expert weights");
    trained_weights(c);
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<MoeKernel>(c, seed, max_tokens);
  }
  // Router and experts, the routing's per-pair arrays (reserve()), one panel of expert inputs and
  // hidden rows, every pair's expert output, and Y.
  double memory_bytes(const Config& c, int64_t tokens, int) const override {
    const double d = double(c.integer("d")), e = double(c.integer("experts")), de = double(c.integer("d_e"));
    const double n = double(tokens), pairs = n * double(c.integer("top_k"));
    const double panel = std::min(pairs, double(kPanelRows));
    return 4 * d * e + e * 4 * (2 * d * de + de + d) + 4 * n * e + 24 * pairs + 4 * panel * (d + de) +
           4 * pairs * d + 4 * n * d;
  }
};

FFNBENCH_REGISTER_VARIANT(MoeVariant);

}  // namespace
}  // namespace ffnbench

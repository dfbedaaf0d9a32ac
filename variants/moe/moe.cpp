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
// (no races: each token reads its k rows). impl onednn: the same buckets, panels and combine, the
// experts' two GEMMs through oneDNN matmuls at `precision` fp32, bf16 or int8
// (common/onednn_matmuls.hpp: gemm_ffn's rules, X and the hidden layer quantized per panel for
// int8); the router stays fp32 (OpenBLAS), so the routing is the same at every precision. oneDNN
// primitives are made once per panel row count: a panel of r rows runs as the next count of
// 1, 2, 4, 8, 16, 32, 48, ... 512, its extra input rows zero (extras: expert_padded_rows; they
// are in the experts' FLOPs). impl per_token: the loop people write first, matrix-vector products
// per token and chosen expert.
#include <fmt/format.h>
#include <omp.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <optional>

#include "common/activation.hpp"
#include "common/aligned.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
#include "common/onednn_matmuls.hpp"
#include "common/precision_error.hpp"
#include "common/random.hpp"
#include "common/trained_weights.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "moe/routing.hpp"

namespace ffnbench {
namespace {

constexpr int64_t kPanelRows = 4096;  // expert tokens per GEMM panel: bounds the hidden scratch
// impl onednn: expert tokens per panel (the hidden layer of one panel, 512·d_e floats, stays in
// L2/L3 between the two matmuls) and the row counts a panel is padded to, so that a few
// primitives, made when the kernel is built, serve every routing.
constexpr int64_t kOnednnPanelRows = 512;
int64_t onednn_panel_rows(int64_t rows) {
  if (rows <= 8) {
    int64_t m = 1;
    while (m < rows) m *= 2;
    return m;
  }
  return (rows + 15) / 16 * 16;
}

// Bytes a call moves per (token, choice) row of the experts stage: the gathered input row, the
// hidden row and the output row, each written and read; impl onednn adds its low-precision
// copies (bf16: X's bf16 copy, a bf16 hidden row; int8: X read again for its step, its s8 copy,
// the fp32 hidden row read twice (step, conversion) and its s8 copy).
double expert_row_bytes(double d, double de, const std::string& precision) {
  if (precision == "bf16") return 4.0 * 2 * d + 2.0 * 2 * d + 2.0 * 2 * de + 4.0 * 2 * d;
  if (precision == "int8") return 4.0 * 3 * d + 1.0 * 2 * d + 4.0 * 3 * de + 1.0 * 2 * de + 4.0 * 2 * d;
  return 4.0 * (2.0 * d + 2.0 * de + 2.0 * d);
}

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
        grouped_(c.str("impl") != "per_token"), onednn_(c.str("impl") == "onednn"), precision_(c.str("precision")),
        router_(d_ * experts_) {
    if (auto file = trained_weights(c)) {
      load_trained(*file);
    } else {
      fill_router(router_.data(), d_, experts_, seed);  // every element written
      for (int64_t e = 0; e < experts_; ++e) experts_w_.push_back(DenseFfnWeights::random(d_, d_e_, splitmix64(seed + 1000 * (e + 1))));
    }
    if (onednn_) build_onednn(max_tokens);
    reserve(max_tokens);
  }

  // One oneDNN matmul pair for every expert (their weights reordered, quantized or converted
  // once), its primitives made for every panel row count up to the largest panel max_tokens
  // can give. bf16 and int8 keep the weights the kernel multiplies by, in fp32, for the reference.
  void build_onednn(int64_t max_tokens) {
    const OnednnPrecision precision = parse_onednn_precision(precision_);
    pair_.emplace(MatmulPairShape{d_, d_e_, d_, Activation::GeluErf, /*biases=*/true, /*fp32_hidden=*/false}, precision,
                  kOnednnPanelRows);
    if (precision != OnednnPrecision::Fp32) reference_experts_ = experts_w_;
    for (int64_t e = 0; e < experts_; ++e) {
      const DenseFfnWeights& w = experts_w_[e];
      float* a = reference_experts_.empty() ? nullptr : reference_experts_[e].w1.data();
      float* b = reference_experts_.empty() ? nullptr : reference_experts_[e].w2.data();
      pair_->add_weights(w.w1.data(), w.b1.data(), w.w2.data(), w.b2.data(), a, b);
      if (precision == OnednnPrecision::Int8) {
        w1_operator_norm_.push_back(operator_norm(a, d_, d_e_));
        w2_max_column_norm_.push_back(max_column_norm(b, d_e_, d_));
      }
    }
    const int64_t largest = onednn_panel_rows(std::min(kOnednnPanelRows, std::max<int64_t>(1, max_tokens * k_)));
    for (int64_t m = 1; m <= largest; m = onednn_panel_rows(m + 1)) pair_->prepare(m);
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
        if (onednn_) run_experts_onednn(X);
        else run_experts_grouped(X, tokens);
      }
      StageTimer::Scope s(stages, 2);
      combine(Y, tokens);
    } else {
      StageTimer::Scope s(stages, 1);
      run_experts_per_token(X, Y, tokens);
    }
  }

  // bf16 and int8: the fp32 math on the weights the kernel multiplies by (rounded to bf16,
  // dequantized), on the same fp32 routing.
  void reference(const float* X, float* Y, int64_t tokens) const override {
    reference_with(reference_experts_.empty() ? experts_w_ : reference_experts_, X, Y, tokens);
  }

  void reference_with(const std::vector<DenseFfnWeights>& experts, const float* X, float* Y, int64_t tokens) const {
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
        dense_ffn_reference(experts[chosen[j]], Activation::GeluErf, x, y.data(), 1);
        for (int64_t i = 0; i < d_; ++i) Y[t * d_ + i] += weights[j] * y[i];
      }
    }
  }

  Cost cost(int64_t tokens) const override {
    const double n = static_cast<double>(tokens), d = static_cast<double>(d_), de = static_cast<double>(d_e_);
    const double k = static_cast<double>(k_), experts = static_cast<double>(experts_);
    // Bytes per expert as a call reads them: fp32 weights and biases, or oneDNN's reordered
    // bf16 / s8 weights (with int8's steps per channel) and the fp32 biases.
    const double expert_bytes = onednn_ ? pair_->weight_set_bytes() : 4.0 * (2.0 * d * de + de + d);
    const double row_bytes = expert_row_bytes(d, de, onednn_ ? precision_ : "fp32");
    // Tokens per expert: the last call's when it had this many tokens, else only their sum (N·k)
    // and the number of experts that can be reached (at most E, at most N·k) are known.
    double pairs = n * k, reached = std::min(experts, n * k);
    double rows_run = pairs;  // onednn: + the padded panel rows, known from the last call
    if (last_tokens_ == tokens) {
      pairs = 0;
      reached = 0;
      for (int64_t e = 0; e < experts_; ++e) {
        pairs += static_cast<double>(tokens_per_expert_[e]);
        reached += tokens_per_expert_[e] > 0 ? 1.0 : 0.0;
      }
      rows_run = pairs + static_cast<double>(padded_rows_);
    }
    Cost c;
    const double route = 2.0 * n * d * experts + n * route_top_k_flops(experts_, k_);
    const double expert_gemms = 4.0 * rows_run * d * de;
    if (grouped_) c.stage_flops = {route, expert_gemms, 2.0 * n * k * d};
    else c.stage_flops = {route, expert_gemms + 4.0 * n * k * d};
    for (double f : c.stage_flops) c.flops += f;
    c.weight_bytes = 4.0 * d * experts + reached * expert_bytes;
    // X (read by the router and gathered), Y, logits, and per (token, choice) the gathered input
    // row, the hidden row and the output row, each written and read (per_token: the input row is
    // read in place, the output row is updated in Y).
    c.activation_bytes = 4.0 * n * (3.0 * d + 2.0 * experts) + rows_run * row_bytes;
    c.working_set_bytes = expert_bytes;
    // Route: X and the logits streamed, the router kept. Experts: per (token, choice) the
    // gathered input, hidden and output rows streamed; grouped reads each reached expert's
    // weights once, per_token once per (token, choice). Combine streams the output rows in and Y.
    const double router = 4.0 * d * experts, rows = rows_run * row_bytes;
    c.stage_bytes = {router, grouped_ ? reached * expert_bytes : pairs * expert_bytes};
    c.stage_stream_bytes = {4.0 * n * (d + 2.0 * experts), rows};
    c.stage_working_set_bytes = {router, expert_bytes};
    c.stage_compute_precision = {"fp32", onednn_ ? precision_ : "fp32", "fp32"};  // the router stays fp32
    if (grouped_) {
      c.stage_bytes.push_back(0.0);
      c.stage_stream_bytes.push_back(4.0 * pairs * d + 4.0 * n * d);
      c.stage_working_set_bytes.push_back(0.0);
    }
    return c;
  }

  // fp32: summation order only. bf16 rounds X, the weights and the hidden layer to 8 significant
  // bits (against the reference on the rounded weights: X's and the hidden layer's rounding, near
  // 1e-2 of the output's rms, as gemm_ffn's bf16). int8: 1e-4 for the arithmetic plus
  // error_bound(), the activations' rounding.
  double tolerance() const override { return onednn_ && precision_ == "bf16" ? 5e-2 : 1e-4; }
  // int8: the largest of the experts' two-layer bounds (gemm_ffn's 6σ) over the last call's
  // panels, each with its own X and hidden steps; a token's output is a convex combination of
  // its experts' outputs (weights summing to 1), so its error is within the largest.
  double error_bound() const override { return last_bound_; }

  bool uses_onednn() const override { return onednn_; }
  std::string needs_isa() const override { return onednn_ ? onednn_needs_isa(precision_) : ""; }

  // bf16 and int8: the error of the last timed call against the fp32 MoE on the unrounded
  // weights (same routing), relative RMS over 16 rows spread over the batch.
  std::map<std::string, std::string> output_statistics(const float* X, const float* Y, int64_t tokens) const override {
    if (reference_experts_.empty()) return {};
    const double error = relative_rms_error_vs_fp32(X, d_, Y, d_, tokens, 16, [this](const float* x, float* y) {
      reference_with(experts_w_, x, y, 1);
    });
    return {{"rel_rms_error_vs_fp32", fmt::format("{:.4g}", error)}};
  }

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
    if (onednn_) {
      const std::vector<MemoryRegion> pair = pair_->regions();  // oneDNN's copies: the fp32 experts are not read
      r.insert(r.end(), pair.begin(), pair.end());
    } else {
      for (const DenseFfnWeights& w : experts_w_) {
        add(w.w1);
        add(w.b1);
        add(w.w2);
        add(w.b2);
      }
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
    if (onednn_)
      return "OpenBLAS's internal packing buffers of the router's sgemm (its own allocation, not reachable; rewritten "
             "from the router and X on every call)";
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
    std::map<std::string, std::string> e = {{"expert_tokens", fmt::format("{}", fmt::join(counts, "|"))},
                                            {"max_over_mean", mean > 0 ? fmt::format("{:.3f}", max / mean) : ""},
                                            {"expert_entropy_bits", sum > 0 ? fmt::format("{:.4f}", entropy) : ""},
                                            {"routing_stats_over", "last_call"}};
    if (onednn_) {
      e["onednn_impl"] = pair_->impl_info();
      e["expert_padded_rows"] = std::to_string(padded_rows_);
    }
    return e;
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
    if (onednn_) {  // a padded panel writes up to 15 rows past its expert's (the next expert's, or spare)
      grow_scratch(panel_in_, onednn_panel_rows(std::min(std::max<int64_t>(pairs, 1), kOnednnPanelRows)) * d_);
      grow_scratch(expert_out_, (pairs + 16) * d_);
    } else {
      grow_scratch(panel_in_, panel * d_);
      grow_scratch(hidden_, panel * d_e_);
      grow_scratch(expert_out_, pairs * d_);
    }
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

  // impl onednn: per expert, panels of up to 512 of its tokens, gathered and padded with zero rows
  // to the next prepared row count; both GEMMs (bias and GELU fused) by the expert's matmul pair.
  // Experts run in order, so a padded panel's extra output rows land on rows the next expert
  // writes afterwards.
  void run_experts_onednn(const float* X) {
    last_bound_ = 0;
    padded_rows_ = 0;
    for (int64_t e = 0; e < experts_; ++e) {
      for (int64_t p0 = offsets_[e]; p0 < offsets_[e + 1]; p0 += kOnednnPanelRows) {
        const int64_t rows = std::min(kOnednnPanelRows, offsets_[e + 1] - p0), m = onednn_panel_rows(rows);
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < m; ++r) {
          float* row = panel_in_.data() + r * d_;
          if (r < rows) {
            const int64_t token = order_[p0 + r] / k_;
            std::copy(X + token * d_, X + (token + 1) * d_, row);
          } else {
            std::fill(row, row + d_, 0.0f);
          }
        }
        pair_->prepare(m);  // made at build time unless this call has more tokens than max_tokens
        pair_->forward(static_cast<int>(e), panel_in_.data(), expert_out_.data() + p0 * d_, m);
        padded_rows_ += m - rows;
        if (!w1_operator_norm_.empty())
          last_bound_ = std::max(last_bound_, int8_two_layer_bound(w1_operator_norm_[e], w2_max_column_norm_[e],
                                                                   activation_max_slope(Activation::GeluErf),
                                                                   pair_->x_step(), pair_->hidden_step()));
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
  bool grouped_, onednn_;
  std::string precision_;
  AlignedVector<float> router_, logits_, weights_, panel_in_, hidden_, expert_out_;
  std::vector<DenseFfnWeights> experts_w_;
  AlignedVector<int32_t> chosen_;
  AlignedVector<int64_t> slot_, order_;
  std::vector<int64_t> offsets_, next_, tokens_per_expert_;
  int64_t last_tokens_ = -1;  // tokens of the last route(); tokens_per_expert_ belongs to it
  // impl onednn: the experts' matmuls; bf16/int8: the weights they multiply by, in fp32 (the
  // reference's); int8: each expert's norms for the rounding bound; the last call's bound and
  // padded panel rows.
  std::optional<OnednnMatmulPair> pair_;
  std::vector<DenseFfnWeights> reference_experts_;
  std::vector<double> w1_operator_norm_, w2_max_column_norm_;
  double last_bound_ = 0;
  int64_t padded_rows_ = 0;
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
            ParamSpec::choice("impl", "grouped", {"grouped", "onednn", "per_token"},
                              "grouped: tokens bucketed per expert, GEMMs per expert (OpenBLAS); onednn: the same "
                              "through oneDNN matmuls at any precision; per_token: matrix-vector per token"),
            ParamSpec::choice("precision", "fp32", {"fp32", "bf16", "int8"},
                              "the experts' weights and hidden layer (the router stays fp32); bf16 and int8 (s8 "
                              "weights with a step per output channel, X and the hidden layer quantized per panel) "
                              "need onednn"),
            weights_param()};
  }
  void validate(const Config& c) const override {
    if (c.integer("top_k") > c.integer("experts"))
      throw ConfigError("top_k", c.str("top_k"), fmt::format("must be at most experts = {}", c.str("experts")));
    const std::string precision = c.str("precision");
    if (precision != "fp32" && c.str("impl") != "onednn")
      throw ConfigError("precision", precision, fmt::format("needs impl=onednn (impl={} has no {})", c.str("impl"), precision));
    // fp32 weights, plus for onednn its reordered copy and (bf16, int8) the reference's fp32 copy.
    const double copies = c.str("impl") != "onednn" ? 1.0 : precision == "fp32" ? 2.0 : precision == "bf16" ? 2.5 : 2.25;
    check_fits_in_memory("experts", c.str("experts"),
                         copies * 4.0 * c.integer("experts") * (2.0 * c.integer("d") * c.integer("d_e")), "expert weights");
    trained_weights(c);
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<MoeKernel>(c, seed, max_tokens);
  }
  // Router and experts, the routing's per-pair arrays (reserve()), one panel of expert inputs and
  // hidden rows, every pair's expert output, and Y. onednn: its matmul pair (every expert's
  // reordered weights, one padded panel's buffers), the reference's fp32 copy of the experts
  // (bf16, int8), its padded panel input and the 16 spare output rows, no OpenBLAS hidden panel.
  double memory_bytes(const Config& c, int64_t tokens, int) const override {
    const double d = double(c.integer("d")), e = double(c.integer("experts")), de = double(c.integer("d_e"));
    const double n = double(tokens), pairs = n * double(c.integer("top_k")), expert = 4 * (2 * d * de + de + d);
    const double shared = 4 * d * e + e * expert + 4 * n * e + 24 * pairs + 4 * pairs * d + 4 * n * d;
    if (c.str("impl") != "onednn") return shared + 4 * std::min(pairs, double(kPanelRows)) * (d + de);
    const OnednnPrecision precision = parse_onednn_precision(c.str("precision"));
    const double panel = double(onednn_panel_rows(std::min<int64_t>(std::max<int64_t>(1, tokens * c.integer("top_k")), kOnednnPanelRows)));
    return shared + (precision == OnednnPrecision::Fp32 ? 0 : e * expert) + 4 * panel * d + 4 * 16 * d +
           OnednnMatmulPair::memory_bytes({c.integer("d"), c.integer("d_e"), c.integer("d"), Activation::GeluErf, true, false},
                                          precision, kOnednnPanelRows, c.integer("experts"));
  }
};

FFNBENCH_REGISTER_VARIANT(MoeVariant);

}  // namespace
}  // namespace ffnbench

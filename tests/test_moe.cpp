// moe and soft_lookup: impls vs reference on odd widths and ragged expert panels (exact gate),
// routing rules and decision margins, softmax stability, repeatability, cost model against an
// independent count, cold-mode regions, load-balance extras, validation.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <algorithm>
#include <numeric>
#include <sstream>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "common/softmax.hpp"
#include "core/registry.hpp"
#include "moe/routing.hpp"
#include "support_kernels.hpp"

using namespace ffnbench;

namespace {

constexpr uint64_t kSeed = 6;

std::unique_ptr<Kernel> build(const std::string& variant, std::map<std::string, std::string> given, int64_t tokens) {
  return test_support::build_kernel(variant, given, tokens, kSeed);
}

AlignedVector<float> random_input(int64_t n, uint64_t seed) {
  AlignedVector<float> X(n);
  fill_uniform(X.data(), X.size(), seed, 3, -1.0f, 1.0f);
  return X;
}

std::vector<float> run(Kernel& k, const AlignedVector<float>& X, int64_t tokens) {
  AlignedVector<float> Y(tokens * k.d_out());
  k.forward(X.data(), Y.data(), tokens, nullptr);
  return std::vector<float>(Y.begin(), Y.end());
}

// Tokens per expert of the last forward(), from the extras.
std::vector<int64_t> expert_tokens(const Kernel& k) {
  std::stringstream counts(k.extras().at("expert_tokens"));
  std::vector<int64_t> out;
  for (std::string c; std::getline(counts, c, '|');) out.push_back(std::stoll(c));
  return out;
}

// Router logits of x in double (W_r as the kernel draws it: fill_router from the build seed).
std::vector<double> logits_of(const std::vector<float>& router, const float* x, int64_t d, int64_t experts) {
  std::vector<double> l(experts, 0.0);
  for (int64_t e = 0; e < experts; ++e)
    for (int64_t i = 0; i < d; ++i) l[e] += double(x[i]) * router[i * experts + e];
  return l;
}

// A row whose k-th and (k+1)-th router logits are equal (up to the rounding of x to float):
// a random row moved along W_r[:, a] − W_r[:, b] until logits a and b meet, retried until a and
// b are then the k-th and (k+1)-th largest.
std::vector<float> tied_row(int64_t d, int64_t experts, int64_t k) {
  std::vector<float> router(d * experts);
  fill_router(router.data(), d, experts, kSeed);
  for (uint64_t attempt = 0; attempt < 1000; ++attempt) {
    std::vector<float> x(d);
    fill_uniform(x.data(), d, 77, attempt, -1.0f, 1.0f);
    std::vector<double> l = logits_of(router, x.data(), d, experts);
    std::vector<int64_t> order(experts);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return l[p] > l[q]; });
    const int64_t a = order[k - 1], b = order[k];
    double vv = 0;
    std::vector<double> v(d);
    for (int64_t i = 0; i < d; ++i) {
      v[i] = double(router[i * experts + a]) - router[i * experts + b];
      vv += v[i] * v[i];
    }
    const double c = (l[a] - l[b]) / vv;
    for (int64_t i = 0; i < d; ++i) x[i] = static_cast<float>(x[i] - c * v[i]);
    l = logits_of(router, x.data(), d, experts);
    std::sort(order.begin(), order.end(), [&](int64_t p, int64_t q) { return l[p] > l[q]; });
    const bool boundary = (order[k - 1] == a && order[k] == b) || (order[k - 1] == b && order[k] == a);
    if (boundary && (k - 1 == 0 || l[order[k - 2]] > l[a] + 1e-3) && (k + 1 >= experts || l[order[k + 1]] < l[a] - 1e-3))
      return x;
  }
  ADD_FAILURE() << "no tied row found";
  return std::vector<float>(d, 0.0f);
}
std::string error_of(const std::string& variant, std::map<std::string, std::string> given) {
  return test_support::validation_error(variant, given);
}

}  // namespace

TEST(Moe, BothImplsMatchTheReferenceOnOddWidths) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* impl : {"grouped", "per_token"})
      for (const char* k : {"1", "2", "5"})
        for (int64_t tokens : {1, 7, 130}) {
          auto kernel = build("moe", {{"impl", impl}, {"d", "37"}, {"d_e", "53"}, {"experts", "5"}, {"top_k", k}}, tokens);
          GateResult g = test_support::check_all_rows(*kernel, tokens, 4);
          EXPECT_EQ(g.mismatched_rows, 0) << impl << " k=" << k << " N=" << tokens << ": " << g.detail;
        }
  }
}

TEST(MoeRouting, TiesGoToTheLowerExpertIndex) {
  const float logits[] = {0.5f, 2.0f, 2.0f, 1.0f, 2.0f};
  int32_t chosen[3];
  float weights[3];
  route_top_k(logits, 5, 3, chosen, weights);
  EXPECT_EQ(chosen[0], 1);
  EXPECT_EQ(chosen[1], 2);
  EXPECT_EQ(chosen[2], 4);
  EXPECT_FLOAT_EQ(weights[0], 1.0f / 3);
}

TEST(MoeRouting, EveryTokenGetsExactlyKExpertsWithWeightsSummingToOne) {
  std::vector<float> logits(64 * 8);
  fill_uniform(logits.data(), logits.size(), 1, 1, -5.0f, 5.0f);
  for (int64_t t = 0; t < 64; ++t) {
    int32_t chosen[3];
    float weights[3];
    route_top_k(logits.data() + t * 8, 8, 3, chosen, weights);
    EXPECT_NEAR(weights[0] + weights[1] + weights[2], 1.0f, 1e-6);
    EXPECT_TRUE(chosen[0] != chosen[1] && chosen[1] != chosen[2] && chosen[0] != chosen[2]);
    for (int32_t c : chosen) EXPECT_TRUE(c >= 0 && c < 8);
    EXPECT_GE(weights[0], weights[1]);
  }
}

TEST(MoeRouting, HugeLogitsStayFinite) {
  const float logits[] = {1e4f, 9999.0f, -1e4f, 3e4f};
  int32_t chosen[2];
  float weights[2];
  route_top_k(logits, 4, 2, chosen, weights);
  EXPECT_EQ(chosen[0], 3);
  EXPECT_TRUE(std::isfinite(weights[0]) && std::isfinite(weights[1]));
  EXPECT_FLOAT_EQ(weights[0], 1.0f);
}

TEST(Softmax, StableForLargeLogitsAndEqualToTheShiftedForm) {
  std::vector<float> x = {1e4f, 1e4f - 1.0f, -1e4f, 1e4f - 2.0f};
  std::vector<double> ref(4);
  softmax_row_reference(x.data(), ref.data(), 4);
  softmax_row(x.data(), 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(std::isfinite(x[i]));
    EXPECT_NEAR(x[i], ref[i], 1e-6);
  }
  EXPECT_NEAR(x[0], 1.0 / (1 + std::exp(-1.0) + std::exp(-2.0)), 1e-6);
}

TEST(Moe, LoadBalanceExtrasCountEveryTokensKChoices) {
  auto kernel = build("moe", {{"d", "16"}, {"d_e", "8"}, {"experts", "6"}, {"top_k", "2"}}, 300);
  AlignedVector<float> X(300 * 16), Y(300 * 16);
  fill_uniform(X.data(), X.size(), 2, 2, -1.0f, 1.0f);
  kernel->forward(X.data(), Y.data(), 300, nullptr);
  auto extras = kernel->extras();
  std::stringstream counts(extras.at("expert_tokens"));
  int64_t sum = 0;
  for (std::string c; std::getline(counts, c, '|');) sum += std::stoll(c);
  EXPECT_EQ(sum, 300 * 2);
  EXPECT_GE(std::stod(extras.at("max_over_mean")), 1.0);
}

TEST(Moe, ValidationMessages) {
  EXPECT_EQ(error_of("moe", {{"experts", "4"}, {"top_k", "5"}}), "invalid value '5' for 'moe.top_k': must be at most experts = 4");
  EXPECT_EQ(error_of("moe", {{"d_e", "0"}}), "invalid value '0' for 'moe.d_e': must be an integer in [1, 1048576]");
}

TEST(SoftLookup, MatchesTheReferenceAndRejectsNonPositiveTemperature) {
  for (const char* temperature : {"1", "0.05", "20"}) {
    auto k = build("soft_lookup", {{"d", "37"}, {"d_out", "19"}, {"B", "45"}, {"temperature", temperature}}, 33);
    GateResult g = test_support::check_all_rows(*k, 33, 4);
    EXPECT_TRUE(g.passed) << temperature << ": " << g.detail;
  }
  EXPECT_EQ(error_of("soft_lookup", {{"temperature", "0"}}),
            "invalid value '0' for 'soft_lookup.temperature': must be a number in [1e-06, 1000000]");
  EXPECT_EQ(error_of("soft_lookup", {{"temperature", "-1"}}),
            "invalid value '-1' for 'soft_lookup.temperature': must be a number in [1e-06, 1000000]");
}

TEST(Moe, RaggedExpertPanelsEmptyExpertsAndTailsMatchTheReference) {
  // Experts with more than one 4096-row panel and a ragged last one (E = 1: 4133 rows; E = 3,
  // k = 2: ~4700 rows each), and many experts that receive no token (E = 16, N = 3).
  omp_set_num_threads(2);
  struct Case {
    const char *experts, *k;
    int64_t tokens;
  };
  for (const char* impl : {"grouped", "per_token"})
    for (Case c : {Case{"1", "1", 4096 + 37}, Case{"3", "2", 7001}, Case{"16", "1", 3}, Case{"16", "3", 2}}) {
      auto kernel = build("moe", {{"impl", impl}, {"d", "16"}, {"d_e", "24"}, {"experts", c.experts}, {"top_k", c.k}}, c.tokens);
      GateResult g = test_support::check_all_rows(*kernel, c.tokens, 9);
      EXPECT_EQ(g.mismatched_rows, 0) << impl << " E=" << c.experts << " k=" << c.k << " N=" << c.tokens << ": " << g.detail;
      EXPECT_TRUE(g.passed);
      if (std::string(c.experts) == "1") {
        EXPECT_EQ(expert_tokens(*kernel), (std::vector<int64_t>{c.tokens}));
      }
    }
}

TEST(Moe, RepeatedAndInterleavedCallsReproduceTheirOutputs) {
  omp_set_num_threads(2);
  for (const char* impl : {"grouped", "per_token"}) {
    auto k = build("moe", {{"impl", impl}, {"d", "24"}, {"d_e", "40"}, {"experts", "6"}, {"top_k", "2"}}, 300);
    const auto X1 = random_input(300 * 24, 1), X2 = random_input(300 * 24, 2);
    const auto first = run(*k, X1, 300);
    EXPECT_EQ(run(*k, X1, 300), first) << impl << ": repeated call";
    const auto first_counts = expert_tokens(*k);
    EXPECT_NE(run(*k, X2, 300), first);
    EXPECT_EQ(run(*k, X1, 300), first) << impl << ": after another input";
    EXPECT_EQ(expert_tokens(*k), first_counts);
  }
}

TEST(MoeRouting, TopKMarginIsTheSmallestScaledGapAcrossTheBoundary) {
  const double scale[] = {1, 1, 1, 1};
  const float tied[] = {3.0f, 2.0f, 2.0f, 0.0f};
  EXPECT_EQ(top_k_margin(tied, scale, 4, 2), 0.0);  // 2nd and 3rd equal
  const float apart[] = {3.0f, 2.0f, 1.0f, 0.0f};
  EXPECT_DOUBLE_EQ(top_k_margin(apart, scale, 4, 2), 0.5);  // (2 − 1) / (1 + 1)
  EXPECT_DOUBLE_EQ(top_k_margin(apart, scale, 4, 1), 0.5);  // (3 − 2) / 2
  EXPECT_TRUE(std::isinf(top_k_margin(apart, scale, 4, 4)));  // every expert chosen: no boundary
  const double uneven[] = {1, 3, 1, 1};
  EXPECT_DOUBLE_EQ(top_k_margin(apart, uneven, 4, 2), 0.25);  // (2 − 1) / (3 + 1)
  // ε: Higham's γ_d plus the reference's own rounding, 2u.
  EXPECT_NEAR(top_k_epsilon(512), 512 * 0x1p-24 / (1 - 512 * 0x1p-24) + 0x1p-23, 1e-15);
  EXPECT_LT(top_k_epsilon(512), 3.2e-5);
}

TEST(Moe, TiedRowHasZeroMarginAndOnlyItIsForgiven) {
  omp_set_num_threads(2);
  const int64_t d = 37, experts = 5, tokens = 8;
  for (int64_t k : {1, 2}) {
    auto kernel = build("moe", {{"d", "37"}, {"d_e", "19"}, {"experts", "5"}, {"top_k", std::to_string(k)}}, tokens);
    const double eps = kernel->decision_epsilon();
    EXPECT_GT(eps, 0.0);
    AlignedVector<float> X = random_input(tokens * d, 4);
    const std::vector<float> tie = tied_row(d, experts, k);
    std::copy(tie.begin(), tie.end(), X.begin() + 3 * d);
    const std::vector<double> margins = kernel->decision_margins(X.data(), tokens);
    ASSERT_EQ(static_cast<int64_t>(margins.size()), tokens);
    EXPECT_LT(margins[3], 1e-7) << "k=" << k;
    EXPECT_LE(margins[3], eps);
    for (int64_t t = 0; t < tokens; ++t)
      if (t != 3) {
        EXPECT_GT(margins[t], 100 * eps) << "random row " << t << " k=" << k;
      }

    AlignedVector<float> Y(tokens * d);
    kernel->forward(X.data(), Y.data(), tokens, nullptr);
    GateResult clean = check_against_reference(*kernel, X.data(), Y.data(), tokens, tokens);
    EXPECT_TRUE(clean.passed) << clean.detail;
    EXPECT_LE(clean.forgiven_rows, 1);  // row 3, if its tie went the other way
    // A wrong output on the tied row is what a flipped choice looks like: forgiven.
    AlignedVector<float> wrong = Y;
    for (int64_t i = 0; i < d; ++i) wrong[3 * d + i] += 1.0f;
    GateResult at_tie = check_against_reference(*kernel, X.data(), wrong.data(), tokens, tokens);
    EXPECT_TRUE(at_tie.passed) << at_tie.detail;
    EXPECT_EQ(at_tie.forgiven_rows, 1);
    // The same error on a row far from any tie fails the point.
    wrong = Y;
    for (int64_t i = 0; i < d; ++i) wrong[5 * d + i] += 1.0f;
    GateResult far = check_against_reference(*kernel, X.data(), wrong.data(), tokens, tokens);
    EXPECT_FALSE(far.passed);
    EXPECT_EQ(far.forgiven_rows, clean.forgiven_rows);  // the tied row may have flipped: only it is forgiven
    EXPECT_EQ(far.mismatched_rows, clean.mismatched_rows + 1);
    EXPECT_NE(far.detail.find("not a tie"), std::string::npos) << far.detail;
  }
  // k = E: nothing is decided, every margin is infinite.
  auto all = build("moe", {{"d", "8"}, {"d_e", "4"}, {"experts", "3"}, {"top_k", "3"}}, 2);
  const auto X = random_input(2 * 8, 1);
  for (double m : all->decision_margins(X.data(), 2)) EXPECT_TRUE(std::isinf(m));
}

TEST(Moe, CostModelIsTheSumOfItsStagesAndMatchesACountOfTheCodesWork) {
  const int64_t d = 5, experts = 4, k = 2, d_e = 3, n = 7;
  for (const char* impl : {"grouped", "per_token"}) {
    auto kernel = build("moe", {{"impl", impl}, {"d", "5"}, {"experts", "4"}, {"top_k", "2"}, {"d_e", "3"}}, n);
    const bool grouped = std::string(impl) == "grouped";
    for (bool after_forward : {false, true}) {
      std::vector<int64_t> per_expert(experts, 0);
      if (after_forward) {
        run(*kernel, random_input(n * d, 5), n);
        per_expert = expert_tokens(*kernel);
      }
      // Independent count, loop by loop, of what the code does.
      double route = 0, expert_work = 0, combine = 0;
      for (int64_t t = 0; t < n; ++t) {
        for (int64_t e = 0; e < experts; ++e)
          for (int64_t i = 0; i < d; ++i) route += 2;  // router GEMM
        route += experts - 1;                          // running max
        route += 4 * k;                                // shift, exp, sum, normalize per choice
      }
      const int64_t pairs = after_forward ? std::accumulate(per_expert.begin(), per_expert.end(), int64_t{0}) : n * k;
      for (int64_t p = 0; p < pairs; ++p) {
        expert_work += 2.0 * d * d_e + 2.0 * d_e * d;        // the expert's two products
        if (grouped) combine += 2.0 * d;                     // y += w·row
        else expert_work += 2.0 * d + 2.0 * d;               // y += w·b2, y += w·(W2ᵀh)
      }
      const Cost c = kernel->cost(n);
      ASSERT_EQ(c.stage_flops.size(), kernel->stage_names().size()) << impl;
      EXPECT_DOUBLE_EQ(c.stage_flops[0], route) << impl;
      EXPECT_DOUBLE_EQ(c.stage_flops[1], expert_work) << impl;
      if (grouped) {
        EXPECT_DOUBLE_EQ(c.stage_flops[2], combine);
      }
      double sum = 0;
      for (double f : c.stage_flops) sum += f;
      EXPECT_DOUBLE_EQ(c.flops, sum) << impl;
      EXPECT_DOUBLE_EQ(c.flops, route + expert_work + combine) << impl;
    }
  }
  // Weight bytes: the router and only the experts that received tokens (3 tokens, k = 1, 16 experts).
  auto sparse = build("moe", {{"d", "8"}, {"d_e", "4"}, {"experts", "16"}, {"top_k", "1"}}, 3);
  const double expert_bytes = 4.0 * (2 * 8 * 4 + 4 + 8), router_bytes = 4.0 * 8 * 16;
  EXPECT_DOUBLE_EQ(sparse->cost(3).weight_bytes, router_bytes + 3 * expert_bytes);  // before a call: at most N·k
  run(*sparse, random_input(3 * 8, 2), 3);
  int64_t reached = 0;
  for (int64_t c : expert_tokens(*sparse)) reached += c > 0;
  EXPECT_DOUBLE_EQ(sparse->cost(3).weight_bytes, router_bytes + reached * expert_bytes);
}

TEST(Moe, ColdModeRegionsHoldTheRouterEveryExpertAndTheScratch) {
  for (const char* impl : {"grouped", "per_token"}) {
    auto kernel = build("moe", {{"impl", impl}, {"d", "16"}, {"d_e", "24"}, {"experts", "6"}, {"top_k", "2"}}, 50);
    run(*kernel, random_input(50 * 16, 1), 50);
    double bytes = 0;
    for (const MemoryRegion& r : kernel->memory_regions()) bytes += r.bytes;
    const double weights = 4.0 * (16 * 6 + 6 * (2 * 16 * 24 + 24 + 16));
    const double scratch = 4.0 * (50 * 6 + 50 * 2 * 16);  // at least the logits and the expert outputs
    EXPECT_GE(bytes, weights + scratch) << impl;
    EXPECT_GE(bytes, kernel->cost(50).weight_bytes) << impl;
    EXPECT_NE(kernel->cold_mode_gaps().find("OpenBLAS"), std::string::npos);
  }
}

TEST(SoftLookup, RepeatedAndInterleavedCallsReproduceAndRegionsCoverTheScratch) {
  omp_set_num_threads(2);
  for (const char* impl : {"blas", "reference"}) {
    auto k = build("soft_lookup", {{"impl", impl}, {"d", "37"}, {"d_out", "19"}, {"B", "45"}}, 40);
    const auto X1 = random_input(40 * 37, 1), X2 = random_input(40 * 37, 2);
    const auto first = run(*k, X1, 40);
    EXPECT_EQ(run(*k, X1, 40), first) << impl;
    EXPECT_NE(run(*k, X2, 40), first);
    EXPECT_EQ(run(*k, X1, 40), first) << impl;
    double bytes = 0;
    for (const MemoryRegion& r : k->memory_regions()) bytes += r.bytes;
    EXPECT_GE(bytes, k->cost(40).weight_bytes + (std::string(impl) == "blas" ? 4.0 * 40 * 45 : 0.0)) << impl;
    EXPECT_FALSE(k->cold_mode_gaps().empty());
  }
}

TEST(SoftLookup, CostModelMatchesACountOfTheCodesWork) {
  const int64_t d = 6, d_out = 4, buckets = 5, n = 3;
  double scores = 0, softmax = 0, mix = 0;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t b = 0; b < buckets; ++b) {
      scores += 2.0 * d;            // x·R_b
      softmax += 2 + (2 + 1 + 1) + 1;  // x·scale, max | x·scale − max, exp, sum | ·(1/sum)
      mix += 2.0 * d_out;           // p_b·L_b
    }
  auto k = build("soft_lookup", {{"d", "6"}, {"d_out", "4"}, {"B", "5"}}, n);
  const Cost c = k->cost(n);
  ASSERT_EQ(c.stage_flops.size(), k->stage_names().size());
  EXPECT_DOUBLE_EQ(c.stage_flops[0], scores);
  EXPECT_DOUBLE_EQ(c.stage_flops[1], softmax);
  EXPECT_DOUBLE_EQ(c.stage_flops[2], mix);
  EXPECT_DOUBLE_EQ(c.flops, scores + softmax + mix);
}

// moe and soft_lookup: impls vs reference on odd widths, routing rules, softmax stability,
// load-balance extras, validation.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
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

std::unique_ptr<Kernel> build(const std::string& variant, std::map<std::string, std::string> given, int64_t tokens) {
  return test_support::build_kernel(variant, given, tokens, 6);
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

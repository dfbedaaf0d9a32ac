// gemm_ffn and gemm_floor: every impl against the scalar reference, validation messages, seeds.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"

using namespace ffnbench;

namespace {

std::unique_ptr<Kernel> build(const std::string& variant, std::map<std::string, std::string> given,
                              int64_t max_tokens, uint64_t seed = 11) {
  const Variant& v = Registry::instance().get(variant);
  return v.build(resolve_variant_config(v, given, variant + "."), seed, max_tokens);
}

// max |y - ref| / (|ref| + rms(ref)), the gate's measure.
double error_vs_reference(Kernel& k, int64_t tokens) {
  AlignedVector<float> X(tokens * k.d_in()), Y(tokens * k.d_out()), R(tokens * k.d_out());
  fill_uniform(X.data(), X.size(), 5, 9, -1.0f, 1.0f);
  k.forward(X.data(), Y.data(), tokens, nullptr);
  k.reference(X.data(), R.data(), tokens);
  double ss = 0;
  for (float r : R) ss += double(r) * r;
  const double rms = std::sqrt(ss / R.size());
  double worst = 0;
  for (size_t i = 0; i < R.size(); ++i) worst = std::max(worst, std::abs(double(Y[i]) - R[i]) / (std::abs(R[i]) + rms));
  return worst;
}

std::string error_of(const std::string& variant, std::map<std::string, std::string> given) {
  try {
    const Variant& v = Registry::instance().get(variant);
    resolve_variant_config(v, given, variant + ".");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(GemmFfn, EveryImplAndActivationMatchesTheReferenceOnOddShapes) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* impl : {"openblas", "onednn", "naive"})
      for (const char* act : {"gelu_erf", "gelu_tanh", "relu"})
        for (int64_t tokens : {1, 3, 65}) {
          auto k = build("gemm_ffn", {{"impl", impl}, {"activation", act}, {"d", "37"}, {"d_ff", "101"}}, tokens);
          EXPECT_LT(error_vs_reference(*k, tokens), 1e-5) << impl << " " << act << " N=" << tokens << " T=" << threads;
        }
  }
}

TEST(GemmFfn, OpenblasPanelPathMatchesTheReference) {
  // d_ff = 8192 makes 256-row panels: 600 tokens on 2 threads take the panel path with a ragged
  // last panel.
  omp_set_num_threads(2);
  auto k = build("gemm_ffn", {{"impl", "openblas"}, {"d", "24"}, {"d_ff", "8192"}}, 600);
  EXPECT_LT(error_vs_reference(*k, 600), 1e-5);
}

TEST(GemmFfn, Bf16IsWithinItsStatedTolerance) {
  auto k = build("gemm_ffn", {{"impl", "onednn"}, {"precision", "bf16"}, {"d", "64"}, {"d_ff", "96"}}, 33);
  double err = error_vs_reference(*k, 33);
  EXPECT_LT(err, k->tolerance());
  EXPECT_GT(err, 1e-5) << "bf16 that matches fp32 this closely did not run in bf16";
}

TEST(GemmFfn, CostModelIsFourNDDff) {
  auto k = build("gemm_ffn", {{"d", "512"}, {"d_ff", "2048"}}, 8);
  EXPECT_DOUBLE_EQ(k->cost(32768).flops, 4.0 * 32768 * 512 * 2048);
  EXPECT_DOUBLE_EQ(k->cost(1).weight_bytes, 2.0 * 512 * 2048 * 4 + 4.0 * (512 + 2048));
}

TEST(GemmFfn, ValidationMessages) {
  EXPECT_EQ(error_of("gemm_ffn", {{"d", "0"}}), "invalid value '0' for 'gemm_ffn.d': must be an integer in [1, 65536]");
  EXPECT_EQ(error_of("gemm_ffn", {{"impl", "mkl"}}),
            "invalid value 'mkl' for 'gemm_ffn.impl': must be one of: openblas, onednn, naive");
  EXPECT_EQ(error_of("gemm_ffn", {{"impl", "naive"}, {"precision", "bf16"}}),
            "invalid value 'bf16' for 'gemm_ffn.precision': needs impl=onednn (impl=naive is fp32 only)");
  EXPECT_EQ(error_of("gemm_ffn", {{"activation", "swish"}}),
            "invalid value 'swish' for 'gemm_ffn.activation': must be one of: gelu_erf, gelu_tanh, relu");
}

TEST(GemmFfn, WeightsAreDeterministicFromTheSeedAndIndependentOfThreads) {
  omp_set_num_threads(1);
  DenseFfnWeights a = DenseFfnWeights::random(300, 700, 42);
  omp_set_num_threads(2);
  DenseFfnWeights b = DenseFfnWeights::random(300, 700, 42);
  DenseFfnWeights c = DenseFfnWeights::random(300, 700, 43);
  EXPECT_EQ(a.w1, b.w1);
  EXPECT_EQ(a.b2, b.b2);
  EXPECT_NE(a.w1, c.w1);
  const float bound = 1.0f / std::sqrt(300.0f);
  for (float v : a.w1) ASSERT_LE(std::abs(v), bound);
}

TEST(GemmFloor, IsTheBarePairOfProducts) {
  auto k = build("gemm_floor", {{"d", "19"}, {"d_ff", "45"}}, 7);
  EXPECT_LT(error_vs_reference(*k, 7), 1e-5);
  // Known answer: with X = e_0, Y = row 0 of W1 times W2.
  DenseFfnWeights w = DenseFfnWeights::random(3, 2, 1, false);
  std::vector<float> x = {1, 0, 0}, y(3);
  dense_ffn_reference(w, Activation::None, x.data(), y.data(), 1);
  for (int k2 = 0; k2 < 3; ++k2)
    EXPECT_NEAR(y[k2], w.w1[0] * w.w2[0 * 3 + k2] + w.w1[1] * w.w2[1 * 3 + k2], 1e-6);
}

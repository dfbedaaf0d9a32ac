#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/activation.hpp"
#include "common/fast_math.hpp"

using namespace ffnbench;

TEST(FastMath, ExpIsWithinAFewUlpOverTheWholeRange) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    double rel = std::abs(fast_exp(x) - std::exp(static_cast<double>(x))) / std::exp(static_cast<double>(x));
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 4e-7);
  EXPECT_FLOAT_EQ(fast_exp(0.0f), 1.0f);
  EXPECT_GT(fast_exp(-200.0f), 0.0f);  // clamped, not a garbage exponent
  EXPECT_TRUE(std::isfinite(fast_exp(200.0f)));
}

TEST(FastMath, SixteenLaneExpAgreesWithTheScalarOne) {
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "this CPU has no AVX-512: fast_exp16 cannot run";
  double worst = 0;
  for (float x0 = -100.0f; x0 <= 100.0f; x0 += 16 * 0.0173f) {
    alignas(64) float x[16], y[16];
    for (int i = 0; i < 16; ++i) x[i] = x0 + 0.0173f * i;
    _mm512_store_ps(y, fast_exp16(_mm512_load_ps(x)));
    for (int i = 0; i < 16; ++i) worst = std::max(worst, std::abs(double(y[i]) - fast_exp(x[i])) / fast_exp(x[i]));
  }
  EXPECT_LT(worst, 4e-7);  // the same polynomial; only FMA contraction differs
}

TEST(FastMath, ErfAndTanhAbsoluteErrors) {
  double erf_worst = 0, tanh_worst = 0;
  for (float x = -12.0f; x <= 12.0f; x += 0.001f) {
    erf_worst = std::max(erf_worst, std::abs(fast_erf(x) - std::erf(static_cast<double>(x))));
    tanh_worst = std::max(tanh_worst, std::abs(fast_tanh(x) - std::tanh(static_cast<double>(x))));
  }
  // A&S 7.1.26's 1.5e-7 plus the float rounding of its ~10 operations (exp, the polynomial): a
  // few ulp of 1 (6e-8 near |erf| = 1). One bound for every preset: where the compiler fuses the
  // polynomial's multiply-adds (FMA: release's -march=native at -O3) each rounds once, elsewhere
  // twice (debug-asan's -O0, any build without FMA). Measured worst over this loop: 4.54e-7 with
  // FMA, 5.08e-7 without. 6e-7 is 1.5 ulp above the worse; a wrong coefficient errs by 1e-5 or more.
  EXPECT_LT(erf_worst, 6e-7);
  EXPECT_LT(tanh_worst, 3e-7);
  EXPECT_EQ(fast_erf(30.0f), 1.0f);
  EXPECT_EQ(fast_tanh(-60.0f), -1.0f);
}

TEST(BiasActivationRows, MatchesTheScalarFormsOnOddWidths) {
  const int64_t rows = 5, width = 37;
  std::vector<float> bias(width);
  for (int64_t j = 0; j < width; ++j) bias[j] = 0.1f * static_cast<float>(j % 7) - 0.3f;
  for (Activation a : {Activation::GeluErf, Activation::GeluTanh, Activation::Relu, Activation::None}) {
    std::vector<float> x(rows * width);
    for (size_t i = 0; i < x.size(); ++i) x[i] = -6.0f + 12.0f * static_cast<float>(i) / x.size();
    std::vector<float> expected(x.size());
    for (size_t i = 0; i < x.size(); ++i) expected[i] = activate(a, x[i] + bias[i % width]);
    bias_activation_rows(x.data(), rows, width, bias.data(), a);
    for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(x[i], expected[i], 1e-6f * (1 + std::abs(expected[i]))) << i;
  }
  std::vector<float> y = {-1.0f, 0.0f, 2.0f};
  bias_activation_rows_serial(y.data(), 1, 3, nullptr, Activation::Relu);
  EXPECT_EQ(y, (std::vector<float>{0.0f, 0.0f, 2.0f}));
}

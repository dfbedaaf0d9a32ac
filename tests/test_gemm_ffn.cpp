// gemm_ffn and gemm_floor: every impl (and the kernel's own reference) against an independent
// double-precision implementation written here, known answers for a hand-computable shape,
// the LayerNorm, validation messages, repeatability, cost model, cold-mode regions, seeds.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <fstream>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "gemm_ffn/layer_norm.hpp"
#include "gemm_ffn/libtorch_ffn.hpp"
#include "support_kernels.hpp"
#include "support_run_folders.hpp"

using namespace ffnbench;

namespace {

constexpr uint64_t kSeed = 11;

std::unique_ptr<Kernel> build(const std::string& variant, std::map<std::string, std::string> given,
                              int64_t max_tokens, uint64_t seed = kSeed) {
  return test_support::build_kernel(variant, given, max_tokens, seed);
}

std::string error_of(const std::string& variant, std::map<std::string, std::string> given) {
  return test_support::validation_error(variant, given);
}

// The math of DESIGN.md §4, written out again in double: nothing here is shared with the kernel
// but the weights, which gemm_ffn draws with DenseFfnWeights::random(d, d_ff, seed) (checked
// below against a known answer of that function).
double act_exact(const std::string& act, double v) {
  if (act == "gelu_erf") return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
  if (act == "gelu_tanh") return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
  if (act == "relu") return v > 0 ? v : 0.0;
  return v;
}

std::vector<double> independent_ffn(int64_t d, int64_t f, uint64_t seed, const std::string& act, bool layernorm,
                                    const float* X, int64_t tokens) {
  const DenseFfnWeights w = DenseFfnWeights::random(d, f, seed);
  std::vector<double> Y(tokens * d), u(d), h(f);
  for (int64_t t = 0; t < tokens; ++t) {
    const float* x = X + t * d;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mean += x[i];
    mean /= d;
    for (int64_t i = 0; i < d; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= d;
    for (int64_t i = 0; i < d; ++i) u[i] = layernorm ? (x[i] - mean) / std::sqrt(var + 1e-5) : x[i];  // γ = 1, β = 0
    for (int64_t j = 0; j < f; ++j) {
      double s = w.b1[j];
      for (int64_t i = 0; i < d; ++i) s += u[i] * double(w.w1[i * f + j]);
      h[j] = act_exact(act, s);
    }
    for (int64_t k = 0; k < d; ++k) {
      double s = w.b2[k];
      for (int64_t j = 0; j < f; ++j) s += h[j] * double(w.w2[j * d + k]);
      Y[t * d + k] = s;
    }
  }
  return Y;
}

// max |y - ref| / (|ref| + rms(ref)), the gate's measure.
double relative_error(const float* Y, const std::vector<double>& R) {
  double ss = 0;
  for (double r : R) ss += r * r;
  const double rms = std::sqrt(ss / R.size());
  double worst = 0;
  for (size_t i = 0; i < R.size(); ++i) {
    const double e = std::abs(double(Y[i]) - R[i]) / (std::abs(R[i]) + rms);
    worst = std::isfinite(e) ? std::max(worst, e) : INFINITY;
  }
  return worst;
}

AlignedVector<float> random_input(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  AlignedVector<float> X(n);
  fill_uniform(X.data(), X.size(), seed, 9, lo, hi);
  return X;
}

struct Errors {
  double forward = 0, reference = 0;
};

// Both forward() and the kernel's reference() against the independent implementation.
Errors errors_vs_independent(const std::map<std::string, std::string>& given, int64_t d, int64_t f, int64_t tokens,
                             bool check_reference = true) {
  auto k = build("gemm_ffn", given, tokens);
  const auto X = random_input(tokens * d, 5, -2.0f, 3.0f);  // a nonzero mean, so the LayerNorm matters
  AlignedVector<float> Y(tokens * d), R(tokens * d);
  k->forward(X.data(), Y.data(), tokens, nullptr);
  const std::string act = given.count("activation") ? given.at("activation") : "gelu_erf";
  const bool ln = given.count("layernorm") && given.at("layernorm") == "true";
  const std::vector<double> exact = independent_ffn(d, f, kSeed, act, ln, X.data(), tokens);
  Errors e;
  e.forward = relative_error(Y.data(), exact);
  if (check_reference) {
    k->reference(X.data(), R.data(), tokens);
    e.reference = relative_error(R.data(), exact);
  }
  return e;
}

// Every fp32 impl of this build (libtorch where it was built with FFNBENCH_LIBTORCH).
std::vector<std::string> fp32_impls() {
  std::vector<std::string> impls = {"openblas", "blis", "onednn", "naive"};
  if (libtorch_available()) impls.push_back("libtorch");
  return impls;
}

// The impls with a bf16 path.
std::vector<std::string> bf16_impls() {
  std::vector<std::string> impls = {"onednn"};
  if (libtorch_available()) impls.push_back("libtorch");
  return impls;
}

std::vector<float> run(Kernel& k, const AlignedVector<float>& X, int64_t tokens) {
  AlignedVector<float> Y(tokens * k.d_out());
  k.forward(X.data(), Y.data(), tokens, nullptr);
  return std::vector<float>(Y.begin(), Y.end());
}

}  // namespace

TEST(GemmFfn, EveryImplActivationAndLayerNormMatchesAnIndependentDoubleImplementation) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const std::string& impl : fp32_impls())
      for (const char* act : {"gelu_erf", "gelu_tanh", "relu"})
        for (const char* ln : {"false", "true"})
          for (int64_t tokens : {1, 3, 65}) {
            Errors e = errors_vs_independent(
                {{"impl", impl}, {"activation", act}, {"layernorm", ln}, {"d", "37"}, {"d_ff", "101"}}, 37, 101, tokens);
            const std::string where = impl + " " + act + " layernorm=" + ln + " N=" + std::to_string(tokens) +
                                      " T=" + std::to_string(threads);
            EXPECT_LT(e.forward, 1e-5) << where;
            EXPECT_LT(e.reference, 1e-5) << "the kernel's reference, " << where;
          }
  }
}

TEST(GemmFfn, OpenblasAndBlisPanelPathMatchesTheIndependentImplementationWithAndWithoutLayerNorm) {
  // d_ff = 8192 makes 256-row panels: 600 tokens on 2 threads take the panel path with a ragged
  // last panel (88 rows); the LayerNorm then runs per panel on the panel's thread.
  omp_set_num_threads(2);
  for (const char* impl : {"openblas", "blis"})
    for (const char* ln : {"false", "true"}) {
      Errors e = errors_vs_independent({{"impl", impl}, {"d", "24"}, {"d_ff", "8192"}, {"layernorm", ln}}, 24, 8192,
                                       600, /*check_reference=*/false);
      EXPECT_LT(e.forward, 1e-5) << impl << " layernorm=" << ln;
    }
}

TEST(GemmFfn, Bf16IsWithinItsStatedToleranceWithAndWithoutLayerNorm) {
  for (const std::string& impl : bf16_impls())
    for (const char* ln : {"false", "true"}) {
      const std::map<std::string, std::string> given = {
          {"impl", impl}, {"precision", "bf16"}, {"layernorm", ln}, {"d", "64"}, {"d_ff", "96"}};
      auto k = build("gemm_ffn", given, 33);
      Errors e = errors_vs_independent(given, 64, 96, 33);
      EXPECT_LT(e.forward, k->tolerance()) << impl << " " << ln;
      EXPECT_GT(e.forward, 1e-5) << impl << ": bf16 that matches fp32 this closely did not run in bf16";
      EXPECT_LT(e.reference, 1e-5) << impl << " " << ln;
    }
}

// d = d_ff = 2, W1 = W2 = I, b1 = 0, b2 = (0.5, −0.25): y = act(u) + b2, with u = x = (1, −1), or
// u = LN(x) for x = (3, 1) (mean 2, variance 1) with γ = (2, 1), β = (0, 0.5):
// u = (2/√(1 + 1e-5), 0.5 − 1/√(1 + 1e-5)). Values from erf/tanh in double (Python's math).
TEST(GemmFfn, ReferenceKnownAnswersForEveryActivationWithAndWithoutLayerNorm) {
  DenseFfnWeights w;
  w.d = w.d_ff = 2;
  w.w1 = {1, 0, 0, 1};
  w.w2 = {1, 0, 0, 1};
  w.b1 = {0, 0};
  w.b2 = {0.5f, -0.25f};
  struct Case {
    Activation act;
    double plain[2], normed[2];
  };
  const Case cases[] = {
      {Activation::GeluErf, {1.3413447460685429, -0.40865525393145707}, {2.4544888838616237, -0.4042681068358843}},
      {Activation::GeluTanh, {1.3411919906082768, -0.40880800939172324}, {2.454586833171272, -0.4042853270216536}},
      {Activation::Relu, {1.5, -0.25}, {2.4999900000749995, -0.25}},
  };
  for (const Case& c : cases) {
    float y[2];
    const float x[] = {1.0f, -1.0f};
    dense_ffn_reference(w, c.act, x, y, 1);
    EXPECT_NEAR(y[0], c.plain[0], 2e-6);
    EXPECT_NEAR(y[1], c.plain[1], 2e-6);
  }
  w.ln_gamma = {2.0f, 1.0f};
  w.ln_beta = {0.0f, 0.5f};
  for (const Case& c : cases) {
    float y[2];
    const float x[] = {3.0f, 1.0f};
    dense_ffn_reference(w, c.act, x, y, 1);
    EXPECT_NEAR(y[0], c.normed[0], 2e-6);
    EXPECT_NEAR(y[1], c.normed[1], 2e-6);
  }
}

TEST(GemmFfn, VectorizedLayerNormMatchesDoubleWithAffineOnEveryTailWidth) {
  for (int64_t d : {1, 5, 16, 31, 37, 64, 512}) {
    const int64_t rows = 5;
    auto X = random_input(rows * d, 7, -3.0f, 5.0f), gamma = random_input(d, 8), beta = random_input(d, 9);
    AlignedVector<float> U(rows * (d + 3));
    for (bool parallel : {false, true}) {
      layer_norm_rows(X.data(), d, U.data(), d + 3, rows, d, gamma.data(), beta.data(), parallel);
      for (int64_t r = 0; r < rows; ++r) {
        std::vector<double> ref(d);
        double mean = 0, var = 0;
        for (int64_t i = 0; i < d; ++i) mean += X[r * d + i];
        mean /= d;
        for (int64_t i = 0; i < d; ++i) var += (X[r * d + i] - mean) * (X[r * d + i] - mean);
        var /= d;
        for (int64_t i = 0; i < d; ++i) {
          const double want = (X[r * d + i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + beta[i];
          EXPECT_NEAR(U[r * (d + 3) + i], want, 2e-6 * (1 + std::abs(want))) << "d=" << d << " row " << r << " i=" << i;
        }
      }
    }
  }
}

TEST(GemmFfn, RepeatedAndInterleavedCallsReproduceTheirOutputs) {
  omp_set_num_threads(2);
  const int64_t tokens = 70;
  struct Setup {
    const char *impl, *precision, *ln;
  };
  std::vector<Setup> setups = {Setup{"openblas", "fp32", "false"}, Setup{"openblas", "fp32", "true"},
                               Setup{"blis", "fp32", "true"},      Setup{"onednn", "fp32", "false"},
                               Setup{"onednn", "fp32", "true"},    Setup{"onednn", "bf16", "true"},
                               Setup{"naive", "fp32", "true"}};
  if (libtorch_available()) {
    setups.push_back({"libtorch", "fp32", "true"});
    setups.push_back({"libtorch", "bf16", "false"});
  }
  for (Setup s : setups) {
    auto k = build("gemm_ffn", {{"impl", s.impl}, {"precision", s.precision}, {"layernorm", s.ln}, {"d", "40"}, {"d_ff", "72"}},
                   tokens);
    const auto X1 = random_input(tokens * 40, 1), X2 = random_input(tokens * 40, 2);
    const auto first = run(*k, X1, tokens);
    EXPECT_EQ(run(*k, X1, tokens), first) << s.impl << " " << s.precision << " " << s.ln << ": repeated call";
    const auto other = run(*k, X2, tokens);
    EXPECT_NE(other, first);
    EXPECT_EQ(run(*k, X1, tokens), first) << s.impl << " " << s.precision << " " << s.ln << ": after another input";
  }
  // The panel path (threads' hidden slices reused across panels and calls).
  for (const char* impl : {"openblas", "blis"}) {
    auto k = build("gemm_ffn", {{"impl", impl}, {"layernorm", "true"}, {"d", "24"}, {"d_ff", "8192"}}, 600);
    const auto X1 = random_input(600 * 24, 1), X2 = random_input(600 * 24, 2);
    const auto first = run(*k, X1, 600);
    run(*k, X2, 600);
    EXPECT_EQ(run(*k, X1, 600), first) << impl;
  }
}

TEST(GemmFfn, CostModelMatchesACountOfTheCodesWork) {
  // Independent count for a small shape, loop by loop: per token d·d_ff multiply-adds in each
  // GEMM; the LayerNorm per element: 1 add (mean), 1 sub + 1 FMA (variance), 1 sub + 1 mul + 1 FMA.
  const int64_t d = 6, f = 10, n = 3;
  double gemms = 0, ln = 0;
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t j = 0; j < f; ++j)
      for (int64_t i = 0; i < d; ++i) gemms += 2;  // GEMM1
    for (int64_t k2 = 0; k2 < d; ++k2)
      for (int64_t j = 0; j < f; ++j) gemms += 2;  // GEMM2
    for (int64_t i = 0; i < d; ++i) ln += 1 + (1 + 2) + (1 + 1 + 2);
  }
  for (const std::string& impl : fp32_impls()) {
    auto plain = build("gemm_ffn", {{"impl", impl}, {"d", "6"}, {"d_ff", "10"}}, n);
    EXPECT_DOUBLE_EQ(plain->cost(n).flops, gemms);
    EXPECT_TRUE(plain->cost(n).stage_flops.empty());
    auto with_ln = build("gemm_ffn", {{"impl", impl}, {"d", "6"}, {"d_ff", "10"}, {"layernorm", "true"}}, n);
    const Cost c = with_ln->cost(n);
    EXPECT_DOUBLE_EQ(c.flops, gemms + ln) << impl;
    EXPECT_DOUBLE_EQ(c.weight_bytes, 4.0 * (2 * d * f + d + f) + 4.0 * 2 * d) << impl;  // + γ, β
    EXPECT_EQ(c.stage_flops.size(), with_ln->stage_names().size()) << impl;
    if (!c.stage_flops.empty()) {
      EXPECT_DOUBLE_EQ(c.stage_flops[0], ln);
      EXPECT_DOUBLE_EQ(c.stage_flops[0] + c.stage_flops[1], c.flops);
    }
  }
  auto k = build("gemm_ffn", {{"d", "512"}, {"d_ff", "2048"}}, 8);
  EXPECT_DOUBLE_EQ(k->cost(32768).flops, 4.0 * 32768 * 512 * 2048);
  EXPECT_DOUBLE_EQ(k->cost(1).weight_bytes, 2.0 * 512 * 2048 * 4 + 4.0 * (512 + 2048));
}

TEST(GemmFfn, LayerNormStagesAreTimed) {
  omp_set_num_threads(2);
  for (const char* impl : {"openblas", "blis", "onednn"})
    for (int64_t tokens : {9, 600}) {
      auto k = build("gemm_ffn", {{"impl", impl}, {"layernorm", "true"}, {"d", "24"}, {"d_ff", "8192"}}, tokens);
      ASSERT_EQ(k->stage_names(), (std::vector<std::string>{"layernorm", "ffn"}));
      StageTimer timer(2);
      const auto X = random_input(tokens * 24, 3);
      AlignedVector<float> Y(tokens * 24);
      k->forward(X.data(), Y.data(), tokens, &timer);
      EXPECT_GT(timer.seconds()[0], 0.0) << impl << " N=" << tokens;
      EXPECT_GT(timer.seconds()[1], 0.0) << impl << " N=" << tokens;
    }
}

TEST(GemmFfn, ColdModeRegionsCoverWhatACallReads) {
  for (const std::string& impl : fp32_impls())
    for (const char* precision : {"fp32", "bf16"})
      for (const char* ln : {"false", "true"}) {
        if (std::string(precision) == "bf16" && impl != "onednn" && impl != "libtorch") continue;
        auto k = build("gemm_ffn", {{"impl", impl}, {"precision", precision}, {"layernorm", ln}, {"d", "64"}, {"d_ff", "96"}}, 16);
        const auto X = random_input(16 * 64, 3);
        AlignedVector<float> Y(16 * 64);
        k->forward(X.data(), Y.data(), 16, nullptr);
        double bytes = 0;
        for (const MemoryRegion& r : k->memory_regions()) {
          EXPECT_NE(r.data, nullptr);
          bytes += r.bytes;
        }
        EXPECT_GE(bytes, k->cost(16).weight_bytes) << impl << " " << precision << " " << ln;
        if (impl == "openblas") {
          EXPECT_NE(k->cold_mode_gaps().find("OpenBLAS"), std::string::npos);
        }
        if (impl == "blis") {
          EXPECT_NE(k->cold_mode_gaps().find("BLIS"), std::string::npos);
        }
        if (impl == "libtorch") {
          EXPECT_NE(k->cold_mode_gaps().find("PyTorch"), std::string::npos);
        }
        if (impl == "onednn") {
          EXPECT_EQ(k->cold_mode_gaps(), "");
        }
      }
}

TEST(GemmFfn, ValidationMessages) {
  EXPECT_EQ(error_of("gemm_ffn", {{"d", "0"}}), "invalid value '0' for 'gemm_ffn.d': must be an integer in [1, 65536]");
  EXPECT_EQ(error_of("gemm_ffn", {{"impl", "mkl"}}),
            "invalid value 'mkl' for 'gemm_ffn.impl': must be one of: openblas, blis, onednn, libtorch, naive");
  for (const char* impl : {"naive", "openblas", "blis"})
    EXPECT_EQ(error_of("gemm_ffn", {{"impl", impl}, {"precision", "bf16"}}),
              std::string("invalid value 'bf16' for 'gemm_ffn.precision': needs impl=onednn or impl=libtorch (impl=") +
                  impl + " has no bf16)");
  for (const char* impl : {"blis", "libtorch"}) {
    if (std::string(impl) == "libtorch" && !libtorch_available()) continue;  // refused as an impl first (below)
    EXPECT_EQ(error_of("gemm_ffn", {{"impl", impl}, {"precision", "int8"}}),
              std::string("invalid value 'int8' for 'gemm_ffn.precision': needs impl=onednn (impl=") + impl +
                  " has no int8)");
  }
  EXPECT_EQ(error_of("gemm_ffn", {{"impl", "libtorch"}}),
            libtorch_available() ? "no error"
                                 : "invalid value 'libtorch' for 'gemm_ffn.impl': this build has no libtorch (configure "
                                   "with -DFFNBENCH_LIBTORCH=ON, Debian package libtorch-dev); allowed here: openblas, "
                                   "blis, onednn, naive");
  EXPECT_EQ(error_of("gemm_ffn", {{"activation", "swish"}}),
            "invalid value 'swish' for 'gemm_ffn.activation': must be one of: gelu_erf, gelu_tanh, relu");
  for (const char* bad : {"yes", "1", "True", ""})
    EXPECT_EQ(error_of("gemm_ffn", {{"layernorm", bad}}),
              std::string("invalid value '") + bad + "' for 'gemm_ffn.layernorm': must be one of: true, false");
  EXPECT_EQ(error_of("gemm_ffn", {{"layernorm", "true"}}), "no error");
}

TEST(GemmFfn, BadLayerNormValueInAnExperimentExitsWithStatusTwo) {
  const auto dir = ffnbench::testing::test_temp_dir("layernorm");
  const auto ini = dir / "bad.ini";
  std::ofstream(ini) << "name = bad\ntokens = 4\nthreads = 1\ncounters = none\n\n[gemm_ffn]\nd = 16\nd_ff = 16\nlayernorm = yes\n";
  const ffnbench::testing::CliResult r = ffnbench::testing::run_cli("sweep " + ini.string() + " --dry-run");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("invalid value 'yes' for 'gemm_ffn.layernorm': must be one of: true, false"), std::string::npos)
      << r.output;
  std::filesystem::remove_all(dir);
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
  GateResult g = test_support::check_all_rows(*k, 7);
  EXPECT_TRUE(g.passed) << g.detail;
  // Known answer: with X = e_0, Y = row 0 of W1 times W2.
  DenseFfnWeights w = DenseFfnWeights::random(3, 2, 1, false);
  std::vector<float> x = {1, 0, 0}, y(3);
  dense_ffn_reference(w, Activation::None, x.data(), y.data(), 1);
  for (int k2 = 0; k2 < 3; ++k2)
    EXPECT_NEAR(y[k2], w.w1[0] * w.w2[0 * 3 + k2] + w.w1[1] * w.w2[1 * 3 + k2], 1e-6);
}

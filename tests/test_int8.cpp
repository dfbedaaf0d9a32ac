// int8 through oneDNN: the quantizer's known answers, gemm_ffn int8 against its reference (the
// fp32 math on the dequantized weights, rebuilt here independently) within the stated bound,
// its error against fp32, the validation messages, and the oneDNN ISA checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/aligned.hpp"
#include "common/quantize.hpp"
#include "common/random.hpp"
#include "core/params.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "machine/onednn_isa.hpp"
#include "results/csv.hpp"
#include "results/schema.hpp"
#include "support_kernels.hpp"
#include "support_run_folders.hpp"

using namespace ffnbench;

namespace {

constexpr uint64_t kSeed = 11;

AlignedVector<float> random_input(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  AlignedVector<float> X(n);
  fill_uniform(X.data(), X.size(), seed, 9, lo, hi);
  return X;
}

TEST(Quantize, KnownAnswersAndTheRoundingBound) {
  const float x[] = {0.5f, -1.27f, 0.004f, 1.27f, -0.006f};
  int8_t q[5];
  const float step = quantize_s8(x, 5, q);
  EXPECT_FLOAT_EQ(step, 0.01f);
  EXPECT_EQ(std::vector<int>(q, q + 5), std::vector<int>({50, -127, 0, 127, -1}));
  const float zeros[3] = {0, 0, 0};
  EXPECT_EQ(quantize_s8(zeros, 3, q), 1.0f) << "an all-zero tensor gets step 1, not a division by zero";
  // The vector path (odd length: a tail) equals the scalar rule, and every error is <= step / 2.
  const auto X = random_input(100003, 4, -3.0f, 2.0f);
  AlignedVector<int8_t> Q(X.size());
  const float s = quantize_s8(X.data(), static_cast<int64_t>(X.size()), Q.data());
  EXPECT_FLOAT_EQ(s, quantization_step_reference(X.data(), static_cast<int64_t>(X.size())));
  for (size_t i = 0; i < X.size(); ++i) {
    ASSERT_EQ(Q[i], quantize_value(X[i], 1.0f / s)) << i;
    ASSERT_LE(std::abs(Q[i] * s - X[i]), 0.5f * s * (1 + 1e-5f)) << i;
  }
}

TEST(Quantize, ColumnsGetTheirOwnStep) {
  const float w[] = {1.0f, -0.02f, -2.54f, 0.01f};  // [2][2]: columns (1, −2.54) and (−0.02, 0.01)
  int8_t q[4];
  float steps[2];
  quantize_columns_s8(w, 2, 2, q, steps);
  EXPECT_FLOAT_EQ(steps[0], 0.02f);
  EXPECT_FLOAT_EQ(steps[1], 0.02f / 127.0f);
  EXPECT_EQ(std::vector<int>(q, q + 4), std::vector<int>({50, -127, -127, 64}));
}

// The reference of the int8 kernel, rebuilt from DenseFfnWeights::random: each column quantized
// in double, the FFN in double on the dequantized weights (no LayerNorm, GELU erf).
std::vector<double> dequantized_ffn(int64_t d, int64_t f, const float* X, int64_t tokens) {
  DenseFfnWeights w = DenseFfnWeights::random(d, f, kSeed);
  auto dequantize = [](AlignedVector<float>& m, int64_t rows, int64_t cols) {
    for (int64_t j = 0; j < cols; ++j) {
      double mx = 0;
      for (int64_t i = 0; i < rows; ++i) mx = std::max(mx, std::abs(double(m[i * cols + j])));
      const float step = static_cast<float>(mx / 127.0);
      for (int64_t i = 0; i < rows; ++i) m[i * cols + j] = std::nearbyint(m[i * cols + j] / step) * step;
    }
  };
  dequantize(w.w1, d, f);
  dequantize(w.w2, f, d);
  std::vector<double> Y(tokens * d), h(f);
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t j = 0; j < f; ++j) {
      double s = w.b1[j];
      for (int64_t i = 0; i < d; ++i) s += double(X[t * d + i]) * w.w1[i * f + j];
      h[j] = 0.5 * s * (1.0 + std::erf(s / std::sqrt(2.0)));
    }
    for (int64_t k = 0; k < d; ++k) {
      double s = w.b2[k];
      for (int64_t j = 0; j < f; ++j) s += h[j] * w.w2[j * d + k];
      Y[t * d + k] = s;
    }
  }
  return Y;
}


TEST(GemmFfnInt8, MatchesTheDequantizedReferenceWithinItsBound) {
  const int64_t d = 64, f = 96, n = 300;
  const std::map<std::string, std::string> cfg = {{"impl", "onednn"}, {"precision", "int8"}, {"d", "64"}, {"d_ff", "96"}};
  auto k = test_support::build_kernel("gemm_ffn", cfg, n, kSeed);
  const auto X = random_input(n * d, 5);
  AlignedVector<float> Y(n * d), R(n * d);
  k->forward(X.data(), Y.data(), n, nullptr);
  const std::vector<double> exact = dequantized_ffn(d, f, X.data(), n);
  k->reference(X.data(), R.data(), n);
  EXPECT_LT(test_support::compare_with(R.data(), exact).max_error, 1e-5) << "the reference is the fp32 math on the dequantized weights";

  const test_support::ErrorCheck c = test_support::compare_with(Y.data(), exact);
  const double tolerance = std::max(k->tolerance(), k->error_bound() / c.rms);
  EXPECT_GT(k->error_bound(), 0.0);
  EXPECT_LT(c.max_error, tolerance);
  EXPECT_GT(c.max_error, 1e-3) << "activations that lose nothing to rounding were not quantized";
  // The bound is a 6σ bound, not a blanket: the largest error is more than a tenth of it, and the
  // tolerance stays below 0.2 of the output's scale.
  EXPECT_GT(c.max_error, 0.1 * tolerance);
  EXPECT_LT(tolerance, 0.2);

  // The steps are those of this call's X (uniform in ±1: max|x| / 127) and hidden layer.
  const auto e = k->extras();
  EXPECT_NEAR(std::stod(e.at("int8_x_step")), quantization_step_reference(X.data(), n * d), 1e-6);
  EXPECT_NE(e.at("onednn_impl").find("|"), std::string::npos);

  // The error against fp32 on the unquantized weights, as points.csv reports it.
  const auto stats = k->output_statistics(X.data(), Y.data(), n);
  const double rel = std::stod(stats.at("rel_rms_error_vs_fp32"));
  EXPECT_GT(rel, 1e-3);
  EXPECT_LT(rel, 0.05);
}

TEST(GemmFfnInt8, WithLayerNormAndTheOtherActivations) {
  for (const char* act : {"gelu_tanh", "relu"})
    for (const char* ln : {"false", "true"}) {
      auto k = test_support::build_kernel(
          "gemm_ffn", {{"impl", "onednn"}, {"precision", "int8"}, {"d", "48"}, {"d_ff", "80"}, {"activation", act}, {"layernorm", ln}},
          77, kSeed);
      const auto X = random_input(77 * 48, 6, -2.0f, 3.0f);
      AlignedVector<float> Y(77 * 48), R(77 * 48);
      k->forward(X.data(), Y.data(), 77, nullptr);
      k->reference(X.data(), R.data(), 77);
      const std::vector<double> ref(R.begin(), R.end());
      const test_support::ErrorCheck c = test_support::compare_with(Y.data(), ref);
      EXPECT_LT(c.max_error, std::max(k->tolerance(), k->error_bound() / c.rms)) << act << " layernorm=" << ln;
      EXPECT_GT(c.max_error, 1e-4) << act << " layernorm=" << ln;
    }
}

TEST(GemmFfnInt8, DeclaresOneDnnAndTheIsaValgrindLacks) {
  auto k = test_support::build_kernel("gemm_ffn", {{"impl", "onednn"}, {"precision", "int8"}, {"d", "32"}, {"d_ff", "32"}}, 8, kSeed);
  EXPECT_TRUE(k->uses_onednn());
  EXPECT_EQ(k->needs_isa(), "AVX-512 VNNI or AMX-INT8 (oneDNN's int8 matmul; valgrind 3.19 decodes no AVX-512)");
  auto blas = test_support::build_kernel("gemm_ffn", {{"impl", "openblas"}, {"d", "32"}, {"d_ff", "32"}}, 8, kSeed);
  EXPECT_FALSE(blas->uses_onednn());
  EXPECT_EQ(blas->needs_isa(), "");
  auto fp32 = test_support::build_kernel("gemm_ffn", {{"impl", "onednn"}, {"d", "32"}, {"d_ff", "32"}}, 8, kSeed);
  EXPECT_EQ(fp32->needs_isa(), "") << "oneDNN's fp32 matmul runs on AVX, as the valgrind child caps it";
  EXPECT_EQ(fp32->error_bound(), 0.0);
}

TEST(GemmFfnInt8, ValidationMessages) {
  EXPECT_EQ(test_support::validation_error("gemm_ffn", {{"impl", "openblas"}, {"precision", "int8"}}),
            "invalid value 'int8' for 'gemm_ffn.precision': needs impl=onednn (impl=openblas has no int8)");
  EXPECT_EQ(test_support::validation_error("gemm_ffn", {{"impl", "naive"}, {"precision", "int8"}}),
            "invalid value 'int8' for 'gemm_ffn.precision': needs impl=onednn (impl=naive has no int8)");
  EXPECT_EQ(test_support::validation_error("gemm_ffn", {{"precision", "fp8"}}),
            "invalid value 'fp8' for 'gemm_ffn.precision': must be one of: fp32, bf16, int8");
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_.empty()) unsetenv(name_);
    else setenv(name_, old_.c_str(), 1);
  }
  const char* name_;
  std::string old_;
};

std::string max_isa_error() {
  try {
    check_onednn_max_isa_env();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(OnednnIsa, EffectiveIsaIsOneOfTheNamesAndTheCpuHasIt) {
  const std::string isa = onednn_effective_isa();
  const auto here = onednn_isas_of_this_cpu();
  EXPECT_NE(std::find(here.begin(), here.end(), isa), here.end()) << isa;
}

TEST(OnednnIsa, MaxIsaMustBeOneThisCpuHas) {
  const auto here = onednn_isas_of_this_cpu();
  ASSERT_FALSE(here.empty());
  {
    ScopedEnv e("ONEDNN_MAX_CPU_ISA", "AVX");
    EXPECT_EQ(max_isa_error(), "no error");
  }
  {
    ScopedEnv e("ONEDNN_MAX_CPU_ISA", "all");
    EXPECT_EQ(max_isa_error(), "no error");
  }
  {
    ScopedEnv e("ONEDNN_MAX_CPU_ISA", "pentium4");
    const std::string m = max_isa_error();
    EXPECT_EQ(m.rfind("invalid value 'pentium4' for 'ONEDNN_MAX_CPU_ISA': not a oneDNN ISA; one of ALL, sse41", 0), 0u) << m;
  }
  std::string missing;
  for (const auto& name : onednn_isa_names())
    if (std::find(here.begin(), here.end(), name) == here.end()) missing = name;
  if (missing.empty()) GTEST_SKIP() << "this CPU has every ISA oneDNN 2.x knows";
  ScopedEnv e("DNNL_MAX_CPU_ISA", missing.c_str());
  EXPECT_EQ(max_isa_error(), "invalid value '" + missing + "' for 'DNNL_MAX_CPU_ISA': this CPU has no " + missing +
                                 " (oneDNN would run a lower ISA); one of ALL, " + [&] {
                                   std::string s;
                                   for (const auto& h : here) s += (s.empty() ? "" : ", ") + h;
                                   return s;
                                 }() + " (the ISAs of this CPU, in either case)");
}

// A sweep names oneDNN's effective ISA on the points that run oneDNN and leaves it empty on the
// others; schema.json says the schema that has the column.
TEST(OnednnIsa, SweepWritesTheColumnForOneDnnPointsOnly) {
  const std::filesystem::path dir = ffnbench::testing::test_temp_dir("onednn_isa_column");
  std::ofstream(dir / "x.ini") << "name = x\ntokens = 32\nthreads = 1\nrepetitions = 1\nwarmup_s = 0\ninput_pool_mib = 1\n"
                                  "min_time_s = 0.001\ncounters = none\noutput = "
                               << (dir / "out").string()
                               << "\n\n[gemm_ffn]\nimpl = openblas,onednn\nd = 32\nd_ff = 64\n\n[gemm_ffn:q]\nimpl = onednn\n"
                                  "precision = int8\nd = 32\nd_ff = 64\n";
  const ffnbench::testing::CliResult r = ffnbench::testing::run_cli("sweep " + (dir / "x.ini").string());
  ASSERT_EQ(r.status, 0) << r.output;
  std::filesystem::path folder;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "out"))
    if (e.path().filename() == "points.csv") folder = e.path().parent_path();
  const auto points = read_csv_file((folder / "points.csv").string());
  ASSERT_EQ(points.size(), 4u);
  for (size_t i = 1; i < points.size(); ++i) {
    const std::string impl = ffnbench::testing::column(points, i, "impl");
    EXPECT_EQ(ffnbench::testing::column(points, i, "onednn_isa"), impl == "onednn" ? onednn_effective_isa() : "") << impl;
    EXPECT_EQ(ffnbench::testing::column(points, i, "status"), "ok");
  }
  EXPECT_NE(ffnbench::testing::slurp(folder / "schema.json").find("\"results_schema\": " + std::to_string(kResultsSchema)),
            std::string::npos);
  EXPECT_GE(kResultsSchema, 3);
  std::filesystem::remove_all(dir);
}

// Bad input gets exit status 2 and the allowed values, before any run folder exists.
TEST(GemmFfnInt8, BadInputExitsWithStatus2) {
  const std::filesystem::path dir = ffnbench::testing::test_temp_dir("int8_bad_input");
  std::ofstream(dir / "x.ini") << "name = x\ntokens = 32\nthreads = 1\ncounters = none\noutput = " << (dir / "out").string()
                               << "\n\n[gemm_ffn]\nimpl = openblas\nprecision = int8\nd = 32\nd_ff = 64\n";
  ffnbench::testing::CliResult r = ffnbench::testing::run_cli("sweep " + (dir / "x.ini").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("needs impl=onednn (impl=openblas has no int8)"), std::string::npos) << r.output;
  r = ffnbench::testing::run_cli("sweep " + (dir / "x.ini").string() + " --gemm_ffn.impl onednn", "env ONEDNN_MAX_CPU_ISA=avx9000");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("invalid value 'avx9000' for 'ONEDNN_MAX_CPU_ISA': not a oneDNN ISA; one of ALL, sse41"),
            std::string::npos)
      << r.output;
  // An ISA that oneDNN knows but this CPU lacks (on every CPU but an AMX one: avx512_core_amx).
  const auto here = onednn_isas_of_this_cpu();
  std::string missing;
  for (const auto& name : onednn_isa_names())
    if (std::find(here.begin(), here.end(), name) == here.end()) missing = name;
  if (!missing.empty()) {
    r = ffnbench::testing::run_cli("sweep " + (dir / "x.ini").string() + " --gemm_ffn.impl onednn",
                                   "env DNNL_MAX_CPU_ISA=" + missing);
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("invalid value '" + missing + "' for 'DNNL_MAX_CPU_ISA': this CPU has no " + missing),
              std::string::npos)
        << r.output;
  } else {
    std::printf("skipped the lacking-ISA case: this CPU has every ISA oneDNN 2.x knows\n");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

// gemm_floor through oneDNN: the bare (X·W1)·W2 at every precision against its reference (the
// dequantized weights for int8), within the same tolerances as gemm_ffn's; no bias, no activation.
TEST(GemmFloorOnednn, EveryPrecisionMatchesItsReference) {
  const int64_t d = 40, f = 72, n = 65;
  for (const char* precision : {"fp32", "bf16", "int8"}) {
    auto k = test_support::build_kernel("gemm_floor", {{"impl", "onednn"}, {"precision", precision}, {"d", "40"}, {"d_ff", "72"}},
                                        n, kSeed);
    const auto X = random_input(n * d, 8);
    AlignedVector<float> Y(n * d), R(n * d);
    k->forward(X.data(), Y.data(), n, nullptr);
    k->reference(X.data(), R.data(), n);
    const test_support::ErrorCheck c = test_support::compare_with(Y.data(), std::vector<double>(R.begin(), R.end()));
    EXPECT_LT(c.max_error, std::max(k->tolerance(), k->error_bound() / c.rms)) << precision;
    EXPECT_TRUE(k->uses_onednn());
    if (std::string(precision) == "fp32") EXPECT_LT(c.max_error, 1e-5);
    else EXPECT_GT(c.max_error, 1e-4) << precision << " ran in fp32";
    // The plain product of the seeded weights, by hand (fp32 only: the others round them).
    if (std::string(precision) != "fp32") continue;
    const DenseFfnWeights w = DenseFfnWeights::random(d, f, kSeed, /*with_bias=*/false);
    double y0 = 0;
    for (int64_t j = 0; j < f; ++j) {
      double h = 0;
      for (int64_t i = 0; i < d; ++i) h += double(X[i]) * w.w1[i * f + j];
      y0 += h * w.w2[j * d];
    }
    EXPECT_NEAR(Y[0], y0, 1e-5 * (std::abs(y0) + 1));
  }
  EXPECT_EQ(test_support::validation_error("gemm_floor", {{"precision", "int8"}}),
            "invalid value 'int8' for 'gemm_floor.precision': needs impl=onednn (impl=openblas has no int8)");
}

}  // namespace

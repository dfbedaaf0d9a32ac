// lookup_ffn: codes and scores by hand, every order/precision/projection vs the reference,
// bf16 vs fp32, the paper's FLOP arithmetic, validation messages.
#include <gtest/gtest.h>
#include <omp.h>

#include <chrono>
#include <cmath>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "lookup_ffn/code_score.hpp"
#include "support_kernels.hpp"

using namespace ffnbench;

namespace {

std::unique_ptr<Kernel> build(std::map<std::string, std::string> given, int64_t tokens) {
  return test_support::build_kernel("lookup_ffn", given, tokens);
}
std::string error_of(std::map<std::string, std::string> given) { return test_support::validation_error("lookup_ffn", given); }

AlignedVector<float> inputs(int64_t tokens, int64_t d) {
  AlignedVector<float> X(tokens * d);
  fill_uniform(X.data(), X.size(), 8, 1, -1.0f, 1.0f);
  return X;
}

}  // namespace

TEST(CodeScore, HandWorkedExample) {
  // Table 0: z = (0.5, -1, 2) -> bits 1,0,1 = 5; Σ|z| = 3.5; Π(1+e^{-2|z|}).
  // Table 1: z = (-0.1, 0, 0.3) -> 0 > 0 is false: bits 0,0,1 = 1.
  const float z[6] = {0.5f, -1.0f, 2.0f, -0.1f, 0.0f, 0.3f};
  uint32_t codes[2];
  float scores[2];
  const double s0 = 3.5 / ((1 + std::exp(-1.0)) * (1 + std::exp(-2.0)) * (1 + std::exp(-4.0)));
  const double s1 = 0.4 / ((1 + std::exp(-0.2)) * 2.0 * (1 + std::exp(-0.6)));
  for (auto fn : {code_score_reference, code_score_token}) {
    fn(z, 2, 3, codes, scores);
    EXPECT_EQ(codes[0], 5u);
    EXPECT_EQ(codes[1], 1u);
    EXPECT_NEAR(scores[0], s0, 1e-6);
    EXPECT_NEAR(scores[1], s1, 1e-6);
  }
}

TEST(CodeScore, FirstValueIsTheMostSignificantBitAtSixteenBits) {
  std::vector<float> z(16, -1.0f);
  z[0] = 1.0f;
  uint32_t code = 0;
  float score = 0;
  code_score_token(z.data(), 1, 16, &code, &score);
  EXPECT_EQ(code, 1u << 15);
}

TEST(CodeScore, VectorizedMatchesTheReferenceForEveryTauAndTableCount) {
  // τ of a power of two takes the AVX-512 reduction tree (16 tables at a time, scalar tail);
  // other τ the scalar path. Values include exact zeros (bit 0) and magnitudes where exp
  // underflows.
  for (int64_t tau : {1, 2, 3, 4, 5, 8, 16})
    for (int64_t h : {1, 15, 16, 37, 130}) {
      std::vector<float> z(h * tau);
      fill_uniform(z.data(), z.size(), 5, static_cast<uint64_t>(tau * 1000 + h), -3.0f, 3.0f);
      for (size_t i = 0; i < z.size(); i += 7) z[i] = 0.0f;
      for (size_t i = 3; i < z.size(); i += 11) z[i] = i % 2 ? 60.0f : -60.0f;
      std::vector<uint32_t> codes(h), want_codes(h);
      std::vector<float> scores(h), want_scores(h);
      code_score_reference(z.data(), h, tau, want_codes.data(), want_scores.data());
      code_score_token(z.data(), h, tau, codes.data(), scores.data());
      for (int64_t k = 0; k < h; ++k) {
        EXPECT_EQ(codes[k], want_codes[k]) << "tau=" << tau << " h=" << h << " table " << k;
        EXPECT_NEAR(scores[k], want_scores[k], 2e-6 * std::abs(want_scores[k])) << "tau=" << tau << " h=" << h << " table " << k;
      }
    }
}

TEST(LookupFfn, EveryOrderPrecisionAndProjectionMatchesTheReference) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* d : {"37", "100"})
      for (const char* tau : {"1", "3", "8", "12"})
        for (const char* h : {"7", "13"})
          for (const char* order : {"token_major", "table_major", "tiled"})
            for (const char* precision : {"fp32", "bf16", "int8"})
              for (const char* projection : {"bh4", "dense"}) {
                if (std::string(tau) == "12" && std::string(h) == "13" && std::string(d) == "100") continue;  // 26 MB tables: keep the suite fast
                auto k = build({{"d", d}, {"tau", tau}, {"h", h}, {"b", "4"}, {"order", order}, {"tile", "9"},
                                {"table_precision", precision}, {"projection", projection}, {"d_out", "70"}},
                               40);
                GateResult g = test_support::check_all_rows(*k, 40, 8);
                EXPECT_EQ(g.mismatched_rows, 0) << d << " tau=" << tau << " h=" << h << " " << order << " "
                                                << precision << " " << projection << ": " << g.detail;
              }
  }
}

TEST(LookupFfn, Bf16TablesStayWithinTheirToleranceOfFp32) {
  auto fp32 = build({{"d", "64"}, {"h", "32"}, {"tau", "6"}, {"b", "16"}}, 50);
  auto bf16 = build({{"d", "64"}, {"h", "32"}, {"tau", "6"}, {"b", "16"}, {"table_precision", "bf16"}}, 50);
  auto X = inputs(50, 64);
  AlignedVector<float> a(50 * 64), b(50 * 64);
  fp32->forward(X.data(), a.data(), 50, nullptr);
  bf16->forward(X.data(), b.data(), 50, nullptr);
  double ss = 0, worst = 0;
  for (float v : a) ss += double(v) * v;
  const double rms = std::sqrt(ss / a.size());
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (std::abs(a[i]) + rms));
  EXPECT_LT(worst, bf16->tolerance());
  EXPECT_GT(worst, 1e-6) << "bf16 tables that match fp32 exactly were not bf16";
}

// A bf16 projection (BH4's block products or the dense projection in bf16) or an int8 dense
// projection (VNNI, u quantized per token): the gate holds at the fp32 bound on every row
// whose LayerNorm output is not a float rounding away from a bf16 rounding midpoint (the rows
// forgiven are counted; none at these sizes is expected to need it often), with every order and
// table precision, at 1 and 2 threads. Against the fp32 projection some codes flip, and extras say
// how many and what that does to the output.
TEST(LookupFfn, LowPrecisionProjectionsMatchTheirReferenceAndReportTheirErrorAgainstFp32) {
  if (!__builtin_cpu_supports("avx512bf16") || !__builtin_cpu_supports("avx512vnni"))
    GTEST_SKIP() << "this CPU lacks AVX512-BF16 or AVX-512 VNNI";
  const std::vector<std::pair<std::string, std::string>> projections = {{"bh4", "bf16"}, {"dense", "bf16"}, {"dense", "int8"}};
  int64_t checked = 0, forgiven = 0;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* d : {"37", "200"})
      for (const char* order : {"token_major", "tiled"})
        for (const char* precision : {"fp32", "bf16"})
          for (const auto& [projection, low] : projections) {
            auto k = build({{"d", d}, {"tau", "8"}, {"h", "40"}, {"b", "16"}, {"order", order}, {"tile", "9"},
                            {"table_precision", precision}, {"projection_precision", low}, {"projection", projection},
                            {"d_out", "70"}},
                           130);
            if (projection == "bh4") EXPECT_EQ(k->extras().at("block_gemm"), "microkernel_bf16");
            GateResult g = test_support::check_all_rows(*k, 130, 8);
            EXPECT_TRUE(g.passed) << d << " " << order << " " << precision << " " << projection << " " << low << ": "
                                  << g.detail;
            checked += g.rows_checked;
            forgiven += g.forgiven_rows;
          }
  }
  EXPECT_LT(forgiven * 5, checked) << "the u-rounding margin forgives most rows: it is too wide";
  auto X = inputs(64, 200);
  AlignedVector<float> Y(64 * 200);
  for (const auto& [projection, low] : projections) {
    auto k = build({{"d", "200"}, {"h", "40"}, {"b", "16"}, {"projection", projection}, {"projection_precision", low}}, 64);
    k->forward(X.data(), Y.data(), 64, nullptr);
    const auto stats = k->output_statistics(X.data(), Y.data(), 64);
    const double flips = std::stod(stats.at("code_flips_vs_fp32")), error = std::stod(stats.at("rel_rms_error_vs_fp32"));
    EXPECT_GT(flips, 0.0) << projection << ": bf16 rounding flips some codes";
    EXPECT_LT(flips, 0.1) << projection;
    EXPECT_GT(error, 0.0) << projection;
    EXPECT_LT(error, 0.5) << projection;
    EXPECT_NE(k->needs_isa().find(low == "int8" ? "AVX-512 VNNI" : "AVX512-BF16"), std::string::npos);
  }
  // fp32 everywhere: nothing to report.
  auto plain = build({{"d", "200"}, {"h", "40"}, {"b", "16"}}, 64);
  plain->forward(X.data(), Y.data(), 64, nullptr);
  EXPECT_TRUE(plain->output_statistics(X.data(), Y.data(), 64).empty());
}

// int8 tables: every entry within half its row's step of fp32, so the output stays within the
// stated tolerance (and is not fp32 in disguise); the gather reads a quarter of fp32's bytes plus
// one step per row, in the cost model and in the extras.
TEST(LookupFfn, Int8TablesStayWithinTheirToleranceOfFp32AndReadAQuarterOfTheBytes) {
  const std::map<std::string, std::string> shape = {{"d", "64"}, {"h", "32"}, {"tau", "6"}, {"b", "16"}};
  for (const char* order : {"token_major", "table_major", "tiled"}) {
    auto fp32_config = shape, int8_config = shape;
    fp32_config["order"] = int8_config["order"] = order;
    int8_config["table_precision"] = "int8";
    auto fp32 = build(fp32_config, 50);
    auto int8 = build(int8_config, 50);
    auto X = inputs(50, 64);
    AlignedVector<float> a(50 * 64), b(50 * 64);
    fp32->forward(X.data(), a.data(), 50, nullptr);
    int8->forward(X.data(), b.data(), 50, nullptr);
    double ss = 0, worst = 0;
    for (float v : a) ss += double(v) * v;
    const double rms = std::sqrt(ss / a.size());
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]) / (std::abs(a[i]) + rms));
    EXPECT_LT(worst, int8->tolerance()) << order;
    EXPECT_GT(worst, 1e-4) << order << ": int8 tables that match fp32 to 1e-4 were not int8";
    EXPECT_DOUBLE_EQ(std::stod(int8->extras().at("tables_bytes")), 32.0 * 64 * (64 + 4)) << order;
    EXPECT_DOUBLE_EQ(std::stod(int8->extras().at("gather_bytes")), 50.0 * 32 * (64 + 4)) << order;
    // 50 rows of 64 columns per table: 68 bytes each in int8 (a step included) against 256.
    const double ratio = int8->cost(50).weight_bytes / fp32->cost(50).weight_bytes;
    EXPECT_LT(ratio, 0.45) << order;
    EXPECT_GT(ratio, 0.25) << order;
  }
}

TEST(LookupFfn, StagesAreReportedAndSumToTheCall) {
  auto k = build({{"d", "64"}, {"h", "16"}, {"tau", "4"}, {"b", "16"}}, 64);
  EXPECT_EQ(k->stage_names(), (std::vector<std::string>{"projection", "code_score", "gather"}));
  auto X = inputs(64, 64);
  AlignedVector<float> Y(64 * 64);
  StageTimer timer(3);
  const auto start = std::chrono::steady_clock::now();
  k->forward(X.data(), Y.data(), 64, &timer);
  const double call = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double sum = 0;
  for (double s : timer.seconds()) {
    EXPECT_GT(s, 0.0);
    sum += s;
  }
  // projection and code_score run fused and split that loop's wall time: never more than the call.
  EXPECT_LE(sum, call);
  EXPECT_EQ(k->cost(64).stage_flops.size(), 3u);
}

TEST(LookupFfn, CostModelReproducesThePapersFlopReduction) {
  auto k = build({{"d", "512"}, {"h", "128"}, {"tau", "8"}, {"b", "64"}}, 1);
  const Cost c = k->cost(1);
  const double dense = 4.0 * 512 * 2048;
  // The paper: ~6x (BACKGROUND.md: 6.06x without LayerNorm, mix and code terms). The code that
  // runs folds 3 of BH4's 9 Hadamard levels into the block weights and spends 20 FLOPs per exp.
  EXPECT_NEAR(dense / c.flops, 5.98, 0.01);
  EXPECT_DOUBLE_EQ(c.stage_flops[2], 2.0 * 128 * 512);  // gather 131,072
  if (k->extras().at("hadamard_fold") == "yes")         // BH4 + cross-block Hadamard levels + LN + mix
    EXPECT_DOUBLE_EQ(c.stage_flops[0], 524288 + 2 * 4 * 512 * 3 + (8.0 * 512 + 5) + 4.0 * 1024);
  auto ref = build({{"d", "512"}, {"h", "128"}, {"tau", "8"}, {"b", "64"}, {"impl", "reference"}}, 1);
  EXPECT_DOUBLE_EQ(ref->cost(1).stage_flops[0], 524288 + 36864 + (8.0 * 512 + 5) + 4.0 * 1024);  // all 9 levels
  // Activations: x and y (2 KiB each) and codes + scores written and read back; z stays in L2.
  EXPECT_DOUBLE_EQ(c.activation_bytes, 4.0 * (512 + 512) + 16.0 * 128);
}

TEST(LookupFfn, ValidationMessages) {
  EXPECT_EQ(error_of({{"tau", "17"}}), "invalid value '17' for 'lookup_ffn.tau': must be an integer in [1, 16]");
  EXPECT_EQ(error_of({{"tau", "0"}}), "invalid value '0' for 'lookup_ffn.tau': must be an integer in [1, 16]");
  EXPECT_EQ(error_of({{"d", "100"}, {"b", "256"}}),
            "invalid value '256' for 'lookup_ffn.b': must divide d' = 128 (the padded width of d = 100)");
  EXPECT_EQ(error_of({{"order", "random"}}),
            "invalid value 'random' for 'lookup_ffn.order': must be one of: table_major, token_major, tiled");
  EXPECT_EQ(error_of({{"projection", "lsh"}}), "invalid value 'lsh' for 'lookup_ffn.projection': must be one of: bh4, dense");
  EXPECT_EQ(error_of({{"projection_precision", "int8"}}),
            "invalid value 'int8' for 'lookup_ffn.projection_precision': needs projection = dense (BH4 runs in fp32 or "
            "bf16)");
  if (__builtin_cpu_supports("avx512vnni"))
    EXPECT_EQ(error_of({{"projection", "dense"}, {"projection_precision", "int8"}, {"h", "3"}, {"tau", "5"}}),
              "invalid value 'int8' for 'lookup_ffn.projection_precision': needs h·tau a multiple of 16 and d' a "
              "multiple of 4 (h·tau = 15, d' = 512)");
  if (__builtin_cpu_supports("avx512bf16"))
    EXPECT_EQ(error_of({{"projection", "dense"}, {"projection_precision", "bf16"}, {"h", "3"}, {"tau", "5"}}),
              "invalid value 'bf16' for 'lookup_ffn.projection_precision': with projection = dense needs h·tau a "
              "multiple of 16 and d' even (h·tau = 15, d' = 512)");
  EXPECT_EQ(error_of({{"b", "8"}, {"projection_precision", "bf16"}}),
            std::string("invalid value 'bf16' for 'lookup_ffn.projection_precision': needs AVX512-BF16 and b a multiple of "
                        "16 (this CPU ") +
                (__builtin_cpu_supports("avx512bf16") ? "has" : "has no") + " AVX512-BF16; b = 8); use fp32");
  std::string huge = error_of({{"h", "65536"}, {"tau", "16"}, {"d", "4096"}, {"order", "token_major"}});
  EXPECT_EQ(huge.rfind("invalid value '65536' for 'lookup_ffn.h': tables of h·2^tau·d_out = 65536·65536·4096 entries would need 64.0 TiB", 0), 0u) << huge;
  EXPECT_NE(huge.find("of memory available here"), std::string::npos) << huge;
}

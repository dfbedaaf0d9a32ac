// fff: every impl vs the reference on odd widths and depths 0, 1 and deep, both forms, several
// trees; hand-made trees with a logit exactly 0 (each form's tie rule, outputs computed on
// paper); decision margins and what the gate forgives; each impl's cost against a hand count;
// repeated and interleaved calls; validation.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <omp.h>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "fff/fff_kernel.hpp"
#include "fff/fff_path.hpp"
#include "support_kernels.hpp"
#include "sweep/gate.hpp"

#include <cmath>
#include <cstring>

using namespace ffnbench;

namespace {

const char* const kImpls[] = {"per_token", "level_batched", "masked_matrix", "fastff"};

std::unique_ptr<Kernel> build(std::map<std::string, std::string> given, int64_t tokens) {
  return test_support::build_kernel("fff", given, tokens, 4);
}

Config resolved(const std::map<std::string, std::string>& given) {
  return resolve_variant_config(Registry::instance().get("fff"), given, "fff.");
}

// Three rows against a root whose input row is (0.5, 0.25, 2, 1) and bias -1: the products are
// exact and every partial sum is representable, so in any summation order the root logit is
//   A: 0.5 + 0.5 + 1 - 1 - 1 = 0 exactly;  B: +0.5;  C: -0.5.
const float kRows[3][4] = {{1, 2, 0.5f, -1}, {1, 2, 0.5f, -0.5f}, {1, 2, 0.5f, -1.5f}};

AlignedVector<float> rows(std::initializer_list<int> which) {
  AlignedVector<float> X;
  for (int r : which) X.insert(X.end(), kRows[r], kRows[r] + 4);
  return X;
}

// UltraFastBERT form, depth 1, no activation: root output row (5,5,5,5); the left child has
// input row e0 (z = x0 = 1) and output row e0, the right child input row e1 (z = x1 = 2) and
// output row e3.
FffWeights ufb_weights() {
  FffWeights w;
  w.w_in = {0.5f, 0.25f, 2, 1, /*left*/ 1, 0, 0, 0, /*right*/ 0, 1, 0, 0};
  w.b_in = {-1, 0, 0};
  w.w_out = {5, 5, 5, 5, /*left*/ 1, 0, 0, 0, /*right*/ 0, 0, 0, 1};
  return w;
}

// FFF form, depth 1, leaves of width 1, d_out = 2: the root routes (bias `root_bias`); leaf 0
// (left) is h = relu(x0), y = (h, 0); leaf 1 (right) is h = relu(x1), y = (0, h + 0.5).
FffWeights leaf_weights(float root_bias = -1) {
  FffWeights w;
  w.w_in = {0.5f, 0.25f, 2, 1};
  w.b_in = {root_bias};
  w.leaf_w1 = {1, 0, 0, 0, /*leaf 1*/ 0, 1, 0, 0};
  w.leaf_b1 = {0, 0};
  w.leaf_w2 = {1, 0, /*leaf 1*/ 0, 1};
  w.leaf_b2 = {0, 0, /*leaf 1*/ 0, 0.5f};
  return w;
}

std::map<std::string, std::string> ufb_config(const char* impl) {
  return {{"impl", impl}, {"d", "4"}, {"depth", "1"}, {"activation", "none"}};
}
std::map<std::string, std::string> leaf_config(const char* impl) {
  return {{"impl", impl}, {"d", "4"}, {"d_out", "2"}, {"depth", "1"}, {"leaf_width", "1"}};
}

void expect_rows(const AlignedVector<float>& Y, const std::vector<std::vector<float>>& want, const std::string& what) {
  const size_t w = want[0].size();
  ASSERT_EQ(Y.size(), want.size() * w) << what;
  for (size_t r = 0; r < want.size(); ++r)
    for (size_t o = 0; o < w; ++o) EXPECT_EQ(Y[r * w + o], want[r][o]) << what << " row " << r << " column " << o;
}

}  // namespace

TEST(Fff, EveryImplMatchesTheReferenceAcrossFormsDepthsAndTrees) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* impl : {"per_token", "level_batched", "masked_matrix", "fastff"})
      for (const char* depth : {"0", "1", "4", "9"})
        for (const char* leaf : {"0", "5"})
          for (const char* trees : {"1", "3"}) {
            auto k = build({{"impl", impl}, {"depth", depth}, {"leaf_width", leaf}, {"trees", trees}, {"d", "37"},
                            {"d_out", "29"}, {"activation", "gelu"}},
                           61);
            GateResult g = test_support::check_all_rows(*k, 61);
            EXPECT_EQ(g.mismatched_rows, 0) << impl << " depth=" << depth << " leaf=" << leaf << " trees=" << trees << ": " << g.detail;
          }
  }
}

TEST(Fff, LevelBatchedMatchesTheReferenceForEveryTileSize) {
  // Tiles of 1 (no sharing), 3 (groups smaller than the four-token pass), 16 and one tile over
  // all tokens, with a tail tile; both forms.
  for (const char* tile : {"1", "3", "16", "200"})
    for (const char* leaf : {"0", "6"}) {
      auto k = build({{"impl", "level_batched"}, {"tile", tile}, {"depth", "4"}, {"leaf_width", leaf},
                      {"trees", "2"}, {"d", "33"}, {"d_out", "19"}},
                     150);
      GateResult g = test_support::check_all_rows(*k, 150);
      EXPECT_EQ(g.mismatched_rows, 0) << "tile=" << tile << " leaf=" << leaf << ": " << g.detail;
    }
}

TEST(Fff, LevelBatchedReadsASharedInputRowOncePerTile) {
  // Depth 0: every token of a tile is at the root, so a tile reads the root's input row once;
  // 150 tokens in tiles of 16 are 10 tiles (2 threads: 75 tokens each, more than a tile). Each
  // token then sums its own output row. In units of a node's input + output rows (equal widths):
  // (10 + 150) / 2 per 150 tokens. per_token reads both rows for every token.
  omp_set_num_threads(2);
  auto batched = build({{"impl", "level_batched"}, {"tile", "16"}, {"depth", "0"}, {"d", "8"}}, 150);
  auto walk = build({{"impl", "per_token"}, {"depth", "0"}, {"d", "8"}}, 150);
  AlignedVector<float> X(150 * 8), Y(150 * 8);
  fill_uniform(X.data(), X.size(), 3, 1, -1.0f, 1.0f);
  batched->forward(X.data(), Y.data(), 150, nullptr);
  walk->forward(X.data(), Y.data(), 150, nullptr);
  EXPECT_EQ(batched->extras().at("rows_read_per_token"), fmt::format("{:.3f}", (10.0 + 150.0) / 2 / 150));
  EXPECT_EQ(walk->extras().at("rows_read_per_token"), "1.000");
}

TEST(Fff, CostIsFourDPerLevelInTheUltraFastBertForm) {
  auto k = build({{"d", "768"}, {"depth", "11"}}, 1);
  EXPECT_DOUBLE_EQ(k->cost(1).flops, 4.0 * 768 * 12);  // 36,864 FLOPs per token
}

TEST(FffPath, ZeroLogitGoesLeftInUltraFastBertAndRightInFff) {
  EXPECT_EQ(fff_child(0, 0.0f, /*routing_only=*/false), 1);
  EXPECT_EQ(fff_child(0, 0.0f, /*routing_only=*/true), 2);
  EXPECT_EQ(fff_child(0, 1e-30f, false), 2);
  EXPECT_EQ(fff_child(0, -1e-30f, true), 1);
}

TEST(FffPath, KnownLogitsGiveTheKnownPath) {
  // Logits +, -, +, + from the root: 0 -> 2 -> 5 -> 12 -> 26.
  const float logits[] = {0.7f, -0.2f, 1.5f, 0.01f};
  int64_t node = 0;
  std::vector<int64_t> path;
  for (float z : logits) path.push_back(node = fff_child(node, z, false));
  EXPECT_EQ(path, (std::vector<int64_t>{2, 5, 12, 26}));
}

TEST(Fff, ATokenWhoseLogitsAreAllZeroFollowsEachFormsRule) {
  // x = 0 makes every logit equal to its node's bias, so the biases alone pick the path; the
  // optimized walk must take the same one as the reference in both forms.
  for (const char* leaf : {"0", "3"}) {
    auto k = build({{"d", "4"}, {"depth", "3"}, {"leaf_width", leaf}, {"impl", "per_token"}}, 1);
    AlignedVector<float> X(4, 0.0f), Y(k->d_out()), R(k->d_out());
    k->forward(X.data(), Y.data(), 1, nullptr);
    k->reference(X.data(), R.data(), 1);
    for (int64_t i = 0; i < k->d_out(); ++i) EXPECT_NEAR(Y[i], R[i], 1e-6) << leaf;
  }
}

TEST(Fff, ValidationSaysHowLargeTheTreeWouldBe) {
  try {
    resolve_variant_config(Registry::instance().get("fff"), {{"depth", "30"}, {"d", "4096"}}, "fff.");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("invalid value '30' for 'fff.depth': 1 tree(s) of depth 30 (2147483647 nodes each) would need", 0), 0u) << e.what();
  }
  EXPECT_THROW(resolve_variant_config(Registry::instance().get("fff"), {{"d", "0"}}, "fff."), ConfigError);
}

TEST(Fff, AZeroLogitGoesLeftInTheUltraFastBertFormAndRightInTheFffForm) {
  // Outputs worked out by hand (see ufb_weights / leaf_weights), for the reference and every impl.
  // UltraFastBERT (z > 0 goes right): A (z = 0) left: 0·(5,5,5,5) + 1·e0 = (1,0,0,0), where going
  // right would give (0,0,0,2); B (z = 0.5) right: 0.5·(5,5,5,5) + 2·e3; C (z = -0.5) left.
  // FFF (z >= 0 goes right): A right: (0, 2 + 0.5), where going left would give (1, 0).
  const std::vector<std::vector<float>> ufb = {{1, 0, 0, 0}, {2.5f, 2.5f, 2.5f, 4.5f}, {-1.5f, -2.5f, -2.5f, -2.5f}};
  const std::vector<std::vector<float>> fff = {{0, 2.5f}, {0, 2.5f}, {1, 0}};
  const AlignedVector<float> X = rows({0, 1, 2});
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* impl : kImpls) {
      for (bool leaf_form : {false, true}) {
        auto k = build_fff_kernel(resolved(leaf_form ? leaf_config(impl) : ufb_config(impl)),
                                  leaf_form ? leaf_weights() : ufb_weights(), 3);
        AlignedVector<float> Y(3 * k->d_out()), R(3 * k->d_out());
        const std::string what = fmt::format("{} {} T={}", impl, leaf_form ? "fff form" : "ufb form", threads);
        k->reference(X.data(), R.data(), 3);
        expect_rows(R, leaf_form ? fff : ufb, "reference, " + what);
        k->forward(X.data(), Y.data(), 3, nullptr);
        expect_rows(Y, leaf_form ? fff : ufb, what);
      }
    }
  }
}

TEST(Fff, TheDecisionMarginIsZeroAtAZeroLogitAndRelativeToTheSumOfMagnitudes) {
  // B and C: |z| = 0.5 against |0.5| + |0.5| + |1| + |±0.5 or ±1.5| + |b| (3.5 and 4.5).
  for (bool leaf_form : {false, true}) {
    auto k = build_fff_kernel(resolved(leaf_form ? leaf_config("per_token") : ufb_config("per_token")),
                              leaf_form ? leaf_weights() : ufb_weights(), 3);
    const AlignedVector<float> X = rows({0, 1, 2});
    const std::vector<double> m = k->decision_margins(X.data(), 3);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0], 0.0);
    EXPECT_DOUBLE_EQ(m[1], 0.5 / 3.5);
    EXPECT_DOUBLE_EQ(m[2], 0.5 / 4.5);
    EXPECT_LE(m[0], k->decision_epsilon());
    EXPECT_GT(m[1], 1e4 * k->decision_epsilon());
    EXPECT_DOUBLE_EQ(k->decision_epsilon(), 2.0 * 5 * std::ldexp(1.0, -24));  // 2·(d+1)·2^-24
  }
  // Depth 0 routes nothing: no row can be forgiven.
  auto flat = build({{"depth", "0"}, {"d", "4"}}, 1);
  const AlignedVector<float> X = rows({0});
  EXPECT_TRUE(std::isinf(flat->decision_margins(X.data(), 1)[0]));
}

TEST(Fff, TheGateForgivesAFlipAtAZeroLogitButNotAFlipWithALargeMargin) {
  // Y from a kernel whose root bias is -2 instead of -1 (so every row goes left), checked against
  // the true kernel: row A (z = 0, went right) is a tie and forgiven; row B (z = +0.5, margin
  // 0.14) is a genuine wrong branch and fails the point; row C went left in both.
  auto truth = build_fff_kernel(resolved(leaf_config("per_token")), leaf_weights(-1), 3);
  auto flipped = build_fff_kernel(resolved(leaf_config("per_token")), leaf_weights(-2), 3);
  {
    const AlignedVector<float> X = rows({0, 1, 2});
    AlignedVector<float> Y(3 * 2);
    flipped->forward(X.data(), Y.data(), 3, nullptr);
    const GateResult g = check_against_reference(*truth, X.data(), Y.data(), 3, 3);
    EXPECT_FALSE(g.passed);
    EXPECT_EQ(g.mismatched_rows, 2);
    EXPECT_EQ(g.forgiven_rows, 1);
    EXPECT_NE(g.detail.find("row 1 "), std::string::npos) << g.detail;
    EXPECT_NE(g.detail.find("not a tie"), std::string::npos) << g.detail;
  }
  {
    const AlignedVector<float> X = rows({0, 2});
    AlignedVector<float> Y(2 * 2);
    flipped->forward(X.data(), Y.data(), 2, nullptr);
    const GateResult g = check_against_reference(*truth, X.data(), Y.data(), 2, 2);
    EXPECT_TRUE(g.passed) << g.detail;
    EXPECT_EQ(g.mismatched_rows, 1);
    EXPECT_EQ(g.forgiven_rows, 1);
  }
}

TEST(Fff, RandomRowsHaveMarginsInZeroToOneAndPassTheExactGate) {
  // The gate forgives nothing here (mismatched_rows counts forgiven ones too): at d = 37 and a
  // few hundred rows a tie within ε = 2·38·2^-24 is not expected; every impl must agree exactly.
  omp_set_num_threads(2);
  for (const char* impl : kImpls)
    for (const char* leaf : {"0", "4"}) {
      auto k = build({{"impl", impl}, {"depth", "6"}, {"leaf_width", leaf}, {"trees", "3"}, {"d", "37"}}, 300);
      GateResult g = test_support::check_all_rows(*k, 300, 11);
      EXPECT_EQ(g.mismatched_rows, 0) << impl << " leaf=" << leaf << ": " << g.detail;
      AlignedVector<float> X(300 * 37);
      fill_uniform(X.data(), X.size(), 11, 3, -1.0f, 1.0f);
      for (double m : k->decision_margins(X.data(), 300)) {
        EXPECT_GT(m, 0.0);
        EXPECT_LE(m, 1.0);
      }
    }
}

TEST(Fff, EachImplsCostIsTheWorkItDoes) {
  // d = 5, d_out = 3, depth D = 2, K = 2 trees, N = 7 tokens; a multiply-add is 2 FLOPs.
  // UltraFastBERT form: 7 nodes (R = 3 route, L = 4 leaves), D+1 = 3 levels.
  //   walks:         N·K · 3 levels · 2·(d + d_out)          = 14 · 3 · 16           = 672
  //   masked_matrix: logits N·K · 7 nodes · 2d = 14·70 = 980; output N·K · 7 · 2·d_out = 14·42 = 588
  //   fastff:        logits 980; path scores N·K · L · 2R · 2 = 14 · 4·6·2 = 672;
  //                  output N·K · (D+1) rows · 2·d_out = 14 · 18 = 252
  // FFF form, leaves of width ℓ = 4: 3 routing nodes; a leaf FFN is 2·ℓ·(d + d_out) = 64.
  //   walks:         N·K · (2·d·D + 64) = 14 · 84                            = 1176
  //   masked_matrix: logits N·K · 3 · 2d = 14·30 = 420; output 14 · 64 = 896
  //   fastff:        logits 420; path scores 672; output 896
  struct Want {
    const char* impl;
    const char* leaf;
    std::vector<double> stages;
  };
  const Want wants[] = {
      {"per_token", "0", {672}},           {"level_batched", "0", {672}},
      {"masked_matrix", "0", {980, 0, 588}}, {"fastff", "0", {980, 672, 0, 252}},
      {"per_token", "4", {1176}},          {"level_batched", "4", {1176}},
      {"masked_matrix", "4", {420, 0, 896}}, {"fastff", "4", {420, 672, 0, 896}},
  };
  for (const Want& w : wants) {
    auto k = build({{"impl", w.impl}, {"leaf_width", w.leaf}, {"d", "5"}, {"d_out", "3"}, {"depth", "2"}, {"trees", "2"}}, 7);
    const Cost c = k->cost(7);
    double total = 0;
    for (double f : w.stages) total += f;
    EXPECT_DOUBLE_EQ(c.flops, total) << w.impl << " leaf=" << w.leaf;
    EXPECT_EQ(c.stage_flops, w.stages) << w.impl << " leaf=" << w.leaf;
    EXPECT_EQ(c.stage_flops.size(), std::max<size_t>(k->stage_names().size(), 1)) << w.impl;
  }
}

TEST(Fff, MemoryRegionsCoverTheWeightBytesAndFastffsPathMatrix) {
  omp_set_num_threads(2);
  for (const char* impl : kImpls)
    for (const char* leaf : {"0", "3"})
      for (int64_t tokens : {1, 50, 4000}) {
        auto k = build({{"impl", impl}, {"leaf_width", leaf}, {"d", "9"}, {"depth", "5"}, {"trees", "2"}}, 50);
        double bytes = 0;
        for (const MemoryRegion& r : k->memory_regions()) bytes += r.bytes;
        const Cost c = k->cost(tokens);
        EXPECT_GE(bytes, c.weight_bytes) << impl << " leaf=" << leaf << " N=" << tokens;
        EXPECT_TRUE(k->cold_mode_gaps().empty());
        if (std::string(impl) == "fastff") {
          const double path = 4.0 * 32 * 2 * 31;  // L × 2R floats, D = 5
          EXPECT_GE(c.weight_bytes, path);
          EXPECT_GE(c.working_set_bytes, path);
        }
      }
}

TEST(Fff, RepeatedAndInterleavedCallsGiveTheSameOutput) {
  // The kernels keep scratch and walk state between calls; a call must not depend on the one
  // before. X2 is larger than the kernel was built for, so scratch also grows in between.
  omp_set_num_threads(2);
  for (const char* impl : kImpls)
    for (const char* leaf : {"0", "5"}) {
      auto k = build({{"impl", impl}, {"leaf_width", leaf}, {"depth", "5"}, {"trees", "2"}, {"d", "21"}, {"d_out", "13"},
                      {"tile", "8"}},
                     40);
      AlignedVector<float> X1(40 * 21), X2(90 * 21), Y1(40 * 13), Y1b(40 * 13), Y2(90 * 13), Y1c(40 * 13);
      fill_uniform(X1.data(), X1.size(), 21, 1, -1.0f, 1.0f);
      fill_uniform(X2.data(), X2.size(), 22, 1, -1.0f, 1.0f);
      k->forward(X1.data(), Y1.data(), 40, nullptr);
      k->forward(X1.data(), Y1b.data(), 40, nullptr);
      k->forward(X2.data(), Y2.data(), 90, nullptr);
      k->forward(X1.data(), Y1c.data(), 40, nullptr);
      EXPECT_EQ(std::memcmp(Y1.data(), Y1b.data(), Y1.size() * 4), 0) << impl << " leaf=" << leaf;
      EXPECT_EQ(std::memcmp(Y1.data(), Y1c.data(), Y1.size() * 4), 0) << impl << " leaf=" << leaf;
      EXPECT_EQ(check_against_reference(*k, X2.data(), Y2.data(), 90, 90).mismatched_rows, 0) << impl;
    }
}

TEST(Fff, FastffRefusesDepthsWhosePathMatrixIsTooLarge) {
  // Default 512 MiB: depth 13 (2^13 × 2·(2^13 − 1) floats = 511.9 MiB) runs, depth 14 (2 GiB) not.
  EXPECT_EQ(test_support::validation_error("fff", {{"impl", "fastff"}, {"d", "4"}, {"depth", "13"}}), "no error");
  const std::string e = test_support::validation_error("fff", {{"impl", "fastff"}, {"d", "4"}, {"depth", "14"}});
  EXPECT_EQ(e.rfind("invalid value '14' for 'fff.depth': fastff's path matrix (16384 x 32766 floats) would need", 0), 0u) << e;
  EXPECT_NE(e.find("max_path_matrix_mib = 512"), std::string::npos) << e;
  // moe_vs_fff.ini's limit (32 MiB) keeps depth 11 (32.0 MiB) and refuses 12; the walks run it.
  EXPECT_EQ(test_support::validation_error("fff", {{"impl", "fastff"}, {"depth", "11"}, {"max_path_matrix_mib", "32"}}), "no error");
  EXPECT_NE(test_support::validation_error("fff", {{"impl", "fastff"}, {"depth", "12"}, {"max_path_matrix_mib", "32"}}), "no error");
  EXPECT_EQ(test_support::validation_error("fff", {{"impl", "level_batched"}, {"depth", "12"}, {"max_path_matrix_mib", "32"}}), "no error");
}

// bf16 node rows (row_precision = bf16, the UltraFastBERT form's walks): the reference runs on
// the same bf16-rounded rows, so both walks pass the exact gate at every tile and thread count;
// against the fp32 tree the output moves by the rounding of the rows (relative 2^-9 each), a
// path where a logit sits that close to 0 excepted; the walks read half the row bytes.
TEST(FffBf16Rows, WalksMatchTheirReferenceAndStayNearTheFp32Tree) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* impl : {"per_token", "level_batched"})
      for (const char* depth : {"0", "4", "9"})
        for (const char* d : {"37", "64"}) {
          auto k = build({{"impl", impl}, {"depth", depth}, {"trees", "2"}, {"d", d}, {"d_out", "29"}, {"tile", "7"},
                          {"row_precision", "bf16"}},
                         61);
          GateResult g = test_support::check_all_rows(*k, 61);
          EXPECT_TRUE(g.passed) << impl << " depth=" << depth << " d=" << d << ": " << g.detail;
        }
  }
  auto fp32 = build({{"impl", "level_batched"}, {"depth", "6"}, {"d", "64"}}, 200);
  auto bf16 = build({{"impl", "level_batched"}, {"depth", "6"}, {"d", "64"}, {"row_precision", "bf16"}}, 200);
  AlignedVector<float> X(200 * 64), Y(200 * 64);
  fill_uniform(X.data(), X.size(), 3, 3, -1.0f, 1.0f);
  bf16->forward(X.data(), Y.data(), 200, nullptr);
  const double error = std::stod(bf16->output_statistics(X.data(), Y.data(), 200).at("rel_rms_error_vs_fp32"));
  EXPECT_GT(error, 1e-4) << "bf16 rows must round";
  EXPECT_LT(error, 0.05);
  EXPECT_TRUE(fp32->output_statistics(X.data(), Y.data(), 200).empty());
  // Half the row bytes of the fp32 tree (the biases stay fp32).
  const Cost c32 = fp32->cost(200), c16 = bf16->cost(200);
  EXPECT_EQ(c16.flops, c32.flops);
  EXPECT_NEAR(c16.weight_bytes, (c32.weight_bytes + 127 * 4.0) / 2.0, 1e-6 * c32.weight_bytes);
}

TEST(FffBf16Rows, OnlyTheWalksOfTheUltraFastBertFormTakeThem) {
  for (const auto& [impl, leaf] : std::vector<std::pair<std::string, std::string>>{{"masked_matrix", "0"}, {"per_token", "4"}}) {
    try {
      resolved({{"impl", impl}, {"leaf_width", leaf}, {"row_precision", "bf16"}});
      FAIL() << impl;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), "invalid value 'bf16' for 'fff.row_precision': needs the UltraFastBERT form "
                                       "(leaf_width = 0, here " + leaf + ") and a walk (impl = per_token or level_batched, "
                                       "here " + impl + ")");
    }
  }
}

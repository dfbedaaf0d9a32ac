// fff: every impl vs the reference on odd widths and depths 0, 1 and deep, both forms, several
// trees; the path a token takes on hand-made weights; validation.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <omp.h>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "fff/fff_path.hpp"
#include "support_kernels.hpp"

using namespace ffnbench;

namespace {

std::unique_ptr<Kernel> build(std::map<std::string, std::string> given, int64_t tokens) {
  return test_support::build_kernel("fff", given, tokens, 4);
}

}  // namespace

TEST(Fff, EveryImplMatchesTheReferenceAcrossFormsDepthsAndTrees) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* impl : {"per_token", "level_batched", "masked_matrix", "fastff"})
      for (const char* depth : {"0", "1", "9"})
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

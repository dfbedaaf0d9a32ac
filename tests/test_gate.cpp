// The correctness gate's rules: a row is forgiven only at a genuine tie (the reference's decision
// value within ε of its threshold on that row); any other mismatch fails, even a single row.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sweep/gate.hpp"

using namespace ffnbench;

namespace {

// A two-way router: row i goes to output A when x[i][0] > 0.5, else to B; y = x[1] * (A ? 2 : -3).
// Its decision margin is |x[i][0] - 0.5|. The "optimized" forward can be broken on purpose.
class RoutingToy final : public Kernel {
 public:
  enum class Bug { none, flip_ties, wrong_tail_tile, wrong_last_group };
  explicit RoutingToy(Bug bug) : bug_(bug) {}
  int64_t d_in() const override { return 2; }
  int64_t d_out() const override { return 1; }
  static float route(const float* x, bool flip = false) { return ((x[0] > 0.5f) != flip) ? 2.0f : -3.0f; }
  void forward(const float* X, float* Y, int64_t tokens, StageTimer*) override {
    constexpr int64_t tile = 8;
    const int64_t last_tile = (tokens - 1) / tile * tile;
    int64_t last_group_start = tokens;  // the tokens routed to B form a group; its last one is ragged
    for (int64_t i = 0; i < tokens; ++i)
      if (route(X + 2 * i) < 0) last_group_start = i;
    for (int64_t i = 0; i < tokens; ++i) {
      const float* x = X + 2 * i;
      bool flip = false;
      if (bug_ == Bug::flip_ties) flip = std::abs(x[0] - 0.5f) < 1e-6f;
      Y[i] = route(x, flip) * x[1];
      if (bug_ == Bug::wrong_tail_tile && i >= last_tile) Y[i] = route(x, true) * x[1];
      if (bug_ == Bug::wrong_last_group && i == last_group_start) Y[i] *= 1.5f;
    }
  }
  void reference(const float* X, float* Y, int64_t tokens) const override {
    for (int64_t i = 0; i < tokens; ++i) Y[i] = route(X + 2 * i) * X[2 * i + 1];
  }
  Cost cost(int64_t) const override { return {}; }
  std::vector<double> decision_margins(const float* X, int64_t rows) const override {
    std::vector<double> m(rows);
    for (int64_t i = 0; i < rows; ++i) m[i] = std::abs(X[2 * i] - 0.5);
    return m;
  }
  double decision_epsilon() const override { return 1e-6; }

 private:
  Bug bug_;
};

// 19 tokens (a tile of 8 leaves a ragged tail of 3); token 0 sits exactly on the threshold.
std::vector<float> inputs() {
  std::vector<float> X;
  for (int i = 0; i < 19; ++i) {
    X.push_back(i == 0 ? 0.5f : 0.05f * static_cast<float>(i % 7) + (i % 2 ? 0.6f : 0.0f));
    X.push_back(1.0f + 0.1f * static_cast<float>(i));
  }
  return X;
}

GateResult gate(RoutingToy::Bug bug) {
  RoutingToy k(bug);
  auto X = inputs();
  std::vector<float> Y(19);
  k.forward(X.data(), Y.data(), 19, nullptr);
  return check_against_reference(k, X.data(), Y.data(), 19, 19);
}

}  // namespace

TEST(Gate, ExactOutputPassesWithNothingForgiven) {
  GateResult g = gate(RoutingToy::Bug::none);
  EXPECT_TRUE(g.passed) << g.detail;
  EXPECT_EQ(g.rows_checked, 19);
  EXPECT_EQ(g.mismatched_rows, 0);
  EXPECT_EQ(g.forgiven_rows, 0);
}

TEST(Gate, AGenuineTieIsForgivenAndCounted) {
  GateResult g = gate(RoutingToy::Bug::flip_ties);
  EXPECT_TRUE(g.passed) << g.detail;
  EXPECT_EQ(g.mismatched_rows, 1);
  EXPECT_EQ(g.forgiven_rows, 1);
  EXPECT_GT(g.max_error, 0.1);  // the forgiven row's error is still reported
}

TEST(Gate, AWrongTailTileFailsThoughEveryOtherRowIsRight) {
  GateResult g = gate(RoutingToy::Bug::wrong_tail_tile);
  EXPECT_FALSE(g.passed);
  EXPECT_EQ(g.forgiven_rows, 0);
  EXPECT_NE(g.detail.find("not a tie"), std::string::npos) << g.detail;
  EXPECT_NE(g.detail.find("row 16"), std::string::npos) << g.detail;  // the first row of the tail tile
}

TEST(Gate, AWrongRaggedLastGroupFailsOnASingleRow) {
  GateResult g = gate(RoutingToy::Bug::wrong_last_group);
  EXPECT_FALSE(g.passed);
  EXPECT_EQ(g.mismatched_rows, 1);
  EXPECT_EQ(g.forgiven_rows, 0);
}

TEST(Gate, NonFiniteOutputIsNeverForgiven) {
  RoutingToy k(RoutingToy::Bug::none);
  auto X = inputs();
  std::vector<float> Y(19);
  k.forward(X.data(), Y.data(), 19, nullptr);
  Y[0] = std::nanf("");  // row 0 is the tie: a NaN there is still a failure
  GateResult g = check_against_reference(k, X.data(), Y.data(), 19, 19);
  EXPECT_FALSE(g.passed);
  EXPECT_EQ(g.forgiven_rows, 0);
}

TEST(Gate, AKernelWithoutMarginsForgivesNothing) {
  // The base Kernel's decision_margins is empty: a router that declares none gets the exact gate.
  struct NoMargins final : Kernel {
    int64_t d_in() const override { return 1; }
    int64_t d_out() const override { return 1; }
    void forward(const float* X, float* Y, int64_t n, StageTimer*) override {
      for (int64_t i = 0; i < n; ++i) Y[i] = X[i] + (i == 3 ? 1.0f : 0.0f);
    }
    void reference(const float* X, float* Y, int64_t n) const override {
      for (int64_t i = 0; i < n; ++i) Y[i] = X[i];
    }
    Cost cost(int64_t) const override { return {}; }
  } k;
  std::vector<float> X(16, 1.0f), Y(16);
  k.forward(X.data(), Y.data(), 16, nullptr);
  GateResult g = check_against_reference(k, X.data(), Y.data(), 16);
  EXPECT_FALSE(g.passed);
  EXPECT_EQ(g.forgiven_rows, 0);
}

// lookup_ffn end to end: the paper's block size and enough tables for the AVX-512 code/score
// path and several gather groups; a known answer of the whole reference computed here by hand;
// repeated calls; the gate refusing a broken row that is no tie; cost models against counts
// made here; cold-mode regions.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "bh4/bh4_transform.hpp"
#include "bh4/block_kernel.hpp"
#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "support_kernels.hpp"

using namespace ffnbench;

namespace {

constexpr uint64_t kSeed = 5;  // test_support::build_kernel's default seed

std::unique_ptr<Kernel> build(std::map<std::string, std::string> given, int64_t tokens) {
  return test_support::build_kernel("lookup_ffn", given, tokens, kSeed);
}

AlignedVector<float> inputs(int64_t tokens, int64_t d, uint64_t seed) {
  AlignedVector<float> X(tokens * d);
  fill_uniform(X.data(), X.size(), seed, 1, -1.0f, 1.0f);
  return X;
}

std::vector<std::string> block_gemms() {
  std::vector<std::string> ways = {"openblas"};
  if (microkernel_supports(64)) ways.push_back("microkernel");
  return ways;
}

}  // namespace

TEST(LookupFfnEndToEnd, PaperBlockSizeManyTablesSeveralTilesEveryOrderAndPrecision) {
  // b = 64: the folded BH4 (block weights times H_64) by the micro-kernel and by OpenBLAS.
  // h = 80, τ = 8: five groups of 16 tables in the AVX-512 code/score trees, gather groups of
  // 32 + 32 + 16 tables. d = 200 pads to 256 (three BH4 copies for h·τ = 640); d_out = 130 is
  // three ragged 64-column blocks; 300 tokens are five projection tiles of 64 and several
  // gather tiles. Every row is checked with the exact gate (only ties within ε forgiven).
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const std::string& gemm : block_gemms())
      for (const char* order : {"token_major", "table_major", "tiled"})
        for (const char* precision : {"fp32", "bf16"}) {
          auto k = build({{"d", "200"}, {"d_out", "130"}, {"h", "80"}, {"tau", "8"}, {"b", "64"}, {"order", order},
                          {"tile", "100"}, {"table_precision", precision}, {"block_gemm", gemm}, {"ln_affine", "random"}},
                         300);
          EXPECT_EQ(k->extras().at("block_gemm"), gemm);
          if (__builtin_cpu_supports("avx2")) {
            EXPECT_EQ(k->extras().at("hadamard_fold"), "yes");
          }
          GateResult g = test_support::check_all_rows(*k, 300, 11);
          EXPECT_TRUE(g.passed) << threads << "T " << gemm << " " << order << " " << precision << ": " << g.detail;
          EXPECT_LE(g.forgiven_rows, 3) << "ties should be rare (about one row in 1e3)";
        }
  }
  omp_set_num_threads(2);
  for (const char* order : {"token_major", "table_major", "tiled"})
    for (const char* precision : {"fp32", "bf16"}) {
      auto k = build({{"d", "200"}, {"d_out", "130"}, {"h", "80"}, {"tau", "8"}, {"projection", "dense"},
                      {"order", order}, {"tile", "100"}, {"table_precision", precision}, {"ln_affine", "random"}},
                     300);
      GateResult g = test_support::check_all_rows(*k, 300, 12);
      EXPECT_TRUE(g.passed) << "dense " << order << " " << precision << ": " << g.detail;
    }
}

// The whole LookupFFN at d = 3 (padded to d' = 4), b = 2, h = 2 tables of τ = 3 bits (h·τ = 6:
// two BH4 copies, truncated from 8 outputs to 6), d_out = 2, random γ and β, computed here in
// double from the kernel's weights (rebuilt from the same seed and streams) with an explicit
// Hadamard matrix and dense block factors.
TEST(LookupFfnKnownAnswer, WholeReferenceOnATinyConfigurationByHand) {
  const int64_t d = 3, dp = 4, h = 2, tau = 3, ht = 6, d_out = 2, rows = 8;
  const float a = 1.0f / std::sqrt(2.0f);  // tables and output bias: ±1/√h
  std::vector<float> gamma(d), beta(d), z_bias(ht), tables(h * rows * d_out), out_bias(d_out), wp(d * ht);
  fill_uniform(gamma.data(), d, kSeed, 36, 0.5f, 1.5f);
  fill_uniform(beta.data(), d, kSeed, 37, -0.2f, 0.2f);
  fill_uniform(z_bias.data(), ht, kSeed, 33, -0.1f, 0.1f);
  fill_uniform(tables.data(), tables.size(), kSeed, 34, -a, a);
  fill_uniform(out_bias.data(), d_out, kSeed, 35, -a, a);
  fill_uniform(wp.data(), wp.size(), kSeed, 31, -std::sqrt(1.0f), std::sqrt(1.0f));  // √(3/d) = 1
  const Bh4Transform bh4(d, 2, 2, kSeed, 32, BlockGemm::Openblas);
  const double H[4][4] = {{1, 1, 1, 1}, {1, -1, 1, -1}, {1, 1, -1, -1}, {1, -1, -1, 1}};

  const std::vector<std::vector<float>> xs = {{1.0f, 2.0f, 4.0f}, {-1.0f, 0.5f, 3.0f}, {0.3f, -0.7f, 0.1f},
                                              {2.0f, -2.0f, 0.0f}, {-0.4f, -0.9f, -0.2f}, {5.0f, 1.0f, -3.0f}};
  const int64_t n = static_cast<int64_t>(xs.size());
  AlignedVector<float> X(n * d);
  for (int64_t t = 0; t < n; ++t) std::copy(xs[t].begin(), xs[t].end(), X.begin() + t * d);

  for (const char* projection : {"bh4", "dense"}) {
    std::vector<double> want(n * d_out), want_margin(n);
    for (int64_t t = 0; t < n; ++t) {
      const std::vector<float>& x = xs[t];
      const double mean = (double(x[0]) + x[1] + x[2]) / 3;
      double var = 0;
      for (float v : x) var += (v - mean) * (v - mean);
      var /= 3;
      double u[dp] = {0, 0, 0, 0};  // u[3]: the zero padding
      for (int i = 0; i < d; ++i) u[i] = (x[i] - mean) / std::sqrt(var + 1e-5) * gamma[i] + beta[i];
      double z[ht];
      if (std::string(projection) == "bh4") {
        double proj[2 * dp];
        for (int c = 0; c < 2; ++c) {
          std::vector<double> v(u, u + dp);
          for (int r = 0; r < 4; ++r) {
            const std::vector<float> B = bh4.dense_block_factor(c, r);
            std::vector<double> vb(dp, 0.0), vh(dp, 0.0);
            for (int j = 0; j < dp; ++j)
              for (int k = 0; k < dp; ++k) vb[j] += v[k] * B[k * dp + j];
            for (int j = 0; j < dp; ++j)
              for (int k = 0; k < dp; ++k) vh[j] += vb[k] * H[k][j];
            v = vh;
          }
          for (int j = 0; j < dp; ++j) proj[c * dp + j] = v[j];
        }
        for (int j = 0; j < ht; ++j) z[j] = 0.7 * proj[j] + 0.3 * u[j % dp] + z_bias[j];  // outputs 6, 7 dropped
      } else {
        for (int j = 0; j < ht; ++j) {
          z[j] = z_bias[j];
          for (int i = 0; i < d; ++i) z[j] += u[i] * wp[i * ht + j];
        }
      }
      double smallest = 1e300, ss = 0;
      for (double v : z) smallest = std::min(smallest, std::abs(v)), ss += v * v;
      want_margin[t] = smallest / std::sqrt(ss / ht);
      ASSERT_GT(want_margin[t], 1e-3) << "pick inputs whose codes are not ties";
      for (int o = 0; o < d_out; ++o) want[t * d_out + o] = out_bias[o];
      for (int k = 0; k < h; ++k) {
        const double* zk = z + k * tau;
        const int code = (zk[0] > 0 ? 4 : 0) + (zk[1] > 0 ? 2 : 0) + (zk[2] > 0 ? 1 : 0);  // first value: MSB
        const double l1 = std::abs(zk[0]) + std::abs(zk[1]) + std::abs(zk[2]);
        const double score = l1 / ((1 + std::exp(-2 * std::abs(zk[0]))) * (1 + std::exp(-2 * std::abs(zk[1]))) *
                                   (1 + std::exp(-2 * std::abs(zk[2]))));
        for (int o = 0; o < d_out; ++o) want[t * d_out + o] += score * tables[(k * rows + code) * d_out + o];
      }
    }
    for (const char* order : {"token_major", "table_major", "tiled"}) {
      auto k = build({{"d", "3"}, {"d_out", "2"}, {"h", "2"}, {"tau", "3"}, {"b", "2"}, {"projection", projection},
                      {"order", order}, {"ln_affine", "random"}},
                     n);
      AlignedVector<float> ref(n * d_out), opt(n * d_out);
      k->reference(X.data(), ref.data(), n);
      k->forward(X.data(), opt.data(), n, nullptr);
      const std::vector<double> margins = k->decision_margins(X.data(), n);
      ASSERT_EQ(static_cast<int64_t>(margins.size()), n);
      for (int64_t t = 0; t < n; ++t) {
        EXPECT_NEAR(margins[t], want_margin[t], 1e-5 * want_margin[t]) << projection << " row " << t;
        for (int o = 0; o < d_out; ++o) {
          const double w = want[t * d_out + o];
          EXPECT_NEAR(ref[t * d_out + o], w, 1e-5 * (1 + std::abs(w))) << projection << " reference row " << t;
          EXPECT_NEAR(opt[t * d_out + o], w, 1e-4 * (1 + std::abs(w))) << projection << " " << order << " row " << t;
        }
      }
    }
  }
}

TEST(LookupFfnRepeated, ForwardIsDeterministicAndKeepsNoStateBetweenCalls) {
  const int64_t n = 150, d = 96, d_out = 80;
  const AlignedVector<float> X1 = inputs(n, d, 21), X2 = inputs(n, d, 22);
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* order : {"token_major", "table_major", "tiled"})
      for (const char* precision : {"fp32", "bf16"})
        for (const char* projection : {"bh4", "dense"}) {
          auto k = build({{"d", "96"}, {"d_out", "80"}, {"h", "32"}, {"tau", "6"}, {"b", "32"}, {"order", order},
                          {"tile", "40"}, {"table_precision", precision}, {"projection", projection}},
                         n);
          AlignedVector<float> first(n * d_out), again(n * d_out), other(n * d_out), third(n * d_out);
          for (auto* y : {&first, &again, &other, &third}) std::fill(y->begin(), y->end(), std::nanf(""));
          k->forward(X1.data(), first.data(), n, nullptr);
          k->forward(X1.data(), again.data(), n, nullptr);
          k->forward(X2.data(), other.data(), n, nullptr);
          k->forward(X1.data(), third.data(), n, nullptr);
          const std::string where = std::to_string(threads) + "T " + order + " " + precision + " " + projection;
          EXPECT_EQ(std::memcmp(first.data(), again.data(), first.size() * 4), 0) << where;
          EXPECT_EQ(std::memcmp(first.data(), third.data(), first.size() * 4), 0) << where;
          EXPECT_NE(std::memcmp(first.data(), other.data(), first.size() * 4), 0) << where;
          EXPECT_TRUE(std::all_of(first.begin(), first.end(), [](float v) { return std::isfinite(v); })) << where;
        }
  }
  // BH4 on its own, and at a batch smaller than the first one (scratch sized for more).
  omp_set_num_threads(2);
  auto b = test_support::build_kernel("bh4", {{"d", "96"}, {"b", "32"}, {"outputs", "200"}, {"tile", "16"}}, n);
  AlignedVector<float> first(n * 200), again(n * 200), small(40 * 200);
  b->forward(X1.data(), first.data(), n, nullptr);
  b->forward(X2.data(), small.data(), 40, nullptr);
  b->forward(X1.data(), again.data(), n, nullptr);
  EXPECT_EQ(std::memcmp(first.data(), again.data(), first.size() * 4), 0);
}

namespace {

// A kernel that forwards to another and claims every row is a tie (margin 0).
class ClaimsTies final : public Kernel {
 public:
  explicit ClaimsTies(const Kernel& k) : k_(k) {}
  int64_t d_in() const override { return k_.d_in(); }
  int64_t d_out() const override { return k_.d_out(); }
  void forward(const float*, float*, int64_t, StageTimer*) override {}
  void reference(const float* X, float* Y, int64_t tokens) const override { k_.reference(X, Y, tokens); }
  Cost cost(int64_t tokens) const override { return k_.cost(tokens); }
  double tolerance() const override { return k_.tolerance(); }
  std::vector<double> decision_margins(const float*, int64_t rows) const override { return std::vector<double>(rows, 0.0); }
  double decision_epsilon() const override { return k_.decision_epsilon(); }

 private:
  const Kernel& k_;
};

}  // namespace

TEST(LookupFfnGate, AMismatchOnARowFarFromEveryThresholdIsNotForgiven) {
  const int64_t n = 32;
  for (const char* projection : {"bh4", "dense"}) {
    auto k = build({{"d", "64"}, {"h", "16"}, {"tau", "4"}, {"b", "16"}, {"projection", projection}}, n);
    const AlignedVector<float> X = inputs(n, 64, 3);
    AlignedVector<float> Y(n * 64);
    k->forward(X.data(), Y.data(), n, nullptr);
    ASSERT_TRUE(check_against_reference(*k, X.data(), Y.data(), n, n).passed);
    const std::vector<double> margins = k->decision_margins(X.data(), n);
    ASSERT_EQ(static_cast<int64_t>(margins.size()), n);
    const int64_t row = std::max_element(margins.begin(), margins.end()) - margins.begin();
    ASSERT_GT(margins[row], 100 * k->decision_epsilon()) << "the widest margin of 32 rows is no tie";
    EXPECT_GT(k->decision_epsilon(), 0.0);
    EXPECT_LT(k->decision_epsilon(), 1e-4);
    // Break that row as a flipped code would: one table's contribution replaced.
    for (int64_t o = 0; o < 64; ++o) Y[row * 64 + o] += 0.3f * (o % 2 ? 1.0f : -1.0f);
    GateResult g = check_against_reference(*k, X.data(), Y.data(), n, n);
    EXPECT_FALSE(g.passed) << projection;
    EXPECT_EQ(g.mismatched_rows, 1);
    EXPECT_EQ(g.forgiven_rows, 0);
    EXPECT_NE(g.detail.find("not a tie"), std::string::npos) << g.detail;
    // The same output is forgiven only by a kernel whose margins call the row a tie.
    GateResult tie = check_against_reference(ClaimsTies(*k), X.data(), Y.data(), n, n);
    EXPECT_TRUE(tie.passed) << tie.detail;
    EXPECT_EQ(tie.forgiven_rows, 1);
  }
}

namespace {

// Independent counts (written from the code's loops, not from cost()).
double layer_norm_count(int64_t d) {
  int64_t ops = 0;
  for (int64_t i = 0; i < d; ++i) ops += 1;  // sum
  ops += 1;                                   // mean
  for (int64_t i = 0; i < d; ++i) ops += 3;  // (x - mean)², accumulated
  ops += 4;                                   // / d, + eps, sqrt, 1 / ·
  for (int64_t i = 0; i < d; ++i) ops += 4;  // (x - mean)·(inv·γ) + β
  return static_cast<double>(ops);
}

// BH4 per token: every block product multiply-add and every butterfly, counted by walking the loops.
double bh4_count(int64_t dp, int64_t b, int64_t copies, bool folded) {
  int64_t macs = 0, butterflies = 0;
  for (int64_t c = 0; c < copies; ++c)
    for (int r = 0; r < 4; ++r) {
      for (int64_t blk = 0; blk < dp / b; ++blk)
        for (int64_t j = 0; j < b; ++j)
          for (int64_t k = 0; k < b; ++k) ++macs;
      for (int64_t half = folded ? b : 1; half < dp; half *= 2)
        for (int64_t i = 0; i < dp; i += 2 * half)
          for (int64_t j = i; j < i + half; ++j) butterflies += 2;  // a + b, a - b
    }
  return 2.0 * macs + butterflies;
}

double code_score_count(int64_t h, int64_t tau, bool optimized) {
  if (!optimized) return h * (tau * 5.0 + 1);
  const bool tree = __builtin_cpu_supports("avx512f") && (tau & (tau - 1)) == 0 && tau <= 16;
  double ops = 0;
  for (int64_t k = 0; k < h; ++k) {
    ops += tau * (1 + 20 + 1);  // -2·|z|; fast_exp: min, max, ·log2e, 2 FMAs, 6 FMAs, scale; 1 + e
    const bool in_tree = tree && k < h / 16 * 16;
    ops += in_tree ? 3 * (tau - 1) : 2 * tau;  // reductions: sum, product (and code, in the tree)
    ops += 1;                                  // divide
  }
  return ops;
}

}  // namespace

TEST(LookupFfnCost, EveryImplsModelEqualsACountOfItsLoops) {
  const int64_t n = 7;
  for (const char* impl : {"optimized", "reference"})
    for (const char* projection : {"bh4", "dense"})
      for (const char* order : {"token_major", "table_major", "tiled"})
        for (const char* tau : {"4", "5"})
          for (const char* b : {"4", "16"}) {
            if (std::string(projection) == "dense" && std::string(b) == "4") continue;
            const int64_t d = 40, dp = 64, h = 20, d_out = 70, t = std::stoi(tau), bb = std::stoi(b), ht = h * t;
            auto k = build({{"d", "40"}, {"d_out", "70"}, {"h", "20"}, {"tau", tau}, {"b", b}, {"order", order},
                            {"projection", projection}, {"impl", impl}},
                           n);
            const bool opt = std::string(impl) == "optimized", bh4 = std::string(projection) == "bh4";
            double projection_flops = layer_norm_count(d);
            if (bh4) {
              const bool folded = opt && k->extras().at("hadamard_fold") == "yes";
              projection_flops += bh4_count(dp, bb, (ht + dp - 1) / dp, folded) + 4.0 * ht;  // mix: 2 multiplies, 2 adds
            } else {
              projection_flops += 2.0 * d * ht + (opt ? ht : 0);  // GEMM (+ the bias added after it)
            }
            const int64_t cols = opt && std::string(order) == "tiled" ? 128 : d_out;  // two whole 64-column blocks
            const double gather = 2.0 * h * cols;
            const Cost c = k->cost(n);
            const std::string where = std::string(impl) + " " + projection + " " + order + " tau=" + tau + " b=" + b;
            ASSERT_EQ(c.stage_flops.size(), 3u);
            EXPECT_DOUBLE_EQ(c.stage_flops[0], n * projection_flops) << where;
            EXPECT_DOUBLE_EQ(c.stage_flops[1], n * code_score_count(h, t, opt)) << where;
            EXPECT_DOUBLE_EQ(c.stage_flops[2], n * gather) << where;
            EXPECT_DOUBLE_EQ(c.flops, c.stage_flops[0] + c.stage_flops[1] + c.stage_flops[2]) << where;
            // Activations: x and y, plus codes and scores through memory on the optimized path; no z.
            EXPECT_DOUBLE_EQ(c.activation_bytes, n * 4.0 * (d + d_out) + (opt ? n * 16.0 * h : 0)) << where;
          }
}

TEST(LookupFfnColdMode, RegionsCoverEveryWeightTableParameterAndScratchACallReads) {
  for (const char* impl : {"optimized", "reference"})
    for (const char* projection : {"bh4", "dense"})
      for (const char* order : {"token_major", "tiled"})
        for (const char* precision : {"fp32", "bf16"}) {
          const int64_t n = 600, d = 40, dp = 64, h = 8, tau = 6, d_out = 70, ht = h * tau;
          auto k = build({{"d", "40"}, {"d_out", "70"}, {"h", "8"}, {"tau", "6"}, {"b", "16"}, {"order", order},
                          {"table_precision", precision}, {"projection", projection}, {"impl", impl}},
                         n);
          const bool opt = std::string(impl) == "optimized";
          const bool bf16 = opt && std::string(precision) == "bf16";
          const int64_t cols = opt && std::string(order) == "tiled" ? 128 : d_out;
          double want = h * 64.0 * cols * (bf16 ? 2 : 4);                                      // tables, as read
          want += std::string(projection) == "bh4" ? 4.0 * 4 * dp * 16 * ((ht + dp - 1) / dp) : 4.0 * d * ht;
          want += 4.0 * (ht + d_out + 2 * d);                                                  // biases, γ, β
          if (opt) want += 8.0 * n * h;                                                         // codes, scores
          double bytes = 0;
          const auto regions = k->memory_regions();
          for (const MemoryRegion& r : regions) {
            EXPECT_NE(r.data, nullptr);
            bytes += r.bytes;
          }
          const std::string where = std::string(impl) + " " + projection + " " + order + " " + precision;
          EXPECT_GE(bytes, want) << where;
          EXPECT_GE(bytes, k->cost(n).weight_bytes) << where;
          EXPECT_EQ(k->cost(n).weight_bytes, want - (opt ? 8.0 * n * h : 0)) << where;
          EXPECT_EQ(regions.size(), opt ? 9u : 6u) << where;  // tables, projection, 2 biases, γ, β (+ 3 scratch)
          EXPECT_EQ(k->cold_mode_gaps(), "") << where;
        }
}

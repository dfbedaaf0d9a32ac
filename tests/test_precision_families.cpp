// MoE's experts and soft_lookup at fp32, bf16 and int8 through oneDNN (impl = onednn): each
// precision against its reference (the fp32 math on the rounded or dequantized weights, rebuilt
// here independently from the seeds) within its stated bound, on odd widths and ragged panels;
// the routing the same at every precision; the error against fp32; the cost model per precision;
// the validation messages and exit status 2 for a precision an impl lacks.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/aligned.hpp"
#include "common/onednn_matmuls.hpp"
#include "common/random.hpp"
#include "gemm_ffn/dense_weights.hpp"
#include "moe/routing.hpp"
#include "support_kernels.hpp"
#include "support_run_folders.hpp"

using namespace ffnbench;

namespace {

constexpr uint64_t kSeed = 13;
const char* const kPrecisions[] = {"fp32", "bf16", "int8"};

AlignedVector<float> random_input(int64_t n, uint64_t seed) {
  AlignedVector<float> X(n);
  fill_uniform(X.data(), X.size(), seed, 9, -1.0f, 1.0f);
  return X;
}

// W [rows][cols] as the kernel multiplies it: bf16 rounds each value (round to nearest even,
// written here with nextafter-free bit arithmetic in double), int8 quantizes each column with its
// own step max|W[:, j]| / 127, computed in double.
void as_the_kernel_stores(float* w, int64_t rows, int64_t cols, const std::string& precision) {
  if (precision == "bf16") {
    for (int64_t i = 0; i < rows * cols; ++i) {
      // bf16 keeps 8 significant bits: v rounded at its exponent's 2^-7 ulp, ties to even.
      const double v = w[i];
      if (v == 0) continue;
      int exp;
      std::frexp(v, &exp);
      const double ulp = std::ldexp(1.0, exp - 8);
      w[i] = static_cast<float>(std::nearbyint(v / ulp) * ulp);
    }
  }
  if (precision == "int8") {
    for (int64_t j = 0; j < cols; ++j) {
      double m = 0;
      for (int64_t i = 0; i < rows; ++i) m = std::max(m, std::abs(double(w[i * cols + j])));
      const float step = static_cast<float>(m / 127.0);
      for (int64_t i = 0; i < rows; ++i) w[i * cols + j] = std::nearbyint(w[i * cols + j] / step) * step;
    }
  }
}


// A kernel at `precision` against `exact`, its math rebuilt here in double: reference() is that
// math; forward()'s output Y is within the kernel's stated tolerance (its rounding bound
// included) and passes the gate on every row; at bf16 and int8 its errors are of that
// precision's size (it did not run in fp32) and its error against fp32 is in the output
// statistics, below rel_limit. Returns the error check and sets `tolerance`.
test_support::ErrorCheck expect_within_its_bound(Kernel& k, const std::string& precision, const AlignedVector<float>& X,
                                                 const AlignedVector<float>& Y, const std::vector<double>& exact,
                                                 int64_t n, double rel_limit, double& tolerance) {
  AlignedVector<float> R(Y.size());
  k.reference(X.data(), R.data(), n);
  EXPECT_LT(test_support::compare_with(R.data(), exact).max_error, 1e-5) << "the reference is the fp32 math on the weights as stored";
  const test_support::ErrorCheck c = test_support::compare_with(Y.data(), exact);
  tolerance = std::max(k.tolerance(), k.error_bound() / c.rms);
  EXPECT_LT(c.max_error, tolerance);
  EXPECT_TRUE(test_support::check_all_rows(k, n).passed);
  if (precision == "fp32") {
    EXPECT_LT(c.max_error, 1e-5);
    EXPECT_EQ(k.error_bound(), 0.0);
    EXPECT_TRUE(k.output_statistics(X.data(), Y.data(), n).empty());
    return c;
  }
  EXPECT_GT(c.max_error, precision == "int8" ? 1e-3 : 1e-4);
  const double rel = std::stod(k.output_statistics(X.data(), Y.data(), n).at("rel_rms_error_vs_fp32"));
  EXPECT_GT(rel, precision == "int8" ? 1e-3 : 1e-4);
  EXPECT_LT(rel, rel_limit);
  if (precision == "int8") {  // a 6σ bound, not a blanket
    EXPECT_GT(k.error_bound(), 0.0);
    EXPECT_GT(c.max_error, 0.05 * tolerance) << tolerance;
  }
  return c;
}

std::vector<int64_t> expert_tokens(const Kernel& k) {
  std::stringstream counts(k.extras().at("expert_tokens"));
  std::vector<int64_t> out;
  for (std::string c; std::getline(counts, c, '|');) out.push_back(std::stoll(c));
  return out;
}

// ---- MoE -------------------------------------------------------------------------------------

struct MoeShape {
  int64_t d, experts, k, d_e;
  std::map<std::string, std::string> config(const std::string& precision) const {
    return {{"impl", "onednn"}, {"precision", precision}, {"d", std::to_string(d)}, {"experts", std::to_string(experts)},
            {"top_k", std::to_string(k)}, {"d_e", std::to_string(d_e)}};
  }
};

// The MoE in double from the seeds (router: fill_router; expert e: DenseFfnWeights::random with
// the kernel's seed rule), the experts' weights as `precision` stores them, the router in fp32.
std::vector<double> moe_in_double(const MoeShape& s, const std::string& precision, const float* X, int64_t tokens) {
  std::vector<float> router(s.d * s.experts);
  fill_router(router.data(), s.d, s.experts, kSeed);
  std::vector<DenseFfnWeights> experts;
  for (int64_t e = 0; e < s.experts; ++e) {
    experts.push_back(DenseFfnWeights::random(s.d, s.d_e, splitmix64(kSeed + 1000 * (e + 1))));
    as_the_kernel_stores(experts.back().w1.data(), s.d, s.d_e, precision);
    as_the_kernel_stores(experts.back().w2.data(), s.d_e, s.d, precision);
  }
  std::vector<double> Y(tokens * s.d, 0.0), h(s.d_e);
  std::vector<float> logits(s.experts), weights(s.k);
  std::vector<int32_t> chosen(s.k);
  for (int64_t t = 0; t < tokens; ++t) {
    const float* x = X + t * s.d;
    for (int64_t e = 0; e < s.experts; ++e) {
      double acc = 0;
      for (int64_t i = 0; i < s.d; ++i) acc += double(x[i]) * router[i * s.experts + e];
      logits[e] = static_cast<float>(acc);
    }
    route_top_k(logits.data(), s.experts, s.k, chosen.data(), weights.data());
    for (int64_t j = 0; j < s.k; ++j) {
      const DenseFfnWeights& w = experts[chosen[j]];
      for (int64_t f = 0; f < s.d_e; ++f) {
        double a = w.b1[f];
        for (int64_t i = 0; i < s.d; ++i) a += double(x[i]) * w.w1[i * s.d_e + f];
        h[f] = 0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0)));
      }
      for (int64_t o = 0; o < s.d; ++o) {
        double a = w.b2[o];
        for (int64_t f = 0; f < s.d_e; ++f) a += h[f] * w.w2[f * s.d + o];
        Y[t * s.d + o] += weights[j] * a;
      }
    }
  }
  return Y;
}

TEST(MoePrecision, EveryPrecisionMatchesItsReferenceWithinItsBound) {
  // Odd widths; 1100 tokens × top 2 over 5 experts: panels of 512 and ragged padded tails.
  const MoeShape s{45, 5, 2, 77};
  const int64_t n = 1100;
  const auto X = random_input(n * s.d, 5);
  std::vector<int64_t> routing;
  for (const char* precision : kPrecisions) {
    SCOPED_TRACE(precision);
    auto k = test_support::build_kernel("moe", s.config(precision), n, kSeed);
    AlignedVector<float> Y(n * s.d);
    k->forward(X.data(), Y.data(), n, nullptr);
    // The router stays fp32: the same tokens per expert at every precision.
    if (routing.empty()) routing = expert_tokens(*k);
    EXPECT_EQ(expert_tokens(*k), routing);
    const std::string p = precision;
    double tolerance = 0;
    const auto c = expect_within_its_bound(*k, p, X, Y, moe_in_double(s, p, X.data(), n), n, p == "int8" ? 0.05 : 0.02,
                                           tolerance);
    if (p == "int8") {
      EXPECT_LT(tolerance, 0.2) << c.max_error;
    }
  }
  auto grouped = test_support::build_kernel("moe", {{"impl", "grouped"}, {"d", "45"}, {"experts", "5"}, {"d_e", "77"}}, n, kSeed);
  AlignedVector<float> Y(n * s.d);
  grouped->forward(X.data(), Y.data(), n, nullptr);
  EXPECT_EQ(expert_tokens(*grouped), routing) << "routing as OpenBLAS's grouped impl routes";
}

// Panels run at the next prepared row count (1, 2, 4, 8, then multiples of 16 up to 512): the
// padded rows are reported and counted in the experts' FLOPs, and the weights' bytes follow the
// precision.
TEST(MoePrecision, PaddedPanelsAndTheCostPerPrecision) {
  const MoeShape s{64, 3, 1, 128};  // widths oneDNN's blocked layouts do not pad
  const int64_t n = 700;
  const auto X = random_input(n * s.d, 7);
  auto fp32 = test_support::build_kernel("moe", s.config("fp32"), n, kSeed);
  auto grouped = test_support::build_kernel("moe", {{"impl", "grouped"}, {"d", "64"}, {"experts", "3"}, {"top_k", "1"}, {"d_e", "128"}}, n, kSeed);
  AlignedVector<float> Y(n * s.d);
  fp32->forward(X.data(), Y.data(), n, nullptr);
  grouped->forward(X.data(), Y.data(), n, nullptr);
  int64_t padded = 0;
  for (int64_t tokens : expert_tokens(*fp32))
    for (int64_t left = tokens; left > 0; left -= 512) {
      const int64_t rows = std::min<int64_t>(left, 512);
      int64_t m = 1;
      if (rows <= 8) {
        while (m < rows) m *= 2;
      } else {
        m = (rows + 15) / 16 * 16;
      }
      padded += m - rows;
    }
  EXPECT_EQ(fp32->extras().at("expert_padded_rows"), std::to_string(padded));
  EXPECT_GT(padded, 0);
  EXPECT_DOUBLE_EQ(fp32->cost(n).flops - grouped->cost(n).flops, 4.0 * padded * s.d * s.d_e);
  EXPECT_NE(fp32->extras().at("onednn_impl").find('|'), std::string::npos);

  // Expert bytes: the reordered weights (4, 2, 1 per weight; int8's s8 layout may add a
  // compensation term) and the fp32 biases, + int8's steps; the router (fp32) the same for all.
  const double router = 4.0 * s.d * s.experts, weights = 2.0 * s.d * s.d_e, biases = 4.0 * (s.d_e + s.d);
  const double reached = 3;  // every expert gets tokens
  EXPECT_DOUBLE_EQ(fp32->cost(n).weight_bytes, router + reached * (4.0 * weights + biases));
  for (const char* precision : {"bf16", "int8"}) {
    auto k = test_support::build_kernel("moe", s.config(precision), n, kSeed);
    k->forward(X.data(), Y.data(), n, nullptr);
    const double per_weight = std::string(precision) == "bf16" ? 2.0 : 1.0;
    const double steps = std::string(precision) == "int8" ? biases : 0.0;
    const double expert = (k->cost(n).weight_bytes - router) / reached - biases - steps;
    EXPECT_GE(expert, per_weight * weights) << precision;
    EXPECT_LT(expert, per_weight * weights * 1.25) << precision << " (s8 layouts add a compensation term)";
    EXPECT_GT(k->cost(n).activation_bytes, fp32->cost(n).activation_bytes * 0.5) << precision;
  }
}

TEST(MoePrecision, DeclaresOneDnnAndTheIsaValgrindLacks) {
  const MoeShape s{16, 4, 2, 24};
  EXPECT_EQ(test_support::build_kernel("moe", s.config("fp32"), 8, kSeed)->needs_isa(), "");
  EXPECT_EQ(test_support::build_kernel("moe", s.config("bf16"), 8, kSeed)->needs_isa(), "AVX512-BF16 or AMX (oneDNN's bf16 matmul; valgrind 3.19 decodes no AVX-512)");
  auto int8 = test_support::build_kernel("moe", s.config("int8"), 8, kSeed);
  EXPECT_EQ(int8->needs_isa(), "AVX-512 VNNI or AMX-INT8 (oneDNN's int8 matmul; valgrind 3.19 decodes no AVX-512)");
  EXPECT_TRUE(int8->uses_onednn());
  auto grouped = test_support::build_kernel("moe", {{"impl", "grouped"}}, 8, kSeed);
  EXPECT_FALSE(grouped->uses_onednn());
  EXPECT_EQ(grouped->needs_isa(), "");
}

// ---- soft_lookup -------------------------------------------------------------------------------

// softmax(X·Rᵀ / T)·L in double, R and L drawn as the kernel draws them and stored as `precision`
// stores them (int8: R with a step per bucket, its rows; L with a step per output column).
std::vector<double> soft_lookup_in_double(int64_t d, int64_t d_out, int64_t buckets, double temperature,
                                          const std::string& precision, const float* X, int64_t tokens) {
  std::vector<float> r(buckets * d), rt(d * buckets), l(buckets * d_out);
  const float a = 1.0f / std::sqrt(static_cast<float>(d));
  fill_uniform(r.data(), r.size(), kSeed, 51, -a, a);
  fill_uniform(l.data(), l.size(), kSeed, 52, -1.0f, 1.0f);
  for (int64_t b = 0; b < buckets; ++b)
    for (int64_t i = 0; i < d; ++i) rt[i * buckets + b] = r[b * d + i];
  as_the_kernel_stores(rt.data(), d, buckets, precision);
  as_the_kernel_stores(l.data(), buckets, d_out, precision);
  std::vector<double> Y(tokens * d_out), z(buckets);
  for (int64_t t = 0; t < tokens; ++t) {
    double mx = -1e300, sum = 0;
    for (int64_t b = 0; b < buckets; ++b) {
      double acc = 0;
      for (int64_t i = 0; i < d; ++i) acc += double(X[t * d + i]) * rt[i * buckets + b];
      z[b] = acc / temperature;
      mx = std::max(mx, z[b]);
    }
    for (double& v : z) sum += (v = std::exp(v - mx));
    for (int64_t o = 0; o < d_out; ++o) {
      double acc = 0;
      for (int64_t b = 0; b < buckets; ++b) acc += z[b] / sum * l[b * d_out + o];
      Y[t * d_out + o] = acc;
    }
  }
  return Y;
}

TEST(SoftLookupPrecision, EveryPrecisionMatchesItsReferenceWithinItsBound) {
  const int64_t d = 37, d_out = 29, buckets = 83, n = 211;
  for (const char* temperature : {"1", "0.25"})
    for (const char* precision : kPrecisions) {
      SCOPED_TRACE(std::string(precision) + " temperature " + temperature);
      auto k = test_support::build_kernel("soft_lookup",
                                          {{"impl", "onednn"}, {"precision", precision}, {"d", "37"}, {"d_out", "29"},
                                           {"B", "83"}, {"temperature", temperature}},
                                          n, kSeed);
      const auto X = random_input(n * d, 8);
      AlignedVector<float> Y(n * d_out);
      k->forward(X.data(), Y.data(), n, nullptr);
      const std::string p = precision;
      const bool sharp = std::string(temperature) != "1";
      double tolerance = 0;
      const auto c = expect_within_its_bound(*k, p, X, Y,
                                             soft_lookup_in_double(d, d_out, buckets, std::stod(temperature), p, X.data(), n),
                                             n, p == "int8" ? (sharp ? 0.1 : 0.03) : 0.02, tolerance);
      if (p == "int8") {
        // One step for the batch's probabilities: as the softmax sharpens (T = 0.25) the small
        // probabilities keep fewer bits and the bound grows (here 0.51 with errors of 0.14).
        EXPECT_LT(tolerance, sharp ? 1.0 : 0.2) << c.max_error;
        EXPECT_NEAR(std::stod(k->extras().at("int8_x_step")), 1.0 / 127.0, 1e-4);
      }
    }
}

TEST(SoftLookupPrecision, TheCostFollowsThePrecision) {
  const std::map<std::string, std::string> shape = {{"impl", "onednn"}, {"d", "64"}, {"d_out", "48"}, {"B", "96"}};
  auto with = [&](const char* precision) {
    auto c = shape;
    c["precision"] = precision;
    return test_support::build_kernel("soft_lookup", c, 16, kSeed)->cost(16);
  };
  const double weights = 96.0 * (64 + 48);
  EXPECT_DOUBLE_EQ(with("fp32").weight_bytes, 4.0 * weights);
  EXPECT_DOUBLE_EQ(with("bf16").weight_bytes, 2.0 * weights);
  EXPECT_DOUBLE_EQ(with("int8").weight_bytes, 1.0 * weights + 4.0 * (96 + 48));
  EXPECT_EQ(with("int8").flops, with("fp32").flops);
  EXPECT_EQ(test_support::build_kernel("soft_lookup", {{"impl", "onednn"}, {"precision", "int8"}}, 4, kSeed)->needs_isa(),
            "AVX-512 VNNI or AMX-INT8 (oneDNN's int8 matmul; valgrind 3.19 decodes no AVX-512)");
}

// ---- bad input -----------------------------------------------------------------------------------

TEST(FamiliesPrecision, ValidationMessages) {
  EXPECT_EQ(test_support::validation_error("moe", {{"impl", "grouped"}, {"precision", "int8"}}),
            "invalid value 'int8' for 'moe.precision': needs impl=onednn (impl=grouped has no int8)");
  EXPECT_EQ(test_support::validation_error("moe", {{"impl", "per_token"}, {"precision", "bf16"}}),
            "invalid value 'bf16' for 'moe.precision': needs impl=onednn (impl=per_token has no bf16)");
  EXPECT_EQ(test_support::validation_error("moe", {{"impl", "onednn"}, {"precision", "fp16"}}),
            "invalid value 'fp16' for 'moe.precision': must be one of: fp32, bf16, int8");
  EXPECT_EQ(test_support::validation_error("soft_lookup", {{"impl", "blas"}, {"precision", "int8"}}),
            "invalid value 'int8' for 'soft_lookup.precision': needs impl=onednn (impl=blas has no int8)");
  EXPECT_EQ(test_support::validation_error("soft_lookup", {{"impl", "reference"}, {"precision", "bf16"}}),
            "invalid value 'bf16' for 'soft_lookup.precision': needs impl=onednn (impl=reference has no bf16)");
  EXPECT_EQ(test_support::validation_error("moe", {{"impl", "onednn"}, {"precision", "int8"}}), "no error");
}

TEST(FamiliesPrecision, BadInputExitsWithStatus2) {
  const std::filesystem::path dir = ffnbench::testing::test_temp_dir("families_precision_bad_input");
  std::ofstream(dir / "x.ini") << "name = x\ntokens = 32\nthreads = 1\ncounters = none\noutput = " << (dir / "out").string()
                               << "\n\n[moe]\nimpl = per_token\nprecision = int8\nd = 32\nd_e = 64\n";
  ffnbench::testing::CliResult r = ffnbench::testing::run_cli("sweep " + (dir / "x.ini").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("invalid value 'int8' for 'moe.precision': needs impl=onednn (impl=per_token has no int8)"),
            std::string::npos)
      << r.output;
  std::ofstream(dir / "y.ini") << "name = y\ntokens = 32\nthreads = 1\ncounters = none\noutput = " << (dir / "out").string()
                               << "\n\n[soft_lookup]\nimpl = blas\nprecision = bf16\nd = 32\nB = 64\n";
  r = ffnbench::testing::run_cli("sweep " + (dir / "y.ini").string());
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("invalid value 'bf16' for 'soft_lookup.precision': needs impl=onednn (impl=blas has no bf16)"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  std::filesystem::remove_all(dir);
}

}  // namespace

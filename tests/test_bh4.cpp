// BH4: the Walsh-Hadamard invariant, the explicit dense factorization, impls vs reference.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "bh4/bh4_transform.hpp"
#include "bh4/block_kernel.hpp"
#include "bh4/fwht.hpp"
#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "support_kernels.hpp"

using namespace ffnbench;

namespace {

std::unique_ptr<Kernel> build(std::map<std::string, std::string> given, int64_t tokens) {
  return test_support::build_kernel("bh4", given, tokens, 3);
}
std::string error_of(std::map<std::string, std::string> given) { return test_support::validation_error("bh4", given); }

}  // namespace

TEST(Fwht, KnownAnswerOnFourPoints) {
  std::vector<float> v = {1, 2, 3, 4};
  fwht_scalar(v.data(), 4);
  EXPECT_EQ(v, (std::vector<float>{10, -2, -4, 0}));
}

TEST(Fwht, AppliedTwiceIsNTimesIdentityOnEveryPath) {
  for (FwhtPath path : {FwhtPath::Scalar, FwhtPath::Avx2, FwhtPath::Avx512}) {
    if (path == FwhtPath::Avx512 && !__builtin_cpu_supports("avx512f")) continue;
    if (path == FwhtPath::Avx2 && !__builtin_cpu_supports("avx2")) continue;
    for (int64_t n : {1, 2, 4, 8, 16, 32, 512, 2048}) {
      std::vector<float> v(n), original(n);
      fill_uniform(original.data(), n, 1, n, -1.0f, 1.0f);
      v = original;
      fwht_rows(v.data(), 1, n, n, path);
      fwht_rows(v.data(), 1, n, n, path);
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(v[i], n * original[i], 1e-4 * n) << to_string(path) << " n=" << n;
    }
  }
}

TEST(Fwht, VectorPathsMatchScalar) {
  std::vector<float> a(1024), b;
  fill_uniform(a.data(), a.size(), 2, 2, -1.0f, 1.0f);
  b = a;
  fwht_scalar(a.data(), 1024);
  fwht_rows(b.data(), 1, 1024, 1024, best_fwht_path());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4);
}

TEST(Fwht, LevelsFromABlockSizeAfterInBlockTransformsEqualTheWholeTransform) {
  // H_n = (levels h ≥ from) · (H_from on each aligned block): what BH4's folded weights rely on.
  for (FwhtPath path : {FwhtPath::Scalar, FwhtPath::Avx2, FwhtPath::Avx512}) {
    if (path == FwhtPath::Avx512 && !__builtin_cpu_supports("avx512f")) continue;
    if (path == FwhtPath::Avx2 && !__builtin_cpu_supports("avx2")) continue;
    for (int64_t from : {2, 8, 16, 64, 512}) {
      const int64_t n = 512;
      std::vector<float> whole(n), split;
      fill_uniform(whole.data(), n, 3, from, -1.0f, 1.0f);
      split = whole;
      fwht_rows(whole.data(), 1, n, n, path);
      for (int64_t blk = 0; blk < n; blk += from) fwht_scalar(split.data() + blk, from);
      fwht_rows(split.data(), 1, n, n, path, from);
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(split[i], whole[i], 1e-4) << to_string(path) << " from=" << from << " i=" << i;
    }
  }
}

TEST(Bh4Transform, EqualsTheProductOfItsDenseFactors) {
  // d = 12 pads to d' = 16; b = 4; two copies.
  Bh4Transform bh4(12, 4, 2, 9, 1);
  const int64_t n = bh4.padded();
  std::vector<float> hadamard(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) hadamard[i * n + j] = (__builtin_popcountll(i & j) % 2) ? -1.0f : 1.0f;
  std::vector<float> u(n, 0.0f);
  fill_uniform(u.data(), 12, 4, 4, -1.0f, 1.0f);
  std::vector<float> got(bh4.outputs());
  bh4.reference(u.data(), got.data());
  for (int64_t c = 0; c < 2; ++c) {
    std::vector<double> v(u.begin(), u.end());
    for (int r = 0; r < 4; ++r) {
      auto block = bh4.dense_block_factor(c, r);
      std::vector<double> t(n, 0.0), w(n, 0.0);
      for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k < n; ++k) t[j] += v[k] * block[k * n + j];
      for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k < n; ++k) w[j] += t[k] * hadamard[k * n + j];
      v = w;
    }
    for (int64_t j = 0; j < n; ++j) EXPECT_NEAR(got[c * n + j], v[j], 1e-5 * (1 + std::abs(v[j]))) << c << "," << j;
  }
}

TEST(Bh4, EveryImplMatchesItsReferenceOnOddWidths) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* d : {"37", "100", "512"})
      for (const char* b : {"4", "16", "32"})
        for (const char* impl : {"optimized", "dense"}) {
          auto k = build({{"d", d}, {"b", b}, {"impl", impl}, {"outputs", "150"}, {"tile", "5"}}, 23);
          GateResult g = test_support::check_all_rows(*k, 23);
          EXPECT_TRUE(g.passed) << d << " " << b << " " << impl << ": " << g.detail;
        }
  }
}

TEST(Bh4, BothBlockGemmsMatchTheReference) {
  std::vector<std::string> ways = {"openblas"};
  if (microkernel_supports(16)) ways.push_back("microkernel");
  else std::printf("[ SKIPPED part ] block_gemm=microkernel: this CPU has no AVX-512\n");
  for (const std::string& way : ways)
    for (const char* b : {"16", "64"}) {
      auto k = build({{"d", "300"}, {"b", b}, {"outputs", "700"}, {"tile", "7"}, {"block_gemm", way}}, 23);
      EXPECT_EQ(k->extras().at("block_gemm"), way);
      GateResult g = test_support::check_all_rows(*k, 23);
      EXPECT_TRUE(g.passed) << way << " b=" << b << ": " << g.detail;
    }
  // auto takes one of the two, and OpenBLAS where the micro-kernel cannot run (b = 8).
  auto narrow = build({{"d", "64"}, {"b", "8"}}, 4);
  EXPECT_EQ(narrow->extras().at("block_gemm"), "openblas");
}

TEST(Bh4, CostCountsBlockMacsAndHadamardAdds) {
  auto k = build({{"d", "512"}, {"b", "64"}, {"outputs", "1024"}}, 1);
  // 2 copies × (4·512·64 MACs = 2 FLOPs each + 4·512·9 add/sub)
  EXPECT_DOUBLE_EQ(k->cost(1).flops, 2 * (2.0 * 4 * 512 * 64 + 4.0 * 512 * 9));
  auto dense = build({{"d", "512"}, {"impl", "dense"}, {"outputs", "1024"}}, 1);
  EXPECT_DOUBLE_EQ(dense->cost(1).flops, 2.0 * 512 * 1024);
}

TEST(Bh4, ValidationMessages) {
  EXPECT_EQ(error_of({{"d", "100"}, {"b", "256"}}),
            "invalid value '256' for 'bh4.b': must divide d' = 128 (the padded width of d = 100)");
  EXPECT_EQ(error_of({{"b", "48"}}), "invalid value '48' for 'bh4.b': must be an integer power of two in [1, 65536]");
  EXPECT_EQ(error_of({{"impl", "fast"}}), "invalid value 'fast' for 'bh4.impl': must be one of: optimized, reference, dense");
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_EQ(error_of({{"b", "8"}, {"block_gemm", "microkernel"}}),
              "invalid value 'microkernel' for 'bh4.block_gemm': needs AVX-512 and b a multiple of 16 (this CPU has "
              "AVX-512; b = 8); use auto or openblas");
  }
}

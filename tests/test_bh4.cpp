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

TEST(Bh4, CostCountsBlockMacsAndTheHadamardLevelsEachImplRuns) {
  // 2 copies × (4·512·64 MACs = 2 FLOPs each + 4 rounds of 512 add/subtracts per level run):
  // the reference runs all 9 levels; the optimized impl folds the 6 inside a 64-block into the
  // block weights where b is a register wide, leaving 3.
  auto ref = build({{"d", "512"}, {"b", "64"}, {"outputs", "1024"}, {"impl", "reference"}}, 1);
  EXPECT_DOUBLE_EQ(ref->cost(1).flops, 2 * (2.0 * 4 * 512 * 64 + 4.0 * 512 * 9));
  auto opt = build({{"d", "512"}, {"b", "64"}, {"outputs", "1024"}}, 1);
  const double levels = opt->extras().at("hadamard_fold") == "yes" ? 3 : 9;
  EXPECT_DOUBLE_EQ(opt->cost(1).flops, 2 * (2.0 * 4 * 512 * 64 + 4.0 * 512 * levels));
  auto dense = build({{"d", "512"}, {"impl", "dense"}, {"outputs", "1024"}}, 1);
  EXPECT_DOUBLE_EQ(dense->cost(1).flops, 2.0 * 512 * 1024);
}

namespace {

// Butterflies that fwht_scalar/fwht_rows run over n values from level `from`: counted by hand
// from the level loop.
double butterfly_ops(int64_t n, int64_t from) {
  double ops = 0;
  for (int64_t half = from; half < n; half *= 2) ops += n;  // n/2 butterflies of an add and a subtract
  return ops;
}

}  // namespace

TEST(Bh4, CostEqualsACountOfTheLoopsForEveryImplAndFold) {
  // d = 100 pads to 128; 300 outputs = 3 copies. b = 8 is below an AVX-512 register (no fold
  // there), b = 16 and 128 fold (128: one block, no levels left).
  for (const char* b : {"2", "8", "16", "128"})
    for (const char* impl : {"optimized", "reference", "dense"}) {
      auto k = build({{"d", "100"}, {"b", b}, {"outputs", "300"}, {"impl", impl}}, 3);
      const int64_t bb = std::stoi(b);
      const bool folded = std::string(impl) == "optimized" && k->extras().at("hadamard_fold") == "yes";
      double per_token = 0;
      if (std::string(impl) == "dense") {
        per_token = 2.0 * 100 * 300;
      } else {
        for (int64_t c = 0; c < 3; ++c)
          for (int r = 0; r < 4; ++r) per_token += 2.0 * 128 * bb + butterfly_ops(128, folded ? bb : 1);
      }
      EXPECT_DOUBLE_EQ(k->cost(5).flops, 5 * per_token) << "b=" << b << " " << impl;
      if (std::string(impl) == "optimized" && __builtin_cpu_supports("avx512f"))
        EXPECT_EQ(k->extras().at("hadamard_fold"), bb >= 16 ? "yes" : "no") << b;
    }
}

TEST(Bh4, ColdModeRegionsCoverTheWeightsEachImplReads) {
  for (const char* impl : {"optimized", "reference", "dense"}) {
    auto k = build({{"d", "100"}, {"b", "16"}, {"outputs", "300"}, {"impl", impl}, {"tile", "8"}}, 50);
    AlignedVector<float> X(50 * 100), Y(50 * 300);
    fill_uniform(X.data(), X.size(), 1, 1, -1.0f, 1.0f);
    k->forward(X.data(), Y.data(), 50, nullptr);
    double bytes = 0;
    for (const MemoryRegion& r : k->memory_regions()) bytes += r.bytes;
    const double weights = std::string(impl) == "dense" ? 4.0 * 100 * 300 : 4.0 * 3 * 4 * 128 * 16;
    EXPECT_EQ(k->cost(50).weight_bytes, weights) << impl;
    EXPECT_GE(bytes, weights) << impl;
    if (std::string(impl) == "optimized")  // + per-thread tiles: in, work [tile][d'], out [tile][3·d']
      EXPECT_GE(bytes, weights + 4.0 * omp_get_max_threads() * 8 * (2 * 128 + 3 * 128)) << impl;
    EXPECT_EQ(k->cold_mode_gaps(), "");
  }
}

TEST(Bh4Transform, IsLinearAndTheFoldedTileEqualsTheReference) {
  // T(αu + βv) = αT(u) + βT(v) (float rounding aside), and apply_tile (folded at b = 64 where a
  // register is at most 64 wide) reproduces the reference on every row.
  Bh4Transform bh4(200, 64, 2, 4, 9, BlockGemm::Openblas);
  const int64_t n = bh4.padded(), rows = 3;
  std::vector<float> in(rows * n, 0.0f);
  for (int64_t r = 0; r < 2; ++r) fill_uniform(in.data() + r * n, 200, 6, r, -1.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) in[2 * n + i] = 0.5f * in[i] - 2.0f * in[n + i];
  std::vector<float> ref(rows * bh4.outputs());
  for (int64_t r = 0; r < rows; ++r) bh4.reference(in.data() + r * n, ref.data() + r * bh4.outputs());
  double scale = 0;
  for (float v : ref) scale = std::max(scale, double(std::abs(v)));
  for (int64_t j = 0; j < bh4.outputs(); ++j)
    ASSERT_NEAR(ref[2 * bh4.outputs() + j], 0.5 * ref[j] - 2.0 * ref[bh4.outputs() + j], 1e-5 * scale) << j;
  AlignedVector<float> tile_in(rows * n), work(rows * n), out(rows * bh4.outputs());
  std::copy(in.begin(), in.end(), tile_in.begin());
  bh4.apply_tile(tile_in.data(), out.data(), rows, work.data());
  for (int64_t j = 0; j < rows * bh4.outputs(); ++j) ASSERT_NEAR(out[j], ref[j], 1e-5 * scale) << j;
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

// bf16 block products (AVX512-BF16): the reference repeats the kernel's arithmetic, so the tile
// equals it to the bit on every row, tile size and copy; against the fp32 transform the error is
// that of bf16 inputs and weights (relative 2^-9 each, over four rounds: well under 2%), and the
// variant's gate passes exactly at odd widths.
TEST(Bh4Bf16, TheTileEqualsTheReferenceToTheBitAndStaysNearTheFp32Transform) {
  if (!bf16_microkernel_supports(16)) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  for (int64_t b : {16, 64}) {
    Bh4Transform bh4(300, b, 2, 4, 9, std::nullopt, Bh4Precision::Bf16);
    const int64_t n = bh4.padded(), rows = 7;
    AlignedVector<float> in(rows * n), work(bh4.work_floats(rows)), out(rows * bh4.outputs());
    std::fill(in.begin(), in.end(), 0.0f);  // the padding 300..d' is zero (AlignedVector leaves it unset)
    for (int64_t r = 0; r < rows; ++r) fill_uniform(in.data() + r * n, 300, 6, r, -1.0f, 1.0f);
    bh4.apply_tile(in.data(), out.data(), rows, work.data());
    std::vector<float> ref(bh4.outputs()), fp32(bh4.outputs());
    double err = 0, norm = 0;
    for (int64_t r = 0; r < rows; ++r) {
      bh4.reference(in.data() + r * n, ref.data());
      bh4.reference_fp32(in.data() + r * n, fp32.data());
      for (int64_t j = 0; j < bh4.outputs(); ++j) {
        ASSERT_EQ(out[r * bh4.outputs() + j], ref[j]) << "b=" << b << " row " << r << " column " << j;
        err += (double(ref[j]) - fp32[j]) * (double(ref[j]) - fp32[j]);
        norm += double(fp32[j]) * fp32[j];
      }
    }
    const double rel = std::sqrt(err / norm);
    EXPECT_GT(rel, 1e-4) << "bf16 must round: an error this small means fp32 ran";
    EXPECT_LT(rel, 2e-2) << "b=" << b;
  }
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (const char* d : {"37", "512"}) {
      auto k = build({{"d", d}, {"b", "16"}, {"precision", "bf16"}, {"outputs", "150"}, {"tile", "5"}}, 23);
      EXPECT_EQ(k->extras().at("block_gemm"), "microkernel_bf16");
      GateResult g = test_support::check_all_rows(*k, 23);
      EXPECT_TRUE(g.passed) << d << ": " << g.detail;
      EXPECT_EQ(g.max_error, 0.0) << d;
      EXPECT_NE(k->needs_isa().find("AVX512-BF16"), std::string::npos);
    }
  }
}

TEST(Bh4Bf16, CostAndWeightsAreThoseOfTheBf16Copy) {
  if (!bf16_microkernel_supports(16)) GTEST_SKIP() << "this CPU has no AVX512-BF16";
  Bh4Transform fp32(512, 64, 2, 4, 9, BlockGemm::Microkernel), bf16(512, 64, 2, 4, 9, std::nullopt, Bh4Precision::Bf16);
  EXPECT_EQ(bf16.weight_bytes(), fp32.weight_bytes() / 2);
  EXPECT_EQ(bf16.block_flops_per_token(), fp32.block_flops_per_token());
  EXPECT_EQ(bf16.hadamard_flops_per_token(), fp32.hadamard_flops_per_token());
  EXPECT_EQ(bf16.reference_hadamard_flops_per_token(), bf16.hadamard_flops_per_token());
  EXPECT_EQ(bf16.weights_region(true).bytes, static_cast<size_t>(bf16.weight_bytes()));
}

TEST(Bh4Bf16, ValidationMessages) {
  EXPECT_EQ(error_of({{"precision", "bf16"}, {"impl", "dense"}}),
            "invalid value 'bf16' for 'bh4.precision': impl=dense is the fp32 GEMM d → outputs; bf16 needs "
            "impl=optimized or reference");
  const std::string has = __builtin_cpu_supports("avx512bf16") ? "has" : "has no";
  EXPECT_EQ(error_of({{"precision", "bf16"}, {"b", "8"}}),
            "invalid value 'bf16' for 'bh4.precision': needs AVX512-BF16 and b a multiple of 16 (this CPU " + has +
                " AVX512-BF16; b = 8); use fp32");
}

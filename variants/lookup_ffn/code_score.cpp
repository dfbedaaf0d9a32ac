#include "lookup_ffn/code_score.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

#include "common/fast_math.hpp"
#include "common/simd.hpp"

namespace ffnbench {

void code_score_reference(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores) {
  for (int64_t k = 0; k < h; ++k) {
    uint32_t code = 0;
    double sum = 0, prod = 1;
    for (int64_t j = 0; j < tau; ++j) {
      const double v = z[k * tau + j];
      code = (code << 1) | (v > 0 ? 1u : 0u);
      sum += std::abs(v);
      prod *= 1.0 + std::exp(-2.0 * std::abs(v));
    }
    codes[k] = code;
    scores[k] = static_cast<float>(sum / prod);
  }
}

namespace {

const bool kHasAvx512 = __builtin_cpu_supports("avx512f");

// Per-table reductions over τ values for τ a power of two ≤ 16, sixteen tables at a time. Their
// τ·16 values fill τ vectors, each holding 16/τ tables of τ lanes. One tree step merges two
// vectors with groups of g lanes into one with groups of g/2 (lane j of a group plus lane
// j + g/2), so log2 τ steps leave one vector with one lane per table; a final permutation puts
// the tables in order. The code is the same tree over lanes holding [z > 0]·2^(τ-1-j) (exact in
// float below 2^24). Setting the indices up once per τ keeps the hot loop to permutes and adds.
struct ReductionTree {
  int steps = 0;
  alignas(64) int32_t low[4][16], high[4][16];  // permutex2var indices per step (a: 0..15, b: 16..31)
  alignas(64) int32_t table_order[16];          // lane holding table t after the last step
  alignas(64) float bit_weight[16];             // 2^(τ-1-j) for lane j of a group

  explicit ReductionTree(int tau) {
    steps = std::countr_zero(static_cast<unsigned>(tau));
    for (int lane = 0; lane < 16; ++lane) bit_weight[lane] = static_cast<float>(1u << (tau - 1 - lane % tau));
    for (int s = 0, g = tau; s < steps; ++s, g /= 2)
      for (int lane = 0; lane < 16; ++lane) {
        const int half = g / 2, within = lane % 8;
        low[s][lane] = (lane < 8 ? 0 : 16) + (within / half) * g + within % half;
        high[s][lane] = low[s][lane] + half;
      }
    // Follow table labels through the same steps to find where each table ends up.
    std::array<std::array<int, 16>, 16> label{};
    for (int v = 0; v < tau; ++v)
      for (int lane = 0; lane < 16; ++lane) label[v][lane] = (16 * v + lane) / tau;
    for (int s = 0, vectors = tau; s < steps; ++s, vectors /= 2)
      for (int v = 0; v < vectors / 2; ++v) {
        std::array<int, 16> merged;
        for (int lane = 0; lane < 16; ++lane) {
          const int i = low[s][lane];
          merged[lane] = i < 16 ? label[2 * v][i] : label[2 * v + 1][i - 16];
        }
        label[v] = merged;
      }
    for (int lane = 0; lane < 16; ++lane) table_order[label[0][lane]] = lane;
  }
};

const ReductionTree& tree_for(int tau) {
  static const ReductionTree trees[5] = {ReductionTree(1), ReductionTree(2), ReductionTree(4), ReductionTree(8),
                                         ReductionTree(16)};
  return trees[std::countr_zero(static_cast<unsigned>(tau))];
}

// Sixteen tables: their τ·16 values z -> 16 codes and scores. τ is a template parameter so
// that the tree unrolls and its vectors stay in registers.
template <int kTau>
__attribute__((target("avx512f"))) void sixteen_tables_avx512(const ReductionTree& tree, const float* z,
                                                               uint32_t* codes, float* scores) {
  __m512 sum[kTau], prod[kTau], code[kTau];
  const __m512 weight = _mm512_load_ps(tree.bit_weight);
  for (int v = 0; v < kTau; ++v) {
    const __m512 values = _mm512_loadu_ps(z + 16 * v);
    sum[v] = _mm512_abs_ps(values);
    prod[v] = _mm512_add_ps(_mm512_set1_ps(1.0f), fast_exp16(_mm512_mul_ps(_mm512_set1_ps(-2.0f), sum[v])));
    code[v] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(values, _mm512_setzero_ps(), _CMP_GT_OQ), weight);
  }
  for (int s = 0, n = kTau; n > 1; ++s, n /= 2) {
    const __m512i low = _mm512_load_si512(tree.low[s]), high = _mm512_load_si512(tree.high[s]);
    for (int v = 0; v < n / 2; ++v) {
      const int a = 2 * v, b = 2 * v + 1;
      sum[v] = _mm512_add_ps(_mm512_permutex2var_ps(sum[a], low, sum[b]), _mm512_permutex2var_ps(sum[a], high, sum[b]));
      prod[v] = _mm512_mul_ps(_mm512_permutex2var_ps(prod[a], low, prod[b]),
                              _mm512_permutex2var_ps(prod[a], high, prod[b]));
      code[v] = _mm512_add_ps(_mm512_permutex2var_ps(code[a], low, code[b]),
                              _mm512_permutex2var_ps(code[a], high, code[b]));
    }
  }
  const __m512i order = _mm512_load_si512(tree.table_order);
  _mm512_storeu_ps(scores, _mm512_div_ps(_mm512_permutexvar_ps(order, sum[0]), _mm512_permutexvar_ps(order, prod[0])));
  _mm512_storeu_si512(codes, _mm512_cvtps_epi32(_mm512_permutexvar_ps(order, code[0])));
}

using SixteenTables = void (*)(const ReductionTree&, const float*, uint32_t*, float*);
SixteenTables sixteen_tables_for(int64_t tau) {
  switch (tau) {
    case 1: return sixteen_tables_avx512<1>;
    case 2: return sixteen_tables_avx512<2>;
    case 4: return sixteen_tables_avx512<4>;
    case 8: return sixteen_tables_avx512<8>;
    case 16: return sixteen_tables_avx512<16>;
    default: return nullptr;
  }
}

// Any τ: one contiguous, vectorized pass over the values (|z| and 1 + exp(-2|z|)), then short
// per-table reductions.
void code_score_portable(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores) {
  constexpr int64_t kMaxValues = 4096;
  alignas(64) float magnitude[kMaxValues], factor[kMaxValues];
  for (int64_t base = 0; base < h; base += kMaxValues / tau) {
    const int64_t tables = std::min(h - base, kMaxValues / tau);
    const float* zb = z + base * tau;
    const int64_t n = tables * tau;
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      magnitude[i] = zb[i] < 0.0f ? -zb[i] : zb[i];
      factor[i] = 1.0f + fast_exp(-2.0f * magnitude[i]);
    }
    for (int64_t k = 0; k < tables; ++k) {
      uint32_t code = 0;
      float sum = 0.0f, prod = 1.0f;
      for (int64_t j = 0; j < tau; ++j) {
        code = (code << 1) | (zb[k * tau + j] > 0.0f ? 1u : 0u);
        sum += magnitude[k * tau + j];
        prod *= factor[k * tau + j];
      }
      codes[base + k] = code;
      scores[base + k] = sum / prod;
    }
  }
}

}  // namespace

double code_score_flops(int64_t h, int64_t tau) {
  const double per_value = 1 + kFastExpFlops + 1;
  // The AVX-512 tree: 16 tables of τ lanes reduce τ vectors to one, τ - 1 vector operations per
  // reduction (sum, product, code), 16 lanes each; then one divide per table.
  const int64_t tree_tables = kHasAvx512 && sixteen_tables_for(tau) != nullptr ? h / 16 * 16 : 0;
  const double tree = tree_tables * (tau * per_value + 3.0 * (tau - 1) + 1);
  // The portable pass: per table τ adds (sum), τ multiplies (product), one divide.
  const double portable = (h - tree_tables) * (tau * per_value + 2.0 * tau + 1);
  return tree + portable;
}

double code_score_reference_flops(int64_t h, int64_t tau) {
  return static_cast<double>(h) * (5.0 * tau + 1);  // per value -2·|z|, exp, 1 + e, sum, product; a divide
}

void code_score_token(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores) {
  int64_t k = 0;
  if (const SixteenTables sixteen_tables = kHasAvx512 ? sixteen_tables_for(tau) : nullptr) {
    const ReductionTree& tree = tree_for(static_cast<int>(tau));
    for (; k + 16 <= h; k += 16) sixteen_tables(tree, z + k * tau, codes + k, scores + k);
  }
  code_score_portable(z + k * tau, h - k, tau, codes + k, scores + k);
}

}  // namespace ffnbench

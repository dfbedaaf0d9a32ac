#include "lookup_ffn/gather.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <type_traits>

#include "common/simd.hpp"

namespace ffnbench {

GatherOrder parse_gather_order(const std::string& name) {
  if (name == "table_major") return GatherOrder::TableMajor;
  if (name == "tiled") return GatherOrder::Tiled;
  return GatherOrder::TokenMajor;
}

TablePrecision parse_table_precision(const std::string& name) {
  if (name == "bf16") return TablePrecision::Bf16;
  if (name == "int8") return TablePrecision::Int8;
  return TablePrecision::Fp32;
}

double table_element_bytes(TablePrecision p) {
  switch (p) {
    case TablePrecision::Bf16: return 2.0;
    case TablePrecision::Int8: return 1.0;
    case TablePrecision::Fp32: break;
  }
  return 4.0;
}

int64_t column_blocks(int64_t d_out) { return (d_out + kGatherCols - 1) / kGatherCols; }

int64_t tiled_gather_tile(int64_t tokens, int64_t d_out, int64_t tile, int threads) {
  const int64_t col_blocks = column_blocks(d_out);
  const int64_t tiles_wanted = (4 * threads + col_blocks - 1) / col_blocks;
  return std::max<int64_t>(1, std::min(tile, (tokens + tiles_wanted - 1) / tiles_wanted));
}

int64_t bf16_block_position(int64_t j) {
  const int64_t within = j % 32;
  return j - within + (within < 16 ? 2 * within : 2 * (within - 16) + 1);
}

template <class T>
void to_column_blocks(const T* rows_layout, T* blocked, int64_t h, int64_t rows, int64_t d_out) {
  const int64_t blocks = column_blocks(d_out);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t cb = 0; cb < blocks; ++cb)
    for (int64_t r = 0; r < h * rows; ++r) {
      T* dst = blocked + (cb * h * rows + r) * kGatherCols;
      for (int64_t j = 0; j < kGatherCols; ++j) {
        const int64_t col = cb * kGatherCols + j;
        dst[std::is_same_v<T, uint16_t> ? bf16_block_position(j) : j] = col < d_out ? rows_layout[r * d_out + col] : T{};
      }
    }
}
template void to_column_blocks<float>(const float*, float*, int64_t, int64_t, int64_t);
template void to_column_blocks<uint16_t>(const uint16_t*, uint16_t*, int64_t, int64_t, int64_t);
template void to_column_blocks<int8_t>(const int8_t*, int8_t*, int64_t, int64_t, int64_t);

namespace {

inline float widen(uint16_t v) { return std::bit_cast<float>(static_cast<uint32_t>(v) << 16); }

const bool kHasAvx512 = __builtin_cpu_supports("avx512f");

// 16 table values as floats (bf16 widened by a 16-bit shift).
__attribute__((target("avx512f"))) inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) inline __m512 load16(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}
__attribute__((target("avx512f"))) inline __m512 load16(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

inline float to_float(float v) { return v; }
inline float to_float(uint16_t v) { return widen(v); }
inline float to_float(int8_t v) { return static_cast<float>(v); }

// The weight of table k's chosen row for one token: its score, times the row's step for int8.
template <class T>
inline float row_weight(const float* scores, const uint32_t* codes, const float* row_scales, int64_t rows, int64_t k) {
  if constexpr (std::is_same_v<T, int8_t>) return scores[k] * row_scales[k * rows + codes[k]];
  return scores[k];
}

// y[0..n) += s · row[0..n). Explicit AVX-512 where present: left to itself the compiler
// vectorizes the callers' outer loops with gathers instead.
template <class T>
__attribute__((target("avx512f"))) void axpy_avx512(float* __restrict y, const T* __restrict row, float s, int64_t n) {
  const __m512 sv = _mm512_set1_ps(s);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, _mm512_fmadd_ps(sv, load16(row + j), _mm512_loadu_ps(y + j)));
  for (; j < n; ++j) y[j] += s * to_float(row[j]);
}

inline void axpy_portable(float* __restrict y, const float* __restrict row, float s, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) y[j] += s * row[j];
}
inline void axpy_portable(float* __restrict y, const uint16_t* __restrict row, float s, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) y[j] += s * widen(row[j]);
}
inline void axpy_portable(float* __restrict y, const int8_t* __restrict row, float s, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) y[j] += s * static_cast<float>(row[j]);
}

template <class T>
inline void axpy(float* __restrict y, const T* __restrict row, float s, int64_t n) {
  if (kHasAvx512) axpy_avx512(y, row, s, n);
  else axpy_portable(y, row, s, n);
}

// A column block's 64 values of one table row as 4 × 16 floats in column order. bf16 blocks are
// interleaved (gather.hpp): one 64-byte load holds 32 columns; a 16-bit shift widens columns
// 0..15, masking off the low halves gives columns 16..31.
__attribute__((target("avx512f"))) inline void load_block(const float* row, __m512 v[4]) {
  for (int i = 0; i < 4; ++i) v[i] = _mm512_loadu_ps(row + 16 * i);
}
__attribute__((target("avx512f"))) inline void load_block(const uint16_t* row, __m512 v[4]) {
  const __m512i high_halves = _mm512_set1_epi32(static_cast<int32_t>(0xFFFF0000u));
  for (int i = 0; i < 2; ++i) {
    const __m512i x = _mm512_loadu_si512(row + 32 * i);
    v[2 * i] = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
    v[2 * i + 1] = _mm512_castsi512_ps(_mm512_and_si512(x, high_halves));
  }
}
__attribute__((target("avx512f"))) inline void load_block(const int8_t* row, __m512 v[4]) {
  for (int i = 0; i < 4; ++i) v[i] = load16(row + 16 * i);
}

// out[0..n) = start[0..n) + Σ_k weight_k · rows_k[0..n) over one token's tables k0..k1 of a
// column block (n ≤ 64), the 64 sums in 4 registers. out and start may alias.
template <class T>
__attribute__((target("avx512f"))) void accumulate_block_avx512(float* out, const float* start, int64_t n,
                                                                const T* block, int64_t rows, const uint32_t* codes,
                                                                const float* scores, const float* row_scales,
                                                                int64_t k0, int64_t k1) {
  __mmask16 m[4];
  __m512 sum[4];
  for (int i = 0; i < 4; ++i) {
    m[i] = static_cast<__mmask16>((1u << std::clamp<int64_t>(n - 16 * i, 0, 16)) - 1);
    sum[i] = _mm512_maskz_loadu_ps(m[i], start + 16 * i);
  }
  for (int64_t k = k0; k < k1; ++k) {
    const __m512 s = _mm512_set1_ps(row_weight<T>(scores, codes, row_scales, rows, k));
    __m512 v[4];
    load_block(block + (k * rows + codes[k]) * kGatherCols, v);
    for (int i = 0; i < 4; ++i) sum[i] = _mm512_fmadd_ps(s, v[i], sum[i]);
  }
  for (int i = 0; i < 4; ++i) _mm512_mask_storeu_ps(out + 16 * i, m[i], sum[i]);
}

template <class T>
void accumulate_block(float* out, const float* start, int64_t n, const T* block, int64_t rows,
                      const uint32_t* codes, const float* scores, const float* row_scales, int64_t k0, int64_t k1) {
  if (kHasAvx512) return accumulate_block_avx512(out, start, n, block, rows, codes, scores, row_scales, k0, k1);
  alignas(64) float acc[kGatherCols] = {};
  std::memcpy(acc, start, n * sizeof(float));
  for (int64_t k = k0; k < k1; ++k) {
    const T* row = block + (k * rows + codes[k]) * kGatherCols;
    const float w = row_weight<T>(scores, codes, row_scales, rows, k);
    if constexpr (std::is_same_v<T, uint16_t>) {
      for (int64_t j = 0; j < kGatherCols; ++j) acc[j] += w * widen(row[bf16_block_position(j)]);
    } else {
      axpy_portable(acc, row, w, kGatherCols);
    }
  }
  std::memcpy(out, acc, n * sizeof(float));
}

template <class T>
const T* table_row(const GatherArgs& a, int64_t k, uint32_t code) {
  return static_cast<const T*>(a.tables) + (k * a.rows + code) * a.d_out;
}

// Token-major: the output row is built in column chunks small enough to live in registers/L1,
// walking all h tables per chunk, with the next table's row prefetched.
template <class T>
void token_major(const GatherArgs& a) {
  constexpr int64_t kChunk = 512;
#pragma omp parallel for schedule(static)
  for (int64_t t = 0; t < a.tokens; ++t) {
    const uint32_t* codes = a.codes + t * a.h;
    const float* scores = a.scores + t * a.h;
    float* y = a.y + t * a.d_out;
    for (int64_t c0 = 0; c0 < a.d_out; c0 += kChunk) {
      const int64_t n = std::min(kChunk, a.d_out - c0);
      alignas(64) float acc[kChunk];
      std::memcpy(acc, a.bias + c0, n * sizeof(float));
      for (int64_t k = 0; k < a.h; ++k) {
        if (k + 1 < a.h) __builtin_prefetch(table_row<T>(a, k + 1, codes[k + 1]) + c0);
        axpy(acc, table_row<T>(a, k, codes[k]) + c0, row_weight<T>(scores, codes, a.row_scales, a.rows, k), n);
      }
      std::memcpy(y + c0, acc, n * sizeof(float));
    }
  }
}

// Tables outermost over a block of tokens [t0, t1), rows of y initialised to the bias.
template <class T>
void tables_outer(const GatherArgs& a, int64_t t0, int64_t t1) {
  for (int64_t t = t0; t < t1; ++t) std::memcpy(a.y + t * a.d_out, a.bias, a.d_out * sizeof(float));
  for (int64_t k = 0; k < a.h; ++k)
    for (int64_t t = t0; t < t1; ++t) {
      const uint32_t* codes = a.codes + t * a.h;
      axpy(a.y + t * a.d_out, table_row<T>(a, k, codes[k]),
           row_weight<T>(a.scores + t * a.h, codes, a.row_scales, a.rows, k), a.d_out);
    }
}

template <class T>
void table_major(const GatherArgs& a) {
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    const int64_t per = (a.tokens + nt - 1) / nt;
    tables_outer<T>(a, std::min(a.tokens, id * per), std::min(a.tokens, (id + 1) * per));
  }
}

// Tiled: outputs in column blocks of kGatherCols and tokens in tiles; within a (column block,
// tile) the tables in groups of kGroup, each token's slice of the output accumulated in
// registers over a group. A group's table slices (kGroup·2^τ·64 values, 2 MB at τ = 8 in fp32)
// are read from LLC once per (column block, tile) and reused by every token of the tile in
// L2; the output slice is read and written once per group. Measured (EMR, τ = 8, h = 128):
// larger groups and tiles win, up to 32 tables and the whole batch — the output's extra
// passes cost more than table slices that overflow L2. The tile shrinks so that every thread
// gets several (column block, tile) units.
template <class T>
void tiled(const GatherArgs& a, int64_t tile) {
  constexpr int64_t kCols = kGatherCols, kGroup = 32;
  const int64_t col_blocks = column_blocks(a.d_out);
  tile = tiled_gather_tile(a.tokens, a.d_out, tile, omp_get_max_threads());
  const int64_t tiles = (a.tokens + tile - 1) / tile;
  const T* tables = static_cast<const T*>(a.tables);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
  for (int64_t cb = 0; cb < col_blocks; ++cb)
    for (int64_t ti = 0; ti < tiles; ++ti) {
      const int64_t c0 = cb * kCols, n = std::min(kCols, a.d_out - c0);
      const int64_t t0 = ti * tile, t1 = std::min(a.tokens, t0 + tile);
      const T* block = tables + cb * a.h * a.rows * kCols;
      for (int64_t k0 = 0; k0 < a.h; k0 += kGroup) {
        const int64_t k1 = std::min(a.h, k0 + kGroup);
        for (int64_t t = t0; t < t1; ++t) {
          float* y = a.y + t * a.d_out + c0;
          accumulate_block(y, k0 == 0 ? a.bias + c0 : y, n, block, a.rows, a.codes + t * a.h, a.scores + t * a.h,
                           a.row_scales, k0, k1);
        }
      }
    }
}

template <class T>
void dispatch(const GatherArgs& a, GatherOrder order, int64_t tile) {
  switch (order) {
    case GatherOrder::TokenMajor: return token_major<T>(a);
    case GatherOrder::TableMajor: return table_major<T>(a);
    case GatherOrder::Tiled: return tiled<T>(a, tile);
  }
}

}  // namespace

void gather_accumulate(const GatherArgs& a, GatherOrder order, int64_t tile) {
  switch (a.precision) {
    case TablePrecision::Bf16: return dispatch<uint16_t>(a, order, tile);
    case TablePrecision::Int8: return dispatch<int8_t>(a, order, tile);
    case TablePrecision::Fp32: return dispatch<float>(a, order, tile);
  }
}

}  // namespace ffnbench

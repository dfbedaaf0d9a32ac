#include "lookup_ffn/gather.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace ffnbench {

GatherOrder parse_gather_order(const std::string& name) {
  if (name == "table_major") return GatherOrder::TableMajor;
  if (name == "tiled") return GatherOrder::Tiled;
  return GatherOrder::TokenMajor;
}

int64_t column_blocks(int64_t d_out) { return (d_out + kGatherCols - 1) / kGatherCols; }

template <class T>
void to_column_blocks(const T* rows_layout, T* blocked, int64_t h, int64_t rows, int64_t d_out) {
  const int64_t blocks = column_blocks(d_out);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t cb = 0; cb < blocks; ++cb)
    for (int64_t r = 0; r < h * rows; ++r) {
      T* dst = blocked + (cb * h * rows + r) * kGatherCols;
      for (int64_t j = 0; j < kGatherCols; ++j) {
        const int64_t col = cb * kGatherCols + j;
        dst[j] = col < d_out ? rows_layout[r * d_out + col] : T{};
      }
    }
}
template void to_column_blocks<float>(const float*, float*, int64_t, int64_t, int64_t);
template void to_column_blocks<uint16_t>(const uint16_t*, uint16_t*, int64_t, int64_t, int64_t);

namespace {

inline float widen(uint16_t v) { return std::bit_cast<float>(static_cast<uint32_t>(v) << 16); }

const bool kHasAvx512 = __builtin_cpu_supports("avx512f");

// 16 table values as floats (bf16 widened by a 16-bit shift).
__attribute__((target("avx512f"))) inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) inline __m512 load16(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

// y[0..n) += s · row[0..n). Explicit AVX-512 where present: left to itself the compiler
// vectorizes the callers' outer loops with gathers instead.
template <class T>
__attribute__((target("avx512f"))) void axpy_avx512(float* __restrict y, const T* __restrict row, float s, int64_t n) {
  const __m512 sv = _mm512_set1_ps(s);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, _mm512_fmadd_ps(sv, load16(row + j), _mm512_loadu_ps(y + j)));
  for (; j < n; ++j) y[j] += s * static_cast<float>(row[j]);
}
template <>
__attribute__((target("avx512f"))) void axpy_avx512(float* __restrict y, const uint16_t* __restrict row, float s, int64_t n) {
  const __m512 sv = _mm512_set1_ps(s);
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, _mm512_fmadd_ps(sv, load16(row + j), _mm512_loadu_ps(y + j)));
  for (; j < n; ++j) y[j] += s * widen(row[j]);
}

inline void axpy_portable(float* __restrict y, const float* __restrict row, float s, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) y[j] += s * row[j];
}
inline void axpy_portable(float* __restrict y, const uint16_t* __restrict row, float s, int64_t n) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) y[j] += s * widen(row[j]);
}

template <class T>
inline void axpy(float* __restrict y, const T* __restrict row, float s, int64_t n) {
  if (kHasAvx512) axpy_avx512(y, row, s, n);
  else axpy_portable(y, row, s, n);
}

// acc[0..64) += Σ_k scores[k] · rows_k[0..64) over one token's tables k0..k1 of a column
// block, the 64 accumulators in 4 registers.
template <class T>
__attribute__((target("avx512f"))) void accumulate_block_avx512(float* acc, const T* block, int64_t rows,
                                                                const uint32_t* codes, const float* scores,
                                                                int64_t k0, int64_t k1) {
  __m512 a0 = _mm512_loadu_ps(acc), a1 = _mm512_loadu_ps(acc + 16), a2 = _mm512_loadu_ps(acc + 32),
         a3 = _mm512_loadu_ps(acc + 48);
  for (int64_t k = k0; k < k1; ++k) {
    const T* row = block + (k * rows + codes[k]) * kGatherCols;
    const __m512 s = _mm512_set1_ps(scores[k]);
    a0 = _mm512_fmadd_ps(s, load16(row), a0);
    a1 = _mm512_fmadd_ps(s, load16(row + 16), a1);
    a2 = _mm512_fmadd_ps(s, load16(row + 32), a2);
    a3 = _mm512_fmadd_ps(s, load16(row + 48), a3);
  }
  _mm512_storeu_ps(acc, a0);
  _mm512_storeu_ps(acc + 16, a1);
  _mm512_storeu_ps(acc + 32, a2);
  _mm512_storeu_ps(acc + 48, a3);
}

template <class T>
void accumulate_block(float* acc, const T* block, int64_t rows, const uint32_t* codes, const float* scores,
                      int64_t k0, int64_t k1) {
  if (kHasAvx512) return accumulate_block_avx512(acc, block, rows, codes, scores, k0, k1);
  for (int64_t k = k0; k < k1; ++k) axpy_portable(acc, block + (k * rows + codes[k]) * kGatherCols, scores[k], kGatherCols);
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
        axpy(acc, table_row<T>(a, k, codes[k]) + c0, scores[k], n);
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
    for (int64_t t = t0; t < t1; ++t)
      axpy(a.y + t * a.d_out, table_row<T>(a, k, a.codes[t * a.h + k]), a.scores[t * a.h + k], a.d_out);
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

// Tiled: outputs in column blocks of kGatherCols and tokens in tiles, so that one block of a
// tile's outputs (tile·64 floats) and the matching contiguous slices of a group of tables
// (kGroup·2^τ·64 values) sit in L2 together. Each table slice is then read from LLC/DRAM once
// per (column block, tile) instead of once per token, each output slice is read and written
// once per table group, and the inner loop keeps a token's slice in registers over the group.
template <class T>
void tiled(const GatherArgs& a, int64_t tile) {
  constexpr int64_t kCols = kGatherCols, kGroup = 16;
  const int64_t col_blocks = column_blocks(a.d_out), tiles = (a.tokens + tile - 1) / tile;
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
          const float* start = k0 == 0 ? a.bias + c0 : y;
          alignas(64) float acc[kCols] = {};
          std::memcpy(acc, start, n * sizeof(float));
          accumulate_block(acc, block, a.rows, a.codes + t * a.h, a.scores + t * a.h, k0, k1);
          std::memcpy(y, acc, n * sizeof(float));
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
  if (a.bf16) dispatch<uint16_t>(a, order, tile);
  else dispatch<float>(a, order, tile);
}

}  // namespace ffnbench

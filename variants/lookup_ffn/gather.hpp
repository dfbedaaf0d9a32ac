// LookupFFN's weighted gather-accumulate: y[t] = b + Σ_k score[t][k] · T_k[code[t][k]], tables
// [h][2^τ][d_out] in fp32, bf16 (widened by a 16-bit shift) or int8 with one scale per table row
// (T_k[r] = scale[k][r] · q[k][r], the scale folded into the score: one multiply per row read).
// Three orders:
//   token_major  each token walks all tables; its output row is accumulated in registers/L1.
//   table_major  the paper's order: each thread owns a token range and walks tables outermost,
//                re-streaming its output rows once per table.
//   tiled        outputs in 64-column blocks × tiles of up to `tile` tokens × groups of 32
//                tables: each table slice is read from LLC once per tile and reused from L2
//                (gather.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace ffnbench {

enum class GatherOrder { TokenMajor, TableMajor, Tiled };
GatherOrder parse_gather_order(const std::string& name);

// The tiled order reads tables in column blocks: [d_out/kGatherCols][h][rows][kGatherCols]
// (d_out padded with zeros), so a block's slice of a table is contiguous. In the row layout the
// slices sit 4·d_out bytes apart, a power-of-two stride that maps them onto a few cache sets.
// bf16 blocks interleave each 32 columns as (c0, c16, c1, c17, …, c15, c31) so that the kernel
// widens them with a shift and a mask; bf16_block_position(j) is where column j of a block sits.
inline constexpr int64_t kGatherCols = 64;
int64_t column_blocks(int64_t d_out);
// The tiled order's tokens per tile: at most `tile`, fewer so every thread gets about four
// (column block, tile) units.
int64_t tiled_gather_tile(int64_t tokens, int64_t d_out, int64_t tile, int threads);
int64_t bf16_block_position(int64_t j);
// Row layout [h][rows][d_out] -> column-blocked layout.
template <class T>
void to_column_blocks(const T* rows_layout, T* blocked, int64_t h, int64_t rows, int64_t d_out);

enum class TablePrecision { Fp32, Bf16, Int8 };
TablePrecision parse_table_precision(const std::string& name);
double table_element_bytes(TablePrecision p);

struct GatherArgs {
  const void* tables;     // float, uint16_t (bf16) or int8_t: [h][rows][d_out], column-blocked for tiled
  TablePrecision precision;
  const float* row_scales;  // int8: [h][rows], the step of each table row; else unused
  int64_t h, rows, d_out;
  const uint32_t* codes;  // [tokens][h]
  const float* scores;    // [tokens][h]
  const float* bias;      // [d_out]
  float* y;               // [tokens][d_out]
  int64_t tokens;
};

// Parallel (OpenMP) over tokens in the given order.
void gather_accumulate(const GatherArgs& a, GatherOrder order, int64_t tile);

}  // namespace ffnbench

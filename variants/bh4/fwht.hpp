// The unnormalized fast Walsh-Hadamard transform over rows of width n (a power of two):
// scalar, AVX2 and AVX-512 paths, the widest the CPU supports chosen at run time.
// Applying it twice multiplies by n (H·H = n·I).
#pragma once

#include <cstdint>
#include <string>

namespace ffnbench {

enum class FwhtPath { Scalar, Avx2, Avx512 };
const char* to_string(FwhtPath p);
FwhtPath best_fwht_path();  // by __builtin_cpu_supports

// In place over `rows` rows of `n` floats, `stride` floats apart. With from > 1 (a power of
// two) only the butterfly levels h = from, 2·from, … n/2: the transform across aligned blocks
// of `from` values, for callers that applied H_from inside each block themselves (BH4 folds it
// into its block weights). The levels commute, so the split is exact.
void fwht_rows(float* data, int64_t rows, int64_t n, int64_t stride, FwhtPath path, int64_t from = 1);
void fwht_scalar(float* v, int64_t n, int64_t from = 1);

}  // namespace ffnbench

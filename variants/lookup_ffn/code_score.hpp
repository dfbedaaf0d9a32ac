// LookupFFN's per-table code and score (DESIGN.md §4): for table k with τ values z_k,
//   code_k  = Σ_j [z_kj > 0]·2^(τ-1-j)               (first value = most significant bit)
//   score_k = (Σ_j |z_kj|) / Π_j (1 + exp(-2|z_kj|))
#pragma once

#include <cstdint>

namespace ffnbench {

// Scalar reference for one token: z[h·τ] -> codes[h], scores[h].
void code_score_reference(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores);

// One token: AVX-512 reduction trees sixteen tables at a time where τ is a power of two,
// else (and for the last h mod 16 tables) a vectorized pass and scalar reductions.
void code_score_token(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores);

// FLOPs per token as each form runs (operations a floating-point arithmetic counter sees: add,
// sub, mul, div, min/max, an FMA as 2; abs, compares, permutes and conversions are not FLOPs).
// code_score_token, per value: -2·|z|, fast_exp (20: clamp 2, range reduction 5, polynomial 12,
// scale 1), 1 + e; per table: the sum, product and (AVX-512 tree) code reductions and a divide.
// The reference: libm's exp counted as one operation (the reference checks, it is not tuned).
double code_score_flops(int64_t h, int64_t tau);
double code_score_reference_flops(int64_t h, int64_t tau);
inline constexpr double kFastExpFlops = 20;

}  // namespace ffnbench

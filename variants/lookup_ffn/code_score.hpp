// LookupFFN's per-table code and score (DESIGN.md §4): for table k with τ values z_k,
//   code_k  = Σ_j [z_kj > 0]·2^(τ-1-j)               (first value = most significant bit)
//   score_k = (Σ_j |z_kj|) / Π_j (1 + exp(-2|z_kj|))
#pragma once

#include <cstdint>

namespace ffnbench {

// Scalar reference for one token: z[h·τ] -> codes[h], scores[h].
void code_score_reference(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores);

// Vectorized over tables (`omp simd`, fast_exp), one token.
void code_score_token(const float* z, int64_t h, int64_t tau, uint32_t* codes, float* scores);

}  // namespace ffnbench

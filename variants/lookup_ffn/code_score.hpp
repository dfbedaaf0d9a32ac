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

}  // namespace ffnbench

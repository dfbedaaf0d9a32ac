// MoE routing for one token: softmax over E router logits, the top k (ties go to the lower
// expert index), their weights renormalized to sum to 1 (Mixtral's rule).
#pragma once

#include <cstdint>

namespace ffnbench {

// logits[E] -> experts[k], weights[k] (sorted by descending probability).
// Work per token (what cost() counts): E − 1 max operations, then per chosen expert a shift, an
// exp, an add and a divide (4·k); the top-k comparisons are not arithmetic.
void route_top_k(const float* logits, int64_t experts, int64_t k, int32_t* chosen, float* weights);
constexpr double route_top_k_flops(int64_t experts, int64_t k) { return double(experts - 1) + 4.0 * double(k); }

// The router W_r [d][E] (row-major), uniform ±1/sqrt(d), deterministic from the seed.
void fill_router(float* router, int64_t d, int64_t experts, uint64_t seed);

// The decision margin of one token's routing: over every chosen expert a and unchosen expert b
// (chosen by route_top_k on `logits`), the smallest (logit_a − logit_b) / (scale_a + scale_b),
// where scale_e = Σ_i |x_i·W_r[i][e]| is the size of the rounding a float dot product can make
// in logit e. 0 at an exact tie of the k-th and (k+1)-th logits; +inf when k = E (no boundary).
double top_k_margin(const float* logits, const double* scale, int64_t experts, int64_t k);

// The margin (in the units above) within which two float evaluations of a length-d router dot
// product can order the k-th and (k+1)-th experts differently: γ_d + 2u, u = 2^-24 (below).
double top_k_epsilon(int64_t d);

}  // namespace ffnbench

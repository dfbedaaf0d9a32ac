// MoE routing for one token: softmax over E router logits, the top k (ties go to the lower
// expert index), their weights renormalized to sum to 1 (Mixtral's rule).
#pragma once

#include <cstdint>

namespace ffnbench {

// logits[E] -> experts[k], weights[k] (sorted by descending probability).
void route_top_k(const float* logits, int64_t experts, int64_t k, int32_t* chosen, float* weights);

}  // namespace ffnbench

// An fff kernel on given weights instead of seeded random ones: known-answer tests build trees
// by hand (a logit exactly 0, a perturbed node) and check outputs computed on paper.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/params.hpp"
#include "core/variant.hpp"

namespace ffnbench {

// Layouts (K trees, nodes per tree n = 2^(D+1)-1 in the UltraFastBERT form, 2^D-1 in the FFF
// form; L = 2^D leaves per tree; ℓ = leaf_width), trees one after another:
//   w_in [K·n][d], b_in [K·n]; UltraFastBERT form: w_out [K·n][d_out];
//   FFF form: leaf_w1 [K·L][d][ℓ], leaf_b1 [K·L][ℓ], leaf_w2 [K·L][ℓ][d_out], leaf_b2 [K·L][d_out].
struct FffWeights {
  std::vector<float> w_in, b_in, w_out, leaf_w1, leaf_b1, leaf_w2, leaf_b2;
};

// `config` resolved for the fff variant (resolve_variant_config); throws std::invalid_argument
// when a weight array has the wrong size for it.
std::unique_ptr<Kernel> build_fff_kernel(const Config& config, const FffWeights& weights, int64_t max_tokens);

}  // namespace ffnbench

// The weights of a dense two-layer FFN, Y = act(X·W1 + b1)·W2 + b2, and its scalar reference.
#pragma once

#include <cstdint>

#include "common/activation.hpp"
#include "common/aligned.hpp"

namespace ffnbench {

struct DenseFfnWeights {
  int64_t d = 0, d_ff = 0;
  AlignedVector<float> w1, b1, w2, b2;  // w1 [d][d_ff], w2 [d_ff][d], row-major

  // Uniform ±1/sqrt(fan_in) (PyTorch's nn.Linear default range), deterministic from the seed.
  static DenseFfnWeights random(int64_t d, int64_t d_ff, uint64_t seed, bool with_bias = true);
};

// Scalar reference: double accumulation, one token at a time. `act` applies to the hidden layer.
// Without biases (b1/b2 empty) it is the plain product (X·W1)·W2.
void dense_ffn_reference(const DenseFfnWeights& w, Activation act, const float* X, float* Y, int64_t tokens);

}  // namespace ffnbench

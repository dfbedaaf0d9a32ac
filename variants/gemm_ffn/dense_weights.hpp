// The weights of a dense two-layer FFN, Y = act(LN(X)·W1 + b1)·W2 + b2 (LN optional), and its
// scalar reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/activation.hpp"
#include "common/aligned.hpp"

namespace ffnbench {

struct DenseFfnWeights {
  int64_t d = 0, d_ff = 0;
  AlignedVector<float> w1, b1, w2, b2;  // w1 [d][d_ff], w2 [d_ff][d], row-major
  AlignedVector<float> ln_gamma, ln_beta;  // [d] each; empty: no LayerNorm in front

  // Uniform ±1/sqrt(fan_in) (PyTorch's nn.Linear default range), deterministic from the seed.
  static DenseFfnWeights random(int64_t d, int64_t d_ff, uint64_t seed, bool with_bias = true);
  // Puts a LayerNorm in front with nn.LayerNorm's initial affine: γ = 1, β = 0.
  void add_layernorm();
  bool has_layernorm() const { return !ln_gamma.empty(); }
};

// Scalar reference: double accumulation, one token at a time. `act` applies to the hidden layer.
// Without biases (b1/b2 empty) it is the plain product (X·W1)·W2; with ln_gamma/ln_beta set, the
// rows are first LayerNorm'ed (layer_norm.hpp), in double.
void dense_ffn_reference(const DenseFfnWeights& w, Activation act, const float* X, float* Y, int64_t tokens);

// Grows a scratch buffer to at least n elements (never shrinks). The new storage is zeroed by a
// static OpenMP loop, so its pages are first touched by the threads a static loop over the same
// range gives them; the old contents are not kept (no copy by the calling thread).
template <class T>
void grow_scratch(AlignedVector<T>& v, size_t n) {
  if (v.size() >= n) return;
  AlignedVector<T> fresh(n);
  zero_parallel(fresh.data(), n);
  v.swap(fresh);
}

}  // namespace ffnbench

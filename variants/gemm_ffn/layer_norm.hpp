// LayerNorm over the last axis with an affine γ/β (PyTorch's nn.LayerNorm, ε = 1e-5), the step
// in front of the dense baseline LookupFFN's paper times: LayerNorm → Linear → GELU → Linear.
// Cost per row of width d (stated next to the kernel): 8·d FLOPs, two-pass like PyTorch —
// mean (1 add per element), variance ((x−μ)², 1 sub + 1 FMA), output ((x−μ)·r, then ·γ + β:
// 1 sub + 1 mul + 1 FMA); the per-row divide and square root are O(1) and not counted.
#pragma once

#include <cstdint>

namespace ffnbench {

constexpr float kLayerNormEpsilon = 1e-5f;
constexpr double kLayerNormFlopsPerElement = 8.0;

// U[r][0..d) = (X[r] − mean) / sqrt(var + ε) · gamma + beta for rows [0, rows); rows of
// ld_x / ld_u floats. AVX-512 (masked tails) where the CPU has it, `omp simd` elsewhere.
// `parallel`: a static OpenMP loop over rows; otherwise on the calling thread only.
void layer_norm_rows(const float* X, int64_t ld_x, float* U, int64_t ld_u, int64_t rows, int64_t d,
                     const float* gamma, const float* beta, bool parallel);

// The scalar reference for one row, in double: u[i] = (x[i] − μ)/sqrt(σ² + ε)·γ[i] + β[i].
void layer_norm_reference(const float* x, double* u, int64_t d, const float* gamma, const float* beta);

}  // namespace ffnbench

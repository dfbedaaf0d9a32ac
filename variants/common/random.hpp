// Deterministic, thread-count-independent random fills (counter-based: value i depends only on
// (seed, stream, i)), so weights are identical whatever the thread count or fill order.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ffnbench {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) from (seed, stream, index).
inline double uniform01(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t h = splitmix64(seed ^ splitmix64(stream * 0xD1B54A32D192ED03ull + index));
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

// Fills out[0..n) uniformly in [lo, hi). `stream` separates tensors built from one seed.
inline void fill_uniform(float* out, size_t n, uint64_t seed, uint64_t stream, float lo, float hi) {
#pragma omp parallel for schedule(static) if (n > (1u << 16))
  for (size_t i = 0; i < n; ++i)
    out[i] = lo + (hi - lo) * static_cast<float>(uniform01(seed, stream, i));
}

// Standard normal (Box-Muller on two counter-based uniforms) times `scale`.
inline void fill_normal(float* out, size_t n, uint64_t seed, uint64_t stream, float scale) {
#pragma omp parallel for schedule(static) if (n > (1u << 16))
  for (size_t i = 0; i < n; ++i) {
    double u1 = uniform01(seed, stream, 2 * i) + 0x1.0p-54;
    double u2 = uniform01(seed, stream, 2 * i + 1);
    out[i] = scale * static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
}

}  // namespace ffnbench

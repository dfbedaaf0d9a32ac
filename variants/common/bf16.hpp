// bfloat16 as the kernels store it: the upper 16 bits of an fp32, rounded to nearest, ties to
// even (what AVX512-BF16's VCVTNEPS2BF16 and a oneDNN reorder do for finite values).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace ffnbench {

inline uint16_t bf16_bits(float v) {
  const uint32_t u = std::bit_cast<uint32_t>(v);
  if (std::isnan(v)) return static_cast<uint16_t>((u >> 16) | 0x40u);  // stays a (quiet) NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

inline float bf16_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

// The value bf16 keeps of v.
inline float round_to_bf16(float v) { return bf16_to_float(bf16_bits(v)); }

}  // namespace ffnbench

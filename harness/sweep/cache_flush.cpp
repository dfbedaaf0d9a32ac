#include "sweep/cache_flush.hpp"

#include <immintrin.h>

#include <cstdint>

namespace ffnbench {

void flush_regions(const std::vector<MemoryRegion>& regions) {
  for (const auto& r : regions) {
    auto begin = reinterpret_cast<uintptr_t>(r.data) & ~uintptr_t{63};
    auto end = reinterpret_cast<uintptr_t>(r.data) + r.bytes;
    for (uintptr_t line = begin; line < end; line += 64) _mm_clflush(reinterpret_cast<const void*>(line));
  }
  _mm_mfence();
}

unsigned touch_regions(const std::vector<MemoryRegion>& regions) {
  unsigned sum = 0;
  for (const auto& r : regions) {
    const auto* bytes = static_cast<const unsigned char*>(r.data);
    const auto lines = static_cast<int64_t>((r.bytes + 63) / 64);
#pragma omp parallel for schedule(static) reduction(+ : sum) if (lines > 4096)
    for (int64_t l = 0; l < lines; ++l) sum += bytes[l * 64];
  }
  return sum;
}

}  // namespace ffnbench

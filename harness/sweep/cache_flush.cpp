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

}  // namespace ffnbench

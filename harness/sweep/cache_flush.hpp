// Cache state between calls: cold mode evicts what a call reads; a visit of an interleaved
// round warms it back up.
#pragma once

#include <vector>

#include "core/variant.hpp"

namespace ffnbench {

// clflush over every line of every region, then a fence.
void flush_regions(const std::vector<MemoryRegion>& regions);

// Reads one word of every line of every region with the current OpenMP team (static schedule),
// bringing the regions back into the caches as far as they fit: the warm-up of an interleaved
// visit whose kernel call is too long to repeat. Returns a value the caller must consume.
unsigned touch_regions(const std::vector<MemoryRegion>& regions);

}  // namespace ffnbench

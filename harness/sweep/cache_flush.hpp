// Cold-cache mode: evict a kernel's weights, inputs and outputs from every cache level.
#pragma once

#include <vector>

#include "core/variant.hpp"

namespace ffnbench {

// clflushopt over every line of every region, then a fence.
void flush_regions(const std::vector<MemoryRegion>& regions);

}  // namespace ffnbench

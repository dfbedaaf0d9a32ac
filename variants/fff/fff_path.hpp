// The branch rule of a tree node (heap order: children of i are 2i+1 and 2i+2).
// UltraFastBERT: z > 0 goes right; the original FFF (nodes that only route): z ≥ 0 goes right.
#pragma once

#include <cstdint>

namespace ffnbench {

inline int64_t fff_child(int64_t node, float z, bool routing_only) {
  const bool right = routing_only ? z >= 0.0f : z > 0.0f;
  return 2 * node + 1 + (right ? 1 : 0);
}

}  // namespace ffnbench

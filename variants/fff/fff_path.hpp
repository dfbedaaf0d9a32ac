// The branch rule of a tree node (heap order: children of i are 2i+1 and 2i+2).
// UltraFastBERT: z > 0 goes right; the original FFF (nodes that only route): z ≥ 0 goes right.
#pragma once

#include <cstdint>

namespace ffnbench {

inline bool fff_goes_right(float z, bool routing_only) { return routing_only ? z >= 0.0f : z > 0.0f; }

inline int64_t fff_child(int64_t node, float z, bool routing_only) {
  return 2 * node + 1 + (fff_goes_right(z, routing_only) ? 1 : 0);
}

}  // namespace ffnbench

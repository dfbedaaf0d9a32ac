// Memory pre-flight: a point whose model working set cannot fit in the memory this process may
// still allocate is refused before anything is allocated for it.
#pragma once

#include <vector>

#include "sweep/experiment.hpp"
#include "sweep/grid.hpp"

namespace ffnbench {

// The bytes a point needs: its variant's memory_bytes() (weights, tables, library copies,
// scratch, the output) plus its input pool (`llc_bytes` sizes a fresh pool). 0: the variant has
// no memory model.
double point_memory_bytes(const Point& point, double llc_bytes);

// Marks each valid point needing more than 90% of available_memory_bytes() invalid, with
// "needs X, Y available (<where Y comes from>)"; the sweep then follows on_invalid as for any
// invalid cell. Does nothing where the available memory is unknown.
void preflight_memory(std::vector<Point>& points, double llc_bytes);

}  // namespace ffnbench

// Names for the rows of the sweep's summary table and progress lines that tell neighbours apart:
// the block label and the parameters whose values differ between the points of that block.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sweep/grid.hpp"

namespace ffnbench {

// Per block label: the parameter names (impl and precision aside, which have columns of their
// own) whose values differ between its points, sorted.
std::map<std::string, std::vector<std::string>> varying_parameters(const std::vector<Point>& points);

// "lookup_ffn order=tiled table_precision=bf16": the block and its varying parameters' values.
std::string row_label(const Point& point, const std::map<std::string, std::vector<std::string>>& varying);

}  // namespace ffnbench

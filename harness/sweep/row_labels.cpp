#include "sweep/row_labels.hpp"

#include <fmt/format.h>

#include <set>

namespace ffnbench {

std::map<std::string, std::vector<std::string>> varying_parameters(const std::vector<Point>& points) {
  std::map<std::string, std::map<std::string, std::set<std::string>>> values;  // block -> param -> values
  for (const auto& p : points)
    for (const auto& [name, value] : p.config.values()) values[p.block][name].insert(value);
  std::map<std::string, std::vector<std::string>> varying;
  for (const auto& [block, params] : values) {
    auto& names = varying[block];
    for (const auto& [name, seen] : params)
      if (seen.size() > 1 && name != "impl" && name != "precision") names.push_back(name);
  }
  return varying;
}

std::string row_label(const Point& point, const std::map<std::string, std::vector<std::string>>& varying) {
  std::string label = point.block;
  auto it = varying.find(point.block);
  if (it == varying.end()) return label;
  for (const auto& name : it->second)
    if (point.config.has(name)) label += fmt::format(" {}={}", name, point.config.str(name));
  return label;
}

}  // namespace ffnbench

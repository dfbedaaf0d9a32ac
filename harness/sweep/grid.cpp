#include "sweep/grid.hpp"

#include <fmt/format.h>

#include "core/registry.hpp"

namespace ffnbench {

namespace {

std::string config_key(const Config& c) {
  std::string s;
  // An empty value (weights unset: seeded random weights) is left out, so point ids of random
  // weights stay those of runs made before the parameter existed.
  for (const auto& [k, v] : c.values())
    if (!v.empty()) s += (s.empty() ? "" : ";") + k + "=" + v;
  return s;
}

}  // namespace

std::vector<Point> expand_grid(const Experiment& experiment) {
  std::vector<Point> points;
  for (const Block& block : experiment.blocks) {
    const Variant& variant = Registry::instance().get(block.variant);
    const std::string prefix = block.label + ".";
    // Check every listed value against its spec up front: a bad value is an input error.
    std::vector<ParamSpec> specs = variant.params();
    for (const auto& [name, values] : block.params) {
      const ParamSpec* spec = nullptr;
      for (const auto& s : specs) spec = s.name == name ? &s : spec;
      if (spec == nullptr) {
        std::vector<std::string> names;
        for (const auto& s : specs) names.push_back(s.name);
        throw ConfigError(prefix + name, fmt::format("{}", fmt::join(values, ",")),
                          fmt::format("unknown parameter of {}; known: {}, tokens, threads",
                                      block.variant, fmt::join(names, ", ")));
      }
      for (const auto& v : values) spec->check(v, prefix);
    }
    // Odometer over the listed parameters (std::map order: by name).
    std::vector<std::pair<std::string, const std::vector<std::string>*>> axes;
    for (const auto& [name, values] : block.params) axes.emplace_back(name, &values);
    std::vector<size_t> at(axes.size(), 0);
    const auto& tokens = block.tokens.empty() ? experiment.tokens : block.tokens;
    const auto& threads = block.threads.empty() ? experiment.threads : block.threads;
    for (bool more = true; more;) {
      std::map<std::string, std::string> given;
      for (size_t a = 0; a < axes.size(); ++a) given[axes[a].first] = (*axes[a].second)[at[a]];
      Point proto;
      proto.block = block.label;
      proto.variant = block.variant;
      try {
        proto.config = resolve_variant_config(variant, given, prefix);
      } catch (const FileContentError&) {
        throw;  // a weights or activations file that does not fit: an input error, not a cell
      } catch (const ConfigError& e) {
        proto.config = resolve(specs, given, prefix);  // specs passed above: cross-check failed
        proto.invalid = e;
      }
      for (int64_t n : tokens) {
        for (int t : threads) {
          Point p = proto;
          p.index = points.size();
          p.tokens = n;
          p.threads = t;
          p.inputs = block.inputs.empty() ? experiment.inputs : block.inputs;
          // Real activations are another measurement than the experiment's pool: the file is in the id.
          const std::string file = is_inputs_file(p.inputs) ? "|inputs=" + p.inputs : "";
          p.point_id = fmt::format("{}|{}{}|N={}|T={}", block.label, config_key(p.config), file, n, t);
          points.push_back(std::move(p));
        }
      }
      more = false;
      for (size_t a = axes.size(); a-- > 0;) {
        if (++at[a] < axes[a].second->size()) { more = true; break; }
        at[a] = 0;
      }
    }
  }
  return points;
}

Shard parse_shard(const std::string& text) {
  const std::string allowed = "must read i/n with integers 1 <= i <= n (e.g. 2/8)";
  size_t slash = text.find('/');
  int64_t i = 0, n = 0;
  if (slash == std::string::npos || !parse_int(text.substr(0, slash), i) ||
      !parse_int(text.substr(slash + 1), n) || n < 1 || i < 1 || i > n)
    throw ConfigError("shard", text, allowed);
  return {static_cast<int>(i), static_cast<int>(n)};
}

std::vector<Point> select_shard(const std::vector<Point>& points, Shard shard) {
  std::vector<Point> out;
  for (const auto& p : points)
    if (static_cast<int>(p.index % shard.count) == shard.index - 1) out.push_back(p);
  return out;
}

}  // namespace ffnbench

#include "core/registry.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace ffnbench {

Registry& Registry::instance() {
  static Registry registry;
  return registry;
}

void Registry::add(std::unique_ptr<Variant> variant) { variants_.push_back(std::move(variant)); }

bool Registry::has(const std::string& name) const {
  return std::any_of(variants_.begin(), variants_.end(),
                     [&](const auto& v) { return v->name() == name; });
}

const Variant& Registry::get(const std::string& name) const {
  for (const auto& v : variants_)
    if (v->name() == name) return *v;
  throw ConfigError("variant", name, "must be one of: " + names());
}

std::vector<const Variant*> Registry::all() const {
  std::vector<const Variant*> out;
  for (const auto& v : variants_) out.push_back(v.get());
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
  return out;
}

std::string Registry::names() const {
  std::vector<std::string> n;
  for (const auto* v : all()) n.push_back(v->name());
  return fmt::format("{}", fmt::join(n, ", "));
}

Config resolve_variant_config(const Variant& variant,
                              const std::map<std::string, std::string>& given,
                              const std::string& key_prefix) {
  Config config = resolve(variant.params(), given, key_prefix);
  try {
    variant.validate(config);
  } catch (const FileContentError& e) {  // keeps its kind: a bad file stops the sweep
    if (e.key().rfind(key_prefix, 0) == 0) throw;
    throw FileContentError(key_prefix + e.key(), e.value(), e.allowed());
  } catch (const ConfigError& e) {
    // Re-key with the prefix so the message names the key as the user wrote it.
    if (e.key().rfind(key_prefix, 0) == 0) throw;
    throw ConfigError(key_prefix + e.key(), e.value(), e.allowed());
  }
  return config;
}

}  // namespace ffnbench

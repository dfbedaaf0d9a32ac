#include "core/params.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>

namespace ffnbench {

ConfigError::ConfigError(std::string key, std::string value, std::string allowed)
    : std::runtime_error(fmt::format("invalid value '{}' for '{}': {}", value, key, allowed)),
      key_(std::move(key)), value_(std::move(value)), allowed_(std::move(allowed)) {}

ParamSpec ParamSpec::integer(std::string name, int64_t def, int64_t lo, int64_t hi, std::string doc) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = ParamType::Int;
  s.default_value = std::to_string(def);
  s.min = static_cast<double>(lo);
  s.max = static_cast<double>(hi);
  s.doc = std::move(doc);
  return s;
}

ParamSpec ParamSpec::real(std::string name, double def, double lo, double hi, std::string doc) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = ParamType::Real;
  s.default_value = fmt::format("{}", def);
  s.min = lo;
  s.max = hi;
  s.doc = std::move(doc);
  return s;
}

ParamSpec ParamSpec::choice(std::string name, std::string def, std::vector<std::string> choices,
                            std::string doc) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = ParamType::Choice;
  s.default_value = std::move(def);
  s.choices = std::move(choices);
  s.doc = std::move(doc);
  return s;
}

ParamSpec ParamSpec::text(std::string name, std::string def, std::string doc) {
  ParamSpec s;
  s.name = std::move(name);
  s.type = ParamType::Text;
  s.default_value = std::move(def);
  s.doc = std::move(doc);
  return s;
}

std::string ParamSpec::allowed() const {
  switch (type) {
    case ParamType::Int:
      return fmt::format("must be an integer{} in [{}, {}]", power_of_two ? " power of two" : "",
                         static_cast<int64_t>(min), static_cast<int64_t>(max));
    case ParamType::Real:
      return fmt::format("must be a number in [{}, {}]", min, max);
    case ParamType::Choice:
      return fmt::format("must be one of: {}", fmt::join(choices, ", "));
    case ParamType::Text:
      return "any text";
  }
  return {};
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

bool parse_real(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

void ParamSpec::check(const std::string& value, const std::string& key_prefix) const {
  const std::string key = key_prefix + name;
  switch (type) {
    case ParamType::Int: {
      int64_t v = 0;
      if (!parse_int(value, v) || v < min || v > max) throw ConfigError(key, value, allowed());
      if (power_of_two && (v <= 0 || (v & (v - 1)) != 0)) throw ConfigError(key, value, allowed());
      return;
    }
    case ParamType::Real: {
      double v = 0;
      if (!parse_real(value, v) || v < min || v > max) throw ConfigError(key, value, allowed());
      return;
    }
    case ParamType::Choice:
      for (const auto& c : choices)
        if (c == value) return;
      throw ConfigError(key, value, allowed());
    case ParamType::Text:
      return;
  }
}

const std::string& Config::str(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("Config has no key '" + key + "'");
  return it->second;
}

int64_t Config::integer(const std::string& key) const {
  int64_t v = 0;
  if (!parse_int(str(key), v)) throw ConfigError(key, str(key), "must be an integer");
  return v;
}

double Config::real(const std::string& key) const {
  double v = 0;
  if (!parse_real(str(key), v)) throw ConfigError(key, str(key), "must be a number");
  return v;
}

Config resolve(const std::vector<ParamSpec>& specs, const std::map<std::string, std::string>& given,
               const std::string& key_prefix) {
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  for (const auto& [k, v] : given) {
    bool known = false;
    for (const auto& s : specs) known = known || s.name == k;
    if (!known)
      throw ConfigError(key_prefix + k, v,
                        fmt::format("unknown parameter; known: {}", fmt::join(names, ", ")));
  }
  Config out;
  for (const auto& s : specs) {
    auto it = given.find(s.name);
    const std::string& value = it != given.end() ? it->second : s.default_value;
    s.check(value, key_prefix);
    out.set(s.name, value);
  }
  return out;
}

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    ++u;
  }
  return fmt::format("{:.1f} {}", bytes, units[u]);
}

}  // namespace ffnbench

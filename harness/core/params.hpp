// Parameter declarations, resolved configurations and the error every bad value raises.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace ffnbench {

// Raised for any bad user input: names the key, the value and what is allowed.
// The CLI turns it into one line on stderr and exit status 2.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string key, std::string value, std::string allowed);
  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  const std::string& allowed() const { return allowed_; }

 private:
  std::string key_, value_, allowed_;
};

// A file the configuration names (weights, activations) whose contents do not fit it: a missing
// tensor, a wrong shape or dtype, a truncated file, a header that lies. Never a grid cell to skip:
// the sweep stops with exit status 2 before its run folder exists.
class FileContentError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

enum class ParamType { Int, Real, Choice, Text };

// One declared parameter of a variant: name, type, default, allowed range, one-line doc.
struct ParamSpec {
  std::string name;
  ParamType type = ParamType::Int;
  std::string default_value;
  double min = 0, max = 0;           // Int and Real: inclusive range
  std::vector<std::string> choices;  // Choice: allowed names
  std::string doc;
  bool power_of_two = false;         // Int: value must be a power of two

  static ParamSpec integer(std::string name, int64_t def, int64_t lo, int64_t hi, std::string doc);
  static ParamSpec real(std::string name, double def, double lo, double hi, std::string doc);
  static ParamSpec choice(std::string name, std::string def, std::vector<std::string> choices,
                          std::string doc);
  // Any text (a file path); the variant checks what it names.
  static ParamSpec text(std::string name, std::string def, std::string doc);
  ParamSpec& pow2() { power_of_two = true; return *this; }

  std::string allowed() const;  // "an integer in [1, 4096]", "one of: a, b"
  // Throws ConfigError(prefix + name, value, allowed()) when value does not fit.
  void check(const std::string& value, const std::string& key_prefix = "") const;
};

// A resolved point configuration: every declared parameter has a string value.
class Config {
 public:
  Config() = default;
  explicit Config(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  void set(const std::string& key, std::string value) { values_[key] = std::move(value); }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  const std::string& str(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  double real(const std::string& key) const;
  const std::map<std::string, std::string>& values() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

// Fills defaults and checks every value against its spec; unknown keys are rejected.
// `key_prefix` (e.g. "gemm_ffn.") makes messages name the key as the user wrote it.
Config resolve(const std::vector<ParamSpec>& specs, const std::map<std::string, std::string>& given,
               const std::string& key_prefix = "");

bool parse_int(const std::string& s, int64_t& out);
bool parse_real(const std::string& s, double& out);
std::string format_bytes(double bytes);  // "64.0 MiB"

}  // namespace ffnbench

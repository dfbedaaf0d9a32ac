#include "merge/experiment_diff.hpp"
#include "core/text.hpp"

#include <fmt/format.h>

#include <sstream>

namespace ffnbench {

namespace {


std::string without_comment(const std::string& line) {
  size_t at = line.find('#');  // as Boost.Program_options reads the file
  return at == std::string::npos ? line : line.substr(0, at);
}

std::string normalize_value(const std::string& value) {
  std::string out;
  std::stringstream ss(value);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!out.empty()) out += ',';
    out += trim(item);
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> experiment_settings(const std::string& ini_text) {
  // Where a run wrote, and the calibration file it was given (a machine's own ceilings, copied
  // into its run folder): neither changes what was measured.
  static const std::set<std::string> where_not_what = {"output", "ceilings"};
  static const std::set<std::string> free_text = {"name", "description"};
  std::map<std::string, std::string> settings;
  std::string section;
  std::stringstream in(ini_text);
  for (std::string raw; std::getline(in, raw);) {
    std::string line = trim(without_comment(raw));
    if (line.empty()) continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    if (section.empty() && where_not_what.count(key)) continue;
    std::string value = line.substr(eq + 1);
    // Lists compare item by item; free text (a description) as written.
    value = section.empty() && free_text.count(key) ? trim(value) : normalize_value(value);
    settings[section.empty() ? key : section + "." + key] = value;
  }
  return settings;
}

std::vector<std::string> experiment_differences(const std::map<std::string, std::string>& a,
                                                const std::map<std::string, std::string>& b,
                                                const std::set<std::string>& ignored) {
  std::set<std::string> keys;
  for (const auto& [k, v] : a) keys.insert(k);
  for (const auto& [k, v] : b) keys.insert(k);
  auto shown = [](const std::map<std::string, std::string>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string("absent") : fmt::format("'{}'", it->second);
  };
  std::vector<std::string> out;
  for (const auto& k : keys) {
    if (ignored.count(k)) continue;
    std::string va = shown(a, k), vb = shown(b, k);
    if (va != vb) out.push_back(fmt::format("{} ({} vs {})", k, va, vb));
  }
  return out;
}

}  // namespace ffnbench

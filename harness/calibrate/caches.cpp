#include "calibrate/caches.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ffnbench {
namespace {

std::string first_line(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

// "0-3,8-11" -> 8
int count_cpu_list(const std::string& list) {
  int n = 0;
  std::stringstream ss(list);
  for (std::string part; std::getline(ss, part, ',');) {
    const size_t dash = part.find('-');
    if (dash == std::string::npos) {
      n += part.empty() ? 0 : 1;
    } else {
      n += std::atoi(part.c_str() + dash + 1) - std::atoi(part.c_str()) + 1;
    }
  }
  return std::max(n, 1);
}

}  // namespace

bool parse_byte_size(const std::string& text, int64_t& bytes) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 15) return false;
  int64_t v = std::stoll(text.substr(0, i));
  std::string unit = text.substr(i);
  for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (unit.size() == 3 && unit.substr(1) == "IB") unit = unit.substr(0, 1);
  const int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (shift < 0) return false;
  bytes = v << shift;
  return true;
}

std::vector<CacheInfo> read_cpu_caches(const std::string& dir) {
  std::vector<CacheInfo> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    CacheInfo c;
    c.level = std::atoi(first_line(entry.path() / "level").c_str());
    c.type = first_line(entry.path() / "type");
    if (!parse_byte_size(first_line(entry.path() / "size"), c.size_bytes)) continue;
    c.assoc = std::atoi(first_line(entry.path() / "ways_of_associativity").c_str());
    c.line_bytes = std::atoi(first_line(entry.path() / "coherency_line_size").c_str());
    c.shared_cpus = count_cpu_list(first_line(entry.path() / "shared_cpu_list"));
    if (c.level > 0 && c.size_bytes > 0) out.push_back(c);
  }
  std::sort(out.begin(), out.end(), [](const CacheInfo& a, const CacheInfo& b) {
    return a.level != b.level ? a.level < b.level : a.type < b.type;
  });
  return out;
}

const CacheInfo* data_cache(const std::vector<CacheInfo>& caches, int level) {
  for (const auto& c : caches)
    if (c.level == level && c.type != "Instruction") return &c;
  return nullptr;
}

const CacheInfo* last_level_cache(const std::vector<CacheInfo>& caches) {
  const CacheInfo* best = nullptr;
  for (const auto& c : caches)
    if (c.type != "Instruction" && (best == nullptr || c.level > best->level)) best = &c;
  return best;
}

}  // namespace ffnbench

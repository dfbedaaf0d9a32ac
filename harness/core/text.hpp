// Small text helpers shared by the parsers (experiment files, /proc files, run folders).
#pragma once

#include <string>

namespace ffnbench {

// `s` without leading and trailing blanks (space, tab, CR, LF, VT, FF).
inline std::string trim(const std::string& s) {
  constexpr const char* blanks = " \t\r\n\v\f";
  const size_t b = s.find_first_not_of(blanks);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

}  // namespace ffnbench

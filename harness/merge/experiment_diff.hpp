// Do two runs measure the same experiment? Compares experiment.ini texts as settings, not bytes.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace ffnbench {

// "key" -> value for global keys, "section.key" -> value inside [section]; comments (#) and
// blank lines dropped, spaces trimmed, spaces around commas removed. Keys that say where results
// go rather than what is measured (`output`) are left out.
std::map<std::string, std::string> experiment_settings(const std::string& ini_text);

// One line per differing key, sorted: "tokens ('3,17' vs '3,18')", "gemm_ffn.d_ff ('24' vs
// absent)". Keys in `ignored` are not compared.
std::vector<std::string> experiment_differences(const std::map<std::string, std::string>& a,
                                                const std::map<std::string, std::string>& b,
                                                const std::set<std::string>& ignored = {});

}  // namespace ffnbench

#include "report/references.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "build_info.hpp"
#include "core/params.hpp"
#include "merge/experiment_diff.hpp"
#include "merge/merge.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

namespace {

constexpr const char* kCombinedFolder = "with_references";

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string setting(const std::map<std::string, std::string>& settings, const std::string& key) {
  auto it = settings.find(key);
  return it == settings.end() ? std::string() : it->second;
}

// Keys set in one experiment and not the other, or to other values.
void add_differing_keys(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b,
                        std::set<std::string>& keys) {
  for (const auto& [k, v] : a)
    if (!b.count(k) || b.at(k) != v) keys.insert(k);
  for (const auto& [k, v] : b)
    if (!a.count(k)) keys.insert(k);
}

// The combined folder is newer than every file it was merged from.
bool up_to_date(const fs::path& combined, const std::vector<std::string>& inputs) {
  std::error_code ec;
  const auto written = fs::last_write_time(combined / "merge.json", ec);
  if (ec) return false;
  for (const auto& in : inputs)
    for (const char* file : {"points.csv", "stages.csv", "reps.csv", "machine.json", "ceilings.json", "experiment.ini"}) {
      auto t = fs::last_write_time(fs::path(in) / file, ec);
      if (!ec && t > written) return false;
    }
  return true;
}

}  // namespace

std::string default_reference_root() { return (fs::path(build_info::kSourceDir) / "results" / "reference").string(); }

ReferenceSet combine_with_references(const Dataset& d, const std::vector<std::string>& roots) {
  ReferenceSet r;
  r.roots = roots;
  for (const auto& root : roots)
    if (!fs::is_directory(root))
      throw ConfigError("reference", root,
                        "must be a folder of reference run folders (results/reference/<machine_id>/<experiment>/), "
                        "or none to leave the reference machines out");
  const auto ours = experiment_settings(d.experiment_text);
  const std::string name = setting(ours, "name");
  std::set<std::string> machines;
  for (const auto& [id, m] : d.machines) machines.insert(id);
  std::set<std::string> differing;
  for (const auto& root : roots)
    for (const auto& run : find_datasets(root)) {
      const fs::path dir = run;
      if (!fs::is_regular_file(dir / "experiment.ini")) continue;
      const auto theirs = experiment_settings(slurp(dir / "experiment.ini"));
      if (name.empty() || setting(theirs, "name") != name) continue;
      std::string id;
      try {
        id = nlohmann::json::parse(slurp(dir / "machine.json")).value("machine_id", "");
      } catch (const nlohmann::json::exception&) {
        continue;  // not a run folder of ours
      }
      if (id.empty() || !machines.insert(id).second) continue;  // in the data already, or found before
      r.runs.push_back(run);
      r.machines.push_back(id);
      add_differing_keys(ours, theirs, differing);
    }
  r.differing_keys.assign(differing.begin(), differing.end());
  if (r.runs.empty()) return r;

  const fs::path combined = fs::path(d.path) / kCombinedFolder;
  std::vector<std::string> inputs = {d.path};
  inputs.insert(inputs.end(), r.runs.begin(), r.runs.end());
  if (up_to_date(combined, inputs)) {
    r.combined = combined.string();
    return r;
  }
  try {
    fs::remove_all(combined);
    MergeOptions o{inputs, combined.string(), "", differing};
    r.notes = merge_runs(o).notes;
    r.combined = combined.string();
  } catch (const ConfigError& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace ffnbench

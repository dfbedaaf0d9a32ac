#include "merge/dataset.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/params.hpp"
#include "merge/migrate.hpp"
#include "results/schema.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

std::vector<std::pair<std::string, CsvTable*>> Dataset::tables() {
  return {{"points.csv", &points}, {"stages.csv", &stages}, {"reps.csv", &reps}, {"counters.csv", &counters}};
}

std::vector<std::pair<std::string, const CsvTable*>> Dataset::tables() const {
  return {{"points.csv", &points}, {"stages.csv", &stages}, {"reps.csv", &reps}, {"counters.csv", &counters}};
}

bool is_merged_dataset(const std::string& folder) { return fs::is_directory(fs::path(folder) / "machines"); }

std::vector<std::string> find_datasets(const std::string& folder) {
  if (fs::is_regular_file(fs::path(folder) / "points.csv")) return {folder};
  std::vector<std::string> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory()) continue;
    const fs::path dir = it->path();
    if (dir.filename().string().starts_with(".") || is_merged_dataset(dir.string())) {
      it.disable_recursion_pending();
      continue;
    }
    if (fs::is_regular_file(dir / "points.csv") && fs::is_regular_file(dir / "machine.json")) {
      found.push_back(dir.string());
      it.disable_recursion_pending();
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

namespace {

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json read_json(const fs::path& path, const std::string& key, const std::string& missing_hint) {
  if (!fs::is_regular_file(path)) throw ConfigError(key, path.string(), "is missing: " + missing_hint);
  try {
    return nlohmann::json::parse(slurp(path));
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(key, path.string(), std::string("is not valid JSON: ") + e.what());
  }
}

std::string machine_id_of(const nlohmann::json& machine, const fs::path& path) {
  if (!machine.is_object() || !machine.contains("machine_id") || !machine["machine_id"].is_string())
    throw ConfigError("machine.json", path.string(), "has no \"machine_id\" string: not a machine.json written by ffnbench");
  return machine["machine_id"].get<std::string>();
}

// Ceilings measured on another CPU would normalize this machine's points by the wrong limits.
void check_ceilings_cpu(const nlohmann::json& ceilings, const nlohmann::json& machine, const fs::path& path) {
  if (!ceilings.is_object() || !ceilings.contains("cpu") || !ceilings["cpu"].is_string()) return;
  const std::string measured = ceilings["cpu"].get<std::string>();
  const std::string ran = machine.value("cpu", nlohmann::json::object()).value("model_name", "");
  if (!ran.empty() && measured != ran)
    throw ConfigError("ceilings.json", path.string(),
                      fmt::format("was calibrated on '{}' but the run is of '{}': calibrate on the machine "
                                  "that ran (ffnbench calibrate --out <run folder>)", measured, ran));
}

CsvTable load_or_empty(const fs::path& path, const std::vector<std::string>& header) {
  if (fs::exists(path)) return load_csv_table(path.string());
  CsvTable empty;
  empty.path = path.string();
  empty.header = header;
  return empty;
}

// The columns tools join on must be there, whatever else a version of ffnbench wrote.
void require_columns(const CsvTable& table, const std::vector<std::string>& required) {
  for (const auto& c : required)
    if (std::find(table.header.begin(), table.header.end(), c) == table.header.end())
      throw ConfigError("schema", table.path,
                        fmt::format("must have a '{}' column (its header: {}): not a results CSV of ffnbench", c,
                                    fmt::join(table.header, ",")));
}

}  // namespace

Dataset load_dataset(const std::string& folder) {
  const fs::path dir = folder;
  if (!fs::is_regular_file(dir / "points.csv"))
    throw ConfigError("run folder", folder,
                      "must be a run folder written by `ffnbench sweep` or a folder written by `ffnbench merge` "
                      "(there is no points.csv in it, nor a run folder below it)");
  Dataset d;
  d.path = folder;
  d.merged = is_merged_dataset(folder);
  if (!fs::is_regular_file(dir / "experiment.ini"))
    throw ConfigError("experiment.ini", (dir / "experiment.ini").string(),
                      "is missing: every run folder holds the experiment as it ran (copy it along with the CSVs)");
  d.experiment_text = slurp(dir / "experiment.ini");

  if (d.merged) {
    for (const auto& e : fs::directory_iterator(dir / "machines")) {
      if (e.path().extension() != ".json") continue;
      auto machine = read_json(e.path(), "machine.json", "");
      d.machines[machine_id_of(machine, e.path())] = machine;
    }
    if (fs::is_directory(dir / "ceilings"))
      for (const auto& e : fs::directory_iterator(dir / "ceilings"))
        if (e.path().extension() == ".json")
          d.ceilings[e.path().stem().string()] = read_json(e.path(), "ceilings.json", "");
  } else {
    auto machine = read_json(dir / "machine.json", "machine.json",
                             "every run folder needs the machine.json its sweep wrote (copy it along with the CSVs)");
    const std::string id = machine_id_of(machine, dir / "machine.json");
    d.machines[id] = machine;
    if (fs::exists(dir / "ceilings.json")) {
      auto ceilings = read_json(dir / "ceilings.json", "ceilings.json", "");
      check_ceilings_cpu(ceilings, machine, dir / "ceilings.json");
      d.ceilings[id] = ceilings;
    }
  }

  d.points = load_csv_table((dir / "points.csv").string());
  d.stages = load_or_empty(dir / "stages.csv", stages_header());
  d.reps = load_or_empty(dir / "reps.csv", reps_header());
  d.counters = load_or_empty(dir / "counters.csv", counters_header());
  require_columns(d.points, {"run_id", "machine_id", "point_id"});
  for (const CsvTable* t : {&d.stages, &d.reps, &d.counters}) require_columns(*t, {"run_id", "point_id"});
  d.schema = folder_schema(folder);
  const std::vector<std::pair<CsvTable*, const std::vector<std::string>*>> current = {
      {&d.points, &points_core_columns()}, {&d.stages, &stages_header()}, {&d.reps, &reps_header()},
      {&d.counters, &counters_header()}};
  for (auto [table, columns] : current)
    for (auto& note : migrate_table(*table, *columns, d.schema)) d.migration_notes.push_back(std::move(note));

  const size_t mid = d.points.column("machine_id");
  for (size_t r = 0; r < d.points.rows.size(); ++r) {
    const std::string& id = d.points.rows[r][mid];
    if (!d.machines.count(id))
      throw ConfigError("machine.json", folder,
                        fmt::format("{}:{} is a point of machine '{}', which no machine.json here describes ({})",
                                    d.points.path, d.points.lines[r], id,
                                    d.merged ? "machines/ lacks " + id + ".json"
                                             : "machine.json is of " + d.machines.begin()->first));
  }
  return d;
}

}  // namespace ffnbench

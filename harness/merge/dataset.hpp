// A results dataset read back whole: a run folder written by `ffnbench sweep`
// (machine.json, ceilings.json) or a folder written by `ffnbench merge` (machines/<id>.json,
// ceilings/<id>.json). Both hold experiment.ini and the four CSVs.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "merge/csv_table.hpp"

namespace ffnbench {

struct Dataset {
  std::string path;
  bool merged = false;                              // written by `ffnbench merge`
  std::string experiment_text;                      // experiment.ini
  std::map<std::string, nlohmann::json> machines;   // machine_id -> machine.json
  std::map<std::string, nlohmann::json> ceilings;   // machine_id -> ceilings.json, where calibrated
  CsvTable points, stages, reps, counters;          // in the current schema (merge/migrate.hpp)
  int schema = 1;                                   // the schema the folder was written with
  std::vector<std::string> migration_notes;         // what an older schema lacked, per file

  // The four tables with their file names, in the order they are written.
  std::vector<std::pair<std::string, CsvTable*>> tables();
  std::vector<std::pair<std::string, const CsvTable*>> tables() const;
};

// Reads and checks a dataset folder. Bad input throws ConfigError: not a results folder, a
// missing experiment.ini or machine.json (or one that is not JSON), a corrupt CSV row (file and
// line), points of a machine no machine.json describes. stages/reps/counters.csv may be absent
// (copied without them): they read as empty, with the schema's header. Folders of older schemas
// are migrated to the current columns (migration_notes says what was filled).
Dataset load_dataset(const std::string& folder);

// Whether `folder` looks like a merged dataset (has machines/).
bool is_merged_dataset(const std::string& folder);

// `folder` itself if it holds points.csv; else every run folder below it (points.csv and
// machine.json), sorted, without descending into merged datasets (their by_machine/ views are
// copies) or hidden folders. Empty if there is none.
std::vector<std::string> find_datasets(const std::string& folder);

}  // namespace ffnbench

#include "merge/migrate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/params.hpp"
#include "results/schema.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

namespace {

// What a version without the column did; columns not here were not measured then: empty.
const std::map<std::string, std::string>& behaviour_before_column() {
  static const std::map<std::string, std::string> fills = {
      {"inputs", "repeat (before fresh inputs)"},  // every call reused one input batch
      {"schedule", "sequential"},                  // one point after another, all its repetitions
  };
  return fills;
}

bool is_param(const std::string& column) { return column.starts_with("p_"); }

void reshape(CsvTable& table, const std::vector<std::string>& header,
             const std::map<std::string, std::string>& fills) {
  std::vector<long> from(header.size(), -1);
  for (size_t c = 0; c < header.size(); ++c) {
    auto it = std::find(table.header.begin(), table.header.end(), header[c]);
    if (it != table.header.end()) from[c] = it - table.header.begin();
  }
  for (auto& row : table.rows) {
    std::vector<std::string> out(header.size());
    for (size_t c = 0; c < header.size(); ++c) {
      if (from[c] >= 0) out[c] = std::move(row[static_cast<size_t>(from[c])]);
      else if (auto f = fills.find(header[c]); f != fills.end()) out[c] = f->second;
    }
    row = std::move(out);
  }
  table.header = header;
}

}  // namespace

int folder_schema(const std::string& folder) {
  const fs::path path = fs::path(folder) / "schema.json";
  if (!fs::exists(path)) return 1;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError("schema.json", path.string(), std::string("is not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("results_schema") || !j["results_schema"].is_number_integer() ||
      j["results_schema"].get<int>() < 1)
    throw ConfigError("schema.json", path.string(),
                      "must hold {\"results_schema\": <integer ≥ 1>} as `ffnbench sweep` writes it");
  return j["results_schema"].get<int>();
}

std::vector<std::string> migrate_table(CsvTable& table, const std::vector<std::string>& columns, int schema) {
  std::vector<std::string> header = columns;
  const std::set<std::string> current(columns.begin(), columns.end());
  for (const auto& c : table.header)
    if (!current.count(c)) header.push_back(c);
  std::vector<std::string> filled, empty;
  for (const auto& c : columns)
    if (std::find(table.header.begin(), table.header.end(), c) == table.header.end()) {
      auto f = behaviour_before_column().find(c);
      if (f != behaviour_before_column().end()) filled.push_back(fmt::format("{} = '{}'", c, f->second));
      else empty.push_back(c);
    }
  std::vector<std::string> notes;
  if (!filled.empty() || !empty.empty()) {
    std::string note = fmt::format("{} (schema {}, this ffnbench writes {}): ", table.path, schema, kResultsSchema);
    if (!filled.empty()) note += fmt::format("columns that version did not write, filled with what it did: {}", fmt::join(filled, ", "));
    if (!empty.empty())
      note += fmt::format("{}empty (not measured by that version): {}", filled.empty() ? "" : "; ", fmt::join(empty, ", "));
    notes.push_back(note);
  }
  if (schema > kResultsSchema)
    notes.push_back(fmt::format("{} is of schema {}, newer than this ffnbench's {}: its new columns are kept as they are",
                                table.path, schema, kResultsSchema));
  if (header != table.header) reshape(table, header, behaviour_before_column());
  return notes;
}

std::vector<std::string> align_tables(const std::vector<CsvTable*>& tables) {
  std::vector<std::string> header, params;
  for (const CsvTable* t : tables)
    for (const auto& c : t->header) {
      auto& into = is_param(c) ? params : header;
      if (std::find(into.begin(), into.end(), c) == into.end()) into.push_back(c);
    }
  std::sort(params.begin(), params.end());
  header.insert(header.end(), params.begin(), params.end());
  std::vector<std::string> notes;
  for (CsvTable* t : tables) {
    if (t->header == header) continue;
    std::vector<std::string> added;
    for (const auto& c : header)
      if (std::find(t->header.begin(), t->header.end(), c) == t->header.end()) added.push_back(c);
    if (!added.empty())
      notes.push_back(fmt::format("{}: no {} column(s) (other parameters or another ffnbench version): empty in the merged data",
                                  t->path, fmt::join(added, ", ")));
    reshape(*t, header, {});
  }
  return notes;
}

}  // namespace ffnbench

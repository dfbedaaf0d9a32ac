#include "merge/merge.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "build_info.hpp"
#include "core/params.hpp"
#include "merge/dataset.hpp"
#include "merge/experiment_diff.hpp"
#include "merge/migrate.hpp"
#include "results/csv.hpp"
#include "results/schema.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

namespace {

using RunPoint = std::pair<std::string, std::string>;  // (run_id, point_id)

// The datasets to merge: each input as given, or the run folders below it.
std::vector<std::string> expand_inputs(const MergeOptions& o) {
  if (o.inputs.empty()) throw ConfigError("run folder", "", "give one or more run folders to merge");
  if (o.out.empty()) throw ConfigError("out", "", "give the folder to write with --out <folder>");
  if (fs::exists(o.out))
    throw ConfigError("out", o.out, "must not exist yet: merge writes a new folder (remove it or choose another name)");
  std::vector<std::string> folders;
  std::set<std::string> seen;
  for (const auto& in : o.inputs) {
    std::vector<std::string> found = find_datasets(in);
    if (found.empty()) load_dataset(in);  // throws, saying what the folder lacks
    for (const auto& f : found) {
      std::error_code ec;
      if (!seen.insert(fs::weakly_canonical(f, ec).string()).second)
        throw ConfigError("run folder", f, "is given twice");
      folders.push_back(f);
    }
  }
  return folders;
}

// Inputs of other schemas or parameter sets: every input's table gets the union of the columns.
std::vector<std::string> align_columns(std::vector<Dataset>& inputs) {
  std::vector<std::string> notes;
  for (const auto& d : inputs) notes.insert(notes.end(), d.migration_notes.begin(), d.migration_notes.end());
  for (size_t t = 0; t < inputs.front().tables().size(); ++t) {
    std::vector<CsvTable*> tables;
    for (auto& d : inputs) tables.push_back(d.tables()[t].second);
    for (auto& note : align_tables(tables)) notes.push_back(std::move(note));
  }
  return notes;
}

void check_same_experiment(const std::vector<Dataset>& inputs, const std::set<std::string>& ignored) {
  const auto first = experiment_settings(inputs.front().experiment_text);
  for (size_t i = 1; i < inputs.size(); ++i) {
    auto diff = experiment_differences(first, experiment_settings(inputs[i].experiment_text), ignored);
    if (!diff.empty())
      throw ConfigError("experiment", (fs::path(inputs[i].path) / "experiment.ini").string(),
                        fmt::format("must define the same experiment as {}; differing keys: {} "
                                    "(a key that may differ, e.g. a description: --ignore <key>)",
                                    (fs::path(inputs.front().path) / "experiment.ini").string(),
                                    fmt::join(diff, ", ")));
  }
}

// One machine_id must mean one CPU, whichever run it came from.
void collect_machines(const std::vector<Dataset>& inputs, nlohmann::json& machines, nlohmann::json& ceilings) {
  std::map<std::string, std::string> described_by;
  for (const auto& d : inputs) {
    for (const auto& [id, machine] : d.machines) {
      if (!machines.contains(id)) {
        machines[id] = machine;
        described_by[id] = d.path;
        continue;
      }
      const auto& a = machines[id].value("cpu", nlohmann::json::object());
      const auto& b = machine.value("cpu", nlohmann::json::object());
      if (a == b) continue;
      std::vector<std::string> fields;
      for (const auto& [k, v] : a.items())
        if (!b.contains(k) || b[k] != v) fields.push_back("cpu." + k);
      for (const auto& [k, v] : b.items())
        if (!a.contains(k)) fields.push_back("cpu." + k);
      throw ConfigError("machine_id", id,
                        fmt::format("names different CPUs in {} and {} (differing: {}); one machine_id must "
                                    "mean one CPU", described_by[id], d.path, fmt::join(fields, ", ")));
    }
    for (const auto& [id, c] : d.ceilings)
      if (!ceilings.contains(id)) ceilings[id] = c;
  }
}

// Runs started in the same second on two machines share a run_id; details join on
// (run_id, point_id), so the later one is renamed "<run_id>@<machine_id>".
std::vector<std::map<std::string, std::string>> run_id_renames(const std::vector<Dataset>& inputs,
                                                               std::vector<std::string>& notes) {
  std::map<std::string, std::string> owner;  // run_id -> machine_id
  std::vector<std::map<std::string, std::string>> renames(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const CsvTable& p = inputs[i].points;
    const size_t rc = p.column("run_id"), mc = p.column("machine_id");
    std::map<std::string, std::string> claimed;
    for (const auto& row : p.rows) claimed.emplace(row[rc], row[mc]);
    for (const auto& [run, machine] : claimed) {
      auto it = owner.find(run);
      if (it == owner.end() || it->second == machine) {
        owner.emplace(run, machine);
        continue;
      }
      std::string renamed = run + "@" + machine;
      renames[i][run] = renamed;
      owner.emplace(renamed, machine);
      notes.push_back(fmt::format("run_id {} of {} is also a run of {}: renamed {} in the merged data", run,
                                  machine, it->second, renamed));
    }
  }
  return renames;
}

struct Holder {
  size_t input, row;
  std::string run_id;
};

// Which rows of each input's points.csv stay: every point once per machine.
std::vector<std::vector<bool>> resolve_duplicates(const std::vector<Dataset>& inputs, const std::string& keep,
                                                  size_t& dropped) {
  std::map<std::pair<std::string, std::string>, std::vector<Holder>> holders;  // (machine, point)
  std::set<std::string> all_run_ids;
  std::vector<std::vector<bool>> kept(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const CsvTable& p = inputs[i].points;
    const size_t rc = p.column("run_id"), mc = p.column("machine_id"), pc = p.column("point_id");
    kept[i].assign(p.rows.size(), true);
    for (size_t r = 0; r < p.rows.size(); ++r) {
      auto& h = holders[{p.rows[r][mc], p.rows[r][pc]}];
      if (!h.empty() && h.back().input == i)
        throw ConfigError(fmt::format("{}:{}", p.path, p.lines[r]), p.rows[r][pc],
                          fmt::format("this point of {} already appears on line {} of the same file: a run "
                                      "folder holds each point once", p.rows[r][mc], p.lines[h.back().row]));
      h.push_back({i, r, p.rows[r][rc]});
      all_run_ids.insert(p.rows[r][rc]);
    }
  }
  if (!keep.empty() && keep != "first" && keep != "last" && !all_run_ids.count(keep))
    throw ConfigError("keep", keep,
                      fmt::format("must be first, last or the run_id of an input (run_ids: {})", fmt::join(all_run_ids, ", ")));

  size_t duplicated = 0;
  const std::pair<const std::pair<std::string, std::string>, std::vector<Holder>>* example = nullptr;
  for (const auto& entry : holders)
    if (entry.second.size() > 1) {
      ++duplicated;
      if (!example) example = &entry;
    }
  if (duplicated == 0) return kept;
  if (keep.empty()) {
    const auto& h = example->second;
    throw ConfigError("keep", "",
                      fmt::format("{} point(s) were measured in more than one run of the same machine, e.g. '{}' of "
                                  "{} in {} (run {}) and {} (run {}); say which to keep: --keep first, --keep last "
                                  "(in the order given) or --keep <run_id>",
                                  duplicated, example->first.second, example->first.first, inputs[h[0].input].path,
                                  h[0].run_id, inputs[h[1].input].path, h[1].run_id));
  }
  for (const auto& [key, h] : holders) {
    if (h.size() < 2) continue;
    size_t chosen = keep == "first" ? 0 : h.size() - 1;
    if (keep != "first" && keep != "last") {
      std::vector<size_t> matches;
      for (size_t k = 0; k < h.size(); ++k)
        if (h[k].run_id == keep) matches.push_back(k);
      if (matches.size() != 1) {
        std::vector<std::string> runs;
        for (const auto& x : h) runs.push_back(x.run_id + " in " + inputs[x.input].path);
        throw ConfigError("keep", keep,
                          fmt::format("point '{}' of {} is in runs {}: {} of them have run_id {}; use --keep "
                                      "first or last for it",
                                      key.second, key.first, fmt::join(runs, ", "),
                                      matches.empty() ? "none" : "several", keep));
      }
      chosen = matches[0];
    }
    for (size_t k = 0; k < h.size(); ++k)
      if (k != chosen) {
        kept[h[k].input][h[k].row] = false;
        ++dropped;
      }
  }
  return kept;
}

std::vector<std::string> renamed(std::vector<std::string> row, size_t run_col,
                                 const std::map<std::string, std::string>& renames) {
  auto it = renames.find(row[run_col]);
  if (it != renames.end()) row[run_col] = it->second;
  return row;
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path, std::ios::binary);
  out << j.dump(2) << "\n";
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

MergeSummary merge_runs(const MergeOptions& o) {
  std::vector<Dataset> inputs;
  for (const auto& path : expand_inputs(o)) inputs.push_back(load_dataset(path));
  check_same_experiment(inputs, o.ignored_keys);

  MergeSummary summary;
  summary.notes = align_columns(inputs);
  summary.inputs = inputs.size();
  nlohmann::json machines = nlohmann::json::object(), ceilings = nlohmann::json::object();
  collect_machines(inputs, machines, ceilings);
  summary.machines = machines.size();
  auto renames = run_id_renames(inputs, summary.notes);
  auto kept = resolve_duplicates(inputs, o.keep, summary.duplicates_dropped);

  // Everything is checked: write into a temporary sibling, rename at the end.
  const fs::path out = o.out;
  const fs::path tmp = out.parent_path() / fmt::format(".{}.partial-{}", out.filename().string(), ::getpid());
  std::error_code ec;
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path(), ec);
  if (ec) throw ConfigError("out", o.out, "must be in a writable folder: " + ec.message());
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp / "machines");
    std::set<std::string> commits;
    nlohmann::json manifest_inputs = nlohmann::json::array();
    std::vector<std::unique_ptr<CsvAppender>> writers;
    for (const auto& [name, table] : inputs.front().tables())
      writers.push_back(std::make_unique<CsvAppender>((tmp / name).string(), table->header));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Dataset& d = inputs[i];
      const size_t rc = d.points.column("run_id"), pc = d.points.column("point_id");
      const auto commit_col = std::find(d.points.header.begin(), d.points.header.end(), "git_commit");
      std::set<RunPoint> keep_details;
      std::set<std::string> run_ids;
      std::vector<std::vector<std::string>> rows;
      for (size_t r = 0; r < d.points.rows.size(); ++r) {
        if (!kept[i][r]) continue;
        const auto& row = d.points.rows[r];
        keep_details.insert({row[rc], row[pc]});
        run_ids.insert(row[rc]);
        if (commit_col != d.points.header.end()) commits.insert(row[commit_col - d.points.header.begin()]);
        rows.push_back(renamed(row, rc, renames[i]));
      }
      writers[0]->append_rows(rows);
      auto tables = d.tables();
      for (size_t t = 1; t < tables.size(); ++t) {
        const CsvTable& table = *tables[t].second;
        const size_t trc = table.column("run_id"), tpc = table.column("point_id");
        std::vector<std::vector<std::string>> detail;
        for (const auto& row : table.rows)
          if (keep_details.count({row[trc], row[tpc]})) detail.push_back(renamed(row, trc, renames[i]));
        writers[t]->append_rows(detail);
      }
      summary.points += rows.size();
      std::vector<std::string> ids;
      for (const auto& [id, m] : d.machines) ids.push_back(id);
      manifest_inputs.push_back({{"path", fs::absolute(d.path).string()}, {"merged", d.merged},
                                 {"machines", ids}, {"run_ids", run_ids},
                                 {"points", rows.size()}, {"points_dropped", d.points.rows.size() - rows.size()}});
    }
    writers.clear();
    {
      std::ofstream ini(tmp / "experiment.ini", std::ios::binary);
      ini << inputs.front().experiment_text;
      std::ofstream(tmp / "schema.json", std::ios::binary) << schema_json_text();
    }
    for (const auto& [id, m] : machines.items()) write_json(tmp / "machines" / (id + ".json"), m);
    if (!ceilings.empty()) {
      fs::create_directories(tmp / "ceilings");
      for (const auto& [id, c] : ceilings.items()) write_json(tmp / "ceilings" / (id + ".json"), c);
    }
    if (commits.size() > 1)
      summary.notes.push_back(fmt::format("the points come from {} source versions: {}", commits.size(),
                                          fmt::join(commits, ", ")));
    write_json(tmp / "merge.json",
               {{"written_by", fmt::format("ffnbench {} merge", build_info::kVersion)},
                {"created", fmt::format("{:%Y-%m-%dT%H:%M:%S}", fmt::localtime(std::time(nullptr)))},
                {"keep", o.keep.empty() ? "none (no duplicates)" : o.keep},
                {"ignored_keys", o.ignored_keys},
                {"duplicates_dropped", summary.duplicates_dropped},
                {"inputs", manifest_inputs},
                {"notes", summary.notes}});
    fs::rename(tmp, out);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return summary;
}

}  // namespace ffnbench

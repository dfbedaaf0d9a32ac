#include "report/machine_views.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "results/csv.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

namespace {

// Newer than everything it is cut from: the dataset's CSVs and this machine's JSON files.
bool up_to_date(const fs::path& view, const fs::path& dataset, const std::string& id) {
  std::error_code ec;
  const auto written = fs::last_write_time(view / "points.csv", ec);
  if (ec) return false;
  for (const fs::path& source : {dataset / "points.csv", dataset / "stages.csv", dataset / "reps.csv",
                                 dataset / "counters.csv", dataset / "machines" / (id + ".json"),
                                 dataset / "ceilings" / (id + ".json")}) {
    auto t = fs::last_write_time(source, ec);
    if (!ec && t > written) return false;
  }
  return true;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_view(const Dataset& d, const std::string& id, const fs::path& dir) {
  fs::create_directories(dir);
  std::set<std::string> runs;
  {
    const size_t mc = d.points.column("machine_id"), rc = d.points.column("run_id");
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : d.points.rows)
      if (row[mc] == id) {
        rows.push_back(row);
        runs.insert(row[rc]);
      }
    CsvAppender(( dir / "points.csv").string(), d.points.header).append_rows(rows);
  }
  auto tables = d.tables();
  for (size_t t = 1; t < tables.size(); ++t) {
    const CsvTable& table = *tables[t].second;
    const size_t rc = table.column("run_id");
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : table.rows)
      if (runs.count(row[rc])) rows.push_back(row);
    CsvAppender((dir / tables[t].first).string(), table.header).append_rows(rows);
  }
  write_text(dir / "machine.json", d.machines.at(id).dump(2) + "\n");
  if (d.ceilings.count(id)) write_text(dir / "ceilings.json", d.ceilings.at(id).dump(2) + "\n");
  write_text(dir / "experiment.ini", d.experiment_text);
}

}  // namespace

std::vector<std::string> write_machine_views(const Dataset& d) {
  std::vector<std::string> views;
  const fs::path root = fs::path(d.path) / "by_machine";
  for (const auto& [id, machine] : d.machines) {
    const fs::path view = root / id;
    views.push_back(view.string());
    if (up_to_date(view, d.path, id)) continue;
    // Written aside and swapped in: figures/ of an older view goes with it (it is stale).
    const fs::path tmp = root / ("." + id + ".partial-" + std::to_string(::getpid()));
    fs::remove_all(tmp);
    try {
      write_view(d, id, tmp);
      fs::remove_all(view);
      fs::rename(tmp, view);
    } catch (...) {
      std::error_code ec;
      fs::remove_all(tmp, ec);
      throw;
    }
  }
  return views;
}

}  // namespace ffnbench

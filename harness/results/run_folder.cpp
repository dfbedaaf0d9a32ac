#include "results/run_folder.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "core/params.hpp"

namespace fs = std::filesystem;

namespace ffnbench {

RunFolder RunFolder::create(const std::string& root, const std::string& experiment,
                            const std::string& machine_id) {
  const fs::path parent = fs::path(root) / experiment / machine_id;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw ConfigError("output", root, "must be a writable folder: " + ec.message());
  // Probe writability: create_directories succeeds on an existing read-only folder.
  const fs::path probe = parent / ".write-test";
  {
    std::ofstream out(probe);
    if (!out) throw ConfigError("output", root, fmt::format("must be a writable folder: {}", std::strerror(errno)));
  }
  fs::remove(probe, ec);

  std::string base = fmt::format("{:%Y%m%d-%H%M%S}", fmt::localtime(std::time(nullptr)));
  // mkdir is atomic (also on NFS): concurrent shards of a job array each get their own folder.
  std::string run_id = base;
  for (int i = 2; !fs::create_directory(parent / run_id, ec); ++i) {
    if (ec) throw ConfigError("output", root, "must be a writable folder: " + ec.message());
    run_id = fmt::format("{}-{}", base, i);
  }
  RunFolder f;
  f.path_ = (parent / run_id).string();
  f.run_id_ = run_id;
  return f;
}

RunFolder RunFolder::open_existing(const std::string& root, const std::string& experiment,
                                   const std::string& machine_id, const std::string& explicit_dir) {
  fs::path dir = explicit_dir;
  if (dir.empty()) {
    const fs::path parent = fs::path(root) / experiment / machine_id;
    std::vector<fs::path> runs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(parent, ec))
      if (e.is_directory() && fs::exists(e.path() / "points.csv")) runs.push_back(e.path());
    if (runs.empty())
      throw ConfigError("resume", parent.string(), "no earlier run of this experiment on this machine to resume");
    std::sort(runs.begin(), runs.end());
    dir = runs.back();
  }
  if (!fs::exists(dir / "points.csv"))
    throw ConfigError("resume", dir.string(), "must be a run folder holding points.csv");
  RunFolder f;
  f.path_ = dir.string();
  f.run_id_ = dir.filename().string();
  return f;
}

void RunFolder::write_file(const std::string& name, const std::string& content) const {
  const std::string tmp = file(name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  fs::rename(tmp, file(name));
}

std::set<std::string> RunFolder::finished_points() const {
  std::set<std::string> done;
  auto rows = read_csv_file(file("points.csv"));
  if (rows.empty()) return done;
  const auto& header = rows.front();
  auto id_col = std::find(header.begin(), header.end(), "point_id") - header.begin();
  auto status_col = std::find(header.begin(), header.end(), "status") - header.begin();
  for (size_t r = 1; r < rows.size(); ++r) {
    if (rows[r].size() != header.size()) continue;  // a row cut short: not finished
    // Points that failed for a transient reason run again; others are final.
    if (rows[r][status_col] == "interrupted") continue;
    done.insert(rows[r][id_col]);
  }
  return done;
}

}  // namespace ffnbench

namespace ffnbench {

std::set<std::string> RunFolder::noisy_points() const {
  std::set<std::string> noisy;
  auto rows = read_csv_file(file("points.csv"));
  if (rows.empty()) return noisy;
  const auto& header = rows.front();
  auto id_col = std::find(header.begin(), header.end(), "point_id") - header.begin();
  auto reason_col = std::find(header.begin(), header.end(), "status_reason") - header.begin();
  if (reason_col == static_cast<long>(header.size())) return noisy;
  for (size_t r = 1; r < rows.size(); ++r)
    if (rows[r].size() == header.size() && rows[r][reason_col].find("noisy:") != std::string::npos)
      noisy.insert(rows[r][id_col]);
  return noisy;
}

void RunFolder::remove_points(const std::set<std::string>& point_ids) const {
  if (point_ids.empty()) return;
  for (const char* name : {"points.csv", "stages.csv", "reps.csv", "counters.csv"}) {
    if (!fs::exists(file(name))) continue;
    auto rows = read_csv_file(file(name));
    if (rows.empty()) continue;
    auto id_col = std::find(rows.front().begin(), rows.front().end(), "point_id") - rows.front().begin();
    std::string kept;
    for (size_t r = 0; r < rows.size(); ++r)
      if (r == 0 || !(id_col < static_cast<long>(rows[r].size()) && point_ids.count(rows[r][id_col])))
        kept += csv_line(rows[r]);
    write_file(name, kept);
  }
}

}  // namespace ffnbench

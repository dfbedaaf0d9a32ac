// A run folder: results/<experiment>/<machine_id>/<run_id>/ with its four CSVs, machine.json and
// the experiment as run. Created only after the whole experiment has been validated.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "results/csv.hpp"

namespace ffnbench {

class RunFolder {
 public:
  // A new folder named by the current time (run_id "YYYYmmdd-HHMMSS", suffixed if taken).
  // Throws ConfigError("output", root, reason) when the folder cannot be created.
  static RunFolder create(const std::string& root, const std::string& experiment,
                          const std::string& machine_id);
  // The newest run of this experiment on this machine (or `explicit_dir` if given).
  // Throws ConfigError("resume", ..., reason) when there is none.
  static RunFolder open_existing(const std::string& root, const std::string& experiment,
                                 const std::string& machine_id, const std::string& explicit_dir);

  const std::string& path() const { return path_; }
  const std::string& run_id() const { return run_id_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes a file atomically (temporary + rename).
  void write_file(const std::string& name, const std::string& content) const;
  // point_ids already in points.csv (resume).
  std::set<std::string> finished_points() const;
  // point_ids of points.csv whose status_reason says "noisy" (--remeasure-noisy).
  std::set<std::string> noisy_points() const;
  // Removes every row of these points from points, stages, reps and counters .csv, each file
  // rewritten whole and renamed over the old one (an interruption leaves either version).
  void remove_points(const std::set<std::string>& point_ids) const;

 private:
  std::string path_, run_id_;
};

}  // namespace ffnbench

// `ffnbench report`: one self-contained Markdown file for a run folder or a merged folder.
#pragma once

#include <string>
#include <vector>

namespace ffnbench {

struct ReportOptions {
  std::string folder;     // a run folder or a folder written by `ffnbench merge`
  std::string out;        // default <folder>/report.md
  std::string plots_dir;  // default: plots/ of the source tree ffnbench was built from
  std::string python = "/usr/bin/python3";
  bool refresh = false;   // redraw figures even when they are up to date
  std::vector<std::string> references;  // folders of reference runs shown side by side (none: left out)
};

struct ReportResult {
  std::string path;                        // the report written
  std::vector<std::string> figures;        // image paths it links, as written in it
  std::vector<std::string> failed_scripts; // "script on folder": drawn with errors
  size_t scripts_run = 0;
  std::vector<std::string> reference_machines;  // the reference machines shown next to the data
};

// Draws missing or stale figures (plots/*_figures.py: crossmachine_figures.py on the dataset,
// the others on each machine's view of a merged folder, or on the run folder itself), then
// writes the report: experiment, machine table, the reference machines side by side (the
// dataset merged with the reference runs of its experiment, report/references.hpp), the published claims checked against the data
// (plots/claims.py via crossmachine_figures.py), points per machine and status, every figure as
// a relative image link, the data files. Bad input (not a results folder, corrupt CSV, missing
// machine.json, no python, no plots folder) throws ConfigError before anything is written.
ReportResult write_report(const ReportOptions& options);

}  // namespace ffnbench
